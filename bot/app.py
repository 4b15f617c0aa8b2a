"""Assemble the running bot from its parts: storage, flows, catalogs, clock, conversation loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot import config
from bot.clock import Clock, SystemClock
from bot.conversation import ConversationLoop
from bot.flowregistry import DEFAULT_FLOWS_DIR, FlowRegistry
from bot.rendering import Catalogs
from storage import open_storage
from storage.interface import Storage


@dataclass
class App:
    storage: Storage
    registry: FlowRegistry
    loop: ConversationLoop
    clock: Clock


@asynccontextmanager
async def open_app(db_path: str, clock: Clock | None = None, flows_dir: Path | None = None) -> AsyncIterator[App]:
    clock = clock or SystemClock()
    storage = await open_storage(db_path)
    try:
        registry = await FlowRegistry.load(storage, clock.now(), flows_dir or config.flows_dir() or DEFAULT_FLOWS_DIR)
        loop = ConversationLoop(storage, registry, Catalogs(), clock)
        yield App(storage, registry, loop, clock)
    finally:
        await storage.close()
