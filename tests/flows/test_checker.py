"""The checker reports every problem in a broken flow file at once, each with its file and line."""

from __future__ import annotations

from pathlib import Path

from flows.checker import check_files
from tests.flows.helpers import DEFINITIONS

GOOD = """\
id: mini
version: 1
languages: [da, en]
title: {da: Mini, en: Mini}
steps:
  - id: q1
    type: yesno
    text: {da: "Ja?", en: "Yes?"}
"""

BROKEN = """\
id: broken
version: one
languages: [da, en]
title: {da: Brudt}
colour: red
choice_sets:
  freq:
    - {value: 0, label: {da: Aldrig, en: Never}}
    - {value: 0, label: {da: Altid, en: Always}}
steps:
  - id: q1
    type: choise
    text: {da: Hej, en: Hi}
  - id: q2
    type: choice
    choices: frequency
    text: {da: Hvor ofte, en: How often}
  - id: q3
    type: scale
    min: 10
    max: 0
    text: {da: Skala, en: No}
    next:
      - if: "q9 >= 1"
        goto: nowhere
      - goto: end
  - id: orphan
    type: message
    text: {da: Ingen kommer her, en: Nobody comes here}
  - id: q2
    type: text
    text: {da: Igen, en: Again}
scores:
  - id: total
    items: [q3, q7]
    reverse: [q5]
"""


def _check(tmp_path: Path, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    report = check_files(sorted(tmp_path.glob("*.yaml")))
    return [str(p) for p in report.problems]


def test_shipped_flows_are_clean() -> None:
    report = check_files(sorted(DEFINITIONS.glob("*.yaml")))
    assert report.ok, [str(p) for p in report.errors]
    assert {f.id for f in report.flows} >= {"pss10", "who5", "life_satisfaction"}


def test_every_problem_at_once_with_line(tmp_path: Path) -> None:
    problems = _check(tmp_path, broken=BROKEN)
    path = str(tmp_path / "broken.yaml")
    expected = [
        (2, "version must be a whole number"),
        (4, "has no text in 'en'"),
        (5, "unknown key 'colour'"),
        (8, "uses the same value twice"),
        (12, "unknown type 'choise'"),
        (16, "choice set 'frequency', which does not exist"),
        (20, "min 10 which is not below max 0"),
        (22, "in 'en' must be a text, not false (a yes/no value: put the text in quotes)"),
    ]
    for line, fragment in expected:
        assert any(p.startswith(f"{path}:{line}:") and fragment in p for p in problems), (line, fragment, problems)


def test_structure_problems_are_reported_together(tmp_path: Path) -> None:
    text = BROKEN.replace("version: one", "version: 1").replace("title: {da: Brudt}", "title: {da: Brudt, en: X}")
    for old, new in [("colour: red\n", ""), ("en: No}", "en: Scale}"), ("min: 10", "min: 0"),
                     ("type: choise", "type: yesno"), ("choices: frequency", "choices: freq"),
                     ("{value: 0, label: {da: Altid", "{value: 1, label: {da: Altid")]:
        text = text.replace(old, new)
    problems = "\n".join(_check(tmp_path, broken=text))
    for fragment in ["goes to 'nowhere', which is not a step", "branches on 'q9', which is not a step",
                     "step 'orphan' can never be reached", "step id 'q2' is used by two steps",
                     "score 'total' names 'q7', which is not a step", "reverses 'q5', which is not in its items"]:
        assert fragment in problems


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    problems = _check(tmp_path, bad="id: x\nsteps: [\n  - id: q1\n")
    assert (len(problems) == 1 and "not valid YAML" in problems[0] and ":3:" in problems[0]) or ":4:" in problems[0]


def test_duplicate_flow_ids_across_files(tmp_path: Path) -> None:
    problems = _check(tmp_path, a=GOOD, b=GOOD)
    assert problems == [f"{tmp_path / 'b.yaml'}:1: error: flow id 'mini' is already used by {tmp_path / 'a.yaml'}"]


def test_bare_yes_is_a_boolean_and_the_checker_says_so(tmp_path: Path) -> None:
    text = GOOD.replace('en: "Yes?"', "en: yes")
    problems = _check(tmp_path, yes=text)
    assert any(":8:" in p and "put the text in quotes" in p for p in problems), problems


def test_message_loop_without_a_question(tmp_path: Path) -> None:
    text = GOOD + """\
  - id: a
    type: message
    text: {da: A, en: A}
    next: b
  - id: b
    type: message
    text: {da: B, en: B}
    next: a
"""
    problems = _check(tmp_path, loop=text)
    assert any("loop without any question" in p for p in problems), problems


def test_unknown_placeholder(tmp_path: Path) -> None:
    text = GOOD + """\
  - id: bye
    type: message
    text: {da: "Score {score.total}", en: "Score {score.total}"}
"""
    problems = _check(tmp_path, ph=text)
    assert any(":9:" in p and "{score.total}" in p for p in problems), problems


def test_ambiguous_labels(tmp_path: Path) -> None:
    text = GOOD.replace("type: yesno", "type: choice\n    choices:\n      - {value: 1, label: {da: Ofte, en: Often}}"
                        "\n      - {value: 2, label: {da: OFTE, en: Very often}}")
    problems = _check(tmp_path, amb=text)
    assert any("cannot be told apart" in p for p in problems), problems


def test_a_broken_step_is_reported_once_not_again_by_every_reference(tmp_path: Path) -> None:
    text = GOOD.replace("type: yesno", "type: choise") + """\
  - id: q2
    type: yesno
    text: {da: "Og?", en: "And?"}
    next:
      - if: "q1 == 1"
        goto: q1
scores:
  - id: total
    items: [q1, q2]
"""
    problems = _check(tmp_path, broken=text)
    assert len(problems) == 1 and "unknown type 'choise'" in problems[0], problems
