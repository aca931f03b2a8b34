"""Alert messages in Slack's Block Kit format, for Slack (and Mattermost) incoming webhooks.

The message reads like the e-mail (:mod:`finsentry.alerts.message`): a header with the title, one
section per alert with its time, numbers and evidence headlines with their sentiment, and a
context line with the Grafana link and the silence command. Every string that came from the news
is escaped for mrkdwn (:func:`finsentry.inert.for_slack`), so no link or ``<!channel>`` mention can
be formed from a headline; the header is ``plain_text``, which Slack does not parse.
"""

from __future__ import annotations

from typing import Any

from finsentry.alerts.message import AlertView, message_view
from finsentry.config import Settings
from finsentry.inert import for_slack

MAX_EVIDENCE = 5
HEADER_LIMIT, TEXT_LIMIT = 150, 3000  # Block Kit's limits for a header and a section


def _alert_text(alert: AlertView, several: bool) -> str:
    lines = []
    if several:
        lines.append(f"*{for_slack(alert.title)}*  ({alert.severity}, {alert.when})")
    lines.append(f"*{for_slack(alert.numbers)}*")
    for ev in alert.evidence[:MAX_EVIDENCE]:
        headline = for_slack(ev.headline)
        link = f"<{for_slack(ev.url)}|{headline}>" if ev.url else headline
        lines.append(f"• {ev.published} {link} _({for_slack(ev.towards)})_")
    return "\n".join(lines)[:TEXT_LIMIT]


def _context(alert: AlertView) -> dict[str, Any]:
    parts = []
    if alert.dashboard_url:
        parts.append(f"<{for_slack(alert.dashboard_url)}|Open in Grafana>")
    parts.append(f"silence: `{for_slack(alert.silence_command)}`")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "  ·  ".join(parts)}]}


def slack_payload(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A Slack message (``text`` fallback + ``blocks``) for a notification payload."""
    view = message_view(payload, settings)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": view.title[:HEADER_LIMIT]}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"*{view.severity}*  {view.when}"}],
        },
    ]
    several = len(view.alerts) > 1
    for alert in view.alerts:
        text = _alert_text(alert, several)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        blocks.append(_context(alert))
    return {"text": for_slack(view.subject), "blocks": blocks}
