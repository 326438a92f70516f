"""The hpo server against Optuna's storages: throughput, latency at scale, replicas.

Run with ``make bench-server`` (or ``python benchmarks/server.py``); ``--quick`` runs
shorter. Three measurements, printed and written to ``benchmarks/RESULTS.md`` under
"## Server" (that section only is replaced):

* **Throughput.** Ask+tell round trips per second with 8 concurrent worker processes on
  one SQLite file, random search over the same three parameters, a trivial objective:
  hpo (a ``hpo server`` process; the searcher in the server, workers ask and tell over
  HTTP), Optuna's ``GrpcStorageProxy`` (a proxy server over the SQLite RDB storage; the
  sampler runs in each worker) and Optuna's RDB storage (every worker on the file). Each
  worker loads the study and runs one trial first; the clock starts when every worker is
  ready (a barrier) and runs for ``--seconds``. hpo's workers run trial after trial as a
  worker loop does: each round trip tells a trial and opens the next
  (``driver.finish_and_start``, ``POST .../tell-and-ask``); a second run sends the ask
  and the tell as two requests, for comparison (the ratios use the first).
* **Latency.** The median ask+tell round trip of one worker in a study that already holds
  1,000 trials, and one that holds 100,000 (filled in bulk through the storage's tables
  before their servers start; the first asks, which replay the study into the searcher,
  are not timed). The round trips alternate between the two studies, so both see the
  same load from whatever else runs on the machine.
* **Replicas.** The throughput of 8 workers through 1 server process, then through 2
  server processes (separate ports, workers split evenly) on one PostgreSQL database
  (``$HPO_BENCH_POSTGRES_URL``, default the local ``test`` database, a fresh schema):
  one study, as the target states it, and 4 studies (2 workers each), since the asks of
  one study take turns across replicas by design (one searcher; one durable commit per
  ask).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _results import RESULTS, write_section

HEADING = "## Server"
N_WORKERS = 8
SPAWN = mp.get_context("spawn")
REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "HPO_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _space() -> Any:
    import hpo

    return {
        "x": hpo.Float(-5.0, 5.0),
        "n": hpo.Int(1, 64, log=True),
        "kind": hpo.Categorical(["a", "b", "c"]),
    }


def _value(x: float, n: int, kind: str) -> float:
    return x * x + n + len(kind)


# --- workers (module level: spawned processes import them) ----------------------------------
def _hpo_worker(
    url: str, study: str, combined: bool, barrier: Any, seconds: float, out: Any
) -> None:
    """hpo's worker loop: with ``combined``, each round trip tells a trial and opens the
    next (``driver.finish_and_start``, what a worker that runs trial after trial sends);
    else an ask and a tell, two round trips per trial."""
    import hpo
    from hpo.objective import TrialOutcome
    from hpo.storage.http import HTTPStorage

    driver = hpo.load_study(study, HTTPStorage(url)).driver

    def outcome(params: dict[str, Any]) -> TrialOutcome:
        return TrialOutcome(
            hpo.TrialState.COMPLETE, _value(params["x"], params["n"], params["kind"])
        )

    if not combined:

        def one() -> None:
            spec = driver.start_trial()
            driver.finish_trial(spec.number, outcome(spec.params))

        one()
        _timed_loop(one, barrier, seconds, out)
        return
    current = [driver.start_trial()]

    def tell_and_ask() -> None:
        spec = current[0]
        _, following = driver.finish_and_start(spec.number, outcome(spec.params))
        assert following is not None  # random search never runs out
        current[0] = following

    tell_and_ask()
    _timed_loop(tell_and_ask, barrier, seconds, out)
    last = current[0]  # opened by the last round trip: finished, not counted
    driver.finish_trial(last.number, outcome(last.params))


def _optuna_objective(trial: Any) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    n = trial.suggest_int("n", 1, 64, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    return _value(x, n, kind)


def _optuna_worker(
    kind: str, target: str, study: str, barrier: Any, seconds: float, out: Any
) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if kind == "grpc":
        from optuna.storages import GrpcStorageProxy

        host, port = target.rsplit(":", 1)
        storage: Any = GrpcStorageProxy(host=host, port=int(port))
    else:
        storage = target
    s = optuna.load_study(
        study_name=study, storage=storage, sampler=optuna.samplers.RandomSampler()
    )

    def one() -> None:
        trial = s.ask()
        s.tell(trial, _optuna_objective(trial))

    one()
    _timed_loop(one, barrier, seconds, out)


def _timed_loop(one: Callable[[], None], barrier: Any, seconds: float, out: Any) -> None:
    barrier.wait(timeout=600)
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < seconds:
        one()
        n += 1
    out.put((n, time.perf_counter() - t0))


def _run_workers(
    target: Callable[..., None], args_per_worker: list[tuple[Any, ...]], seconds: float
) -> float:
    """Start the workers, wait until all are warm, time ``seconds``; trials per second."""
    barrier = SPAWN.Barrier(len(args_per_worker))
    out = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=target, args=(*a, barrier, seconds, out)) for a in args_per_worker
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(60)
    return sum(n for n, _ in results) / max(t for _, t in results)


# --- servers ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def hpo_server(storage: str, *args: str) -> Iterator[str]:
    """A ``hpo server`` process on a free port; yields its URL."""
    import httpx

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hpo",
            "server",
            "--storage",
            storage,
            "--port",
            str(port),
            "--log-level",
            "warning",
            *args,
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.DEVNULL,
    )

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"hpo server exited with {proc.returncode}")
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait(ready, "the hpo server")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _grpc_proxy_main(rdb_url: str, port: int) -> None:
    import optuna
    from optuna.storages import RDBStorage, run_grpc_proxy_server

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_grpc_proxy_server(RDBStorage(rdb_url), host="127.0.0.1", port=port)


@contextlib.contextmanager
def grpc_proxy(rdb_url: str) -> Iterator[str]:
    port = _free_port()
    proc = SPAWN.Process(target=_grpc_proxy_main, args=(rdb_url, port), daemon=True)
    proc.start()

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        _wait(listening, "the gRPC proxy")
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.join(30)


# --- measurements --------------------------------------------------------------------------
def throughput_hpo(tmp: Path, seconds: float, *, combined: bool = True) -> float:
    import hpo

    url_db = f"sqlite:///{tmp / f'hpo-throughput-{combined}.db'}"
    with hpo_server(url_db) as url:
        hpo.create_study(space=_space(), searcher="random", storage=url, name="bench", seed=0)
        return _run_workers(_hpo_worker, [(url, "bench", combined)] * N_WORKERS, seconds)


def throughput_optuna(tmp: Path, seconds: float, kind: str) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rdb = f"sqlite:///{tmp / f'optuna-{kind}.db'}"
    optuna.create_study(study_name="bench", storage=rdb)
    if kind == "rdb":
        return _run_workers(_optuna_worker, [("rdb", rdb, "bench")] * N_WORKERS, seconds)
    with grpc_proxy(rdb) as target:
        return _run_workers(_optuna_worker, [("grpc", target, "bench")] * N_WORKERS, seconds)


def _fill(url: str, name: str, n: int) -> None:
    """A study holding ``n`` COMPLETE random trials, written in bulk to the tables."""
    import random

    import sqlalchemy as sa

    import hpo
    from hpo.storage._schema import studies, trials
    from hpo.storage.sql import SQLStorage

    rng = random.Random(0)
    t0 = datetime.now(UTC) - timedelta(days=1)
    with SQLStorage(url) as storage:
        record = storage.create_study(
            name, direction="minimize", space=hpo.Space(_space()), searcher="random", seed=0
        )
        with storage.engine.begin() as conn:
            for start in range(0, n, 10_000):
                rows = []
                for i in range(start, min(n, start + 10_000)):
                    x, k = rng.uniform(-5, 5), rng.randint(1, 64)
                    kind = rng.choice("abc")
                    rows.append(
                        {
                            "study_id": record.study_id,
                            "number": i,
                            "state": "COMPLETE",
                            "params": {"x": x, "n": k, "kind": kind},
                            "value": _value(x, k, kind),
                            "metrics": {},
                            "user_attrs": {},
                            "datetime_start": t0,
                            "datetime_complete": t0,
                            "seq": i + 1,
                            "searcher_info": {},
                        }
                    )
                conn.execute(sa.insert(trials), rows)
            conn.execute(
                sa.update(studies)
                .where(studies.c.id == record.study_id)
                .values(seq=n, n_trials=n, last_activity=t0)
            )


def latency(tmp: Path, sizes: tuple[int, ...], rounds: int) -> list[float]:
    """Median ask+tell milliseconds of one worker in studies of each size, one server per
    study; the round trips alternate between the studies, so that every size sees the
    same machine load (other processes on a shared machine come and go)."""
    import hpo
    from hpo.objective import TrialOutcome
    from hpo.storage.http import HTTPStorage

    done = TrialOutcome(hpo.TrialState.COMPLETE, 1.0)
    with contextlib.ExitStack() as stack:
        drivers = []
        for n in sizes:
            url_db = f"sqlite:///{tmp / f'latency-{n}.db'}"
            _fill(url_db, "big", n)
            url = stack.enter_context(hpo_server(url_db))
            driver = hpo.load_study("big", HTTPStorage(url)).driver
            for _ in range(20):  # the first ask replays the study into the searcher
                driver.finish_trial(driver.start_trial().number, done)
            drivers.append(driver)
        samples: list[list[float]] = [[] for _ in sizes]
        for _ in range(rounds):
            for driver, out in zip(drivers, samples, strict=True):
                t0 = time.perf_counter()
                driver.finish_trial(driver.start_trial().number, done)
                out.append(time.perf_counter() - t0)
    return [statistics.median(s) * 1e3 for s in samples]


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL)
    schema = f"hpo_bench_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
        engine.dispose()


def replicas(n_servers: int, seconds: float, n_studies: int = 1) -> float:
    import hpo

    with postgres_schema() as url_db, contextlib.ExitStack() as stack:
        hpo.storage.get_storage(url_db).close()  # migrate once, before the servers start
        urls = [stack.enter_context(hpo_server(url_db)) for _ in range(n_servers)]
        names = [f"bench{i}" for i in range(n_studies)]
        for name in names:
            hpo.create_study(space=_space(), searcher="random", storage=urls[0], name=name)
        args = [(urls[i % n_servers], names[i % n_studies], True) for i in range(N_WORKERS)]
        return _run_workers(_hpo_worker, args, seconds)


# --- report ------------------------------------------------------------------------------------
def _machine() -> str:
    return (
        f"{platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per run")
    parser.add_argument("--large", type=int, default=100_000, help="trials in the large study")
    parser.add_argument("--rounds", type=int, default=400, help="timed round trips (latency)")
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.large, args.rounds = 5.0, 10_000, 100
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        ours = throughput_hpo(tmp, args.seconds)
        print(f"hpo server (tell-and-ask): {ours:.1f} trials/s", flush=True)
        separate = throughput_hpo(tmp, args.seconds, combined=False)
        print(f"hpo server (ask, then tell): {separate:.1f} trials/s", flush=True)
        proxy = throughput_optuna(tmp, args.seconds, "grpc")
        print(f"Optuna GrpcStorageProxy: {proxy:.1f} trials/s", flush=True)
        rdb = throughput_optuna(tmp, args.seconds, "rdb")
        print(f"Optuna RDBStorage: {rdb:.1f} trials/s", flush=True)
        small, large = latency(tmp, (1_000, args.large), args.rounds)
        print(f"latency at 1,000 trials: {small:.2f} ms", flush=True)
        print(f"latency at {args.large:,} trials: {large:.2f} ms", flush=True)
    one = replicas(1, args.seconds)
    print(f"PostgreSQL, 1 server process: {one:.1f} trials/s", flush=True)
    two = replicas(2, args.seconds)
    print(f"PostgreSQL, 2 server processes: {two:.1f} trials/s", flush=True)
    one_many = replicas(1, args.seconds, n_studies=4)
    print(f"PostgreSQL, 4 studies, 1 server process: {one_many:.1f} trials/s", flush=True)
    two_many = replicas(2, args.seconds, n_studies=4)
    print(f"PostgreSQL, 4 studies, 2 server processes: {two_many:.1f} trials/s", flush=True)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    section = "\n".join(
        [
            HEADING,
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {_machine()}",
            f"- Workload: {N_WORKERS} worker processes, ask+tell round trips, random search over "
            "3 parameters (float, log-int, categorical), trivial objective; clock started once "
            f"every worker has loaded the study and run one trial; {args.seconds:g} s per run",
            "- Command: `make bench-server` (`python benchmarks/server.py`)",
            "",
            "| 8 workers on one SQLite file | trials/s | hpo's ratio |",
            "|---|---:|---:|",
            f"| hpo server (searcher in the server; one tell-and-ask round trip per trial) "
            f"| {ours:.1f} | |",
            f"| hpo server, ask and tell as two round trips | {separate:.1f} | |",
            f"| Optuna GrpcStorageProxy (sampler in each worker) | {proxy:.1f} | "
            f"{ours / proxy:.1f}x |",
            f"| Optuna RDBStorage | {rdb:.1f} | {ours / rdb:.1f}x |",
            "",
            f"Target >= 20x both: {verdict(ours >= 20 * proxy and ours >= 20 * rdb)}.",
            "",
            "| median ask+tell, one worker | ms |",
            "|---|---:|",
            f"| study of 1,000 trials | {small:.2f} |",
            f"| study of {args.large:,} trials | {large:.2f} |",
            f"| ratio | {large / small:.2f} |",
            "",
            f"Target <= 1.5: {verdict(large / small <= 1.5)}.",
            "",
            "| PostgreSQL, 8 workers | one study, trials/s | 4 studies, trials/s |",
            "|---|---:|---:|",
            f"| 1 server process | {one:.1f} | {one_many:.1f} |",
            f"| 2 server processes (replicas) | {two:.1f} | {two_many:.1f} |",
            f"| ratio | {two / one:.2f} | {two_many / one_many:.2f} |",
            "",
            f"Target >= 1.5 (one study): {verdict(two / one >= 1.5)}. The asks of one study "
            "take turns across replicas (one searcher, one durable commit per ask), so one "
            "study's rate is bounded whatever the number of processes; with several "
            f"studies, replicas add what the machine's {os.cpu_count()} CPUs leave them "
            "(the servers, PostgreSQL and the 8 workers share them).",
        ]
    )
    print("\n" + section)
    if not args.no_write and not args.quick:
        write_section(HEADING, section)
        print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
