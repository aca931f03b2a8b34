from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.cli import COMMANDS, main
from finsentry.config import Settings, load_settings


def test_environment_wins_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "finsentry.toml"
    config.write_text('db = "from-file.db"\nwindow_sizes_s = [300, 60]\nmin_support = 3\n')
    monkeypatch.setenv("FINSENTRY_DB", "from-env.db")
    settings = load_settings(config)
    assert settings.db == "from-env.db"
    assert settings.window_sizes_s == (60, 300)
    assert settings.min_support == 3


def test_overrides_and_csv_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENTRY_WEBHOOK_URLS", "http://a/hook, http://b/hook")
    settings = load_settings(None, db="x.db", model=None)
    assert settings.db == "x.db"
    assert settings.model == "default"
    assert settings.webhook_urls == ("http://a/hook", "http://b/hook")


def test_settings_are_frozen_and_secrets_hidden() -> None:
    settings = Settings(smtp_password="hunter2")
    with pytest.raises(ValueError):
        settings.db = "other"  # type: ignore[misc]
    assert "hunter2" not in repr(settings)
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "hunter2"


def test_bad_window_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="window sizes"):
        Settings(window_sizes_s="0,60")


def test_missing_config_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="FINSENTRY_CONFIG"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_env_vars(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    takes_options = [line for line in result.output.splitlines() if line.strip().startswith("--")]
    flat = " ".join(result.output.split())
    if any(opt in flat for opt in ("--db", "--model", "--bootstrap")):
        assert "env var: FINSENTRY_" in flat, result.output
    takes_arguments = re.search(r"Usage: \S+ \S+ \[OPTIONS\] [A-Z_]+", flat)
    assert takes_options or takes_arguments or name in {"db", "grafana", "outbox", "silence"}


def test_overrides_are_validated() -> None:
    settings = Settings().with_overrides(grafana_token="tok", window_sizes_s="300,60")
    assert settings.grafana_token is not None
    assert settings.grafana_token.get_secret_value() == "tok"
    assert settings.window_sizes_s == (60, 300)


def test_an_unknown_key_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "finsentry.toml"
    config.write_text('db = "x.db"\nsmtp_hots = "mail.example"\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"finsentry.toml: unknown key\(s\) smtp_hots"):
        load_settings(config)
    config.write_text('[finsentry]\nsmtp_host = "mail.example"\n', encoding="utf-8")
    assert load_settings(config).smtp_host == "mail.example"


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.1:70/x", "hooks.example/x", "https://"]
)
def test_webhook_urls_must_be_http_or_https(url: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="http:// or https://"):
        Settings(webhook_urls=("https://hooks.example/a", url))
    assert Settings(webhook_urls="https://a.example/x, http://127.0.0.1:8080/h").webhook_urls == (
        "https://a.example/x",
        "http://127.0.0.1:8080/h",
    )
