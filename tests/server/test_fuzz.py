"""Fuzzing the API with schemathesis against the server's own OpenAPI schema: whatever a
client sends, no answer is a 500 and every answer matches the schema. A bounded number
of examples per operation keeps this a test, not a campaign; a study and a comparison
exist first, so generated ids sometimes hit real ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

import hpo  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from hpo.server.app import create_app

    root = tmp_path_factory.mktemp("fuzz")
    application = create_app(
        f"sqlite:///{root / 'fuzz.db'}",
        artifacts=str(root / "artifacts"),
        resume_jobs=False,
        job_executor="serial",
    )
    with TestClient(application) as client:  # runs the lifespan
        space = hpo.Space({"x": hpo.Float(0.0, 1.0)}).to_json()
        sid = client.post("/api/v1/studies", json={"name": "0", "space": space}).json()
        client.post(f"/api/v1/studies/{sid['study_id']}/ask", json={})
        client.post(
            "/api/v1/comparison-records",
            json={"name": "0", "problem": "branin", "direction": "minimize", "n_trials": 1},
        )
        yield application


def _labels() -> list[str]:
    from hpo.server.app import create_app

    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(None))
    return [result.ok().label for result in schema.get_all_operations()]


@pytest.mark.parametrize("label", _labels())
def test_no_server_error_and_answers_match_the_schema(app: Any, label: str) -> None:
    from hypothesis import given

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    (operation,) = [r.ok() for r in schema.get_all_operations() if r.ok().label == label]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def check(case: Any) -> None:
        if label == "POST /api/v1/comparisons" and isinstance(case.body, dict):
            case.body["run"] = False  # plan only: no background job per example
        case.call_and_validate(
            checks=[checks.not_a_server_error, checks.response_schema_conformance]
        )

    check()
