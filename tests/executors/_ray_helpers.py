"""Helpers the Ray tests share with their remote trials.

This module travels by value (registered with cloudpickle below), so Ray workers need not
import the tests: the :class:`Tracker` actor and the objectives that call it are sent as
code, as a user's script would be.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from typing import Any

from ray import cloudpickle

cloudpickle.register_pickle_by_value(sys.modules[__name__])

#: generous limit (seconds) for anything a test waits on: a loaded 2-core machine is slow
PATIENCE = 120.0


class Tracker:
    """Counts trials inside a section, cluster-wide: how many are inside now and at most,
    overall and per tag (a node, a GPU id), and lets trials wait for each other.

    Run as an async Ray actor; a trial calls ``enter``, maybe ``wait_for``, then ``leave``.
    """

    def __init__(self) -> None:
        self.inside: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.seen: dict[str, list[int]] = {}
        self._changed: asyncio.Condition | None = None

    def _cond(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def enter(self, number: int, *tags: str) -> None:
        async with self._cond():
            for tag in ("", *tags):
                self.inside[tag] += 1
                self.peak[tag] = max(self.peak[tag], self.inside[tag])
                self.seen.setdefault(tag, []).append(number)
            self._cond().notify_all()

    async def leave(self, *tags: str) -> None:
        async with self._cond():
            for tag in ("", *tags):
                self.inside[tag] -= 1
            self._cond().notify_all()

    async def wait_for(self, tag: str, n: int, timeout: float = PATIENCE) -> bool:
        """Wait until ``n`` trials were inside under ``tag`` at once (``False`` on time-out)."""
        async with self._cond():
            try:
                await asyncio.wait_for(self._cond().wait_for(lambda: self.peak[tag] >= n), timeout)
            except TimeoutError:
                return False
        return True

    async def state(self) -> dict[str, Any]:
        return {"inside": dict(self.inside), "peak": dict(self.peak), "seen": self.seen}


def tracker() -> Any:
    """A fresh Tracker actor on the driver's node (the head, which no test removes); it
    takes no CPU, so it never takes a trial's place."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return (
        ray.remote(Tracker)
        .options(num_cpus=0, max_concurrency=1000, scheduling_strategy=here)
        .remote()
    )


def node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())
