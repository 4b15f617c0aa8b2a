"""Which programme each participant is in (issue 15: several programmes in one deployment), as the conversation loop
asks it at every step: the id recorded at their enrolment, None for someone with none recorded (they follow the
deployment's default programme: `FlowLibrary.programme_for`).

The choice is written in the transaction that enrols the person and never changes, so each answer is kept (a bounded
cache, most recently asked last): one read per participant per process, not one per step.
"""

from __future__ import annotations

from collections import OrderedDict

from storage.ports import Directory


class ProgrammeChoice:
    def __init__(self, storage: Directory, size: int) -> None:
        self.storage = storage
        self.size = size
        self._known: OrderedDict[int, str | None] = OrderedDict()

    async def of(self, participant_id: int) -> str | None:
        if participant_id in self._known:
            chosen = self._known[participant_id]
        else:
            chosen = await self.storage.programme_of(participant_id)
        self._known[participant_id] = chosen
        self._known.move_to_end(participant_id)
        if len(self._known) > self.size:
            self._known.popitem(last=False)
        return chosen
