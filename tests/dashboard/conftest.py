"""The dashboard's tests: a real ``hpo`` server (uvicorn on a free port, SQLite) over a
database of every study shape, driven by headless Chromium through Playwright.

Chromium is Debian's (``/usr/bin/chromium``, or ``$HPO_CHROMIUM``), never downloaded.
Where Playwright or Chromium is missing the browser tests are skipped with the reason,
unless ``HPO_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which makes that a failure.

Screenshots of every page go to ``tests/dashboard/screenshots/`` (git-ignored), and the
measured times to first chart are printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import _shapes

TOKEN = "dashboard-test-token-0123"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
#: time to first chart (ms) by page, printed in the terminal summary
TIMINGS: dict[str, float] = {}


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("HPO_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _no_browser(reason: str) -> None:
    if os.environ.get("HPO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; HPO_REQUIRE_BROWSER=1 makes this a failure")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Headless Chromium (skipped, with the reason, where it or Playwright is missing).

    Package-scoped: Playwright's sync API keeps an asyncio loop running in the main thread
    while it is open, which later tests that start their own loop must not inherit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _no_browser(f"playwright is not installed ({exc}): pip install playwright")
    path = chromium_path()
    if path is None:
        _no_browser("Chromium not found (apt-get install chromium, or set HPO_CHROMIUM)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


# --- the server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DashServer:
    """``create_app`` served by uvicorn in a thread of this process."""

    storage: str
    options: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    app: Any = None
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DashServer:
        import uvicorn

        from hpo.server.app import create_app

        self.app = create_app(self.storage, **self.options)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the dashboard test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)

    def client(self, token: str | None = TOKEN) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="session")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> _shapes.Shapes:
    """Every study shape in one SQLite file, built once per session."""
    path = tmp_path_factory.mktemp("dashboard") / "shapes.db"
    return _shapes.build(f"sqlite:///{path}")


@pytest.fixture(scope="session")
def server(
    shapes: _shapes.Shapes, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashServer]:
    """The server every browser test uses: writes need :data:`TOKEN`; comparison jobs run
    in one thread (fast problems only)."""
    options = {
        "token": TOKEN,
        "resume_jobs": False,
        "job_executor": "thread",
        "job_workers": 1,
        "artifacts": str(tmp_path_factory.mktemp("artifacts")),
        "heartbeat_interval": 3600.0,  # the shapes' RUNNING trials stay RUNNING
    }
    started = DashServer(shapes.url, options).start()
    yield started
    started.stop()


# --- pages ----------------------------------------------------------------------------------
@dataclass
class Page:
    """A browser page on the dashboard that records console errors."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def open(self, route: str) -> Any:
        """Go to ``#/route``: on a page already showing the dashboard this is an in-app
        navigation (no reload: Plotly.js stays parsed), as a user clicking a link."""
        self.page.goto(f"{self.base}/#/{route.lstrip('#/')}")
        self.page.wait_for_function("() => window.__hpoPageStart !== undefined")
        return self.page

    def click_once(self, selector: str) -> None:
        """Click ``selector`` with exactly one DOM click. The pages re-render their
        controls on every poll; Playwright's ``click`` retries when its element is replaced
        mid-click, which can deliver a second click (a toggle undone, a write sent twice)."""
        script = "s => { const e = document.querySelector(s); if (e) e.click(); return !!e; }"
        for _ in range(100):  # replaced between the wait and the click: look again
            self.page.wait_for_selector(selector, state="visible")
            if self.page.evaluate(script, selector):
                return
        raise AssertionError(f"{selector} kept being replaced: never clicked")

    def wait_charts(self, *keys: str, timeout: float = 60_000) -> None:
        """Wait until the charts ``keys`` (default: every chart on the page) are drawn."""
        if keys:
            for key in keys:
                self.page.wait_for_selector(
                    f'[data-chart="{key}"][data-rendered="1"]', timeout=timeout
                )
        else:
            self.page.wait_for_function(
                "() => { const c = [...document.querySelectorAll('[data-chart]')];"
                " return c.length > 0 && c.every(e => e.dataset.rendered === '1'); }",
                timeout=timeout,
            )

    def first_chart_ms(self) -> float:
        value = self.page.evaluate("window.__hpoFirstChart")
        assert isinstance(value, int | float), f"no chart was drawn: {value!r}"
        return float(value)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check_console(self) -> None:
        unexpected = [e for e in self.errors if not any(a in e for a in self.allowed)]
        assert not unexpected, f"console errors on the page: {unexpected}"


@pytest.fixture(scope="package")
def shared_page(browser: Any, server: DashServer) -> Iterator[Page]:
    """One page for the read-only tests: each test navigates it in-app (hash routes)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = _page(context, server.url)
    yield opened
    context.close()


def _page(context: Any, base: str) -> Page:
    raw = context.new_page()
    wrapped = Page(raw, base)
    raw.on("console", lambda m: wrapped.errors.append(m.text) if m.type == "error" else None)
    raw.on(
        "pageerror", lambda e: wrapped.errors.append(f"uncaught: {e}\n{getattr(e, 'stack', '')}")
    )
    raw.on(
        "response",
        lambda r: (
            wrapped.errors.append(f"HTTP {r.status} {r.request.method} {r.url}")
            if r.status >= 400
            else None
        ),
    )
    return wrapped


@pytest.fixture
def page(shared_page: Page) -> Iterator[Page]:
    """The shared page; fails the test on any console error while it ran."""
    shared_page.errors.clear()
    shared_page.allowed.clear()
    yield shared_page
    shared_page.check_console()


@pytest.fixture
def fresh_page(browser: Any, server: DashServer) -> Iterator[Callable[..., Page]]:
    """Pages in a new context each (own local storage: the token), console-checked."""
    made: list[tuple[Any, Page]] = []

    def make(token: str | None = None) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        if token is not None:
            context.add_init_script(
                f"window.localStorage.setItem('hpo.dashboard.token', {json.dumps(token)})"
            )
        opened = _page(context, server.url)
        made.append((context, opened))
        return opened

    yield make
    for context, opened in made:
        context.close()
        opened.check_console()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("dashboard: time to first chart (headless Chromium)")
        for name, ms in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {ms:,.0f} ms")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2))
