"""Which participants are in a randomised cohort's control arm, as the conversation loop asks it at every step.

An allocation is written in the transaction that enrols the person and never changes, so each answer is kept (a
bounded cache, most recently asked last): one read per participant per process, not one per step. "Not allocated"
is kept too: a participant row is allocated in the transaction that creates it or never (`cohort randomise` applies
to enrolments from then on, and enrolment always makes a new participant), so the answer cannot change.
"""

from __future__ import annotations

from bot.recent import Recent
from storage.allocation_records import CONTROL
from storage.desk_ports import Allocations


class ControlArm:
    def __init__(self, storage: Allocations, size: int) -> None:
        self.storage = storage
        self._known: Recent[int, bool] = Recent(self._read, size)

    async def holds(self, participant_id: int) -> bool:
        return await self._known.get(participant_id)

    async def _read(self, participant_id: int) -> bool:
        allocation = await self.storage.allocation(participant_id)
        return allocation is not None and allocation.arm == CONTROL
