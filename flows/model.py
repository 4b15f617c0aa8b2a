"""The flow model: immutable values built by the loader from an administrator's YAML file.

Nothing here knows about channels, storage or time; the engine reads these values and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum

from flows.conditions import Condition
from flows.localtext import LocalText as LocalText  # where it was first defined: many modules import it from here
from flows.programme import Programme
from flows.risk import RiskRule, RiskTerms

END = "end"  # the reserved `goto` target that finishes a flow


class StepType(StrEnum):
    MESSAGE = "message"
    CHOICE = "choice"
    SCALE = "scale"
    NUMBER = "number"
    YESNO = "yesno"
    TEXT = "text"


QUESTION_TYPES = frozenset(t for t in StepType if t is not StepType.MESSAGE)
SCORABLE_TYPES = frozenset({StepType.CHOICE, StepType.SCALE, StepType.NUMBER, StepType.YESNO})


@dataclass(frozen=True)
class Choice:
    value: int
    label: LocalText


@dataclass(frozen=True)
class Branch:
    """One entry of a step's `next:` list: go to `target` when `condition` holds (or always)."""

    target: str
    condition: Condition | None = None


@dataclass(frozen=True)
class Step:
    id: str
    type: StepType
    text: LocalText
    line: int = 0
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_label: LocalText | None = None
    max_label: LocalText | None = None
    unit: LocalText | None = None
    decimals: int = 0
    max_length: int = 500
    next: tuple[Branch, ...] = ()

    @property
    def is_question(self) -> bool:
        return self.type in QUESTION_TYPES

    def value_range(self) -> tuple[float, float] | None:
        """The lowest and highest answer value, used to reverse-score an item."""
        if self.type is StepType.CHOICE and self.choices:
            values = [c.value for c in self.choices]
            return float(min(values)), float(max(values))
        if self.type is StepType.YESNO:
            return 0.0, 1.0
        if self.minimum is not None and self.maximum is not None:
            return self.minimum, self.maximum
        return None


@dataclass(frozen=True)
class Band:
    id: str
    label: LocalText
    minimum: float | None = None
    maximum: float | None = None

    def contains(self, value: float) -> bool:
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)


@dataclass(frozen=True)
class Score:
    id: str
    items: tuple[str, ...]
    reverse: frozenset[str] = frozenset()
    multiplier: float = 1.0
    bands: tuple[Band, ...] = ()
    line: int = 0
    minus: tuple[str, ...] = ()  # items subtracted, for a change such as tension after minus before
    better: str | None = None  # "lower" (PSS-10) or "higher" (WHO-5): which way is improvement; None: neither

    def improved(self, before: float, after: float) -> bool | None:
        """True when `after` is better than `before`, False when worse, None when equal or the score has no
        direction: a coach reads "better" or "worse", whichever way the instrument counts."""
        if self.better is None or after == before:
            return None
        return (after < before) if self.better == "lower" else (after > before)

    @property
    def all_items(self) -> tuple[str, ...]:
        return (*self.items, *self.minus)

    def band_for(self, value: float) -> Band | None:
        return next((b for b in self.bands if b.contains(value)), None)


@dataclass(frozen=True)
class TaskRule:
    """In a flow file: when `condition` holds after an answer, a coach task of `kind` is raised (once a run)."""

    condition: Condition
    kind: str
    line: int = 0


@dataclass(frozen=True)
class Flow:
    id: str
    version: int
    languages: tuple[str, ...]
    title: LocalText
    steps: tuple[Step, ...]
    scores: tuple[Score, ...] = ()
    expires_after: timedelta | None = None
    needs_signoff: tuple[str, ...] = ()
    source_path: str = ""
    risk_rules: tuple[RiskRule, ...] = ()
    task_rules: tuple[TaskRule, ...] = ()
    unreadable_steps: frozenset[str] = frozenset()  # steps with errors of their own (for the checker only)
    _index: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    _numbers: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)  # question id -> 1, 2, ...

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {s.id: i for i, s in enumerate(self.steps)})
        questions = [s for s in self.steps if s.is_question]
        object.__setattr__(self, "_numbers", {s.id: n for n, s in enumerate(questions, start=1)})

    def step(self, step_id: str) -> Step | None:
        i = self._index.get(step_id)
        return None if i is None else self.steps[i]

    def position(self, step_id: str) -> int:
        return self._index[step_id]

    def score(self, score_id: str) -> Score | None:
        return next((s for s in self.scores if s.id == score_id), None)

    @property
    def questions(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.is_question)

    def question_number(self, step_id: str) -> tuple[int, int]:
        """(n, of): the question's place among the flow's questions, as "(3/10)" shows it; (0, of) for a step that is
        no question. Worked out once per flow: every question asked needs it."""
        return self._numbers.get(step_id, 0), len(self._numbers)

    @property
    def key(self) -> tuple[str, int]:
        return self.id, self.version


@dataclass(frozen=True)
class ConsentTerms:
    """The programme's terms, from the deployment's configuration: asked before anything else is asked."""

    version: str
    text: LocalText


@dataclass(frozen=True)
class FlowLibrary:
    """Every flow version the engine may need: the files on disk plus versions that runs started on.

    `programmes` are the deployment's programmes by id (issue 15: several in one deployment). `programme` is the one
    the engine follows: in the running app's library the default (the one an enrolment naming none gets; None when
    there are several and none is the default), and in the view one participant's step sees (`for_programme`) theirs.
    """

    flows: Mapping[tuple[str, int], Flow]
    risk_terms: RiskTerms = field(default_factory=RiskTerms)
    consent: ConsentTerms | None = None
    programme: Programme | None = None
    programmes: Mapping[str, Programme] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.programme is not None and not self.programmes:  # one programme: it is also the only choice
            object.__setattr__(self, "programmes", {self.programme.id: self.programme})

    @classmethod
    def of(cls, *flows: Flow, risk_terms: RiskTerms | None = None, consent: ConsentTerms | None = None,
           programme: Programme | None = None, programmes: Mapping[str, Programme] | None = None) -> FlowLibrary:
        return cls({f.key: f for f in flows}, risk_terms or RiskTerms(), consent, programme, dict(programmes or {}))

    def programme_for(self, programme_id: str | None) -> Programme | None:
        """The programme a participant follows: the one recorded at their enrolment, or with none recorded (enrolled
        before programmes were, or never enrolled) the default. An id no longer loaded (a file removed, or with
        errors) gives None, so they get no programme's messages rather than another programme's."""
        return self.programme if programme_id is None else self.programmes.get(programme_id)

    def for_programme(self, programme_id: str | None) -> FlowLibrary:
        """This library as one participant's step sees it: `programme` is theirs (`programme_for`)."""
        chosen = self.programme_for(programme_id)
        return self if chosen is self.programme else replace(self, programme=chosen)

    def get(self, flow_id: str, version: int) -> Flow | None:
        return self.flows.get((flow_id, version))

    def latest(self, flow_id: str) -> Flow | None:
        versions = [f for (fid, _), f in self.flows.items() if fid == flow_id]
        return max(versions, key=lambda f: f.version, default=None)

    def with_flow(self, flow: Flow) -> FlowLibrary:
        return replace(self, flows={**self.flows, flow.key: flow})

    def ids(self) -> list[str]:
        return sorted({fid for fid, _ in self.flows})
