"""A deployment's data-protection settings: how long data is kept after the programme, and whether an erased
person's scores may stay, anonymised, in the outcome figures.

From the ``data_protection`` block of the deployment configuration (bot/deployment.yaml)::

    data_protection:
      retention_days_after_end: 365   # erase everything about a person this many days after their programme ended
      keep_anonymised_scores: false   # true: an erased person's scores stay under an anonymous participant

Without the block nothing is erased by time and erasure keeps nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flows.yamlsource import LineMap

KEYS = ("retention_days_after_end", "keep_anonymised_scores")


@dataclass(frozen=True)
class DataProtection:
    retention_days_after_end: int | None = None  # None: the retention job erases nothing
    keep_anonymised_scores: bool = False


def read_data_protection(raw: Any, line: int, error: Callable[[int, str], None]) -> DataProtection:
    """The block checked; every problem goes to `error` with its line (and the defaults are returned)."""
    if raw is None:
        return DataProtection()
    if not isinstance(raw, LineMap):
        error(line, f"data_protection must be a block with {' and/or '.join(KEYS)}")
        return DataProtection()
    for key in raw:
        if key not in KEYS:
            error(raw.line_of(key), f"unknown key {key!r} in data_protection")
    days = raw.get("retention_days_after_end")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        error(raw.line_of("retention_days_after_end"), "retention_days_after_end must be a whole number of days (>= 0)")
        days = None
    keep = raw.get("keep_anonymised_scores", False)
    if not isinstance(keep, bool):
        error(raw.line_of("keep_anonymised_scores"), "keep_anonymised_scores must be true or false")
        keep = False
    return DataProtection(days, keep)
