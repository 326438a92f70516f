"""Control from the browser, behind the server's token: stop and resume a study, fail a
running trial, re-run failed trials, delete a study (typing its name), edit the note;
and the new-comparison form, which starts a comparison that fills in live."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

import hpo
from hpo.storage.sql import SQLStorage
from hpo.trial import TrialState

from . import _shapes
from .conftest import TOKEN, DashServer, Page

pytestmark = pytest.mark.slow


def _study(shapes: _shapes.Shapes, *, failing: int = 2, running: int = 1) -> tuple[int, str]:
    """A fresh study for one test: some COMPLETE trials, ``failing`` FAILED ones (with an
    error) and ``running`` RUNNING ones."""
    name = f"ctl-{uuid.uuid4().hex[:6]}"
    with SQLStorage(shapes.url) as storage:
        record = storage.create_study(
            name, direction="minimize", space=hpo.Space(_shapes.SPACE), searcher="random"
        )
        sid = record.study_id
        config = {"x": 1.0, "lr": 0.01, "depth": 2, "kernel": "rbf"}
        for i in range(3):
            storage.create_trial(sid, params={**config, "x": float(i)})
            storage.finish_trial(sid, i, TrialState.COMPLETE, value=float(i))
        for _ in range(failing):
            t = storage.create_trial(sid, params={**config, "kernel": "poly"})
            storage.finish_trial(
                sid, t.number, TrialState.FAILED, error="Traceback ...\nValueError: boom"
            )
        for _ in range(running):
            storage.create_trial(sid, params=config, heartbeat=True)
    return sid, name


def _trials(shapes: _shapes.Shapes, sid: int) -> list[Any]:
    with SQLStorage(shapes.url) as storage:
        return storage.get_trials(sid).trials


def test_controls_ask_for_the_token_and_refuse_a_wrong_one(
    fresh_page: Callable[..., Page], shapes: _shapes.Shapes
) -> None:
    sid, _ = _study(shapes)
    page = fresh_page()  # no token stored
    p = page.open(f"studies/{sid}")
    page.wait_charts("history")
    page.click_once('button[data-action="stop"]')
    p.wait_for_selector("#token-dialog[open]")  # asked first: nothing was sent
    assert "needs its API token" in p.inner_text("#token-help")
    page.screenshot("token-dialog")
    p.click('#token-dialog button[value="cancel"]')
    with SQLStorage(shapes.url) as storage:
        assert not storage.is_study_stopped(sid)

    page.allowed.append("401")  # the browser logs the refused request
    p.evaluate("localStorage.setItem('hpo.dashboard.token', 'wrong-token-123')")
    page.click_once('button[data-action="stop"]')
    p.wait_for_selector(".toast.error")
    assert "API token" in p.inner_text(".toast.error")
    with SQLStorage(shapes.url) as storage:
        assert not storage.is_study_stopped(sid)

    p.fill("#token-input", TOKEN)  # the dialog reopened on the 401: give the right one
    p.wait_for_selector("#token-dialog[open]")
    p.click("#token-save")
    p.wait_for_selector('button[data-action="stop"]')
    page.click_once('button[data-action="stop"]')
    p.wait_for_selector('button[data-action="resume"]')
    with SQLStorage(shapes.url) as storage:
        assert storage.is_study_stopped(sid)


def test_stop_resume_fail_rerun_note_and_delete(
    fresh_page: Callable[..., Page], shapes: _shapes.Shapes, server: DashServer
) -> None:
    sid, name = _study(shapes, failing=2, running=1)
    page = fresh_page(token=TOKEN)
    p = page.open(f"studies/{sid}")
    page.wait_charts("history")

    # stop: the server refuses new asks; resume: they work again
    page.click_once('button[data-action="stop"]')
    p.wait_for_selector('button[data-action="resume"]')
    p.wait_for_selector(".badge.stopped")
    with server.client() as client:
        refused = client.post(f"/api/v1/studies/{sid}/ask", json={"worker_id": "w"})
        assert refused.status_code == 409 and refused.json()["code"] == "study_stopped"
    page.screenshot("study-stopped")
    page.click_once('button[data-action="resume"]')
    p.wait_for_selector('button[data-action="stop"]')

    # fail the running trial (5), then re-run the failed ones (3, 4 and 5)
    page.click_once('#trials-table button[data-action="fail"]')
    p.wait_for_function(
        "() => !document.querySelector('#trials-table button[data-action=\"fail\"]')"
    )
    assert _trials(shapes, sid)[5].state is TrialState.FAILED
    assert _trials(shapes, sid)[5].error == "failed from the dashboard"
    p.wait_for_selector('button[data-action="rerun-all"]:has-text("Re-run failed (3)")')
    page.click_once('button[data-action="rerun-all"]')
    p.wait_for_selector('button.chip[data-state="WAITING"]')
    waiting = [t for t in _trials(shapes, sid) if t.state is TrialState.WAITING]
    assert [t.params for t in waiting] == [t.params for t in _trials(shapes, sid)[3:6]]

    # the note: Markdown, rendered safely
    page.click_once('button[data-action="edit-note"]')
    p.fill("#note-editor", "# Findings\n\n* **rbf** wins\n* <script>alert(1)</script>")
    page.click_once('button[data-action="save-note"]')
    p.wait_for_selector("#note-view strong")
    assert p.inner_text("#note-view strong") == "rbf"
    assert p.evaluate("() => document.querySelectorAll('#note-view script').length") == 0
    with SQLStorage(shapes.url) as storage:
        assert storage.get_study_note(sid).body.startswith("# Findings")
    page.screenshot("study-controls")

    # delete, confirmed by typing the name
    page.click_once('button[data-action="delete"]')
    p.wait_for_selector("#confirm-dialog[open]")
    assert p.is_disabled("#confirm-ok")
    p.fill('#confirm-dialog input[aria-label="confirmation"]', name)
    p.click("#confirm-ok")
    p.wait_for_selector("#studies-table")
    with SQLStorage(shapes.url) as storage, pytest.raises(hpo.StudyNotFoundError):
        storage.get_study(name)


def test_new_comparison_form_starts_a_comparison_that_fills_in(
    fresh_page: Callable[..., Page], shapes: _shapes.Shapes
) -> None:
    page = fresh_page(token=TOKEN)
    p = page.open("new-comparison")
    p.wait_for_selector("#new-comparison")
    page.screenshot("new-comparison")
    p.select_option("#problem", "branin")
    for box in p.query_selector_all('input[name="searcher"]:checked'):
        box.uncheck()
    p.check('input[name="searcher"][value="random"]')
    p.check('input[name="searcher"][value="tpe"]')
    p.fill("#seeds", "2")
    p.fill("#n-trials", "6")
    name = f"form-{uuid.uuid4().hex[:6]}"
    p.fill("#name", name)
    total = "2 searchers \u00d7 2 seeds \u00d7 6 trials = 24 trials"
    assert total in p.inner_text("#new-comparison")
    p.click("#submit")
    p.wait_for_selector(f"#comparison-name:has-text('{name}')")
    # it fills in live: the page redraws as trials finish, until all 24 are done
    p.wait_for_function(
        "() => (document.querySelector('#progress-text')?.textContent || '').startsWith('24 / 24')",
        timeout=120_000,
    )
    page.wait_charts()
    assert p.evaluate("() => document.querySelector('[data-chart=\"by-trial\"]').data.length") == 6
    assert p.evaluate("() => document.querySelectorAll('#seed-grid tbody td a').length") == 4
    page.screenshot("comparison-from-form")
