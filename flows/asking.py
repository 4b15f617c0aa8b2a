"""What the person is being asked: named here once, for the engine's prompts and for the channels' buttons."""

from __future__ import annotations

PROGRAMME_PROMPT = "programme"  # the prompt id of buttons that carry a programme keyword (any time valid)
