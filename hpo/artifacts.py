"""Checkpoint storage for trials, behind a small interface so remote stores can follow.

A store keeps **one latest checkpoint per trial**, addressed by ``(study name, trial
number)``: each save replaces the trial's previous checkpoint (atomically), so old ones
never pile up; a trial without a checkpoint of its own may continue from its parent's
(population-based training). :func:`get_artifact_store` turns the location a trial spec
carries into a store; today that is a local directory (shared filesystems work as is),
and a remote store (the server's, object storage) plugs in here.

Checkpoints are pickled: load them only from storage you trust.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

DEFAULT_ROOT_ENV = "HPO_ARTIFACTS"
DEFAULT_ROOT = "hpo-artifacts"
_CHECKPOINT = "checkpoint.pkl"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class ArtifactStore(ABC):
    """Where trials keep their latest checkpoint and any files they write."""

    @abstractmethod
    def trial_dir(self, study: str, number: int) -> Path:
        """A local directory for the trial's own files (created on demand)."""

    @abstractmethod
    def exists(self, study: str, number: int) -> bool:
        """Whether the trial has a checkpoint."""

    @abstractmethod
    def save(self, study: str, number: int, obj: Any) -> None:
        """Keep ``obj`` as the trial's latest checkpoint, replacing the previous one."""

    @abstractmethod
    def load(self, study: str, number: int) -> Any:
        """The trial's latest checkpoint (``FileNotFoundError`` if none)."""

    @abstractmethod
    def delete(self, study: str, number: int) -> None:
        """Remove the trial's checkpoint and files (no error if there are none)."""

    @abstractmethod
    def save_bytes(self, study: str, number: int, data: bytes) -> None:
        """Keep ``data`` (an already pickled object) as the trial's latest checkpoint."""

    @abstractmethod
    def load_bytes(self, study: str, number: int) -> bytes:
        """The trial's latest checkpoint as stored (``FileNotFoundError`` if none)."""


def get_artifact_store(location: str | os.PathLike[str] | None = None) -> ArtifactStore:
    """The store at ``location``: a directory path (default ``$HPO_ARTIFACTS`` or
    ``./hpo-artifacts``)."""
    return LocalArtifactStore(location)


class LocalArtifactStore(ArtifactStore):
    """Keeps each trial's latest checkpoint under ``root/<study>/<trial number>/``.

    ``root`` defaults to ``$HPO_ARTIFACTS`` or ``./hpo-artifacts``. Writes are atomic
    (temporary file then rename), so a crash never leaves a half-written checkpoint.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root or os.environ.get(DEFAULT_ROOT_ENV, DEFAULT_ROOT))

    def trial_dir(self, study: str, number: int) -> Path:
        path = self.root / _SAFE.sub("_", study) / str(int(number))
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
        return self.root / _SAFE.sub("_", study) / str(int(number)) / _CHECKPOINT

    def load(self, study: str, number: int) -> Any:
        with self._path(study, number).open("rb") as fh:
            return pickle.load(fh)

    def load_bytes(self, study: str, number: int) -> bytes:
        return self._path(study, number).read_bytes()

    def delete(self, study: str, number: int) -> None:
        shutil.rmtree(self.root / _SAFE.sub("_", study) / str(int(number)), ignore_errors=True)
