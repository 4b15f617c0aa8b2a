"""The gettext catalogs in locales/ are complete, correct and in step with the code.

A failure here means a participant would get an English message id, a broken placeholder or an English
keyword in a Danish sentence. The fix is almost always the commands in locales/README.md.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.rendering import Catalogs
from flows import phrases

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
DOMAIN = "messages"
LANGUAGES = ("da", "en")
POT = LOCALES / f"{DOMAIN}.pot"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}  # what `pybabel extract -k N_` looks for

# The words a person can type, as shown in capitals in the sentences: English -> Danish.
DANISH_KEYWORDS = {
    "HELP": "HJÆLP",
    "BACK": "TILBAGE",
    "PAUSE": "PAUSE",
    "CONTINUE": "FORTSÆT",
    "LANGUAGE": "SPROG",
    "STOP": "STOP",
    # the coach desk's commands
    "LIST": "LISTE",
    "SHOW": "VIS",
    "OK": "OK",
    "CLOSE": "LUK",
    "RELEASE": "FRIGIV",
    "START": "START",
    "YES": "JA",
    # the programme's words
    "DONE": "FÆRDIG",
    "TIMES": "TIDER",
    "TRE": "TRE",
    "MINE": "MINE",
    # the coaches' overview
    "PARTICIPANTS": "DELTAGERE",
    "TASKS": "OPGAVER",
    "COMPLETED": "UDFØRT",
    "FIND": "SØG",
    # reaching a human (issue 11)
    "CONTACT": "KONTAKT",
    "MESSAGES": "BESKEDER",
    # appointments (issue 15)
    "MOVE": "FLYT",
}
ENGLISH_ONLY_KEYWORDS = re.compile(
    r"\b(?:" + "|".join(en for en, da in DANISH_KEYWORDS.items() if en != da) + r")\b", re.IGNORECASE
)
CAPITALISED_WORD = re.compile(r"\b[A-ZÆØÅ]{2,}\b")
Key = tuple[str, str | None]  # (msgid, msgctxt); the singular for plural messages


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def key(msgid: str | Iterable[str], context: str | None = None) -> Key:
    return (msgid if isinstance(msgid, str) else next(iter(msgid)), context)


def entries(catalog: Catalog) -> list[Message]:
    """The catalog's messages without the header entry."""
    return [m for m in catalog if m.id]


def strings(message: Message) -> list[str]:
    return [message.string] if isinstance(message.string, str) else list(message.string or ())


def readme_commands() -> dict[str, str]:
    """The documented `pybabel extract|update` command lines, by subcommand (no compile: the bot compiles)."""
    text = (LOCALES / "README.md").read_text(encoding="utf-8")
    commands: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) > 1 and words[0] == "pybabel" and words[1] in ("extract", "update", "compile"):
            assert words[1] not in commands, f"locales/README.md documents `pybabel {words[1]}` twice"
            commands[words[1]] = line.strip()
    return commands


def how_to_fix() -> str:
    commands = readme_commands()
    steps = [commands.get(c, f"pybabel {c} ...") for c in ("extract", "update")]
    return (
        "\nFrom the repository root, run (see locales/README.md):\n"
        f"  {steps[0]}\n  {steps[1]}\n"
        "  ...then translate every empty or fuzzy entry in locales/da and locales/en."
    )


def code_msgids() -> set[Key]:
    """A fresh extraction, as `pybabel extract` does it: babel.cfg's files, default keywords plus N_."""
    with (LOCALES / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(LOCALES / "babel.cfg"))
    found = extract_from_dir(ROOT, method_map, options_map, keywords=KEYWORDS)
    return {key(message, context) for _filename, _lineno, message, _comments, context in found}


def format_fields(text: str) -> set[str]:
    """The `{name}` fields of a str.format string; raises ValueError on a stray brace."""
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None}


def failures_message(title: str, failures: list[str]) -> str:
    return f"{title}:\n  " + "\n  ".join(failures)


# -- 1. the files ---------------------------------------------------------------------------------------


def test_tooling_files_exist() -> None:
    for path in (LOCALES / "babel.cfg", POT, LOCALES / "README.md"):
        assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    assert set(readme_commands()) == {"extract", "update"}, "locales/README.md must give both"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogs_exist(lang: str) -> None:
    assert po_path(lang).is_file(), f"{po_path(lang).relative_to(ROOT)} is missing" + how_to_fix()
    assert not (po_path(lang).with_suffix(".mo")).exists(), "no compiled .mo: the bot compiles the .po at start"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_headers(lang: str) -> None:
    catalog = read_catalog(po_path(lang), lang)
    assert not catalog.fuzzy, "the header entry is marked fuzzy"
    assert catalog.project == "stressbot"
    assert str(catalog.locale) == lang
    assert catalog.mime_headers and dict(catalog.mime_headers)["Language"] == lang
    assert dict(catalog.mime_headers)["Plural-Forms"] == "nplurals=2; plural=(n != 1);"


# -- 2. every sentence translated, in the .po and in what the bot compiles from it ----------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_phrase_translated_in_po(lang: str) -> None:
    catalog = read_catalog(po_path(lang), lang)
    failures = []
    for msgid in phrases.ALL:
        message = catalog.get(msgid)
        if message is None:
            failures.append(f"missing: {msgid!r}")
        elif message.fuzzy:
            failures.append(f"fuzzy (check it, then delete the fuzzy flag): {msgid!r}")
        elif not all(s.strip() for s in strings(message)) or not strings(message):
            failures.append(f"not translated: {msgid!r}")
    assert not failures, failures_message(f"locales/{lang} .po", failures) + how_to_fix()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_po_entries_all_translated_and_match_template(lang: str) -> None:
    """Beyond phrases.ALL: any other marked string (say `_()` in bot/) and the template itself."""
    catalog = read_catalog(po_path(lang), lang)
    failures = [f"fuzzy or empty: {m.id!r}" for m in entries(catalog) if m.fuzzy or not all(strings(m))]
    template = {key(m.id, m.context) for m in entries(read_catalog(POT))}
    ids = {key(m.id, m.context) for m in entries(catalog)}
    failures += [f"in messages.pot, not in the .po: {k[0]!r}" for k in sorted(template - ids, key=str)]
    failures += [f"in the .po, not in messages.pot: {k[0]!r}" for k in sorted(ids - template, key=str)]
    assert not failures, failures_message(f"locales/{lang} .po", failures) + how_to_fix()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_phrase_translated_in_the_compiled_catalog(lang: str) -> None:
    """What the bot speaks: fuzzy and empty entries are left out by the compile, so they show up here."""
    compiled = Catalogs((lang,))
    if lang == "en":  # English text is the msgid itself, so gettext cannot tell found from missing
        missing = [msgid for msgid in phrases.ALL if not compiled.has_translation(lang, msgid)]
    else:
        missing = [msgid for msgid in phrases.ALL if compiled.gettext(lang, msgid) == msgid]
    listing = [repr(m) for m in missing]
    assert not missing, failures_message(f"not in the compiled locales/{lang} catalog", listing) + how_to_fix()


# -- 3. placeholders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match_msgid(lang: str) -> None:
    failures = []
    for message in entries(read_catalog(po_path(lang), lang)):
        msgid = key(message.id)[0]
        wanted = format_fields(msgid)
        for text in filter(None, strings(message)):  # empty ones fail test_every_phrase_translated_in_po
            try:
                fields = format_fields(text)
                text.format(**dict.fromkeys(fields, "x"))
            except (ValueError, IndexError, KeyError) as e:
                failures.append(f"{text!r} cannot be formatted ({e}); msgid {msgid!r}")
                continue
            if fields != wanted:
                failures.append(f"{text!r} has {sorted(fields)}, msgid has {sorted(wanted)}: {msgid!r}")
    assert not failures, failures_message(f"locales/{lang} placeholders differ from the msgid", failures)


# -- 4. the template is in step with the code -----------------------------------------------------------


def test_template_matches_code() -> None:
    in_code = code_msgids()
    in_template = {key(m.id, m.context) for m in entries(read_catalog(POT))}
    added = sorted(k[0] for k in in_code - in_template)
    removed = sorted(k[0] for k in in_template - in_code)
    failures = [f"new in the code: {m!r}" for m in added] + [f"gone from the code: {m!r}" for m in removed]
    assert not failures, failures_message("locales/messages.pot is out of date", failures) + how_to_fix()


def test_every_phrase_is_marked() -> None:
    in_code = {msgid for msgid, _context in code_msgids()}
    unmarked = [msgid for msgid in phrases.ALL if msgid not in in_code]
    assert not unmarked, failures_message("in flows/phrases.py without N_(...)", [repr(m) for m in unmarked])


def test_readme_commands_match_this_test() -> None:
    """The documented commands extract and update what these tests check."""
    commands = readme_commands()
    extract = commands["extract"].split()
    for flag in ("-F locales/babel.cfg", "-k N_", "-o locales/messages.pot"):
        assert flag in commands["extract"], f"`pybabel extract` in locales/README.md lacks {flag}"
    assert "--no-default-keywords" not in extract
    assert extract[-1] == ".", "babel.cfg's patterns are relative to the repository root, the input path"
    for flag in ("-i locales/messages.pot", "-d locales", "-D messages"):
        assert flag in commands["update"], f"`pybabel update` in locales/README.md lacks {flag}"
    assert "compile" not in commands, "no `pybabel compile` step: the bot compiles the .po files when it starts"


# -- 5. keywords and special sentences ------------------------------------------------------------------


def keywords_in(text: str) -> Counter[str]:
    return Counter(CAPITALISED_WORD.findall(text))


def test_danish_uses_danish_keywords() -> None:
    failures = []
    for message in entries(read_catalog(po_path("da"), "da")):
        msgid = key(message.id)[0]
        wanted = Counter({DANISH_KEYWORDS.get(w, w): n for w, n in keywords_in(msgid).items()})
        for text in strings(message):
            english = ENGLISH_ONLY_KEYWORDS.findall(text)
            if english:
                failures.append(f"English keyword {english} in {text!r}")
            found = keywords_in(text)
            if found != wanted:
                failures.append(f"{sorted(found.elements())}, not {sorted(wanted.elements())}: {text!r}")
    assert not failures, failures_message(
        f"Danish keywords are {', '.join(DANISH_KEYWORDS.values())}, in capitals, one for each in the msgid",
        failures,
    )


def test_english_keeps_english_keywords() -> None:
    failures = []
    for message in entries(read_catalog(po_path("en"), "en")):
        msgid = key(message.id)[0]
        for text in strings(message):
            if keywords_in(text) != keywords_in(msgid):
                failures.append(f"{text!r} (msgid {msgid!r})")
    assert not failures, failures_message("English keywords differ from the msgid", failures)


def test_language_changed_names_the_new_language() -> None:
    """LANGUAGE_CHANGED is rendered after the switch, in the language the person switched to."""
    danish = read_catalog(po_path("da"), "da")[phrases.LANGUAGE_CHANGED]
    english = read_catalog(po_path("en"), "en")[phrases.LANGUAGE_CHANGED]
    assert danish is not None and english is not None
    assert "dansk" in danish.string and "engelsk" not in danish.string.lower(), danish.string
    assert "English" in english.string and "Danish" not in english.string, english.string


def test_yes_no_button_labels() -> None:
    danish = read_catalog(po_path("da"), "da")
    assert (danish[phrases.YES].string, danish[phrases.NO].string) == ("Ja", "Nej")
