"""Which programme each participant is in (issue 15: several programmes in one deployment), as the conversation loop
asks it at every step: the id recorded at their enrolment, None for someone with none recorded (they follow the
deployment's default programme: `FlowLibrary.programme_for`).

The choice is written in the transaction that enrols the person and never changes, so each answer is kept (a bounded
cache, most recently asked last): one read per participant per process, not one per step.
"""

from __future__ import annotations

from bot.recent import Recent
from storage.ports import Directory


class ProgrammeChoice:
    def __init__(self, storage: Directory, size: int) -> None:
        self._known: Recent[int, str | None] = Recent(storage.programme_of, size)

    async def of(self, participant_id: int) -> str | None:
        return await self._known.get(participant_id)
