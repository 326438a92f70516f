"""An objective whose module is slow to import in a worker process (as one importing torch
or a big dataset is), for the process executor's duration test."""

from __future__ import annotations

import os
import time

import hpo

STARTUP_S = 1.5
if os.environ.get("HPO_TEST_SLOW_START"):  # set by the test after importing this module:
    time.sleep(STARTUP_S)  # only the executor's worker processes pay it


@hpo.objective(space={"x": hpo.Float(0.0, 1.0)})
def quick(config):  # type: ignore[no-untyped-def]
    time.sleep(0.05)
    return config["x"]
