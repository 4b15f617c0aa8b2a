"""Canned replies: texts a coach can start a reply from on the desk's Messages page, per language.

Administrators write them in the deployment file (bot/deployment.yaml)::

    canned_replies:
      da:
        - title: "Jeg ringer"            # what the coach picks it by (at most 60 characters)
          text: "Tak for din besked. Jeg ringer til dig i dag."   # the reply (at most 1000 characters)
      en:
        - title: "I will call"
          text: "Thank you for your message. I will call you today."

The participant's language decides which texts are offered (a Danish participant gets the Danish ones), so a coach
never sends an English text to someone who reads Danish. A coach may change the text before it is sent. Without the
block no texts are offered. Every problem is one line with its line number, like the rest of the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flows.yamlsource import LineList, LineMap

LANGUAGES = ("da", "en")
MAX_TITLE = 60
MAX_TEXT = 1000  # a reply is a chat message (SMS: several parts), not a letter


@dataclass(frozen=True)
class CannedReply:
    title: str
    text: str


CannedReplies = Mapping[str, tuple[CannedReply, ...]]  # language -> its texts, in the file's order


def read_canned_replies(raw: Any, line: int, error: Callable[[int, str], None]) -> CannedReplies:
    """The block checked; every problem goes to `error` with its line (and only the good texts are kept)."""
    if raw is None:
        return {}
    if not isinstance(raw, LineMap):
        error(line, f"canned_replies must be a block with a list of texts for {' and/or '.join(LANGUAGES)}")
        return {}
    found: dict[str, tuple[CannedReply, ...]] = {}
    for lang, items in raw.items():
        if lang not in LANGUAGES:
            error(raw.line_of(lang), f"canned_replies: unknown language {lang!r} (use {', '.join(LANGUAGES)})")
            continue
        if not isinstance(items, LineList):
            error(raw.line_of(lang), f"canned_replies {lang} must be a list of texts, each with a title and a text")
            continue
        found[lang] = tuple(reply for i, item in enumerate(items)
                            if (reply := _reply(item, lang, items.line_of(i), error)) is not None)
    return found


def _reply(item: Any, lang: str, line: int, error: Callable[[int, str], None]) -> CannedReply | None:
    if not isinstance(item, LineMap):
        error(line, f"canned_replies {lang}: each entry needs a title and a text")
        return None
    for key in item:
        if key not in ("title", "text"):
            error(item.line_of(key), f"canned_replies {lang}: unknown key {key!r} (title and text)")
    title, text = item.get("title"), item.get("text")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        error(item.line_of("title"), f"canned_replies {lang}: the title must be text of 1 to {MAX_TITLE} characters")
        return None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        error(item.line_of("text"), f"canned_replies {lang} {title!r}: the text must be 1 to {MAX_TEXT} characters")
        return None
    return CannedReply(title.strip(), text.strip())
