"""Crash points for crash tests: `BOT_CRASH_AT=NAME` makes the process die at that point, as a kill would.

Used by tests that prove a crash between two steps of the loop loses no answer and sends nothing twice.
"""

from __future__ import annotations

import os

from bot.settings import settings

EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL


def crash_point(name: str) -> None:
    if settings().bot_crash_at == name:
        os._exit(EXIT_CODE)
