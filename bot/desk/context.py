"""`Desk`: what every page of the coaches' desk works with, built once from the running app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from starlette.requests import Request

from bot.app import App
from bot.clock import Clock
from bot.coach import CoachDesk
from bot.conversation import ConversationLoop
from bot.deployment import Coach, Deployment
from bot.desk.templating import Templates
from bot.overview import TASK_NAMES
from bot.rendering import Catalogs
from flows.programme import Programme
from storage.ports import Storage
from storage.records import AuditRecord


@dataclass(frozen=True)
class DeskConfig:
    public_url: str = ""  # https://desk.example.dk behind the proxy; "" for http on this machine
    idle: timedelta = timedelta(minutes=15)  # a session unused this long is over
    lifetime: timedelta = timedelta(hours=8)  # and any session after a working day
    poll_seconds: int = 10  # how often an open alerts page asks for news (well within the 15 s promised)


@dataclass
class Desk:
    storage: Storage
    deployment: Deployment
    catalogs: Catalogs
    clock: Clock
    loop: ConversationLoop
    coach_desk: CoachDesk  # the terminal desk's actions: the browser does the same things through the same code
    programme: Programme | None
    templates: Templates
    config: DeskConfig = field(default_factory=DeskConfig)

    @classmethod
    def from_app(cls, app: App, config: DeskConfig | None = None) -> Desk:
        catalogs = app.desk.catalogs
        return cls(app.storage, app.deployment, catalogs, app.clock, app.loop, app.desk,
                   app.registry.library.programme, Templates(catalogs), config or DeskConfig())

    @property
    def programmes(self) -> Mapping[str, Programme]:
        """The deployment's programmes by id (issue 15: several in one deployment); `programme` is the default."""
        return self.loop.registry.library.programmes

    def programme_asked(self, request: Request) -> Programme | None:
        """The programme a page was asked about (`?programme=ID` in its address), else the default: an unknown id
        falls back to the default too, so a stale link still shows a report rather than an error."""
        asked = request.query_params.get("programme", "")
        return self.programmes.get(asked) or self.programme

    def programme_choices(self, lang: str) -> list[tuple[str, str]]:
        """(id, title) of every programme, the default first; empty with one programme (no choice to offer)."""
        if len(self.programmes) < 2:
            return []
        ordered = sorted(self.programmes.values(), key=lambda p: (not p.default, p.id))
        return [(p.id, self.programme_title(p.id, lang)) for p in ordered]

    def programme_title(self, programme_id: str | None, lang: str) -> str:
        """A programme's name for people, in the reader's language (its id when it has no title)."""
        found = self.loop.registry.library.programme_for(programme_id)
        if found is None:
            return programme_id or ""
        return found.name(lang)

    def task_name(self, kind: str, lang: str) -> str:
        """A coach task's kind in words (bot/overview.py `TASK_NAMES`), or the kind itself for one without a name."""
        return self.catalogs.gettext(lang, TASK_NAMES[kind]) if kind in TASK_NAMES else kind

    def coach(self, request: Request) -> Coach:
        """The coach whose session this request carries (the guard let no one else in)."""
        return self.deployment.coaches[request.state.session.coach_id]

    async def audit(self, request: Request, action: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        """Who did what, when: no names, numbers or message text (refs and ids only)."""
        await self.storage.record_audit(AuditRecord(f"coach:{request.state.session.coach_id}", action, subject,
                                                    self.clock.now(), {"via": "desk", **(detail or {})}))
