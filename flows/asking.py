"""What the person is being asked now: one pure function of the state, for the engine and for the channels.

The engine takes a message as the answer to the terms first, then to the offer of the safety check, then to the
run's question (a paused one too: an answer to it takes the person back). `asking(state)` says which, as a
`QuestionKey`; every prompt the engine sends is made from the same key (`prompt`), so a channel that puts the key in
its buttons (Telegram's callback data) can tell a press on the question being asked from a press on an old one by
comparing it with `asking(state)`, and needs no rules of its own. The programme's buttons (FÆRDIG 3, TRE) carry a
keyword that is valid whatever is being asked: their key is `PROGRAMME_BUTTONS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from flows.effects import Prompt, PromptChoice
from flows.state import Run, State

PROGRAMME_PROMPT = "programme"  # the prompt id of buttons that carry a programme keyword (any time valid)
TERMS_PROMPT = "consent"  # the flow id of the terms' prompt; its step id is the terms' version
OFFER_STEP = "offer"  # the step id of the safety check's offer


class Asked(StrEnum):
    TERMS = "terms"  # the programme's terms (step id: their version)
    SAFETY_OFFER = "safety_offer"  # "shall we go through a few questions about how you are?" (step id: "offer")
    QUESTION = "question"  # a question of the run (paused or not)
    PROGRAMME = "programme"  # the programme's buttons: a keyword, valid whatever else is asked


@dataclass(frozen=True)
class QuestionKey:
    """Which question a prompt belongs to: the run's sequence number (0 outside a run) and the step id."""

    run_seq: int
    step_id: str
    what: Asked = Asked.QUESTION


SAFETY_OFFER = QuestionKey(0, OFFER_STEP, Asked.SAFETY_OFFER)
PROGRAMME_BUTTONS = QuestionKey(0, PROGRAMME_PROMPT, Asked.PROGRAMME)


def terms_key(version: str) -> QuestionKey:
    return QuestionKey(0, version, Asked.TERMS)


def question_key(run: Run, step_id: str | None = None) -> QuestionKey:
    """The key of the run's question (`step_id`: one it is about to be on)."""
    return QuestionKey(run.seq, run.step_id if step_id is None else step_id)


def asking(state: State) -> QuestionKey | None:
    """What the next message will be taken as an answer to; None when nothing is being asked."""
    if state.consent_needed is not None:
        return terms_key(state.consent_needed)
    if state.offering_check:
        return SAFETY_OFFER
    if state.run is None:
        return None
    return question_key(state.run)


def short_name(key: QuestionKey) -> str:
    """A question's name short enough for a button's data (Telegram allows 64 bytes for name and answer together):
    "run_seq:step_id", a step id longer than 24 bytes (or with a colon) replaced by "#" and a 12-digit digest. A
    channel puts it in its buttons, and the loop compares a press with `short_name(asking(state))`."""
    step_id = key.step_id
    if len(step_id.encode()) > 24 or ":" in step_id:
        step_id = "#" + hashlib.sha256(step_id.encode()).hexdigest()[:12]
    return f"{key.run_seq}:{step_id}"


def prompt(key: QuestionKey, flow_id: str, flow_version: int, choices: Sequence[PromptChoice] = (),
           list_choices: bool = True) -> Prompt:
    """The prompt of a message that asks `key` (its buttons carry the key)."""
    return Prompt(flow_id, flow_version, key.run_seq, key.step_id, tuple(choices), list_choices)
