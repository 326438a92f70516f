"""hpo: one API for every hyperparameter searcher, one store for every study.

>>> import hpo
>>> @hpo.objective(space={"x": hpo.Float(-5, 5)}, direction="minimize")
... def f(config):
...     return config["x"] ** 2
>>> study = hpo.create_study(f, searcher="random", seed=0)
>>> _ = study.optimize(n_trials=5, progress=False)
>>> len(study.trials)
5
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo import plot
from hpo._logging import get_verbosity, set_verbosity
from hpo.budget import Budget
from hpo.compare import (
    ComparisonResult,
    compare,
    load_comparison,
    plan_comparison,
    run_comparison,
)
from hpo.driver import Driver, LocalDriver
from hpo.exceptions import (
    ComparisonNotFoundError,
    DuplicateComparisonError,
    DuplicateStudyError,
    HPOError,
    SearcherError,
    SearchSpaceExhausted,
    StudyNotFoundError,
    StudyOwnedError,
    TrialPruned,
    UnknownSearcherError,
    UnsupportedSpaceError,
)
from hpo.executors import ProcessExecutor, SerialExecutor, ThreadExecutor
from hpo.objective import Objective, objective
from hpo.searchers import Decision, Searcher, Suggestion, available_searchers, register
from hpo.space import Categorical, Float, Int, Space, SpaceError
from hpo.study import Study, create_study, delete_study, load_study
from hpo.trial import FrozenTrial, Trial, TrialState

if TYPE_CHECKING:
    from hpo.executors.ray import RayExecutor

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":  # imports Ray, so only when asked for: `import hpo` stays light
        from hpo.executors.ray import RayExecutor

        return RayExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Budget",
    "Categorical",
    "ComparisonNotFoundError",
    "ComparisonResult",
    "Decision",
    "Driver",
    "DuplicateComparisonError",
    "DuplicateStudyError",
    "Float",
    "FrozenTrial",
    "HPOError",
    "Int",
    "LocalDriver",
    "Objective",
    "ProcessExecutor",
    "RayExecutor",
    "SearchSpaceExhausted",
    "Searcher",
    "SearcherError",
    "SerialExecutor",
    "Space",
    "SpaceError",
    "Study",
    "StudyNotFoundError",
    "StudyOwnedError",
    "Suggestion",
    "ThreadExecutor",
    "Trial",
    "TrialPruned",
    "TrialState",
    "UnknownSearcherError",
    "UnsupportedSpaceError",
    "available_searchers",
    "compare",
    "create_study",
    "delete_study",
    "get_verbosity",
    "load_comparison",
    "load_study",
    "objective",
    "plan_comparison",
    "plot",
    "register",
    "run_comparison",
    "set_verbosity",
]
