"""Shared helpers for engine tests: the shipped flows and a pure, storage-free conversation driver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flows.checker import check_files, flow_paths
from flows.effects import Effect, Literal, RecordAnswer, RecordScore, Send
from flows.engine import Outcome, advance
from flows.inputs import Input, StartFlow, Text
from flows.loader import load_flow_text
from flows.model import ConsentTerms, Flow, FlowLibrary, LocalText
from flows.programme_loader import load_programme
from flows.risk_loader import load_risk_terms
from flows.state import State

FLOWS_DIR = Path(__file__).resolve().parents[2] / "flows"
DEFINITIONS = FLOWS_DIR / "definitions"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def shipped_library() -> FlowLibrary:
    report = check_files(flow_paths([DEFINITIONS]))
    assert report.ok, [str(p) for p in report.errors]
    return FlowLibrary.of(*report.flows)


def flow_from(text: str, path: str = "test.yaml") -> Flow:
    flow, problems = load_flow_text(text, path)
    assert flow is not None, [str(p) for p in problems]
    return flow


class Driver:
    """Feeds inputs to the pure engine, round-tripping the state through JSON between inputs like the loop does."""

    def __init__(self, library: FlowLibrary, lang: str = "da", now: datetime = T0) -> None:
        self.library = library
        self.state = State(lang=lang)
        self.now = now
        self.effects: list[Effect] = []

    def feed(self, inp: Input) -> Outcome:
        outcome = advance(self.library, State.from_json(self.state.to_json()), inp, self.now)
        self.state = outcome.state
        self.effects.extend(outcome.effects)
        self.now += timedelta(seconds=20)
        return outcome

    def start(self, flow_id: str) -> Outcome:
        return self.feed(StartFlow(flow_id))

    def say(self, text: str) -> Outcome:
        return self.feed(Text(text))

    def answers(self) -> list[RecordAnswer]:
        return [e for e in self.effects if isinstance(e, RecordAnswer)]

    def scores(self) -> dict[str, RecordScore]:
        return {e.score_id: e for e in self.effects if isinstance(e, RecordScore)}


def literal_texts(outcome: Outcome) -> list[str]:
    return [p.text for m in outcome.effects if isinstance(m, Send) for p in m.parts if isinstance(p, Literal)]


def msgids(outcome: Outcome) -> list[str]:
    return [getattr(p, "msgid", "") for m in outcome.messages for p in m.parts if hasattr(p, "msgid")]


def full_library(consent: bool = False) -> FlowLibrary:
    """The shipped flows with the shipped word list (and its model) and programme, as the bot runs them; `consent`:
    with terms to accept."""
    terms, problems = load_risk_terms(FLOWS_DIR / "risk_terms.yaml")
    assert terms is not None, [str(p) for p in problems]
    programme, problems = load_programme(FLOWS_DIR / "programmes" / "stress_programme.yaml")
    assert programme is not None, [str(p) for p in problems]
    library = shipped_library()
    conditions = ConsentTerms("v1", LocalText({"da": "Vilkår", "en": "Terms"})) if consent else None
    return FlowLibrary(library.flows, terms, conditions, programme)
