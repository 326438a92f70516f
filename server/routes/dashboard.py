"""The web dashboard: its static pages at ``/`` and the API they read under
``/api/v1/dashboard``.

``install(app)`` adds both to an application (one call in :func:`hpo.server.app.create_app`).
The pages are plain HTML, CSS and JavaScript modules in ``server/dashboard/`` (no build
step); Plotly.js is served from the installed ``plotly`` package, gzipped once in memory.
Nothing is fetched from the internet.

Everything the pages show comes from the API, so it is scriptable too. Endpoints (GET
unless said; writes need the server's token like every write):

==========================================================  ===============================
``/api/v1/dashboard/studies``                                studies: search, sort, page
``/api/v1/dashboard/studies/{id}``                           overview: record, counts, note
``/api/v1/dashboard/studies/{id}/plots``                     history, parallel coordinates,
                                                             learning curves, PBT, portfolio
``/api/v1/dashboard/studies/{id}/importance``                parameter importance
``/api/v1/dashboard/studies/{id}/slice?param=``              one parameter against the value
``/api/v1/dashboard/studies/{id}/contour?x=&y=``             two parameters, binned means
``/api/v1/dashboard/studies/{id}/trials``                    filtered, sorted trial pages
``POST /api/v1/dashboard/studies/{id}/stop``                 stop or resume (``stopped``)
``POST /api/v1/dashboard/studies/{id}/trials/{n}/fail``      fail a running trial
``POST /api/v1/dashboard/studies/{id}/rerun``                enqueue failed trials' configs
``PUT /api/v1/dashboard/studies/{id}/note``                  the study's Markdown note
``/api/v1/dashboard/comparisons``, ``.../{id}``              progress; statistics and plots
``/api/v1/dashboard/catalog``                                problems and searchers (form)
==========================================================  ===============================

Deleting a study, exporting it (CSV/JSON) and starting a comparison use the server's own
endpoints. Controls write to the storage, never through a driver, so acting on a study
that a local process drives does not claim it for the server: the driver that owns the
study sees the change in its next incremental read (a stopped study opens no trial, see
:class:`hpo.storage.base.StudyStoppedError`; a failed trial is told to its searcher; an
enqueued configuration runs next).

Reads of a study go through the :class:`~hpo.server.trial_cache.TrialCache`
(incremental), and derived data is cached until the study changes; the pages poll a
cheap ``version`` (studies list, comparisons) or ``cursor`` (a study) and redraw only
when it moved.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from hpo.codecs import datetime_to_json, study_record_to_json, study_summary_to_json
from hpo.exceptions import TrialNotFoundError
from hpo.server import dashboard_compare as cmp_data
from hpo.server import dashboard_data as data
from hpo.server.errors import json_response
from hpo.server.routes import ERRORS
from hpo.server.state import ServerState, get_state
from hpo.server.trial_cache import TrialCache
from hpo.storage import ComparisonRecord, StudySummary
from hpo.storage.base import MAX_NOTE_CHARS
from hpo.storage.http import API_PREFIX
from hpo.trial import TrialState

STATIC = Path(__file__).resolve().parent.parent / "dashboard"
PREFIX = f"{API_PREFIX}/dashboard"
router = APIRouter(prefix=PREFIX, tags=["dashboard"], responses=ERRORS)
StudyId = Annotated[int, PathParam(ge=0, le=2**31 - 1, description="the study's id")]
Number = Annotated[int, PathParam(ge=0, le=2**31 - 1, description="the trial's number")]
ParamName = Annotated[str, Query(min_length=1, max_length=256)]
#: seconds an importance result is reused while the study grows by less than a fifth
IMPORTANCE_TTL = 20.0


# --- state --------------------------------------------------------------------------------
@dataclass
class DashboardState:
    """What the dashboard keeps between requests: the trial cache and slow results."""

    cache: TrialCache
    importance: dict[int, tuple[int, float, dict[str, Any]]] = field(default_factory=dict)
    comparisons: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def get_dashboard(request: Request) -> DashboardState:
    dash: DashboardState = request.app.state.dashboard
    return dash


State = Annotated[ServerState, Depends(get_state)]
Dash = Annotated[DashboardState, Depends(get_dashboard)]


def install(app: FastAPI) -> None:
    """Serve the dashboard from ``app``: its API router, ``/`` and ``/dashboard/...``."""
    state: ServerState = app.state.hpo
    app.state.dashboard = DashboardState(TrialCache(state.storage))
    app.include_router(router)
    app.add_api_route("/", _index, include_in_schema=False, methods=["GET"])
    app.add_api_route(
        "/dashboard/vendor/plotly.min.js", _plotly, include_in_schema=False, methods=["GET"]
    )
    app.mount("/dashboard", StaticFiles(directory=STATIC), name="dashboard")


async def _index() -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@functools.cache
def _plotly_bytes() -> tuple[bytes, bytes, str]:
    """Plotly.js from the installed ``plotly`` package: raw, gzipped and its ETag."""
    import plotly

    raw = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    return raw, gzip.compress(raw, 6), hashlib.sha1(raw).hexdigest()[:16]


async def _plotly(request: Request) -> Response:
    import anyio.to_thread

    raw, packed, etag = await anyio.to_thread.run_sync(_plotly_bytes)
    headers = {"Cache-Control": "public, max-age=86400", "ETag": f'"{etag}"'}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type="text/javascript", headers=headers)
    return Response(raw, media_type="text/javascript", headers=headers)


def _version(payload: Any) -> str:
    import json

    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --- studies list -------------------------------------------------------------------------
SortKey = Literal[
    "name", "searcher", "state", "n_trials", "best_value", "last_activity", "created_at", "study_id"
]


def _memberships(records: list[ComparisonRecord]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for rec in records:
        for m in rec.members:
            out[m.study_id] = {
                "comparison_id": rec.comparison_id,
                "comparison": rec.name,
                "label": m.label,
                "seed": m.seed,
                "n_trials": rec.n_trials,
            }
    return out


def _row(summary: StudySummary, member: dict[str, Any] | None) -> dict[str, Any]:
    finished = sum(
        summary.counts.get(s.value, 0)
        for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)
    )
    reached = member is not None and finished >= member["n_trials"]
    row = study_summary_to_json(summary)
    row["state"] = data.study_state(summary.counts, summary.stopped_at is not None, reached)
    row["comparison"] = member
    return row


@router.get("/studies")
async def list_studies(
    state: State,
    q: Annotated[str, Query(max_length=256)] = "",
    status: Annotated[
        str | None, Query(pattern=r"^(running|queued|stopped|done|idle|empty)$")
    ] = None,
    sort: SortKey = "last_activity",
    order: Literal["asc", "desc"] = "desc",
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """A page of study summaries (from aggregates: no trial is read), searched by name or
    searcher (``q``), filtered by state, sorted on the server; ``states`` counts every
    state over the search, ``version`` changes whenever the page would."""

    def read() -> dict[str, Any]:
        members = _memberships(state.storage.list_comparisons())
        rows = [_row(s, members.get(s.study_id)) for s in state.storage.study_summaries()]
        words = q.lower().split()
        if words:
            rows = [
                r for r in rows if all(w in f"{r['name']} {r['searcher']}".lower() for w in words)
            ]
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
        if status is not None:
            rows = [r for r in rows if r["state"] == status]
        present = [r for r in rows if r.get(sort) is not None]
        present.sort(key=lambda r: (r[sort], r["study_id"]), reverse=order == "desc")
        ordered = present + [r for r in rows if r.get(sort) is None]
        page = ordered[offset : offset + limit]
        body = {
            "total": len(ordered),
            "offset": offset,
            "limit": limit,
            "states": counts,
            "studies": page,
        }
        return {**body, "version": _version(body)}

    return json_response(await state.pool.call(read))


# --- one study ----------------------------------------------------------------------------
def _summary(state: ServerState, study_id: int) -> StudySummary:
    found = state.storage.study_summaries([study_id])
    if not found:
        state.storage.get_study_by_id(study_id)  # StudyNotFoundError
    return found[0]


@router.get("/studies/{study_id}")
async def study_overview(
    study_id: StudyId,
    state: State,
    dash: Dash,
) -> Response:
    """The study page's header: record (without the searcher's state), summary, state,
    parameters, which panels apply, its comparison, its note, and the trials' cursor."""

    def read() -> dict[str, Any]:
        record = state.storage.get_study_by_id(study_id)
        view = dash.cache.get(study_id)
        summary = _summary(state, study_id)
        member = _memberships(state.storage.list_comparisons()).get(study_id)
        note = state.storage.get_study_note(study_id)
        rec = study_record_to_json(record)
        rec.pop("searcher_state", None)
        return {
            "record": rec,
            "summary": _row(summary, member),
            "params": data.param_info(record.space, view.trials),
            "features": dash.cache.memo(
                study_id, "features", view, lambda: data.features(record, view.trials)
            ),
            "note": {
                "body": note.body,
                "version": note.version,
                "updated_at": datetime_to_json(note.updated_at),
            },
            "cursor": view.cursor,
        }

    return json_response(await state.pool.call(read))


@router.get("/studies/{study_id}/plots")
async def study_plots(
    study_id: StudyId,
    state: State,
    dash: Dash,
    max_points: Annotated[int, Query(ge=10, le=20_000)] = 2000,
) -> Response:
    """History, parallel coordinates, learning curves, PBT lineage and portfolio members,
    down-sampled (each says ``shown`` of ``total``)."""

    def read() -> dict[str, Any]:
        record = state.storage.get_study_by_id(study_id)
        view = dash.cache.get(study_id)

        def compute() -> dict[str, Any]:
            trials, direction = view.trials, record.direction
            feats = data.features(record, trials)
            return {
                "cursor": view.cursor,
                "history": data.history(trials, direction, max_points),
                "parallel": data.parallel(trials, direction, max(10, max_points // 2)),
                "curves": data.learning_curves(trials, direction)
                if feats["intermediate"]
                else None,
                "lineage": data.lineage(trials) if feats["pbt"] else None,
                "portfolio": data.portfolio(trials, direction, max_points)
                if feats["portfolio"]
                else None,
            }

        return dash.cache.memo(study_id, f"plots:{max_points}", view, compute)

    return json_response(await state.pool.call(read))


@router.get("/studies/{study_id}/importance")
async def study_importance(
    study_id: StudyId,
    state: State,
    dash: Dash,
) -> Response:
    """Parameter importance (:func:`hpo.plot.importance_data`: random-forest permutation
    importance with scikit-learn, else epsilon squared; ``method`` says which) on at most
    1,000 COMPLETE trials; reused for 20 s while the study grows by less than a fifth."""

    def read() -> dict[str, Any]:
        record = state.storage.get_study_by_id(study_id)
        view = dash.cache.get(study_id)
        n_complete = sum(1 for t in view.trials if t.state is TrialState.COMPLETE)
        with dash.lock:
            cached = dash.importance.get(study_id)
        if cached is not None:
            n, at, result = cached
            fresh = time.monotonic() - at < IMPORTANCE_TTL and n_complete < 1.2 * n + 1
            if n == n_complete or fresh:
                return result
        result = data.importance(view.trials, record.direction)
        with dash.lock:
            dash.importance[study_id] = (n_complete, time.monotonic(), result)
        return result

    return json_response(await state.pool.call(read))


@router.get("/studies/{study_id}/slice")
async def study_slice(
    study_id: StudyId,
    param: ParamName,
    state: State,
    dash: Dash,
) -> Response:
    """Each COMPLETE trial's value against its value of ``param`` (at most 2,000)."""

    def read() -> dict[str, Any]:
        record = state.storage.get_study_by_id(study_id)
        view = dash.cache.get(study_id)
        return dash.cache.memo(
            study_id,
            f"slice:{param}",
            view,
            lambda: data.slice_data(view.trials, record.space, param, record.direction),
        )

    return json_response(await state.pool.call(read))


@router.get("/studies/{study_id}/contour")
async def study_contour(
    study_id: StudyId,
    x: ParamName,
    y: ParamName,
    state: State,
    dash: Dash,
) -> Response:
    """The mean value over a 24 x 24 grid of parameters ``x`` and ``y``, and the trials."""

    def read() -> dict[str, Any]:
        record = state.storage.get_study_by_id(study_id)
        view = dash.cache.get(study_id)
        return dash.cache.memo(
            study_id,
            f"contour:{x}\0{y}",
            view,
            lambda: data.contour(view.trials, record.space, x, y, record.direction),
        )

    return json_response(await state.pool.call(read))


@router.get("/studies/{study_id}/trials")
async def study_trials(
    study_id: StudyId,
    state: State,
    dash: Dash,
    states: Annotated[
        str | None,
        Query(
            pattern=r"^(WAITING|RUNNING|COMPLETE|PRUNED|FAILED)(,(WAITING|RUNNING|COMPLETE|PRUNED|FAILED))*$"
        ),
    ] = None,
    q: Annotated[str, Query(max_length=512)] = "",
    sort: Annotated[str, Query(min_length=1, max_length=300)] = "number",
    order: Literal["asc", "desc"] = "asc",
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """A page of trials: ``states`` (``COMPLETE,FAILED``), a filter ``q`` (``C>10
    kernel=rbf``: ``field op value`` terms and words), sorted by ``sort`` (``number``,
    ``value``, ``duration``, ``state``, ``heartbeat``, a parameter, ``metrics.<name>``)."""
    wanted = None if states is None else set(states.split(","))

    def read() -> dict[str, Any]:
        view = dash.cache.get(study_id)
        page = data.trial_table(
            view.trials,
            states=wanted,
            query=q,
            sort=sort,
            descending=order == "desc",
            offset=offset,
            limit=limit,
        )
        return {**page, "cursor": view.cursor}

    return json_response(await state.pool.call(read))


# --- control ------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StopBody(_Body):
    stopped: bool = True


class FailBody(_Body):
    error: Annotated[str, Field(max_length=10_000)] = "failed from the dashboard"


class RerunBody(_Body):
    numbers: (
        Annotated[list[Annotated[int, Field(ge=0, le=2**31 - 1)]], Field(max_length=10_000)] | None
    ) = None


class NoteBody(_Body):
    body: Annotated[str, Field(max_length=MAX_NOTE_CHARS)]
    expected_version: Annotated[int, Field(ge=0)] | None = None


@router.post("/studies/{study_id}/stop")
async def stop_study(study_id: StudyId, body: StopBody, state: State) -> Response:
    """Stop the study (``stopped: true``: no new trial opens, running ones may finish) or
    resume it (``false``)."""
    when = await state.pool.call(lambda: state.storage.set_study_stopped(study_id, body.stopped))
    return json_response({"stopped_at": datetime_to_json(when)})


@router.post("/studies/{study_id}/trials/{number}/fail")
async def fail_trial(
    study_id: StudyId,
    number: Number,
    state: State,
    body: Annotated[FailBody, Body()] = FailBody(),  # noqa: B008 - a default body
) -> Response:
    """Fail a RUNNING (or WAITING) trial with ``error`` as its error text; 409 if it has
    finished. Its searcher learns it at the study's next ask."""
    from hpo.codecs import trial_to_json

    def fail() -> Any:
        return state.storage.finish_trial(study_id, number, TrialState.FAILED, error=body.error)

    return json_response(trial_to_json(await state.pool.call(fail)))


@router.post("/studies/{study_id}/rerun", status_code=201)
async def rerun_failed(
    study_id: StudyId,
    state: State,
    body: Annotated[RerunBody, Body()] = RerunBody(),  # noqa: B008 - a default body
) -> Response:
    """Enqueue the configurations of FAILED trials (``numbers``, default every FAILED
    trial), each once: they run before new suggestions. Answers the new trials' numbers
    and the trials skipped (not FAILED, or whose configuration the space refuses)."""

    def rerun() -> dict[str, Any]:
        storage = state.storage
        record = storage.get_study_by_id(study_id)
        if body.numbers is None:
            chosen = storage.get_trials(study_id, states=[TrialState.FAILED]).trials
        else:
            chosen = []
            for n in dict.fromkeys(body.numbers):
                try:
                    chosen.append(storage.get_trial(study_id, n))
                except TrialNotFoundError:
                    continue
        enqueued, skipped = [], []
        for t in chosen:
            config = dict(t.params)
            if t.state is not TrialState.FAILED or (
                not record.define_by_run and record.space.violations(config)
            ):
                skipped.append(t.number)
                continue
            if not record.define_by_run:
                config = record.space.canonical(config)
            enqueued.append(storage.enqueue_trial(study_id, config).number)
        return {"enqueued": enqueued, "skipped": skipped}

    return json_response(await state.pool.call(rerun, study_id=study_id), 201)


@router.put("/studies/{study_id}/note")
async def save_note(study_id: StudyId, body: NoteBody, state: State) -> Response:
    """Replace the study's Markdown note; with ``expected_version``, only if nobody saved
    it since (409 ``study_note_conflict`` otherwise)."""
    note = await state.pool.call(
        lambda: state.storage.set_study_note(
            study_id, body.body, expected_version=body.expected_version
        )
    )
    return json_response(
        {
            "body": note.body,
            "version": note.version,
            "updated_at": datetime_to_json(note.updated_at),
        }
    )


# --- comparisons --------------------------------------------------------------------------
def _comparison(state: ServerState, comparison_id: int) -> ComparisonRecord:
    from hpo.exceptions import ComparisonNotFoundError

    for record in state.storage.list_comparisons():
        if record.comparison_id == comparison_id:
            return record
    raise ComparisonNotFoundError(f"no comparison with id {comparison_id}")


def _comparison_row(
    state: ServerState, record: ComparisonRecord, summaries: list[StudySummary]
) -> dict[str, Any]:
    return {
        "comparison_id": record.comparison_id,
        "name": record.name,
        "problem": record.problem,
        "direction": record.direction,
        "n_trials": record.n_trials,
        "searchers": [s["label"] for s in record.spec.get("searchers", [])],
        "seeds": list(record.spec.get("seeds", [])),
        "n_members": len(record.members),
        "optimum": record.optimum,
        "created_at": datetime_to_json(record.created_at),
        "job": state.jobs.status(record.name),
        "progress": cmp_data.progress(record, summaries),
    }


@router.get("/comparisons")
async def list_comparisons(state: State) -> Response:
    """Every comparison, newest first, with its progress and job state."""

    def read() -> dict[str, Any]:
        records = state.storage.list_comparisons()
        ids = [m.study_id for r in records for m in r.members]
        by_id = {s.study_id: s for s in state.storage.study_summaries(ids)}
        rows = [
            _comparison_row(state, r, [by_id[m.study_id] for m in r.members if m.study_id in by_id])
            for r in reversed(records)
        ]
        return {"comparisons": rows, "version": _version(rows)}

    return json_response(await state.pool.call(read))


@router.get("/comparisons/{comparison_id}")
async def comparison_page(
    comparison_id: Annotated[int, PathParam(ge=0, le=2**31 - 1)],
    state: State,
    dash: Dash,
    known: Annotated[str | None, Query(max_length=64)] = None,
    max_points: Annotated[int, Query(ge=10, le=5000)] = 400,
) -> Response:
    """The comparison's statistics and curves (:func:`hpo.server.dashboard_compare.summary`),
    its member studies and progress. With ``known`` equal to the current ``version`` the
    answer is only ``{"version", "unchanged": true}`` (cheap polling of a live comparison)."""

    def read() -> dict[str, Any]:
        record = _comparison(state, comparison_id)
        summaries = state.storage.study_summaries([m.study_id for m in record.members])
        job = state.jobs.status(record.name)
        ver = cmp_data.version(record, summaries, job) + f":{max_points}"
        if known == ver:
            return {"version": ver, "unchanged": True}
        with dash.lock:
            cached = dash.comparisons.get(comparison_id)
        if cached is not None and cached[0] == ver:
            stats = cached[1]
        elif not cmp_data.progress(record, summaries)["finished"]:
            stats = cmp_data.empty_summary(record)
        else:
            stats = cmp_data.summary(state.storage, dash.cache, record, max_points)
            with dash.lock:
                dash.comparisons[comparison_id] = (ver, stats)
        return {
            "version": ver,
            "comparison": _comparison_row(state, record, summaries),
            "members": cmp_data.members_grid(record, summaries),
            "summary": stats,
        }

    return json_response(await state.pool.call(read))


# --- the new-comparison form --------------------------------------------------------------
@functools.cache
def _catalog() -> dict[str, Any]:
    from hpo.benchmarks import available_problems, get_problem
    from hpo.searchers import DEFAULT_SEARCHER, available_searchers, searcher_class

    problems = []
    for name in available_problems():
        try:
            p = get_problem(name)
        except Exception as exc:  # a problem whose library is missing here
            problems.append({"name": name, "available": False, "reason": str(exc)})
            continue
        problems.append(
            {
                "name": name,
                "available": True,
                "direction": p.direction,
                "n_params": len(p.space),
                "params": list(p.space),
                "tags": list(p.tags),
                "optimum": p.optimum,
                "multi_fidelity": p.budget is not None,
            }
        )
    searchers = []
    for name in available_searchers():
        try:
            cls = searcher_class(name)
        except Exception as exc:  # an adapter whose library is not installed
            searchers.append({"name": name, "available": False, "reason": str(exc).split("\n")[0]})
            continue
        searchers.append(
            {
                "name": name,
                "available": True,
                "needs_budget": bool(getattr(cls, "owns_stopping", False)),
            }
        )
    return {"problems": problems, "searchers": searchers, "default_searcher": DEFAULT_SEARCHER}


@router.get("/catalog")
async def catalog(state: State) -> Response:
    """What the new-comparison form offers: the built-in problems (direction, parameters,
    whether an optimum is known) and the searchers this server can run."""
    return json_response(await state.pool.call(_catalog))
