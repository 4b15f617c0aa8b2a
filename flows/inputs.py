"""What can happen to a conversation: the person writes, a flow is started, the person returns, a timer fires."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class StartFlow:
    flow_id: str


@dataclass(frozen=True)
class Resume:
    """The person opened the conversation again (e.g. a new console session): pick up where they left off."""


@dataclass(frozen=True)
class TimerFired:
    key: str


Input = Text | StartFlow | Resume | TimerFired
