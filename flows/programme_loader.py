"""Read a programme file (`flows/programmes/*.yaml`) into a `Programme`, with a precise problem (file, line, what to
write) for every mistake, and check it against the flows it names. Pure apart from reading the file it is given."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows.file_reader import FileReader, describe, read_languages
from flows.group_sessions_file import read_group_sessions
from flows.model import SCORABLE_TYPES, Flow, LocalText, StepType
from flows.programme import (
    ALL_KINDS,
    WEEKDAYS,
    Checkin,
    EntryCriterion,
    Evaluation,
    Exercises,
    Module,
    Phase,
    Programme,
    TreSummary,
    Wave,
)
from flows.yamlsource import LineList, LineMap, Problem, read_yaml

TOP_KEYS = {"id", "version", "languages", "description", "timezone", "weeks", "send_time", "quiet_hours",
            "no_reminders_between", "max_messages_per_day", "nudge_after_days", "late", "modules", "exercises",
            "waves", "evaluation", "checkin", "tre_summary", "default", "title", "phases", "entry_criterion",
            "group_sessions"}
MODULE_KEYS = {"number", "day", "title", "link", "reminder"}
WAVE_KEYS = {"id", "day", "flows", "intro", "reminder", "reminders", "remind_every_days", "close_after_days"}
EVALUATION_KEYS = {"wave", "baseline", "flow", "score", "worse_by", "entry_cutoff", "tell_worse", "tell_improving"}
EXERCISE_KEYS = {"plan_flow", "days_item", "time_item", "days", "times", "default_days", "default_time", "text"}
CHECKIN_KEYS = {"flow", "first_day", "every_days", "item", "fall_alert"}
TRE_KEYS = {"flow", "weekday", "time"}
PHASE_KEYS = {"id", "day", "text"}
ENTRY_KEYS = {"wave", "flow", "score", "at_least"}
WINDOW_KEYS = {"from", "to"}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")
_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_MODULE_PLACEHOLDERS = {"number", "title", "link"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def load_programme(path: Path) -> tuple[Programme | None, list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(str(path), 0, f"cannot read the programme file: {exc.strerror or exc}")]
    return read_programme_text(text, str(path))


def read_programme_text(text: str, path: str) -> tuple[Programme | None, list[Problem]]:
    data, problems = read_yaml(text, path)
    if data is None and problems:
        return None, problems
    r = _ProgrammeReader(path)
    programme = r.programme(data)
    return programme, [*problems, *r.problems]


class _ProgrammeReader(FileReader):
    def clock(self, block: LineMap, key: str, what: str, default: time | None = None) -> time | None:
        value = block.get(key)
        if value is None:
            if default is None:
                self.error(block.line, f"{what} has no {key!r} (a time such as \"10:00\")")
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            self.error(block.line_of(key), f"{key} of {what}: put the time in quotes, e.g. \"10:00\" "
                       "(without quotes YAML reads 10:00 as a number)")
            return default
        m = _TIME.match(str(value).strip())
        if m is None:
            self.error(block.line_of(key), f"{key} of {what} must be a time such as \"10:00\", not {describe(value)}")
            return default
        return time(int(m[1]), int(m[2]))

    def whole(self, block: LineMap, key: str, what: str, default: int | None = None, low: int = 0) -> int | None:
        value = block.get(key)
        if value is None:
            if default is None:
                self.error(block.line, f"{what} has no {key!r} (a whole number)")
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.error(block.line_of(key), f"{key} of {what} must be a whole number from {low}, not {describe(value)}")
            return default
        return value

    def weekdays(self, value: Any, line: int, what: str) -> tuple[int, ...] | None:
        items = value if isinstance(value, list) else self.sequence(value, line, what)
        if items is None:
            return None
        days: list[int] = []
        for item in items:
            name = str(item).strip().lower()[:3]
            if name not in WEEKDAYS:
                self.error(line, f"{what}: {describe(item)} is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
                return None
            days.append(WEEKDAYS.index(name))
        return tuple(sorted(set(days)))

    def window(self, block: LineMap, key: str, default: tuple[time, time]) -> tuple[time, time]:
        raw = block.get(key)
        if raw is None:
            return default
        window = self.mapping(raw, block.line_of(key), key)
        if window is None:
            return default
        self.keys(window, WINDOW_KEYS, key)
        start = self.clock(window, "from", key, default[0])
        end = self.clock(window, "to", key, default[1])
        return start or default[0], end or default[1]

    def block(self, top: LineMap, key: str, allowed: set[str]) -> LineMap | None:
        raw = top.get(key)
        if raw is None:
            return None
        block = self.mapping(raw, top.line_of(key), key)
        if block is not None:
            self.keys(block, allowed, key)
        return block

    def programme(self, data: Any) -> Programme | None:
        top = self.mapping(data, 1, "the programme file")
        if top is None:
            return None
        self.keys(top, TOP_KEYS, "the programme")
        programme_id = self.identifier(top, "id", "the programme")
        version = self.whole(top, "version", "the programme", low=1)
        self.languages = read_languages(self, top)
        zone_name = str(top.get("timezone") or "Europe/Copenhagen")
        try:
            ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(top.line_of("timezone"), f"timezone {zone_name!r} is unknown (e.g. Europe/Copenhagen)")
            zone_name = "Europe/Copenhagen"
        weeks = self.whole(top, "weeks", "the programme", low=1) or 12
        send_time = self.clock(top, "send_time", "the programme", time(10, 0)) or time(10, 0)
        quiet = self.window(top, "quiet_hours", (time(21, 0), time(8, 0)))
        gap = self.window(top, "no_reminders_between", (time(2, 0), time(3, 0)))
        max_per_day = self.whole(top, "max_messages_per_day", "the programme", default=3, low=1) or 3
        nudge = self.whole(top, "nudge_after_days", "the programme", default=0) or 0
        modules = self.modules(top, weeks)
        waves = self.waves(top, weeks)
        group_sessions = read_group_sessions(self, top, weeks)
        if programme_id is None or version is None:
            return None
        default = top.get("default", False)
        if not isinstance(default, bool):
            self.error(top.line_of("default"), f"default must be true or false, not {describe(default)}")
        programme = Programme(
            programme_id, version, self.languages, zone_name, weeks, send_time, quiet[0], quiet[1], gap, max_per_day,
            nudge, tuple(modules), tuple(waves), self.exercises(top), self.checkin(top), self.tre_summary(top),
            self.evaluation(top), self.late(top), self.path, phases=tuple(self.phases(top, weeks)),
            entry_criterion=self.entry_criterion(top), default=default is True,
            title=self.text(top, "title", "the programme", required=False), group_sessions=group_sessions)
        self.check_times(top, programme)
        return programme

    def modules(self, top: LineMap, weeks: int) -> list[Module]:
        items = self.sequence(top.get("modules"), top.line_of("modules"), "modules") if "modules" in top else None
        modules: list[Module] = []
        for i, (line, block) in enumerate(self.entries(items, MODULE_KEYS, "module")):
            what = f"module {i + 1}"
            number = self.whole(block, "number", what, low=1)
            day = self.whole(block, "day", what)
            title, reminder = self.text(block, "title", what), self.text(block, "reminder", what)
            link = block.get("link")
            if not isinstance(link, str) or not link.startswith(("https://", "http://")):
                self.error(block.line_of("link"), f"link of {what} must be a web address (https://...)")
                link = None
            if reminder is not None:
                self.placeholders(reminder, block.line_of("reminder"), what, _MODULE_PLACEHOLDERS)
            if day is not None and day > weeks * 7:
                self.error(block.line_of("day"), f"{what} is released on day {day}, after the programme's last day")
            if number in {m.number for m in modules}:
                self.error(line, f"module number {number} is used twice")
            elif None not in (number, day, title, reminder, link):
                assert number is not None and day is not None and title and reminder and link
                modules.append(Module(number, day, title, link, reminder, line))
        for earlier, later in itertools.pairwise(modules):
            if later.day < earlier.day:
                self.error(later.line, f"module {later.number} is released before module {earlier.number}")
        return modules

    def waves(self, top: LineMap, weeks: int) -> list[Wave]:
        items = self.sequence(top.get("waves"), top.line_of("waves"), "waves") if "waves" in top else None
        waves: list[Wave] = []
        for i, (line, block) in enumerate(self.entries(items, WAVE_KEYS, "wave")):
            wave_id = self.identifier(block, "id", f"wave {i + 1}")
            what = f"wave {wave_id!r}" if wave_id else f"wave {i + 1}"
            day = self.whole(block, "day", what)
            flows = self.sequence(block.get("flows"), block.line_of("flows"), f"flows of {what}")
            intro, reminder = self.text(block, "intro", what), self.text(block, "reminder", what)
            reminders = self.whole(block, "reminders", what, default=2)
            every = self.whole(block, "remind_every_days", what, default=2, low=1)
            close = self.whole(block, "close_after_days", what, default=7, low=1)
            if wave_id in {w.id for w in waves}:
                self.error(line, f"wave id {wave_id!r} is used twice")
                continue
            if None in (wave_id, day, flows, intro, reminder, reminders, every, close) or not flows:
                if flows is not None and not flows:
                    self.error(block.line_of("flows"), f"{what} asks no questionnaire: list flow ids, e.g. [pss10]")
                continue
            assert wave_id and day is not None and flows is not None and intro and reminder
            assert reminders is not None and every and close
            waves.append(Wave(wave_id, day, tuple(str(f) for f in flows), intro, reminder, reminders, every, close,
                              line))
        return waves

    def phases(self, top: LineMap, weeks: int) -> list[Phase]:
        items = self.sequence(top.get("phases"), top.line_of("phases"), "phases") if "phases" in top else None
        phases: list[Phase] = []
        for i, (line, block) in enumerate(self.entries(items, PHASE_KEYS, "phase")):
            phase_id = self.identifier(block, "id", f"phase {i + 1}")
            what = f"phase {phase_id!r}" if phase_id else f"phase {i + 1}"
            day, text = self.whole(block, "day", what), self.text(block, "text", what)
            if day is not None and day > weeks * 7:
                self.error(block.line_of("day"), f"{what} begins on day {day}, after the programme's last day")
            if phase_id in {p.id for p in phases}:
                self.error(line, f"phase id {phase_id!r} is used twice")
            elif phase_id is not None and day is not None and text is not None:
                phases.append(Phase(phase_id, day, text, line))
        return phases

    def entry_criterion(self, top: LineMap) -> EntryCriterion | None:
        block = self.block(top, "entry_criterion", ENTRY_KEYS)
        if block is None:
            return None
        what = "entry_criterion"
        ids = [self.identifier(block, key, what) for key in ("wave", "flow", "score")]
        at_least = self.number(block, "at_least", what)
        if at_least is None and "at_least" not in block:
            self.error(block.line, "entry_criterion has no 'at_least' (the lowest score that meets it, e.g. 17)")
        if None in ids or at_least is None:
            return None
        wave, flow, score = (str(x) for x in ids)
        return EntryCriterion(wave, flow, score, at_least, block.line)

    def exercises(self, top: LineMap) -> Exercises | None:
        block = self.block(top, "exercises", EXERCISE_KEYS)
        if block is None:
            return None
        what = "exercises"
        plan_flow = self.identifier(block, "plan_flow", what)
        days_item, time_item = self.identifier(block, "days_item", what), self.identifier(block, "time_item", what)
        day_options: dict[int, tuple[int, ...]] = {}
        raw_days = self.mapping(block.get("days"), block.line_of("days"), "days of exercises")
        for value, days in (raw_days or {}).items():
            parsed = self.weekdays(days, raw_days.line_of(value) if raw_days else block.line, f"days option {value}")
            if isinstance(value, int) and parsed is not None:
                day_options[value] = parsed
            elif not isinstance(value, int):
                self.error(block.line_of("days"), f"days of exercises: {value!r} must be the plan's answer number")
        time_options: dict[int, time] = {}
        raw_times = self.mapping(block.get("times"), block.line_of("times"), "times of exercises")
        for value in raw_times or {}:
            at = self.clock(raw_times, value, "times of exercises") if raw_times else None
            if isinstance(value, int) and at is not None:
                time_options[value] = at
        default_days = self.weekdays(block.get("default_days", ["mon", "wed", "fri"]), block.line_of("default_days"),
                                     "default_days of exercises")
        default_time = self.clock(block, "default_time", what, time(18, 0))
        text = self.text(block, "text", what)
        if text is not None:
            self.placeholders(text, block.line_of("text"), what, {"number", "title"})
        if None in (plan_flow, days_item, time_item, default_days, default_time, text):
            return None
        assert plan_flow and days_item and time_item and default_days is not None and default_time and text
        return Exercises(plan_flow, days_item, time_item, day_options, time_options, default_days, default_time,
                         text, block.line)

    def checkin(self, top: LineMap) -> Checkin | None:
        block = self.block(top, "checkin", CHECKIN_KEYS)
        if block is None:
            return None
        flow, item = self.identifier(block, "flow", "checkin"), self.identifier(block, "item", "checkin")
        first = self.whole(block, "first_day", "checkin", default=7, low=1)
        every = self.whole(block, "every_days", "checkin", default=7, low=1)
        fall = self.number(block, "fall_alert", "checkin")
        if None in (flow, item, first, every):
            return None
        assert flow and item and first and every
        return Checkin(flow, first, every, item, 3.0 if fall is None else fall, block.line)

    def tre_summary(self, top: LineMap) -> TreSummary | None:
        block = self.block(top, "tre_summary", TRE_KEYS)
        if block is None:
            return None
        flow = self.identifier(block, "flow", "tre_summary")
        days = self.weekdays([block.get("weekday", "sun")], block.line_of("weekday"), "weekday of tre_summary")
        at = self.clock(block, "time", "tre_summary", time(18, 0))
        if flow is None or not days or at is None:
            return None
        return TreSummary(flow, days[0], at, block.line)

    def evaluation(self, top: LineMap) -> Evaluation | None:
        block = self.block(top, "evaluation", EVALUATION_KEYS)
        if block is None:
            return None
        what = "evaluation"
        ids = [self.identifier(block, key, what) for key in ("wave", "baseline", "flow", "score")]
        worse_by, cutoff = self.number(block, "worse_by", what), self.number(block, "entry_cutoff", what)
        if worse_by is None:
            self.error(block.line, "evaluation has no 'worse_by' (how many points worse than baseline)")
        if cutoff is None:
            self.error(block.line, "evaluation has no 'entry_cutoff' (the score needed to enter the programme)")
        tell_worse = self.text(block, "tell_worse", what, required=False)
        tell_improving = self.text(block, "tell_improving", what, required=False)
        if None in ids or worse_by is None or cutoff is None:
            return None
        wave, baseline, flow, score = (str(x) for x in ids)
        return Evaluation(wave, baseline, flow, score, worse_by, cutoff, tell_worse, tell_improving, block.line)

    def late(self, top: LineMap) -> Mapping[str, timedelta]:
        block = self.block(top, "late", set(ALL_KINDS))
        limits: dict[str, timedelta] = {}
        for kind, value in (block or {}).items():
            m = _DURATION.match(str(value))
            if m is None:
                self.error(block.line_of(kind) if block else 0,
                           f"late limit of {kind} must be a duration such as 3h or 2d, not {describe(value)}")
                continue
            unit = {"d": "days", "h": "hours", "m": "minutes"}[m[2]]
            limits[str(kind)] = timedelta(**{unit: int(m[1])})
        return limits

    def entries(self, items: LineList | None, allowed: set[str], what: str) -> list[tuple[int, LineMap]]:
        result = []
        for i, raw in enumerate(items or []):
            line = items.line_of(i) if items is not None else 0
            block = self.mapping(raw, line, f"{what} {i + 1}")
            if block is not None:
                self.keys(block, allowed, f"{what} {i + 1}")
                result.append((line, block))
        return result

    def placeholders(self, text: LocalText, line: int, what: str, allowed: set[str]) -> None:
        for lang, value in text.by_lang.items():
            for name in _PLACEHOLDER.findall(value):
                if name not in allowed:
                    hint = ", ".join("{" + a + "}" for a in sorted(allowed))
                    self.error(line, f"{what} ({lang}) uses {{{name}}}; only {hint} can be filled in")

    def check_times(self, top: LineMap, programme: Programme) -> None:
        from flows.timing import _within  # local: timing imports the effects, the loader must not need them

        if _within(programme.send_time, programme.quiet_start, programme.quiet_end):
            self.error(top.line_of("send_time"), "send_time falls in the quiet hours: nothing would go out then")
        ex = programme.exercises
        for value, at in (ex.time_options.items() if ex else []):
            if _within(at, programme.quiet_start, programme.quiet_end):
                self.warn(ex.line if ex else 0, f"exercise time option {value} ({at:%H:%M}) is in the quiet hours: "
                          "reminders then move to the end of the quiet hours")


def check_programme(programme: Programme, flows: Mapping[str, Flow]) -> list[Problem]:
    """What needs the flows too: every flow, item and score the programme names must exist and fit."""
    problems: list[Problem] = []

    def error(line: int, message: str) -> None:
        problems.append(Problem(programme.source_path, line, message))

    def need_flow(flow_id: str, line: int, what: str) -> Flow | None:
        flow = flows.get(flow_id)
        if flow is None:
            error(line, f"{what} names flow {flow_id!r}, which is not a usable flow file")
        return flow

    for wave in programme.waves:
        for flow_id in wave.flows:
            need_flow(flow_id, wave.line, f"wave {wave.id!r}")
        if wave.day > programme.days + 365:
            error(wave.line, f"wave {wave.id!r} is on day {wave.day}, more than a year after the programme")
    ev = programme.evaluation
    if ev is not None:
        for wave_id in (ev.wave, ev.baseline):
            named = programme.wave(wave_id)
            if named is None:
                error(ev.line, f"evaluation names wave {wave_id!r}, which is not in waves")
            elif ev.flow not in named.flows:
                error(ev.line, f"evaluation compares {ev.flow!r}, which wave {wave_id!r} does not ask")
        flow = need_flow(ev.flow, ev.line, "evaluation")
        if flow is not None and flow.score(ev.score) is None:
            error(ev.line, f"evaluation uses score {ev.score!r}, which flow {ev.flow!r} does not define")
    ex = programme.exercises
    if ex is not None:
        plan = need_flow(ex.plan_flow, ex.line, "exercises")
        if plan is not None:
            for item, options, kind in ((ex.days_item, set(ex.day_options), "days"),
                                        (ex.time_item, set(ex.time_options), "times")):
                step = plan.step(item)
                if step is None or step.type is not StepType.CHOICE:
                    error(ex.line, f"exercises: {item!r} must be a choice step of flow {ex.plan_flow!r}")
                    continue
                answers = {c.value for c in step.choices}
                if answers != options:
                    error(ex.line, f"exercises: {kind} must give a value for each answer of {item!r} "
                          f"({sorted(answers)}), not for {sorted(options)}")
    ci = programme.checkin
    if ci is not None:
        flow = need_flow(ci.flow, ci.line, "checkin")
        step = flow.step(ci.item) if flow is not None else None
        if flow is not None and (step is None or step.type not in SCORABLE_TYPES):
            error(ci.line, f"checkin: {ci.item!r} must be a question with a number in flow {ci.flow!r}")
    if programme.tre_summary is not None:
        need_flow(programme.tre_summary.flow, programme.tre_summary.line, "tre_summary")
    entry = programme.entry_criterion
    if entry is not None:
        named = programme.wave(entry.wave)
        if named is None:
            error(entry.line, f"entry_criterion names wave {entry.wave!r}, which is not in waves")
        elif entry.flow not in named.flows:
            error(entry.line, f"entry_criterion uses {entry.flow!r}, which wave {entry.wave!r} does not ask")
        flow = need_flow(entry.flow, entry.line, "entry_criterion")
        if flow is not None and flow.score(entry.score) is None:
            error(entry.line, f"entry_criterion uses score {entry.score!r}, which flow {entry.flow!r} does not define")
    return problems
