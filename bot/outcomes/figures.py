"""The report as a flat list of figures with stable keys: what the text, CSV, JSON and HTML formats all show.

Every figure carries who it includes: `n` (how many participants, or escalations, check-ins, waves it was
computed from), `missing` (of the report's participants, how many it could not include) and `includes` in words.
A figure with n = 0 has no value (a dash; blank in CSV, null in JSON).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.outcomes.build import Report
from bot.outcomes.change import Paired, WaveSummary
from bot.outcomes.labels import Words
from bot.outcomes.numbers import Numbers
from bot.outcomes.stats import percent
from bot.outcomes.trial_figures import trial_rows


@dataclass(frozen=True)
class Figure:
    section: str
    key: str
    label: str
    value: float | None
    unit: str  # count, percent, score, points, rate, minutes (bot/outcomes/numbers.py)
    n: int | None
    missing: int | None
    includes: str


class _Sheet:
    def __init__(self, report: Report, lang: str) -> None:
        self.report, self.words, self.numbers, self.rows = report, Words(lang), Numbers(lang), list[Figure]()
        self.size = report.participation.enrolled

    def count(self, value: int) -> str:
        """A count inside a sentence, grouped as the locale writes it (1.000)."""
        return self.numbers.number(value, 0)

    def add(self, section: str, key: str, label: str, value: float | None, unit: str, n: int | None,
            includes: str, missing: int | None = None) -> None:
        """A figure computed from nobody (n = 0) has no value: a dash, never a 0 that looks like a result."""
        self.rows.append(Figure(section, key, label, None if n == 0 else value, unit, n, missing, includes))


def figures(report: Report, lang: str) -> list[Figure]:
    sheet = _Sheet(report, lang)
    words = sheet.words
    _participants(sheet)
    for summary in report.by_wave:
        _wave_scores(sheet, summary)
    for stress in report.stress:
        p = _paired(sheet, stress.paired)
        pair, key = _names(sheet, stress.paired)
        nonzero = words("i.paired_nonzero", measure=words.measure(stress.paired.measure),
                        before=words.wave(stress.paired.before_wave), after=words.wave(stress.paired.after_wave),
                        no_before=sheet.count(stress.paired.no_before), no_after=sheet.count(stress.paired.no_after),
                        zero=sheet.count(stress.zero_baseline))
        n = stress.percent_changes.n
        sheet.add("pss10", f"{key}.percent_change_mean", words("f.percent_change_mean", pair=pair),
                  stress.percent_changes.mean, "percent", n, nonzero, sheet.size - n)
        sheet.add("pss10", f"{key}.percent_change_of_mean", words("f.percent_change_of_mean", pair=pair),
                  stress.paired.percent_change_of_mean, "percent", p.n, p.includes, p.missing)
        sheet.add("pss10", f"{key}.mcic_share", words("f.mcic", pair=pair), percent(stress.mcic, p.n), "percent",
                  p.n, p.includes, p.missing)
        sheet.add("pss10", f"{key}.mcic_count", words("f.mcic_count", pair=pair), stress.mcic, "count", p.n,
                  p.includes, p.missing)
    for wellbeing in report.wellbeing:
        p = _paired(sheet, wellbeing.paired)
        pair, key = _names(sheet, wellbeing.paired)
        sheet.add("who5", f"{key}.percent_change_of_mean", words("f.percent_change_of_mean", pair=pair),
                  wellbeing.paired.percent_change_of_mean, "percent", p.n, p.includes, p.missing)
        sheet.add("who5", f"{key}.improved_share", words("f.improved", pair=pair), percent(wellbeing.improved, p.n),
                  "percent", p.n, p.includes, p.missing)
        sheet.add("who5", f"{key}.improved_count", words("f.improved_count", pair=pair), wellbeing.improved, "count",
                  p.n, p.includes, p.missing)
    for life in report.satisfaction:
        p = _paired(sheet, life.paired)
        pair, key = _names(sheet, life.paired)
        sheet.add("life_satisfaction", f"{key}.rose_share", words("f.rose", pair=pair), percent(life.rose, p.n),
                  "percent", p.n, p.includes, p.missing)
        for name, count in (("rose_count", life.rose), ("same", life.same), ("fell", life.fell)):
            sheet.add("life_satisfaction", f"{key}.{name}", words(f"f.{name}", pair=pair), count, "count", p.n,
                      p.includes, p.missing)
    for row in trial_rows(report.trial, words, sheet.count) if report.trial else ():
        sheet.add(*row)
    _adherence(sheet)
    _safety(sheet)
    return sheet.rows


def _participants(sheet: _Sheet) -> None:
    words, part, size = sheet.words, sheet.report.participation, sheet.size
    cutoff = f"{sheet.report.spec.entry_cutoff:g}"
    everyone = words("i.all")
    sheet.add("participants", "participants.enrolled", words("f.enrolled"), part.enrolled, "count", size, everyone, 0)
    sheet.add("participants", "participants.screened", words("f.screened"), part.screened, "count", size, everyone, 0)
    screened = words("i.screened")
    sheet.add("participants", "participants.entry_criterion", words("f.entry_criterion", cutoff=cutoff),
              part.entry_criterion, "count", part.screened, screened, size - part.screened)
    sheet.add("participants", "participants.below_criterion", words("f.below_criterion", cutoff=cutoff),
              part.below_criterion, "count", part.screened, screened, size - part.screened)
    sheet.add("participants", "participants.with_baseline", words("f.with_baseline"), part.with_baseline, "count",
              size, everyone, 0)
    for wave in part.waves:
        name = words.wave(wave.wave)
        for state in ("answered", "partly", "missed", "open", "not_yet"):
            sheet.add("waves", f"waves.{wave.wave}.{state}", words(f"f.wave.{state}", wave=name),
                      getattr(wave, state), "count", size, everyone, 0)
    sheet.add("waves", "waves.missed_total", words("f.missed_total"), part.missed_total, "count", size, everyone, 0)


def _wave_scores(sheet: _Sheet, summary: WaveSummary) -> None:
    words = sheet.words
    measure, wave = words.measure(summary.measure), words.wave(summary.wave)
    includes = words("i.wave", measure=measure, wave=wave)
    key = f"{summary.measure.flow_id}.{summary.wave}"
    section = summary.measure.flow_id
    stats = summary.stats
    sheet.add(section, f"{key}.mean", words("f.wave_mean", measure=measure, wave=wave), stats.mean, "score", stats.n,
              includes, summary.missing)
    sheet.add(section, f"{key}.sd", words("f.wave_sd", measure=measure, wave=wave), stats.sd, "score", stats.n,
              includes, summary.missing)


@dataclass(frozen=True)
class _Pair:
    n: int
    missing: int
    includes: str


def _names(sheet: _Sheet, paired: Paired) -> tuple[str, str]:
    pair = sheet.words.pair(paired.measure, paired.before_wave, paired.after_wave)
    return pair, f"{paired.measure.flow_id}.{paired.before_wave}_{paired.after_wave}"


def _paired(sheet: _Sheet, paired: Paired) -> _Pair:
    """The before, after and change means and SDs every comparison shows; what its other figures include."""
    words = sheet.words
    pair, key = _names(sheet, paired)
    includes = words("i.paired", measure=words.measure(paired.measure), before=words.wave(paired.before_wave),
                     after=words.wave(paired.after_wave), no_before=sheet.count(paired.no_before),
                     no_after=sheet.count(paired.no_after))
    p = _Pair(paired.n, sheet.size - paired.n, includes)
    section = paired.measure.flow_id
    for name, value, unit in (("before_mean", paired.before.mean, "score"), ("before_sd", paired.before.sd, "score"),
                              ("after_mean", paired.after.mean, "score"), ("after_sd", paired.after.sd, "score"),
                              ("change_mean", paired.change.mean, "points")):
        sheet.add(section, f"{key}.{name}", words(f"f.{name}", pair=pair), value, unit, p.n, p.includes, p.missing)
    return p


def _adherence(sheet: _Sheet) -> None:
    words, ad, size = sheet.words, sheet.report.adherence, sheet.size
    everyone = words("i.all")
    sheet.add("adherence", "adherence.modules_mean", words("f.modules_mean"), ad.modules_done.mean, "score", size,
              everyone, 0)
    sheet.add("adherence", "adherence.modules_median", words("f.modules_median"), ad.modules_done.median, "score",
              size, everyone, 0)
    sheet.add("adherence", "adherence.all_modules", words("f.all_modules"), ad.all_modules, "count", size, everyone, 0)
    sheet.add("adherence", "adherence.no_module", words("f.no_module"), ad.no_module, "count", size, everyone, 0)
    for module in ad.by_module:
        sheet.add("adherence", f"adherence.module.{module.number}", words("f.module", number=module.number),
                  percent(module.done, module.released), "percent", module.released, words("i.released"),
                  size - module.released)
    week_in = words("i.week_in", too_early=sheet.count(ad.tre_too_early))
    sheet.add("adherence", "adherence.tre_rate_mean", words("f.tre_rate_mean"), ad.tre_rate.mean, "rate",
              ad.tre_rate.n, week_in, ad.tre_too_early)
    sheet.add("adherence", "adherence.tre_rate_median", words("f.tre_rate_median"), ad.tre_rate.median, "rate",
              ad.tre_rate.n, week_in, ad.tre_too_early)
    sheet.add("adherence", "adherence.tre_any", words("f.tre_any"), percent(ad.tre_any, ad.tre_rate.n), "percent",
              ad.tre_rate.n, week_in, ad.tre_too_early)
    sheet.add("adherence", "adherence.tre_in_programme", words("f.tre_in_programme"), ad.tre_in_programme, "count",
              size, everyone, 0)
    sheet.add("adherence", "adherence.tre_total", words("f.tre_total"), ad.tre_total, "count", size, everyone, 0)
    closed = words("i.closed_waves")
    sheet.add("adherence", "adherence.waves_answered", words("f.waves_answered"),
              percent(ad.waves_answered, ad.waves_closed), "percent", ad.waves_closed, closed)
    sent = words("i.sent_checkins")
    sheet.add("adherence", "adherence.checkins_answered", words("f.checkins_answered"),
              percent(ad.checkins_answered, ad.checkins_sent), "percent", ad.checkins_sent, sent)
    sheet.add("adherence", "adherence.checkins_sent", words("f.checkins_sent"), ad.checkins_sent, "count", size,
              everyone, 0)
    sheet.add("adherence", "adherence.checkins_answered_count", words("f.checkins_answered_count"),
              ad.checkins_answered, "count", ad.checkins_sent, sent)
    for week in ad.weeks:
        sheet.add("weeks", f"weeks.{week.week}.tre_per_participant", words("f.week_tre", week=week.week),
                  week.tre_sessions / week.participants if week.participants else None, "rate", week.participants,
                  words("i.week_begun"), size - week.participants)
        sheet.add("weeks", f"weeks.{week.week}.checkins_answered", words("f.week_checkins", week=week.week),
                  percent(week.checkins_answered, week.checkins_sent), "percent", week.checkins_sent,
                  words("i.week_sent"))


def _safety(sheet: _Sheet) -> None:
    words, safety = sheet.words, sheet.report.safety
    every = words("i.escalations")
    for level, count in safety.by_level:
        sheet.add("safety", f"safety.escalations.{level}", words("f.escalations", level=words.level(level)), count,
                  "count", safety.total, every)
    sheet.add("safety", "safety.acknowledged", words("f.acknowledged"), safety.acknowledged, "count", safety.total,
              every)
    sheet.add("safety", "safety.unacknowledged", words("f.unacknowledged"), safety.unacknowledged, "count",
              safety.total, every)
    acknowledged = words("i.acknowledged")
    minutes = safety.minutes_to_acknowledge
    sheet.add("safety", "safety.minutes_to_acknowledge_median", words("f.ack_median"), minutes.median, "minutes",
              minutes.n, acknowledged, safety.unacknowledged)
    sheet.add("safety", "safety.minutes_to_acknowledge_longest", words("f.ack_longest"), minutes.high, "minutes",
              minutes.n, acknowledged, safety.unacknowledged)
    sheet.add("safety", "safety.breached", words("f.breached"), safety.breached, "count", safety.total, every)
    sheet.add("safety", "safety.open", words("f.open_now"), safety.open_now, "count", safety.total, every)
