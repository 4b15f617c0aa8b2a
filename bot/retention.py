"""Retention: everything about a person is erased a configured number of days after their programme ended.

Their programme is the one chosen at their enrolment (or the default). It ends at the start date plus its weeks, or
after its last measurement closes if that is later (the six-month follow-up comes after the twelve weeks: erasing
before it would lose the outcome). A person never enrolled (the console) counts from the day they first wrote. The
deployment's ``data_protection`` block sets the period (bot/dataprotection.py); without it nothing is erased by time.
`python -m bot run` sweeps daily; ``python -m bot person retention [--dry-run]`` does it by hand.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot import singleton
from bot.clock import COPENHAGEN, Clock
from bot.dataprotection import DataProtection
from flows.programme import Programme
from storage.job_locks import JobLocks
from storage.ports import Storage
from storage.records import AuditRecord, Participant

log = logging.getLogger(__name__)
DAILY = timedelta(days=1)


def programme_days(programme: Programme | None) -> int:
    """Days from the start to the programme's end: its weeks, or its last measurement's close if later."""
    if programme is None:
        return 0
    waves = [wave.day + wave.close_after_days for wave in programme.waves]
    return max([programme.days, *waves])


@dataclass(frozen=True)
class Due:
    participant: Participant
    ended: date  # when their programme ended
    erase_after: date  # the last day their data is kept


async def due(storage: Storage, programme: Programme | None, days_after_end: int, today: date,
              programmes: Mapping[str, Programme] | None = None) -> list[Due]:
    """Who is past the retention period on `today` (Copenhagen), oldest programme first. Each person's programme is
    theirs: the one chosen at enrolment (`programmes` by id), else the default `programme`; one no longer loaded
    counts as the longest of them (kept longer, never erased early)."""
    choices = await storage.programme_choices() if programmes else {}
    longest = max([programme_days(programme), *map(programme_days, (programmes or {}).values())])
    default = timedelta(days=programme_days(programme))
    found = []
    for participant, start in await storage.start_dates():
        began = start or participant.created_at.astimezone(COPENHAGEN).date()
        chosen = choices.get(participant.id)
        known = (programmes or {}).get(chosen) if chosen is not None else None
        length = default if chosen is None else timedelta(days=programme_days(known) if known else longest)
        ended = began + length
        keep_until = ended + timedelta(days=days_after_end)
        if today > keep_until:
            found.append(Due(participant, ended, keep_until))
    return sorted(found, key=lambda d: (d.ended, d.participant.id))


async def sweep(storage: Storage, programme: Programme | None, settings: DataProtection, now: datetime,
                actor: str, dry_run: bool = False, programmes: Mapping[str, Programme] | None = None) -> list[Due]:
    """Erase (or, dry, only list) everyone past the retention period; audited either way, without refs."""
    if settings.retention_days_after_end is None:
        return []
    found = await due(storage, programme, settings.retention_days_after_end, now.astimezone(COPENHAGEN).date(),
                      programmes)
    detail = {"count": len(found), "retention_days_after_end": settings.retention_days_after_end}
    if dry_run:
        await storage.record_audit(AuditRecord(actor, "retention.listed", "participants", now, detail))
        return found
    if found:
        await storage.erase_participants([d.participant.id for d in found], actor, "retention", now,
                                         settings.keep_anonymised_scores)
    await storage.record_audit(AuditRecord(actor, "retention.erased", "participants", now, detail))
    return found


async def run_daily(storage: Storage, programme: Programme | None, settings: DataProtection, clock: Clock,
                    every: timedelta = DAILY, locks: JobLocks | None = None,
                    programmes: Mapping[str, Programme] | None = None) -> None:
    """The server's job: sweep at start, then once a day; a failed sweep is logged and tried again next time. With
    `locks` (several processes on PostgreSQL), only in the process holding the job's lock (bot/singleton.py)."""
    if settings.retention_days_after_end is None:
        log.info("no retention period configured (data_protection.retention_days_after_end): nothing is erased by time")
        return
    job = functools.partial(_sweep_logged, storage, programme, settings, clock, programmes)
    if locks is not None:
        await singleton.every(locks, "retention", job, every)
        return
    while True:
        try:
            await job()
        except Exception:
            log.exception("retention sweep failed; trying again in %s", every)
        await asyncio.sleep(every.total_seconds())


async def _sweep_logged(storage: Storage, programme: Programme | None, settings: DataProtection, clock: Clock,
                        programmes: Mapping[str, Programme] | None = None) -> None:
    gone = await sweep(storage, programme, settings, clock.now(), "system", programmes=programmes)
    if gone:
        log.info("retention: %s participant(s) past the retention period erased", len(gone))
