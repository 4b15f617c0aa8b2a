"""Telegram: every request counts (bot/channels/telegram_outbound.py). The real python-telegram-bot against the fake
Bot API server, counting the requests the bot makes per answered question: one message per answer, no edits to
take old buttons off (a press on an old question is answered "already answered" and changes nothing), a reply's
parts joined into one message, and a crisis reply on its own and first."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.channels.pacing import in_flight_for
from bot.channels.telegram import POLLED_IN_HAND
from bot.channels.telegram_outbound import TEXT_LIMIT, joinable
from bot.clock import FakeClock
from flows.inputs import RequireConsent, StartFlow
from storage.records import OutboxRow, Priority
from tests.fakes.telegram import FakeTelegram
from tests.test_telegram import CHAT, USER, Tg, running, until

RISKY = "jeg tænker på selvmord"
CRISIS = "Tak, fordi du fortæller mig det."
OLD_QUESTION = "Det spørgsmål har du allerede svaret på."


def requests(fake: FakeTelegram) -> list[str]:
    """The requests Telegram counts against a bot's limits: everything about a chat (not getUpdates, getMe, ...)."""
    return [c.method for c in fake.calls if "chat_id" in c.params or "callback_query_id" in c.params]


class Budget:
    """Counts the units taken from the bot's one budget of ~30 requests/s (bot/channels/pacing.py)."""

    def __init__(self, tg: Tg) -> None:
        self.taken: list[Priority] = []
        take = tg.channel.pacer.take

        async def counted(cost: float, priority: Priority = Priority.REPLY) -> None:
            self.taken.append(priority)
            await take(cost, priority)

        tg.channel.pacer.take = counted  # type: ignore[method-assign]


async def at_the_terms(tg: Tg) -> None:
    """Enrolled with the terms to accept and a PSS-10 waiting (what `bot enroll` and the baseline wave do), linked by
    /start: one message, the welcome with the terms."""
    participant, code = await tg.enrol()
    await tg.app.loop.handle(participant, RequireConsent(), "telegram")
    await tg.app.loop.handle(participant, StartFlow("pss10"), "telegram")
    assert await tg.channel.deliver_pending() == 0  # not linked yet: nowhere to send; /start asks again
    tg.fake.user_sends_command(CHAT, USER, f"/start {code}")
    [terms] = await tg.fake.wait_sent(CHAT)
    assert terms.text.startswith("Velkommen!") and "Siger du ja til det?" in terms.text and terms.buttons


async def test_a_typed_pss10_costs_one_request_per_answered_question(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock, consent=True) as tg:  # the shipped budget; no per-chat pause, for speed
        await at_the_terms(tg)
        budget, before = Budget(tg), len(requests(tg.fake))
        for answered, text in enumerate(["Ja", *"2" * 10], start=1):  # the harness's participant
            tg.fake.user_sends_text(CHAT, USER, text)
            reply = (await tg.fake.wait_sent(CHAT, 1 + answered))[-1]
            assert len(requests(tg.fake)) - before == answered, requests(tg.fake)[before:]
        assert "Din score er 20 ud af 40." in reply.text
        first = tg.fake.sent_to(CHAT)[1]  # the answer to the terms: thanks, the introduction and question 1
        assert first.text.startswith("Tak.") and "\n\n(1/10) " in first.text and first.buttons
        assert requests(tg.fake)[before:] == ["sendMessage"] * 11
        assert budget.taken == [Priority.REPLY] * 11
        assert all(m.buttons for m in tg.fake.sent_to(CHAT)[:-1])  # every question kept its buttons: no edits


async def test_a_pss10_by_buttons_costs_one_message_and_the_press_s_answer(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock, consent=True) as tg:
        await at_the_terms(tg)
        budget, before = Budget(tg), len(requests(tg.fake))
        for answered in range(1, 12):
            question = tg.fake.sent_to(CHAT)[-1]
            await tg.press(question, "Ja" if answered == 1 else "Ind i mellem")
            await tg.fake.wait_sent(CHAT, 1 + answered)
            await until(lambda n=answered: len(requests(tg.fake)) - before == 2 * n)  # the spinner stopped, too
        assert "Din score er 20 ud af 40." in tg.fake.sent_to(CHAT)[-1].text
        assert sorted(set(requests(tg.fake)[before:])) == ["answerCallbackQuery", "sendMessage"]
        assert len(budget.taken) == 11  # one unit of the bot's budget per answer: the next question
        assert all("text" not in answer for answer in tg.fake.callback_answers)


async def test_a_press_on_an_old_question_costs_its_answer_only_and_records_nothing(
        tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock) as tg:
        participant = await tg.linked()
        await tg.start_flow(participant, "pss10")
        first = await tg.question(3)
        await tg.press(first, "Aldrig")
        second = await tg.question(4)
        before = len(requests(tg.fake))
        await tg.press(first, "Meget ofte")  # further up the chat, the first question's buttons are still shown
        assert tg.fake.callback_answers[-1]["text"] == OLD_QUESTION
        assert requests(tg.fake)[before:] == ["answerCallbackQuery"]  # nothing sent, nothing edited
        await tg.press(second, "Ret ofte")  # the current question's buttons answer it
        assert (await tg.question(5)).text.startswith("(3/10) ")
        answers = await tg.app.storage.export_answers()
        assert [(a["item_id"], a["value"]) for a in answers] == [("q1", 0), ("q2", 3)]


async def test_a_crisis_reply_is_never_joined_and_goes_first(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock) as tg:
        participant = await tg.linked()
        await tg.start_flow(participant, "pss10")
        await tg.question(3)
        budget = Budget(tg)
        tg.fake.user_sends_text(CHAT, USER, RISKY)
        await until(lambda: any(m.text.startswith("Vil du svare") for m in tg.fake.sent_to(CHAT)))
        after = [m.text for m in tg.fake.sent_to(CHAT)[3:]]
        assert after[0].startswith(CRISIS) and "Vil du svare" not in after[0]  # on its own, before the rest
        assert budget.taken[0] is Priority.URGENT


async def test_a_joined_reply_held_by_a_429_goes_later_as_one_message(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock, consent=True) as tg:
        participant, code = await tg.enrol()
        await tg.app.loop.handle(participant, RequireConsent(), "telegram")
        assert await tg.channel.deliver_pending() == 0
        tg.fake.rate_limit("sendMessage", retry_after=3)
        tg.fake.user_sends_command(CHAT, USER, f"/start {code}")  # the welcome and the terms: one message
        await until(lambda: [c.status for c in tg.fake.calls_of("sendMessage")] == [429])
        assert await tg.channel.deliver_pending() == 0  # the first row waits its time; the rest wait behind it
        tg.clock.advance(timedelta(seconds=3))
        tg.channel.wakeup.set()
        [terms] = await tg.fake.wait_sent(CHAT)
        assert terms.text.startswith("Velkommen!") and "Siger du ja til det?" in terms.text
        assert [c.status for c in tg.fake.calls_of("sendMessage")] == [429, 200]
        await tg.channel.deliver_pending()  # the outcome recorded
        assert await tg.app.storage.pending_outbox("telegram", now=tg.clock.now()) == []  # every part marked sent


def row(number: int, text: str, priority: Priority = Priority.REPLY, question: bool = False) -> OutboxRow:
    payload: dict[str, Any] = {"text": text}
    if question:
        payload["prompt"] = {"run_seq": 1, "step_id": f"q{number}", "choices": [{"answer": "0", "label": "Ja"}]}
    return OutboxRow(number, 7, "telegram", payload, datetime(2026, 11, 23), priority=priority)


def test_what_is_joined_into_one_message() -> None:
    reply = [row(1, "Tak."), row(2, "Nu kommer 10 spørgsmål."), row(3, "(1/10) ?", question=True), row(4, "Hjælp")]
    assert joinable(reply) == 3  # up to and including the question: its buttons go under it
    assert joinable(reply[2:]) == 1
    assert joinable([row(1, "Påmindelse", Priority.ROUTINE), row(2, "Påmindelse", Priority.ROUTINE)]) == 1
    assert joinable([row(1, "Tak."), row(2, "Hej", Priority.ROUTINE)]) == 1
    half = "x" * (TEXT_LIMIT // 2)
    assert joinable([row(1, half), row(2, half)]) == 1  # with the blank line between, over Telegram's limit
    assert joinable([row(1, half[:-1]), row(2, half[:-1])]) == 2
    assert joinable([row(1, "😀" * (TEXT_LIMIT // 2)), row(2, "x")]) == 1  # Telegram counts UTF-16 units
    assert joinable([row(1, "x" * (TEXT_LIMIT + 10)), row(2, "x")]) == 1  # too long alone: Telegram says so


def test_messages_in_flight_follow_the_budget() -> None:
    assert in_flight_for(30.0, POLLED_IN_HAND) == 32  # Telegram's budget: a polled batch's replies go out together
    assert in_flight_for(1000.0, POLLED_IN_HAND) == 300  # a larger budget is used even at 300 ms an answer
    assert in_flight_for(0.0, POLLED_IN_HAND) == POLLED_IN_HAND  # no budget: one reply per update in hand


async def test_the_channel_s_dispatcher_keeps_that_many_in_flight(tmp_path: Path, clock: FakeClock) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    async with running(tmp_path / "a", clock) as tg:
        assert tg.channel.dispatcher.concurrency == 32
    async with running(tmp_path / "b", clock, requests_per_second=0.0) as tg:
        assert tg.channel.dispatcher.concurrency == POLLED_IN_HAND
