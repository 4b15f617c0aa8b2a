"""The outcome report (`python -m bot report outcomes`) against figures worked out by hand.

Seven participants live through the programme in the real app (SQLite file, scheduler, conversation loop, fake
clock): six in cohort "bornholm-1" starting Monday 16 March 2026, one in "gentofte-1" two weeks later. They answer
the measurement waves with scores chosen so every figure can be computed on paper (the arithmetic is in the
comments), skip the waves they are scripted to miss, log TRE sessions, mark modules done, and four of them write
something that raises a risk escalation. The report is made on day 200 (2 October 2026, 12:00 in Copenhagen).

PSS-10 totals below come from answering `usual` to the six plain items and `reversed` to the four reversed ones:
total = 6 x usual + 4 x (4 - reversed). WHO-5's percentage is 4 x the sum of its five answers.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import COPENHAGEN, FakeClock
from bot.commands.main import build_parser
from bot.enrol_csv import read_csv
from bot.enroll import EnrolmentRequest, enrol
from bot.outcomes.adherence import answered_before_next
from bot.outcomes.build import Report, build_report, outcome_query
from bot.outcomes.change import paired, stress_change
from bot.outcomes.charts import MAX_BARS
from bot.outcomes.charts import change as change_chart
from bot.outcomes.cohort import Filters
from bot.outcomes.figures import Figure, figures
from bot.outcomes.html import render_html
from bot.outcomes.labels import Words
from bot.outcomes.numbers import Numbers
from bot.outcomes.scores import Scores
from bot.outcomes.spec import PSS10, spec_from_programme
from bot.outcomes.stats import summary
from bot.outcomes.tables import render_csv, render_json
from bot.outcomes.text import render_text
from storage import open_storage
from tests.conftest import without_consent
from tests.report_cohort import LiveCohort, Wave

ROOT = Path(__file__).resolve().parent.parent
START = date(2026, 3, 16)  # a Monday; day 0 of the programme
REPORT_AT = datetime.combine(START + timedelta(days=200), time(12, 0), COPENHAGEN)
BORNHOLM, GENTOFTE = "bornholm-1", "gentofte-1"


def on_day(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(START + timedelta(days=day), time(hour, minute), COPENHAGEN)


async def live_through(app: App) -> None:
    """The cohort's six months; what each participant does is in the module docstring's terms."""
    c = LiveCohort.open(app)
    # PSS-10 (usual, reversed) -> total: (3,1) 30, (3,2) 26, (2,2) 20, (2,3) 16, (3,0) 34, (2,1) 24, (1,2) 14,
    # (1,3) 10, (2,0) 28, (4,0) 40.
    a = await c.enrol("p-a", START, {
        "baseline": Wave((3, 1), "22211", 4), "week4": Wave((3, 2)),  # PSS 30, WHO-5 32, life 4; PSS 26
        "end": Wave((2, 2), "33322", 6), "month6": Wave((2, 3), "44433", 7),  # 20, 52, 6; 16, 72, 7
    }, checkins_until=200, cohort=BORNHOLM)
    b = await c.enrol("p-b", START, {  # misses week 4
        "baseline": Wave((3, 0), "11111", 5),  # 34, 20, 5
        "end": Wave((2, 1), "22222", 5), "month6": Wave((2, 2), "32222", 5),  # 24, 40, 5; 20, 44, 5
    }, checkins_until=200, cohort=BORNHOLM)
    c_ = await c.enrol("p-c", START, {  # misses the 6-month wave
        "baseline": Wave((2, 1), "33333", 6), "week4": Wave((2, 1)),  # 24, 60, 6; 24
        "end": Wave((2, 2), "33333", 7),  # 20, 60, 7
    }, checkins_until=200, cohort=BORNHOLM)
    d = await c.enrol("p-d", START, {  # below the entry criterion; stops answering check-ins after day 45
        "baseline": Wave((1, 2), "44444", 8), "week4": Wave((1, 2)),  # 14, 80, 8; 14
        "end": Wave((1, 3), "44443", 7), "month6": Wave((1, 2), "44444", 7),  # 10, 76, 7; 14, 80, 7
    }, checkins_until=45, cohort=BORNHOLM)
    await c.enrol("p-e", START, {}, cohort=BORNHOLM)  # never answers anything
    await c.enrol("p-f", START, {"baseline": Wave((2, 0))}, checkins_until=200, cohort=BORNHOLM)  # PSS 28 only
    await c.enrol("p-g", START + timedelta(days=14), {"baseline": Wave((4, 0), "55555", 9)}, cohort=GENTOFTE)

    await c.run_until(on_day(1, 12))
    for person, text in ((a, "FÆRDIG 1"), (b, "FÆRDIG 1"), (a, "TRE")):
        await c.say(person, text)
    await c.run_until(on_day(3, 12))
    await c.say(a, "TRE")
    await c.run_until(on_day(9, 12))
    for person, text in ((a, "FÆRDIG 2"), (a, "TRE"), (b, "TRE")):
        await c.say(person, text)
    await c.run_until(on_day(15, 12))
    await c.say(a, "FÆRDIG 3")
    await c.run_until(on_day(100, 12))
    await c.say(c_, "TRE")  # after the programme's 12 weeks

    await c.run_until(on_day(197, 12))  # Tuesday 29 September: every wave has closed
    await c.say(a, "Jeg tænker på selvmord")  # moderate
    await acknowledge(app, "p-a", on_day(197, 12, 30), close_at=on_day(197, 13))  # after 30 minutes
    await c.run_until(on_day(197, 14))
    await c.say(b, "Jeg vil ikke leve mere")  # low
    await acknowledge(app, "p-b", on_day(197, 15, 30))  # after 90 minutes
    await c.run_until(on_day(198, 11))
    await c.say(c_, "Jeg vil tage mit liv i nat")  # high: 15 minutes to acknowledge
    await c.run_until(on_day(198, 11, 20))
    await app.escalations.tick()  # past the deadline: the circle is widened (a breach)
    await acknowledge(app, "p-c", on_day(198, 11, 45))  # after 45 minutes
    await c.run_until(on_day(199, 10))
    await c.say(d, "selvmord")  # moderate, never acknowledged: past its 2-hour deadline at the report
    await c.run_until(REPORT_AT)


async def acknowledge(app: App, ref: str, at: datetime, close_at: datetime | None = None) -> None:
    (escalation,) = [e for e in await app.storage.escalations(only_open=True) if e.participant_ref == ref]
    app.clock.set(at)  # type: ignore[attr-defined]
    assert await app.storage.acknowledge_escalation(escalation.id, "coach", at)
    if close_at is not None:
        app.clock.set(close_at)  # type: ignore[attr-defined]
        assert await app.storage.close_escalation(escalation.id, "coach", "Talked it through; safe.", close_at)


@pytest.fixture(scope="module")
def cohort_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cohort's database, lived through once for the whole module (about ten seconds)."""
    folder = tmp_path_factory.mktemp("cohort")

    async def build() -> None:
        clock = FakeClock(on_day(-1, 12))
        async with open_app(str(folder / "bot.db"), clock, deployment_path=without_consent(folder),
                            coach_channels={}) as app:
            await live_through(app)

    asyncio.run(build())
    return folder / "bot.db"


def copy_of(db: Path, folder: Path) -> Path:
    """The database and its development key file, so a test may write to its own copy."""
    for file in db.parent.glob(db.name + "*"):
        shutil.copy(file, folder / file.name)
    return folder / db.name


async def report_of(db: Path, filters: Filters) -> Report:
    async with open_app(str(db), FakeClock(REPORT_AT), coach_channels={}) as app:
        programme = app.registry.library.programme
        assert programme is not None
        spec = spec_from_programme(programme)
        return await app.storage.read_outcomes(outcome_query(spec, filters.cohort),
                                               lambda chunks: build_report(chunks, spec, REPORT_AT, filters))


def by_key(report: Report, lang: str = "da") -> dict[str, Figure]:
    return {f.key: f for f in figures(report, lang)}


def check(found: dict[str, Figure], key: str, value: float | None, n: int | None, missing: int | None) -> None:
    figure = found[key]
    assert (figure.value, figure.n, figure.missing) == (pytest.approx(value, abs=1e-9) if value is not None
                                                        else None, n, missing), key


async def test_every_figure_matches_the_hand_computed_values(cohort_db: Path, tmp_path: Path) -> None:
    report = await report_of(copy_of(cohort_db, tmp_path), Filters(BORNHOLM))
    f = by_key(report)
    # Participants: A-F are in the cohort (G is not). Screened: a baseline PSS-10 (A, B, C, D, F; not E).
    check(f, "participants.enrolled", 6, 6, 0)
    check(f, "participants.screened", 5, 6, 0)
    check(f, "participants.entry_criterion", 4, 5, 1)  # 30, 34, 24, 28 >= 17; D's 14 is not
    check(f, "participants.below_criterion", 1, 5, 1)
    check(f, "participants.with_baseline", 4, 6, 0)  # F answered only PSS-10 of the baseline wave
    for wave, answered, partly, missed in (("baseline", 4, 1, 1), ("week4", 3, 0, 3), ("end", 4, 0, 2),
                                           ("month6", 3, 0, 3)):
        check(f, f"waves.{wave}.answered", answered, 6, 0)
        check(f, f"waves.{wave}.partly", partly, 6, 0)
        check(f, f"waves.{wave}.missed", missed, 6, 0)
        check(f, f"waves.{wave}.not_yet", 0, 6, 0)
    check(f, "waves.missed_total", 10, 6, 0)  # 2 + 3 + 2 + 3

    # PSS-10 at each wave. Baseline 30, 34, 24, 14, 28: mean 130/5 = 26; deviations 4, 8, -2, -12, 2 square to
    # 232; SD = sqrt(232/4) = 7.6158. Week 4: 26, 24, 14: 64/3; SD sqrt(82.667/2) = 6.4291. End: 20, 24, 20, 10:
    # 18.5; SD sqrt(107/3) = 5.9722. Six months: 16, 20, 14: 50/3; SD sqrt(18.667/2) = 3.0551.
    for wave, mean, sd, n in (("baseline", 26, 7.615773, 5), ("week4", 64 / 3, 6.429101, 3),
                              ("end", 18.5, 5.972158, 4), ("month6", 50 / 3, 3.055050, 3)):
        assert f[f"pss10.{wave}.mean"].value == pytest.approx(mean)
        assert f[f"pss10.{wave}.sd"].value == pytest.approx(sd, abs=1e-6)
        assert (f[f"pss10.{wave}.mean"].n, f[f"pss10.{wave}.mean"].missing) == (n, 6 - n)

    # Baseline -> 6 months, paired: A 30 -> 16, B 34 -> 20, D 14 -> 14 (E has no baseline; C and F no 6 months).
    six = "pss10.baseline_month6"
    check(f, f"{six}.before_mean", 26, 3, 3)  # 78 / 3
    check(f, f"{six}.after_mean", 50 / 3, 3, 3)
    check(f, f"{six}.change_mean", -28 / 3, 3, 3)  # -14, -14, 0
    # Each person's change: -14/30 = -46.667 %, -14/34 = -41.176 %, 0 %: mean -29.281 %.
    check(f, f"{six}.percent_change_mean", (-1400 / 30 - 1400 / 34 + 0) / 3, 3, 3)
    check(f, f"{six}.percent_change_of_mean", 100 * (50 / 3 - 26) / 26, 3, 3)  # -35.897 %
    check(f, f"{six}.mcic_share", 200 / 3, 3, 3)  # A and B fell 14 >= 11 points; D did not
    check(f, f"{six}.mcic_count", 2, 3, 3)
    assert "1 uden baseline, 2 uden 6 måneder" in f[f"{six}.before_mean"].includes
    # Baseline -> end: A 30 -> 20, B 34 -> 24, C 24 -> 20, D 14 -> 10. The 28 % rule: A (10 of 30 = 33 %),
    # B (10 of 34 = 29.4 %) and D (4 of 14 = 28.6 %) count although none fell 11 points; C (4 of 24) does not.
    end = "pss10.baseline_end"
    check(f, f"{end}.mcic_count", 3, 4, 2)
    check(f, f"{end}.percent_change_mean", -(1000 / 30 + 1000 / 34 + 400 / 24 + 400 / 14) / 4, 4, 2)  # -26.996 %
    check(f, "pss10.baseline_week4.change_mean", -4 / 3, 3, 3)  # A -4, C 0, D 0

    # WHO-5, baseline -> 6 months: A 32 -> 72, B 20 -> 44, D 80 -> 80 (E and F have no baseline WHO-5, C no
    # 6 months). Before: 44, SD sqrt(2016/2) = 31.749; after 196/3 = 65.333, SD sqrt(714.667/2) = 18.903.
    who = "who5.baseline_month6"
    check(f, f"{who}.before_mean", 44, 3, 3)
    assert f[f"{who}.before_sd"].value == pytest.approx(31.749016, abs=1e-6)
    check(f, f"{who}.after_mean", 196 / 3, 3, 3)
    assert f[f"{who}.after_sd"].value == pytest.approx(18.903263, abs=1e-6)
    check(f, f"{who}.percent_change_of_mean", 100 * (196 / 3 - 44) / 44, 3, 3)  # 48.485 %
    check(f, f"{who}.improved_count", 2, 3, 3)  # +40 and +24; D +0
    check(f, "who5.baseline.mean", 48, 4, 2)  # 32, 20, 60, 80
    assert "2 uden baseline, 1 uden 6 måneder" in f[f"{who}.improved_share"].includes

    # Life satisfaction, baseline -> 6 months: A 4 -> 7 rose, B 5 -> 5 same, D 8 -> 7 fell. To the end: A 4 -> 6
    # and C 6 -> 7 rose, B the same, D 8 -> 7 fell.
    check(f, "life_satisfaction.baseline_month6.rose_share", 100 / 3, 3, 3)
    check(f, "life_satisfaction.baseline_month6.same", 1, 3, 3)
    check(f, "life_satisfaction.baseline_month6.fell", 1, 3, 3)
    check(f, "life_satisfaction.baseline_end.rose_share", 50, 4, 2)

    # Adherence. Modules: A marked 1, 2 and 3 done, B module 1: (3 + 1) / 6 each; everyone got every module.
    check(f, "adherence.modules_mean", 4 / 6, 6, 0)
    check(f, "adherence.modules_median", 0, 6, 0)
    check(f, "adherence.no_module", 4, 6, 0)
    check(f, "adherence.module.1", 100 * 2 / 6, 6, 0)
    check(f, "adherence.module.8", 0, 6, 0)
    # TRE: A on days 1, 3 and 9, B on day 9, C on day 100 (after the 12 weeks). Everyone is 84 days (12 weeks)
    # in: A 3/12, B 1/12, the rest 0: mean 4/12/6; A and B logged any.
    check(f, "adherence.tre_rate_mean", 4 / 12 / 6, 6, 0)
    check(f, "adherence.tre_any", 100 * 2 / 6, 6, 0)
    check(f, "adherence.tre_in_programme", 4, 6, 0)
    check(f, "adherence.tre_total", 5, 6, 0)
    check(f, "weeks.1.tre_per_participant", 2 / 6, 6, 0)  # A's days 1 and 3
    check(f, "weeks.2.tre_per_participant", 2 / 6, 6, 0)  # A's and B's day 9
    check(f, "weeks.3.tre_per_participant", 0, 6, 0)
    # Reminders answered: the 24 waves (6 x 4) have all closed; 4 + 3 + 4 + 3 = 14 answered in full.
    check(f, "adherence.waves_answered", 100 * 14 / 24, 24, None)
    # Check-ins go out on days 7, 14, ..., 84. One due while a measurement is open and unanswered waits, and is
    # too late by the time it closes: B's of day 28 (week-4 wave), E's and F's of days 28 and 84. So 12 + 11 + 12
    # + 12 + 10 + 10 = 67 sent. Answered: A 12, B 11, C 12, D 6 (days 7-42), E 0, F 10 = 51.
    check(f, "adherence.checkins_sent", 67, 6, 0)
    check(f, "adherence.checkins_answered_count", 51, 67, None)
    check(f, "adherence.checkins_answered", 100 * 51 / 67, 67, None)
    check(f, "weeks.2.checkins_answered", 100 * 5 / 6, 6, None)  # day 7: all but E
    check(f, "weeks.5.checkins_answered", 100, 3, None)  # day 28: sent to A, C and D only, who answer
    check(f, "weeks.13.checkins_answered", 100 * 3 / 4, 4, None)  # day 84: A, B, C; D stopped; not E, F

    # Safety: A moderate (acknowledged after 30 min, closed), B low (90 min), C high (raised past its 15-minute
    # deadline, acknowledged after 45 min), D moderate (never acknowledged, 2-hour deadline long past).
    check(f, "safety.escalations.high", 1, 4, None)
    check(f, "safety.escalations.moderate", 2, 4, None)
    check(f, "safety.escalations.low", 1, 4, None)
    check(f, "safety.acknowledged", 3, 4, None)
    check(f, "safety.unacknowledged", 1, 4, None)
    check(f, "safety.minutes_to_acknowledge_median", 45, 3, 1)
    check(f, "safety.minutes_to_acknowledge_longest", 90, 3, 1)
    check(f, "safety.breached", 2, 4, None)  # C and D
    check(f, "safety.open", 3, 4, None)  # A's is closed


async def test_the_text_report_speaks_danish_with_decimal_commas(cohort_db: Path, tmp_path: Path) -> None:
    text = render_text(await report_of(copy_of(cohort_db, tmp_path), Filters(BORNHOLM)), "da")
    lines = text.splitlines()
    assert lines[:4] == ["Resultatrapport for stressforløbet", "Lavet 2. okt. 2026 12.00", "Kohorte: bornholm-1",
                         "Startdato: alle"]
    # Seed 000's way of showing a before/after mean: "38,29 (±16,03) -> 56,95 (±18,84)".
    assert ("  PSS-10 baseline → 6 måneder: 26,00 (±10,58) → 16,67 (±3,06)  (-35,9\u00a0%; n = 3, mangler 3)  "
            "[Betalingsmål 2: fald på 30 % (gennemsnit af hver deltagers ændring: -29,3\u00a0%; n = 3 af 6; mangler: "
            "1 uden baseline, 2 uden 6 måneder)]") in lines
    assert ("  Livstilfredshed (0-10) baseline → 6 måneder: 5,67 (±2,08) → 6,33 (±1,15)  (11,8\u00a0%; n = 3, "
            "mangler 3)  [Betalingsmål 3: 65 % stiger (steg: 33,3\u00a0%; n = 3 af 6; mangler: 2 uden baseline, 1 uden "
            "6 måneder)]") in lines  # 1 of 3 rose; E and F answered no life satisfaction at baseline, C not at 6
    assert not [line for line in lines if "Betalingsmål" in line and "6 måneder" not in line]  # 6-month targets
    assert ("  WHO-5 (procent) baseline → 6 måneder: 44,00 (±31,75) → 65,33 (±18,90)  (48,5\u00a0%; n = 3, "
            "mangler 3)  [Landsgennemsnit 68]") in lines
    assert "    Påmindelser besvaret: check-ins besvaret: 76,1\u00a0%  (n = 67)" in lines
    assert "    TRE-sessioner pr. uge pr. deltager, gennemsnit: 0,06  (n = 6)" in lines
    assert "    Tid til kvittering, median (minutter): 45,0  (n = 3, mangler 1)" in lines
    assert "  [Omfatter: parvise: med PSS-10 ved både baseline og 6 måneder (mangler: 1 uden baseline, 2 uden " \
           "6 måneder)]" in lines
    figures_part = text.split("Før og efter")[1].split("Definitioner")[0]
    assert "Definitioner" in lines and not re.search(r"\d\.\d\d?\b", figures_part)  # no English decimals


async def test_english_words_and_numbers(cohort_db: Path, tmp_path: Path) -> None:
    text = render_text(await report_of(copy_of(cohort_db, tmp_path), Filters(BORNHOLM)), "en")
    assert ("  WHO-5 (percent) baseline → 6 months: 44.00 (±31.75) → 65.33 (±18.90)  (48.5\u00a0%; n = 3, "
            "missing 3)  [National average 68]") in text.splitlines()
    assert "Made 2 Oct 2026 12:00" in text.splitlines()


async def test_csv_has_one_row_per_figure_for_a_danish_spreadsheet(cohort_db: Path, tmp_path: Path) -> None:
    report = await report_of(copy_of(cohort_db, tmp_path), Filters(BORNHOLM))
    rows = list(csv.reader(io.StringIO(render_csv(report, "da")), delimiter=";"))
    assert rows[0] == ["section", "key", "label", "value", "unit", "n", "missing", "includes"]
    assert {len(row) for row in rows} == {8}
    by = {row[1]: row for row in rows[1:]}
    assert len(by) == len(rows) - 1 == len(figures(report, "da"))  # keys are unique
    assert by["pss10.baseline_month6.before_mean"][3:7] == ["26,00", "score", "3", "3"]
    assert by["pss10.baseline_month6.percent_change_of_mean"][3:5] == ["-35,9", "percent"]
    assert by["participants.enrolled"][3:7] == ["6", "count", "6", "0"]
    assert by["safety.minutes_to_acknowledge_median"][3:7] == ["45,0", "minutes", "3", "1"]
    english = list(csv.reader(io.StringIO(render_csv(report, "en"))))
    assert {row[1]: row for row in english}["pss10.baseline_month6.before_mean"][3] == "26.00"


async def test_json_has_plain_numbers_and_says_what_was_chosen(cohort_db: Path, tmp_path: Path) -> None:
    report = await report_of(copy_of(cohort_db, tmp_path), Filters(BORNHOLM, date(2026, 3, 1), date(2026, 3, 31)))
    document = json.loads(render_json(report, "da"))
    assert document["filters"] == {"cohort": BORNHOLM, "start_from": "2026-03-01", "start_to": "2026-03-31"}
    assert document["generated_at"] == REPORT_AT.isoformat()
    found = {f["key"]: f for f in document["figures"]}
    assert set(found["pss10.baseline.mean"]) == {"section", "key", "label", "value", "unit", "n", "missing",
                                                 "includes"}
    assert found["pss10.baseline.mean"]["value"] == 26.0
    assert found["participants.enrolled"]["value"] == 6 and isinstance(found["participants.enrolled"]["value"], int)
    assert found["safety.minutes_to_acknowledge_median"]["value"] == 45.0
    assert found["pss10.baseline_week4.percent_change_mean"]["n"] == 3
    assert found["weeks.1.checkins_answered"]["value"] is None  # no check-in goes out in week 1: a dash, not 0


async def test_cohort_and_start_dates_choose_the_participants(cohort_db: Path, tmp_path: Path) -> None:
    db = copy_of(cohort_db, tmp_path)
    everyone = by_key(await report_of(db, Filters()))
    assert (everyone["participants.enrolled"].value, everyone["participants.screened"].value) == (7, 6)
    gentofte = by_key(await report_of(db, Filters(GENTOFTE)))
    assert (gentofte["participants.enrolled"].value, gentofte["participants.entry_criterion"].value) == (1, 1)
    # G started on 30 March: on day 186 the 6-month wave (day 182, closing after 14 days) is still open.
    assert [gentofte[f"waves.month6.{s}"].value for s in ("answered", "missed", "open", "not_yet")] == [0, 0, 1, 0]
    assert gentofte["pss10.baseline.mean"].value == 40  # (4, 0): 24 + 16
    late = by_key(await report_of(db, Filters(None, date(2026, 3, 17), None)))
    assert late["participants.enrolled"].value == 1
    early = by_key(await report_of(db, Filters(None, None, START)))
    assert early["participants.enrolled"].value == 6


async def test_the_figures_are_the_same_however_the_participants_are_chunked(cohort_db: Path, tmp_path: Path) -> None:
    """The report reads and counts a chunk of participants at a time: one a chunk, two, three (chunks that cut
    the cohort anywhere) or all at once, every figure and chart comes out the same."""
    async with open_app(str(copy_of(cohort_db, tmp_path)), FakeClock(REPORT_AT), coach_channels={}) as app:
        programme = app.registry.library.programme
        assert programme is not None
        spec = spec_from_programme(programme)
        written = []
        for chunk in (1, 2, 3, 1000):
            query = replace(outcome_query(spec, None), chunk=chunk)
            report = await app.storage.read_outcomes(
                query, lambda chunks: build_report(chunks, spec, REPORT_AT, Filters()))
            written.append((render_json(report, "en"), render_html(report, "en")))
    assert report.participation.enrolled == 7 and report.adherence.checkins_sent > 0
    assert all(w == written[-1] for w in written)


def test_the_html_report_opens_in_headless_chromium_with_its_charts(cohort_db: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium for this test (./dev test installs it)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    db, out = copy_of(cohort_db, tmp_path), tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "report", "outcomes", "--db", str(db), "--cohort", BORNHOLM, "--format", "html",
         "--out", str(out)],
        cwd=ROOT, env={**os.environ, "BOT_FIXED_NOW": REPORT_AT.isoformat()}, capture_output=True, text=True,
        timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "outcome report (6 participants) written to" in result.stderr
    assert out.stat().st_mode & 0o777 == 0o600  # health data: the owner only
    html = out.read_text(encoding="utf-8")
    # One self-contained file: nothing to fetch, nothing to run.
    assert not re.search(r"<script|<link|<img|\bsrc=|\bhref=|url\(|@import", html)

    dom = subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", "--dump-dom", out.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    charts = Charts()
    charts.feed(dom)
    # every comparison with baseline that has data: PSS-10 to week 4, the end and 6 months; the others to both
    assert set(charts.bars) == {f"{m}-baseline_{w}-{kind}" for m, w, kind in (
        *((m, w, k) for m in ("pss10", "who5") for w in ("end", "month6") for k in ("distribution", "change")),
        ("pss10", "week4", "distribution"), ("pss10", "week4", "change"), ("life_satisfaction", "end", "distribution"),
        ("life_satisfaction", "month6", "distribution"))} | {"tre-weeks", "checkin-weeks", "modules"}
    # PSS-10 before (30, 34, 14) and after (16, 20, 14) six months, in bins of five points.
    nonzero = {(s, c, v) for s, c, v, _ in charts.bars["pss10-baseline_month6-distribution"] if v != "0"}
    assert nonzero == {("Før", "10–14", "1"), ("Før", "30–34", "2"), ("Efter", "10–14", "1"),
                       ("Efter", "15–19", "1"), ("Efter", "20–24", "1")}
    # Change per participant, sorted, coloured by whether it is an improvement; the MCIC line at -11.
    assert [(v, css) for _, _, v, css in charts.bars["pss10-baseline_month6-change"]] == [
        ("-14", "bar better"), ("-14", "bar better"), ("0", "bar same")]
    assert [(v, css) for _, _, v, css in charts.bars["who5-baseline_month6-change"]] == [
        ("0", "bar same"), ("24", "bar better"), ("40", "bar better")]
    # to the end of the programme: A 30 -> 20, B 34 -> 24, C 24 -> 20, D 14 -> 10
    assert [v for _, _, v, _ in charts.bars["pss10-baseline_end-change"]] == ["-10", "-10", "-4", "-4"]
    assert charts.references == {"pss10-baseline_week4-change": "-11", "pss10-baseline_end-change": "-11",
                                 "pss10-baseline_month6-change": "-11", "who5-baseline_end-change": "10",
                                 "who5-baseline_month6-change": "10"}
    assert 'id="no-data"' not in dom  # every pair has data
    tre = {c: float(v) for _, c, v, _ in charts.bars["tre-weeks"]}
    assert (tre["uge 1"], tre["uge 2"], tre["uge 3"]) == (pytest.approx(2 / 6), pytest.approx(2 / 6), 0)
    modules = {c: v for _, c, v, _ in charts.bars["modules"]}
    assert (modules["modul 1"], modules["modul 2"], modules["modul 4"]) == ("33.3333", "16.6667", "0")
    assert "38,29" not in dom and "26,00 (±10,58) → 16,67 (±3,06)" in dom

    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--disable-gpu", "--no-sandbox", f"--screenshot={shot}",
                    "--window-size=1000,3000", out.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class Charts(HTMLParser):
    """The bars (series, category, value, class) and reference lines of each chart in a DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.chart: str | None = None
        self.bars: dict[str, list[tuple[str, str, str, str]]] = {}
        self.references: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "svg" and "chart" in found.get("class", ""):
            self.chart = found["data-chart"]
            self.bars[self.chart] = []
        elif self.chart and tag == "rect" and "data-value" in found:
            self.bars[self.chart].append((found["data-series"], found["data-category"], found["data-value"],
                                          found["class"]))
        elif self.chart and tag == "line" and found.get("class") == "reference":
            self.references[self.chart] = found["data-value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.chart = None


async def test_the_report_is_audited_like_an_export(cohort_db: Path, tmp_path: Path) -> None:
    from bot.commands import report

    db = copy_of(cohort_db, tmp_path)
    args = build_parser().parse_args(["report", "outcomes", "--db", str(db), "--format", "json", "--out",
                                      str(tmp_path / "r.json"), "--cohort", GENTOFTE])
    assert await report.run(args) == 0
    storage = await open_storage(db)
    try:
        (entry,) = [e for e in await storage.audit_entries() if e.action == "report.outcomes"]
    finally:
        await storage.close()
    assert (entry.subject, dict(entry.detail)) == ("participants", {"format": "json", "cohort": GENTOFTE,
                                                                    "participants": 1,
                                                                    "programme": "stress_programme"})
    bad = build_parser().parse_args(["report", "outcomes", "--db", str(db), "--from", "2026-04-01", "--to",
                                     "2026-03-01"])
    assert await report.run(bad) == 2
    typo = build_parser().parse_args(["report", "outcomes", "--db", str(db), "--cohort", "bornholm1"])
    assert await report.run(typo) == 1  # not an empty report that looks like a real one


async def test_enrolment_keeps_the_cohort_from_the_command_line_and_the_csv(app: App) -> None:
    request = EnrolmentRequest("Anna Jensen", phone="12345678", cohort=" bornholm-2 ")
    invite = await enrol(app.storage, request, app.deployment.coaches, app.clock.now(), "")
    profile = await app.storage.profile(invite.participant.id)
    assert profile is not None and profile.cohort == "bornholm-2"
    rows = read_csv("name,phone,cohort\nBo,12345679,gentofte-2\nCarl,12345670,\n").rows
    assert [(row.line, row.request.cohort) for row in rows] == [(2, "gentofte-2"), (3, None)]
    args = build_parser().parse_args(["enroll", "--name", "Dorte", "--phone", "12345671", "--cohort", "c-3"])
    assert args.cohort == "c-3"
    from bot.enroll import EnrolmentError

    with pytest.raises(EnrolmentError, match="at most 100"):
        await enrol(app.storage, EnrolmentRequest("Eva", phone="12345672", cohort="x" * 101),
                    app.deployment.coaches, app.clock.now(), "")


# -- the rules at their edges, on participants made up here (no programme needed) --------------------------------


def made_up(values: dict[str, dict[int, float]], people: int) -> Scores:
    """Participants 1 to `people` with these PSS-10 values: wave -> participant -> value."""
    scores = Scores((PSS10, wave) for wave in values)
    for pid in range(1, people + 1):
        scores.add({(PSS10, wave): by_pid[pid] for wave, by_pid in values.items() if pid in by_pid})
    return scores


def test_the_minimal_important_change_and_a_baseline_of_zero() -> None:
    scores = made_up({
        "baseline": {1: 25, 2: 40, 3: 40, 4: 0, 5: 20},
        "month6": {1: 18, 2: 29, 3: 30, 4: 3, 6: 12},
    }, people=6)
    change = stress_change(paired(scores, PSS10, "baseline", "month6"))
    # 1: 7 of 25 is exactly 28 %; 2: 11 points (27.5 %); 3: 10 points, 25 %: no; 4: from 0, no percentage.
    assert change.mcic == 2
    assert change.zero_baseline == 1
    assert change.percent_changes.n == 3 and change.percent_changes.mean == pytest.approx((-28 - 27.5 - 25) / 3)
    assert (change.paired.n, change.paired.no_before, change.paired.no_after) == (4, 1, 1)  # 6 lacks a baseline


def test_a_check_in_is_answered_when_completed_before_the_next_one_is_sent() -> None:
    sent = [on_day(7, 10), on_day(14, 10), on_day(21, 10)]
    done = [on_day(6, 12), on_day(8, 9), on_day(21, 10), on_day(23, 9)]  # one before any was sent
    assert answered_before_next(sent, done) == [True, False, True]
    assert answered_before_next(sent, []) == [False, False, False]


def test_one_pair_has_no_standard_deviation_and_counts_are_grouped() -> None:
    one = summary([12.0])
    assert Numbers("da").mean_sd(one) == "12,00 (±–)"
    assert (Numbers("da").number(10000, 0), Numbers("en").number(10000, 0)) == ("10.000", "10,000")
    assert Numbers("da").percent(None) == "–"


def test_a_large_cohort_s_change_chart_shows_quantiles_not_people() -> None:
    scores = made_up({"baseline": {p: 30.0 for p in range(1, 1001)},
                      "month6": {p: 30.0 - p % 21 for p in range(1, 1001)}}, people=1000)
    chart = change_chart(paired(scores, PSS10, "baseline", "month6"), Words("da"), Numbers("da"))
    assert chart.svg.count('class="bar ') == MAX_BARS and "kvantil" in chart.title and "n = 1.000" in chart.title


async def test_an_erased_participant_with_kept_scores_leaves_the_outcome_figures_as_they_were(
        cohort_db: Path, tmp_path: Path) -> None:
    """B is erased keeping anonymised scores (a deployment setting), E without. B's scores and milestones move to
    an anonymous participant without a profile, so every outcome figure of the whole database stays; E, who
    answered nothing, is simply gone. What B's erasure does take: the check-ins sent (the schedule), the
    escalation, and B's cohort (so a cohort's report no longer has B: docs/outcomes.md, known limits)."""
    db = copy_of(cohort_db, tmp_path)
    before = by_key(await report_of(db, Filters()))
    async with open_app(str(db), FakeClock(REPORT_AT), coach_channels={}) as app:
        b = await app.storage.get_or_create_participant("p-b", "da", REPORT_AT)
        e = await app.storage.get_or_create_participant("p-e", "da", REPORT_AT)
        await app.storage.erase_participants([b.id], "admin:test", "request", REPORT_AT, keep_scores=True)
        await app.storage.erase_participants([e.id], "admin:test", "request", REPORT_AT)
    after = by_key(await report_of(db, Filters()))

    outcomes = [k for k, f in before.items() if f.section in ("pss10", "who5", "life_satisfaction")]
    assert len(outcomes) > 60
    assert [(k, after[k].value, after[k].n) for k in outcomes] == [(k, before[k].value, before[k].n) for k in outcomes]
    assert all(after[k].missing == before[k].missing - 1 for k in outcomes)  # E no longer counts as missing
    assert (before["participants.enrolled"].value, after["participants.enrolled"].value) == (7, 6)
    assert (before["waves.baseline.missed"].value, after["waves.baseline.missed"].value) == (1, 0)
    assert (before["waves.week4.missed"].value, after["waves.week4.missed"].value) == (4, 3)  # B, E, F, G; not E
    for key in ("participants.screened", "waves.baseline.partly", "adherence.tre_total", "adherence.no_module"):
        assert after[key].value == before[key].value - (key == "adherence.no_module"), key
    assert (before["adherence.modules_mean"].value, after["adherence.modules_mean"].value) == (4 / 7, 4 / 6)
    # 27 waves have closed (6 x 4, and G's first three), 15 answered in full; E's four were all missed.
    assert after["adherence.waves_answered"].value == pytest.approx(100 * 15 / 23)
    assert after["adherence.checkins_sent"].value == before["adherence.checkins_sent"].value - 11 - 10
    assert (before["safety.escalations.low"].value, after["safety.escalations.low"].value) == (1, 0)
    cohort = by_key(await report_of(db, Filters(BORNHOLM)))
    assert cohort["participants.enrolled"].value == 4  # A, C, D, F: the anonymous holder of B's scores has none


def test_numbers_round_as_a_reader_rounds_by_hand() -> None:
    from bot.outcomes.numbers import Numbers

    danish, english = Numbers("da"), Numbers("en")
    assert [danish.number(v, 1) for v in (30.25, 30.35, -0.04, -2.25)] == ["30,3", "30,4", "0,0", "-2,3"]
    assert danish.number(0.125, 2) == "0,13" and danish.number(12345.5, 0) == "12.346"
    assert english.percent(30.25) == "30.3\u00a0%" and english.number(1234.5, 0) == "1,235"
