"""Assemble the running bot from its parts: storage, flows, catalogs, clock, loop, and the safety path."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bot import config
from bot.channels.coach_console import ConsoleCoachChannel
from bot.clock import Clock, clock_from_environment
from bot.coach import CoachDesk
from bot.conversation import ConversationLoop
from bot.deployment import Deployment, load_deployment
from bot.escalation import CoachChannel, EscalationService
from bot.flowregistry import DEFAULT_FLOWS_DIR, FlowRegistry
from bot.rendering import Catalogs
from bot.safety_net import SafetyNet, Spool
from bot.settings import settings
from bot.undelivered import UndeliveredWatch
from storage import open_storage
from storage.crypto import load_keys
from storage.interface import Storage


@dataclass
class App:
    storage: Storage
    registry: FlowRegistry
    loop: ConversationLoop
    clock: Clock
    deployment: Deployment
    escalations: EscalationService
    desk: CoachDesk
    safety: SafetyNet
    undelivered: UndeliveredWatch  # crisis replies that do not get through: the coach on duty is told


@asynccontextmanager
async def open_app(db_path: str, clock: Clock | None = None, flows_dir: Path | None = None,
                   deployment_path: Path | None = None,
                   coach_channels: Mapping[str, CoachChannel] | None = None) -> AsyncIterator[App]:
    clock = clock or clock_from_environment()
    deployment = load_deployment(deployment_path)  # broken safety configuration: refuse to start
    # the storage's, and the safety spool's; a database on a server has no key file beside it: the environment's
    keys = load_keys(config.database_file(db_path), settings().key_environ())
    storage = await open_storage(db_path, runner=settings().bot_storage_runner, keys=keys)
    try:
        catalogs = Catalogs()
        registry = await FlowRegistry.load(storage, clock.now(), flows_dir or config.flows_dir() or DEFAULT_FLOWS_DIR)
        registry.library = replace(registry.library, consent=deployment.consent)
        loop = ConversationLoop(storage, registry, catalogs, clock, deployment)
        channels = coach_channels if coach_channels is not None else {"console": ConsoleCoachChannel(sys.stderr)}
        escalations = EscalationService(storage, deployment, channels, catalogs, clock)
        loop.escalation_listeners.append(escalations.notify_new)
        desk = CoachDesk(storage, deployment, loop, catalogs, clock)
        escalations.after_tick.append(desk.messages.tick)  # unread messages for a coach become tasks
        safety = SafetyNet(storage, loop, deployment, clock, Spool(config.spool_file(db_path), keys))
        undelivered = UndeliveredWatch(storage, escalations, deployment.delivery, catalogs, clock)
        yield App(storage, registry, loop, clock, deployment, escalations, desk, safety, undelivered)
    finally:
        await storage.close()
