"""What every command module shares: the table subcommands are added to, and how a subcommand names its handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
# A handler returns the exit code, or a coroutine that `main` runs to get it.
Handler: TypeAlias = Callable[[argparse.Namespace], int | Coroutine[Any, Any, int]]


def handled_by(parser: argparse.ArgumentParser, handler: Handler, *, existing_db: bool = False) -> None:
    """Run `handler` when this (sub)command is chosen. `existing_db`: it only reads data, so it refuses to start
    when the --db file does not exist (a typo must not make an empty database; a URL is left to its server)."""
    parser.set_defaults(handler=handler, existing_db=existing_db)
