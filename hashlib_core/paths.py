"""Where data and caches live, and atomic file writes.

* ``data_root()``  -- ``$HASHLIB_DATA`` if set, else ``<repo>/data``. Holds ``cifar10.npz`` (or
  torchvision's ``cifar-10-batches-py/``), ``nuswide_21/`` and ``coco/`` list files.
* ``cache_root()`` -- ``$HASHLIB_CACHE`` if set, else ``<repo>/.cache/hashlib``. Holds saved splits
  (``splits/``) and, elsewhere in the package, the run cache.
* ``repo_root()``  -- the folder that contains the ``hashlib_core`` package.

Importing this module creates nothing on disk; folders are created only when something is written.

``atomic_path`` / ``atomic_write_bytes`` write to a temporary file in the destination's folder and
``os.replace`` it onto the destination, so a reader sees either the old file or the complete new one,
never a half-written file (also when the writer is killed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "repo_root",
    "data_root",
    "cache_root",
    "splits_dir",
    "atomic_path",
    "atomic_dir",
    "atomic_write_bytes",
    "atomic_write_text",
]

ENV_DATA = "HASHLIB_DATA"
ENV_CACHE = "HASHLIB_CACHE"


def repo_root() -> Path:
    """The repository root: the parent of the ``hashlib_core`` package folder."""
    return Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """``$HASHLIB_DATA`` if set (and non-empty), else ``<repo>/data``. Not created."""
    env = os.environ.get(ENV_DATA, "").strip()
    if env:
        return Path(env).expanduser()
    return repo_root() / "data"


def cache_root() -> Path:
    """``$HASHLIB_CACHE`` if set (and non-empty), else ``<repo>/.cache/hashlib``. Not created."""
    env = os.environ.get(ENV_CACHE, "").strip()
    if env:
        return Path(env).expanduser()
    return repo_root() / ".cache" / "hashlib"


def splits_dir() -> Path:
    """Default folder of saved protocol splits: ``<cache_root>/splits``. Not created."""
    return cache_root() / "splits"


@contextlib.contextmanager
def atomic_path(path: PathLike, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on normal exit move it onto ``path`` atomically.

    The temporary file lives in the same folder (so ``os.replace`` is atomic on POSIX and Windows)
    and keeps ``path``'s suffix (so ``numpy.savez`` and friends do not append another one). If the
    ``with`` block raises, the temporary file is removed and ``path`` is left untouched. The parent
    folder is created if needed.

    >>> with atomic_path("out/result.npz") as tmp:          # doctest: +SKIP
    ...     numpy.savez(tmp, a=a)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=str(path.parent), prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    with contextlib.suppress(OSError):  # mkstemp makes 0600 files; use ordinary permissions
        os.chmod(tmp, 0o644)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"atomic_path: nothing was written to the temporary file {tmp}")
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``path``; on normal exit it replaces ``path`` (an
    existing folder there is removed first), so a present folder is always a complete one. If the
    ``with`` block raises, the temporary folder is removed and ``path`` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: PathLike, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + ``os.replace``)."""
    path = Path(path)
    with atomic_path(path, fsync=False) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
    return path


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Text variant of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode(encoding))
