"""Shared fixtures: storages (memory, SQLite, PostgreSQL) for every suite.

PostgreSQL comes from ``HPO_TEST_POSTGRES_URL`` (default: the local server's ``test``
database). Where none is reachable the PostgreSQL tests are skipped with the reason,
unless ``HPO_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which makes that a failure. Each
test gets its own PostgreSQL schema, dropped afterwards, so tests never see each other's
studies.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints written by tests land in the test's temporary directory."""
    monkeypatch.setenv("HPO_ARTIFACTS", str(tmp_path / "artifacts"))


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """The PostgreSQL URL, or a skip (a failure under HPO_REQUIRE_POSTGRES=1)."""
    url = os.environ.get("HPO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {url} ({type(exc).__name__}: {exc})"
        if os.environ.get("HPO_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; HPO_REQUIRE_POSTGRES=1 makes this a failure")
        pytest.skip(reason)
    return url


@pytest.fixture
def postgres_url_factory(postgres_base_url: str) -> Iterator[Callable[[], str]]:
    """Makes URLs that each point at a fresh schema of the test database."""
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_base_url)
    schemas: list[str] = []

    def make() -> str:
        schema = f"hpo_test_{uuid.uuid4().hex[:12]}"
        with engine.begin() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
        schemas.append(schema)
        sep = "&" if "?" in postgres_base_url else "?"
        return f"{postgres_base_url}{sep}options={quote(f'-csearch_path={schema}')}"

    yield make
    with engine.begin() as conn:
        for schema in schemas:
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_url_factory: Callable[[], str]) -> str:
    return postgres_url_factory()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hpo.db'}"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    """Every storage backend: ``None`` (memory), a SQLite file, a PostgreSQL schema."""
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray instance (2 CPUs, no dashboard) shared by every Ray test of the
    session; skipped, with the reason, where Ray is not installed."""
    try:
        import ray
    except ImportError as exc:
        pytest.skip(f"ray is not importable ({exc}); install it with pip install 'hpo[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
