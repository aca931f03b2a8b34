"""The daily report: one self-contained HTML page about a UTC day, readable in an e-mail client.

:mod:`finsentry.app.reports.data` computes what the report shows from the store (numbers, changes,
alerts, models, the days that have data); :mod:`finsentry.app.reports.charts` draws the charts;
:mod:`finsentry.app.reports.render` lays it out with the ``report.html.j2`` and ``report.txt.j2``
templates, writes the files and sends the e-mail.
"""

from __future__ import annotations

from finsentry.app.reports.data import (
    Change,
    DayReport,
    HourPoint,
    ScopeDay,
    build_report,
    report_window,
)
from finsentry.app.reports.render import (
    check_mail_settings,
    email_message,
    render_html,
    render_plain,
    send_report,
    smtp_send,
    write_report,
)

__all__ = [
    "Change",
    "DayReport",
    "HourPoint",
    "ScopeDay",
    "build_report",
    "check_mail_settings",
    "email_message",
    "render_html",
    "render_plain",
    "report_window",
    "send_report",
    "smtp_send",
    "write_report",
]
