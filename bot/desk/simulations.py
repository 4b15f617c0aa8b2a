"""The administrators' simulated participants in the desk: one per administrator, thrown away when left unused.

A simulation (bot/simulator.py) holds a scratch SQLite file in a temporary folder and a fake clock; it lives across
requests here, in the desk's memory, never in the live database. Between requests it sleeps (its database closed:
nothing of it runs, so nothing is left running when the desk stops; its folder goes when the process ends). Each
administrator has at most one (starting again ends the old one); one left unused for `IDLE` is closed, and at most
`MOST` are open at once, so the desk's memory and disk stay bounded however the pages are used. Requests on one
simulation take turns (`Held.lock`): two quick clicks move its clock one after the other, never at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.simulator import Simulation

IDLE = timedelta(minutes=30)
MOST = 10


class TooManySimulations(Exception):
    """Every place is taken by a simulation still in use."""


@dataclass
class Held:
    simulation: Simulation  # asleep unless a request holds `lock`
    used_at: datetime
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ended: bool = False  # removed: a request that waited for `lock` finds it gone


class Simulations:
    def __init__(self, clock: Clock, idle: timedelta = IDLE, most: int = MOST) -> None:
        self.clock = clock
        self.idle = idle
        self.most = most
        self._held: dict[str, Held] = {}
        self._starting = asyncio.Lock()  # two quick "start" clicks make one simulation, not one lost on disk
        self._sweeps: set[asyncio.Task[int]] = set()  # kept until done (a task nobody refers to may be collected)

    def get(self, coach_id: str) -> Held | None:
        """The administrator's simulation, if it is still open (using it keeps it open)."""
        held = self._held.get(coach_id)
        if held is not None:
            held.used_at = self.clock.now()
        return held

    async def start(self, coach_id: str, create: Callable[[], Awaitable[Simulation]]) -> Held:
        """A new simulation for the administrator (their old one ends first), asleep."""
        async with self._starting:
            await self.end(coach_id)
            await self.sweep()
            if len(self._held) >= self.most:
                raise TooManySimulations(f"{self.most} simulations are open")
            simulation = await create()
            await simulation.scratch.sleep()
            held = self._held[coach_id] = Held(simulation, self.clock.now())
        asyncio.get_running_loop().call_later(self.idle.total_seconds() + 1, self._sweep_soon)
        return held

    async def end(self, coach_id: str) -> bool:
        held = self._held.pop(coach_id, None)
        if held is None:
            return False
        async with held.lock:
            held.ended = True
            await held.simulation.remove()  # the scratch database and its folder
        return True

    async def sweep(self) -> int:
        """Close the simulations nobody used for `idle`; how many were closed."""
        stale = [c for c, held in self._held.items() if self.clock.now() - held.used_at >= self.idle]
        for coach_id in stale:
            await self.end(coach_id)
        return len(stale)

    async def close(self) -> None:
        for coach_id in list(self._held):
            await self.end(coach_id)

    def _sweep_soon(self) -> None:
        task = asyncio.ensure_future(self.sweep())
        self._sweeps.add(task)
        task.add_done_callback(self._sweeps.discard)
