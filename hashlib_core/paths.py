"""Where data and caches live, and atomic file writes.

* ``data_root()``  -- ``$HASHLIB_DATA`` if set, else ``<repo>/data``. Holds ``cifar10.npz`` (or
  torchvision's ``cifar-10-batches-py/``), ``nuswide_21/`` and ``coco/`` list files.
* ``cache_root()`` -- ``$HASHLIB_CACHE`` if set, else ``<repo>/.cache/hashlib``. Holds saved splits
  (``splits/``) and, elsewhere in the package, the run cache.
* ``run_archive()`` -- ``$HASHLIB_RUN_ARCHIVE`` if set (empty: none), else ``<repo>/runs``: the
  committed results of the runs behind ``figures/`` (read-only; :mod:`hashlib_core.runner`).
* ``repo_root()``  -- the folder that contains the ``hashlib_core`` package.

Importing this module creates nothing on disk; folders are created only when something is written.

``atomic_path`` / ``atomic_write_bytes`` write to a temporary file in the destination's folder and
``os.replace`` it onto the destination, so a reader sees either the old file or the complete new one,
never a half-written file (also when the writer is killed). Temporary names carry the writer's pid
and a random part (``.<name>.<pid>.<random>.tmp<suffix>``, ``.tmp-<pid>-<random>/``), so concurrent
writers never share one, and :func:`remove_stale_temps` can tell a dead writer's litter from a live
writer's work. A write that fails because the disk is full or the folder is read-only raises
:class:`OutputWriteError` naming the destination.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "repo_root",
    "data_root",
    "cache_root",
    "run_archive",
    "splits_dir",
    "atomic_path",
    "atomic_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "OutputWriteError",
    "unwritable",
    "remove_stale_temps",
    "pid_alive",
]

log = logging.getLogger(__name__)

#: errno values that mean "this output cannot be written here" (not a bug in the caller)
_UNWRITABLE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


class OutputWriteError(OSError):
    """A file or folder could not be written (disk full, read-only, no permission); the message
    names the path and what to do."""

    def __str__(self) -> str:  # the message alone, without "[Errno 28]"
        return self.strerror or super().__str__()


def unwritable(err: BaseException, path: PathLike) -> OutputWriteError | None:
    """An :class:`OutputWriteError` naming ``path`` if ``err`` (or what it was raised from) is a
    disk-full / read-only / permission error, else None."""
    while err is not None:
        if isinstance(err, OutputWriteError):
            return err
        if isinstance(err, OSError) and err.errno in _UNWRITABLE:
            why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                   errno.EROFS: "the file system is read-only"}.get(err.errno, "permission denied")
            fix = ("free some space and rerun" if err.errno in (errno.ENOSPC, errno.EDQUOT) else
                   "make the folder writable, or point HASHLIB_CACHE / HASHLIB_FIGURES at a writable one")
            return OutputWriteError(err.errno, f"cannot write {path}: {why}; {fix}")
        err = err.__cause__ or err.__context__
    return None


def _temp_tag() -> str:
    return f"{os.getpid()}.{secrets.token_hex(4)}"

ENV_DATA = "HASHLIB_DATA"
ENV_CACHE = "HASHLIB_CACHE"
ENV_RUN_ARCHIVE = "HASHLIB_RUN_ARCHIVE"


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


def run_archive() -> Path | None:
    """The committed run archive: ``$HASHLIB_RUN_ARCHIVE`` if set (set and empty: no archive, so
    every run not in the cache is computed), else ``<repo>/runs``. Not created."""
    env = os.environ.get(ENV_RUN_ARCHIVE)
    if env is not None:
        return Path(env.strip()).expanduser() if env.strip() else None
    return repo_root() / "runs"


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.{os.getpid()}.",
                                        suffix=f".tmp{path.suffix}")
    except OSError as err:
        raise (unwritable(err, path) or err) from err
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
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        clear = unwritable(err, path) if isinstance(err, Exception) else None
        if clear is not None and clear is not err:
            raise clear from err
        raise


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder ``.tmp-<pid>-<random>`` next to ``path``; on normal exit it
    becomes ``path``, so a present folder is always a complete one.

    A folder already at ``path`` when the block started (one the caller found unusable) is
    replaced. One that *appeared* while the block ran (another process wrote the same entry) is
    kept and ours discarded: both are complete, and the rename race never fails. If the block
    raises, the temporary folder is removed and ``path`` is left untouched."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=path.parent))
    except OSError as err:
        raise (unwritable(err, path) or err) from err
    existed = path.exists()
    try:
        yield tmp
        if existed and path.exists():
            # move the old one aside atomically (a reader sees it, or nothing, never a mix)
            trash = path.parent / f".tmp-{os.getpid()}-trash-{secrets.token_hex(4)}"
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, trash)
                shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, path)
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not path.is_dir():
                raise
            # another writer renamed its complete folder into place first: keep that one
    except Exception as err:
        clear = unwritable(err, path)
        if clear is not None and clear is not err:
            raise clear from err
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` running on this machine?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# .tmp-<pid>-<random> (atomic_dir) and .<name>.<pid>.<random>.tmp<suffix> (atomic_path)
_TEMP_DIR = re.compile(r"^\.tmp-(?:(\d+)-)?")
_TEMP_FILE = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp(\.[^.]*)?$")


def remove_stale_temps(folder: PathLike, unnamed_age_s: float = 3600.0) -> list[Path]:
    """Remove the temporary files and folders a killed writer left in ``folder``; return them.

    A temporary name carries its writer's pid: it is stale when that process is gone. Names
    without a pid (written before pids were part of the name) are stale once nothing in them
    changed for ``unnamed_age_s``. Live writers' temporaries (and our own) are left alone."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return removed
    now = time.time()
    for entry in entries:
        m = _TEMP_DIR.match(entry.name) if entry.is_dir() else _TEMP_FILE.match(entry.name)
        if m is None:
            continue
        pid = m.group(1)
        if pid is not None:
            stale = int(pid) != os.getpid() and not pid_alive(int(pid))
        else:
            try:
                newest = max([entry.stat().st_mtime] + [p.stat().st_mtime for p in entry.rglob("*")])
            except OSError:
                continue
            stale = now - newest > unnamed_age_s
        if not stale:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        if not entry.exists():
            removed.append(entry)
    if removed:
        log.warning("removed %d stale temporary item(s) left by killed writers in %s", len(removed), folder)
    return removed


def atomic_write_bytes(path: PathLike, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + ``os.replace``)."""
    path = Path(path)
    with atomic_path(path, fsync=False) as tmp:
        with open(tmp, "wb") as fh:
            _write(fh, data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
    return path


def _write(fh, data: bytes) -> None:
    """The one place atomic writes hand bytes to the OS (a test makes it raise ENOSPC)."""
    fh.write(data)


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Text variant of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode(encoding))
