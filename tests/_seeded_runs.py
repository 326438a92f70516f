"""Short seeded runs of the core searchers, pinned so that refactors keep their trials.

``python tests/_seeded_runs.py > tests/data/seeded_runs.json`` re-records them (only when
a searcher's behaviour is meant to change; say so in the commit).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import hpo

SPACE = {
    "x": hpo.Float(-5.0, 5.0),
    "lr": hpo.Float(1e-4, 1e-1, log=True),
    "n": hpo.Int(1, 16),
    "kind": hpo.Categorical(["a", "b", "c"]),
}

#: searcher -> (trials, asks per batch): batches exercise the pending asks (constant liar)
RUNS: dict[str, tuple[int, int]] = {
    "random": (12, 1),
    "grid": (12, 1),
    "tpe": (16, 1),
    "gp": (12, 1),
    "genetic": (16, 1),
    "tpe-batch": (15, 3),
    "gp-batch": (12, 3),
    "genetic-batch": (15, 3),
}


def value_of(config: dict[str, Any]) -> float:
    """A deterministic objective with structure in every parameter."""
    bias = {"a": 0.0, "b": 0.5, "c": 1.0}[config["kind"]]
    return (
        (config["x"] - 1.3) ** 2
        + (math.log10(config["lr"]) + 2.5) ** 2
        + 0.1 * (config["n"] - 6) ** 2
        + bias
    )


def seeded_run(label: str) -> list[dict[str, Any]]:
    """Trials (params and value) of the run ``label``, in number order."""
    n_trials, batch = RUNS[label]
    searcher = label.split("-")[0]
    kwargs = {"resolution": 3} if searcher == "grid" else {}
    study = hpo.create_study(
        space=SPACE, searcher=searcher, searcher_kwargs=kwargs, seed=7, direction="minimize"
    )
    while len(study.trials) < n_trials:
        trials = [study.ask() for _ in range(min(batch, n_trials - len(study.trials)))]
        for trial in trials:
            study.tell(trial, value_of(trial.params))
    return [{"params": t.params, "value": t.value} for t in study.trials]


if __name__ == "__main__":
    json.dump({label: seeded_run(label) for label in RUNS}, sys.stdout, indent=1)
    sys.stdout.write("\n")
