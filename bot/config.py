"""Where the commands find their files, from the settings (bot/settings.py), with defaults that run on a fresh
machine without any tokens."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.settings import settings


def default_db_path() -> str:
    """`BOT_DB` if set, else ./data/bot.db."""
    return settings().bot_db


def database_file(db: str) -> Path | None:
    """The SQLite file `db` names (a path, or a ``sqlite://`` URL), or None for a database on a server (a URL such
    as ``postgresql+psycopg://user@host/name``): only a file can be checked for, and only a file has neighbours
    (the development key file, the safety spool)."""
    if "://" not in db:
        return Path(db)
    from sqlalchemy.engine import make_url

    url = make_url(db)
    if url.get_backend_name() != "sqlite":
        return None
    return Path(url.database) if url.database else None


def spool_file(db: str) -> Path:
    """Where risk messages wait while the database cannot be written (bot/safety_net.py): `BOT_SPOOL` if set, else
    beside a SQLite file, else ./data/bot.spool (a local file either way: it must work when the database does not)."""
    configured = settings().bot_spool
    if configured is not None:
        return configured
    file = database_file(db)
    return file.with_name(file.name + ".spool") if file is not None else Path("./data/bot.spool")


def flows_dir() -> Path | None:
    """`BOT_FLOWS_DIR` if set: a folder of flow files to use instead of the shipped ones."""
    return settings().bot_flows_dir


def first_flow() -> str:
    """The flow a new participant starts with when they first open the chat (the baseline measurement)."""
    return settings().bot_first_flow


def programme_files(flows_dir: Path) -> list[Path]:
    """The deployment's programme files, one programme each (issue 15: several programmes in one deployment):
    `BOT_PROGRAMME` if set (a folder: every *.yaml in it; a file: that one programme, as before several); else every
    *.yaml in the folder programmes/ beside the folder of flow definitions (flows/programmes/), and a programme.yaml
    beside it too if there is one (a deployment from before several programmes)."""
    configured = settings().bot_programme
    if configured is not None:
        return _yaml_in(configured) if configured.is_dir() else [configured]
    beside = flows_dir.resolve().parent
    single = beside / "programme.yaml"
    return [*_yaml_in(beside / "programmes"), *([single] if single.is_file() else [])]


def _yaml_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")] if not p.name.startswith((".", "_")))


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
                        help="SQLite database file, or a URL such as postgresql+psycopg://user@host/name "
                             "(default: $BOT_DB or ./data/bot.db)")
