"""A deployment's safety configuration: crisis contacts, escalation deadlines, coaches and the duty roster.

Read from YAML (bot/deployment.yaml by default, or the file named by BOT_DEPLOYMENT). Every problem is
reported at once; a bot with broken safety configuration refuses to start rather than run without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.canned_replies import CannedReplies, read_canned_replies
from bot.clock import COPENHAGEN
from bot.dataprotection import DataProtection, read_data_protection
from bot.delivery_policy import DeliveryPolicy, read_delivery
from flows.model import ConsentTerms, LocalText
from flows.risk import LEVELS
from flows.yamlsource import LineList, LineMap, read_yaml

DEFAULT_PATH = Path(__file__).resolve().parent / "deployment.yaml"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROSTER_KEYS = ("office_hours", "out_of_hours", "backup", "clinical_lead")
_AFTER = re.compile(r"^\s*(\d+)\s*([mh])\s*$")
_NEXT_DAY = re.compile(r"^\s*next_working_day\s+(\d{1,2}):(\d{2})\s*$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_COACH_CHANNEL = re.compile(r"^(console|sms:\+\d{8,15}|telegram:-?\d{1,20})$")


class DeploymentError(ValueError):
    """The configuration cannot be used; the message lists every problem with its line."""


@dataclass(frozen=True)
class CrisisContact:
    id: str
    text: Mapping[str, str]
    urgent: bool = False


@dataclass(frozen=True)
class Coach:
    id: str
    name: str
    channels: tuple[str, ...]
    role: str = "coach"  # "admin": sees every participant in the overview (coaches see their own)
    login: str = ""  # who the municipality's identity provider says this is (DESK_OIDC_LOGIN_CLAIM); "": no such log-in

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def telegram_chat(self) -> str | None:
        return next((c.removeprefix("telegram:") for c in self.channels if c.startswith("telegram:")), None)


@dataclass(frozen=True)
class Deadline:
    after: timedelta | None = None  # a fixed time after the signal
    next_working_day_at: time | None = None  # or a time of day on the next working day


@dataclass(frozen=True)
class Deployment:
    contacts: tuple[CrisisContact, ...]
    deadlines: Mapping[str, Deadline]
    office_days: frozenset[int]  # 0 = Monday
    office_start: time
    office_end: time
    coaches: Mapping[str, Coach]
    roster: Mapping[str, tuple[str, ...]]
    out_of_hours_notice: Mapping[str, str]
    consent: ConsentTerms | None = None
    data_protection: DataProtection = field(default_factory=DataProtection)  # retention, anonymised scores
    # A message for a coach nobody has read by then becomes a coach task (`messages.unread_task_after`).
    unread_task_after: Deadline = field(default_factory=lambda: Deadline(after=timedelta(hours=4)))
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)  # retries, and when a coach hears of a failure
    canned_replies: CannedReplies = field(default_factory=dict)  # texts a coach may start a reply from, per language

    def contact_lines(self, level: str, lang: str, now: datetime | None = None) -> list[str]:
        """The contacts as the person reads them; for high risk, the urgent ones (112, emergency) first.
        Outside office hours (when `now` is given) a notice says that no coach is reading along."""
        ordered = list(self.contacts)
        if level == "high":
            ordered.sort(key=lambda c: not c.urgent)
        lines = [_in(c.text, lang) for c in ordered]
        if now is not None and not self.in_office_hours(now):
            lines.append(_in(self.out_of_hours_notice, lang))
        return lines

    def in_office_hours(self, now: datetime) -> bool:
        local = now.astimezone(COPENHAGEN)
        return local.weekday() in self.office_days and self.office_start <= local.time() < self.office_end

    def deadline(self, level: str, now: datetime) -> datetime:
        return self._due(self.deadlines[level], now)

    def unread_task_at(self, received_at: datetime) -> datetime:
        """When a message for a coach that nobody has read becomes a coach task."""
        return self._due(self.unread_task_after, received_at)

    def _due(self, rule: Deadline, now: datetime) -> datetime:
        if rule.after is not None:
            return now + rule.after
        assert rule.next_working_day_at is not None
        day = now.astimezone(COPENHAGEN).date() + timedelta(days=1)
        while day.weekday() not in self.office_days:
            day += timedelta(days=1)
        return datetime.combine(day, rule.next_working_day_at, COPENHAGEN).astimezone(now.tzinfo)

    def coaches_for(self, tier: int, now: datetime) -> list[Coach]:
        """Who is told at each tier: on duty (0), plus the backup (1), plus the clinical lead (2)."""
        ids = list(self.roster["office_hours" if self.in_office_hours(now) else "out_of_hours"])
        if tier >= 1:
            ids += self.roster["backup"]
        if tier >= 2:
            ids += self.roster["clinical_lead"]
        return [self.coaches[i] for i in dict.fromkeys(ids)]

    def is_coach(self, coach_id: str) -> bool:
        return coach_id in self.coaches

    def coach_with_login(self, login: str) -> Coach | None:
        """The coach the identity provider's claim names (compared without case: e-mail addresses)."""
        wanted = login.strip().casefold()
        return next((c for c in self.coaches.values() if c.login and c.login.casefold() == wanted), None)

    def coach_in_telegram_chat(self, chat_id: int | str) -> Coach | None:
        """The coach whose configured Telegram chat this is: their messages go to the coach desk."""
        return next((c for c in self.coaches.values() if c.telegram_chat() == str(chat_id)), None)


def _deadline(value: Any) -> Deadline | None:
    """"15m", "2h" or "next_working_day 12:00" as a `Deadline`; None when it is none of these."""
    after = _AFTER.match(value) if isinstance(value, str) else None
    next_day = _NEXT_DAY.match(value) if isinstance(value, str) else None
    if after is not None and int(after[1]) > 0:
        unit = "minutes" if after[2] == "m" else "hours"
        return Deadline(after=timedelta(**{unit: int(after[1])}))
    if next_day is not None and int(next_day[1]) < 24 and int(next_day[2]) < 60:
        return Deadline(next_working_day_at=time(int(next_day[1]), int(next_day[2])))
    return None


def _in(texts: Mapping[str, str], lang: str) -> str:
    return texts.get(lang) or texts.get("da") or next(iter(texts.values()))


def deployment_path() -> Path:
    from bot.settings import settings

    return settings().bot_deployment or DEFAULT_PATH


def load_deployment(path: Path | None = None) -> Deployment:
    path = path or deployment_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeploymentError(f"{path}: cannot read the deployment configuration: {exc}") from exc
    data, problems = read_yaml(text, str(path))
    errors = [str(p) for p in problems]
    reader = _Reader(str(path), errors)
    deployment = reader.deployment(data) if isinstance(data, LineMap) else None
    if deployment is None and not errors:
        errors.append(f"{path}:1: the configuration must be a block of keys")
    if errors or deployment is None:
        raise DeploymentError("\n".join(errors))
    return deployment


class _Reader:
    def __init__(self, path: str, errors: list[str]) -> None:
        self.path = path
        self.errors = errors

    def error(self, line: int, message: str) -> None:
        self.errors.append(f"{self.path}:{line}: {message}")

    def deployment(self, top: LineMap) -> Deployment | None:
        for key in top:
            if key not in ("crisis_contacts", "out_of_hours_notice", "consent", "escalation", "coaches", "roster",
                           "data_protection", "messages", "delivery", "canned_replies"):
                self.error(top.line_of(key), f"unknown key {key!r}")
        protection = read_data_protection(top.get("data_protection"), top.line_of("data_protection"), self.error)
        delivery = read_delivery(top.get("delivery"), top.line_of("delivery"), self.error)
        canned = read_canned_replies(top.get("canned_replies"), top.line_of("canned_replies"), self.error)
        contacts = self.contacts(top.get("crisis_contacts"), top.line_of("crisis_contacts"))
        escalation = top.get("escalation")
        if not isinstance(escalation, LineMap):
            self.error(top.line_of("escalation"), "escalation must be a block with deadlines and office_hours")
            return None
        deadlines = self.deadlines(escalation.get("deadlines"), escalation.line_of("deadlines"))
        days, start, end = self.office_hours(escalation.get("office_hours"), escalation.line_of("office_hours"))
        coaches = self.coaches(top.get("coaches"), top.line_of("coaches"))
        roster = self.roster(top.get("roster"), top.line_of("roster"), coaches)
        notice = top.get("out_of_hours_notice")
        if not isinstance(notice, LineMap) or not all(isinstance(notice.get(lang), str) for lang in ("da", "en")):
            self.error(top.line_of("out_of_hours_notice"), "out_of_hours_notice needs a text in da and en")
        if self.errors:
            return None
        assert isinstance(notice, LineMap)
        unread = self.unread_task_after(top)
        if self.errors:
            return None
        return Deployment(tuple(contacts), deadlines, days, start, end, coaches, roster,
                          {str(k): str(v) for k, v in notice.items()}, self.consent(top), protection, unread, delivery,
                          canned)

    def unread_task_after(self, top: LineMap) -> Deadline:
        """`messages.unread_task_after`: like a deadline (4h, 30m, next_working_day 12:00); 4h when not given."""
        raw = top.get("messages")
        if raw is None:
            return Deadline(after=timedelta(hours=4))
        value = raw.get("unread_task_after") if isinstance(raw, LineMap) else None
        rule = _deadline(value)
        if rule is None:
            self.error(top.line_of("messages"), "messages needs unread_task_after like 4h, 30m or "
                                                f"'next_working_day 12:00', not {value!r}")
            return Deadline(after=timedelta(hours=4))
        return rule

    def consent(self, top: LineMap) -> ConsentTerms | None:
        raw = top.get("consent")
        if raw is None:
            return None
        text = raw.get("text") if isinstance(raw, LineMap) else None
        version = raw.get("version") if isinstance(raw, LineMap) else None
        if not isinstance(version, str | int) or not isinstance(text, LineMap) or not all(
                isinstance(text.get(lang), str) for lang in ("da", "en")):
            self.error(top.line_of("consent"), "consent needs a version and a text in da and en")
            return None
        return ConsentTerms(str(version), LocalText({str(k): str(v) for k, v in text.items()}))

    def contacts(self, raw: Any, line: int) -> list[CrisisContact]:
        if not isinstance(raw, LineList) or not raw:
            self.error(line, "crisis_contacts must list at least one contact (never none)")
            return []
        found = []
        for i, item in enumerate(raw):
            text = item.get("text") if isinstance(item, LineMap) else None
            if not isinstance(item, LineMap) or not isinstance(item.get("id"), str) or not isinstance(text, LineMap):
                self.error(raw.line_of(i), "a crisis contact needs an id and a text per language")
                continue
            for lang in ("da", "en"):
                if not isinstance(text.get(lang), str) or not text[lang].strip():
                    self.error(text.line, f"crisis contact {item['id']!r} has no text in {lang!r}")
            found.append(CrisisContact(item["id"], {str(k): str(v) for k, v in text.items()},
                                       bool(item.get("urgent", False))))
        if found and not any(c.urgent for c in found):
            self.error(line, "no crisis contact is marked urgent: high risk must show an emergency route first")
        return found

    def deadlines(self, raw: Any, line: int) -> dict[str, Deadline]:
        result: dict[str, Deadline] = {}
        if not isinstance(raw, LineMap):
            self.error(line, "deadlines must give high, moderate and low")
            return result
        for level in LEVELS:
            value = raw.get(level)
            rule = _deadline(value)
            if rule is not None:
                result[level] = rule
            else:
                self.error(raw.line_of(level) if level in raw else raw.line,
                           f"deadline for {level} must look like 15m, 2h or 'next_working_day 12:00', not {value!r}")
        return result

    def office_hours(self, raw: Any, line: int) -> tuple[frozenset[int], time, time]:
        default = (frozenset(range(5)), time(8), time(16))
        if not isinstance(raw, LineMap):
            self.error(line, "office_hours needs days, start and end")
            return default
        days = raw.get("days")
        if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
            self.error(raw.line_of("days"), f"office_hours days must be a list of {', '.join(DAYS)}")
            return default
        clocks = []
        for key in ("start", "end"):
            m = _CLOCK.match(str(raw.get(key, "")))
            if m is None or int(m[1]) > 23 or int(m[2]) > 59:
                self.error(raw.line_of(key), f"office_hours {key} must look like \"08:00\" (quote it)")
                return default
            clocks.append(time(int(m[1]), int(m[2])))
        return frozenset(DAYS.index(d) for d in days), clocks[0], clocks[1]

    def coaches(self, raw: Any, line: int) -> dict[str, Coach]:
        result: dict[str, Coach] = {}
        if not isinstance(raw, LineList) or not raw:
            self.error(line, "coaches must list at least one coach")
            return result
        for i, item in enumerate(raw):
            channels = item.get("channels") if isinstance(item, LineMap) else None
            if (not isinstance(item, LineMap) or not isinstance(item.get("id"), str)
                    or not isinstance(channels, list) or not channels):
                self.error(raw.line_of(i), "a coach needs an id, a name and at least one channel")
                continue
            if item["id"] in result:
                self.error(raw.line_of(i), f"coach id {item['id']!r} is used twice")
            for entry in channels:
                if not _COACH_CHANNEL.match(str(entry)):
                    self.error(raw.line_of(i), f"coach {item['id']!r}: channel entries are console, "
                                               "sms:+<number> or telegram:<chat id>")
            role = str(item.get("role", "coach"))
            if role not in ("coach", "admin"):
                self.error(raw.line_of(i), f"coach {item['id']!r}: role is coach or admin, not {role!r}")
            login = item.get("login", "")
            if not isinstance(login, str) or (login and any(c.login.casefold() == login.strip().casefold()
                                                            for c in result.values())):
                self.error(raw.line_of(i), f"coach {item['id']!r}: login is the identity provider's name for this "
                                           "coach, once per coach")
                login = ""
            result[item["id"]] = Coach(item["id"], str(item.get("name", item["id"])), tuple(map(str, channels)),
                                       role, login.strip())
        return result

    def roster(self, raw: Any, line: int, coaches: Mapping[str, Coach]) -> dict[str, tuple[str, ...]]:
        result: dict[str, tuple[str, ...]] = {}
        if not isinstance(raw, LineMap):
            self.error(line, f"roster must give {', '.join(ROSTER_KEYS)}")
            return result
        for key in ROSTER_KEYS:
            ids = raw.get(key)
            if not isinstance(ids, list) or not ids:
                self.error(raw.line_of(key) if key in raw else raw.line, f"roster {key} must name at least one coach")
                continue
            for coach_id in ids:
                if coach_id not in coaches:
                    self.error(raw.line_of(key), f"roster {key} names {coach_id!r}, who is not in coaches")
            result[key] = tuple(map(str, ids))
        return result
