"""Serving the desk: alone (`python -m bot desk`) or beside the webhooks under `bot run`, on its own port.

Beside the webhooks the desk is a companion server in the same process and event loop: it follows the main server's
signals (it installs none of its own) and a desk that cannot start (its port taken) is logged in one line while the
bot goes on answering participants: the crisis path never waits on the desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator

import uvicorn

from bot.app import App, open_app
from bot.desk.app import create_desk_app
from bot.desk.context import Desk, DeskConfig
from bot.settings import settings

log = logging.getLogger(__name__)


def desk_config(app: App) -> DeskConfig:
    return DeskConfig(public_url=settings().desk_public_url)


def server_config(desk: Desk, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(create_desk_app(desk), host=host, port=port, log_level="warning", lifespan="off",
                          server_header=False, timeout_keep_alive=5, limit_concurrency=100)


class CompanionServer(uvicorn.Server):
    """A uvicorn server that leaves the signals to the main one (`stop` is how it is told to end)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def run_beside(self) -> None:
        try:
            await self.serve()
        except SystemExit:  # uvicorn exits when it cannot bind: the bot must go on without its desk
            log.error("the coaches' desk could not start on %s:%s (is the port taken? DESK_PORT)",
                      self.config.host, self.config.port)

    async def stop(self, task: asyncio.Task[None]) -> None:
        self.should_exit = True
        await task


async def serve_desk(db_path: str, host: str, port: int) -> int:
    """`python -m bot desk`: the desk alone, on the bot's database (the bot itself runs elsewhere)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    async with open_app(db_path) as app:
        desk = Desk.from_app(app, desk_config(app))
        print(f"The coaches' desk: http://{host}:{port}/  (Ctrl-C stops it)")
        await uvicorn.Server(server_config(desk, host, port)).serve()
    return 0
