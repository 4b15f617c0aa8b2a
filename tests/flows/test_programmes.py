"""Several programmes (issue 15): seed 001's and seed 000's programme files beside seed 002's, with their real
structure; the phases and the entry criterion read with a line for every mistake; the programmes checked together;
and the library as one participant's step sees it, their own programme and nobody else's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from flows.arms import measurement_only
from flows.checker import check_files, flow_paths
from flows.effects import CoachTaskDue, DueHandled, Handling, Literal, Send
from flows.engine import advance
from flows.inputs import Due, Text
from flows.model import FlowLibrary
from flows.programme import Kind, Programme
from flows.programme_loader import check_programme, load_programme, read_programme_text
from flows.programme_set import programme_set
from flows.state import Progress, State
from flows.timing import initial_plan
from tests.flows.helpers import full_library

from .test_programme_file import ROOT

PROGRAMMES = ROOT / "flows" / "programmes"
FLOWS = {f.id: f for f in check_files(flow_paths([ROOT / "flows" / "definitions"])).flows}


def shipped(name: str) -> Programme:
    programme, problems = load_programme(PROGRAMMES / f"{name}.yaml")
    assert programme is not None and problems == [], [str(p) for p in problems]
    assert check_programme(programme, FLOWS) == []
    return programme


def test_seed_001s_programme_has_its_screening_group_course_coaching_and_closing_measurement() -> None:
    gentofte = shipped("arbejdsliv_uden_stress")
    assert (gentofte.id, gentofte.weeks, gentofte.default) == ("arbejdsliv_uden_stress", 12, False)
    assert [(p.id, p.day) for p in gentofte.phases] == [("screening_intro", 0), ("group_course", 1), ("coaching", 28)]
    assert [(w.id, w.day, w.flows) for w in gentofte.waves] == [("screening", 0, ("pss10", "work_status")),
                                                                ("end", 84, ("pss10", "work_status"))]
    entry = gentofte.entry_criterion
    assert entry is not None and (entry.wave, entry.flow, entry.score, entry.at_least) == (
        "screening", "pss10", "total", 17.0)
    assert gentofte.modules == () and gentofte.exercises is None and gentofte.evaluation is None
    assert "op til 15 deltagere to gange om ugen, tre timer" in gentofte.phase("group_course").text.get("da")  # type: ignore[union-attr]


def test_seed_000s_programme_teaches_tre_in_groups_then_self_help_with_who5_before_and_after() -> None:
    tre = shipped("tre_metoden")
    assert (tre.id, tre.weeks, tre.days) == ("tre_metoden", 26, 182)
    assert [(p.id, p.day) for p in tre.phases] == [("group_course", 0), ("self_help", 28)]
    assert [(w.id, w.day, w.flows) for w in tre.waves] == [("before", 0, ("who5", "work_status")),
                                                           ("after", 182, ("who5", "work_status"))]
    assert tre.exercises is not None and tre.tre_summary is not None and tre.entry_criterion is None
    assert tre.modules == () and tre.checkin is None
    assert "gruppe på 10: syv fysiske øvelser" in tre.phase("group_course").text.get("da")  # type: ignore[union-attr]


def test_the_three_shipped_programmes_make_one_set_with_seed_002s_as_the_default() -> None:
    found, problems = programme_set([shipped(n) for n in ("arbejdsliv_uden_stress", "stress_programme",
                                                          "tre_metoden")])
    assert problems == [] and sorted(found.by_id) == ["arbejdsliv_uden_stress", "stress_programme", "tre_metoden"]
    assert found.default is not None and found.default.id == "stress_programme"
    assert found.default.name("en") == "Early intervention for stress (8 online modules)"


def problems_of(old: str, new: str) -> list[str]:
    base = (PROGRAMMES / "arbejdsliv_uden_stress.yaml").read_text(encoding="utf-8")
    assert old in base, old
    programme, problems = read_programme_text(base.replace(old, new), "x.yaml")
    found = [f"{p.line}: {p.message}" for p in problems]
    if programme is not None:
        found += [f"{p.line}: {p.message}" for p in check_programme(programme, FLOWS)]
    return found


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    day: 28\n", "    day: 90\n", "phase 'coaching' begins on day 90, after the programme's last day"),
    ("  - id: coaching\n", "  - id: coaching\n    phase_x: 1\n", "unknown key 'phase_x' in phase 3"),
    ("  - id: coaching\n", "  - id: group_course\n", "phase id 'group_course' is used twice"),
    ("  at_least: 17 ", "  # at_least: 17 ", "entry_criterion has no 'at_least'"),
    ("  at_least: 17 ", "  at_least: many ", "at_least of entry_criterion must be a number"),
    ("  wave: screening\n", "  wave: intake\n", "entry_criterion names wave 'intake', which is not in waves"),
    ("  flow: pss10\n", "  flow: who5\n", "entry_criterion uses 'who5', which wave 'screening' does not ask"),
    ("  score: total\n", "  score: sum\n", "entry_criterion uses score 'sum', which flow 'pss10' does not define"),
    ("version: 1\n", "version: 1\ndefault: yes please\n", "default must be true or false"),
])
def test_mistakes_in_phases_and_the_entry_criterion_have_their_line(old: str, new: str, expected: str) -> None:
    found = problems_of(old, new)
    assert any(expected in p for p in found), found
    assert all(not p.startswith("0:") for p in found), found


def test_the_library_a_participant_sees_is_their_own_programme() -> None:
    gentofte, tre, default = shipped("arbejdsliv_uden_stress"), shipped("tre_metoden"), shipped("stress_programme")
    library = replace(full_library(), programme=default, programmes={p.id: p for p in (gentofte, tre, default)})
    assert library.for_programme("tre_metoden").programme is tre
    assert library.for_programme(None) is library  # nothing recorded: the default
    assert library.for_programme("removed_since").programme is None  # never another programme's
    assert library.for_programme("tre_metoden").programmes == library.programmes
    only = FlowLibrary.of(programme=tre)
    assert only.programmes == {"tre_metoden": tre}  # one programme: it is also the only choice


def test_a_phase_is_told_on_its_day_and_a_control_arms_view_has_none() -> None:
    gentofte = shipped("arbejdsliv_uden_stress")
    start = date(2026, 3, 16)
    plans = initial_plan(gentofte, start)
    assert [(p.key, p.kind) for p in plans] == [
        ("wave:screening:open", Kind.WAVE_OPEN), ("wave:end:open", Kind.WAVE_OPEN),
        ("phase:screening_intro", Kind.PHASE), ("phase:group_course", Kind.PHASE), ("phase:coaching", Kind.PHASE)]
    library = replace(full_library(), programme=gentofte)
    coaching = next(p for p in plans if p.key == "phase:coaching")
    outcome = advance(library, State(lang="en"), Due(coaching.key, coaching.kind, coaching.due_at, coaching.data),
                      coaching.due_at)
    [send] = [e for e in outcome.effects if isinstance(e, Send)]
    assert send.parts == (Literal(gentofte.phase("coaching").text.get("en")),)  # type: ignore[union-attr]
    assert [e.handling for e in outcome.effects if isinstance(e, DueHandled)] == [Handling.SENT]
    control = measurement_only(gentofte)
    assert control.phases == () and control.entry_criterion == gentofte.entry_criterion
    assert [p.kind for p in initial_plan(control, start)] == [Kind.WAVE_OPEN, Kind.WAVE_OPEN]


@pytest.mark.parametrize(("answers", "task"), [("0000000000", True), ("1000000000", False)])  # 16, then 17
def test_a_screening_score_below_the_entry_criterion_is_a_coach_task_and_nothing_more(answers: str,
                                                                                       task: bool) -> None:
    gentofte = shipped("arbejdsliv_uden_stress")
    library = replace(full_library(), programme=gentofte)
    now = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    opening = next(p for p in initial_plan(gentofte, date(2026, 3, 16)) if p.key == "wave:screening:open")
    outcome = advance(library, State(lang="da", progress=Progress()), Due(opening.key, opening.kind, now,
                                                                          opening.data), now)
    effects = list(outcome.effects)
    state = outcome.state
    for i, answer in enumerate(answers):
        step = advance(library, state, Text(answer), now + timedelta(minutes=i + 1))
        state, effects = step.state, effects + list(step.effects)
    tasks = [e for e in effects if isinstance(e, CoachTaskDue)]
    expected = [CoachTaskDue("entry_criterion_not_met", {"wave": "screening", "score": "pss10.total", "now": 16.0,
                                                         "at_least": 17.0})]
    assert tasks == (expected if task else [])
    said = " ".join(part.text for e in effects if isinstance(e, Send) for part in e.parts
                    if isinstance(part, Literal))
    assert "Din score er {score.total} ud af 40." in said  # the questionnaire's own closing, as for everyone
    assert "kriteri" not in said and "adgang" not in said  # and nothing about the criterion
    assert state.run is not None and state.run.flow_id == "work_status"  # the screening goes on either way
