"""The storage conformance suite over every backend: memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hpo.testing.storage_conformance import StorageConformance, StorageFactory, open_storages


class TestStorageConformance(StorageConformance):
    @pytest.fixture
    def storage_factory(self, storage_url: str | None) -> Iterator[StorageFactory]:
        with open_storages(storage_url) as factory:
            yield factory
