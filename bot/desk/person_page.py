"""What a person's page on the desk shows, read once per view: who they are and how to reach them, where they are in
the programme (and whether it is paused, by them or by a coach), their scores over the waves as charts, the TRE
sessions, the upcoming scheduled messages, open tasks and the timeline (bot/desk/timeline.py).

The thresholds drawn in the charts come from the instruments' definitions (flows/definitions) through the flow
library; the measures and waves from the programme (bot/outcomes/spec.py, as the outcome report reads them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import COPENHAGEN
from bot.desk.charts import Line, Scale, line_chart, scale_of
from bot.desk.context import Desk
from bot.desk.templating import moment
from bot.desk.timeline import ANSWERS, PER_SOURCE, Entry, timeline
from bot.outcomes.spec import MEASURES, Measure, spec_from_programme
from flows.due import SKIPPED_BY
from flows.programme import Kind, Programme
from flows.state import Progress
from flows.tre import log_flow, sessions_from_scores
from storage.records import ChannelAddress, CoachTask, Mark, Profile, ScheduleRow, ScoreRecord

UPCOMING = 12  # scheduled messages shown
TRE_SHOWN = 20  # the latest sessions in the TRE chart
SKIPPABLE = frozenset({Kind.MODULE, Kind.NUDGE, Kind.EXERCISE, Kind.WAVE_OPEN, Kind.WAVE_REMIND, Kind.CHECKIN,
                       Kind.TRE_SUMMARY})  # messages; a wave's closing and a questionnaire's expiry are bookkeeping


@dataclass(frozen=True)
class Point:
    label: str  # "Uge 5", or a session's date
    at: datetime | None
    values: tuple[float | None, ...]  # one per line of the chart
    later: bool = False  # a wave still to come (not "not answered")


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    svg: str
    columns: tuple[str, ...]  # the table's value columns (the lines' names)
    points: tuple[Point, ...]
    bands: tuple[tuple[str, str], ...] = ()  # (range, band name) for the table's key


@dataclass(frozen=True)
class Upcoming:
    row: ScheduleRow
    skipped: bool
    skippable: bool


@dataclass
class PersonPage:
    profile: Profile
    addresses: list[ChannelAddress]
    phone: str | None
    coach_name: str
    week: int | None
    modules_done: int
    modules_total: int
    consent: str  # given, declined, none
    consent_at: datetime | None
    progress: Progress
    charts: list[Chart] = field(default_factory=list)
    upcoming: list[Upcoming] = field(default_factory=list)
    tasks: list[CoachTask] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    pause_mark: Mark | None = None  # the coach's latest pause, stop or resume, with its reason
    programme_name: str = ""  # which of the deployment's programmes they are in, when it has several


async def read_page(desk: Desk, profile: Profile, lang: str, limit: int,
                    gettext: Callable[[str], str], number: Callable[[float], str]) -> PersonPage:
    storage, pid = desk.storage, profile.participant.id
    programme = await desk.loop.programme_of(pid)  # theirs: one of the deployment's programmes
    now = desk.clock.now()
    addresses = await storage.addresses(pid)
    history = await storage.person_history(pid, min(limit, PER_SOURCE), ANSWERS)
    marks = history.marks
    state = await desk.loop.state_of(profile.participant)
    declined = [m for m in marks if m.kind == "consent_declined"]
    consent, consent_at = "none", None
    if profile.consent_at is not None and (not declined or declined[-1].at <= profile.consent_at):
        consent, consent_at = "given", profile.consent_at
    elif declined:
        consent, consent_at = "declined", declined[-1].at
    coach = desk.deployment.coaches.get(profile.coach_id or "")
    page = PersonPage(
        profile=profile, addresses=addresses,
        phone=next((a.address for a in addresses if a.channel == "sms"), None),
        coach_name=coach.name if coach else (profile.coach_id or ""),
        week=_week(profile, now), modules_done=len({m.key for m in marks if m.kind == "module_done"}),
        modules_total=len(programme.modules) if programme else 0, consent=consent, consent_at=consent_at,
        progress=state.progress,
        pause_mark=next((m for m in reversed(marks) if m.kind.startswith("coach_")), None),
        programme_name=desk.programme_title(profile.programme, lang) if len(desk.programmes) > 1 else "")
    page.charts = _score_charts(desk, programme, profile, history.scores, marks, lang, gettext, number)
    tre_chart = _tre_chart(desk, programme, history.scores, lang, gettext, number)
    if tre_chart is not None:
        page.charts.append(tre_chart)
    rows = [r for r in history.pending if r.kind in SKIPPABLE]
    page.upcoming = [Upcoming(r, bool(r.data.get(SKIPPED_BY)), True) for r in rows[:UPCOMING]]
    page.tasks = [t for t in history.tasks if t.done_at is None]
    checkin = programme.checkin.flow if programme and programme.checkin else None
    page.entries = timeline(history, limit, log_flow(programme), checkin)
    return page


def days_in(profile: Profile, now: datetime) -> int | None:
    """The programme day today is (0: the start date); None before the start or without one."""
    if profile.start_date is None:
        return None
    days = (now.astimezone(COPENHAGEN).date() - profile.start_date).days
    return days if days >= 0 else None


def _week(profile: Profile, now: datetime) -> int | None:
    days = days_in(profile, now)
    return None if days is None else days // 7 + 1


def _score_charts(desk: Desk, programme: Programme | None, profile: Profile, scores: list[ScoreRecord],
                  marks: list[Mark], lang: str, gettext: Callable[[str], str],
                  number: Callable[[float], str]) -> list[Chart]:
    """PSS-10, WHO-5 and life satisfaction at each wave that asks them: the wave's run (its `wave_run` mark) gives
    the score; a wave not answered is a gap."""
    if programme is None:
        return []
    spec = spec_from_programme(programme)
    today = days_in(profile, desk.clock.now())
    library = desk.loop.registry.library
    run_wave = {(str(m.detail.get("flow_id")), int(m.detail.get("run_seq", -1))): m.key
                for m in marks if m.kind == "wave_run"}
    titles = {"pss10": gettext("PSS-10 (stress)"), "who5": gettext("WHO-5 (well-being, %)"),
              "life_satisfaction": gettext("Life satisfaction (0 to 10)")}
    charts = []
    for measure in MEASURES:
        flow = library.latest(measure.flow_id)
        score = next((s for s in flow.scores if s.id == measure.score_id), None) if flow else None
        waves = spec.asks(measure)
        if flow is None or score is None or not waves:
            continue
        scale = scale_of(flow, score, lang, lambda v: gettext("Entry cut-off {value}").format(value=number(v)))
        if scale is None:
            continue
        by_wave = _by_wave(scores, measure, run_wave)
        points = []
        for wave_id in waves:
            wave = spec.wave(wave_id)
            day = wave.day if wave else 0
            value, at = by_wave.get(wave_id, (None, None))
            points.append(Point(gettext("Week {week}").format(week=day // 7 + 1), at, (value,),
                                value is None and (today is None or day > today)))
        title = titles.get(measure.flow_id, measure.flow_id)
        charts.append(_chart(f"chart-{measure.flow_id}", title, tuple(points), scale, (title,), number))
    return charts


def _by_wave(scores: list[ScoreRecord], measure: Measure,
             run_wave: dict[tuple[str, int], str]) -> dict[str, tuple[float, datetime]]:
    found: dict[str, tuple[float, datetime]] = {}
    for s in scores:
        wave = run_wave.get((measure.flow_id, s.run_seq))
        if s.flow_id == measure.flow_id and s.score_id == measure.score_id and wave is not None:
            found[wave] = (s.value, s.completed_at)  # oldest first: a wave answered twice shows its last answer
    return found


def _tre_chart(desk: Desk, programme: Programme | None, scores: list[ScoreRecord], lang: str,
               gettext: Callable[[str], str], number: Callable[[float], str]) -> Chart | None:
    flow_id = log_flow(programme)
    sessions = sessions_from_scores((s.run_seq, s.score_id, s.value, s.completed_at)
                                    for s in scores if s.flow_id == flow_id)[-TRE_SHOWN:]
    flow = desk.loop.registry.library.latest(flow_id)
    score = next((s for s in flow.scores if s.id == "tension_before"), None) if flow else None
    scale = scale_of(flow, score, lang, number) if flow and score else None
    if not sessions or scale is None:
        return None
    points = tuple(Point(moment(s.at, lang, "date"), s.at, (s.before, s.after)) for s in sessions)
    names = (gettext("Tension before"), gettext("Tension after"))
    return _chart("chart-tre", gettext("TRE sessions: tension before and after (0 to 10)"), points, scale, names,
                  number)


def _chart(chart_id: str, title: str, points: tuple[Point, ...], scale: Scale, names: tuple[str, ...],
           number: Callable[[float], str]) -> Chart:
    lines = [Line(name, [p.values[i] for p in points], f"s{i}") for i, name in enumerate(names)]
    svg = line_chart(chart_id, title, [p.label for p in points], lines, scale, number, f"{chart_id}-table")
    bands = tuple((f"{number(r.low)}–{number(r.high)}", r.label) for r in scale.regions)
    bands += tuple((f"{number(ref.value)}", ref.label) for ref in scale.references)
    return Chart(chart_id, title, svg, names, points, bands)
