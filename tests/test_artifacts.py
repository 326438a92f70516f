"""Artifact stores addressed by URI: a directory (plain path or ``file://``), S3 (against a
local moto server speaking the S3 protocol over HTTP), and schemes registered by others
(the hpo server's ``http://`` endpoint plugs in the same way)."""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import hpo
from hpo.artifacts import (
    ArtifactStore,
    LocalArtifactStore,
    S3ArtifactStore,
    artifact_schemes,
    get_artifact_store,
    register_artifact_scheme,
)

SPACE = {"x": hpo.Float(0.0, 1.0)}


# --- directories -------------------------------------------------------------------------
def test_a_plain_path_is_a_local_directory(tmp_path: Path) -> None:
    store = get_artifact_store(tmp_path / "a")
    assert isinstance(store, LocalArtifactStore) and not store.shared
    assert store.location == str((tmp_path / "a").resolve())
    store.save("svm/1", 3, {"w": [1, 2]})
    assert (tmp_path / "a" / "svm_1" / "3" / "checkpoint.pkl").is_file()
    assert get_artifact_store(store.location).load("svm/1", 3) == {"w": [1, 2]}


def test_a_file_uri_is_the_same_directory_declared_shared(tmp_path: Path) -> None:
    uri = (tmp_path / "shared").as_uri()
    store = get_artifact_store(uri)
    assert isinstance(store, LocalArtifactStore) and store.shared
    assert store.location == uri and get_artifact_store(store.location).shared
    store.save_bytes("s", 0, pickle.dumps("state"))
    assert LocalArtifactStore(tmp_path / "shared").load("s", 0) == "state"
    with pytest.raises(ValueError, match="path of this machine"):
        get_artifact_store("file://otherhost/mnt/x")


def test_the_default_location_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPO_ARTIFACTS", str(tmp_path / "env"))
    assert get_artifact_store().location == str((tmp_path / "env").resolve())
    monkeypatch.setenv("HPO_ARTIFACTS", "s3://bucket/prefix")
    assert isinstance(get_artifact_store(), S3ArtifactStore)


def test_an_unknown_scheme_names_the_known_ones() -> None:
    assert {"file", "s3"} <= set(artifact_schemes())
    with pytest.raises(ValueError, match=r"no artifact store for gopher://.*register_artifact"):
        get_artifact_store("gopher://host/x")


# --- a registered scheme -------------------------------------------------------------------
_BLOBS: dict[str, bytes] = {}
_BLOBS_LOCK = threading.Lock()


class MemoryStore(ArtifactStore):
    """A registered scheme's store, kept in this process (``mem://name``)."""

    def __init__(self, location: str) -> None:
        self._location = location

    @property
    def location(self) -> str:
        return self._location

    def _key(self, study: str, number: int) -> str:
        return f"{self._location}/{study}/{number}"

    def trial_dir(self, study: str, number: int) -> Path:
        raise NotImplementedError

    def exists(self, study: str, number: int) -> bool:
        return self._key(study, number) in _BLOBS

    def save_bytes(self, study: str, number: int, data: bytes) -> None:
        with _BLOBS_LOCK:
            _BLOBS[self._key(study, number)] = data

    def load_bytes(self, study: str, number: int) -> bytes:
        try:
            return _BLOBS[self._key(study, number)]
        except KeyError:
            raise FileNotFoundError(self._key(study, number)) from None

    def delete(self, study: str, number: int) -> None:
        _BLOBS.pop(self._key(study, number), None)


def memory_store(location: str) -> MemoryStore:
    return MemoryStore(location)


@pytest.mark.parametrize("factory", [MemoryStore, f"{__name__}:memory_store"])
def test_a_registered_scheme_serves_a_study_s_checkpoints(factory: Any) -> None:
    register_artifact_scheme("mem", factory)
    assert "mem" in artifact_schemes()

    @hpo.objective(space=SPACE, budget=hpo.Budget("epoch", 1, 4))
    def train(config: dict[str, Any], trial: hpo.Trial) -> float:
        state = trial.load_checkpoint()
        trial.save_checkpoint({"epoch": int(trial.budget or 4), "from": state})
        return config["x"]

    study = hpo.create_study(
        train,
        searcher="pbt",
        searcher_kwargs={"population_size": 2, "interval": 2},
        artifacts="mem://checkpoints",
        seed=0,
    )
    study.optimize(n_trials=4, progress=False)
    assert study.artifacts_root == "mem://checkpoints"
    store = get_artifact_store("mem://checkpoints")
    for t in study.trials:
        saved = store.load(study.name, t.number)
        assert saved["epoch"] == t.budget
        assert (saved["from"] is None) == (t.parent is None)  # children continued a parent


def test_registration_is_checked() -> None:
    with pytest.raises(ValueError, match="URI scheme"):
        register_artifact_scheme("x", MemoryStore)
    with pytest.raises(TypeError, match="module:attr"):
        register_artifact_scheme("mem2", "not a factory")

    def not_a_store(location: str) -> Any:
        return "not a store"

    register_artifact_scheme("bad", not_a_store)
    with pytest.raises(TypeError, match="not an ArtifactStore"):
        get_artifact_store("bad://x")


# --- S3 ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local moto server (S3 over HTTP) with a bucket ``hpo``; its endpoint URL."""
    pytest.importorskip("boto3", reason="S3 stores need boto3 (hpo[s3])")
    server_mod = pytest.importorskip("moto.server", reason="the S3 tests need moto[server]")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="hpo"
        )
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_s3_keeps_the_latest_checkpoint_of_each_trial(s3_endpoint: str) -> None:
    store = get_artifact_store(f"s3://hpo/runs/a?endpoint_url={s3_endpoint}")
    assert isinstance(store, S3ArtifactStore) and store.shared
    assert not store.exists("svm", 0)
    with pytest.raises(FileNotFoundError, match=r"s3://hpo/runs/a/svm/0/checkpoint\.pkl"):
        store.load("svm", 0)
    store.save("svm", 0, {"epoch": 1})
    store.save("svm", 0, {"epoch": 2})  # replaces
    store.save_bytes("svm", 1, pickle.dumps("raw"))
    assert store.exists("svm", 0) and store.load("svm", 0) == {"epoch": 2}
    assert pickle.loads(store.load_bytes("svm", 1)) == "raw"
    # the location carries the endpoint: any process rebuilds the same store from it
    again = get_artifact_store(store.location)
    assert again.load("svm", 0) == {"epoch": 2}
    (store.trial_dir("svm", 0) / "notes.txt").write_text("local scratch")
    store.delete("svm", 0)
    assert not store.exists("svm", 0) and store.exists("svm", 1)
    assert not (store.trial_dir("svm", 0) / "notes.txt").exists()


def test_s3_endpoint_and_options(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_S3_ENDPOINT_URL", s3_endpoint)
    store = get_artifact_store("s3://hpo")  # no prefix; the endpoint from the environment
    assert isinstance(store, S3ArtifactStore) and store.endpoint_url == s3_endpoint
    store.save("s", 7, 7)
    assert get_artifact_store(f"s3://hpo?endpoint_url={s3_endpoint}").load("s", 7) == 7
    assert store.location == f"s3://hpo?endpoint_url={quote(s3_endpoint, safe='')}"
    with pytest.raises(ValueError, match="unknown option"):
        get_artifact_store("s3://hpo/x?endpoint=http://y")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        S3ArtifactStore("s3:///no-bucket")


@hpo.objective(space=SPACE, budget=hpo.Budget("epoch", 1, 4))
def resumable(config: dict[str, Any], trial: hpo.Trial) -> float:
    """Module level: the process executor imports it in its workers."""
    state = trial.load_checkpoint()
    trial.save_checkpoint({"epoch": int(trial.budget or 4), "pid": os.getpid(), "from": state})
    return config["x"]


def test_a_study_keeps_checkpoints_in_s3_from_worker_processes(s3_endpoint: str) -> None:
    location = f"s3://hpo/studies?endpoint_url={s3_endpoint}"
    study = hpo.create_study(
        resumable,
        searcher="pbt",
        searcher_kwargs={"population_size": 2, "interval": 2},
        artifacts=location,
        seed=0,
    )
    assert study.artifacts_root == get_artifact_store(location).location
    study.optimize(n_trials=4, executor=hpo.ProcessExecutor(2), progress=False)
    store = get_artifact_store(location)
    for t in study.trials:
        saved = store.load(study.name, t.number)
        assert saved["pid"] != os.getpid()  # written by a worker process, straight to S3
        if t.parent is not None:
            assert saved["from"]["epoch"] == study.trials[t.parent].budget
