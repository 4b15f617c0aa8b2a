"""The outcome report half-way through a programme and after it: each payment target with its denominator and who
is missing beside it, charts for every wave pair that has data, a dash for a figure computed from nobody, and
one minus sign in every format.

Four participants in cohort "odense-1" start Monday 16 March 2026 and live through the real app (tests/
report_cohort.py). PSS-10 total = 6 x usual + 4 x (4 - reversed); WHO-5 % = 4 x the sum of its five answers.

    P: baseline PSS 30, life 4; end 20, life 6; 6 months 16, life 7
    Q: baseline PSS 0 (no percentage of 0), life 5; end 10, life 5; 6 months 14, life 6
    R: baseline PSS 24, life 6; end 20, life 7; misses the 6-month wave
    S: misses baseline; end 24, life 5; 6 months 20, life 6

The report is made on day 100 (the end wave has closed, the 6-month wave is months away) and on day 200.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta

import pytest

from bot.app import App, open_app
from bot.clock import COPENHAGEN, FakeClock
from bot.outcomes.build import Report, build_report, outcome_query
from bot.outcomes.charts import charts, without_data
from bot.outcomes.cohort import Filters
from bot.outcomes.figures import figures
from bot.outcomes.html import render_html
from bot.outcomes.labels import Words
from bot.outcomes.numbers import Numbers
from bot.outcomes.spec import spec_from_programme
from bot.outcomes.tables import render_csv, render_json
from bot.outcomes.text import render_text
from tests.conftest import without_consent
from tests.report_cohort import LiveCohort, Wave

START = date(2026, 3, 16)
ODENSE = "odense-1"


def on_day(day: int, hour: int = 12) -> datetime:
    return datetime.combine(START + timedelta(days=day), time(hour), COPENHAGEN)


async def report_at(app: App, now: datetime) -> Report:
    programme = app.registry.library.programme
    assert programme is not None
    spec = spec_from_programme(programme)
    return await app.storage.read_outcomes(outcome_query(spec, ODENSE),
                                           lambda chunks: build_report(chunks, spec, now, Filters(ODENSE)))


def headline(report: Report, lang: str = "da") -> list[str]:
    """The lines that carry a payment target next to its figure (the definitions below mention the targets too)."""
    return [line for line in render_text(report, lang).splitlines()
            if "[Betalingsmål" in line or "[Payment target" in line]


def chart_ids(report: Report) -> set[str]:
    return {chart.svg.split('data-chart="', 1)[1].split('"', 1)[0] for chart in charts(report, Words("da"),
                                                                                        Numbers("da"))}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Report]:
    """The cohort's report on day 100 and on day 200, from one life through the programme."""
    import asyncio

    folder = tmp_path_factory.mktemp("odense")

    async def live() -> tuple[Report, Report]:
        async with open_app(str(folder / "bot.db"), FakeClock(on_day(-1)), deployment_path=without_consent(folder),
                            coach_channels={}) as app:
            c = LiveCohort.open(app)
            await c.enrol("p-p", START, {"baseline": Wave((3, 1), "22211", 4), "end": Wave((2, 2), "33322", 6),
                                         "month6": Wave((2, 3), "44433", 7)}, cohort=ODENSE)
            await c.enrol("p-q", START, {"baseline": Wave((0, 4), "11111", 5), "end": Wave((1, 3), "22222", 5),
                                         "month6": Wave((1, 2), "22222", 6)}, cohort=ODENSE)
            await c.enrol("p-r", START, {"baseline": Wave((2, 1), "33333", 6), "end": Wave((2, 2), "33333", 7)},
                          cohort=ODENSE)
            await c.enrol("p-s", START, {"end": Wave((2, 1), "22222", 5), "month6": Wave((2, 2), "22222", 6)},
                          cohort=ODENSE)
            await c.run_until(on_day(100))
            halfway = await report_at(app, on_day(100))
            await c.run_until(on_day(200))
            return halfway, await report_at(app, on_day(200))

    return asyncio.run(live())


def test_half_way_the_end_of_programme_has_charts_and_the_6_month_targets_say_who_is_missing(
        reports: tuple[Report, Report]) -> None:
    halfway, _ = reports
    f = {figure.key: figure for figure in figures(halfway, "da")}
    # Baseline -> end, paired: P 30 -> 20, Q 0 -> 10, R 24 -> 20 (S has no baseline): n = 3, missing 1.
    end = f["pss10.baseline_end.before_mean"]
    assert (end.value, end.n, end.missing) == (pytest.approx(54 / 3), 3, 1)
    # Six months: nobody yet. Every paired figure is computed from nobody: a dash, also for the counts.
    for key in ("pss10.baseline_month6.mcic_count", "pss10.baseline_month6.before_mean",
                "life_satisfaction.baseline_month6.rose_count", "life_satisfaction.baseline_month6.fell"):
        assert (f[key].value, f[key].n, f[key].missing) == (None, 0, 4), key
    # The targets with their denominators: 4 in the report; S has no baseline, P, Q and R no 6 months yet.
    assert headline(halfway) == [
        "  PSS-10 baseline → 6 måneder: – (±–) → – (±–)  (–; n = 0, mangler 4)  [Betalingsmål 2: fald på 30 % "
        "(gennemsnit af hver deltagers ændring: –; n = 0 af 4; mangler: 1 uden baseline, 3 uden 6 måneder)]",
        "  Livstilfredshed (0-10) baseline → 6 måneder: – (±–) → – (±–)  (–; n = 0, mangler 4)  [Betalingsmål 3: "
        "65 % stiger (steg: –; n = 0 af 4; mangler: 1 uden baseline, 3 uden 6 måneder)]",
    ]
    # Charts: baseline -> end is drawn for each measure; the pairs nobody has answered yet are named, not drawn.
    assert chart_ids(halfway) == {
        "pss10-baseline_end-distribution", "pss10-baseline_end-change", "who5-baseline_end-distribution",
        "who5-baseline_end-change", "life_satisfaction-baseline_end-distribution", "tre-weeks", "checkin-weeks",
        "modules"}
    assert without_data(halfway, Words("en")) == (
        "No data yet (n = 0): PSS-10 baseline → week 4; PSS-10 baseline → 6 months; WHO-5 (percent) baseline → "
        "6 months; Life satisfaction (0-10) baseline → 6 months")
    assert "Ingen data endnu (n = 0): PSS-10 baseline → uge 4; PSS-10 baseline → 6 måneder" in render_html(
        halfway, "da")


def test_after_six_months_each_target_stands_on_its_own_denominator(reports: tuple[Report, Report]) -> None:
    _, after = reports
    f = {figure.key: figure for figure in figures(after, "da")}
    # PSS-10 baseline -> 6 months, paired: P 30 -> 16, Q 0 -> 14 (R has no 6 months, S no baseline).
    six = "pss10.baseline_month6"
    assert (f[f"{six}.before_mean"].value, f[f"{six}.before_mean"].n, f[f"{six}.before_mean"].missing) == (15, 2, 2)
    assert f[f"{six}.mcic_count"].value == 1  # P fell 14; Q rose
    # Target 2 is the mean of each participant's percentage change: Q's baseline of 0 has none, so only P's
    # -14/30 = -46.667 % counts: n = 1 of 4, missing S (no baseline), R (no 6 months) and Q (0 at baseline).
    per_person = f[f"{six}.percent_change_mean"]
    assert (per_person.value, per_person.n, per_person.missing) == (pytest.approx(-1400 / 30), 1, 3)
    assert per_person.includes == ("parvise: med PSS-10 ved både baseline og 6 måneder, over 0 ved baseline "
                                   "(mangler: 1 uden baseline, 1 uden 6 måneder, 1 med 0 ved baseline: en procent "
                                   "af 0 findes ikke)")
    # Target 3: life satisfaction rose for P (4 -> 7) and Q (5 -> 6): 2 of the 2 paired, 100 %.
    rose = f["life_satisfaction.baseline_month6.rose_share"]
    assert (rose.value, rose.n, rose.missing) == (100, 2, 2)
    assert headline(after) == [
        "  PSS-10 baseline → 6 måneder: 15,00 (±21,21) → 15,00 (±1,41)  (0,0\u00a0%; n = 2, mangler 2)  "
        "[Betalingsmål 2: fald på 30 % (gennemsnit af hver deltagers ændring: -46,7\u00a0%; n = 1 af 4; mangler: "
        "1 uden baseline, 1 uden 6 måneder, 1 med 0 ved baseline)]",
        "  Livstilfredshed (0-10) baseline → 6 måneder: 4,50 (±0,71) → 6,50 (±0,71)  (44,4\u00a0%; n = 2, "
        "mangler 2)  [Betalingsmål 3: 65 % stiger (steg: 100,0\u00a0%; n = 2 af 4; mangler: 1 uden baseline, "
        "1 uden 6 måneder)]",
    ]
    assert {"pss10-baseline_end-change", "pss10-baseline_month6-change",
            "who5-baseline_month6-distribution"} <= chart_ids(after)
    assert "week 4" in (without_data(after, Words("en")) or "")  # nobody was scripted to answer week 4


def test_one_minus_sign_in_every_format(reports: tuple[Report, Report]) -> None:
    """ASCII "-" everywhere, in the numbers and in the words: a spreadsheet reads "-46,7" as a number."""
    _, after = reports
    for lang in ("da", "en"):
        written = {"text": render_text(after, lang), "html": render_html(after, lang),
                   "csv": render_csv(after, lang), "json": render_json(after, lang)}
        for name, document in written.items():
            assert "\u2212" not in document, (name, lang)
        assert "-46,7\u00a0%" in written["text"] if lang == "da" else "-46.7\u00a0%" in written["text"]
        found = {f["key"]: f for f in json.loads(written["json"])["figures"]}
        assert found["pss10.baseline_month6.percent_change_mean"]["value"] == pytest.approx(-1400 / 30)
        assert "expects -30 %" in found["pss10.baseline_month6.percent_change_mean"]["label"] or lang == "da"
    rows = list(csv.reader(io.StringIO(render_csv(after, "da")), delimiter=";"))
    assert {row[1]: row[3] for row in rows}["pss10.baseline_month6.percent_change_mean"] == "-46,7"
    assert {row[1]: row[3] for row in rows}["pss10.baseline_week4.mcic_count"] == ""  # n = 0: blank, not 0
    assert Numbers("da").number(-0.04, 1) == "0,0" and Numbers("en").number(-1234.5, 1) == "-1,234.5"


def test_a_chart_is_not_drawn_from_nobody(reports: tuple[Report, Report]) -> None:
    halfway, _ = reports
    html = render_html(halfway, "en")
    assert 'data-chart="pss10-baseline_month6' not in html and 'id="no-data"' in html
