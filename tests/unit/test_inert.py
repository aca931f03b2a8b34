"""Hostile headlines and URLs stay inert in the terminal, in Slack and after validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.alerts.slack import slack_payload
from finsentry.cli import main
from finsentry.config import Settings
from finsentry.inert import for_slack, for_terminal, redact_dsn, redact_url, web_url
from finsentry.schema import Alert, Evidence, RawRecord, ScopeKind
from finsentry.sources.validate import parse_records
from finsentry.store import open_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOSTILE_HEADLINE = (
    "ACME \x1b[2J\x1b]0;pwned\x07 plunges \u202etxt.exe <!channel> & <https://e.vil|x>"
)
HOSTILE_URLS = [
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "https://ok.example/\x1b[31mred",
    "//no-scheme.example/x",
]


def test_for_terminal_drops_controls_and_direction_overrides() -> None:
    shown = for_terminal(HOSTILE_HEADLINE)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert shown.startswith("ACME [2J]0;pwned plunges txt.exe")
    assert for_terminal("a\tb\nc") == "a b c"


def test_for_slack_escapes_markup() -> None:
    assert for_slack("<!channel> & <https://e.vil|x>") == (
        "&lt;!channel&gt; &amp; &lt;https://e.vil|x&gt;"
    )


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_only_http_urls_with_a_host_survive(url: str) -> None:
    assert web_url(url) is None
    assert web_url("https://news.example/a?b=1&c=2") == "https://news.example/a?b=1&c=2"


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_validation_keeps_the_item_and_drops_a_non_web_url(url: str) -> None:
    record = {
        "id": "x1", "published_at": T0.isoformat(), "source": "wire",
        "headline": "ACME plunges", "url": url,
    }  # fmt: skip
    raw = RawRecord(json.dumps(record).encode(), "file", "f", 1)
    items, dead = parse_records([raw], Settings(), T0 + timedelta(hours=1))
    assert dead == [] and len(items) == 1
    assert items[0].url is None


def test_alerts_print_hostile_evidence_inertly(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    store = open_store(db)
    evidence = Evidence("n1", HOSTILE_HEADLINE, T0, -0.9, "negative", "javascript:alert(1)")
    store.insert_alerts(
        [
            Alert("volume_spike", ScopeKind.TICKER, "AC\x1b[2JME", "count", T0,
                  T0 + timedelta(minutes=5), T0, "warning", 9.0, 1.0, (evidence,))
        ]
    )  # fmt: skip
    store.close()
    out = CliRunner().invoke(main, ["alerts", "--db", db], catch_exceptions=False).output
    assert "plunges" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "javascript:" not in out


def test_slack_messages_carry_no_live_markup() -> None:
    from finsentry.alerts.engine import notification_payload

    evidence = (
        Evidence("n1", HOSTILE_HEADLINE, T0, -0.9, "negative", "javascript:alert(1)"),
        Evidence("n2", "B & C", T0, 0.0, "neutral", "https://ok.example/?a=1&b=<2>"),
    )
    end = T0 + timedelta(minutes=5)
    alerts = [
        Alert("volume_spike", ScopeKind.TOPIC, "spike on <!here>", "count", T0, end, T0,
              "critical", 9.0, 1.0, evidence),
        Alert("negative_surge", ScopeKind.TICKER, "ACME", "negative_share", T0, end, T0,
              "warning", 0.9, 0.2, evidence),
    ]  # fmt: skip
    message = slack_payload(notification_payload(alerts, {}, None), Settings())
    text = json.dumps([message["text"], *(b for b in message["blocks"] if b["type"] != "header")])
    assert "<!" not in text and "javascript:" not in text
    assert "&lt;!channel&gt; &amp;" in text and "spike on &lt;!here&gt;" in text
    assert "<https://ok.example/?a=1&amp;b=&lt;2&gt;|B &amp; C>" in text
    header = message["blocks"][0]["text"]
    assert header["type"] == "plain_text"  # Slack does not parse plain text for links or mentions


def test_redaction_keeps_secrets_out_of_messages() -> None:
    hook = "https://hooks.slack.com/services/T000/B000/s3cretT0ken?x=1"
    assert redact_url(hook) == "https://hooks.slack.com/..."
    assert redact_url("http://u:pw@127.0.0.1:8080/h") == "http://127.0.0.1:8080/..."
    assert redact_dsn("postgresql://u:s3cret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert "s3cret" not in redact_dsn("host=h user=u password=s3cret dbname=d")
    assert redact_dsn("/tmp/x.db") == "/tmp/x.db"


def test_e_mails_carry_no_script_or_live_foreign_links() -> None:
    from finsentry.alerts.email import build_message
    from finsentry.alerts.engine import notification_payload
    from finsentry.store.base import Notification

    evidence = (
        Evidence("n1", "<script>alert(1)</script> ACME plunges", T0, -0.9, "negative",
                 "javascript:alert(1)"),
        Evidence("n2", "ACME recall", T0, -0.5, "negative", "data:text/html,<b>x</b>"),
    )  # fmt: skip
    alert = Alert("volume_spike", ScopeKind.TICKER, "ACME", "count", T0,
                  T0 + timedelta(minutes=5), T0, "warning", 9.0, 1.0, evidence)  # fmt: skip
    settings = Settings(smtp_host="127.0.0.1", mail_to=("desk@example.com",))
    payload = notification_payload([alert], {}, None)
    message = build_message(settings, Notification(alert.id, "email", payload))
    parts = [p.get_content() for p in message.walk() if p.get_content_type().startswith("text/")]
    assert len(parts) == 2  # text and HTML
    for body in parts:
        assert "javascript:" not in body and "data:text" not in body
    text, page = parts
    assert "<script>alert(1)</script> ACME plunges" in text  # plain text: inert as it is
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_score_prints_hostile_texts_inertly() -> None:
    from finsentry.cli.score import score

    result = CliRunner().invoke(
        score, [HOSTILE_HEADLINE, "--entity", "ACME\u202e", "--device", "cpu"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "plunges" in result.output and "towards ACME" in result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output


def test_generic_webhook_payloads_carry_only_web_links() -> None:
    """The JSON webhook body: headlines are JSON strings (inert for a JSON parser), and an
    evidence link that is not http(s) is dropped, as in every other output."""
    from finsentry.alerts.engine import notification_payload

    evidence = (
        Evidence("n1", HOSTILE_HEADLINE, T0, -0.9, "negative", "javascript:alert(1)"),
        Evidence("n2", "ACME recall", T0, -0.5, "negative", "https://ok.example/a"),
    )
    alert = Alert("negative_surge", ScopeKind.TICKER, "ACME", "negative_share", T0,
                  T0 + timedelta(minutes=5), T0, "warning", 0.9, 0.2, evidence)  # fmt: skip
    body = json.dumps(notification_payload([alert], {}, None))
    assert "javascript:" not in body and "https://ok.example/a" in body
    assert json.loads(body)["alerts"][0]["evidence"][0]["headline"] == HOSTILE_HEADLINE
