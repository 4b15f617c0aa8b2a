"""Conversations through the real loop on a real SQLite file: what the participant says, what the bot answers."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.clock import FakeClock
from flows.inputs import Resume
from tests.transcript import Chat, play

PSS_DA = [
    "(1/10) Hvor ofte inden for den sidste måned er du blevet oprevet over noget, der skete uventet?",
    "(2/10) Hvor ofte inden for den sidste måned har du følt, at du var ude af stand til at kontrollere de "
    "betydningsfulde ting i dit liv?",
    "(3/10) Hvor ofte inden for den sidste måned har du følt dig nervøs og “stresset”?",
    "(4/10) Hvor ofte inden for den sidste måned har du følt dig sikker på dine evner til at klare dine "
    "personlige problemer?",
    "(5/10) Hvor ofte inden for den sidste måned har du følt, at tingene gik som du ønskede det?",
    "(6/10) Hvor ofte inden for den sidste måned har du oplevet, at du ikke kunne overkomme alt det du skulle?",
    "(7/10) Hvor ofte inden for den sidste måned har du været i stand til at håndtere ting, som irriterer dig?",
    "(8/10) Hvor ofte inden for den sidste måned har du følt, at du havde styr på tingene?",
    "(9/10) Hvor ofte inden for den sidste måned er du blevet vred over ting, du ikke havde indflydelse på?",
    "(10/10) Hvor ofte inden for den sidste måned har du følt, at vanskelighederne hobede sig så meget op, at "
    "du ikke kunne klare dem?",
]
CHOICES_DA = "0 = Aldrig\n1 = Næsten aldrig\n2 = Ind i mellem\n3 = Ret ofte\n4 = Meget ofte"


async def test_full_pss10_in_danish(app: App) -> None:
    chat = await Chat.open(app, "anna")
    opening = await chat.start("pss10")
    assert opening.startswith("Nu kommer 10 spørgsmål om, hvordan du har haft det inden for den sidste måned.")
    assert PSS_DA[0] in opening and CHOICES_DA in opening and "Svar med tallet ud for dit svar." in opening
    answers = ["2", "3", "1", "Ret ofte", "0", "4", "2", "2", "1", "3"]
    for i, answer in enumerate(answers):
        reply = await chat.say(answer)
        if i + 1 < len(PSS_DA):
            assert reply.startswith(PSS_DA[i + 1]) and reply.endswith(CHOICES_DA), reply
    # 2+3+1+(4-3)+(4-0)+4+(4-2)+(4-2)+1+3 = 23
    assert reply == ("Tak, fordi du tog dig tid til at svare. Din score er 23 ud af 40. Din coach taler resultatet "
                     "igennem med dig, så I sammen kan se, hvad der kan hjælpe dig.")
    scores = await app.storage.export_scores()
    assert [(s["participant"], s["flow_id"], s["flow_version"], s["value"], s["band"]) for s in scores] == [
        ("anna", "pss10", 1, 23, "entry_criterion")]
    answered = await app.storage.export_answers()
    assert [(a["item_id"], a["value"], a["raw_text"]) for a in answered][3] == ("q4", 3, "Ret ofte")
    assert len(answered) == 10
    await play(chat, """
        > 2
        < Tak for din besked. Du har ikke noget spørgeskema i gang lige nu.
    """)


async def test_full_pss10_in_english(app: App) -> None:
    chat = await Chat.open(app, "ben", lang="en")
    await play(chat, """
        > (start pss10)
        < Here are 10 questions about how you have felt in the last month.
        < (1/10) In the last month, how often have you been upset because of something that happened unexpectedly?
        < Answer with the number in front of your answer.
        < 0 = Never
        < 4 = Very often
        > Sometimes
        < (2/10) In the last month, how often have you felt that you were unable to control the important things
        > 2
        < (3/10) In the last month, how often have you felt nervous and "stressed"?
        > 2
        < (4/10) In the last month, how often have you felt confident about your ability to handle your personal
        > 2
        < (5/10)
        > 2
        < (6/10)
        > 2
        < (7/10)
        > 2
        < (8/10)
        > 2
        < (9/10)
        > 2
        < (10/10)
        > very OFTEN
        < Your score is 22 out of 40.
    """)


async def test_invalid_answers_each_get_a_reprompt_listing_the_answers(app: App) -> None:
    chat = await Chat.open(app)
    await chat.start("pss10")
    await play(chat, """
        > fem
        < Undskyld, jeg forstod ikke helt dit svar.
        < Svar gerne med et af disse tal: 0 = Aldrig, 1 = Næsten aldrig, 2 = Ind i mellem, 3 = Ret ofte, 4 = Meget ofte.
        > 7
        < Undskyld, jeg forstod ikke helt dit svar.
        < Svar gerne med et af disse tal: 0 = Aldrig
        > 2
        < (2/10)
        >
        < Jeg kunne ikke se noget svar i din besked.
        < Svar gerne med et af disse tal: 0 = Aldrig
        > 😀
        < Undskyld, jeg forstod ikke helt dit svar.
        < Svar gerne med et af disse tal: 0 = Aldrig
    """)
    reply = await chat.say("x" * 5000)
    assert reply.startswith("Det ser ud til, at spørgsmålet er svært at svare på her. Du kan skrive HJÆLP")
    assert "PAUSE" in reply and "STOP" in reply and PSS_DA[1] in reply and CHOICES_DA in reply
    await play(chat, """
        > 2,5
        < Undskyld, jeg forstod ikke helt dit svar.
        > 3
        < (3/10)
    """)
    assert [(a["item_id"], a["value"]) for a in await app.storage.export_answers()] == [("q1", 2), ("q2", 3)]


async def test_back_changes_the_previous_answer_and_the_score_follows(app: App) -> None:
    chat = await Chat.open(app)
    await chat.start("pss10")
    await play(chat, """
        > TILBAGE
        < Det her er det første spørgsmål, så der er ikke noget tidligere svar at rette.
        < (1/10)
        > 4
        < (2/10)
        > 4
        < (3/10)
        > tilbage
        < Vi går et spørgsmål tilbage. Du svarede: 4 (Meget ofte).
        < (2/10)
        > 0
        < (3/10)
    """)
    for _ in range(8):
        reply = await chat.say("0")
    # q1=4, q2 changed 4 -> 0, q3..q10 = 0 with q4, q5, q7, q8 reversed to 4: 4 + 0 + 16 = 20
    assert "Din score er 20 ud af 40." in reply
    answers = await app.storage.export_answers()
    assert [(a["item_id"], a["value"]) for a in answers[:2]] == [("q1", 4), ("q2", 0)]
    assert len(answers) == 10


async def test_switching_language_mid_questionnaire(app: App) -> None:
    chat = await Chat.open(app)
    await chat.start("who5")
    await play(chat, """
        > 3
        < (2/5) I de sidste 2 uger har jeg følt mig rolig og afslappet
        < 5 = Hele tiden
        > SPROG
        < I will write to you in English from now on.
        < (2/5) Over the last two weeks: I have felt calm and relaxed
        < 5 = All of the time
        > most of the time
        < (3/5) Over the last two weeks: I have felt active and vigorous
        > sprog dansk
        < Jeg skriver til dig på dansk fra nu af.
        < (3/5) I de sidste 2 uger har jeg følt mig aktiv og energisk
        > Lidt af tiden
        < (4/5)
        > 3
        < (5/5)
        > 3
        < Din score er 56 ud af 100.
    """)
    assert {s["score_id"]: s["value"] for s in await app.storage.export_scores()} == {"raw": 14, "percent": 56}


async def test_help_and_pause_keywords(app: App) -> None:
    chat = await Chat.open(app)
    await play(chat, """
        > hjælp
        < Du har ikke noget spørgeskema i gang lige nu.
        > (start life_satisfaction)
        < Alt i alt, hvor tilfreds er du med dit liv for tiden?
        < Svar med et helt tal fra 0 (slet ikke tilfreds) til 10 (fuldt ud tilfreds).
        > HJÆLP
        < TILBAGE: ret dit forrige svar
        < Alt i alt, hvor tilfreds er du med dit liv for tiden?
        > PAUSE
        < Vi holder pause her. Dine svar er gemt. Skriv FORTSÆT
        > HJÆLP
        < TILBAGE: ret dit forrige svar
        < Spørgeskemaet er sat på pause. Skriv FORTSÆT
        > hej igen
        < Velkommen tilbage. Vi fortsætter, hvor du slap.
        < Alt i alt, hvor tilfreds er du med dit liv for tiden?
        > PAUSE
        < Vi holder pause her.
        > 11
        < Velkommen tilbage. Vi fortsætter, hvor du slap.
        > 11
        < Undskyld, jeg forstod ikke helt dit svar.
        < Svar gerne med et helt tal fra 0 til 10.
        > 7
        < Du svarede 7 på en skala fra 0 til 10.
    """)


async def test_an_answer_after_pause_is_taken(app: App) -> None:
    chat = await Chat.open(app)
    await play(chat, """
        > (start pss10)
        > 2
        < (2/10)
        > PAUSE
        < Vi holder pause her.
        > 3
        < (3/10)
    """)
    assert [(a["item_id"], a["value"]) for a in await app.storage.export_answers()] == [("q1", 2), ("q2", 3)]


async def test_expired_run_is_not_reopened_in_a_new_session(app: App, clock: FakeClock) -> None:
    chat = await Chat.open(app)
    await chat.start("pss10")
    await chat.say("2")
    clock.advance(timedelta(days=7))
    await play(chat, """
        > (resume)
        < Det spørgeskema, du var i gang med, er lukket, fordi tiden til at svare er gået.
    """)
    assert "(2/10)" not in await chat.feed(Resume())


async def test_stop_ends_the_questionnaire_and_keeps_answers(app: App) -> None:
    chat = await Chat.open(app)
    await chat.start("pss10")
    await play(chat, """
        > 1
        < (2/10)
        > STOP
        < Du har stoppet spørgeskemaet. De svar, du nåede at give, er gemt.
        > 2
        < Du har ikke noget spørgeskema i gang lige nu.
    """)
    assert len(await app.storage.export_answers()) == 1
    assert await app.storage.export_scores() == []


async def test_unfinished_run_expires(app: App, clock: FakeClock) -> None:
    chat = await Chat.open(app)
    await chat.start("pss10")
    await chat.say("2")
    clock.advance(timedelta(days=8))
    await play(chat, """
        > 2
        < Det spørgeskema, du var i gang med, er lukket, fordi tiden til at svare er gået.
        > 2
        < Du har ikke noget spørgeskema i gang lige nu.
    """)


async def test_a_repeated_message_is_processed_once(app: App) -> None:
    chat = await Chat.open(app)
    await chat.start("pss10")
    from flows.inputs import Text
    from storage.interface import InboundRecord

    inbound = InboundRecord("console", "retry-1", app.clock.now())
    first = await chat.feed(Text("2"), inbound)
    again = await chat.feed(Text("2"), inbound)
    assert "(2/10)" in first and again == ""
    assert len(await app.storage.export_answers()) == 1


async def test_a_who5_of_28_or_less_makes_a_referral_task_for_the_coach(app: App) -> None:
    chat = await Chat.open(app, "dorte")
    await chat.start("who5")
    await play(chat, """
        > 1
        < (2/5)
        > 2
        < (3/5)
        > 1
        < (4/5)
        > 2
        < (5/5)
        > 1
        < Din score er 28 ud af 100. Det tyder på, at du har det svært lige nu.
    """)
    [task] = await app.storage.coach_tasks()
    assert task.kind == "consider_referral"
    well = await Chat.open(app, "erik")
    await well.start("who5")
    for answer in ["3", "3", "3", "3", "3"]:
        await well.say(answer)
    assert len(await app.storage.coach_tasks()) == 1  # 60 out of 100: no task
