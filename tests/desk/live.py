"""The desk served for real on 127.0.0.1, for tests that drive it from a real browser (Playwright + Chromium).

The server runs in a thread of its own with its own event loop, on a real SQLite file, under a `FakeClock` the test
moves. The test seeds and inspects data through `run(coroutine)`, which runs on the server's loop (the storage is
bound to it), and logs in as a real coach would: a one-time code from the log-in's secret at the fake clock's time.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import uvicorn
from playwright.sync_api import Page

from bot.app import App, open_app
from bot.clock import FakeClock
from bot.desk.app import create_desk_app
from bot.desk.context import Desk, DeskConfig
from storage.desk_records import DeskUser
from tests.postgres_cluster import free_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("DESK_SCREENSHOTS", ROOT / "test-output" / "desk"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
# /admin/programme computes the programme's whole timeline, once per language, on its first visit for a start date
# (2-3 s of CPU; kept for later visits): on a loaded 2-core machine that first load took 16-17 s, past the context's
# 15 s. The navigations that compute it get this long; every other page keeps the 15 s.
TIMELINE_MS = 60_000



class LiveDesk:
    def __init__(self, db_path: str, clock: FakeClock, deployment_path: Path | None = None,
                 config: DeskConfig | None = None) -> None:
        self.db_path = db_path
        self.clock = clock
        self.deployment_path = deployment_path
        self.config = config or DeskConfig(poll_seconds=1)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self._ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-desk", daemon=True)
        self.app: App
        self.desk: Desk
        self.secrets: dict[str, str] = {}

    def __enter__(self) -> LiveDesk:
        self._thread.start()
        self._ready.result(timeout=60)
        return self

    def __exit__(self, *_: object) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with open_app(self.db_path, self.clock, deployment_path=self.deployment_path,
                            coach_channels={}) as app:
            self.app = app
            self.desk = Desk.from_app(app, self.config)
            server = uvicorn.Server(uvicorn.Config(create_desk_app(self.desk), host="127.0.0.1", port=self.port,
                                                   log_level="warning", lifespan="off"))
            serving = asyncio.create_task(server.serve())
            while not server.started:
                if serving.done():
                    await serving
                await asyncio.sleep(0.01)
            self._ready.set_result(None)
            await self._stop.wait()
            server.should_exit = True
            await serving

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run on the server's loop (where its storage lives) and wait for the result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def add_user(self, coach_id: str) -> str:
        secret = pyotp.random_base32()
        self.run(self.app.storage.save_desk_user(DeskUser(coach_id, secret, 0, self.clock.now()), replace=True))
        self.secrets[coach_id] = secret
        return secret

    def code(self, coach_id: str) -> str:
        return pyotp.TOTP(self.secrets[coach_id]).at(self.clock.now())

    def log_in(self, page: Page, coach_id: str, path: str = "/") -> None:
        """Log in on the log-in page as the coach would, with a code from their app; ends on `path`."""
        if coach_id not in self.secrets:
            self.add_user(coach_id)
        page.goto(f"{self.url}{path}")
        page.fill("#coach_id", coach_id)
        page.fill("#code", self.code(coach_id))
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state()
        self.clock.advance(timedelta(seconds=31))  # the next log-in gets a new code (each works once)


def screenshot(page: Page, name: str) -> Path:
    """A picture of the page as the coach sees it, under test-output/desk/ (look at them before a release)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
