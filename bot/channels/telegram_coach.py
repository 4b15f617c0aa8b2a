"""Telegram for coaches: alerts with buttons, a command menu of their own, and button presses that do what typing does.

A coach whose configured chat ("telegram:<chat id>" in the deployment) is their desk gets each alert with two buttons,
OK (acknowledge) and Vis (show), under it. A press is turned into the command the coach would have typed ("ok 12",
"vis 12") and handled by the same desk (bot/coach.py), so the rules, the answers and the audit rows are the typed
command's; a press in any other chat does nothing. Each coach's chat gets the desk's commands as its menu
(setMyCommands with a chat scope), instead of the participants' menu, in the coaches' language.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")  # see bot/channels/telegram.py

from telegram import BotCommand, BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup

from bot.channels.pacing import by_priority
from bot.deployment import Coach
from bot.escalation import COACH_LANG
from bot.rendering import Catalogs
from flows.phrases import N_
from storage.records import Priority

PREFIX = "coach"
ALERT_BUTTONS = (("OK", "ok"), ("Vis", "vis"))  # the label, and the desk command it stands for (bot/coach.py)
_PRESS = re.compile(rf"^{PREFIX}:(ok|vis):([0-9]{{1,9}})$")
# The coaches' menu: the desk's commands (Danish, as typed) with what they do
COACH_COMMANDS = {
    "liste": N_("Open alerts"),
    "vis": N_("Show an alert: /vis 12"),
    "ok": N_("Acknowledge an alert: /ok 12"),
    "luk": N_("Close an alert with what was done: /luk 12 note"),
    "frigiv": N_("Allow routine questionnaires again: /frigiv 12"),
    "deltagere": N_("My participants"),
    "opgaver": N_("Open tasks"),
    "beskeder": N_("Messages for you"),
    "soeg": N_("Find a participant: /soeg name"),
}


def alert_keyboard(escalation_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=f"{PREFIX}:{command}:{escalation_id}")
                                  for label, command in ALERT_BUTTONS]])


def desk_command(data: str) -> str | None:
    """"ok 12" for the data of an alert's OK button; None for data that is not a coach's button."""
    pressed = _PRESS.match(data)
    return None if pressed is None else f"{pressed[1]} {pressed[2]}"


def is_coach_button(data: str) -> bool:
    return data.startswith(f"{PREFIX}:")


def coach_menu(catalogs: Catalogs) -> list[BotCommand]:
    return [BotCommand(name, catalogs.gettext(COACH_LANG, about)) for name, about in COACH_COMMANDS.items()]


async def set_coach_menus(bot: Any, coaches: Iterable[Coach], catalogs: Catalogs) -> int:
    """Each coach's chat gets the desk's menu (a chat scope overrides the participants' default menu there)."""
    menu, done = coach_menu(catalogs), 0
    for coach in coaches:
        chat = coach.telegram_chat()
        if chat is not None and chat.lstrip("-").isdigit():
            await bot.set_my_commands(menu, scope=BotCommandScopeChat(int(chat)))
            done += 1
    return done


class TelegramCoachChannel:
    """Risk alerts to a coach's Telegram chat ("telegram:<chat id>" in the configuration), with OK and Vis buttons."""

    name = "telegram"

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def notify(self, coach: Coach, text: str, address: str = "") -> None:
        await self._send(coach, text, address, None)

    async def notify_alert(self, coach: Coach, text: str, address: str, escalation_id: int) -> None:
        await self._send(coach, text, address, alert_keyboard(escalation_id))

    async def _send(self, coach: Coach, text: str, address: str, buttons: InlineKeyboardMarkup | None) -> None:
        if not address.lstrip("-").isdigit():
            raise LookupError(f"coach {coach.id} has no Telegram chat id in the configuration")
        # ahead of every participant message on the bot's one budget (bot/channels/pacing.py)
        await self.bot.send_message(chat_id=int(address), text=text, reply_markup=buttons,
                                    rate_limit_args=by_priority(Priority.URGENT))
