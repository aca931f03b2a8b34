"""Alerts in words: titles, time spans and numbers as every message shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finsentry.alerts import humanize
from finsentry.alerts.message import grafana_link, silence_command
from finsentry.schema import signed

T = datetime(2026, 3, 3, 14, 30, tzinfo=UTC)


def test_time_spans() -> None:
    assert humanize.time_span(T, T + timedelta(minutes=25)) == "Tue 3 Mar, 14:30-14:55 UTC"
    late = datetime(2026, 3, 3, 23, 50, tzinfo=UTC)
    assert humanize.time_span(late, late + timedelta(minutes=10)) == "Tue 3 Mar, 23:50-00:00 UTC"
    assert humanize.time_span(late, late + timedelta(minutes=20)) == (
        "Tue 3 Mar 23:50 - Wed 4 Mar 00:10 UTC"
    )
    paris = T.astimezone(timezone(timedelta(hours=1)))
    assert humanize.time_span(paris, paris + timedelta(minutes=5)) == "Tue 3 Mar, 14:30-14:35 UTC"
    with pytest.raises(ValueError):
        humanize.time_span(T.replace(tzinfo=None), T)


@pytest.mark.parametrize(
    ("metric", "observed", "expected", "text"),
    [
        ("count", 11.0, 0.333333, "11 items vs 0.3 usual"),
        ("count", 1.0, 0.04, "1 item vs 0.04 usual"),
        ("count", 1250.0, 312.4, "1,250 items vs 312 usual"),
        ("negative_share", 0.7333, 0.3, "73 % negative vs 30 % usual"),
        ("mean_score", -0.4216, 0.05, "mean tone -0.42 vs +0.05 usual"),
    ],
)
def test_numbers(metric: str, observed: float, expected: float, text: str) -> None:
    assert humanize.observed_text(metric, observed, expected) == text


def test_titles_name_what_and_where() -> None:
    assert humanize.alert_title("negative_surge", "ticker", "TSLA") == "TSLA: negative news surge"
    assert humanize.alert_title("volume_spike", "all", "*") == "all news: news volume spike"
    assert humanize.alert_title("tone_shift", "topic", "Earnings") == (
        "topic Earnings: tone turning negative"
    )
    assert humanize.alert_title("new_rule", "source", "wire") == "source wire: new rule"


def test_links_and_silence_commands() -> None:
    end = T + timedelta(minutes=10)
    link = grafana_link("https://g.example/", "ticker", "BRK.B", T, end)
    assert link == (
        "https://g.example/d/finsentry-ticker?var-ticker=BRK.B"
        f"&from={int(T.timestamp() - 3600) * 1000}&to={int(end.timestamp() + 3600) * 1000}"
    )
    topic = grafana_link("https://g.example", "topic", "M&A | Deals", T, end)
    assert topic is not None and "var-topic=M%26A%20%7C%20Deals" in topic
    assert grafana_link(None, "ticker", "X", T, end) is None
    assert silence_command("ticker", "TSLA") == "finsentry silence add --scope ticker:TSLA --for 2h"
    assert silence_command("all", "*") == "finsentry silence add --scope all --for 2h"
    hostile = silence_command("topic", "x; rm -rf ~")
    assert hostile == "finsentry silence add --scope 'topic:x; rm -rf ~' --for 2h"


@given(st.floats(min_value=-1.0, max_value=1.0))
def test_a_signed_score_never_reads_minus_zero(value: float) -> None:
    for digits in (2, 3):
        text = signed(value, digits)
        assert text[0] in "+-" and not text.startswith(f"-{0:.{digits}f}")
        assert abs(float(text) - value) <= 0.5 * 10**-digits + 1e-12
    assert signed(-0.0004, 3) == "+0.000" and signed(-0.0005001, 3) == "-0.001"
    assert humanize.tone(-0.004) == "+0.00"
