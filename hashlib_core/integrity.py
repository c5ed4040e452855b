"""Checksums of cache files: one ``SHA256SUMS`` per cache folder, written last, verified on load.

Every cache (run entries, trunk taps, shallow features) writes its files first and its checksum
file last, so a folder without a complete, matching ``SHA256SUMS`` -- a writer killed half-way, a
truncated, bit-flipped, edited or deleted file -- is never trusted. The format is the one
``sha256sum`` writes (``<hex>  <name>`` a line), so ``sha256sum -c SHA256SUMS`` checks a folder by
hand.

SHA-256 runs at about 0.6 s/GiB on this machine's CPU (measured, docs/decisions.md "Reliability
of the caches"), so the several-GiB trunk memmaps are verified in full, once per process per file:
:func:`verify_file` remembers a verified file by (path, size, mtime, inode, digest).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

__all__ = ["CHECKSUMS", "sha256_file", "write_checksums", "read_checksums", "verify_file", "verify_folder"]

CHECKSUMS = "SHA256SUMS"

_VERIFIED: set[tuple] = set()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path, digest: str) -> tuple:
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino, digest)


def write_checksums(folder: Path, names: Iterable[str]) -> None:
    """Write ``folder/SHA256SUMS`` covering ``names`` (call it after every other file is written)."""
    folder = Path(folder)
    lines = []
    for name in sorted(names):
        digest = sha256_file(folder / name)
        lines.append(f"{digest}  {name}\n")
    with open(folder / CHECKSUMS, "w") as fh:
        fh.write("".join(lines))
        fh.flush()
        os.fsync(fh.fileno())


def read_checksums(folder: Path) -> dict[str, str]:
    """``{name: hex digest}`` of ``folder/SHA256SUMS``; ValueError when missing or malformed."""
    try:
        text = (Path(folder) / CHECKSUMS).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"no readable {CHECKSUMS} ({type(err).__name__}: written last, so the "
                         f"writer did not finish)") from err
    sums = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"malformed {CHECKSUMS} line {line!r}")
        sums[name] = digest
    if not sums:
        raise ValueError(f"empty {CHECKSUMS}")
    return sums


def verify_file(path: Path, digest: str, *, remember: bool = False) -> None:
    """ValueError unless ``path`` hashes to ``digest``. With ``remember``, a file verified before in
    this process and unchanged since (size, mtime, inode) is not hashed again."""
    path = Path(path)
    try:
        stamp = _stamp(path, digest)
    except OSError as err:
        raise ValueError(f"{path.name} is missing ({type(err).__name__})") from err
    if remember and stamp in _VERIFIED:
        return
    if sha256_file(path) != digest:
        raise ValueError(f"{path.name} does not match its checksum (edited, truncated or corrupted)")
    if remember:
        _VERIFIED.add(stamp)


def verify_folder(folder: Path, required: Iterable[str], *, remember: bool = False) -> dict[str, str]:
    """Check every file named in ``folder/SHA256SUMS`` (which must name each of ``required``);
    return the sums. ValueError saying what is wrong."""
    folder = Path(folder)
    sums = read_checksums(folder)
    missing = sorted(set(required) - set(sums))
    if missing:
        raise ValueError(f"{CHECKSUMS} does not cover {missing}")
    for name, digest in sums.items():
        if "/" in name or name.startswith("."):
            raise ValueError(f"{CHECKSUMS} names an unexpected file {name!r}")
        verify_file(folder / name, digest, remember=remember)
    return sums
