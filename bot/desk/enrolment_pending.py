"""The list an administrator has checked, kept until they confirm it: the preview's token, taken once.

The preview keeps the requests it showed in the storage's one-time challenges (sealed at rest like a log-in's,
`purpose` "enrolment", 30 minutes), and the confirmation form carries only the token. So what is enrolled is exactly
what was previewed (no names or numbers go back and forth in hidden fields), a second click, a reload of the result
page or another desk process cannot enrol anyone twice (the token is gone once taken), and a preview left alone
expires. Only the administrator who made the preview can confirm it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from bot.desk.sessions import id_hash
from bot.enroll import EnrolmentRequest
from storage.desk_records import DeskChallenge
from storage.ports import Storage

PURPOSE = "enrolment"
LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class Pending:
    source: str  # "form" (one person) or "csv"
    rows: tuple[tuple[int, EnrolmentRequest], ...]  # the file's line (0 for the form) and what it asked
    new_cohort: str | None = None  # the one new cohort the administrator chose to create
    file_name: str = ""


def _request_json(request: EnrolmentRequest) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(request).items()}


def _request(data: dict[str, Any]) -> EnrolmentRequest:
    known = {f.name for f in fields(EnrolmentRequest)}
    values = {k: v for k, v in data.items() if k in known}
    if values.get("start_date"):
        values["start_date"] = date.fromisoformat(values["start_date"])
    return EnrolmentRequest(**values)


async def keep(storage: Storage, pending: Pending, coach_id: str, now: datetime) -> str:
    """Keep the previewed list; returns the token the confirmation form carries."""
    token = secrets.token_urlsafe(24)
    data = {"source": pending.source, "new_cohort": pending.new_cohort, "file_name": pending.file_name,
            "rows": [[line, _request_json(request)] for line, request in pending.rows]}
    await storage.save_desk_challenge(DeskChallenge(id_hash(token), PURPOSE, coach_id, json.dumps(data),
                                                    now + LIFETIME), now)
    return token


async def take(storage: Storage, token: str, coach_id: str, now: datetime) -> Pending | None:
    """The list, once; None when the token was used, expired, never made, or made by someone else."""
    if not token:
        return None
    found = await storage.take_desk_challenge(id_hash(token), PURPOSE, now)
    if found is None or found.coach_id != coach_id:
        return None
    data = json.loads(found.data)
    rows = tuple((int(line), _request(request)) for line, request in data["rows"])
    return Pending(str(data["source"]), rows, data.get("new_cohort"), str(data.get("file_name") or ""))
