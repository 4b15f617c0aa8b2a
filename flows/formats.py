"""Format versions of what the engine reads from outside it: the stored conversation state and the flow files.

In the style of goflow's spec migrations: what is written carries the number of its format; what is read is brought
up to the current format one step at a time, by one migration function per step (`migrations[n]` turns format n into
n + 1), before anything else looks at it; a format newer than the code knows is refused with a clear error, never
half-read. Raising a format means: raise its number, and add the step from the old number to its migrations.

- Stored state (flows/state.py): `STATE_FORMAT`, `STATE_MIGRATIONS`; a state without a number is format 1 (the
  first format, which every state the bot ever stored carries).
- Flow files (`in_current_flow_format`, used by flows/loader.py): `FLOW_FORMAT`, `FLOW_MIGRATIONS`; a file without
  `format:` is in format 1 (`UNMARKED_FLOW_FORMAT`), today the current one, so the files in use need no edit (an
  edit would change their stored text: docs/flow-format.md), and they still read right once the format is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from flows.yamlsource import LineMap

Data = TypeVar("Data")

FLOW_FORMAT = 1  # the format of flow files this code reads (their `format:` key)
# A file without `format:` is in format 1: today the current one. Keep it at 1 when FLOW_FORMAT is raised, so the
# files written until then, and their texts kept in the database for runs on old versions, are migrated.
UNMARKED_FLOW_FORMAT = 1
# FLOW_MIGRATIONS[n] turns a flow file's top block in format n into format n + 1 (none yet: format 1 is the first)
FLOW_MIGRATIONS: dict[int, Callable[[LineMap], LineMap]] = {}


class FormatError(ValueError):
    """Something written in a format this code cannot read: newer than it knows, or no format number at all."""


def migrate(data: Data, found: object, current: int, migrations: Mapping[int, Callable[[Data], Data]],
            what: str) -> Data:
    """`data`, written in format `found`, brought up to format `current`; `what` names it in the error."""
    if isinstance(found, bool) or not isinstance(found, int) or found < 1:
        raise FormatError(f"{what} has format {found!r}, which is not a format number (a whole number from 1; "
                          f"this bot reads up to format {current})")
    if found > current:
        raise FormatError(f"{what} is in format {found}, newer than this bot reads (up to format {current}): "
                          "it was written for a newer version of the bot")
    for version in range(found, current):
        step = migrations.get(version)
        if step is None:
            raise FormatError(f"{what} is in format {found}, and this bot has no migration from format {version} "
                              f"to {version + 1}")
        data = step(data)
    return data


def in_current_flow_format(top: LineMap) -> LineMap:
    """A flow file's top block brought up to `FLOW_FORMAT`; `FormatError` for a format this code cannot read."""
    return migrate(top, top.get("format", UNMARKED_FLOW_FORMAT), FLOW_FORMAT, FLOW_MIGRATIONS, "the flow file")
