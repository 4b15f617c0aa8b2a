"""The engine's contract: pure, deterministic, JSON state, a step cap, and branching on answers and scores."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from flows import phrases
from flows.effects import CancelTimer, Heard, RunChange, RunEvent, ScheduleTimer
from flows.engine import MAX_TRANSITIONS, advance
from flows.inputs import Resume, SetLanguage, StartFlow, Text, TimerFired
from flows.model import Branch, Flow, FlowLibrary, LocalText, Step, StepType
from flows.state import State
from tests.flows.helpers import T0, Driver, flow_from, literal_texts, msgids, shipped_library

LIB = shipped_library()
FLOWS_DIR = Path(__file__).resolve().parents[2] / "flows"

BRANCHING = """\
id: branchy
version: 1
languages: [da, en]
title: {da: Gren, en: Branch}
steps:
  - id: worried
    type: yesno
    text: {da: "Bekymrer du dig?", en: "Do you worry?"}
    next:
      - if: "worried == 1"
        goto: how_much
      - goto: rested
  - id: how_much
    type: scale
    min: 0
    max: 10
    text: {da: "Hvor meget?", en: "How much?"}
  - id: rested
    type: number
    min: 0
    max: 24
    decimals: 1
    unit: {da: timer, en: hours}
    text: {da: "Hvor mange timer sov du?", en: "How many hours did you sleep?"}
    next:
      - if: "score.load >= 8 or rested < 5"
        goto: high
      - goto: low
  - id: high
    type: message
    text: {da: "Høj belastning: {score.load}", en: "High load: {score.load}"}
    next: end
  - id: low
    type: message
    text: {da: "Lav belastning", en: "Low load"}
scores:
  - id: load
    items: [how_much]
"""


def test_engine_modules_do_no_io_and_read_no_clock() -> None:
    forbidden_calls = {"open", "print", "input", "now", "utcnow", "today", "time", "monotonic", "perf_counter",
                       "random", "getenv", "sleep", "urandom", "uuid4"}
    for path in sorted(FLOWS_DIR.glob("*.py")):
        if path.name in ("loader.py", "checker.py", "yamlsource.py", "programme_loader.py", "risk_loader.py"):
            continue  # the readers of files, for the checker and at start; the engine never calls them
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {c.func.attr if isinstance(c.func, ast.Attribute) else getattr(c.func, "id", "")
                 for c in ast.walk(tree) if isinstance(c, ast.Call)}
        imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
                   for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
        assert not calls & forbidden_calls, (path.name, calls & forbidden_calls)
        assert not imports & {"os", "time", "random", "socket", "sqlite3", "asyncio", "logging", "yaml"}, path.name


def test_same_inputs_same_outcome() -> None:
    def run() -> list[object]:
        d = Driver(LIB)
        d.start("who5")
        for text in ["3", "hmm", "TILBAGE", "4", "SPROG", "2", "2", "1"]:
            d.say(text)
        return [*d.effects, d.state]
    assert run() == run()


def test_state_round_trips_through_json_mid_run() -> None:
    d = Driver(LIB)
    d.start("pss10")
    d.say("2")
    d.say("fem")
    d.say("PAUSE")
    assert State.from_json(d.state.to_json()) == d.state
    assert d.state.run is not None and d.state.run.paused and d.state.run.invalid_streak == 0


def test_branching_on_answers_and_scores() -> None:
    lib = FlowLibrary.of(flow_from(BRANCHING))
    d = Driver(lib)
    d.start("branchy")
    assert literal_texts(d.say("ja"))[0] == "(2/3) Hvor meget?"
    assert literal_texts(d.say("9"))[0] == "(3/3) Hvor mange timer sov du?"
    out = d.say("7,5")
    assert literal_texts(out) == ["Høj belastning: {score.load}"]
    assert out.messages[0].parts[0].params == {"score.load": 9.0, "band.load": ""}  # type: ignore[union-attr]

    d = Driver(lib)
    d.start("branchy")
    assert literal_texts(d.say("nej"))[0] == "(3/3) Hvor mange timer sov du?"
    assert literal_texts(d.say("4,5")) == ["Høj belastning: {score.load}"]  # rested < 5
    assert d.scores() == {}  # the skipped item leaves the score incomplete: no partial score

    d = Driver(lib)
    d.start("branchy")
    d.say("nej")
    assert literal_texts(d.say("8")) == ["Lav belastning"]
    assert [a.value for a in d.answers()] == [0, 8]


def test_too_many_decimals_says_how_many() -> None:
    d = Driver(FlowLibrary.of(flow_from(BRANCHING)))
    d.start("branchy")
    d.say("nej")
    assert msgids(d.say("7,25")) == [phrases.NOT_UNDERSTOOD, phrases.ALLOWED_DECIMALS]


def test_step_cap_stops_a_runaway_flow() -> None:
    # The checker refuses message loops; a flow built in code bypasses it, and the engine must still stop.
    text = LocalText({"da": "igen", "en": "again"})
    loop = Flow("loop", 1, ("da", "en"), text, (
        Step("a", StepType.MESSAGE, text, next=(Branch("b"),)),
        Step("b", StepType.MESSAGE, text, next=(Branch("a"),)),
    ))
    out = advance(FlowLibrary.of(loop), State(), StartFlow("loop"), T0)
    assert len(out.messages) == MAX_TRANSITIONS + 1
    assert msgids(out)[-1] == phrases.FLOW_BROKEN
    assert out.state.run is None
    assert RunEvent(RunChange.FAILED, 1, "loop", 1) in out.effects


def test_expiry_timer_is_scheduled_and_fires_silently() -> None:
    d = Driver(LIB)
    started = d.start("pss10")
    timer = next(e for e in started.effects if isinstance(e, ScheduleTimer))
    assert timer == ScheduleTimer("expire:1", T0 + timedelta(days=7))
    d.now = timer.at
    fired = d.feed(TimerFired("expire:1"))
    assert fired.messages == [] and d.state.run is None
    assert RunEvent(RunChange.EXPIRED, 1, "pss10", 2) in fired.effects and CancelTimer("expire:1") in fired.effects
    assert msgids(d.say("2")) == [phrases.EXPIRED]  # told once, when they next write
    assert msgids(d.say("2")) == [phrases.NO_RUN]


def test_a_stale_timer_does_nothing() -> None:
    d = Driver(LIB)
    d.start("pss10")
    before = d.state
    assert d.feed(TimerFired("expire:99")).effects == () and d.state == before


def test_starting_a_flow_over_another_abandons_it() -> None:
    d = Driver(LIB)
    d.start("pss10")
    out = d.start("who5")
    assert RunEvent(RunChange.ABANDONED, 1, "pss10", 2) in out.effects
    assert d.state.run is not None and (d.state.run.seq, d.state.run.flow_id) == (2, "who5")


def test_unknown_flow_and_resume_without_run_are_answered() -> None:
    assert msgids(advance(LIB, State(), StartFlow("nope"), T0)) == [phrases.UNKNOWN_FLOW]
    assert msgids(advance(LIB, State(), Resume(), T0)) == [phrases.HELP_NO_RUN]


def test_set_language_is_quiet() -> None:
    out = advance(LIB, State(), SetLanguage("en"), T0)
    assert out.state.lang == "en" and out.messages == []


def test_a_run_whose_flow_disappeared_ends_kindly() -> None:
    d = Driver(LIB)
    d.start("pss10")
    d.library = FlowLibrary({})
    assert msgids(d.say("2")) == [phrases.FLOW_BROKEN] and d.state.run is None


def test_choice_prompt_carries_buttons_and_identity() -> None:
    out = Driver(LIB).start("pss10")
    prompt = out.messages[-1].prompt
    assert prompt is not None
    assert (prompt.flow_id, prompt.run_seq, prompt.step_id) == ("pss10", 1, "q1")
    assert [c.answer for c in prompt.choices] == ["0", "1", "2", "3", "4"]
    assert Text  # inputs are plain values


def test_consent_comes_before_anything_is_asked() -> None:
    from flows.effects import ConsentGiven
    from flows.inputs import RequireConsent
    from flows.model import ConsentTerms

    terms = ConsentTerms("v1", LocalText({"da": "Vilkår.", "en": "Terms."}))
    d = Driver(FlowLibrary(LIB.flows, LIB.risk_terms, terms))
    d.feed(RequireConsent())
    out = d.start("pss10")
    assert literal_texts(out) == ["Vilkår."] and msgids(out) == [phrases.CONSENT_QUESTION]
    assert msgids(d.say("2")) == [phrases.CONSENT_QUESTION]  # not taken as an answer to anything
    assert msgids(d.say("nej")) == [phrases.CONSENT_DECLINED]
    assert d.state.run is None
    out = d.say("ja")
    assert ConsentGiven("v1") in out.effects and msgids(out)[0] == phrases.CONSENT_THANKS
    assert d.state.run is not None and d.state.run.flow_id == "pss10"  # the flow waiting for consent starts
    d.feed(RequireConsent())  # the same version again: nothing to ask
    assert d.state.consent_needed is None


def test_crying_emoji_outside_a_questionnaire_go_to_the_coach_and_a_thumbs_up_does_not() -> None:
    crying = advance(LIB, State(), Text("😭😭😭"), T0)
    heard = [e for e in crying.effects if isinstance(e, Heard)]
    assert heard and heard[0].for_coach  # it said only "no questionnaire open right now"
    thumbs = advance(LIB, State(), Text("👍"), T0)
    assert not any(isinstance(e, Heard) and e.for_coach for e in thumbs.effects)

