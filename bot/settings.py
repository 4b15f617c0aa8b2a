"""Every environment variable the bot reads, declared once with its type, default and help.

Read once at start (`settings()`); an invalid value stops the process with one line naming the variable and
what it expects (`SettingsError`, exit code 2 in `bot.commands.main.main`), never a traceback. `bot run --check`
prints the effective configuration with secrets masked (`describe`). pydantic-settings does the reading and the
type checks; this module only adds the help texts and the one-line error.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("a time with a UTC offset, e.g. 2026-01-05T09:00:00+01:00")
    return value


def _bot_username(value: str) -> str:
    """The name as BotFather gave it, with or without @ (invite links are https://t.me/NAME?start=...)."""
    name = value.strip().removeprefix("@")
    if name and not _BOT_USERNAME.fullmatch(name):
        raise ValueError("the bot's username from BotFather, e.g. @stress_bot (5-32 letters, digits or _)")
    return name


def _url(value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("an address starting with http:// or https://")
    return value.rstrip("/")


Url = Annotated[str, AfterValidator(_url)]


class Settings(BaseSettings):
    """The process's configuration. Field names are the variables' names in lower case."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # -- data ---------------------------------------------------------------------------------------------
    bot_db: str = Field("./data/bot.db", description="the database every command uses by default: a SQLite file, "
                        "or a URL such as postgresql+psycopg://user@host/name (pip install stressbot[postgres])")
    bot_spool: Path | None = Field(None, description="the safety spool file (risk messages kept while the database "
                                   "cannot be written); default: beside a SQLite file, else ./data/bot.spool. "
                                   "One per process")
    bot_data_key: SecretStr | None = Field(None, description="Fernet key(s) sealing names, numbers and messages "
                                           "(comma-separated while rotating); production must set it")
    bot_lookup_key: SecretStr | None = Field(None, description="secret for the keyed hash that finds a person "
                                             "by number or chat id; production must set it")
    bot_research_key: SecretStr | None = Field(None, description="secret for the research export's pseudonyms")
    bot_allocation_key: SecretStr | None = Field(None, description="secret keying a randomised cohort's allocation "
                                                 "sequence (bot/allocation.py; at least 16 characters): with it an "
                                                 "auditor recomputes every allocation, without it none can be foreseen")
    bot_storage_runner: Literal["hybrid", "async"] | None = Field(
        None, description="how SQLite statements run: hybrid (default) or async (aiosqlite only)")
    # -- content ------------------------------------------------------------------------------------------
    bot_deployment: Path | None = Field(None, description="the deployment file (crisis contacts, coaches, "
                                        "roster); default: the shipped bot/deployment.yaml")
    bot_flows_dir: Path | None = Field(None, description="a folder of flow files to use instead of the shipped ones")
    bot_first_flow: str = Field("pss10", description="the flow a new participant starts with")
    bot_programme: Path | None = Field(None, description="the programme files: a folder of them (one programme "
                                       "each), or one file; default: programmes/ beside the flow folder")
    # -- the web server and the schedule ------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="the address `bot run` listens on")
    port: int = Field(8080, ge=1, le=65535, description="the port `bot run` listens on (1-65535)")
    public_base_url: Url = Field("", description="the public https address Twilio and Telegram call")
    programme_tick_seconds: float = Field(30.0, gt=0, description="seconds between the programme's schedule ticks")
    programme_lease_seconds: float = Field(300.0, ge=0, description="seconds a claimed schedule row stays "
                                           "claimed before another process may take it")
    # -- SMS (Twilio) -------------------------------------------------------------------------------------
    twilio_account_sid: str = Field("", description="Twilio account SID (SMS is on when SID, token and FROM are set)")
    twilio_auth_token: SecretStr = Field(SecretStr(""), description="Twilio auth token, also checks webhook "
                                         "signatures")
    twilio_from: str = Field("", description="the sending number or messaging service SID")
    twilio_api_base_url: Url = Field("", description="another Twilio API address (the tests' fake)")
    sms_segments_per_second: float = Field(10.0, gt=0, description="SMS segments sent per second at most")
    sms_max_segments: int = Field(3, ge=1, description="the most segments one SMS may have")
    # -- Telegram -----------------------------------------------------------------------------------------
    telegram_bot_token: SecretStr = Field(SecretStr(""), description="the bot's token from BotFather "
                                          "(Telegram is on when set)")
    telegram_bot_username: Annotated[str, AfterValidator(_bot_username)] = Field(
        "", description="the bot's username, for invite links (with or without @)")
    telegram_webhook_secret: SecretStr = Field(SecretStr(""), description="webhook mode's secret token "
                                               "(with PUBLIC_BASE_URL; polling otherwise)")
    telegram_api_base_url: Url = Field("", description="a self-hosted Bot API server (or the tests' fake)")
    # -- tests and drills ---------------------------------------------------------------------------------
    desk_host: str = Field("127.0.0.1", description="the address the coaches' desk listens on (never the webhooks' "
                           "port; put it behind the municipality's reverse proxy)")
    desk_port: int = Field(8090, ge=0, le=65535, description="the port of the coaches' desk (1-65535; 0: `bot run` "
                           "starts no desk)")
    desk_public_url: Url = Field("", description="the https address coaches open the desk at (behind a proxy); "
                                 "empty: http://DESK_HOST:DESK_PORT, for this machine only")
    desk_oidc_issuer: Url = Field("", description="the municipality's identity provider (its OpenID Connect issuer "
                                  "address): coaches log in there; empty: passkeys and one-time codes")
    desk_oidc_client_id: str = Field("", validate_default=True, description="the desk's client id at the identity "
                                     "provider")
    desk_oidc_client_secret: SecretStr = Field(SecretStr(""), validate_default=True, description="the desk's "
                                               "client secret at the identity provider")
    desk_oidc_login_claim: str = Field("email", min_length=1, description="the id token's claim matched with a "
                                       "coach's `login:` in the deployment file (email, preferred_username, upn...)")
    desk_oidc_name: str = Field("", description="the identity provider's name on the log-in button (default: the "
                                "issuer's host name)")
    bot_fixed_now: Annotated[datetime | None, AfterValidator(_aware)] = Field(
        None, description="pins the clock (ISO 8601 with offset): crash tests and drills only")
    bot_crash_at: str = Field("", description="kills the process at a named point: crash tests only")

    @field_validator("desk_oidc_client_id", "desk_oidc_client_secret")
    @classmethod
    def _needed_with_issuer(cls, value: str | SecretStr, info: ValidationInfo) -> str | SecretStr:
        given = value.get_secret_value() if isinstance(value, SecretStr) else value
        if info.data.get("desk_oidc_issuer") and not given.strip():
            raise ValueError("must be set when DESK_OIDC_ISSUER is")
        return value

    @property
    def sms_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token.get_secret_value() and self.twilio_from)

    @property
    def telegram_configured(self) -> bool:
        return bool(self.telegram_bot_token.get_secret_value())

    @property
    def keys_from_environment(self) -> bool:
        """Both main keys set: what production needs (the development key file is for the console only)."""
        return self.bot_data_key is not None and self.bot_lookup_key is not None

    def key_environ(self) -> dict[str, str]:
        """The three key variables as storage/crypto.load_keys reads them (only those that are set)."""
        values = {"BOT_DATA_KEY": self.bot_data_key, "BOT_LOOKUP_KEY": self.bot_lookup_key,
                  "BOT_RESEARCH_KEY": self.bot_research_key}
        return {name: secret.get_secret_value() for name, secret in values.items() if secret is not None}


class SettingsError(Exception):
    """An environment variable with a value of the wrong kind: the message is one line for stderr."""


def _one_line(error: ValidationError) -> str:
    first: dict[str, Any] = dict(error.errors()[0])
    name = str(first["loc"][0]).upper() if first.get("loc") else "configuration"
    field = Settings.model_fields.get(name.lower())
    wanted = f" ({field.description})" if field is not None and field.description else ""
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{name}: {message}{wanted}"


@cache
def settings() -> Settings:
    """The configuration, read from the environment on first use and then kept for the process."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(_one_line(error)) from None


def reload_settings() -> None:
    """Forget the kept configuration (tests that change the environment)."""
    settings.cache_clear()


def describe(current: Settings) -> list[str]:
    """The effective configuration, one `NAME=value  # help` line each, secrets masked."""
    lines = []
    for name, field in Settings.model_fields.items():
        value = getattr(current, name)
        if isinstance(value, SecretStr):
            shown = "(set, hidden)" if value.get_secret_value() else "(not set)"
        else:
            shown = "(not set)" if value in (None, "") else str(value)
        lines.append(f"{name.upper()}={shown}  # {field.description}")
    return lines
