"""The records of a randomised cohort (issue 15): the cohort's opt-in and each participant's allocation.

The arm names are plain strings here (storage knows nothing of the engine): `PROGRAMME` gets the whole programme,
`CONTROL` usual care, with only the measurement waves (and the safety path, always).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PROGRAMME = "programme"
CONTROL = "control"
ARMS = (PROGRAMME, CONTROL)


@dataclass(frozen=True)
class RandomisedCohort:
    """A cohort opted in to randomisation: who did it and when, how its sequence is made, how many so far."""

    cohort: str
    scheme: str  # how the sequence is made (bot/allocation.py `SCHEME`)
    key_id: str  # the allocation key's fingerprint (which key made the sequence), never the key
    created_by: str
    created_at: datetime
    allocated: int = 0  # how many were allocated: the next one's place in the sequence


@dataclass(frozen=True)
class Draw:
    """What the sequence says for one place: the arm, and the block it is in (for the auditor)."""

    arm: str
    block: int
    block_size: int


@dataclass(frozen=True)
class Allocation:
    participant_id: int
    cohort: str
    seq: int  # 0-based place in the cohort's sequence, in the order of enrolment
    arm: str
    block: int
    block_size: int
    allocated_by: str
    allocated_at: datetime
