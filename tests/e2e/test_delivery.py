"""A stream with an incident, ingested with e-mail and a webhook configured: both receive the alert."""

from __future__ import annotations

import email
import json
import time
from pathlib import Path

from pydantic import SecretStr

from finsentry.app.simulate import simulate
from finsentry.config import Settings
from finsentry.pipeline import Pipeline
from finsentry.runner import run_files
from finsentry.store import open_store
from tests.fixtures.scorers import LexiconScorer
from tests.integration.test_email import PASSWORD, USER, Inbox, start
from tests.integration.test_webhook import SECRET, Receiver


def test_ingest_delivers_alerts_by_mail_and_signed_webhook(tmp_path: Path) -> None:
    sim = simulate(tmp_path / "news.jsonl", hours=30, seed=3, incidents=1)
    ticker = sim.incidents[0].scope_value
    inbox = Inbox()
    smtp = start(inbox, auth_require_tls=False)
    receiver = Receiver()
    try:
        settings = Settings(
            db=str(tmp_path / "d.db"),
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            smtp_user=USER,
            smtp_password=SecretStr(PASSWORD),
            mail_to=("desk@example.com",),
            webhook_urls=(receiver.url,),
            webhook_secret=SecretStr(SECRET),
        )
        pipe = Pipeline.from_settings(settings, scorer=LexiconScorer())
        assert pipe.delivery is not None
        totals = run_files([sim.out], settings, pipeline=pipe)
        pipe.close()  # stops the delivery thread after a last drain
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (inbox.messages and receiver.accepted):
            time.sleep(0.2)
    finally:
        smtp.stop()
        receiver.stop()

    assert totals.balanced
    ticker_alerts = [a for a in totals.alerts if a.scope_value == ticker]
    assert ticker_alerts, [a.to_json() for a in totals.alerts]

    assert inbox.messages, "no alert e-mail arrived"
    assert all(rcpts == ["desk@example.com"] for rcpts, _ in inbox.messages)
    texts = []
    for _, raw in inbox.messages:  # one e-mail per alerting window; the ticker's is among them
        message = email.message_from_bytes(raw)
        texts.append("".join(
            part.get_payload(decode=True).decode()  # type: ignore[union-attr]
            for part in message.walk()
            if part.get_content_type() == "text/plain"
        ))  # fmt: skip
    assert any(f"{ticker}: " in text for text in texts), [t[:80] for t in texts]

    assert receiver.accepted, f"no webhook accepted: {receiver.requests}"
    assert all(valid for _, valid in receiver.requests), "every webhook carries a valid signature"
    assert ticker in json.dumps(list(receiver.accepted.values()))

    store = open_store(settings.db)
    pending = store.due_notifications(totals.alerts[-1].fired_at.replace(year=2100))
    store.close()
    assert pending == [], "every notification was delivered"
