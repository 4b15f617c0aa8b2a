"""Local wall-clock time for a programme: when something is due, in UTC, outside quiet hours.

A programme says "day 28 at 10:00" in the participant's time zone; the schedule stores UTC. Converting on the
local calendar (not by adding 24-hour days to a UTC instant) keeps a reminder at the same local time across
the daylight-saving changes. Nothing is ever due in quiet hours or in the hour the clocks change (02:00-03:00
by default): such a moment moves to the end of the quiet hours or of that hour. Pure: no clock is read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flows.effects import Plan
from flows.programme import Kind, Programme


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone(programme: Programme) -> ZoneInfo:
    return _zone(programme.timezone)


def wall(programme: Programme, day: date, at: time) -> datetime:
    """The UTC instant of a local date and time (a time the clocks skip is read with the earlier offset)."""
    return datetime.combine(day, at, tzinfo=zone(programme)).astimezone(UTC)


def local(programme: Programme, moment: datetime) -> datetime:
    return moment.astimezone(zone(programme))


def wall_clock(moment: datetime) -> time:
    """The time of day shown on a local clock at `moment` (built without calling anything named `time`, which
    the purity test forbids)."""
    return time.min.replace(hour=moment.hour, minute=moment.minute, second=moment.second,
                            microsecond=moment.microsecond)


def _within(t: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= t < end
    return t >= start or t < end  # a window across midnight, e.g. 21:00-08:00


def in_quiet_hours(programme: Programme, moment: datetime) -> bool:
    return _within(wall_clock(local(programme, moment)), programme.quiet_start, programme.quiet_end)


def in_dst_gap(programme: Programme, moment: datetime) -> bool:
    start, end = programme.dst_gap
    return _within(wall_clock(local(programme, moment)), start, end)


def is_allowed(programme: Programme, moment: datetime) -> bool:
    return not in_quiet_hours(programme, moment) and not in_dst_gap(programme, moment)


def allowed_from(programme: Programme, moment: datetime) -> datetime:
    """The earliest instant at or after `moment` when the bot may write first."""
    for _ in range(4):  # quiet hours, then the clock-change hour, then quiet hours again at most
        here = local(programme, moment)
        if in_quiet_hours(programme, moment):
            day = here.date() if wall_clock(here) < programme.quiet_end else here.date() + timedelta(days=1)
            moment = max(moment, wall(programme, day, programme.quiet_end))
        elif in_dst_gap(programme, moment):
            moment = max(moment, wall(programme, here.date(), programme.dst_gap[1]))
        else:
            return moment
    return moment


def at_local(programme: Programme, day: date, at: time) -> datetime:
    """`day` at local time `at`, as a UTC instant, moved out of quiet hours if it falls in them."""
    return allowed_from(programme, wall(programme, day, at))


def local_day(programme: Programme, moment: datetime) -> date:
    return local(programme, moment).date()


# -- planning -------------------------------------------------------------------------------------------------


def _plan(key: str, kind: str, due: datetime, start: date, **data: str | int) -> Plan:
    return Plan(key, kind, due, {"start": start.isoformat(), "planned": due.isoformat(), **data})


def module_plan(programme: Programme, start: date, number: int) -> Plan | None:
    module = programme.module(number)
    if module is None:
        return None
    later = sorted(m.day for m in programme.modules if m.day > module.day)
    next_release = at_local(programme, start + timedelta(days=later[0]), programme.send_time) if later else None
    due = at_local(programme, start + timedelta(days=module.day), programme.send_time)
    return _plan(f"module:{number}", Kind.MODULE, due, start, module=number,
                 next_release=next_release.isoformat() if next_release else "")


def nudge_plan(programme: Programme, start: date, number: int, released: datetime) -> Plan | None:
    """The nudge for a module not marked done, `nudge_after_days` after its release, at the send time."""
    if programme.nudge_after_days <= 0 or programme.module(number) is None:
        return None
    release = module_plan(programme, start, number)
    day = local_day(programme, released) + timedelta(days=programme.nudge_after_days)
    due = at_local(programme, day, programme.send_time)
    next_release = str(release.data.get("next_release", "")) if release else ""
    if next_release and due >= datetime.fromisoformat(next_release):
        return None  # the next module comes first; its reminder replaces the nudge
    return _plan(f"nudge:{number}", Kind.NUDGE, due, start, module=number, next_release=next_release)


def wave_open_plan(programme: Programme, start: date, wave_id: str) -> Plan | None:
    """A wave's opening. Its closing is planned when the opening is handled, its reminders one at a time."""
    wave = programme.wave(wave_id)
    if wave is None:
        return None
    opens = at_local(programme, start + timedelta(days=wave.day), programme.send_time)
    return _plan(f"wave:{wave.id}:open", Kind.WAVE_OPEN, opens, start, wave=wave.id)


def wave_close_plan(programme: Programme, start: date, wave_id: str) -> Plan | None:
    wave = programme.wave(wave_id)
    if wave is None:
        return None
    closes = at_local(programme, start + timedelta(days=wave.day + wave.close_after_days), programme.send_time)
    return _plan(f"wave:{wave.id}:close", Kind.WAVE_CLOSE, closes, start, wave=wave.id)


def wave_reminder_plan(programme: Programme, start: date, wave_id: str, number: int,
                       after: datetime) -> Plan | None:
    """Reminder `number` of a wave, `remind_every_days` after `after`, if it comes before the wave closes."""
    wave = programme.wave(wave_id)
    if wave is None or number > wave.reminders:
        return None
    day = local_day(programme, after) + timedelta(days=wave.remind_every_days)
    due = at_local(programme, day, programme.send_time)
    closes = at_local(programme, start + timedelta(days=wave.day + wave.close_after_days), programme.send_time)
    if due >= closes:
        return None
    return _plan(f"wave:{wave.id}:remind:{number}", Kind.WAVE_REMIND, due, start, wave=wave.id, n=number,
                 closes=closes.isoformat())


def exercise_plan(programme: Programme, start: date, weekdays: tuple[int, ...], at: time,
                  after: datetime) -> Plan | None:
    """The next exercise reminder strictly after `after`, on the chosen weekdays, within the programme."""
    if not weekdays:
        return None
    first = max(start, local_day(programme, after))
    end = start + timedelta(days=programme.days)
    day = first
    while day < end:
        if day.weekday() in weekdays:
            due = at_local(programme, day, at)
            if due > after:
                return _plan(f"exercise:{day.isoformat()}", Kind.EXERCISE, due, start)
        day += timedelta(days=1)
    return None


def checkin_plan(programme: Programme, start: date, number: int) -> Plan | None:
    checkin = programme.checkin
    if checkin is None:
        return None
    day = checkin.first_day + (number - 1) * checkin.every_days
    if day > programme.days:
        return None
    due = at_local(programme, start + timedelta(days=day), programme.send_time)
    return _plan(f"checkin:{number}", Kind.CHECKIN, due, start, n=number)


def tre_summary_plan(programme: Programme, start: date, after: datetime) -> Plan | None:
    summary = programme.tre_summary
    if summary is None:
        return None
    day = max(start + timedelta(days=1), local_day(programme, after))
    end = start + timedelta(days=programme.days + 7)  # the last week's summary comes after the last day
    while day < end:
        if day.weekday() == summary.weekday:
            due = at_local(programme, day, summary.at)
            if due > after:
                return _plan(f"tre_summary:{day.isoformat()}", Kind.TRE_SUMMARY, due, start, flow=summary.flow)
        day += timedelta(days=1)
    return None


def next_module_plan(programme: Programme, start: date, number: int) -> Plan | None:
    """The module released after module `number`, if any."""
    later = sorted((m for m in programme.modules if m.number > number), key=lambda m: m.number)
    return module_plan(programme, start, later[0].number) if later else None


def phase_plan(programme: Programme, start: date, phase_id: str) -> Plan | None:
    phase = programme.phase(phase_id)
    if phase is None:
        return None
    due = at_local(programme, start + timedelta(days=phase.day), programme.send_time)
    return _plan(f"phase:{phase.id}", Kind.PHASE, due, start, phase=phase.id)


def initial_plan(programme: Programme, start: date) -> list[Plan]:
    """What is planned at enrolment: each wave's opening and each phase's beginning, and the first of everything
    that follows on from itself (module 1, the first exercise reminder, check-in and TRE summary). Handling an event
    plans the next one, so a participant has about eight rows at a time and a change (new exercise times) replaces
    one."""
    before_start = wall(programme, start, time.min)
    ordered = sorted(programme.waves, key=lambda w: w.day)  # a wave before a module due at the same time
    plans = [wave_open_plan(programme, start, w.id) for w in ordered]
    plans += [phase_plan(programme, start, p.id) for p in programme.phases]
    first_module = min((m.number for m in programme.modules), default=None)
    plans.append(module_plan(programme, start, first_module) if first_module is not None else None)
    if programme.exercises is not None:
        ex = programme.exercises
        plans.append(exercise_plan(programme, start, ex.default_days, ex.default_time, before_start))
    plans += [checkin_plan(programme, start, 1), tre_summary_plan(programme, start, before_start)]
    return [p for p in plans if p is not None]
