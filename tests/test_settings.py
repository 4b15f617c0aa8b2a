"""Settings as an operator meets them: a wrong value is one line naming the variable, `run --check` shows what is
in force with secrets hidden."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError, describe, settings
from tests.test_cli import bot


@pytest.mark.parametrize(("name", "value", "expects"), [
    ("PORT", "abc", "valid integer"),
    ("PORT", "70000", "less than or equal to 65535"),
    ("SMS_SEGMENTS_PER_SECOND", "-1", "greater than 0"),
    ("SMS_MAX_SEGMENTS", "many", "valid integer"),
    ("BOT_STORAGE_RUNNER", "fast", "'hybrid' or 'async'"),
    ("BOT_FIXED_NOW", "2026-01-05T09:00", "UTC offset"),
    ("PUBLIC_BASE_URL", "bot.example.dk", "http:// or https://"),
    ("TELEGRAM_BOT_USERNAME", "https://t.me/stress_bot", "username from BotFather, e.g. @stress_bot"),
])
def test_a_bad_value_is_one_line_naming_the_variable_and_exit_2(name: str, value: str, expects: str) -> None:
    result = bot("--help", env={name: value}, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"configuration: {name}: ") and expects in lines[0]


def test_run_check_prints_the_configuration_with_secrets_hidden() -> None:
    result = bot("run", "--check", env={"TELEGRAM_BOT_TOKEN": "123456:very-secret-token", "PORT": "9001",
                                        "TWILIO_AUTH_TOKEN": "twilio-secret-xyz"})
    assert "very-secret-token" not in result.stdout and "twilio-secret-xyz" not in result.stdout
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["TELEGRAM_BOT_TOKEN"].startswith("(set, hidden)")
    assert lines["PORT"].startswith("9001  # ")
    assert lines["BOT_DATA_KEY"].startswith("(not set)")
    assert set(lines) == {name.upper() for name in Settings.model_fields}  # every variable, each once


def test_version() -> None:
    assert bot("--version").stdout.startswith("stressbot ")


def test_read_once_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@stress_bot")
    first = settings()
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "other_bot")
    assert settings() is first and first.telegram_bot_username == "stress_bot"  # the @ of the help text is dropped
    assert all(" # " in line for line in describe(first))


def test_the_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGRAMME_TICK_SECONDS", "0")
    with pytest.raises(SettingsError, match=r"^PROGRAMME_TICK_SECONDS: Input should be greater than 0"):
        settings()
