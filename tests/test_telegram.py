"""Telegram end to end: the real python-telegram-bot against the fake Bot API server on localhost, a real SQLite
file, and the bot's own ASGI app for webhooks. Nothing here is a mock of our own code."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import App, open_app
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel
from bot.channels.telegram_outbound import keyboard, parse_callback
from bot.clock import FakeClock
from bot.enroll import EnrolmentRequest, enrol
from bot.rendering import Catalogs
from bot.scheduler import ProgrammeScheduler, address_channel, schedule_programme
from bot.web import create_web_app
from flows.inputs import RequireConsent, StartFlow
from storage.admin_records import RECEIVED
from storage.records import AddressStatus, Participant
from tests.conftest import without_consent
from tests.fakes.telegram import BotMessage, FakeTelegram, serve

CHAT = USER = 4242
STRANGER = 5151
SECRET = "webhook-secret_42"
FREQUENCY = ["Aldrig", "Næsten aldrig", "Ind i mellem", "Ret ofte", "Meget ofte"]


async def until(condition: Callable[[], Any], timeout: float = 30.0) -> None:
    """Wait for something the bot does in its own time (polling, the dispatcher). The timeout only bounds a
    failing test: a loaded CI machine may be slow, and a passing test never waits for it."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not get there in time")
        await asyncio.sleep(0.01)


@dataclass
class Tg:
    app: App
    fake: FakeTelegram
    channel: TelegramChannel
    clock: FakeClock
    unreachable: list[int]

    async def enrol(self, name: str = "Test Person", lang: str = "da") -> tuple[Participant, str]:
        """Enrol with --telegram: the participant and the one-time code of their deep link."""
        invite = await enrol(self.app.storage, EnrolmentRequest(name, telegram=True, lang=lang), [],
                             self.clock.now(), "stress_test_bot")
        assert invite.telegram_link is not None
        return invite.participant, invite.telegram_link.split("?start=")[1]

    async def linked(self) -> Participant:
        participant, code = await self.enrol()
        self.fake.user_sends_command(CHAT, USER, f"/start {code}")
        await self.fake.wait_sent(CHAT)  # the welcome with "no questionnaire open right now": one reply, one message
        return participant

    async def start_flow(self, participant: Participant, flow_id: str) -> None:
        await self.app.loop.handle(participant, StartFlow(flow_id), "telegram")
        self.channel.wakeup.set()

    async def question(self, count: int) -> BotMessage:
        """Wait for the bot's `count`-th message in the chat and return it."""
        return (await self.fake.wait_sent(CHAT, count))[count - 1]

    async def press(self, message: BotMessage, label: str, data: str | None = None, **kwargs: Any) -> None:
        answered = len(self.fake.callback_answers)
        data = data or message.data_for(label)
        self.fake.user_presses_button(CHAT, USER, message.message_id, data, **kwargs)
        await until(lambda: len(self.fake.callback_answers) > answered)

    def texts(self, chat: int = CHAT) -> list[str]:
        return [m.text for m in self.fake.sent_to(chat)]


@asynccontextmanager
async def running(tmp_path: Path, clock: FakeClock, **options: Any) -> AsyncIterator[Tg]:
    consent = options.pop("consent", False)
    async with FakeTelegram(long_poll_cap=0.5) as fake, open_app(
            str(tmp_path / "bot.db"), clock, coach_channels={},
            deployment_path=None if consent else without_consent(tmp_path)) as app:
        unreachable: list[int] = []

        async def tell_coach(participant_id: int) -> None:
            unreachable.append(participant_id)

        options = {"per_chat_interval": 0.0, "poll_timeout": timedelta(seconds=1), **options}
        channel = TelegramChannel(app.storage, app.loop, Catalogs(), clock, fake.token, base_url=fake.base_url,
                                  on_unreachable=tell_coach, **options)
        tg = Tg(app, fake, channel, clock, unreachable)
        if channel.mode == "polling":
            await channel.start()
        try:
            yield tg
        finally:
            await channel.stop()


@pytest.fixture
async def tg(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Tg]:
    async with running(tmp_path, clock) as polling:
        yield polling


async def test_start_links_and_a_pss10_runs_by_button_presses(tg: Tg) -> None:
    participant = await tg.linked()
    [welcome] = tg.texts()
    assert welcome.startswith("Velkommen! Du er nu forbundet, og jeg skriver til dig her.\n\nDu har ikke noget spø")
    [address] = [a for a in await tg.app.storage.addresses(participant.id) if a.channel == "telegram"]
    assert (address.address, address.status) == (str(CHAT), AddressStatus.ACTIVE)

    await tg.start_flow(participant, "pss10")
    assert (await tg.question(2)).text.startswith("Nu kommer 10 spørgsmål")
    for number in range(1, 11):
        question = await tg.question(2 + number)
        assert question.text.startswith(f"({number}/10) ")
        assert question.buttons == [[(label, f"1:q{number}:{value}")] for value, label in enumerate(FREQUENCY)]
        await tg.press(question, "Ind i mellem")

    score = await tg.question(13)
    assert "Din score er 20 ud af 40." in score.text
    # one request a press: the next question (no edits), and the button's answer
    assert len(tg.fake.calls_of("sendMessage")) == 13 and tg.fake.calls_of("editMessageReplyMarkup") == []
    assert all("text" not in answer for answer in tg.fake.callback_answers)  # every press answered, silently
    scores = await tg.app.storage.export_scores()
    assert [(s["participant"], s["value"]) for s in scores] == [(participant.ref, 20)]


async def test_the_programme_terms_come_first_and_are_accepted_by_a_button(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock, consent=True) as tg:
        await terms_come_first(tg)


async def terms_come_first(tg: Tg) -> None:
    participant, code = await tg.enrol()
    await tg.app.loop.handle(participant, RequireConsent(), "telegram")  # as `bot enroll --telegram` does
    await tg.app.loop.handle(participant, StartFlow("pss10"), "telegram")  # waits until the terms are accepted
    assert await tg.channel.deliver_pending() == 0  # not linked yet: nowhere to send; /start asks again
    tg.fake.user_sends_command(CHAT, USER, f"/start {code}")
    [terms] = await tg.fake.wait_sent(CHAT)  # the welcome and the terms: one reply, one message
    assert terms.text.startswith("Velkommen!") and "Siger du ja til det?" in terms.text
    assert [[label for label, _ in row] for row in terms.buttons] == [["Ja", "Nej"]]
    await tg.press(terms, "Ja")
    first = (await tg.fake.wait_sent(CHAT, 2))[1]  # thanks, the introduction and question 1, with its buttons
    assert first.text.startswith("Tak.") and "\n\nNu kommer 10 spørgsmål" in first.text
    assert "\n\n(1/10) " in first.text and first.buttons[0] == [("Aldrig", "1:q1:0")]
    profile = await tg.app.storage.profile(participant.id)
    assert profile is not None and profile.consent_version is not None


async def test_a_button_of_an_old_question_gets_a_polite_answer_and_records_nothing(tg: Tg) -> None:
    participant = await tg.linked()
    await tg.start_flow(participant, "pss10")
    first = await tg.question(3)
    await tg.press(first, "Aldrig")
    await tg.question(4)
    assert first.buttons  # the answered question keeps its buttons (no request spent on removing them)
    await tg.press(first, "Meget ofte")
    assert tg.fake.callback_answers[-1]["text"] == "Det spørgsmål har du allerede svaret på."
    answers = await tg.app.storage.export_answers()
    assert [(a["item_id"], a["value"]) for a in answers] == [("q1", 0)]
    assert len(tg.fake.sent_to(CHAT)) == 4  # nothing said in the chat


async def test_a_module_reminder_has_a_done_button_that_works_in_the_middle_of_a_questionnaire(tg: Tg) -> None:
    participant = await tg.linked()
    await tg.start_flow(participant, "pss10")
    assert (await tg.question(3)).text.startswith("(1/10) ")
    programme = tg.app.registry.library.programme
    assert programme is not None
    start = (tg.clock.now() - timedelta(days=1)).date()  # module 1 was released yesterday and is due now
    await schedule_programme(tg.app.storage, programme, participant.id, start, tg.clock.now())
    scheduler = ProgrammeScheduler(tg.app.storage, tg.app.loop, tg.clock, address_channel(tg.app.storage))
    tg.clock.advance(timedelta(hours=3))  # the questionnaire was left open; module 1 comes anyway
    await scheduler.tick()
    tg.channel.wakeup.set()
    reminder = await tg.question(4)
    assert reminder.text.startswith("Modul 1 er klar: Introduktion og teori.")
    assert reminder.buttons == [[("Færdig med modul 1", "0:programme:FÆRDIG 1")]]
    await tg.question(7)  # the baseline measurement takes over the idle questionnaire (scheduled: one message each)
    assert [m.text[:24] for m in tg.fake.sent_to(CHAT)[4:]] == [
        "Det er tid til en måling", "Nu kommer 10 spørgsmål o", "(1/10) Hvor ofte inden f"]
    await tg.press(reminder, "Færdig med modul 1")  # further up the chat, its button still works
    done = await tg.question(8)  # and the open question again, with its buttons: one reply, one message
    assert done.text.startswith("Godt gået! Modul 1 er markeret som færdigt. Du har gennemført 1 af 8 moduler.\n\n")
    assert "\n\n(1/10) " in done.text and done.buttons[0] == [("Aldrig", "2:q1:0")]  # run 2: the baseline
    marks = await tg.app.storage.marks(participant.id)
    assert [(m.kind, m.key) for m in marks if m.kind == "module_done"] == [("module_done", "1")]


async def test_typed_answers_work_and_the_old_buttons_answer_nothing(tg: Tg) -> None:
    participant = await tg.linked()
    await tg.start_flow(participant, "pss10")
    first = await tg.question(3)
    tg.fake.user_sends_text(CHAT, USER, "ret ofte")
    second = await tg.question(4)
    assert second.text.startswith("(2/10)") and second.buttons
    tg.fake.user_sends_text(CHAT, USER, "STOP")
    await tg.question(5)
    for old in (first, second):  # no question left to answer: every button is an old one
        await tg.press(old, "Aldrig")
        assert tg.fake.callback_answers[-1]["text"] == "Det spørgsmål har du allerede svaret på."
    answers = await tg.app.storage.export_answers()
    assert [(a["item_id"], a["value"]) for a in answers] == [("q1", 3)]
    assert len(tg.fake.sent_to(CHAT)) == 5 and tg.fake.calls_of("editMessageReplyMarkup") == []


async def test_the_scale_0_to_10_as_two_rows_of_buttons(tg: Tg) -> None:
    participant = await tg.linked()
    await tg.start_flow(participant, "life_satisfaction")
    question = await tg.question(2)
    assert [[label for label, _ in row] for row in question.buttons] == [
        ["0", "1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10"]]
    await tg.press(question, "8")
    assert "8" in (await tg.question(3)).text
    assert [a["value"] for a in await tg.app.storage.export_answers()] == [8]


async def test_a_used_or_unknown_code_and_an_unknown_user_get_an_explanation_and_no_data(tg: Tg) -> None:
    _, code = await tg.enrol()
    tg.fake.user_sends_command(CHAT, USER, f"/start {code}")
    await tg.fake.wait_sent(CHAT)
    tg.fake.user_sends_command(STRANGER, STRANGER, f"/start {code}")  # a forwarded link, used already
    [used] = await tg.fake.wait_sent(STRANGER)
    assert used.text.startswith("Dette link er allerede brugt eller er ikke længere gyldigt.")
    assert "This link has already been used" in used.text

    tg.fake.user_sends_command(STRANGER, STRANGER, "/start not-a-code")
    tg.fake.user_sends_text(STRANGER, STRANGER, "hej, hvem er du?")
    tg.fake.user_sends_command(STRANGER, STRANGER, "/start")
    *_, unknown_code, stranger, bare_start = await tg.fake.wait_sent(STRANGER, 4)
    assert unknown_code.text == used.text
    assert stranger.text.startswith("Hej. Jeg kender dig ikke endnu") and "I do not know you yet" in stranger.text
    assert bare_start.text == stranger.text
    assert await tg.app.storage.participant_by_address("telegram", str(STRANGER)) is None
    assert not any(str(CHAT) in m.text or "Test Person" in m.text for m in tg.fake.sent_to(STRANGER))
    assert len(tg.fake.sent_to(CHAT)) == 1  # the linked person hears nothing of it


async def test_an_expired_code_links_nobody(tg: Tg) -> None:
    _, code = await tg.enrol()
    tg.clock.advance(timedelta(days=15))
    tg.fake.user_sends_command(CHAT, USER, f"/start {code}")
    [reply] = await tg.fake.wait_sent(CHAT)
    assert reply.text.startswith("Dette link er allerede brugt eller er ikke længere gyldigt.")
    assert await tg.app.storage.participant_by_address("telegram", str(CHAT)) is None


async def test_a_redelivered_update_is_processed_once(tg: Tg) -> None:
    participant = await tg.linked()
    await tg.start_flow(participant, "pss10")
    await tg.question(3)
    update = tg.fake.user_sends_text(CHAT, USER, "2")
    await tg.question(4)
    tg.fake.redeliver(update)
    tg.fake.user_sends_text(CHAT, USER, "HJÆLP")  # processed after the redelivery: proves it was read
    await tg.question(5)  # the help, and question 2 again
    await asyncio.sleep(0.1)
    assert len(tg.fake.sent_to(CHAT)) == 5
    answers = await tg.app.storage.export_answers()
    assert [(a["item_id"], a["value"]) for a in answers] == [("q1", 2)]


async def test_commands_have_localised_menus_and_map_to_the_keywords(tg: Tg) -> None:
    names = ["help", "pause", "continue", "stop", "language"]
    assert tg.fake.command_names("da") == tg.fake.command_names("en") == tg.fake.command_names() == names
    danish = {c["command"]: c["description"] for c in tg.fake.commands[("da", "default")]}
    english = {c["command"]: c["description"] for c in tg.fake.commands[("en", "default")]}
    assert danish["pause"] == "Hold pause og fortsæt senere" and english["pause"] == "Pause and continue later"
    assert tg.fake.commands[("", "default")] == tg.fake.commands[("da", "default")]

    participant = await tg.linked()
    await tg.start_flow(participant, "pss10")
    await tg.question(3)
    tg.fake.user_sends_command(CHAT, USER, "/help")
    help_ = await tg.question(4)
    assert "TILBAGE: ret dit forrige svar" in help_.text
    assert "\n\n(1/10) " in help_.text and help_.buttons  # asked again, with its buttons
    tg.fake.user_sends_command(CHAT, USER, "/pause")
    assert (await tg.question(5)).text.startswith("Vi holder pause her.")
    tg.fake.user_sends_command(CHAT, USER, "/continue")
    assert "\n(1/10) " in (await tg.question(6)).text
    tg.fake.user_sends_command(CHAT, USER, "/language en")
    in_english = await tg.question(7)
    assert in_english.text.startswith("I will write to you in English from now on.\n\n(1/10) In the last month")
    assert in_english.buttons[0] == [("Never", "1:q1:0")]


async def test_a_429_is_deferred_and_delivered_later(tg: Tg) -> None:
    participant = await tg.linked()
    tg.fake.rate_limit("sendMessage", retry_after=3)
    await tg.start_flow(participant, "pss10")
    await until(lambda: [c.status for c in tg.fake.calls_of("sendMessage")][-1:] == [429])
    assert await tg.channel.deliver_pending() == 0  # not retried before its time
    assert len(tg.fake.sent_to(CHAT)) == 1
    tg.clock.advance(timedelta(seconds=3))
    tg.channel.wakeup.set()
    intro, first = (await tg.fake.wait_sent(CHAT, 3))[1:]
    assert intro.text.startswith("Nu kommer 10 spørgsmål") and first.text.startswith("(1/10)")  # in order


async def test_a_blocked_bot_marks_the_chat_unreachable_until_the_person_writes_again(tg: Tg) -> None:
    participant = await tg.linked()
    tg.fake.block(CHAT)
    await tg.start_flow(participant, "pss10")
    await until(lambda: bool(tg.unreachable))
    assert tg.unreachable == [participant.id]
    [address] = [a for a in await tg.app.storage.addresses(participant.id) if a.channel == "telegram"]
    assert address.status is AddressStatus.UNREACHABLE
    for _ in range(500):  # the rest of the chat's queue is given up as the dispatcher reaches it, not retried
        if await tg.app.storage.pending_outbox("telegram", now=tg.clock.now()) == []:
            break
        await asyncio.sleep(0.01)
    assert await tg.app.storage.pending_outbox("telegram", now=tg.clock.now()) == []

    tg.fake.unblock(CHAT)
    tg.fake.user_sends_command(CHAT, USER, "/start")
    back = (await tg.fake.wait_sent(CHAT, 2))[1]  # picks up the questionnaire where it was
    assert back.text.startswith("Velkommen tilbage. Vi fortsætter, hvor du slap.\n\n(1/10)") and back.buttons
    [address] = [a for a in await tg.app.storage.addresses(participant.id) if a.channel == "telegram"]
    assert address.status is AddressStatus.ACTIVE


async def test_each_chat_gets_at_most_one_message_per_interval(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock, per_chat_interval=0.3) as tg:
        participant = await tg.linked()
        await tg.start_flow(participant, "pss10")
        await tg.question(3)
        sends = [c.at for c in tg.fake.calls_of("sendMessage")]
        assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(sends))


async def test_webhook_refuses_a_wrong_secret_and_processes_an_update_once(tmp_path: Path, clock: FakeClock) -> None:
    async with running(tmp_path, clock, webhook_url="http://set-below", webhook_secret=SECRET) as tg:
        web = create_web_app(tg.app.storage, extra_routes={WEBHOOK_PATH: tg.channel.webhook})
        async with serve(web) as url, httpx.AsyncClient() as http:
            tg.channel.webhook_url = url + WEBHOOK_PATH  # known only now: the app needed the channel's handler
            await tg.channel.start()  # registers the webhook with its secret, as `bot run` will
            assert tg.fake.webhook["url"] == url + WEBHOOK_PATH and tg.fake.webhook["secret_token"] == SECRET
            _, code = await tg.enrol()
            update = tg.fake.user_sends_command(CHAT, USER, f"/start {code}")

            wrong = await tg.fake.post_to_webhook(update, secret_token="wrong")
            missing = await tg.fake.post_to_webhook(update, secret_token="")
            assert (wrong.status_code, missing.status_code) == (403, 403)
            assert tg.fake.sent_to(CHAT) == [] and await tg.app.storage.participant_by_address("telegram",
                                                                                                 str(CHAT)) is None
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
            huge = await http.post(url + WEBHOOK_PATH, content=b"{" + b" " * 300_000 + b"}", headers=headers)
            garbled = await http.post(url + WEBHOOK_PATH, content=b"\xff not json", headers=headers)
            no_update = await http.post(url + WEBHOOK_PATH, json={"hello": 1}, headers=headers)
            assert (huge.status_code, garbled.status_code, no_update.status_code) == (413, 400, 400)
            # unreadable, so 400 (Telegram does not send it again), never 500 (it would, for ever)
            deep = b'{"update_id": 1, "message": ' + b'{"a": ' * 20_000 + b"1" + b"}" * 20_001
            number = {**update, "message": {**update["message"], "text": 42}}
            no_chat_id = {**update, "message": {**update["message"], "chat": {"type": "private"}}}
            form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
            statuses = [(await http.post(url + WEBHOOK_PATH, content=deep, headers=headers)).status_code,
                        (await http.post(url + WEBHOOK_PATH, json=number, headers=headers)).status_code,
                        (await http.post(url + WEBHOOK_PATH, json=no_chat_id, headers=headers)).status_code,
                        (await http.post(url + WEBHOOK_PATH, content=b"update_id=1", headers=form)).status_code]
            assert statuses == [400, 400, 400, 415]

            assert (await tg.fake.post_to_webhook(update)).status_code == 200
            assert await tg.app.storage.participant_by_address("telegram", str(CHAT)) is not None  # stored first
            await tg.fake.wait_sent(CHAT)
            assert (await tg.fake.post_to_webhook(update)).status_code == 200  # Telegram retries: once only
            await asyncio.sleep(0.1)
            assert tg.texts()[0].startswith("Velkommen! Du er nu forbundet, og jeg skriver til dig her.")
            assert len(tg.fake.sent_to(CHAT)) == 1


def test_keyboard_layout_and_callback_data() -> None:
    def prompt(step_id: str, *labels: str) -> dict[str, Any]:
        choices = [{"answer": str(i), "label": label} for i, label in enumerate(labels)]
        return {"text": "?", "prompt": {"run_seq": 12, "step_id": step_id, "choices": choices}}

    yes_no = keyboard(prompt("offer", "Ja", "Nej"))
    assert yes_no is not None and [[b["text"] for b in row] for row in yes_no["inline_keyboard"]] == [["Ja", "Nej"]]
    many = keyboard(prompt("q1", *(f"Svar {i}" for i in range(7))))
    assert many is not None and [len(row) for row in many["inline_keyboard"]] == [3, 3, 1]
    long_step = keyboard(prompt("a_very_long_step_identifier_indeed_" * 3, "Ja", "Nej"))
    assert long_step is not None
    data = long_step["inline_keyboard"][0][0]["callback_data"]
    assert len(data.encode()) <= 64 and parse_callback(data) == (data.rsplit(":", 1)[0], "0")
    assert keyboard({"text": "Hej"}) is None
    assert parse_callback("12:q1:3") == ("12:q1", "3")
    assert parse_callback("junk") is None and parse_callback("x:q1:3") is None


async def test_the_last_update_seen_is_kept_for_the_channel_health_page(tg: Tg) -> None:
    """Polled updates count like webhook ones (once handled); at most one small write a minute."""
    async def seen(expected: list[tuple[str, str, Any]]) -> None:
        deadline = time.monotonic() + 30
        while (found := [(h.channel, h.signal, h.seen_at) for h in await tg.app.storage.heartbeats()]) != expected:
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.01)

    start = tg.clock.now()
    await tg.linked()
    await seen([("telegram", RECEIVED, start)])
    tg.clock.advance(timedelta(seconds=59))
    tg.fake.user_sends_text(CHAT, USER, "hej")
    await tg.fake.wait_sent(CHAT, 2)
    await asyncio.sleep(0.2)  # time to write, if it were written
    await seen([("telegram", RECEIVED, start)])
    tg.clock.advance(timedelta(seconds=1))
    tg.fake.user_sends_text(CHAT, USER, "hej igen")
    await seen([("telegram", RECEIVED, start + timedelta(seconds=60))])
