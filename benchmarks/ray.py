"""The Ray executor: per-trial overhead against Ray Tune, packing, and a long study.

Run with ``make bench-ray`` or ``python benchmarks/ray.py`` (``--quick`` for a smoke run:
fewer trials, nothing written). Everything runs on one local Ray instance,
``ray.init(num_cpus=16)`` (16 logical CPUs, whatever the machine has), started once;
hpo's :class:`~hpo.RayExecutor` and Ray Tune's ``Tuner`` run in the same process, one
after the other, each after a warm-up run of its own that starts Ray's worker processes
(start-up is excluded from every figure).

**Overhead.** The same :data:`N_OVERHEAD` trivial trials (``x -> x``, one CPU each, a
uniform random search): hpo's in-memory study with ``RayExecutor()`` (16 at once) against
``tune.Tuner`` with ``num_samples`` trials and its defaults (16 at once, a temporary
``storage_path``), except its per-trial result files, turned off in Tune's favour
(``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1``). Per-trial overhead is wall time / trials; the target is
hpo at least 50x faster.

**Packing.** :data:`N_PACK` trials that each sleep 0.5 s, 16 at once: the ideal is
``N_PACK * 0.5 / 16`` s (10 s); the target is hpo within 10% of it. Tune's figure beside
it (``max_concurrent_trials=16``).

**Scale.** One study of :data:`N_SCALE` trivial trials with ``RayExecutor``: the
driver's resident memory (``VmRSS``, after a garbage collection) and the time per trial
over each block of 1,000 trials, first block against last (flat is the goal). The same
study with the serial executor in this process (no Ray) is the baseline for memory: what
the in-memory storage and the searcher keep for 5,000 trials by design.

The section is printed and, unless ``--quick``, written to ``benchmarks/RESULTS.md``
under "## Ray".
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _results import RESULTS, write_section

# this file is benchmarks/ray.py: drop its folder from the path, or `import ray` finds it
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import hpo  # noqa: E402

HEADING = "## Ray"
NUM_CPUS = 16
N_OVERHEAD = 200
N_PACK = 320
SLEEP = 0.5
N_SCALE = 5000
BLOCK = 1000
SPACE = {"x": hpo.Float(0.0, 1.0)}


@hpo.objective(space=SPACE)
def trivial(config: dict[str, float]) -> float:
    return config["x"]


@hpo.objective(space=SPACE)
def sleepy(config: dict[str, float]) -> float:
    time.sleep(SLEEP)
    return config["x"]


def rss_mb() -> float:
    """This process's resident memory in MB (Linux; else the peak from getrusage)."""
    gc.collect()
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- hpo ---------------------------------------------------------------------------------------
def hpo_run(objective: hpo.Objective, n: int, **executor: Any) -> float:
    """Seconds ``optimize`` takes for ``n`` trials on Ray."""
    study = hpo.create_study(objective, searcher="random", seed=0)
    t0 = time.perf_counter()
    study.optimize(n_trials=n, executor=hpo.RayExecutor(**executor), progress=False)
    elapsed = time.perf_counter() - t0
    states = {t.state.value for t in study.trials}
    assert states == {"COMPLETE"} and len(study.trials) == n, states
    return elapsed


# --- Ray Tune ------------------------------------------------------------------------------------
def tune_run(trainable: Callable[[dict[str, Any]], Any], n: int, **tune_config: Any) -> float:
    """Seconds ``Tuner.fit`` takes for ``n`` trials."""
    from ray import tune

    with tempfile.TemporaryDirectory() as tmp:
        tuner = tune.Tuner(
            trainable,
            param_space={"x": tune.uniform(0.0, 1.0)},
            tune_config=tune.TuneConfig(num_samples=n, metric="value", mode="min", **tune_config),
            run_config=tune.RunConfig(storage_path=tmp, name="bench", verbose=0),
        )
        t0 = time.perf_counter()
        results = tuner.fit()
        elapsed = time.perf_counter() - t0
        assert len(results) == n and not results.errors, results.errors
    return elapsed


def tune_trivial(config: dict[str, Any]) -> dict[str, float]:
    return {"value": config["x"]}


def tune_sleepy(config: dict[str, Any]) -> dict[str, float]:
    time.sleep(SLEEP)
    return {"value": config["x"]}


# --- the measurements ----------------------------------------------------------------------------
def overhead(n: int) -> dict[str, float]:
    hpo_run(sleepy, NUM_CPUS)  # warm-up: 16 worker processes, the mailbox actor
    ours = hpo_run(trivial, n)
    tune_run(tune_trivial, 16)
    theirs = tune_run(tune_trivial, n)
    return {"hpo": ours / n, "tune": theirs / n}


def packing(n: int) -> dict[str, float]:
    hpo_run(sleepy, NUM_CPUS, max_concurrent=NUM_CPUS)
    ours = hpo_run(sleepy, n, max_concurrent=NUM_CPUS)
    theirs = tune_run(tune_sleepy, n, max_concurrent_trials=NUM_CPUS)
    return {"hpo": ours, "tune": theirs, "ideal": n * SLEEP / NUM_CPUS}


def scale(n: int, block: int) -> dict[str, Any]:
    """Seconds per trial and the driver's memory after each block of ``block`` trials,
    serially in this process (the memory baseline) and on Ray. Both studies stay alive to
    the end, so neither grows into memory the other freed."""
    kept: list[hpo.Study] = []

    def blocks(executor: Any) -> tuple[list[float], list[float]]:
        seconds: list[float] = []
        memory = [rss_mb()]
        count, t0 = [0], [0.0]

        def every_block(study: hpo.Study, trial: hpo.FrozenTrial) -> None:
            count[0] += 1
            if count[0] % block == 0:
                seconds.append((time.perf_counter() - t0[0]) / block)
                memory.append(rss_mb())
                t0[0] = time.perf_counter()  # reading the memory is not the trials' time

        study = hpo.create_study(trivial, searcher="random", seed=0)
        kept.append(study)
        t0[0] = time.perf_counter()
        study.optimize(n_trials=n, executor=executor, callbacks=[every_block], progress=False)
        return seconds, memory

    serial_seconds, serial_memory = blocks("serial")
    hpo_run(sleepy, NUM_CPUS)  # warm-up: Tune's runs may have left fewer worker processes
    hpo_run(trivial, block)
    ray_seconds, ray_memory = blocks(hpo.RayExecutor())
    return {
        "ray_seconds": ray_seconds,
        "ray_memory": ray_memory,
        "serial_seconds": serial_seconds,
        "serial_memory": serial_memory,
    }


# --- report ------------------------------------------------------------------------------
def report(
    over: dict[str, float],
    pack: dict[str, float],
    big: dict[str, Any],
    n: dict[str, int],
    when: dict[str, str],
) -> str:
    import ray

    ratio = over["tune"] / over["hpo"]
    pack_over = pack["hpo"] / pack["ideal"] - 1
    first, last = big["ray_seconds"][0], big["ray_seconds"][-1]
    grow = big["ray_memory"][-1] - big["ray_memory"][0]
    base = big["serial_memory"][-1] - big["serial_memory"][0]
    blocks = len(big["ray_seconds"])
    lines = [
        HEADING,
        "",
        "`make bench-ray` (benchmarks/ray.py), "
        f"{platform.machine()} with {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, Ray {ray.__version__}; one local "
        f"`ray.init(num_cpus={NUM_CPUS})`, worker start-up excluded (warm-up runs). "
        "Wall-clock figures on a shared machine (its load average is given with each "
        "part): ratios matter, not the last digit.",
        "",
        f"**Per-trial overhead**, {n['overhead']} trivial trials, one CPU each "
        f"({when['overhead']}):",
        "",
        "| | seconds per trial | trials per second |",
        "| --- | ---: | ---: |",
        f"| hpo `RayExecutor` | {over['hpo'] * 1e3:.2f} ms | {1 / over['hpo']:.0f} |",
        f"| Ray Tune `Tuner` | {over['tune'] * 1e3:.1f} ms | {1 / over['tune']:.1f} |",
        "",
        "Tune runs its defaults except its per-trial result files (JSON, CSV, "
        "TensorBoard), turned off in its favour.",
        "",
        f"hpo is **{ratio:.0f}x** faster per trial (target: at least 50x: "
        f"{'met' if ratio >= 50 else 'NOT met'}).",
        "",
        f"**Packing**, {n['pack']} trials sleeping {SLEEP} s, {NUM_CPUS} at once "
        f"(ideal {pack['ideal']:.1f} s; {when['packing']}):",
        "",
        "| | wall time | over the ideal |",
        "| --- | ---: | ---: |",
        f"| hpo `RayExecutor` | {pack['hpo']:.2f} s | {pack_over:+.1%} |",
        f"| Ray Tune `Tuner` | {pack['tune']:.2f} s | {pack['tune'] / pack['ideal'] - 1:+.1%} |",
        "",
        f"Target: hpo within 10% of the ideal: {'met' if pack_over <= 0.10 else 'NOT met'}.",
        "",
        f"**Scale**, one study of {n['scale']} trivial trials (in memory, `random`), per "
        f"block of {BLOCK} ({when['scale']}):",
        "",
        "| block | ms per trial (Ray) | driver RSS (Ray) | ms per trial (serial) | RSS (serial) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for i in range(blocks):
        lines.append(
            f"| {(i + 1) * BLOCK} | {big['ray_seconds'][i] * 1e3:.2f} | "
            f"{big['ray_memory'][i + 1]:.0f} MB | {big['serial_seconds'][i] * 1e3:.2f} | "
            f"{big['serial_memory'][i + 1]:.0f} MB |"
        )
    lines += [
        "",
        f"Last block against the first: {last / first:.2f}x the time per trial "
        f"({first * 1e3:.2f} -> {last * 1e3:.2f} ms). The driver's memory grew "
        f"{grow:.0f} MB over {n['scale']} trials ({grow * 1024 / n['scale']:.1f} KB per "
        f"trial); the same study run serially, without Ray, grew {base:.0f} MB "
        f"({base * 1024 / n['scale']:.1f} KB per trial): what the in-memory storage and "
        "the searcher keep by design.",
    ]
    return "\n".join(lines) + "\n"


CACHE = Path(__file__).resolve().parent / ".cache" / "ray.json"
PARTS = ("overhead", "packing", "scale")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run; nothing written")
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="measure only this part (repeatable); the others come from the last full run "
        "(benchmarks/.cache/ray.json)",
    )
    args = parser.parse_args(argv)
    n = (
        {"overhead": 40, "pack": 64, "scale": 2 * BLOCK}
        if args.quick
        else {"overhead": N_OVERHEAD, "pack": N_PACK, "scale": N_SCALE}
    )
    parts = args.only or list(PARTS)
    cached: dict[str, Any] = {}
    if args.only:
        cached = json.loads(CACHE.read_text()) if CACHE.exists() else {}
        missing = [p for p in PARTS if p not in parts and p not in cached]
        if missing:
            parser.error(f"no earlier figures for {', '.join(missing)}: run them too")
    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    ray.init(num_cpus=NUM_CPUS, include_dashboard=False, log_to_driver=False)
    figures = dict(cached)
    measure = {
        "overhead": lambda: overhead(n["overhead"]),
        "packing": lambda: packing(n["pack"]),
        "scale": lambda: scale(n["scale"], BLOCK),
    }
    try:
        for part in PARTS:
            if part in parts:
                before = os.getloadavg()[0]
                figures[part] = measure[part]()
                figures[f"{part}_when"] = (
                    f"{time.strftime('%Y-%m-%d %H:%M')}, load average {before:.1f} -> "
                    f"{os.getloadavg()[0]:.1f}"
                )
                print(f"{part}: {figures[part]}", flush=True)
    finally:
        ray.shutdown()
    when = {part: figures.get(f"{part}_when", "") for part in PARTS}
    section = report(figures["overhead"], figures["packing"], figures["scale"], n, when)
    print(section)
    if not args.quick:
        CACHE.parent.mkdir(exist_ok=True)
        CACHE.write_text(json.dumps(figures, indent=1))
        write_section(HEADING, section)
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
