"""Conversation state: a small immutable value that round-trips through JSON between inputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

STATE_FORMAT = 1


@dataclass(frozen=True)
class Answer:
    value: int | float | str
    raw: str


@dataclass(frozen=True)
class Run:
    """One pass through one version of one flow."""

    seq: int  # per participant: the n-th run they started
    flow_id: str
    flow_version: int
    step_id: str  # the question waiting for an answer
    started_at: datetime
    answers: Mapping[str, Answer] = field(default_factory=dict)
    trail: tuple[str, ...] = ()  # questions answered, in order: what BACK walks back through
    invalid_streak: int = 0
    paused: bool = False

    def answered(self, step_id: str, answer: Answer) -> Run:
        return replace(self, answers={**self.answers, step_id: answer}, trail=(*self.trail, step_id),
                       invalid_streak=0)

    @property
    def timer_key(self) -> str:
        return f"expire:{self.seq}"


@dataclass(frozen=True)
class State:
    lang: str = "da"
    run: Run | None = None
    runs_started: int = 0

    def to_json(self) -> dict[str, Any]:
        run = self.run
        return {
            "format": STATE_FORMAT,
            "lang": self.lang,
            "runs_started": self.runs_started,
            "run": None if run is None else {
                "seq": run.seq,
                "flow_id": run.flow_id,
                "flow_version": run.flow_version,
                "step_id": run.step_id,
                "started_at": run.started_at.isoformat(),
                "answers": {k: [a.value, a.raw] for k, a in run.answers.items()},
                "trail": list(run.trail),
                "invalid_streak": run.invalid_streak,
                "paused": run.paused,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> State:
        raw = data.get("run")
        run = None
        if raw is not None:
            run = Run(
                seq=int(raw["seq"]),
                flow_id=str(raw["flow_id"]),
                flow_version=int(raw["flow_version"]),
                step_id=str(raw["step_id"]),
                started_at=datetime.fromisoformat(raw["started_at"]),
                answers={k: Answer(v[0], str(v[1])) for k, v in raw["answers"].items()},
                trail=tuple(raw["trail"]),
                invalid_streak=int(raw["invalid_streak"]),
                paused=bool(raw["paused"]),
            )
        return cls(lang=str(data.get("lang", "da")), run=run, runs_started=int(data.get("runs_started", 0)))
