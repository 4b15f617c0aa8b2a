"""Where the commands find their files, from the settings (bot/settings.py), with defaults that run on a fresh
machine without any tokens."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.settings import settings


def default_db_path() -> str:
    """`BOT_DB` if set, else ./data/bot.db."""
    return settings().bot_db


def flows_dir() -> Path | None:
    """`BOT_FLOWS_DIR` if set: a folder of flow files to use instead of the shipped ones."""
    return settings().bot_flows_dir


def first_flow() -> str:
    """The flow a new participant starts with when they first open the chat (the baseline measurement)."""
    return settings().bot_first_flow


def programme_file(flows_dir: Path) -> Path:
    """`BOT_PROGRAMME` if set, else programme.yaml beside the folder of flow definitions (flows/programme.yaml)."""
    return settings().bot_programme or flows_dir.resolve().parent / "programme.yaml"


def operator() -> str:
    """Who runs an administrative command, for the audit log (``admin:<login>``)."""
    import getpass

    try:
        return f"admin:{getpass.getuser()}"
    except (OSError, KeyError):
        return "admin:unknown"


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """`--db PATH` on every command that touches data."""
    parser.add_argument("--db", default=default_db_path(), metavar="PATH",
                        help="SQLite database file (default: $BOT_DB or ./data/bot.db)")
