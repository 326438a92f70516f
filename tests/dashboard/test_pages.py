"""Every page of the dashboard in headless Chromium, against studies of every shape: the
page loads, its charts are drawn (checked on the rendered SVG and canvas elements and on
the data behind them), its tables fill, and the console stays free of errors. Each page
is saved as a screenshot in ``tests/dashboard/screenshots/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hpo.storage.sql import SQLStorage
from hpo.trial import TrialState

from . import _shapes
from .conftest import TIMINGS, DashServer, Page

pytestmark = pytest.mark.slow


def count(page: Any, selector: str) -> int:
    return int(page.evaluate(f"() => document.querySelectorAll({selector!r}).length"))


def plotted(page: Any, chart: str, trace: int = 0, key: str = "x") -> int:
    """How many values trace ``trace`` of a chart holds (Plotly keeps them on the div)."""
    return int(
        page.evaluate(
            f"() => document.querySelector('[data-chart=\"{chart}\"]').data[{trace}].{key}.length"
        )
    )


def _states(shapes: _shapes.Shapes, name: str) -> dict[TrialState, int]:
    with SQLStorage(shapes.url) as storage:
        trials = storage.get_trials(shapes.studies[name]).trials
    out: dict[TrialState, int] = {}
    for t in trials:
        out[t.state] = out.get(t.state, 0) + 1
    return out


# --- the studies list -----------------------------------------------------------------------
def test_studies_list_pages_sorts_and_searches_1000_studies(
    page: Page, shapes: _shapes.Shapes
) -> None:
    p = page.open("studies")
    p.wait_for_selector("#studies-table tbody tr")
    assert count(p, "#studies-table tbody tr") == 50  # one page of more than 1,000 studies
    assert "of 1," in p.inner_text(".pager")
    page.screenshot("studies")

    page.click_once('th[data-sort="n_trials"]')  # most trials first: the 50,000-trial study
    p.wait_for_selector('th[data-sort="n_trials"].sorted-desc')
    p.wait_for_function(
        "() => document.querySelector('#studies-table tbody tr a').textContent === 'big-50k'"
    )
    p.click("text=Next \u203a")
    p.wait_for_function("() => document.querySelector('.pager span').textContent.startsWith('51')")

    p.fill('input[type="search"]', "sweep-09")  # sweep-0900 .. sweep-0999
    p.wait_for_function(
        "() => document.querySelector('.pager span')?.textContent === '1\u201350 of 100'"
    )
    names = p.eval_on_selector_all(
        "#studies-table tbody tr td:first-child a", "els => els.map(e => e.textContent)"
    )
    assert names and all(n.startswith("sweep-09") for n in names)
    p.fill('input[type="search"]', "")
    page.click_once('button.chip[data-state="running"]')
    p.wait_for_function("() => document.querySelectorAll('#studies-table tbody tr').length === 1")
    assert p.inner_text("#studies-table tbody tr td:first-child a") == "running"
    page.screenshot("studies-running")


# --- one study of each shape ------------------------------------------------------------------
SHAPES = ["empty", "running", "finished", "failures", "multi_fidelity", "pbt", "portfolio"]


@pytest.mark.parametrize("shape", SHAPES)
def test_study_page(page: Page, shapes: _shapes.Shapes, shape: str) -> None:
    sid = shapes.studies[shape]
    states = _states(shapes, shape)
    complete = states.get(TrialState.COMPLETE, 0)
    p = page.open(f"studies/{sid}")
    page.wait_charts()
    assert p.inner_text("#study-name")  # the header is there
    page.wait_charts("importance", "slice", "contour")
    p.wait_for_selector("#trials .empty-state, #trials-table tbody tr")
    page.screenshot(f"study-{shape}")

    if shape == "empty":
        assert count(p, ".chart-empty") == count(p, "[data-chart]") == 5
        assert "No trials yet" in p.inner_text("#trials")
        return
    # history: one SVG marker per COMPLETE trial, and the best-so-far line
    assert count(p, '[data-chart="history"] .scatterlayer .trace:first-child .point') == complete
    assert plotted(p, "history") == complete
    assert count(p, '[data-chart="history"] .scatterlayer .trace:nth-child(2) path.js-line') == 1
    # importance: a bar per parameter, the method named under the chart
    assert count(p, '[data-chart="importance"] .barlayer .point') == 4
    assert "random-forest permutation importance" in p.inner_text('[data-caption="importance"]')
    # parallel coordinates (SVG): an axis per parameter and the value, a line per trial
    assert count(p, '[data-chart="parallel"] svg.pc .pc-axis') == 5
    assert count(p, '[data-chart="parallel"] svg.pc path.pc-line') == complete
    # slice and contour for the chosen parameters
    assert count(p, '[data-chart="slice"] .scatterlayer .point') == complete
    assert count(p, '[data-chart="contour"] .contourlayer .contour') == 1
    # the trial table: the newest trials first, one row each (25 a page)
    rows = count(p, "#trials-table tbody tr")
    assert rows == min(25, sum(states.values()))

    if shape == "running":
        running = states[TrialState.RUNNING]
        assert count(p, '#trials-table tbody tr button[data-action="fail"]') == running
        assert "running" in p.inner_text(".badge.running")
    if shape == "failures":
        failed = states[TrialState.FAILED]
        page.click_once('button.chip[data-state="FAILED"]')
        rows = min(25, failed)
        p.wait_for_function(
            f"() => document.querySelectorAll('#trials-table tr').length === {rows + 1}"
        )
        assert "poly kernel diverged" in p.inner_text("#trials-table tbody tr td.error")
        p.click("#trials-table tbody tr")  # the whole traceback
        p.wait_for_selector("#trials-table tr.details pre")
        assert "RuntimeError: poly kernel diverged" in p.inner_text("#trials-table tr.details pre")
        assert p.inner_text('button[data-action="rerun-all"]') == f"Re-run failed ({failed})"
        page.screenshot("study-failures-expanded")
    if shape == "multi_fidelity":
        pruned = states[TrialState.PRUNED]
        curves = p.evaluate("() => document.querySelector('[data-chart=\"curves\"]').data")
        marks = [t for t in curves if t["name"] == "pruned here"]
        assert len(marks) == 1 and len(marks[0]["x"]) == pruned  # an ✕ where each was stopped
        assert count(p, '[data-chart="curves"] .scatterlayer .trace:last-child .point') == pruned
        assert f"{pruned} PRUNED" in p.inner_text('[data-caption="curves"]')
    if shape == "pbt":
        lineage = p.evaluate("() => document.querySelector('[data-chart=\"lineage\"]').data")
        ends = lineage[2]
        assert len(ends["x"]) == sum(states.values())  # a marker per segment
        exploits = [x for x in lineage[1]["x"] if x is not None]
        assert exploits, "PBT exploited nobody"
        assert count(p, '[data-chart="lineage"] .scatterlayer .trace:nth-child(3) .point') == len(
            ends["x"]
        )
        assert "exploit" in p.inner_text("#trials-table")
    if shape == "portfolio":
        bars = p.evaluate("() => document.querySelector('[data-chart=\"portfolio\"]').data.at(-1)")
        assert sum(bars["y"]) == sum(states.values())  # every trial has its member
        assert count(p, '[data-chart="portfolio"] .barlayer .point') == len(bars["x"]) >= 2
        header = p.eval_on_selector_all(
            "#trials-table thead th", "els => els.map(e => e.textContent)"
        )
        assert "Member" in header


def test_slice_contour_and_parallel_brushing_follow_the_user(
    page: Page, shapes: _shapes.Shapes
) -> None:
    p = page.open(f"studies/{shapes.studies['finished']}")
    page.wait_charts("slice", "contour", "parallel")
    hit = p.locator('[data-chart="parallel"] .pc-axis').last.locator(".pc-hit")
    hit.scroll_into_view_if_needed()
    box = hit.bounding_box()
    assert box is not None  # brush the value axis: keep the best (lowest) band only
    p.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8)
    p.mouse.down()
    p.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"], steps=4)
    p.mouse.up()
    dimmed = count(p, '[data-chart="parallel"] path.pc-line.pc-dim')
    assert 0 < dimmed < count(p, '[data-chart="parallel"] path.pc-line')
    p.select_option('select[aria-label="slice parameter"]', "kernel")
    slice_axis = "document.querySelector('[data-chart=\"slice\"]').layout.xaxis"
    p.wait_for_function(f"() => {slice_axis}.title.text === 'kernel'")
    xs = p.evaluate("() => document.querySelector('[data-chart=\"slice\"]').data[0].x")
    assert set(xs) <= {"rbf", "linear", "poly"}
    p.select_option('select[aria-label="contour y"]', "kernel")  # categorical: a heat map
    p.wait_for_function(
        "() => document.querySelector('[data-chart=\"contour\"]').data[0].type === 'heatmap'"
    )
    p.wait_for_selector(
        '[data-chart="contour"] .heatmaplayer image, [data-chart="contour"] .hm image'
    )
    p.select_option('select[aria-label="contour x"]', "lr")
    p.wait_for_function(
        "() => document.querySelector('[data-chart=\"contour\"]').layout.xaxis.type === 'log'"
    )


# --- scale ----------------------------------------------------------------------------------
def test_a_50000_trial_study_loads_down_sampled(
    fresh_page: Callable[..., Page], shapes: _shapes.Shapes
) -> None:
    page = fresh_page()  # a cold page: the time to first chart includes loading Plotly.js
    p = page.open(f"studies/{shapes.studies['big']}")
    page.wait_charts("history")
    TIMINGS["study of 50,000 trials"] = page.first_chart_ms()
    page.wait_charts()
    shown = plotted(p, "history")
    assert 100 < shown <= 2000  # down-sampled on the server
    assert count(p, '[data-chart="history"] .scatterlayer .trace:first-child .point') == shown
    assert "of 49,000 COMPLETE trials" in p.inner_text('[data-caption="history"]')
    assert count(p, '[data-chart="parallel"] svg.pc path.pc-line') == 1000
    assert "1\u201325 of 50,000" in p.inner_text("#trials .pager")
    p.fill('#trials input[type="search"]', "value<0.05 kernel=rbf")  # filtered on the server
    p.wait_for_function(
        "() => !document.querySelector('#trials .pager span').textContent.endsWith('50,000')"
    )
    values = p.eval_on_selector_all(
        "#trials-table tbody tr td:nth-child(3)", "els => els.map(e => Number(e.textContent))"
    )
    assert values and all(v < 0.05 for v in values)
    page.screenshot("study-50k")


def test_comparison_10_searchers_x_10_seeds(
    fresh_page: Callable[..., Page], shapes: _shapes.Shapes
) -> None:
    page = fresh_page()
    p = page.open(f"comparisons/{shapes.comparisons['big']}")
    page.wait_charts("by-trial")
    TIMINGS["comparison of 10 searchers x 10 seeds"] = page.first_chart_ms()
    page.wait_charts()
    _check_comparison(p, n_searchers=10, n_seeds=10)
    assert "searcher-0" in p.inner_text("#verdict")
    assert p.inner_text("#stats-table tr.winner td:first-child strong") == "searcher-0"
    page.screenshot("comparison-10x10")


def _check_comparison(p: Any, n_searchers: int, n_seeds: int) -> None:
    # best so far by trial and by time: per searcher a median line and a band (3 traces)
    for chart in ("by-trial", "by-time"):
        assert count(p, f'[data-chart="{chart}"] .scatterlayer .trace') == 3 * n_searchers
        fills = count(p, f'[data-chart="{chart}"] .scatterlayer .trace path.js-fill')
        assert fills >= n_searchers  # the interquartile bands are drawn
    assert (
        p.evaluate("() => document.querySelector('[data-chart=\"regret\"]').layout.yaxis.type")
        == "log"
    )
    assert count(p, '[data-chart="rank"] .scatterlayer .trace') == n_searchers
    assert count(p, '[data-chart="finals"] .boxlayer .trace') == n_searchers
    assert count(p, '[data-chart="finals"] .boxlayer .trace .point') == n_searchers * n_seeds
    assert count(p, "#stats-table tbody tr") == n_searchers
    assert count(p, "#seed-grid tbody tr") == n_searchers
    assert count(p, "#seed-grid tbody td a") == n_searchers * n_seeds


def test_small_comparison_states_a_tie_plainly(page: Page, shapes: _shapes.Shapes) -> None:
    p = page.open(f"comparisons/{shapes.comparisons['small']}")
    page.wait_charts()
    _check_comparison(p, n_searchers=2, n_seeds=3)
    verdict = p.inner_text("#verdict")
    assert "3 seeds" in verdict and "significant" in verdict  # too few seeds, said plainly
    page.screenshot("comparison-small")
    # drill down into a member study
    p.click("#seed-grid tbody td a")
    p.wait_for_selector("#study-name")
    page.wait_charts("history")
    assert "small-comparison" in p.inner_text(".crumbs")


def test_comparisons_list(page: Page, shapes: _shapes.Shapes) -> None:
    p = page.open("comparisons")
    p.wait_for_selector("#comparisons-table tbody tr")
    names = p.eval_on_selector_all(
        "#comparisons-table tbody td:first-child a", "els => els.map(e => e.textContent)"
    )
    assert {"big-10x10", "small-comparison"} <= set(names)
    page.screenshot("comparisons")


def test_unknown_study_and_route(page: Page, server: DashServer) -> None:
    page.allowed.append("404")  # the browser logs the 404 of the missing study
    p = page.open("studies/999999")
    p.wait_for_selector("text=No such study")
    p = page.open("nowhere")
    p.wait_for_selector("text=Page not found")
