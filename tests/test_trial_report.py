"""The arms compared and the return to work (issue 15; seed 002's payment targets), against figures worked out by hand.

Six participants of the randomised cohort "trial-1" live through six months in the real app (SQLite file, scheduler,
conversation loop, fake clock), all starting Monday 16 March 2026 (day 0): three in the programme arm, three in the
control arm (the allocator's draw is scripted here; tests/test_allocation.py tests the allocator). They answer the
work question at every wave (baseline day 0, week 4 day 28, end day 84, six months day 182) and the programme arm
also in the weekly check-in when something changed. The report is made on day 200.

PSS-10 totals: 6 x usual + 4 x (4 - reversed), as in tests/test_report.py.
"""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.clock import COPENHAGEN, FakeClock
from bot.outcomes.build import Report, build_report, outcome_query
from bot.outcomes.cohort import Filters
from bot.outcomes.figures import Figure, figures
from bot.outcomes.intervals import t_quantile
from bot.outcomes.spec import spec_from_programme
from bot.outcomes.text import render_text
from storage.records import ScheduleStatus
from tests.conftest import without_consent
from tests.report_cohort import LiveCohort, Wave

START = date(2026, 3, 16)
REPORT_AT = datetime.combine(START + timedelta(days=200), time(12, 0), COPENHAGEN)
TRIAL = "trial-1"


def on_day(day: int, hour: int) -> datetime:
    return datetime.combine(START + timedelta(days=day), time(hour), COPENHAGEN)


async def live_through(app: App) -> None:
    c = LiveCohort.open(app)
    # Programme arm. P1: on leave at baseline; at the day-14 check-in partly back "for 4 days" (day 10); at the end
    # wave fully back for 30 days (day 54). Returns: partly day 10, fully day 54.
    await c.enrol("p-p1", START, {
        "baseline": Wave((3, 1), "22211", 4, work=(1, 10)),  # PSS 30
        "week4": Wave((3, 2), work=(2, 14)),  # "partly for 14 days" (day 14): the check-in's earlier day 10 counts
        "end": Wave((2, 2), "33322", 6, work=(3, 30)),
        "month6": Wave((2, 3), "44433", 7, work=(3, 128)),  # PSS 16, life 4 -> 7: rose
    }, checkins_until=200, cohort=TRIAL, arm="programme", checkin_work={14: (2, 4)})
    # P2: partly back at the end wave for 14 days (day 70), fully at 6 months for 32 days (day 150).
    await c.enrol("p-p2", START, {
        "baseline": Wave((3, 0), "11111", 5, work=(1, 5)),  # PSS 34
        "week4": Wave((3, 0), work=(1, 0)),
        "end": Wave((2, 1), "22222", 5, work=(2, 14)),
        "month6": Wave((2, 2), "32222", 5, work=(3, 32)),  # PSS 20, life 5 -> 5: same
    }, checkins_until=200, cohort=TRIAL, arm="programme")
    # P3: on leave at every wave they answer, misses the 6-month wave: not known whether back by 6 months.
    await c.enrol("p-p3", START, {
        "baseline": Wave((2, 1), "33333", 6, work=(1, 3)),  # PSS 24
        "week4": Wave((2, 1), work=(1, 0)), "end": Wave((2, 1), "33333", 6, work=(1, 0)),
    }, checkins_until=200, cohort=TRIAL, arm="programme")
    # Control arm. C1: partly back at the end wave for 4 days (day 80), still partly at 6 months: never fully.
    await c.enrol("p-c1", START, {
        "baseline": Wave((2, 0), "22222", 6, work=(1, 7)),  # PSS 28
        "week4": Wave((2, 0), work=(1, 0)), "end": Wave((2, 0), "22222", 6, work=(2, 4)),
        "month6": Wave((3, 1), "22222", 5, work=(2, 100)),  # PSS 30, life 6 -> 5: fell
    }, cohort=TRIAL, arm="control")
    # C2: on leave throughout, answered at 6 months: known not to be back.
    await c.enrol("p-c2", START, {
        "baseline": Wave((3, 2), "22222", 5, work=(1, 2)),  # PSS 26
        "week4": Wave((3, 2), work=(1, 0)), "end": Wave((3, 2), "22222", 5, work=(1, 0)),
        "month6": Wave((3, 2), "22222", 6, work=(1, 0)),  # PSS 26, life 5 -> 6: rose
    }, cohort=TRIAL, arm="control")
    # C3: fully back at the end wave for 4 days (day 80): partly and fully on day 80.
    await c.enrol("p-c3", START, {
        "baseline": Wave((2, 1), "22222", 5, work=(1, 1)),  # PSS 24
        "week4": Wave((2, 1), work=(1, 0)), "end": Wave((2, 1), "22222", 5, work=(3, 4)),
        "month6": Wave((2, 2), "22222", 5, work=(3, 102)),  # PSS 20, life 5 -> 5: same
    }, cohort=TRIAL, arm="control")
    await c.run_until(on_day(20, 12))
    control_rows = [r for p in c.people if p.participant.ref.startswith("p-c")
                    for r in await app.storage.schedule_of(p.participant.id)]
    assert {r.kind for r in control_rows} <= {"wave_open", "wave_remind", "wave_close", "run_expiry"}, \
        "the control arm gets the measurement waves only"
    assert any(r.kind == "wave_open" and r.status is ScheduleStatus.SENT for r in control_rows)
    await c.run_until(REPORT_AT)


@pytest.fixture(scope="module")
def trial_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trial")

    async def build() -> None:
        async with open_app(str(folder / "bot.db"), FakeClock(on_day(-1, 12)), deployment_path=without_consent(folder),
                            coach_channels={}) as app:
            await live_through(app)

    asyncio.run(build())
    return folder / "bot.db"


async def report_of(db: Path) -> Report:
    async with open_app(str(db), FakeClock(REPORT_AT), coach_channels={}) as app:
        programme = app.registry.library.programme
        assert programme is not None
        spec = spec_from_programme(programme)
        arms = {a.participant_id: a.arm for a in await app.storage.allocations(TRIAL)}
        return await app.storage.read_outcomes(outcome_query(spec, TRIAL),
                                               lambda chunks: build_report(chunks, spec, REPORT_AT, Filters(TRIAL),
                                                                           arms))


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def var(values: list[float]) -> float:
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / (len(values) - 1)


def welch(first: list[float], second: list[float]) -> tuple[float, float, float]:
    """mean(first) - mean(second) and its 95 % interval, written out."""
    a, b = var(first) / len(first), var(second) / len(second)
    df = (a + b) ** 2 / (a * a / (len(first) - 1) + b * b / (len(second) - 1))
    half = t_quantile(0.975, df) * math.sqrt(a + b)
    d = mean(first) - mean(second)
    return d, d - half, d + half


def wilson(k: int, n: int) -> tuple[float, float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, centre - half, centre + half


def check(found: dict[str, Figure], key: str, value: float | None, n: int | None, missing: int | None) -> None:
    figure = found[key]
    expected = pytest.approx(value, abs=1e-9) if value is not None else None
    assert (figure.value, figure.n, figure.missing) == (expected, n, missing), key


def check_interval(found: dict[str, Figure], key: str, interval: tuple[float, float, float], n: int,
                   missing: int) -> None:
    for suffix, value in zip(("", ".ci_low", ".ci_high"), interval, strict=True):
        check(found, key + suffix, value, n, missing)


def test_t_quantiles_match_the_printed_table() -> None:
    for df, table in ((1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (30, 2.042), (120, 1.980)):
        assert t_quantile(0.975, df) == pytest.approx(table, abs=5e-4)
    assert 4.303 > t_quantile(0.975, 2.5) > 3.182  # between df 2 and 3


async def test_the_arms_compared_on_all_three_payment_targets_as_worked_out_by_hand(trial_db: Path) -> None:
    found = {f.key: f for f in figures(await report_of(trial_db), "da")}
    # Allocated, reached 6 months (all: day 200 >= 182), answered at 6 months (PSS-10): P3 missed it.
    for arm, answered in (("programme", 2), ("control", 3)):
        check(found, f"trial.{arm}.allocated", 3, 3, 0)
        check(found, f"trial.{arm}.reached_6m", 3, 3, 0)
        check(found, f"trial.{arm}.answered_6m", answered, 3, 0)
        check(found, f"trial.{arm}.missing_6m", 3 - answered, 3, 0)
    assert "trial.unallocated.allocated" not in found  # everyone was randomised

    # Return to work, days from the start. Programme: partly P1 10, P2 70 (P3 unknown: missing); fully 54, 150.
    # Control: partly C1 80, C3 80, C2 known not back: 182; fully C3 80, C1 and C2 not back: 182.
    check(found, "work.programme.partly.returned", 2, 2, 1)
    check(found, "work.programme.partly.median_days", 40, 2, 1)
    check_interval(found, "work.programme.partly.mean_days", welch_mean([10, 70]), 2, 1)
    check(found, "work.programme.fully.returned", 2, 2, 1)
    check(found, "work.programme.fully.median_days", 102, 2, 1)
    check(found, "work.control.partly.returned", 2, 3, 0)
    check(found, "work.control.partly.median_days", 80, 2, 1)
    check_interval(found, "work.control.partly.mean_days", welch_mean([80, 80, 182]), 3, 0)  # mean 114
    check(found, "work.control.fully.returned", 1, 3, 0)
    check(found, "work.control.fully.median_days", 80, 1, 2)
    check_interval(found, "work.control.fully.mean_days", welch_mean([80, 182, 182]), 3, 0)

    # Target 1: control 114 - programme 40 = 74 days sooner (expected 14). Welch: variances 3468 and 1800,
    # se = sqrt(3468/3 + 1800/2) = sqrt(2056), df = 2056^2 / (1156^2/2 + 900^2/1) = 2.8597...
    target1 = welch([80, 182, 80], [10, 70])
    assert target1[0] == pytest.approx(74)
    check_interval(found, "trial.target1.days_sooner", target1, 5, 1)

    # Target 2: PSS-10 per participant, (after - before) / before x 100. Programme: P1 30 -> 16: -46.67 %,
    # P2 34 -> 20: -41.18 %. Control: C1 28 -> 30: +7.14 %, C2 26 -> 26: 0 %, C3 24 -> 20: -16.67 %.
    programme = [100 * (16 - 30) / 30, 100 * (20 - 34) / 34]
    control = [100 * (30 - 28) / 28, 0.0, 100 * (20 - 24) / 24]
    check_interval(found, "trial.programme.pss10_percent_change", welch_mean(programme), 2, 1)
    check_interval(found, "trial.control.pss10_percent_change", welch_mean(control), 3, 0)
    check_interval(found, "trial.target2.difference", welch(programme, control), 5, 1)

    # Target 3: life satisfaction rose. Programme: P1 4 -> 7 rose, P2 5 -> 5: 1 of 2. Control: C1 6 -> 5,
    # C2 5 -> 6 rose, C3 5 -> 5: 1 of 3. Difference 50 % - 33.3 % = 16.7 points, Newcombe's interval.
    p, c = wilson(1, 2), wilson(1, 3)
    check_interval(found, "trial.programme.life_rose_share", tuple(100 * v for v in p), 2, 1)  # type: ignore[arg-type]
    check_interval(found, "trial.control.life_rose_share", tuple(100 * v for v in c), 3, 0)  # type: ignore[arg-type]
    d = p[0] - c[0]
    newcombe = (d, d - math.sqrt((p[0] - p[1]) ** 2 + (c[2] - c[0]) ** 2),
                d + math.sqrt((p[2] - p[0]) ** 2 + (c[0] - c[1]) ** 2))
    check_interval(found, "trial.target3.difference", tuple(100 * v for v in newcombe), 5, 1)  # type: ignore[arg-type]


def welch_mean(values: list[float]) -> tuple[float, float, float]:
    """A mean and its t interval, written out."""
    half = t_quantile(0.975, len(values) - 1) * math.sqrt(var(values) / len(values))
    return mean(values), mean(values) - half, mean(values) + half


async def test_the_text_report_shows_the_arms_and_the_return_to_work_in_both_languages(trial_db: Path) -> None:
    report = await report_of(trial_db)
    danish, english = render_text(report, "da"), render_text(report, "en")
    assert "Betalingsmål 1: dage hurtigere helt eller delvist raskmeldt end kontrolgruppen (forventet 14): 74,0" \
        in danish
    assert "Tildelt kontrolgruppen: 3" in danish
    assert "Payment target 1: days sooner partly or fully back than the control arm (expected 14): 74.0" in english
    assert "the programme arm: days from start until partly or fully back, median of those who returned: 40.0" \
        in english
