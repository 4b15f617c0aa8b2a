"""The admin commands' package (bot/commands/): the running app never depends on it; every command runs something."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from bot.commands.main import build_parser

BOT = Path(__file__).resolve().parent.parent / "bot"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_nothing_in_the_running_app_imports_the_commands() -> None:
    commands = BOT / "commands"
    offenders = [str(path.relative_to(BOT)) for path in BOT.rglob("*.py")
                 if commands not in path.parents and path.name != "__main__.py"
                 and any(m == "bot.commands" or m.startswith("bot.commands.") for m in imported_modules(path))]
    assert offenders == []


def test_every_module_says_what_it_is_for() -> None:
    for path in (BOT / "commands").glob("*.py"):
        assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), path.name


Leaf = tuple[tuple[str, ...], argparse.ArgumentParser]


def leaves(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[Leaf]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        return [(words, parser)]
    return [leaf for name, sub in subparsers[0].choices.items() for leaf in leaves(sub, (*words, name))]


def test_every_command_names_a_handler() -> None:
    found = leaves(build_parser())
    assert len(found) == 30  # chat, flows check, coach, run, enroll and enrol, cohort randomise|verify,
    # escalations list, programme preview|simulate|tick, appointments x6 (book, list, import, cancel, move,
    # sessions), tasks x2, report outcomes, export, person x3, db upgrade|current|check|revision, desk add-user
    # (`desk` itself serves)
    for words, parser in found:
        assert callable(parser.get_default("handler")), words
        assert parser.get_default("existing_db") in (True, False), words
