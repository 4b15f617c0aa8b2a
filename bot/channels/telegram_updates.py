"""A Telegram update as this bot reads it: the few fields it uses, checked, from the update's JSON.

Updates (from the webhook or from getUpdates) are read straight from their JSON, not through python-telegram-bot's
`Update.de_json`: that builds an object for every part of the update (the chat, the sender, the message, their
optional fields), about 80 µs each, to read five of its fields (bot/channels/telegram_api.py has the figures).

The check is the one a forged or garbled update must pass before anything is done with it: every field read here
has the type the Bot API documents (`"text": 42` is refused, and a bool is no chat id). The webhook answers 400 to an
update that fails it, so Telegram does not send it again; the poller skips it, logged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TelegramUpdate:
    """One update: a message (`text`, from a chat that is `private` or not), a button press (`query_id`, `data`), or
    something this bot does not take (neither: only its `update_id` is read, and it is confirmed)."""

    update_id: int
    chat_id: int | None = None  # a message's chat; a press: the chat of the message with the button, else the presser
    private: bool = False
    text: str = ""  # a message's text, or a photo's caption
    query_id: str | None = None  # set for a button press
    data: str = ""  # the pressed button's callback data
    sender_id: int | None = None  # who sent the message or pressed the button

    @property
    def order_key(self) -> int:
        """Updates with the same key are handled one after another (a chat's), the others at once."""
        return self.chat_id if self.chat_id is not None else self.update_id


def _has(data: object, key: str, kind: type | tuple[type, ...], required: bool = False) -> bool:
    """`data[key]` is of `kind` (bool is not an int here), or absent when not `required`."""
    if not isinstance(data, dict) or (key not in data and not required):
        return isinstance(data, dict)
    value = data.get(key)
    return isinstance(value, kind) and not (isinstance(value, bool) and kind is int)


def _user_ok(user: object) -> bool:
    """A `User` as the Bot API always sends it (python-telegram-bot refused one without these)."""
    return (_has(user, "id", int, required=True) and _has(user, "is_bot", bool, required=True)
            and _has(user, "first_name", str, required=True))


def update_id_of(data: object) -> int | None:
    """The update's id, if it has one (the poller confirms even an update it cannot read)."""
    if not isinstance(data, dict) or not _has(data, "update_id", int, required=True):
        return None
    update_id: int = data["update_id"]
    return update_id


def update_shape_ok(data: object) -> bool:
    """The fields this channel reads have the types the Bot API documents, and those the Bot API always sends are
    there (a forged or garbled update fails; python-telegram-bot's `Update.de_json` refused the same)."""
    if update_id_of(data) is None:
        return False
    assert isinstance(data, dict)
    message, query = data.get("message"), data.get("callback_query")
    if message is not None and not (isinstance(message, dict) and _has(message, "message_id", int, required=True)
                                    and _has(message, "date", int, required=True)
                                    and _has(message, "chat", dict, required=True)
                                    and _has(message["chat"], "id", int, required=True)
                                    and _has(message["chat"], "type", str, required=True)
                                    and _has(message, "text", str) and _has(message, "caption", str)
                                    and _has(message, "from", dict) and ("from" not in message
                                                                         or _user_ok(message["from"]))):
        return False
    if query is not None and not (isinstance(query, dict) and _has(query, "id", str, required=True)
                                  and _has(query, "from", dict, required=True) and _user_ok(query["from"])
                                  and _has(query, "chat_instance", str, required=True) and _has(query, "data", str)
                                  and _has(query, "message", dict)):
        return False
    inner = (query or {}).get("message")
    return inner is None or (_has(inner, "chat", dict, required=True) and _has(inner["chat"], "id", int, required=True))


def read_update(data: object) -> TelegramUpdate | None:
    """The update in a webhook's body or a getUpdates result, or None when it is not one we can read."""
    if not update_shape_ok(data):
        return None
    assert isinstance(data, dict)
    update_id: int = data["update_id"]
    query, message = data.get("callback_query"), data.get("message")
    if query is not None:
        inner = query.get("message")
        presser: int = query["from"]["id"]
        return TelegramUpdate(update_id, inner["chat"]["id"] if inner is not None else presser, query_id=query["id"],
                              data=query.get("data") or "", sender_id=presser)
    if message is not None:
        chat = message["chat"]
        return TelegramUpdate(update_id, chat["id"], private=chat["type"] == "private",
                              text=message.get("text") or message.get("caption") or "",
                              sender_id=(message.get("from") or {}).get("id"))
    return TelegramUpdate(update_id)
