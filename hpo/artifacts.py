"""Checkpoint storage for trials, addressed by URI so that any worker can reach it.

A store keeps **one latest checkpoint per trial**, addressed by ``(study name, trial
number)``: each save replaces the trial's previous checkpoint (atomically), so old ones
never pile up; a trial without a checkpoint of its own may continue from its parent's
(population-based training). :func:`get_artifact_store` turns the location a trial spec
carries into a store, by the location's scheme:

=====================================  ====================================================
``/path/to/dir`` or ``relative/dir``   a directory of this machine (:class:`LocalArtifactStore`)
``file:///mnt/shared/hpo``             a directory that every node mounts at that path
``s3://bucket/prefix``                 S3 or an S3-compatible service (:class:`S3ArtifactStore`)
anything registered                    :func:`register_artifact_scheme` (the hpo server's
                                       ``http://`` / ``https://`` artifact endpoint)
=====================================  ====================================================

A plain path and a ``file://`` URI name the same directory; the URI also says it is
*shared* (:attr:`ArtifactStore.shared`), which the Ray executor takes as leave to let
trials on other nodes write there directly (otherwise their checkpoints travel through the
driver).

>>> store = get_artifact_store("s3://models/hpo?endpoint_url=http://minio:9000")  # doctest: +SKIP
>>> store.save("svm", 3, {"epoch": 2})                                          # doctest: +SKIP
>>> get_artifact_store(store.location).load("svm", 3)  # any node, same store  # doctest: +SKIP
{'epoch': 2}

Checkpoints are pickled: load them only from storage you trust.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import re
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

__all__ = [
    "DEFAULT_ROOT",
    "DEFAULT_ROOT_ENV",
    "S3_ENDPOINT_ENV",
    "ArtifactStore",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "artifact_schemes",
    "get_artifact_store",
    "register_artifact_scheme",
]

DEFAULT_ROOT_ENV = "HPO_ARTIFACTS"
DEFAULT_ROOT = "hpo-artifacts"
#: the S3 endpoint for ``s3://`` stores without ``?endpoint_url=`` (then boto3's own
#: ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, then AWS)
S3_ENDPOINT_ENV = "HPO_S3_ENDPOINT_URL"
_CHECKPOINT = "checkpoint.pkl"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")

#: builds the store for a location of one scheme (or ``"module:attr"`` naming one)
StoreFactory = Callable[[str], "ArtifactStore"]


class ArtifactStore(ABC):
    """Where trials keep their latest checkpoint and any files they write."""

    @property
    @abstractmethod
    def location(self) -> str:
        """The location :func:`get_artifact_store` turns back into this store, on any
        machine that can reach it (an absolute path for a local directory)."""

    @property
    def shared(self) -> bool:
        """Whether every node of a cluster reaches this store (remote stores, ``file://``
        directories); ``False`` for a directory of this machine."""
        return True

    @abstractmethod
    def trial_dir(self, study: str, number: int) -> Path:
        """A local directory for the trial's own files (created on demand)."""

    @abstractmethod
    def exists(self, study: str, number: int) -> bool:
        """Whether the trial has a checkpoint."""

    @abstractmethod
    def save_bytes(self, study: str, number: int, data: bytes) -> None:
        """Keep ``data`` (an already pickled object) as the trial's latest checkpoint."""

    @abstractmethod
    def load_bytes(self, study: str, number: int) -> bytes:
        """The trial's latest checkpoint as stored (``FileNotFoundError`` if none)."""

    @abstractmethod
    def delete(self, study: str, number: int) -> None:
        """Remove the trial's checkpoint and files (no error if there are none)."""

    def save(self, study: str, number: int, obj: Any) -> None:
        """Keep ``obj`` as the trial's latest checkpoint, replacing the previous one."""
        self.save_bytes(study, number, pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))

    def load(self, study: str, number: int) -> Any:
        """The trial's latest checkpoint (``FileNotFoundError`` if none)."""
        return pickle.loads(self.load_bytes(study, number))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


# --- locations and schemes -----------------------------------------------------------------
_SCHEMES: dict[str, StoreFactory | str] = {}
_SCHEMES_LOCK = threading.Lock()


def register_artifact_scheme(scheme: str, factory: StoreFactory | str) -> None:
    """Make :func:`get_artifact_store` build locations ``scheme://...`` with ``factory``
    (called with the whole location), replacing any earlier registration.

    ``factory`` may be ``"package.module:attr"``, imported on first use: a worker process
    that never imported the module still resolves the scheme, which is what remote
    workers need.

    >>> register_artifact_scheme("http", "hpo.remote:artifact_store")   # doctest: +SKIP
    """
    name = scheme.lower().rstrip(":/")
    if not re.fullmatch(r"[a-z][a-z0-9+.-]+", name):
        raise ValueError(
            f"an artifact scheme is a URI scheme of two or more characters (e.g. 's3'), "
            f"got {scheme!r}"
        )
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise TypeError(
            f"factory must be a callable (location -> ArtifactStore) or 'module:attr', "
            f"got {factory!r}"
        )
    with _SCHEMES_LOCK:
        _SCHEMES[name] = factory


def artifact_schemes() -> list[str]:
    """The URI schemes :func:`get_artifact_store` understands (besides plain paths)."""
    with _SCHEMES_LOCK:
        return sorted(_SCHEMES)


def _scheme(location: str) -> str:
    """The URI scheme of ``location``, or ``""`` for a plain path (``C:\\x`` included)."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]+)://", location)
    return match.group(1).lower() if match else ""


def get_artifact_store(location: str | os.PathLike[str] | None = None) -> ArtifactStore:
    """The store at ``location`` (default ``$HPO_ARTIFACTS``, else ``./hpo-artifacts``):
    a directory path, a ``file://``, ``s3://`` or registered URI.

    >>> get_artifact_store("/tmp/ckpt").location
    '/tmp/ckpt'
    """
    if location is None:
        location = os.environ.get(DEFAULT_ROOT_ENV) or DEFAULT_ROOT
    text = os.fspath(location)
    scheme = _scheme(text)
    if not scheme:
        return LocalArtifactStore(text)
    with _SCHEMES_LOCK:
        factory = _SCHEMES.get(scheme)
    if factory is None:
        raise ValueError(
            f"no artifact store for {scheme}:// locations ({text!r}); known: plain paths, "
            f"{', '.join(s + '://' for s in artifact_schemes())}. Register one with "
            "hpo.artifacts.register_artifact_scheme(scheme, factory)"
        )
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
        assert callable(factory)
    store = factory(text)
    if not isinstance(store, ArtifactStore):
        raise TypeError(f"the {scheme}:// factory returned {store!r}, not an ArtifactStore")
    return store


def _store_path(study: str, number: int) -> str:
    return f"{_SAFE.sub('_', study)}/{int(number)}"


# --- a directory ---------------------------------------------------------------------------
class LocalArtifactStore(ArtifactStore):
    """Keeps each trial's latest checkpoint under ``root/<study>/<trial number>/``.

    ``root`` defaults to ``$HPO_ARTIFACTS`` or ``./hpo-artifacts``. Writes are atomic
    (temporary file then rename), so a crash never leaves a half-written checkpoint.
    ``shared=True`` (what a ``file://`` location gives) says every node mounts ``root``
    at the same path.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *, shared: bool = False) -> None:
        self.root = Path(root or os.environ.get(DEFAULT_ROOT_ENV, DEFAULT_ROOT))
        self._shared = shared

    @classmethod
    def from_uri(cls, location: str) -> LocalArtifactStore:
        """The store of a ``file:///absolute/path`` location (shared)."""
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"a file:// artifact location names a path of this machine "
                f"(file:///mnt/shared/hpo), got host {parts.netloc!r} in {location!r}"
            )
        if not parts.path.startswith("/"):
            raise ValueError(f"a file:// artifact location needs an absolute path: {location!r}")
        return cls(unquote(parts.path), shared=True)

    @property
    def location(self) -> str:
        root = self.root.resolve()
        return root.as_uri() if self._shared else str(root)

    @property
    def shared(self) -> bool:
        return self._shared

    def trial_dir(self, study: str, number: int) -> Path:
        path = self.root / _store_path(study, number)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def exists(self, study: str, number: int) -> bool:
        return self._path(study, number).is_file()

    def save(self, study: str, number: int, obj: Any) -> None:
        self._write(study, number, lambda fh: pickle.dump(obj, fh, pickle.HIGHEST_PROTOCOL))

    def save_bytes(self, study: str, number: int, data: bytes) -> None:
        self._write(study, number, lambda fh: fh.write(data))

    def _write(self, study: str, number: int, write: Callable[[IO[bytes]], object]) -> None:
        directory = self.trial_dir(study, number)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ckpt-")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            os.replace(tmp, directory / _CHECKPOINT)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _path(self, study: str, number: int) -> Path:
        return self.root / _store_path(study, number) / _CHECKPOINT

    def load(self, study: str, number: int) -> Any:
        with self._path(study, number).open("rb") as fh:
            return pickle.load(fh)

    def load_bytes(self, study: str, number: int) -> bytes:
        return self._path(study, number).read_bytes()

    def delete(self, study: str, number: int) -> None:
        shutil.rmtree(self.root / _store_path(study, number), ignore_errors=True)


# --- S3 and S3-compatible services ---------------------------------------------------------
_CLIENTS: dict[tuple[str | None, str | None], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _s3_client(endpoint_url: str | None, region: str | None) -> Any:
    """One boto3 client per (endpoint, region) and process (clients are thread-safe and
    take tens of milliseconds to build)."""
    key = (endpoint_url, region)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            try:
                import boto3
            except ImportError as exc:  # pragma: no cover - boto3 is in hpo[s3]
                raise ImportError(
                    "s3:// artifact stores need boto3; install it with pip install 'hpo[s3]'"
                ) from exc
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, region_name=region
            )
            _CLIENTS[key] = client
        return client


class S3ArtifactStore(ArtifactStore):
    """Keeps each trial's latest checkpoint as the object
    ``s3://bucket/prefix/<study>/<trial number>/checkpoint.pkl``, through boto3.

    The location is ``s3://bucket[/prefix][?endpoint_url=URL&region=NAME]``. Without
    ``endpoint_url`` the endpoint is ``$HPO_S3_ENDPOINT_URL``, else boto3's own
    (``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, else AWS), so MinIO, Ceph, R2 or a
    local moto server work as S3 does. Credentials come from boto3's usual chain
    (environment, config files, instance roles); they never appear in the location. A
    save is one PUT (multipart for large checkpoints), which S3 makes visible atomically.
    :meth:`trial_dir` is a local scratch directory: files the objective writes there stay
    on its node; only checkpoints travel.
    """

    def __init__(self, location: str) -> None:
        parts = urlsplit(location)
        if parts.scheme.lower() != "s3" or not parts.netloc:
            raise ValueError(f"an S3 location looks like s3://bucket/prefix, got {location!r}")
        options = dict(parse_qsl(parts.query))
        unknown = sorted(set(options) - {"endpoint_url", "region"})
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(unknown)} in {location!r}; an S3 location "
                "takes endpoint_url and region"
            )
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.endpoint_url = options.get("endpoint_url") or os.environ.get(S3_ENDPOINT_ENV) or None
        self.region = options.get("region") or None

    @property
    def location(self) -> str:
        path = f"/{self.prefix}" if self.prefix else ""
        query = {
            k: v for k, v in (("endpoint_url", self.endpoint_url), ("region", self.region)) if v
        }
        return f"s3://{self.bucket}{path}" + (f"?{urlencode(query)}" if query else "")

    @property
    def client(self) -> Any:
        return _s3_client(self.endpoint_url, self.region)

    def _key(self, study: str, number: int, name: str = _CHECKPOINT) -> str:
        base = _store_path(study, number)
        return f"{self.prefix}/{base}/{name}" if self.prefix else f"{base}/{name}"

    def trial_dir(self, study: str, number: int) -> Path:
        scratch = Path(tempfile.gettempdir()) / "hpo-artifacts-s3" / _SAFE.sub("_", self.bucket)
        path = scratch / (self.prefix or "_") / _store_path(study, number)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def _missing(exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def exists(self, study: str, number: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(study, number))
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def save_bytes(self, study: str, number: int, data: bytes) -> None:
        self.client.upload_fileobj(io.BytesIO(data), self.bucket, self._key(study, number))

    def load_bytes(self, study: str, number: int) -> bytes:
        from botocore.exceptions import ClientError

        key = self._key(study, number)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if self._missing(exc):
                raise FileNotFoundError(f"no checkpoint at s3://{self.bucket}/{key}") from None
            raise
        with body:
            data: bytes = body.read()
        return data

    def delete(self, study: str, number: int) -> None:
        prefix = self._key(study, number, "")
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        shutil.rmtree(self.trial_dir(study, number), ignore_errors=True)


register_artifact_scheme("file", LocalArtifactStore.from_uri)
register_artifact_scheme("s3", S3ArtifactStore)
# the hpo server's artifact endpoint (imported on first use: httpx stays unloaded until then)
register_artifact_scheme("http", "hpo.storage.http:HTTPArtifactStore")
register_artifact_scheme("https", "hpo.storage.http:HTTPArtifactStore")
