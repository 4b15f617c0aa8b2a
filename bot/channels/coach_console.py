"""Coach notifications in the terminal: the embedded default, before Telegram and SMS exist.

Written to the operator's stream (stderr), never to the participant's stdout.
"""

from __future__ import annotations

from typing import TextIO

from bot.deployment import Coach


class ConsoleCoachChannel:
    name = "console"

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        self.out.write(f"[til/to {coach.name}] {text}\n")
        self.out.flush()
