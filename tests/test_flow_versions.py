"""A run that started on version 1 finishes on version 1 after an administrator edits the file.

(Going back onto another branch of a flow is a transcript: tests/transcripts/branched_back_onto_another_branch.txt.)
"""

from __future__ import annotations

from pathlib import Path

from bot.app import open_app
from bot.clock import FakeClock
from tests.transcript import Chat, play

V1 = """\
id: checkin
version: 1
languages: [da, en]
title: {da: Tjek ind, en: Check-in}
steps:
  - id: sleep
    type: scale
    min: 0
    max: 10
    text: {da: "Hvor godt sov du i nat?", en: "How well did you sleep last night?"}
  - id: energy
    type: scale
    min: 0
    max: 10
    text: {da: "Hvor meget energi har du i dag?", en: "How much energy do you have today?"}
scores:
  - id: total
    items: [sleep, energy]
"""

V2 = V1.replace("version: 1", "version: 2").replace("Hvor godt sov du i nat?", "Hvordan har du sovet den sidste uge?")
V2 = V2.replace("scores:", """\
  - id: mood
    type: yesno
    text: {da: "Er dit humør godt i dag?", en: "Is your mood good today?"}
scores:""")


async def test_half_done_run_finishes_on_its_version(tmp_path: Path, clock: FakeClock) -> None:
    flows, db = tmp_path / "flows", str(tmp_path / "bot.db")
    flows.mkdir()
    (flows / "checkin.yaml").write_text(V1, encoding="utf-8")
    async with open_app(db, clock, flows) as app:
        chat = await Chat.open(app, "fie")
        await play(chat, """
            > (start checkin)
            < (1/2) Hvor godt sov du i nat?
            > 6
            < (2/2) Hvor meget energi har du i dag?
        """)

    (flows / "checkin.yaml").write_text(V2, encoding="utf-8")  # the administrator edits the file
    async with open_app(db, clock, flows) as app:  # a new process
        assert [p.message for p in app.registry.problems if p.severity == "error"] == []
        chat = await Chat.open(app, "fie")
        await play(chat, """
            > 4
            < Tak for dine svar. Du er færdig med spørgeskemaet.
            > (start checkin)
            < (1/3) Hvordan har du sovet den sidste uge?
        """)
        scores = await app.storage.export_scores()
        assert [(s["flow_version"], s["value"]) for s in scores] == [(1, 10)]


async def test_a_file_changed_without_a_new_version_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    flows, db = tmp_path / "flows", str(tmp_path / "bot.db")
    flows.mkdir()
    (flows / "checkin.yaml").write_text(V1, encoding="utf-8")
    async with open_app(db, clock, flows):
        pass
    (flows / "checkin.yaml").write_text(V1.replace("Hvor godt sov du i nat?", "Sov du godt?"), encoding="utf-8")
    async with open_app(db, clock, flows) as app:
        errors = [p for p in app.registry.problems if p.severity == "error"]
        assert [(p.line, p.message) for p in errors] == [(2, (
            "flow 'checkin' was changed after participants ran version 1, without a new version, so they still get "
            "the stored version 1. To send the new text: raise `version:` to 2 in this file, run `stressbot flows "
            "check --record` and restart the bot; or undo the edit"))]
        chat = await Chat.open(app, "gus")
        await play(chat, """
            > (start checkin)
            < (1/2) Hvor godt sov du i nat?
        """)
