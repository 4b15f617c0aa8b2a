"""Coach notifications in the terminal: the embedded default, before Telegram and SMS exist.

Written to the operator's stream (stderr), never to the participant's stdout. Under `bot run` that stream is
the service log, so there `ServiceLogCoachChannel` stands in: it writes no message and no participant, and
it refuses, so an alert that only reached "console" is not counted as delivered and is tried again.
"""

from __future__ import annotations

import logging
from typing import TextIO

from bot.deployment import Coach

log = logging.getLogger(__name__)


class NotADeliveryError(RuntimeError):
    """The console under `bot run` is a log, not a way to reach a coach."""


class ConsoleCoachChannel:
    name = "console"

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        self.out.write(f"[til/to {coach.name}] {text}\n")
        self.out.flush()


class ServiceLogCoachChannel:
    """The "console" entry of a coach under `bot run`: logs that the coach was not reached, nothing else."""

    name = "console"

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        log.error("an alert for coach %s could not be delivered: \"console\" is not a channel under `bot run`; "
                  "give the coach sms:+45... or telegram:<chat id> in the deployment file", coach.id)
        raise NotADeliveryError("console under bot run")
