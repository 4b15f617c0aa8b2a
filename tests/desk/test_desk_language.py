"""No English words on a Danish desk page, and no Danish on an English one (issue 14).

The clinical lead logs in (an administrator sees every page's full content) over a desk with something on every page:
an open alert, a message for a human, a participant who lived through twelve weeks, with a note and a coach's pause,
tasks open, overdue and done, an appointment booked.
Then every GET page the app has (read from its routes, so a new page is checked the day it is added), and each page's
notices (`?done=`), are opened in Danish and in English. A Danish page fails if it shows an English message id whose
Danish differs; an English page if it shows such a Danish translation. Both come from the catalogs themselves.

What people wrote (messages, notes, an alert's trigger, the bot's own texts to a Danish participant) is theirs, not
the desk's: it is left out of the check, as is anything marked `translate="no"` or with a `lang` of its own (the
language switch names "English" in English).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Page
from starlette.routing import Route

from bot.desk.app import create_desk_app
from flows.inputs import Text
from storage.records import Enrollment
from tests.conftest import T0
from tests.desk.live import TIMELINE_MS, LiveDesk, screenshot
from tests.desk.test_desk_person import START, csrf, lived_twelve_weeks

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "bot" / "desk" / "templates"
ANNA, BO = "p-anna", "p-bo"
NOT_PAGES = {"/health": "the probe's plain 'ok'",
             "/oidc/start": "needs an identity provider (tests/desk/test_desk_login.py)",
             "/oidc/callback": "needs an identity provider (tests/desk/test_desk_login.py)",
             "/admin/report/download": "a file to download (tests/desk/test_desk_admin_report.py)",
             "/admin/report/report.css": "the report's stylesheet"}
QUERIES = {"/messages/{id:int}/canned": "canned=0"}  # what the page's own links and forms add
NOTICES = {"/alerts": "alerts.html", "/messages": "messages.html", "/people/{ref:str}": "person.html",
           "/tasks": "tasks.html", "/appointments": "appointments.html"}
THEIR_OWN_WORDS = "blockquote, .text, .answers, [translate=no]"  # people's words, shown as written
# The page's text as a coach meets it: what is shown, the title, and what a screen reader or a script says (labels,
# tooltips, messages kept in data- attributes), without people's own words and parts in another declared language.
READ = """([own, lang]) => {
  document.querySelectorAll(own).forEach(e => e.remove());
  document.querySelectorAll('body [lang]').forEach(e => { if (e.lang !== lang) e.remove(); });
  const said = [];
  for (const e of document.body.querySelectorAll('*')) {
    for (const a of e.attributes) {
      if (['aria-label', 'title', 'alt', 'placeholder'].includes(a.name) || (a.name.startsWith('data-')
          && a.value.includes(' '))) said.push(a.value);
    }
  }
  return [document.title, document.body.innerText, ...said].join('\\n');
}"""


def pattern(text: str) -> re.Pattern[str]:
    """The sentence as it shows on a page: a value on the line for a {placeholder}, any run of spaces for one (of
    white space for one with a line break)."""
    parts = []
    for literal in re.split(r"\{[^{}]*\}", text):
        pieces = re.split(r"(\s+)", literal)
        parts.append("".join((r"\s+" if "\n" in piece else r"[^\S\n]+") if piece.isspace() else re.escape(piece)
                             for piece in pieces if piece))
    body = r"[^\n]+?".join(parts)
    start = r"(?<!\w)" if re.match(r"\w", text) else ""
    end = r"(?!\w)" if re.search(r"\w$", text) else ""
    return re.compile(start + body + end)


def telling(sentence: str, translations: list[str]) -> bool:
    """Whether the sentence can be told from its translations on a page: three letters of its own at least ("{n}
    min" is also in "45 min."; "{first} to {last}" in Danish "dagen før og to timer før")."""
    letters = re.findall(r"[^\W\d_]", re.sub(r"\{[^{}]*\}", "", sentence))
    return len(letters) >= 3 and not any(pattern(sentence).search(t) for t in translations)


def differing() -> tuple[dict[str, re.Pattern[str]], dict[str, re.Pattern[str]]]:
    """(English ids, their Danish): every sentence whose Danish tells it apart from the English, as patterns."""
    with (ROOT / "locales" / "da" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="da")
    english: dict[str, re.Pattern[str]] = {}
    danish: dict[str, re.Pattern[str]] = {}
    for message in catalog:
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        texts = [message.string] if isinstance(message.string, str) else list(message.string or ())
        if not message.id:
            continue
        english.update({en: pattern(en) for en in ids if telling(en, texts)})
        danish.update({da: pattern(da) for da in texts if telling(da, ids)})
    return english, danish


def seeded(live: LiveDesk, page: Page) -> dict[tuple[str, str], str]:
    """Something on every page; the values for the routes' path parameters, by (first path segment, name)."""
    lived_twelve_weeks(live, ANNA)  # charts, timeline, upcoming messages, and words that opened an alert

    async def bo_writes() -> tuple[int, int]:
        storage, now = live.app.storage, live.clock.now()
        bo = await storage.enroll(Enrollment(BO, "Bo Hansen", "da", T0.date(), "backup"), now)
        await live.app.loop.handle(bo, Text("KONTAKT"), "console")  # a task for the coach
        contact = max(t.id for t in await storage.coach_tasks() if t.participant_id == bo.id)
        await live.app.loop.handle(bo, Text("Kan I ringe til mig i morgen? Jeg har det ikke så godt"), "console")
        await storage.task_unread_messages(now + timedelta(seconds=1), now, now - timedelta(hours=1))  # overdue
        return max(m.id for m in await storage.coach_messages() if m.participant_ref == BO), contact
    message, contact = live.run(bo_writes())
    live.log_in(page, "lead", "/alerts")
    token = csrf(page)
    for path, form in ((f"/people/{ANNA}/note", {"note": "Ringede til Anna, aftalt møde torsdag"}),
                       (f"/people/{ANNA}/programme", {"action": "pause", "reason": "Indlagt, tager en pause",
                                                      "until": (START + timedelta(days=100)).isoformat()}),
                       (f"/tasks/{contact}/done", {"note": "Ringet op"}),
                       ("/appointments", {"kind": "screening", "minutes": "45", "place": "Rådhuset, lokale 2",
                                          "time": (live.clock.now() + timedelta(days=3)).strftime("%d-%m-%Y 14:00"),
                                          "people": f"{ANNA} {BO}"})):
        assert page.request.post(f"{live.url}{path}", form={**form, "csrf": token}).ok
    return {("people", "ref"): ANNA, ("messages", "id"): str(message)}


def page_urls(live: LiveDesk, values: dict[tuple[str, str], str]) -> dict[str, str]:
    """Every GET route of the desk as a URL with its parameters filled in, by the route's path."""
    urls = {}
    for route in create_desk_app(live.desk).routes:
        if not isinstance(route, Route) or "GET" not in (route.methods or ()) or route.path in NOT_PAGES:
            continue
        first = route.path.strip("/").split("/")[0]

        def value(match: re.Match[str], first: str = first, path: str = route.path) -> str:
            name = match[1]
            if (first, name) not in values:
                pytest.fail(f"{path}: give `{name}` a seeded value in seeded() (or list it in NOT_PAGES)")
            return values[(first, name)]
        url = re.sub(r"\{(\w+)(?::\w+)?\}", value, route.path)
        query = QUERIES.get(route.path)
        urls[route.path] = f"{url}?{query}" if query else url
    assert {"/alerts", "/messages", "/people", "/people/{ref:str}", "/tasks", "/figures", "/appointments",
            "/account"} <= set(urls)
    return urls


def notices(urls: dict[str, str]) -> list[str]:
    """Each page again with each notice its template can show (`done == "..."`), and one it does not know."""
    found = []
    for path, template in NOTICES.items():
        kinds = re.findall(r'done == "(\w+)"', (TEMPLATES / template).read_text(encoding="utf-8"))
        found += [f"{urls[path]}?done={kind}&id=7&at=2026-11-24T07:00:00%2B00:00" for kind in [*kinds, "other"]]
    return found


def visible(page: Page, url: str, lang: str) -> str:
    computes = "/admin/programme" in url  # the timeline, on the first visit (TIMELINE_MS)
    response = page.goto(f"{url}{'&' if '?' in url else '?'}lang={lang}", timeout=TIMELINE_MS if computes else None)
    assert response is not None and response.status in (200, 404), f"{url}: {response and response.status}"
    return str(page.evaluate(READ, [THEIR_OWN_WORDS, lang]))


def words_of_the_other_language(text: str, other: dict[str, re.Pattern[str]]) -> list[str]:
    return sorted(sentence for sentence, found in other.items() if found.search(text))


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r":\w+", "", path).lower()).strip("-") or "home"


def test_danish_pages_show_no_english_and_english_pages_no_danish(live: LiveDesk, page: Page) -> None:
    english, danish = differing()
    assert english["Alerts"].search("Alerts (2)") and danish["Alarmer"].search("Alarmer")  # the check can fail
    assert not english["sent"].search("sendt") and english["Week {week}"].search("Week 13")

    found: dict[tuple[str, str], list[str]] = {}  # (language of the page, the other language's sentence): where

    def check(url: str, lang: str) -> None:
        text = visible(page, url, lang)
        for sentence in words_of_the_other_language(text, english if lang == "da" else danish):
            found.setdefault((lang, sentence), []).append(url.removeprefix(live.url))

    for lang in ("da", "en"):  # logged out
        check(f"{live.url}/login", lang)
    screenshot(page, "da-login")
    urls = page_urls(live, seeded(live, page))
    pages = {slug(path): f"{live.url}{url}" for path, url in urls.items()}
    pages["person-missing"] = f"{live.url}/people/p-nobody"
    for name, url in pages.items():
        check(url, "en")
        check(url, "da")
        page.goto(page.url)  # the page as the coach sees it, people's words and all
        screenshot(page, f"da-{name}")
    for url in notices(urls):
        check(f"{live.url}{url}", "da")
        check(f"{live.url}{url}", "en")
    assert not found, "the other language on a page (translate it in locales/, see locales/README.md):\n  " + \
        "\n  ".join(f"{lang} page: {sentence!r} on {where[0]}" + (f" and {len(where) - 1} more" if where[1:] else "")
                     for (lang, sentence), where in found.items())
