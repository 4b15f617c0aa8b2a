"""The caseload (storage/caseload.py): a page of a coach's participants with their figures, in a few set-based
statements whatever the number of participants.

First the page: the participants in scope, narrowed and ordered in the database, one statement (and one count).
The small sets that decide "needs attention" (open alerts, unread messages for a coach, overdue tasks) are each
read once through their partial indexes and joined, never looked up per person. Then the page's figures: one
grouped statement per table for the page's ids (profiles, modules done, scores, alerts, unread, tasks), all in one
read transaction, so the figures agree with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    distinct,
    false,
    func,
    or_,
    select,
    true,
)

from storage.caseload import ONLY, SORTS, CaseloadPage, CaseloadQuery, CaseloadRow, TaskRow
from storage.crypto import Keys
from storage.sql import schema as s
from storage.sql.base import StoreBase
from storage.sql.rows import task_from_row

_p, _pr, _e, _ib, _tk, _mk, _sc = (s.participants, s.profiles, s.escalations, s.inbox, s.coach_tasks,
                                   s.programme_marks, s.scores)
_OPEN_ALERT = _e.c.status != s.NOT_CLOSED  # the partial unique index's own condition, so SQLite uses it
_UNREAD = and_(s.FOR_COACH, _ib.c.read_at.is_(None))  # within the partial index of messages for a coach
_OPEN_TASK = _tk.c.done_at.is_(None)  # the partial index of open tasks
_LEVEL_RANK = case((_e.c.level == "high", 3), (_e.c.level == "moderate", 2), else_=1)
_LEVELS = {3: "high", 2: "moderate", 1: "low"}
MODULE_DONE = "module_done"


def _like(text: str) -> str:
    """`text` as a LIKE pattern that matches it anywhere, its own % and _ taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _in_scope(q: CaseloadQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if q.coach_id is not None:
        where.append(_pr.c.coach_id == q.coach_id)
    if q.search or q.among is not None:
        found: list[ColumnElement[bool]] = []
        if q.search:
            found.append(func.lower(_p.c.ref).like(_like(q.search), escape="\\"))
        if q.among:
            found.append(_p.c.id.in_(list(q.among)))
        where.append(or_(*found) if found else false())
    if q.only not in ONLY:
        raise ValueError(f"only must be one of {ONLY}")
    if q.only == "alerts":
        where.append(_p.c.id.in_(select(_e.c.participant_id).where(_OPEN_ALERT)))
    elif q.only == "unread":
        where.append(_p.c.id.in_(select(_ib.c.participant_id).where(_UNREAD)))
    elif q.only == "overdue":
        where.append(_p.c.id.in_(select(_tk.c.participant_id).where(_OPEN_TASK, _tk.c.due_at < q.now)))
    elif q.only in ("finished", "active"):
        where.append(_finished(q) if q.only == "finished" else _active(q))
    return where


def _cutoffs(q: CaseloadQuery) -> list[tuple[ColumnElement[bool], Any]]:
    """(whose, the start date on or before which their programme is over): each programme's own participants, then
    everyone else with `finished_on_or_before` (None: never over)."""
    named = [pid for pid, _ in q.finished_by_programme]
    rest = or_(_pr.c.programme.is_(None), _pr.c.programme.not_in(named)) if named else true()
    return [*((_pr.c.programme == pid, cutoff) for pid, cutoff in q.finished_by_programme),
            (rest, q.finished_on_or_before)]


def _finished(q: CaseloadQuery) -> ColumnElement[bool]:
    return or_(false(), *(and_(whose, _pr.c.start_date <= cutoff) for whose, cutoff in _cutoffs(q)
                          if cutoff is not None))


def _active(q: CaseloadQuery) -> ColumnElement[bool]:
    return or_(_pr.c.start_date.is_(None), *(and_(whose, _pr.c.start_date > cutoff) if cutoff is not None else whose
                                             for whose, cutoff in _cutoffs(q)))


def _ordered(q: CaseloadQuery, query: Select[Any]) -> Select[Any]:
    """The sort's key first (descending when asked), the ref last, so every order is total and pages do not
    overlap."""
    if q.sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}")
    keys: list[ColumnElement[Any]] = []
    if q.sort in ("attention", "alerts"):
        alerts = (select(_e.c.participant_id, func.max(_LEVEL_RANK).label("rank")).where(_OPEN_ALERT)
                  .group_by(_e.c.participant_id).subquery())
        query = query.outerjoin(alerts, alerts.c.participant_id == _p.c.id)
        keys.append(func.coalesce(alerts.c.rank, 0))
    if q.sort in ("attention", "overdue"):
        overdue = (select(_tk.c.participant_id, func.count().label("n")).where(_OPEN_TASK, _tk.c.due_at < q.now)
                   .group_by(_tk.c.participant_id).subquery())
        query = query.outerjoin(overdue, overdue.c.participant_id == _p.c.id)
        keys.append(func.coalesce(overdue.c.n, 0))
    if q.sort in ("attention", "unread"):
        unread = (select(_ib.c.participant_id, func.count().label("n")).where(_UNREAD)
                  .group_by(_ib.c.participant_id).subquery())
        query = query.outerjoin(unread, unread.c.participant_id == _p.c.id)
        keys.append(func.coalesce(unread.c.n, 0))
    if q.sort == "ref":
        keys.append(_p.c.ref)
    if q.sort == "start":
        keys.append(_pr.c.start_date)
    if q.sort == "modules":
        keys.append(select(func.count(distinct(_mk.c.key))).where(_mk.c.participant_id == _p.c.id,
                                                                  _mk.c.kind == MODULE_DONE).scalar_subquery())
    if q.sort in ("score0", "score1"):
        index = int(q.sort[-1])
        if index >= len(q.scores):
            raise ValueError(f"sort {q.sort} needs {index + 1} scores")
        flow_id, score_id = q.scores[index]
        keys.append(select(_sc.c.value).where(_sc.c.participant_id == _p.c.id, _sc.c.flow_id == flow_id,
                                              _sc.c.score_id == score_id)
                    .order_by(_sc.c.completed_at.desc(), _sc.c.id.desc()).limit(1).scalar_subquery())
    # "attention" and the counts read most first; the rest least first, unless asked the other way
    most_first = q.sort in ("attention", "alerts", "overdue", "unread")
    down = most_first != q.descending
    order = [k.desc().nulls_last() if down else k.asc().nulls_last() for k in keys]
    return query.order_by(*order, _p.c.ref)


def caseload_ids(conn: Connection, q: CaseloadQuery) -> tuple[list[int], int]:
    """The page's participant ids in order, and how many match in all."""
    where = _in_scope(q)
    base = select(_p.c.id).select_from(_p.join(_pr, _pr.c.participant_id == _p.c.id)).where(*where)
    total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
    query = _ordered(q, base)
    if q.limit is not None:
        query = query.limit(max(q.limit, 0)).offset(max(q.offset, 0))
    return [int(pid) for pid in conn.execute(query).scalars()], total


def _counts(conn: Connection, query: Select[Any]) -> dict[int, int]:
    return {int(pid): int(n) for pid, n in conn.execute(query)}


def caseload_rows(conn: Connection, ids: Sequence[int], q: CaseloadQuery, keys: Keys) -> list[CaseloadRow]:
    """Each participant's figures, in the order of `ids`: one grouped statement per table for all of them."""
    if not ids:
        return []
    wanted = list(ids)
    people = {row["id"]: row for row in conn.execute(
        select(_p.c.id, _p.c.ref, _pr.c.name, _pr.c.start_date, _pr.c.coach_id, _pr.c.cohort)
        .join_from(_p, _pr, _pr.c.participant_id == _p.c.id).where(_p.c.id.in_(wanted))).mappings()}
    modules = _counts(conn, select(_mk.c.participant_id, func.count(distinct(_mk.c.key)))
                      .where(_mk.c.participant_id.in_(wanted), _mk.c.kind == MODULE_DONE)
                      .group_by(_mk.c.participant_id))
    values: dict[tuple[int, str, str], list[float]] = {}
    if q.scores:
        pairs = or_(*(and_(_sc.c.flow_id == f, _sc.c.score_id == sid) for f, sid in q.scores))
        for pid, flow_id, score_id, value in conn.execute(
                select(_sc.c.participant_id, _sc.c.flow_id, _sc.c.score_id, _sc.c.value)
                .where(_sc.c.participant_id.in_(wanted), pairs)
                .order_by(_sc.c.participant_id, _sc.c.completed_at.desc(), _sc.c.id.desc())):
            values.setdefault((int(pid), flow_id, score_id), []).append(float(value))
    alerts = {int(pid): (int(n), int(rank)) for pid, n, rank in conn.execute(
        select(_e.c.participant_id, func.count(), func.max(_LEVEL_RANK))
        .where(_e.c.participant_id.in_(wanted), _OPEN_ALERT).group_by(_e.c.participant_id))}
    unread = _counts(conn, select(_ib.c.participant_id, func.count())
                     .where(_UNREAD, _ib.c.participant_id.in_(wanted)).group_by(_ib.c.participant_id))
    tasks = {int(pid): (int(n), int(late or 0)) for pid, n, late in conn.execute(
        select(_tk.c.participant_id, func.count(), func.sum(case((_tk.c.due_at < q.now, 1), else_=0)))
        .where(_tk.c.participant_id.in_(wanted), _OPEN_TASK).group_by(_tk.c.participant_id))}
    rows = []
    for pid in wanted:
        person = people.get(pid)
        if person is None:
            continue
        count, rank = alerts.get(pid, (0, 0))
        open_tasks, overdue = tasks.get(pid, (0, 0))
        rows.append(CaseloadRow(
            participant_id=pid, ref=person["ref"], name=keys.open(person["name"]), start_date=person["start_date"],
            coach_id=person["coach_id"], cohort=person["cohort"], modules_done=modules.get(pid, 0),
            scores=tuple(tuple(values.get((pid, f, sid), [])[:2]) for f, sid in q.scores),
            open_alerts=count, alert_level=_LEVELS.get(rank), unread=unread.get(pid, 0), open_tasks=open_tasks,
            overdue_tasks=overdue))
    return rows


def caseload(conn: Connection, q: CaseloadQuery, keys: Keys) -> CaseloadPage:
    ids, total = caseload_ids(conn, q)
    if q.limit is None:
        return CaseloadPage([], total, tuple(ids))
    return CaseloadPage(caseload_rows(conn, ids, q, keys), total, tuple(ids))


def tasks_of(conn: Connection, coach_id: str | None, done_since: datetime | None, keys: Keys) -> list[TaskRow]:
    """Open tasks of the coach's participants (everyone's for None), and those done since `done_since`."""
    query = (select(_tk, _p.c.ref, _pr.c.name).join_from(_tk, _p, _tk.c.participant_id == _p.c.id)
             .join(_pr, _pr.c.participant_id == _p.c.id)
             .order_by(_tk.c.created_at, _tk.c.id))
    if coach_id is not None:
        query = query.where(_pr.c.coach_id == coach_id)
    query = query.where(or_(_OPEN_TASK, _tk.c.done_at >= done_since) if done_since is not None else _OPEN_TASK)
    return [TaskRow(task_from_row(row), row["ref"], keys.open(row["name"])) for row in conn.execute(query).mappings()]


class CaseloadMethods(StoreBase):
    """The `Caseloads` port."""

    _name_memo: dict[str | None, dict[str, str]]

    async def caseload(self, query: CaseloadQuery) -> CaseloadPage:
        async with self._connect() as conn:
            await conn.execute(select(1))  # BEGIN: the page and its figures from one snapshot
            return await conn.run_sync(caseload, query, self._keys)

    async def caseload_rows(self, ids: Sequence[int], query: CaseloadQuery) -> list[CaseloadRow]:
        async with self._connect() as conn:
            await conn.execute(select(1))
            return await conn.run_sync(caseload_rows, list(ids), query, self._keys)

    async def profile_names(self, coach_id: str | None = None) -> dict[int, str]:
        """Every enrolled participant's name (one coach's, or everyone's). Opening 10,000 names takes a tenth of
        a second, so each sealed value is opened once and kept per scope, but only until the next call: the
        tokens are read every time, so a changed name is opened anew and an erased one is forgotten."""
        query = select(_pr.c.participant_id, _pr.c.name)
        if coach_id is not None:
            query = query.where(_pr.c.coach_id == coach_id)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).all()
        memos = self.__dict__.setdefault("_name_memo", {})
        before = memos.get(coach_id, {})
        memo = {token: before.get(token) or self._keys.open(token) for _, token in rows}
        memos[coach_id] = memo
        return {int(pid): memo[token] for pid, token in rows}

    async def tasks_of(self, coach_id: str | None, done_since: datetime | None = None) -> list[TaskRow]:
        async with self._connect() as conn:
            return await conn.run_sync(tasks_of, coach_id, done_since, self._keys)
