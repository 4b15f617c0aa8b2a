"""A bounded cache of facts that never change once written, read from storage once per key per process.

The conversation loop asks, at every step, things fixed at enrolment (the control arm, the programme chosen). Each
is kept here, most recently asked last, the least recently asked dropped beyond `size`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(self, load: Callable[[K], Awaitable[V]], size: int) -> None:
        self._load = load
        self._size = size
        self._known: OrderedDict[K, V] = OrderedDict()

    async def get(self, key: K) -> V:
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        value = await self._load(key)
        self._known[key] = value
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return value
