"""Reading the administrator's list as Danish Excel saves it, and the check before anyone is enrolled.

The files are what an administrator has: "CSV (semikolonsepareret)" in Windows-1252, "CSV UTF-8" with its byte order
mark, a comma-separated export, Danish column names and dates. Every problem of every row is listed, and the check
that needs the stored data (a number already enrolled, a cohort typo, a start date in the past) says what it found,
on a real SQLite file with the shipped programme.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.app import App
from bot.enrol_csv import MAX_ROWS, DateError, decode, parse_date, read_csv
from bot.enrol_past import ASKED_NOW, MISSED_NOW, NOT_ASKED, past_start
from bot.enrol_review import Setting, review
from bot.enroll import EnrolmentRequest, enrol
from bot.flowregistry import SHIPPED_PROGRAMME
from bot.invites import SHOW, SMS, SMS_LINK, send_invite
from flows.programme import Programme
from flows.programme_loader import load_programme
from tests.conftest import T0

DANISH_EXCEL = ("Navn;Telefon;Telegram;Sprog;Startdato;Vejleder;Hold\r\n"
                "Søren Ærø;12 34 56 78;ja;da;23-11-2026;coach;bornholm-2026-4\r\n"
                "Bo Berg;+46 70 123 45 67;;en;1.12.2026;;\r\n"
                ";;;;;;\r\n")  # Excel's empty line under the table


@pytest.fixture(scope="module")
def programme() -> Programme:
    """The shipped programme (seed 002): waves on days 0, 28, 84 and 182, eight weekly modules."""
    loaded, problems = load_programme(SHIPPED_PROGRAMME)
    assert loaded is not None, problems
    return loaded


def english(file_text: str) -> list[tuple[int, list[str]]]:
    return [(row.line, [p.english() for p in row.problems]) for row in read_csv(file_text).rows]


def test_a_danish_excel_file_in_windows_1252_is_read_with_its_dates_and_danish_columns() -> None:
    read = read_csv(decode(DANISH_EXCEL.encode("cp1252")))
    assert read.problems == ()
    assert [(r.line, r.request) for r in read.rows] == [
        (2, EnrolmentRequest("Søren Ærø", "12 34 56 78", True, "da", date(2026, 11, 23), "coach", "bornholm-2026-4")),
        (3, EnrolmentRequest("Bo Berg", "+46 70 123 45 67", False, "en", date(2026, 12, 1), None, None))]
    assert all(r.problems == () for r in read.rows)


def test_a_utf8_file_with_excels_byte_order_mark_reads_the_same() -> None:
    utf8 = decode(b"\xef\xbb\xbf" + DANISH_EXCEL.encode("utf-8"))
    assert utf8 == DANISH_EXCEL
    assert read_csv(utf8) == read_csv(decode(DANISH_EXCEL.encode("cp1252")))


def test_a_comma_separated_file_with_english_columns_and_iso_dates() -> None:
    read = read_csv("name,phone,telegram,lang,start_date,coach,cohort\nAnna,12345678,yes,en,2026-11-23,,\n")
    assert read.problems == () and read.rows[0].request.start_date == date(2026, 11, 23)
    assert read.rows[0].request.telegram and read.rows[0].request.lang == "en"


@pytest.mark.parametrize(("written", "meant"), [
    ("23-11-2026", date(2026, 11, 23)), ("23.11.2026", date(2026, 11, 23)), ("23/11/2026", date(2026, 11, 23)),
    ("2026-11-23", date(2026, 11, 23)), ("1-2-2027", date(2027, 2, 1)), (" 01.02.2027 ", date(2027, 2, 1))])
def test_dates_as_danes_and_iso_write_them(written: str, meant: date) -> None:
    assert parse_date(written) == meant


@pytest.mark.parametrize(("written", "says"), [
    ("31-11-2026", "is not a date"), ("11/23/2026", "is not a date"), ("23-11-26", "two-digit year"),
    ("i morgen", "is not a date"), ("2026-31-12", "is not a date")])
def test_a_date_that_is_not_one_says_how_to_write_it(written: str, says: str) -> None:
    with pytest.raises(DateError, match=says):
        parse_date(written)


def test_every_problem_of_a_row_is_listed_not_only_the_first() -> None:
    text = ("navn;telefon;telegram;sprog;startdato\n"
            "Anna;12345678;måske;fr;31-02-2026\n"  # three problems in one row
            "Bo;87654321;nej;;23-11-26\n")
    assert english(text) == [
        (2, ["The start date 31-02-2026 is not a date: write it as 23-11-2026 or 2026-11-23.",
             "The telegram column says måske: write ja (yes) or leave it empty.",
             "The language fr is not da (Danish) or en (English)."]),
        (3, ["The start date 23-11-26 has a two-digit year: write the year in full, e.g. 23-11-2026."])]


def test_the_files_own_problems_unknown_columns_no_name_column_too_many_rows() -> None:
    unknown = read_csv("navn;mobil;email\nAnna;12345678;anna@example.dk\n")
    assert unknown.problems[0].english().startswith("These columns are not read: email.")
    assert unknown.rows[0].request.phone == "12345678"  # "mobil" is the phone column
    assert [p.english() for p in read_csv("fornavn;telefon\nAnna;12345678\n").problems] == [
        "The first line must name the columns, one of them name (or navn). Found: fornavn, telefon."]
    assert [p.english() for p in read_csv("").problems] == ["The file is empty."]
    many = read_csv("name\n" + "".join(f"Person {n}\n" for n in range(MAX_ROWS + 1)))
    assert [p.english() for p in many.problems] == [
        f"The file has {MAX_ROWS + 1} rows; at most {MAX_ROWS} can be enrolled at a time: split it in parts."]


async def test_the_check_finds_what_needs_the_stored_data(app: App) -> None:
    """A number already enrolled (said by its ref), the same number twice, a cohort typo: all at once."""
    anna = await enrol(app.storage, EnrolmentRequest("Anna", "12345678", cohort="bornholm-2026-4"),
                       app.deployment.coaches, app.clock.now(), "")
    rows = read_csv("navn;telefon;hold;telegram\n"
                    "Bo;12 34 56 78;bornholm-2026-4;\n"  # Anna's number
                    "Carl;23456789;bornholm-2026-l;\n"  # a typo of Anna's cohort
                    "Dan;+45 23 45 67 89;;\n"  # Carl's number again
                    "Eva;34567890;bornholm-2027-1;ja\n").rows  # a new cohort, and Telegram without a bot name
    setting = Setting(app.deployment.coaches, None, "", None)
    checked = await review(app.storage, [(r.line, r.request, r.problems) for r in rows], setting, app.clock.now())
    assert checked.blocked
    typo = "There is no cohort {} yet. Check the spelling; to start a new cohort, choose to create it."
    assert [(r.line, [p.english() for p in r.problems]) for r in checked.rows] == [
        (2, [f"This phone number already belongs to participant {anna.participant.ref}."]),
        (3, [typo.format("bornholm-2026-l")]),
        (4, ["The same phone number as on line 3."]),
        (5, [typo.format("bornholm-2027-1"), "A Telegram invite needs the bot's username: set TELEGRAM_BOT_USERNAME."])]
    chosen = await review(app.storage, [(5, rows[3].request, ())], Setting(app.deployment.coaches, None, "bot_x", None),
                          app.clock.now(), new_cohort="bornholm-2027-1")
    assert not chosen.blocked and chosen.rows[0].new_cohort  # created on purpose: no problem


def test_a_start_eleven_months_ago_misses_all_four_measurements_at_once(programme: Programme) -> None:
    past = past_start(programme, date(2025, 12, 23), T0)
    assert past is not None and past.days_ago == 335
    assert [(w.wave, w.fate) for w in past.waves] == [
        ("baseline", MISSED_NOW), ("week4", MISSED_NOW), ("end", MISSED_NOW), ("month6", MISSED_NOW)]
    assert past.tasks == 4 and past.modules_skipped == (1, 2, 3, 4, 5, 6, 7, 8) and past.first_module is None
    assert past.english().startswith("the start date 2025-12-23 is 335 days in the past; the measurements "
                                     "baseline (day 0), week4 (day 28), end (day 84), month6 (day 182) would at "
                                     "once be recorded as missed, with 4 task(s) for the coach")


def test_a_start_a_few_days_ago_or_a_month_ago(programme: Programme) -> None:
    three = past_start(programme, T0.date() - timedelta(days=3), T0)
    assert three is not None and [(w.wave, w.fate) for w in three.waves] == [("baseline", ASKED_NOW)]
    assert three.tasks == 0 and three.modules_skipped == () and three.first_module == 1
    # 32 days ago: the baseline closed on day 7 (missed), week 4 opened on day 28, 4 days ago: still asked
    month = past_start(programme, T0.date() - timedelta(days=32), T0)
    assert month is not None and [(w.wave, w.fate) for w in month.waves] == [("baseline", MISSED_NOW),
                                                                            ("week4", ASKED_NOW)]
    assert month.modules_skipped == (1, 2, 3, 4) and month.first_module == 5
    # 92 days ago: the end measurement (day 84) opened 8 days ago, later than its 6 days' grace: not asked, and
    # recorded as missed when it closes on day 94, in 2 days
    late = past_start(programme, T0.date() - timedelta(days=92), T0)
    assert late is not None and [w.fate for w in late.waves] == [MISSED_NOW, MISSED_NOW, NOT_ASKED]
    assert late.tasks == 2 and late.waves[2].closes == T0 + timedelta(days=2)
    assert past_start(programme, T0.date(), T0) is None  # today is not the past


async def test_the_invite_goes_through_the_outbox_with_the_telegram_link_when_there_is_a_phone(app: App) -> None:
    now = app.clock.now()
    both = EnrolmentRequest("Anna", "12345678", telegram=True, lang="da")
    invite = await enrol(app.storage, both, app.deployment.coaches, now, "stress_test_bot")
    delivery = await send_invite(app.loop, invite, both, now)
    assert delivery.how == SMS_LINK and delivery.expires_at == now + timedelta(days=14)
    [sms] = await app.storage.pending_outbox("sms", 10)
    assert sms.participant_id == invite.participant.id
    text = str(sms.payload["text"])
    assert f"beskeder på Telegram: {delivery.link} Linket virker til 7. december kl. 10.00." in text
    phone_only = EnrolmentRequest("Bo", "23456789", lang="en")
    bo = await enrol(app.storage, phone_only, app.deployment.coaches, now, "stress_test_bot")
    assert (await send_invite(app.loop, bo, phone_only, now)).how == SMS
    texts = [str(row.payload["text"]) for row in await app.storage.pending_outbox("sms", 10)]
    assert any(text.startswith("Hello. You are now signed up for the stress programme's text messages.")
               for text in texts)
    telegram_only = EnrolmentRequest("Carl", telegram=True)
    carl = await enrol(app.storage, telegram_only, app.deployment.coaches, now, "stress_test_bot")
    shown = await send_invite(app.loop, carl, telegram_only, now)
    assert shown.how == SHOW and shown.link == carl.telegram_link
    assert len(await app.storage.pending_outbox("sms", 10)) == len(texts)  # nothing by SMS for Carl


async def test_no_start_date_means_the_day_of_enrolment_and_it_is_stored(app: App) -> None:
    """"Empty: today", as the form says: the programme is planned from that day, and the day is kept with the person
    (it was left empty: the desk then never showed their week, nor counted them among those who have finished)."""
    late_evening = T0.replace(hour=23, minute=30)  # T0's date in UTC; already the next day in Copenhagen
    invite = await enrol(app.storage, EnrolmentRequest("Uden Dato", "+4520111222"), [], late_evening, "")
    profile = await app.storage.profile(invite.participant.id)
    assert profile is not None and profile.start_date == (T0 + timedelta(days=1)).date()
