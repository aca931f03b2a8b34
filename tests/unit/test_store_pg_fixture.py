"""The PostgreSQL test fixture fails loudly (never skips) when the server is not installed."""

from __future__ import annotations

import pytest

from tests.fixtures import postgres as fixture


def test_missing_postgresql_fails_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixture.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(fixture.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y postgresql"):
        fixture.find_pg_bin()
