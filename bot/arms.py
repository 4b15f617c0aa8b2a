"""Which participants are in a randomised cohort's control arm, as the conversation loop asks it at every step.

An allocation is written in the transaction that enrols the person and never changes, so each answer is kept (a
bounded cache, most recently asked last): one read per participant per process, not one per step. "Not allocated"
is kept too: a participant row is allocated in the transaction that creates it or never (`cohort randomise` applies
to enrolments from then on, and enrolment always makes a new participant), so the answer cannot change.
"""

from __future__ import annotations

from collections import OrderedDict

from storage.allocation_records import CONTROL
from storage.desk_ports import Allocations


class ControlArm:
    def __init__(self, storage: Allocations, size: int) -> None:
        self.storage = storage
        self.size = size
        self._known: OrderedDict[int, bool] = OrderedDict()

    async def holds(self, participant_id: int) -> bool:
        known = self._known.get(participant_id)
        if known is None:
            allocation = await self.storage.allocation(participant_id)
            known = allocation is not None and allocation.arm == CONTROL
        self._known[participant_id] = known
        self._known.move_to_end(participant_id)
        if len(self._known) > self.size:
            self._known.popitem(last=False)
        return known
