"""The pool of per-study drivers, and where their calls run.

One :class:`~hpo.driver.LocalDriver` per active study, built on first use from the
stored study (its searcher from name, options and saved state, caught up by replaying the
stored trials), claimed by the server's owner, and evicted when the pool is full (least
recently used first) or the study is deleted.

**Where calls run.** Driver calls block (storage I/O, a GP fit), so they run in worker
threads, never on the event loop. Calls that change the searcher (asks, the reaper's
catch-up) are *exclusive* per study: they queue on an asyncio lock of that study before
taking a thread, so sixteen workers waiting on one slow study hold one thread, not
sixteen, and other studies keep being served. Tells, reports and reads run at once.

**Replicas.** With a storage whose study lock spans processes (PostgreSQL), drivers run
in replica mode (:class:`~hpo.driver.LocalDriver` ``replica=True``): each ask takes the
study's database lock, reloads the searcher state when another server process advanced
it, asks and saves, so any number of server processes serve one study as one searcher.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from hpo.driver import LocalDriver
from hpo.server.config import ServerConfig
from hpo.storage import Storage

T = TypeVar("T")


class DriverPool:
    """Drivers by study id (thread-safe), and :meth:`run` to call them off the loop."""

    def __init__(self, storage: Storage, config: ServerConfig) -> None:
        self.storage = storage
        self.config = config
        if config.replica is None:
            from hpo.storage.sql import SQLStorage

            self.replica = isinstance(storage, SQLStorage) and storage.study_lock_is_shared
        else:
            self.replica = bool(config.replica)
        self._drivers: OrderedDict[int, LocalDriver] = OrderedDict()
        self._lock = threading.Lock()
        self._study_locks: dict[int, anyio.Lock] = {}
        self._limiter: anyio.CapacityLimiter | None = None
        self._decides: dict[int, bool] = {}

    def __len__(self) -> int:
        return len(self._drivers)

    def driver(self, study_id: int) -> LocalDriver:
        """The study's driver, built (and the study claimed) on first use."""
        with self._lock:
            driver = self._drivers.get(study_id)
            if driver is not None:
                self._drivers.move_to_end(study_id)
                return driver
        record = self.storage.get_study_by_id(study_id)
        cfg = self.config
        built = LocalDriver(
            self.storage,
            record,
            artifacts=cfg.artifacts,
            heartbeat_interval=cfg.heartbeat_interval,
            grace_period=cfg.grace,
            owner=cfg.owner,
            replica=self.replica,
        )
        from hpo.searchers import searcher_class

        decides = record.stopper is not None or searcher_class(record.searcher).owns_stopping
        with self._lock:
            self._decides[study_id] = decides
            driver = self._drivers.setdefault(study_id, built)
            self._drivers.move_to_end(study_id)
            while len(self._drivers) > cfg.max_drivers:
                self._drivers.popitem(last=False)
            return driver

    def decides_reports(self, study_id: int) -> bool:
        """Whether reports to the study change its stopper's or searcher's view (then
        they are exclusive calls); true until the study's driver is built."""
        return self._decides.get(study_id, True)

    def cached(self, study_id: int) -> LocalDriver | None:
        with self._lock:
            return self._drivers.get(study_id)

    def evict(self, study_id: int) -> None:
        """Forget a study's driver (deleted study; the next call rebuilds it)."""
        with self._lock:
            self._drivers.pop(study_id, None)

    def clear(self) -> None:
        with self._lock:
            self._drivers.clear()

    # --- running calls ----------------------------------------------------------------
    def _study_lock(self, study_id: int) -> anyio.Lock:
        lock = self._study_locks.get(study_id)
        if lock is None:
            lock = self._study_locks.setdefault(study_id, anyio.Lock())
        return lock

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.config.threads)
        return self._limiter

    async def run(
        self, study_id: int, call: Callable[[LocalDriver], T], *, exclusive: bool = False
    ) -> T:
        """``call(driver)`` in a worker thread; ``exclusive`` calls of one study run one
        at a time, queued without holding a thread."""

        def work() -> T:
            return call(self.driver(study_id))

        if not exclusive:
            return await anyio.to_thread.run_sync(work, limiter=self.limiter)
        async with self._study_lock(study_id):
            return await anyio.to_thread.run_sync(work, limiter=self.limiter)

    async def call(self, fn: Callable[[], T], *, study_id: int | None = None) -> T:
        """``fn()`` (a storage read or write) in a worker thread; with ``study_id``, as one
        of that study's exclusive calls."""
        if study_id is None:
            return await anyio.to_thread.run_sync(fn, limiter=self.limiter)
        async with self._study_lock(study_id):
            return await anyio.to_thread.run_sync(fn, limiter=self.limiter)
