"""Ray Tune, both directions.

1. :class:`HPOSearch` makes any hpo searcher a ``ray.tune.search.Searcher`` for a plain
   Tune ``Tuner`` (``ConcurrencyLimiter`` works around it; ``save``/``restore`` write the
   searcher's JSON state)::

       search = HPOSearch({"lr": hpo.Float(1e-4, 1e-1, log=True)}, searcher="random",
                          metric="loss", mode="min", seed=0)
       tune.Tuner(train, tune_config=tune.TuneConfig(search_alg=search, num_samples=20))

2. :func:`run_with_tune` runs an hpo study through Tune, with Tune's schedulers (ASHA,
   HyperBand, PBT) and, optionally, Tune's search algorithms; every trial lands in the
   study's storage::

       study = hpo.create_study(train, storage="sqlite:///hpo.db")
       run_with_tune(study, 20, scheduler=ASHAScheduler(max_t=20, grace_period=2))

Inside Tune, ``trial.report(step, value)`` becomes ``ray.tune.report`` and
``trial.save_checkpoint`` / ``load_checkpoint`` / ``checkpoint_dir`` become Tune
checkpoints, so an unchanged hpo objective is stopped by ASHA and cloned by PBT.

**Where things run.** Objectives run on Ray workers (the function is sent with
cloudpickle, so closures work). Every storage write happens on the driver, the process
calling :func:`run_with_tune`, from a Tune callback: in-memory studies work and workers
never need database credentials. With a SQL storage only the driver connects; with
several nodes, Tune's ``storage_path`` must be shared storage (NFS, S3, GCS) so that
checkpoints reach the node that restores them, as Tune itself requires.

Ray is imported only when one of these is used; ``import hpo`` never imports it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.exceptions import SearchSpaceExhausted, UnsupportedSpaceError
from hpo.space import Categorical, Float, Int, Param, Space

if TYPE_CHECKING:
    from ray.tune import ResultGrid
    from ray.tune.schedulers import TrialScheduler

    from hpo.study import ObjectiveLike, Study

    from ._raytune_search import HPOSearch

__all__ = ["HPOSearch", "run_with_tune", "to_tune_space"]

_INSTALL_HINT = "Ray Tune is not installed; install it with: pip install 'hpo[ray]'"


def _require_ray() -> None:
    try:
        import ray.tune  # noqa: F401
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


def __getattr__(name: str) -> Any:
    if name == "HPOSearch":
        _require_ray()
        from ._raytune_search import HPOSearch

        return HPOSearch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _tune_domain(name: str, p: Param) -> Any:
    from ray import tune

    if isinstance(p, Categorical):
        return tune.choice(list(p.choices))
    if isinstance(p, Float | Int) and p.low == p.high:  # a fixed value
        return tune.choice([p.low])
    if isinstance(p, Int):
        if p.log:
            return tune.lograndint(p.low, p.high + 1)
        if p.step != 1:
            return tune.qrandint(p.low, p.high, p.step)
        return tune.randint(p.low, p.high + 1)
    if isinstance(p, Float):
        if p.log:
            return tune.loguniform(p.low, p.high)
        if p.step is not None:
            return tune.quniform(p.low, p.high, p.step)
        return tune.uniform(p.low, p.high)
    raise UnsupportedSpaceError(f"parameter {name!r}: no Tune domain for {p!r}")


def to_tune_space(space: Space) -> dict[str, Any]:
    """The space as Tune domains (``tune.uniform``, ``tune.choice``, ...), for Tune's own
    search algorithms. Tune has no conditions: a conditional parameter is sampled always
    and dropped from the stored trial when inactive."""
    _require_ray()
    return {name: _tune_domain(name, p) for name, p in space.items()}


def _check_study(study: Study, n_trials: int) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive int, got {n_trials!r}")
    if study.define_by_run:
        raise ValueError(
            f"study {study.name!r} is define-by-run; Tune needs the whole space up front: "
            "create the study with a space (@hpo.objective(space=...))"
        )


def run_with_tune(
    study: Study,
    n_trials: int,
    *,
    objective: ObjectiveLike | None = None,
    scheduler: TrialScheduler | None = None,
    search_alg: Any = None,
    resources_per_trial: dict[str, float] | None = None,
    metric: str | None = None,
    storage_path: str | Path | None = None,
    name: str | None = None,
    param_space: dict[str, Any] | None = None,
    max_concurrent_trials: int | None = None,
    reuse_actors: bool = True,
    verbose: int = 1,
) -> ResultGrid:
    """Run ``n_trials`` Tune trials of ``study`` and record each in its storage.

    ``scheduler`` is any Tune scheduler (``ASHAScheduler``, ``HyperBandScheduler``,
    ``PopulationBasedTraining``; leave its ``metric``/``mode`` unset: they come from the
    study). ``search_alg`` is a ``ray.tune.search.Searcher`` (``OptunaSearch()``, possibly
    in a ``ConcurrencyLimiter``); by default the study's own searcher proposes the
    configurations, enqueued ones first. Tune's searchers get ``param_space``, by default
    :func:`to_tune_space` of the study's space (pass ``{}`` for a searcher built with its
    own space). ``resources_per_trial`` is e.g. ``{"cpu": 1, "gpu": 0.5}``. ``metric``
    names the value in Tune's results (default: the study's metric, else ``"value"``).
    ``storage_path`` holds Tune's results and checkpoints (default: ``ray_results`` under
    the study's artifact directory; with several nodes it must be shared storage).
    ``name``, ``max_concurrent_trials``, ``reuse_actors`` (on by default: a paused or
    cloned trial restarts in the same worker, much faster) and ``verbose`` go to Tune.

    Trials end COMPLETE (the objective returned), PRUNED (a scheduler stopped them; their
    reports and last value are kept) or FAILED (with the traceback). A PBT exploit ends
    the exploited trial's current hpo trial as PRUNED and opens a new one whose ``parent``
    is the cloned trial, resumed from its checkpoint; ``n_trials`` counts Tune trials,
    so a PBT study holds ``n_trials`` + one trial per exploit (PBT takes no search
    algorithm, so its population is asked from the study up front). Trials started here
    send no heartbeat; ones Tune never finished are marked FAILED when the call returns.
    Returns Tune's result grid.
    """
    _check_study(study, n_trials)
    _require_ray()
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining
    from ray.tune.search import BasicVariantGenerator

    from ._raytune_driver import TuneRun
    from ._raytune_hooks import NumberedSearch, Recorder, StudySearch
    from ._raytune_worker import TRIAL_KEY, WorkerPayload, tune_trainable

    obj = study.resolve_objective(objective)
    metric_key = metric or study.metric or "value"
    mode = "min" if study.direction == "minimize" else "max"
    run = TuneRun(study, metric_key)
    num_samples = n_trials
    space: dict[str, Any] | None = None
    if search_alg is None and isinstance(scheduler, PopulationBasedTraining):
        # PBT accepts only Tune's variant generator: ask the study for the population now
        points = run.ask_many(n_trials)
        if not points:
            raise SearchSpaceExhausted(f"study {study.name!r}: the searcher has no new point")
        searcher: Any = BasicVariantGenerator(points_to_evaluate=points)
        space = {**to_tune_space(study.space), TRIAL_KEY: None}
        num_samples = len(points)
    elif search_alg is None:
        searcher = StudySearch(run, metric=metric_key, mode=mode)
    elif isinstance(search_alg, tune.search.Searcher):
        searcher = NumberedSearch(search_alg, run)
        space = to_tune_space(study.space) if param_space is None else param_space
    else:
        raise TypeError(
            "search_alg must be a ray.tune.search.Searcher (e.g. OptunaSearch(), possibly in "
            f"a ConcurrencyLimiter), or None for the study's own searcher; got {search_alg!r}"
        )
    payload = WorkerPayload(study.name, obj.func, study.space.to_json(), metric_key, study.metric)
    trainable: Any = tune.with_parameters(tune_trainable, payload=payload)
    if resources_per_trial:
        trainable = tune.with_resources(trainable, dict(resources_per_trial))
    root = Path(storage_path) if storage_path else Path(study.artifacts_root) / "ray_results"
    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            metric=metric_key,
            mode=mode,
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=num_samples,
            max_concurrent_trials=max_concurrent_trials,
            reuse_actors=reuse_actors,
        ),
        run_config=tune.RunConfig(
            name=name or f"{study.name}-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(root.resolve()),
            callbacks=[Recorder(run)],
            verbose=verbose,
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    try:
        return tuner.fit()
    finally:
        run.fail_unfinished("the Tune run ended before this trial finished")
