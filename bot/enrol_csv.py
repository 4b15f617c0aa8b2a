"""Reading an administrator's list of participants as Excel and other programs write it.

Danish Excel saves "CSV (semikolonsepareret)" with `;` between the columns, in Windows-1252, and "CSV UTF-8" with a
byte order mark in front; other programs write `,` and UTF-8. Dates come as 23-11-2026, 23.11.2026, 23/11/2026 or
2026-11-23. The columns may be named in English or Danish (navn, telefon, sprog, startdato, hold...). Every row is
read whatever is wrong with it, and every problem of a row is listed (a row is not dropped at its first problem),
so the administrator can fix the whole file in one go; nothing here echoes a phone number.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from bot.enroll import CSV_COLUMNS, EnrolmentRequest, Problem
from flows.phrases import N_

MAX_ROWS = 500  # a municipality's cohort is 10-200 people; a bigger file is more likely a wrong file
_DATE = re.compile(r"^(?:(?P<d>\d{1,2})[-./](?P<m>\d{1,2})[-./](?P<y>\d{2}|\d{4})|(?P<iy>\d{4})-(?P<im>\d{1,2})-"
                   r"(?P<id>\d{1,2}))$")
YES = frozenset({"1", "x", "ja", "j", "yes", "y", "true", "sand"})
NO = frozenset({"", "0", "nej", "n", "no", "false", "falsk", "-"})
LANGS = {"da": "da", "dansk": "da", "danish": "da", "en": "en", "engelsk": "en", "english": "en"}
# A column's name as an administrator may write it -> the column (a header is matched without case and spaces)
ALIASES = {
    "navn": "name", "fuldenavn": "name", "fullname": "name",
    "telefon": "phone", "telefonnummer": "phone", "tlf": "phone", "mobil": "phone", "mobilnummer": "phone",
    "mobile": "phone",
    "sprog": "lang", "language": "lang",
    "startdato": "start_date", "start": "start_date", "startdate": "start_date",
    "vejleder": "coach", "koordinator": "coach",
    "hold": "cohort", "kohorte": "cohort", "gruppe": "cohort",
    "forløb": "programme", "forlob": "programme", "program": "programme",
}

# TRANSLATORS: problems of an enrolment file or one of its rows, shown in the desk's preview
BAD_DATE = N_("The start date {value} is not a date: write it as 23-11-2026 or 2026-11-23.")
SHORT_YEAR = N_("The start date {value} has a two-digit year: write the year in full, e.g. 23-11-2026.")
BAD_TELEGRAM = N_("The telegram column says {value}: write ja (yes) or leave it empty.")
BAD_LANG_VALUE = N_("The language {value} is not da (Danish) or en (English).")
EMPTY_FILE = N_("The file is empty.")
NO_NAME_COLUMN = N_("The first line must name the columns, one of them name (or navn). Found: {found}.")
UNKNOWN_COLUMNS = N_("These columns are not read: {columns}. The columns are name, phone, telegram, lang, "
                     "start_date, coach, cohort and programme (in Danish also navn, telefon, sprog, startdato, "
                     "vejleder, hold, forløb).")
DOUBLE_COLUMN = N_("The column {column} is there twice.")
TOO_MANY_ROWS = N_("The file has {rows} rows; at most {limit} can be enrolled at a time: split it in parts.")
NOT_TEXT = N_("The file is not a CSV file: save it from Excel as CSV (semikolonsepareret or UTF-8).")


@dataclass(frozen=True)
class CsvRow:
    line: int  # the line in the file (the header is line 1), as the administrator's spreadsheet numbers it
    request: EnrolmentRequest  # what could be read (a field that could not is left empty)
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class CsvFile:
    rows: tuple[CsvRow, ...]
    problems: tuple[Problem, ...] = ()  # the file's own: no header, unknown columns, too many rows


class DateError(ValueError):
    """A start date that is not one, with the Problem that says how to write it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.english())
        self.problem = problem


def parse_date(text: str) -> date:
    """23-11-2026, 23.11.2026, 23/11/2026, 2026-11-23 (and single digits: 1-2-2027); DateError (a ValueError)
    with the Problem to show otherwise."""
    value = text.strip()
    found = _DATE.match(value)
    if found is None:
        raise DateError(Problem(BAD_DATE, {"value": value}, code="date"))
    g = found.groupdict()
    if g["y"] is not None and len(g["y"]) == 2:
        raise DateError(Problem(SHORT_YEAR, {"value": value}, code="date"))
    try:
        return date(int(g["y"] or g["iy"]), int(g["m"] or g["im"]), int(g["d"] or g["id"]))
    except ValueError:
        raise DateError(Problem(BAD_DATE, {"value": value}, code="date")) from None


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without Excel's byte order mark), else Windows-1252 (Excel's own CSV)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _column(name: str) -> str:
    key = re.sub(r"[\s_\-]", "", name.strip().lower())
    for column in CSV_COLUMNS:
        if key == column.replace("_", ""):
            return column
    return ALIASES.get(key, name.strip())


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def read_csv(text: str) -> CsvFile:
    """The rows of a participants' file, each with every problem found in it alone (bot/enrol_review.py adds
    those that need the storage: a number already enrolled, the same number twice, an unknown cohort)."""
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        return CsvFile((), (Problem(NOT_TEXT),))
    lines = [line for line in text.splitlines() if line.strip(" ;,\t")]
    if not lines:
        return CsvFile((), (Problem(EMPTY_FILE),))
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0]))
    header = next(reader)
    columns = [_column(name) for name in header]
    problems = [Problem(DOUBLE_COLUMN, {"column": c}) for c in sorted({c for c in columns if columns.count(c) > 1})
                if c in CSV_COLUMNS]
    if "name" not in columns:
        found = ", ".join(name.strip() for name in header if name.strip()) or "–"
        return CsvFile((), (Problem(NO_NAME_COLUMN, {"found": found}),))
    unknown = [name for name in columns if name not in CSV_COLUMNS and name]
    if unknown:
        problems.append(Problem(UNKNOWN_COLUMNS, {"columns": ", ".join(unknown)}))
    rows: list[CsvRow] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # Excel leaves empty lines (;;;;;;) below a table
        values = {column: cell.strip() for column, cell in zip(columns, cells, strict=False)}
        rows.append(_row(reader.line_num, values))
    if len(rows) > MAX_ROWS:
        problems.append(Problem(TOO_MANY_ROWS, {"rows": str(len(rows)), "limit": str(MAX_ROWS)}))
    return CsvFile(tuple(rows), tuple(problems))


def _row(line: int, values: dict[str, str]) -> CsvRow:
    problems: list[Problem] = []
    start = None
    if values.get("start_date"):
        try:
            start = parse_date(values["start_date"])
        except DateError as exc:
            problems.append(exc.problem)
    said = values.get("telegram", "").lower()
    if said not in YES | NO:
        problems.append(Problem(BAD_TELEGRAM, {"value": values.get("telegram", "")}))
    lang_value = values.get("lang", "").lower() or "da"
    lang = LANGS.get(lang_value)
    if lang is None:
        problems.append(Problem(BAD_LANG_VALUE, {"value": values.get("lang", "")}))
    request = EnrolmentRequest(
        name=values.get("name", ""),
        phone=values.get("phone") or None,
        telegram=said in YES,
        lang=lang or "da",
        start_date=start,
        coach=values.get("coach") or None,
        cohort=values.get("cohort") or None,
        programme=values.get("programme") or None,
    )
    return CsvRow(line, request, tuple(problems))
