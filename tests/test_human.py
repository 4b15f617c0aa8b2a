"""Every word a participant writes reaches a human (issue 11, points 1, 2 and 7), as transcripts on a real SQLite file
under a fixed clock: words that are not an answer go to the coach's inbox and are read there (audited), KONTAKT makes
a task, slips and tries at an answer stay with the bot, the crisis block is not repeated within the hour, a
questionnaire goes on only when the person says so after the safety check, and nothing they wrote is readable in the
database's files."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import FakeClock
from storage.interface import Enrollment
from tests.conftest import without_consent
from tests.test_data_protection import traces
from tests.test_safety import CapturingCoachChannel
from tests.transcript import Chat, play

CALL_ME = "jeg har det rigtig skidt, kan I ringe til mig på 12345678"


@pytest.fixture
def coaches() -> CapturingCoachChannel:
    return CapturingCoachChannel()


@pytest.fixture
async def app(tmp_path: Path, clock: FakeClock, coaches: CapturingCoachChannel) -> AsyncIterator[App]:
    async with open_app(str(tmp_path / "bot.db"), clock, deployment_path=without_consent(tmp_path),
                        coach_channels={"console": coaches}) as opened:
        yield opened


async def enrolled(app: App, ref: str = "p-anna", name: str = "Anna Jensen", coach: str = "coach",
                   lang: str = "da") -> Chat:
    participant = await app.storage.enroll(Enrollment(ref, name, lang, None, coach), app.clock.now())
    return Chat(app, participant)


def crisis_blocks(reply: str) -> int:
    return reply.count("Livslinien: 70 201 201.")


# --- words that are not an answer go to a human ---


async def test_words_that_are_not_an_answer_reach_the_coach_who_reads_them(app: App) -> None:
    chat = await enrolled(app)
    await chat.start("pss10")
    await play(chat, f"""
        > 2
        < (2/10)
        > {CALL_ME}
        < Tak for din besked. Jeg kan ikke selv svare på den, så jeg har sendt den videre til din coach, som læser den.
        < Coaches læser beskeder mandag til fredag kl. 8-16.
        < Vil du fortsætte med spørgsmålet nu? Svar ja eller nej.
        > nej
        < Det er helt i orden. Skriv FORTSÆT, når du vil fortsætte.
        > FORTSÆT
        < Velkommen tilbage. Vi fortsætter, hvor du slap.
        < (2/10)
    """)
    assert "forstod ikke" not in "".join(chat.channel.sent)
    [message] = await app.storage.coach_messages()
    assert (message.body, message.participant_ref, message.channel, message.detail) == (
        CALL_ME, "p-anna", "console", {"flow_id": "pss10", "item_id": "q2"})

    assert await app.desk.handle("backup", "BESKEDER") == "Der er ingen beskeder fra dine deltagere."  # not theirs
    shown = await app.desk.handle("coach", "BESKEDER")
    assert shown == f"Ny #{message.id} p-anna (Anna Jensen), 23.11 10:00, console under pss10: »{CALL_ME}«"
    again = await app.desk.handle("coach", "beskeder")
    assert again == (f"#{message.id} p-anna (Anna Jensen), 23.11 10:00, console under pss10: »{CALL_ME}« "
                     "(læst af coach 23.11 10:00)")
    assert "BESKEDER" in (await app.desk.handle("coach", "HJÆLP") or "")
    [read] = await app.storage.coach_messages()
    assert (read.read_by, read.read_at) == ("coach", app.clock.now())
    entries = await app.storage.audit_entries()
    assert [(e.actor, e.subject, e.detail) for e in entries if e.action == "message.read"] == [
        ("coach:coach", "participant:p-anna", {"message_id": message.id})]  # once: read is read
    assert all(CALL_ME not in str(e.detail) for e in entries)

    data = await app.storage.person_data(chat.participant.id)
    assert data is not None
    assert [(i["body"], i["outcome"]) for i in data["inbox"]] == [
        ("2", "answer"), (CALL_ME, "for_coach"), ("nej", "go_on"), ("FORTSÆT", "keyword")]


async def test_outside_a_questionnaire_almost_any_words_reach_the_coach(app: App, clock: FakeClock) -> None:
    chat = await enrolled(app, "p-ben", "Ben Holm", lang="en")
    clock.advance(timedelta(hours=12))  # Monday 22:00 in Copenhagen: outside office hours
    await play(chat, """
        > hi
        < Thank you for your message. You have no questionnaire open right now.
        > I cannot sleep and I do not know who to talk to
        < I have passed it on to your coach, who will read it.
        < Coaches read messages Monday to Friday, 8:00-16:00. That is not right now, so it may be a while
        > 7
        < You have no questionnaire open right now.
        > thanks, good night
        < You have no questionnaire open right now.
    """)
    assert [m.body for m in await app.storage.coach_messages()] == ["I cannot sleep and I do not know who to talk to"]


async def test_a_stray_digit_a_typo_of_an_answer_or_an_emoji_stays_with_the_bot(app: App) -> None:
    chat = await enrolled(app)
    await chat.start("pss10")
    for slip in ("7", "😀", "ret oftte", "ved ikke", "2,5", "fem", "hmm...", "det ved jeg ikke", "🙁 🙁"):
        reply = await chat.say(slip)
        assert "Undskyld, jeg forstod ikke helt dit svar." in reply or "svært at svare på" in reply, (slip, reply)
        assert "coach" not in reply, slip
    assert await app.storage.coach_messages() == []
    data = await app.storage.person_data(chat.participant.id)
    assert data is not None and {i["outcome"] for i in data["inbox"]} == {"not_understood"}
    assert [i["body"] for i in data["inbox"]][:3] == ["7", "😀", "ret oftte"]  # kept all the same


async def test_kontakt_makes_a_task_and_says_so(app: App) -> None:
    chat = await enrolled(app)
    await chat.start("pss10")
    await play(chat, """
        > KONTAKT
        < Jeg har bedt din coach om at kontakte dig.
        < Coaches læser beskeder mandag til fredag kl. 8-16.
        < Vil du fortsætte med spørgsmålet nu? Svar ja eller nej.
        > ja
        < Godt. Vi fortsætter, hvor du slap.
        < (1/10)
        > HJÆLP
        < Skriv KONTAKT, hvis du gerne vil have, at din coach kontakter dig.
    """)
    [task] = await app.storage.coach_tasks()
    assert (task.kind, task.participant_id, task.due_at) == (
        "contact_request", chat.participant.id, task.created_at + timedelta(days=1))
    tasks = await app.desk.handle("coach", "OPGAVER")
    assert tasks is not None and tasks.startswith(f"Opgave #{task.id} p-anna: vil gerne kontaktes (KONTAKT)")
    assert await app.storage.coach_messages() == []  # a request, not a message to read
    assert "Jeg har bedt din coach om at kontakte dig." in await chat.say("kontakt mig")  # outside a question too
    assert len(await app.storage.coach_tasks()) == 2


async def test_an_unread_message_becomes_a_coach_task_and_reading_it_does_the_task(app: App,
                                                                                   clock: FakeClock) -> None:
    chat = await enrolled(app)
    await chat.say("Kan vi flytte vores samtale på torsdag?")
    clock.advance(timedelta(hours=3, minutes=59))
    await app.escalations.tick()  # the watcher: not yet four hours
    assert await app.storage.coach_tasks() == []
    clock.advance(timedelta(minutes=1))
    await app.escalations.tick()
    await app.escalations.tick()  # once
    [task] = await app.storage.coach_tasks()
    assert task.kind == "message_unread"
    assert (await app.desk.handle("coach", "OPGAVER") or "").startswith(
        f"Opgave #{task.id} p-anna: en besked er ikke læst i tide (BESKEDER)")
    assert "»Kan vi flytte vores samtale på torsdag?«" in (await app.desk.handle("coach", "BESKEDER") or "")
    assert await app.storage.coach_tasks() == []  # read: the task is done with it


async def test_if_the_engine_fails_the_words_still_reach_the_coach(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.conversation

    def broken(*args: object) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(bot.conversation, "advance", broken)
    chat = await enrolled(app)
    assert "Undskyld, der gik noget galt hos os." in await chat.say(CALL_ME)
    [message] = await app.storage.coach_messages()
    assert message.body == CALL_ME


# --- tone: the crisis block once, and asking before a questionnaire goes on ---


async def test_the_crisis_block_is_not_repeated_within_the_hour(app: App, clock: FakeClock,
                                                                coaches: CapturingCoachChannel) -> None:
    chat = await enrolled(app)
    await chat.start("safety_check")
    first = await chat.say("jeg tager mit liv i nat")
    assert crisis_blocks(first) == 1 and first.index("ring 112") < first.index("Livslinien")  # high: 112 first
    assert "(1/7)" in first and "forstod ikke" not in first  # the question again, plainly
    for _ in range(2):
        clock.advance(timedelta(seconds=20))
        again = await chat.say("jeg tager mit liv i nat")
        assert crisis_blocks(again) == 0 and "ring 112" not in again
        assert again.startswith("Tak, fordi du fortæller mig det. Numrene, du kan ringe til, står i min besked lidt "
                                "længere oppe. En coach har fået besked.")
        assert "(1/7)" in again and "forstod ikke" not in again
    clock.advance(timedelta(hours=1))
    assert crisis_blocks(await chat.say("jeg tager mit liv i nat")) == 1  # after the hour: the full block again
    [escalation] = await app.storage.escalations()
    assert len(escalation.triggers) == 4 and [c for c, _ in coaches.sent] == ["coach"]  # every word reached the coach


async def test_a_higher_level_within_the_hour_gets_the_full_block_again(app: App) -> None:
    chat = await enrolled(app)
    await chat.start("pss10")
    assert crisis_blocks(await chat.say("jeg vil ikke leve længere")) == 1  # low
    assert crisis_blocks(await chat.say("jeg har tænkt på selvmord")) == 1  # moderate: more urgent, shown again
    assert crisis_blocks(await chat.say("jeg vil ikke leve længere")) == 0  # low again: the pointer
    await app.desk.handle("coach", "LUK 1 Ringet op, aftale i morgen")  # closed: the next signal is a new story
    assert crisis_blocks(await chat.say("jeg vil ikke leve længere")) == 1


async def test_after_the_safety_check_the_questionnaire_goes_on_only_when_the_person_says_so(app: App) -> None:
    chat = await enrolled(app)
    await chat.start("pss10")
    await play(chat, """
        > 2
        < (2/10)
        > selvmord
        < Vil du svare på nogle få korte spørgsmål
        > nej
        < Det er helt i orden. En coach kontakter dig stadig.
        < Vil du fortsætte med det spørgeskema, du var i gang med? Svar ja eller nej.
        > nej
        < Det er helt i orden. Skriv FORTSÆT, når du vil fortsætte.
        > 3
        < (3/10)
    """)  # an answer to the question they left is taken whenever it comes
    state = await app.loop.state_of(chat.participant)
    assert state.run is not None and not state.run.paused
    await play(chat, """
        > jeg tænker på selvmord igen
        < Numrene, du kan ringe til, står i min besked lidt længere oppe.
        < Vil du svare på nogle få korte spørgsmål
        > ja
        < Har du inden for den sidste måned ønsket, at du var død
        > nej
        > nej
        > nej
        < Tak, fordi du svarede.
        < Vil du fortsætte med det spørgeskema, du var i gang med? Svar ja eller nej.
        > ja
        < Godt. Vi fortsætter, hvor du slap.
        < (3/10)
    """)


async def test_a_sentence_in_the_safety_check_reaches_the_coach_and_the_check_waits(app: App) -> None:
    chat = await enrolled(app)
    await chat.start("safety_check")
    await play(chat, """
        > nej, men jeg er bange for at miste mit arbejde
        < Tak for din besked.
        < Vil du fortsætte med spørgsmålet nu? Svar ja eller nej.
        > ja
        < Godt. Vi fortsætter, hvor du slap.
        < (1/7)
    """)
    [message] = await app.storage.coach_messages()
    assert message.detail == {"flow_id": "safety_check", "item_id": "q1"}


# --- nothing they wrote is readable in the files ---


async def test_what_people_write_is_not_readable_in_the_database_files(app: App, tmp_path: Path) -> None:
    chat = await enrolled(app)
    await chat.start("checkin")
    await chat.say("7")
    await chat.say("2")
    await chat.say("En tung uge med meget gråd")  # a free-text answer
    await chat.say(CALL_ME)  # a message for the coach
    await chat.say("jeg tænker på selvmord hver nat")  # a risk message: escalated with its words
    await app.desk.handle("coach", "BESKEDER")
    found = traces(tmp_path / "bot.db", "tung uge med meget", "ringe til mig", "12345678", "selvmord hver nat",
                   "Anna Jensen")
    assert found == []
    assert re.search("tung uge", str(await app.storage.person_data(chat.participant.id)))  # and all of it is theirs
