"""Build a `Flow` from a YAML file, collecting every problem (with its line) instead of stopping at the first.

The loader checks shape and types; `flows.checker` adds the checks that need the whole flow (reachability,
references, loops) or several files (duplicate ids).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from flows.conditions import ConditionError, parse_condition
from flows.file_reader import FileReader, describe, read_languages
from flows.formats import FormatError, in_current_flow_format
from flows.model import END, Band, Branch, Choice, Flow, Score, Step, StepType, TaskRule
from flows.risk import LEVELS, RiskRule
from flows.yamlsource import LineList, LineMap, Problem, read_yaml

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")

TOP_KEYS = {"format", "id", "version", "languages", "title", "expires_after", "needs_signoff", "source", "description",
            "choice_sets", "steps", "scores", "risk", "tasks"}
TASK_KEYS = {"if", "task"}
RISK_KEYS = {"if", "level"}
STEP_KEYS = {"id", "type", "text", "choices", "min", "max", "min_label", "max_label", "unit", "decimals",
             "max_length", "next"}
TYPE_KEYS: dict[StepType, set[str]] = {
    StepType.MESSAGE: set(),
    StepType.CHOICE: {"choices"},
    StepType.SCALE: {"min", "max", "min_label", "max_label"},
    StepType.NUMBER: {"min", "max", "unit", "decimals"},
    StepType.YESNO: set(),
    StepType.TEXT: {"max_length"},
}
CHOICE_KEYS = {"value", "label"}
BRANCH_KEYS = {"if", "goto"}
SCORE_KEYS = {"id", "items", "minus", "reverse", "multiplier", "bands", "better"}
BETTER = ("lower", "higher")  # which way a score improves (the desk's trend marks read it)
BAND_KEYS = {"id", "min", "max", "label"}


def read_flow_text(text: str, path: str) -> tuple[Flow | None, list[Problem]]:
    """Parse one flow file's text as far as it goes: the flow may be built despite errors, for the checker."""
    data, problems = read_yaml(text, path)
    reader = FileReader(path)
    reader.problems.extend(problems)
    flow = None if data is None else _read_flow(reader, data)
    return flow, reader.problems


def _entries(
    r: FileReader, items: LineList, allowed: set[str], name: Callable[[int], str]
) -> Iterator[tuple[int, LineMap]]:
    """The list's items that are blocks of keys, with unknown keys reported; `name(i)` says which item."""
    for i, item in enumerate(items):
        block = r.mapping(item, items.line_of(i), name(i))
        if block is not None:
            r.keys(block, allowed, name(i))
            yield i, block


def load_flow_text(text: str, path: str) -> tuple[Flow | None, list[Problem]]:
    """Parse one flow file's text. The flow is None when any error was found: it must not be run."""
    flow, problems = read_flow_text(text, path)
    return (None if any(p.severity == "error" for p in problems) else flow), problems


def _read_flow(r: FileReader, data: Any) -> Flow | None:
    top = r.mapping(data, 1, "a flow file")
    if top is None:
        return None
    try:  # first: a file in a format this bot does not know is refused with that one line, nothing else read
        top = in_current_flow_format(top)
    except FormatError as exc:
        r.error(top.line_of("format"), str(exc))
        return None
    r.keys(top, TOP_KEYS, "the flow")
    flow_id = r.identifier(top, "id", "the flow")
    version = top.get("version")
    if version is None:
        r.error(top.line, "the flow has no 'version' (a whole number, raised on every change)")
    elif isinstance(version, bool) or not isinstance(version, int) or version < 1:
        r.error(top.line_of("version"), f"version must be a whole number from 1, not {describe(version)}")
    r.languages = read_languages(r, top)
    title = r.text(top, "title", "the flow")
    expires = _read_duration(r, top)
    signoff = _read_signoff(r, top)
    choice_sets = _read_choice_sets(r, top)
    steps = _read_steps(r, top, choice_sets)
    scores = _read_scores(r, top)
    risk_rules = _read_risk_rules(r, top)
    task_rules = _read_task_rules(r, top)
    if flow_id is None or not isinstance(version, int) or title is None or not steps:
        return None
    return Flow(flow_id, version, r.languages, title, tuple(steps), tuple(scores), expires, signoff, r.path,
                risk_rules=tuple(risk_rules), task_rules=tuple(task_rules), unreadable_steps=frozenset(r.unreadable))


def _top_list(r: FileReader, top: LineMap, key: str) -> LineList | None:
    """The file's top-level list `key`; None when it is absent or not a list (then it is reported)."""
    raw = top.get(key)
    return None if raw is None else r.sequence(raw, top.line_of(key), key)


def _read_task_rules(r: FileReader, top: LineMap) -> list[TaskRule]:
    """`tasks:` entries: `- if: "what == 3 or score.tension_change >= 3"` and `task: tre_checkin`."""
    items = _top_list(r, top, "tasks")
    if items is None:
        return []
    rules: list[TaskRule] = []
    for i, entry in _entries(r, items, TASK_KEYS, lambda i: f"task rule {i + 1}"):
        kind = r.identifier(entry, "task", f"task rule {i + 1}")
        try:
            condition = parse_condition(str(entry.get("if") or ""))
        except ConditionError as exc:
            r.error(entry.line_of("if"), f"task rule {i + 1}: {exc}")
            continue
        if kind is not None:
            rules.append(TaskRule(condition, kind, entry.line))
    return rules


def _read_risk_rules(r: FileReader, top: LineMap) -> list[RiskRule]:
    items = _top_list(r, top, "risk")
    if items is None:
        return []
    rules: list[RiskRule] = []
    for i, entry in _entries(r, items, RISK_KEYS, lambda i: f"risk rule {i + 1}"):
        level = entry.get("level")
        if level not in LEVELS:
            r.error(entry.line_of("level"),
                    f"risk rule {i + 1} needs level: low, moderate or high, not {describe(level)}")
            continue
        try:
            condition = parse_condition(str(entry.get("if") or ""))
        except ConditionError as exc:
            r.error(entry.line_of("if"), f"risk rule {i + 1}: {exc}")
            continue
        rules.append(RiskRule(condition, str(level)))
    return rules


def _read_duration(r: FileReader, top: LineMap) -> timedelta | None:
    raw = top.get("expires_after")
    if raw is None:
        return None
    m = _DURATION.match(str(raw)) if isinstance(raw, str) else None
    if m is None or int(m[1]) == 0:
        r.error(top.line_of("expires_after"), f"expires_after must look like 7d, 12h or 30m, not {describe(raw)}")
        return None
    unit = {"d": "days", "h": "hours", "m": "minutes"}[m[2]]
    return timedelta(**{unit: int(m[1])})


def _read_signoff(r: FileReader, top: LineMap) -> tuple[str, ...]:
    raw = top.get("needs_signoff")
    if raw is None:
        return ()
    langs = r.sequence(raw, top.line_of("needs_signoff"), "needs_signoff")
    if langs is None:
        return ()
    for lang in langs:
        if lang not in r.languages:
            r.error(top.line_of("needs_signoff"), f"needs_signoff names {lang!r}, which is not in languages")
    return tuple(str(x) for x in langs)


def _read_choices(r: FileReader, raw: Any, line: int, what: str) -> tuple[Choice, ...]:
    items = r.sequence(raw, line, what)
    if items is None:
        return ()
    choices: list[Choice] = []
    for i, block in _entries(r, items, CHOICE_KEYS, lambda i: f"answer {i + 1} of {what}"):
        value = block.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            r.error(block.line_of("value"),
                    f"answer {i + 1} of {what} needs a whole-number value, not {describe(value)}")
            continue
        label = r.text(block, "label", f"answer {i + 1} of {what}")
        if label is not None:
            choices.append(Choice(value, label))
    values = [c.value for c in choices]
    if len(set(values)) != len(values):
        r.error(items.line, f"{what} uses the same value twice")
    if not items:
        r.error(items.line, f"{what} has no answers")
    return tuple(choices)


def _read_choice_sets(r: FileReader, top: LineMap) -> dict[str, tuple[Choice, ...]]:
    raw = top.get("choice_sets")
    if raw is None:
        return {}
    sets = r.mapping(raw, top.line_of("choice_sets"), "choice_sets")
    if sets is None:
        return {}
    return {str(name): _read_choices(r, value, sets.line_of(name), f"choice set {name!r}")
            for name, value in sets.items()}


def _read_steps(r: FileReader, top: LineMap, choice_sets: dict[str, tuple[Choice, ...]]) -> list[Step]:
    raw = top.get("steps")
    if raw is None:
        r.error(top.line, "the flow has no 'steps'")
        return []
    items = r.sequence(raw, top.line_of("steps"), "steps")
    if items is None:
        return []
    if not items:
        r.error(items.line, "steps is empty: a flow needs at least one step")
    steps: list[Step] = []
    for i, item in enumerate(items):
        block = r.mapping(item, items.line_of(i), f"step {i + 1}")
        if block is not None:
            step = _read_step(r, block, i, choice_sets)
            if step is not None:
                steps.append(step)
            elif isinstance(block.get("id"), str):
                r.unreadable.add(block["id"])  # already reported; references to it are not reported again
    return steps


def _read_step(r: FileReader, block: LineMap, index: int, choice_sets: dict[str, tuple[Choice, ...]]) -> Step | None:
    step_id = r.identifier(block, "id", f"step {index + 1}")
    what = f"step {step_id!r}" if step_id else f"step {index + 1}"
    if step_id == END:
        r.error(block.line_of("id"), f"{END!r} is reserved for `goto: end`; give the step another id")
    raw_type = block.get("type")
    try:
        step_type = StepType(str(raw_type))
    except ValueError:
        kinds = ", ".join(t.value for t in StepType)
        r.error(block.line_of("type") if "type" in block else block.line,
                f"{what} has unknown type {describe(raw_type)} (use one of: {kinds})")
        r.keys(block, STEP_KEYS, what)
        return None
    r.keys(block, {"id", "type", "text", "next"} | TYPE_KEYS[step_type], what)
    text = r.text(block, "text", what)
    fields: dict[str, Any] = {}
    if step_type is StepType.CHOICE:
        fields["choices"] = _step_choices(r, block, what, choice_sets)
    elif step_type in (StepType.SCALE, StepType.NUMBER):
        fields.update(_step_range(r, block, what, step_type))
    elif step_type is StepType.TEXT:
        max_length = r.number(block, "max_length", what, whole=True)
        if max_length is not None and not 1 <= max_length <= 2000:
            r.error(block.line_of("max_length"), f"max_length of {what} must be between 1 and 2000")
        elif max_length is not None:
            fields["max_length"] = int(max_length)
    branches = _read_branches(r, block, what)
    if step_id is None or text is None:
        return None
    return Step(step_id, step_type, text, line=block.line, next=branches, **fields)


def _step_choices(
    r: FileReader, block: LineMap, what: str, choice_sets: dict[str, tuple[Choice, ...]]
) -> tuple[Choice, ...]:
    raw = block.get("choices")
    if raw is None:
        r.error(block.line, f"{what} is a choice question but has no 'choices'")
        return ()
    if isinstance(raw, str):
        if raw not in choice_sets:
            known = ", ".join(sorted(choice_sets)) or "none are defined"
            r.error(block.line_of("choices"), f"{what} uses choice set {raw!r}, which does not exist ({known})")
            return ()
        return choice_sets[raw]
    return _read_choices(r, raw, block.line_of("choices"), f"the choices of {what}")


def _step_range(r: FileReader, block: LineMap, what: str, step_type: StepType) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    low = r.number(block, "min", what, whole=step_type is StepType.SCALE)
    high = r.number(block, "max", what, whole=step_type is StepType.SCALE)
    if low is None or high is None:
        if "min" not in block or "max" not in block:
            r.error(block.line, f"{what} needs both 'min' and 'max'")
        return fields
    if low >= high:
        r.error(block.line_of("min"), f"{what} has min {low:g} which is not below max {high:g}")
    fields.update(minimum=low, maximum=high)
    if step_type is StepType.SCALE:
        fields["min_label"] = r.text(block, "min_label", what, required=False)
        fields["max_label"] = r.text(block, "max_label", what, required=False)
        if high - low > 20:
            r.warn(block.line, f"{what} is a scale with {int(high - low) + 1} points; a number question may fit better")
    else:
        fields["unit"] = r.text(block, "unit", what, required=False)
        decimals = r.number(block, "decimals", what, whole=True)
        if decimals is not None and not 0 <= decimals <= 3:
            r.error(block.line_of("decimals"), f"decimals of {what} must be 0, 1, 2 or 3")
        elif decimals is not None:
            fields["decimals"] = int(decimals)
    return fields


def _read_branches(r: FileReader, block: LineMap, what: str) -> tuple[Branch, ...]:
    raw = block.get("next")
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (Branch(raw),)
    items = r.sequence(raw, block.line_of("next"), f"next of {what}")
    if items is None:
        return ()
    branches: list[Branch] = []
    for i, entry in _entries(r, items, BRANCH_KEYS, lambda i: f"next entry {i + 1} of {what}"):
        target = entry.get("goto")
        if not isinstance(target, str):
            r.error(entry.line, f"next entry {i + 1} of {what} needs 'goto: STEP_ID' (or 'goto: end')")
            continue
        condition = None
        if "if" in entry:
            try:
                condition = parse_condition(entry["if"])
            except ConditionError as exc:
                r.error(entry.line_of("if"), f"next entry {i + 1} of {what}: {exc}")
                continue
        branches.append(Branch(target, condition))
    return tuple(branches)


def _read_scores(r: FileReader, top: LineMap) -> list[Score]:
    items = _top_list(r, top, "scores")
    if items is None:
        return []
    scores: list[Score] = []
    for i, block in _entries(r, items, SCORE_KEYS, lambda i: f"score {i + 1}"):
        score_id = r.identifier(block, "id", f"score {i + 1}")
        what = f"score {score_id!r}" if score_id else f"score {i + 1}"
        ids = _id_list(r, block, "items", what, required=True)
        minus = _id_list(r, block, "minus", what, required=False)
        for name in minus:
            if name in ids:
                r.error(block.line_of("minus"), f"{what} both adds and subtracts {name!r}")
        reverse = _id_list(r, block, "reverse", what, required=False)
        for name in reverse:
            if name not in ids and name not in minus:
                r.error(block.line_of("reverse"), f"{what} reverses {name!r}, which is not in its items")
        multiplier = r.number(block, "multiplier", what)
        bands = _read_bands(r, block, what)
        better = block.get("better")
        if better is not None and better not in BETTER:
            r.error(block.line_of("better"), f"better of {what} must be lower or higher, not {describe(better)}")
            better = None
        if score_id is not None and ids:
            scores.append(Score(score_id, tuple(ids), frozenset(reverse),
                                1.0 if multiplier is None else multiplier, tuple(bands), block.line,
                                tuple(minus), better))
    return scores


def _id_list(r: FileReader, block: LineMap, key: str, what: str, required: bool) -> list[str]:
    raw = block.get(key)
    if raw is None:
        if required:
            r.error(block.line, f"{what} has no {key!r}")
        return []
    items = r.sequence(raw, block.line_of(key), f"{key} of {what}")
    if items is None:
        return []
    good = [x for x in items if isinstance(x, str)]
    if len(good) != len(items):
        r.error(block.line_of(key), f"{key} of {what} must list step ids such as [q1, q2]")
    if len(set(good)) != len(good):
        r.error(block.line_of(key), f"{key} of {what} lists a step twice")
    return good


def _read_bands(r: FileReader, block: LineMap, what: str) -> list[Band]:
    raw = block.get("bands")
    if raw is None:
        return []
    items = r.sequence(raw, block.line_of("bands"), f"bands of {what}")
    if items is None:
        return []
    bands: list[Band] = []
    for i, entry in _entries(r, items, BAND_KEYS, lambda i: f"band {i + 1} of {what}"):
        band_id = r.identifier(entry, "id", f"band {i + 1} of {what}")
        label = r.text(entry, "label", f"band {band_id or i + 1} of {what}")
        low, high = r.number(entry, "min", what), r.number(entry, "max", what)
        if low is not None and high is not None and low > high:
            r.error(entry.line, f"band {band_id!r} of {what} has min above max")
        if band_id is not None and label is not None:
            bands.append(Band(band_id, label, low, high))
    return bands
