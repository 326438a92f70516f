"""Servers for the server tests: in this process (uvicorn in a thread, real HTTP on a
loopback port) and as real ``hpo server`` processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something true (generous limits, no timing)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


@dataclass
class LiveServer:
    """``create_app`` served by uvicorn in a thread of this process."""

    storage: Any
    options: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    app: Any = None
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> Any:
        return self.app.state.hpo

    def start(self) -> LiveServer:
        import uvicorn

        from hpo.server.app import create_app

        self.app = create_app(self.storage, **self.options)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server.started, 30, "the server to start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        self._server = self._thread = None

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Starts in-process servers (stopped at the end): ``live_server(storage, **options)``."""
    started: list[LiveServer] = []

    def start(storage: Any = None, **options: Any) -> LiveServer:
        options.setdefault("artifacts", str(tmp_path / "server-artifacts"))
        options.setdefault("resume_jobs", False)
        server = LiveServer(storage, options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def sql_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )


# --- real server processes -------------------------------------------------------------------
@dataclass
class ServerProcess:
    """A real ``hpo server`` (``python -m hpo server ...``) on a loopback port."""

    storage: str
    args: list[str]
    workdir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> ServerProcess:
        self.log = self.workdir / f"server-{self.port}-{time.monotonic_ns()}.log"
        env = {**os.environ, "PYTHONPATH": str(REPO), **self.env}
        cmd = [
            sys.executable,
            "-m",
            "hpo",
            "server",
            "--storage",
            self.storage,
            "--port",
            str(self.port),
            *self.args,
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            wait_for(self.ready, 90, f"hpo server on {self.url}; log:\n{self.output()}")
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"hpo server exited with {self.proc.returncode}:\n{self.output()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server and every process it started (its session)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Starts real ``hpo server`` processes, killed at the end:
    ``server_process(storage_url, *args, env=..., port=...)``."""
    started: list[ServerProcess] = []

    def start(
        storage: str,
        *args: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
        wait: bool = True,
    ) -> ServerProcess:
        extra = ["--artifacts", str(tmp_path / "server-artifacts"), *args]
        server = ServerProcess(storage, extra, tmp_path, env=dict(env or {}))
        if port is not None:
            server.port = port
        started.append(server)
        return server.start(wait=wait)

    yield start
    for server in started:
        server.kill()
