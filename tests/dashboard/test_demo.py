"""``hpo demo`` (what ``make run`` runs): a real process serves the dashboard, runs its
comparison to the end, stops on Ctrl-C, and a second run reuses the stored comparison."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import free_port

pytestmark = pytest.mark.slow


def _serve(db: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "hpo", "demo", "--storage", f"sqlite:///{db}"]
    args += ["--port", str(port), "--problem", "branin", "--searchers", "random,tpe"]
    args += ["--seeds", "2", "--n-trials", "4", *extra]
    env = {**os.environ, "HPO_API_TOKEN": ""}
    return subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env, cwd=db.parent)


def _wait_done(base: str, proc: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            rows = httpx.get(f"{base}/api/v1/dashboard/comparisons", timeout=10).json()[
                "comparisons"
            ]
        except httpx.HTTPError:
            rows = []
        if rows and rows[0]["progress"]["finished"] == rows[0]["progress"]["expected"]:
            return dict(rows[0])
        time.sleep(0.2)
    raise AssertionError("the demo comparison did not finish")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return err


def test_demo_serves_the_dashboard_and_resumes(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path / "demo.db", port)
    try:
        first = _wait_done(base, proc)
        assert first["name"] == "demo-branin" and first["progress"]["expected"] == 16
        assert "hpo dashboard" in httpx.get(f"{base}/", timeout=10).text
    finally:
        err = _stop(proc)
    assert f"Dashboard:  {base}/#/comparisons/{first['comparison_id']}" in err
    assert "started" in err and "trials run on ray" in err  # make run's default: local Ray

    # idempotent: the stored comparison is reused (threads this time: no second Ray start)
    proc = _serve(tmp_path / "demo.db", port, "--executor", "thread")
    try:
        again = _wait_done(base, proc)
        assert again["comparison_id"] == first["comparison_id"]
        listed = httpx.get(f"{base}/api/v1/dashboard/comparisons", timeout=10).json()["comparisons"]
        assert len(listed) == 1
    finally:
        err = _stop(proc)
    assert "resumed" in err
