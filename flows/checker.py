"""The flow checker: every problem in every flow file at once, each with file and line.

`load_flow_text` finds problems of shape and type; this module adds what needs a whole flow (references,
reachability, loops without a question, ambiguous answers) and what needs all files (duplicate ids).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flows.conditions import Condition
from flows.loader import read_flow_text
from flows.model import END, SCORABLE_TYPES, Flow, Step, StepType
from flows.textnorm import fold, loose
from flows.yamlsource import Problem

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class _Report(Protocol):
    """Records one problem at a step's line (or a given line)."""

    def __call__(self, step_or_line: Step | int, message: str, severity: str = "error") -> None: ...


@dataclass(frozen=True)
class CheckReport:
    flows: tuple[Flow, ...]
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_flow(flow: Flow) -> list[Problem]:
    """Problems in one already-loaded flow."""
    problems: list[Problem] = []

    def error(step_or_line: Step | int, message: str, severity: str = "error") -> None:
        line = step_or_line if isinstance(step_or_line, int) else step_or_line.line
        problems.append(Problem(flow.source_path, line, message, severity))

    _check_unique_ids(flow, error)
    _check_branches(flow, error)
    _check_scores(flow, error)
    _check_risk_rules(flow, error)
    _check_placeholders(flow, error)
    _check_choices(flow, error)
    _check_reachability(flow, error)
    return problems


def _check_unique_ids(flow: Flow, error: _Report) -> None:
    seen: set[str] = set()
    for step in flow.steps:
        if step.id in seen:
            error(step, f"step id {step.id!r} is used by two steps")
        seen.add(step.id)
    seen_scores: set[str] = set()
    for score in flow.scores:
        if score.id in seen_scores:
            error(score.line, f"score id {score.id!r} is used twice")
        seen_scores.add(score.id)


def _check_branches(flow: Flow, error: _Report) -> None:
    for step in flow.steps:
        for branch in step.next:
            if branch.target != END and flow.step(branch.target) is None and branch.target not in flow.unreadable_steps:
                error(step, f"step {step.id!r} goes to {branch.target!r}, which is not a step (or 'end')")
            if branch.condition is not None:
                _check_condition(flow, branch.condition, step, f"step {step.id!r} branches on", error)
        unconditional = [i for i, b in enumerate(step.next) if b.condition is None]
        if unconditional and unconditional[0] < len(step.next) - 1:
            error(step, f"step {step.id!r}: the next entries after an entry without 'if' can never be used",
                  "warning")


def _check_condition(flow: Flow, condition: Condition, where: Step | int, what: str, error: _Report) -> None:
    for c in condition.comparisons():
        if not c.is_score and c.ref in flow.unreadable_steps:
            continue
        if c.is_score and flow.score(c.name) is None:
            error(where, f"{what} score {c.name!r}, which is not defined")
        elif not c.is_score:
            target = flow.step(c.ref)
            if target is None:
                error(where, f"{what} {c.ref!r}, which is not a step")
            elif target.type not in SCORABLE_TYPES:
                error(where, f"{what} {c.ref!r}, a {target.type} step with no number")


def _check_risk_rules(flow: Flow, error: _Report) -> None:
    for i, rule in enumerate(flow.risk_rules, start=1):
        _check_condition(flow, rule.condition, 1, f"risk rule {i} ({rule.condition.text!r}) uses", error)
    for i, task in enumerate(flow.task_rules, start=1):
        _check_condition(flow, task.condition, task.line, f"task rule {i} ({task.condition.text!r}) uses", error)


def _check_scores(flow: Flow, error: _Report) -> None:
    for score in flow.scores:
        for item in score.all_items:
            step = flow.step(item)
            if step is None and item in flow.unreadable_steps:
                continue
            if step is None:
                error(score.line, f"score {score.id!r} names {item!r}, which is not a step")
            elif step.type not in SCORABLE_TYPES:
                error(step, f"score {score.id!r} uses {item!r}, a {step.type} step that has no number")
            elif item in score.reverse and step.value_range() is None:
                error(step, f"score {score.id!r} reverses {item!r}, which has no lowest and highest answer")
        if score.bands and all(b.minimum is not None or b.maximum is not None for b in score.bands):
            error(score.line, f"score {score.id!r}: no band catches every value; add a last band without min/max",
                  "warning")


def _check_placeholders(flow: Flow, error: _Report) -> None:
    for step in flow.steps:
        for lang, text in step.text.by_lang.items():
            for name in _PLACEHOLDER.findall(text):
                kind, _, ref = name.partition(".")
                score = flow.score(ref)
                if kind not in ("score", "band") or score is None:
                    error(step, f"text of step {step.id!r} in {lang!r} has {{{name}}}, which is not "
                                "{score.ID} or {band.ID} of a defined score")
                elif step.type is not StepType.MESSAGE:
                    error(step, f"{{{name}}} can only be shown in a message step, not in {step.type} {step.id!r}")
                elif kind == "band" and not score.bands:
                    error(step, f"text of step {step.id!r} shows {{band.{ref}}} but score {ref!r} has no bands")


def _check_choices(flow: Flow, error: _Report) -> None:
    for step in flow.steps:
        if step.type is not StepType.CHOICE:
            continue
        for lang in flow.languages:
            for form in (fold, loose):
                keys = [form(c.label.get(lang)) for c in step.choices]
                doubles = {k for k in keys if keys.count(k) > 1}
                if doubles:
                    error(step, f"answers of step {step.id!r} in {lang!r} cannot be told apart when typed: "
                                f"{sorted(doubles)}")
                    break


def _successors(flow: Flow, index: int) -> list[str]:
    step = flow.steps[index]
    following = flow.steps[index + 1].id if index + 1 < len(flow.steps) else END
    targets = [b.target for b in step.next]
    if not step.next or step.next[-1].condition is not None:
        targets.append(following)
    return targets


def _check_reachability(flow: Flow, error: _Report) -> None:
    if not flow.steps:
        return
    seen: set[str] = set()
    todo = [flow.steps[0].id]
    while todo:
        current = todo.pop()
        if current in seen or current == END or flow.step(current) is None:
            continue
        seen.add(current)
        todo.extend(_successors(flow, flow.position(current)))
    for step in flow.steps:
        if step.id not in seen:
            error(step, f"step {step.id!r} can never be reached from the first step")
    _check_message_loops(flow, error)


def _check_message_loops(flow: Flow, error: _Report) -> None:
    """A loop made only of message steps would send messages forever without waiting for an answer."""
    messages = {s.id for s in flow.steps if s.type is StepType.MESSAGE}
    reported: set[str] = set()
    for start in messages:
        path: list[str] = []
        current = start
        while current in messages and current not in path:
            path.append(current)
            nxt = [t for t in _successors(flow, flow.position(current)) if t in messages]
            current = nxt[0] if len(nxt) == 1 else ""
        if current in path and current not in reported:
            reported.update(path)
            step = flow.step(current)
            assert step is not None
            error(step, f"steps {' -> '.join([*path[path.index(current):], current])} loop without any question")


def _id_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("id:"):
            return number
    return 1


def flow_paths(paths: Sequence[Path]) -> list[Path]:
    """The flow files named by `paths`: files as given, folders searched for *.yaml / *.yml."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            found.append(path)
    return found


def check_files(paths: Iterable[Path]) -> CheckReport:
    """Load and check every file; a flow id used by two files is an error in the second."""
    flows: list[Flow] = []
    problems: list[Problem] = []
    first_file: dict[str, str] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, f"cannot read the file: {exc}"))
            continue
        flow, found = read_flow_text(text, str(path))
        problems.extend(found)
        if flow is None:
            continue
        flow_problems = [*found, *check_flow(flow)]
        problems.extend(flow_problems[len(found):])
        if flow.id in first_file:
            problems.append(Problem(str(path), _id_line(text),
                                    f"flow id {flow.id!r} is already used by {first_file[flow.id]}"))
            continue
        first_file[flow.id] = str(path)
        if not any(p.severity == "error" for p in flow_problems):
            flows.append(flow)
    return CheckReport(tuple(flows), tuple(problems))
