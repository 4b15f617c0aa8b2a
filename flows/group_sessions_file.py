"""Reading a programme file's `group_sessions:` section (flows/group_sessions.py says what it means), with file and
line for every mistake: an unquoted time, a weekday that is not one ("man"), a week outside the programme.

Called by flows/programme_loader.py with its reader, so the checks are worded as the rest of the file's are.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Protocol

from flows.file_reader import describe
from flows.group_sessions import GroupSession
from flows.phrases import APPOINTMENT_KINDS
from flows.yamlsource import LineList, LineMap

KEYS = {"id", "kind", "weeks", "weekdays", "time", "minutes", "place", "video", "max_size"}
MIN_MINUTES, MAX_MINUTES = 5, 8 * 60  # as a booking (bot/appointments.py)
_WEEK_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class Reader(Protocol):
    """What of the programme reader (flows/programme_loader.py) this section uses: its checks, worded alike."""

    def error(self, line: int, message: str) -> None: ...

    def sequence(self, value: Any, line: int, what: str) -> LineList | None: ...

    def entries(self, items: LineList | None, allowed: set[str], what: str) -> list[tuple[int, LineMap]]: ...

    def identifier(self, block: LineMap, key: str, what: str) -> str | None: ...

    def whole(self, block: LineMap, key: str, what: str, default: int | None = None, low: int = 0) -> int | None: ...

    def clock(self, block: LineMap, key: str, what: str, default: time | None = None) -> time | None: ...

    def weekdays(self, value: Any, line: int, what: str) -> tuple[int, ...] | None: ...


def read_group_sessions(r: Reader, top: LineMap, weeks: int) -> tuple[GroupSession, ...]:
    """The `group_sessions:` section, every problem noted with its line; the sessions without a problem."""
    if "group_sessions" not in top:
        return ()
    items = r.sequence(top.get("group_sessions"), top.line_of("group_sessions"), "group_sessions")
    sessions: list[GroupSession] = []
    for i, (line, block) in enumerate(r.entries(items, KEYS, "group session")):
        session_id = r.identifier(block, "id", f"group session {i + 1}")
        what = f"group session {session_id!r}" if session_id else f"group session {i + 1}"
        if session_id is not None and session_id in {s.id for s in sessions}:
            r.error(line, f"group session id {session_id!r} is used twice")
            continue
        session = _session(r, block, what, weeks, session_id)
        if session is not None:
            sessions.append(session)
    return tuple(sessions)


def _session(r: Reader, block: LineMap, what: str, weeks: int, session_id: str | None) -> GroupSession | None:
    kind = str(block.get("kind", "group"))
    if kind not in APPOINTMENT_KINDS:
        r.error(block.line_of("kind"), f"kind of {what} must be one of {', '.join(APPOINTMENT_KINDS)}, "
                f"not {describe(block.get('kind'))}")
    in_weeks = _weeks(r, block, what, weeks)
    if "weekdays" not in block:
        r.error(block.line, f"{what} has no 'weekdays' (e.g. [mon, thu])")
    days = r.weekdays(block.get("weekdays"), block.line_of("weekdays"), f"weekdays of {what}") if (
        "weekdays" in block) else None
    if days is not None and not days:
        r.error(block.line_of("weekdays"), f"weekdays of {what} is empty: name at least one (e.g. [mon, thu])")
    at = r.clock(block, "time", what)
    minutes = r.whole(block, "minutes", what, default=60, low=MIN_MINUTES)
    if minutes is not None and minutes > MAX_MINUTES:
        r.error(block.line_of("minutes"), f"minutes of {what} must be at most {MAX_MINUTES}, not {minutes}")
        minutes = None
    place, video = _text(r, block, "place", what), _text(r, block, "video", what)
    if video and not video.startswith("https://"):
        r.error(block.line_of("video"), f"video of {what} must be a link starting with https://")
    if place is not None and video is not None and not place and not video:
        r.error(block.line, f"{what} needs a place or a video link (or both)")
    max_size = r.whole(block, "max_size", what, low=1) if "max_size" in block else None
    video_ok = video is not None and (not video or video.startswith("https://"))
    if (session_id is None or in_weeks is None or not days or at is None or minutes is None or place is None
            or not video_ok or not (place or video) or kind not in APPOINTMENT_KINDS
            or ("max_size" in block and max_size is None)):
        return None
    return GroupSession(session_id, kind, in_weeks, days, at, minutes, place, video or "", max_size, block.line)


def _weeks(r: Reader, block: LineMap, what: str, programme_weeks: int) -> tuple[int, ...] | None:
    """`weeks: 1-4`, `weeks: [1, 2, 3, 4]` or `weeks: 2`, each within the programme's weeks."""
    raw, line = block.get("weeks"), block.line_of("weeks")
    if raw is None:
        r.error(block.line, f"{what} has no 'weeks' (e.g. 1-4, or [1, 2, 3, 4])")
        return None
    found = _WEEK_RANGE.match(raw) if isinstance(raw, str) else None
    if found is not None:
        numbers: list[Any] = list(range(int(found[1]), int(found[2]) + 1))
        if not numbers:
            r.error(line, f"weeks of {what}: {raw!r} runs backwards (write the first week first, e.g. 1-4)")
            return None
    elif isinstance(raw, list):
        numbers = list(raw)
    else:
        numbers = [raw]
    if not numbers:
        r.error(line, f"weeks of {what} is empty: name at least one week")
        return None
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int):
            r.error(line, f"weeks of {what}: {describe(number)} is not a week number (write e.g. 1-4, or [1, 2])")
            return None
        if not 1 <= number <= programme_weeks:
            r.error(line, f"weeks of {what}: week {number} is outside the programme's {programme_weeks} weeks")
            return None
    return tuple(sorted(set(numbers)))


def _text(r: Reader, block: LineMap, key: str, what: str) -> str | None:
    value = block.get(key, "")
    if not isinstance(value, str):
        r.error(block.line_of(key), f"{key} of {what} must be a text, not {describe(value)}")
        return None
    return value.strip()
