"""The channel health verdicts in plain words (bot/desk/channel_health.py), for the cases the browser test does not
walk through: a channel not set up, retries with a reason that carries a number, the console, the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.desk.channel_health import ATTENTION, PROBLEM, channel_health, without_numbers
from storage.admin_records import RECEIVED, ChannelOutbox, Heartbeat

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def outbox(channel: str, **counts: object) -> ChannelOutbox:
    values: dict[str, object] = {"waiting": 0, "due": 0, "oldest_due": None, "retrying": 0, "given_up": 0,
                                 "latest_failure": None, **counts}
    return ChannelOutbox(channel, **values)  # type: ignore[arg-type]


def test_messages_for_a_channel_the_settings_lack_are_said_to_wait_for_it() -> None:
    [sms] = channel_health([], [outbox("sms", waiting=3, due=3, oldest_due=NOW - timedelta(hours=5))], [], NOW,
                           office_hours=True)
    assert (sms.set_up, sms.level, [(v.key, v.count) for v in sms.verdicts]) == (False, PROBLEM, [("not_set_up", 3)])


def test_retries_are_worth_a_look_with_their_reason_and_without_a_number() -> None:
    [telegram] = channel_health(["telegram"], [outbox("telegram", waiting=2, due=0, retrying=2,
                                                      latest_failure="Chat not found: 5551234567")],
                                [Heartbeat("telegram", RECEIVED, NOW - timedelta(minutes=1))], NOW, True)
    assert telegram.level == ATTENTION
    assert [(v.key, v.count, v.reason) for v in telegram.verdicts] == [("retrying", 2, "Chat not found: …")]


def test_the_worst_comes_first_and_the_set_up_channels_before_the_others() -> None:
    found = channel_health(["telegram", "sms"], [outbox("console", waiting=1, due=1, oldest_due=NOW),
                                                 outbox("sms", retrying=1, waiting=1, given_up=2)], [], NOW, False)
    assert [c.channel for c in found] == ["sms", "telegram", "console"]
    assert [v.key for v in found[0].verdicts] == ["given_up", "never_received", "retrying"]
    assert [v.key for v in found[2].verdicts] == ["fine"]  # the console: a terminal, nothing to receive


def test_numbers_are_hidden_and_error_codes_kept() -> None:
    assert without_numbers("21610: to +45 20 12 34 56 refused (30008)") == "21610: to … refused (30008)"
