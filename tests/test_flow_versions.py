"""A run that started on version 1 finishes on version 1 after an administrator edits the file."""

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
        assert ["was changed but its version is still 1" in p.message
                for p in app.registry.problems if p.severity == "error"] == [True]
        chat = await Chat.open(app, "gus")
        await play(chat, """
            > (start checkin)
            < (1/2) Hvor godt sov du i nat?
        """)


BRANCHED = """\
id: branched
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
      - goto: sleep
  - id: how_much
    type: scale
    min: 0
    max: 10
    text: {da: "Hvor meget?", en: "How much?"}
  - id: sleep
    type: scale
    min: 0
    max: 10
    text: {da: "Hvordan sover du?", en: "How do you sleep?"}
"""


async def test_going_back_onto_another_branch_takes_the_old_answer_out_of_the_export(
        tmp_path: Path, clock: FakeClock) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "branched.yaml").write_text(BRANCHED, encoding="utf-8")
    async with open_app(str(tmp_path / "bot.db"), clock, flows) as app:
        chat = await Chat.open(app)
        await play(chat, """
            > (start branched)
            > ja
            < (2/3) Hvor meget?
            > 7
            < (3/3) Hvordan sover du?
            > TILBAGE
            < (2/3) Hvor meget?
            > TILBAGE
            < (1/3) Bekymrer du dig?
            > nej
            < (3/3) Hvordan sover du?
            > 5
        """)
        answers = await app.storage.export_answers()
        assert [(a["item_id"], a["value"]) for a in answers] == [("worried", 0), ("sleep", 5)]
