"""The storage conformance suite's read and create cases over the HTTP storage, against a
server in this process on SQLite and PostgreSQL (cases that write raw trials, counters or
owners are the server driver's business and not offered over HTTP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hpo.storage.http import HTTPStorage
from hpo.testing.storage_conformance import (
    REMOTE_CASES,
    StorageConformance,
    StorageFactory,
    only_cases,
)

from .conftest import LiveServer


@only_cases(REMOTE_CASES)
class TestHTTPStorageConformance(StorageConformance):
    @pytest.fixture
    def storage_factory(
        self, live_server: Callable[..., LiveServer], sql_url: str
    ) -> Iterator[StorageFactory]:
        server = live_server(sql_url)
        opened: list[HTTPStorage] = []

        def factory() -> HTTPStorage:
            storage = HTTPStorage(server.url)
            opened.append(storage)
            return storage

        yield factory
        for storage in opened:
            storage.close()
