"""`SqlStorage`: the ports (storage/ports.py) on one SQL database, with group commit (storage/sql/batcher.py).

Each domain's SQL and its port's methods live in a module of their own (steps, outbox, directory, escalations,
schedule, coach work, records, audit); this class puts them together with the engines, the writer and the reader,
and has the conversation's methods. Writes go through the writer, one transaction per batch; the hot reads (a
conversation, a participant by ref, an address) through the reader; everything else (outbox scans, exports, audit,
migrations) uses the async engine.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.crypto import Keys, load_keys
from storage.errors import StorageClosed, Unsupported
from storage.files import private_database
from storage.legacy_migrations import ENCRYPTED_BODIES, ENCRYPTED_CONTACTS
from storage.records import CommitResult, Conversation, Participant, StepRecord
from storage.sql import schema as s
from storage.sql.allocations import AllocationMethods
from storage.sql.appointment_changes import AppointmentChangeMethods
from storage.sql.appointments import AppointmentMethods
from storage.sql.audit import AuditMethods, write_audit
from storage.sql.audit_search import AuditSearchMethods
from storage.sql.batcher import Batcher, Handler, Kind, lookups
from storage.sql.caseload import CaseloadMethods
from storage.sql.channel_health import ChannelHealthMethods
from storage.sql.coach_replies import CoachReplyMethods
from storage.sql.coach_work import CoachWorkMethods
from storage.sql.codecs import json_text_options, load_json, require_utc
from storage.sql.desk import DeskMethods
from storage.sql.directory import (
    DirectoryMethods,
    addresses_of,
    check_keys,
    find_participant,
    participants_by_address,
    write_contact_ops,
)
from storage.sql.engine import (
    LOOKUPS,
    WRITES,
    AsyncRunner,
    HybridRunner,
    Runner,
    engine_url,
    install_sqlite_hooks,
    read_pragmas,
)
from storage.sql.escalations import EscalationMethods, write_escalation_ops
from storage.sql.outbox import OutboxMethods, outbox_by_provider_ids, write_sent
from storage.sql.outbox_claims import LocalLeases, rows_to_claim
from storage.sql.person_history import PersonHistoryMethods
from storage.sql.records import RecordsMethods
from storage.sql.rows import step_rows
from storage.sql.schedule import ScheduleMethods, write_programme_ops
from storage.sql.steps import (
    read_conversations,
    read_participants,
    step_contacts,
    write_flows,
    write_participants,
    write_steps,
)
from storage.sql.undelivered import UndeliveredMethods
from storage.upgrade import upgrade, upgrade_file

_WRITERS: dict[Kind, Handler] = {
    Kind.PARTICIPANT: write_participants,
    Kind.STEP: write_steps,
    Kind.SENT: write_sent,
    Kind.AUDIT: write_audit,
    Kind.FLOW: write_flows,
    Kind.ESCALATION: write_escalation_ops,
    Kind.CONTACT: write_contact_ops,
    Kind.PROGRAMME: write_programme_ops,
    Kind.PRAGMAS: read_pragmas,
}
_READERS: dict[Kind, Handler] = {
    Kind.READ_PARTICIPANT: read_participants,
    Kind.READ_CONVERSATION: read_conversations,
    Kind.READ_BY_ADDRESS: participants_by_address,  # every inbound message
    Kind.READ_ADDRESSES: addresses_of,  # every outbound message
    Kind.READ_BY_PROVIDER_ID: outbox_by_provider_ids,  # every status callback
    Kind.READ_OUTBOX_CLAIM: rows_to_claim,  # every look of a dispatcher (SQLite)
    Kind.READ_ONE: lookups,  # a dispatcher's look, a person's programme and arm (`StoreBase.lookup`)
    Kind.PRAGMAS: read_pragmas,
}


class SqlStorage(OutboxMethods, UndeliveredMethods, DirectoryMethods, EscalationMethods, ScheduleMethods,
                 CoachWorkMethods, RecordsMethods, AuditMethods, DeskMethods, AllocationMethods,
                 CoachReplyMethods, PersonHistoryMethods, CaseloadMethods, AppointmentMethods,
                 AppointmentChangeMethods, ChannelHealthMethods, AuditSearchMethods):
    """The one `Storage`: a SQL database (a SQLite file, or a SQLAlchemy async URL) behind a group-commit writer.

    `target` is a file path (its directory is created) or a URL such as ``sqlite+aiosqlite:///bot.db``.
    `runner` picks how batches run (storage/sql/engine.py); only ``"async"`` works for non-SQLite URLs.
    `keys` seal contact details and names (default: `load_keys`, from `key_environ` or the process environment, or
    the development key file). Each port's methods are in the module of its domain; the conversation's are here.
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        max_batch: int = 256,
        runner: Literal["hybrid", "async"] | None = None,
        echo: bool = False,
        keys: Keys | None = None,
        key_environ: Mapping[str, str] | None = None,
    ) -> None:
        url = engine_url(target)
        is_sqlite = url.get_backend_name() == "sqlite"
        runner = runner or ("hybrid" if is_sqlite else "async")
        if runner == "hybrid" and not is_sqlite:
            raise Unsupported("runner='hybrid' is only for SQLite")
        self._path = Path(url.database) if is_sqlite and url.database else None
        if self._path is not None:
            private_database(self._path)  # 0600 before SQLite makes it -rw-r--r-- (storage/files.py)
        # Contact details and names are sealed with these (storage/crypto.py); by default from the environment,
        # or on a development machine from the key file beside the database.
        self._keys = keys or load_keys(self._path, key_environ)
        self._closed = False
        self._event_memo = {}  # bulk plans' encoded events, from one chunk to the next (storage/sql/schedule_rows.py)
        self._apart_writes = set()  # bulk plans written beside the writer on a server (storage/sql/schedule.py)
        # hide_parameters: SQL errors and echo must never carry answers or messages (health data) into logs.
        self._engine = create_async_engine(url, echo=echo, hide_parameters=True,
                                           **json_text_options(url))
        if is_sqlite:
            install_sqlite_hooks(self._engine.sync_engine)
        self._write_engine = self._engine.execution_options(**WRITES)
        write_runner: Runner
        read_runner: Runner
        if runner == "hybrid":
            write_runner = HybridRunner(url, "storage-writer", WRITES, offload=True)
            read_runner = HybridRunner(url, "storage-reader", LOOKUPS, offload=False)
        else:
            root = self._engine.sync_engine
            write_runner = AsyncRunner(self._write_engine, root)
            read_runner = AsyncRunner(self._engine.execution_options(**LOOKUPS), root)
        self._writer = Batcher("storage-writer", write_runner, _WRITERS, max_batch)
        self._reader = Batcher("storage-reader", read_runner, _READERS, max_batch)
        self._leases = LocalLeases() if is_sqlite else None  # outbox leases: one process per SQLite file

    @property
    def keys(self) -> Keys:
        """The keys contact details are sealed with (for tools: the research export's pseudonyms)."""
        return self._keys

    @property
    def engine(self) -> AsyncEngine:
        """For tests and tools that need raw access; application code uses the methods."""
        return self._engine

    @property
    def sync_engines(self) -> tuple[Engine, ...]:
        """Every engine SQL runs on (async engine, writer, reader), for event listeners in tests and tools."""
        return tuple(dict.fromkeys((self._engine.sync_engine, self._writer.engine, self._reader.engine)))

    async def connection_pragmas(self) -> dict[str, dict[str, Any]]:
        """The durability pragmas as the writer, the reader and the async engine's connections see them."""
        async with self._connect() as conn:
            engine = (await conn.run_sync(lambda sync: read_pragmas(sync, [None])))[0]
        return {
            "writer": await self._writer.submit(Kind.PRAGMAS, None),
            "reader": await self._reader.submit(Kind.PRAGMAS, None),
            "engine": engine,
        }

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (storage/upgrade.py) in one transaction; after the old
        numbered migrations that encrypt contact details or messages, scrub the file of their plaintext. Then check
        that the keys open what is stored (wrong keys fail here, not on a message)."""
        if self._closed:
            raise StorageClosed("storage is closed")
        keys = self._keys
        if self._path is not None:  # on a connection of its own, foreign keys off (storage/upgrade.py says why)
            done = (await asyncio.to_thread(upgrade_file, self._path, keys)).legacy
        else:
            async with self._write_engine.begin() as conn:
                done = (await conn.run_sync(lambda sync: upgrade(sync, keys))).legacy
        if ENCRYPTED_CONTACTS in done or ENCRYPTED_BODIES in done:
            await self.scrub()
        async with self._connect() as conn:
            await conn.run_sync(check_keys, keys)

    async def close(self) -> None:
        self._closed = True
        await asyncio.gather(*self._apart_writes, return_exceptions=True)  # their callers hear how they ended
        await self._writer.stop()
        await self._reader.stop()
        await self._engine.dispose()

    async def get_or_create_participant(self, ref: str, lang: str, now: datetime) -> Participant:
        found = await self._reader.submit(Kind.READ_PARTICIPANT, ref)
        if found is not None:
            return cast(Participant, found)
        try:
            created = await self._writer.submit(Kind.PARTICIPANT, (ref, lang, require_utc(now)))
        except IntegrityError:  # another process created it first (only possible without BEGIN IMMEDIATE)
            created = await self._reader.submit(Kind.READ_PARTICIPANT, ref)
            if created is None:
                raise
        return cast(Participant, created)

    async def participant(self, participant_id: int) -> Participant | None:
        """One SELECT on the reader (`lookup`): the scheduler asks it for every due event it hands on."""
        return await self.lookup(find_participant, participant_id)

    async def load_conversation(self, participant_id: int) -> Conversation:
        sealed, revision = await self._reader.submit(Kind.READ_CONVERSATION, participant_id)
        state = None if sealed is None else load_json(self._keys.open(sealed))
        return Conversation(participant_id=participant_id, state=state, revision=revision)

    async def commit_step(self, step: StepRecord) -> CommitResult:
        """Queue the step for the next group commit; return once the COMMIT containing it has returned.

        A caller cancelled while its step waits in the queue has nothing written; once its batch has started
        the step may commit anyway, so after a cancellation reload the conversation to learn the outcome.
        """
        rows = step_rows(step, self._keys.seal)  # bad data fails here, for this caller only, before any transaction
        contacts = step_contacts(step, self._keys)
        if contacts:
            rows = replace(rows, contacts=contacts)
        return cast(CommitResult, await self._writer.submit(Kind.STEP, rows))

    async def remember_flow_version(self, flow_id: str, version: int, source: str, at: datetime) -> str | None:
        previous = await self._writer.submit(Kind.FLOW, (flow_id, version, source, require_utc(at)))
        return cast(str | None, previous)

    async def flow_version_source(self, flow_id: str, version: int) -> str | None:
        fv = s.flow_versions
        query = select(fv.c.source).where(fv.c.flow_id == flow_id, fv.c.version == version)
        async with self._connect() as conn:
            return cast(str | None, await conn.scalar(query))
