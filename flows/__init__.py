"""Flows: the model, loader and checker for administrators' flow files, and the pure engine that runs them."""

from flows.engine import Outcome, advance
from flows.inputs import Input, Resume, SetLanguage, StartFlow, Text, TimerFired
from flows.model import Flow, FlowLibrary
from flows.state import State

__all__ = [
    "Flow", "FlowLibrary", "Input", "Outcome", "Resume", "SetLanguage", "StartFlow", "State", "Text", "TimerFired",
    "advance",
]
