"""CIFAR-10 from either ``cifar10.npz`` or torchvision's ``cifar-10-batches-py/`` folder.

Both give the same 60,000 images in the same order: the official training batches
(``data_batch_1`` .. ``data_batch_5``, 50,000 images) followed by ``test_batch`` (10,000 images).

Both are verified before use: ``cifar10.npz`` against its known SHA-256 (:data:`NPZ_SHA256`; another
build of the file is accepted only when its SHA-256 is listed in ``$HASHLIB_CIFAR10_SHA256``),
torchvision's batches against the official md5 sums (torchvision checks them). A truncated or
corrupt file is one error naming the file and the fix.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..paths import data_root

__all__ = [
    "CIFAR10_CLASSES",
    "DatasetNotFoundError",
    "ImageArrays",
    "load_cifar10",
    "read_cifar10_batches",
    "cifar10_source",
    "CorruptDatasetError",
    "NPZ_SHA256",
    "verify_cifar10_npz",
]

CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]
NPZ_NAME = "cifar10.npz"
TV_FOLDER = "cifar-10-batches-py"
TV_TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TV_TEST_FILE = "test_batch"
TV_META_FILE = "batches.meta"
N_TRAIN = 50_000
N_TEST = 10_000
#: SHA-256 of the lossless cifar10.npz this project is run on (x_train/y_train/x_test/y_test/
#: class_names in the official batch order), computed with ``sha256sum`` from the file itself
NPZ_SHA256 = "9bde78cbdab1c9f4589b2b6239091a87786d3adebd13ee3550ff81bdf2e38ca1"
#: extra accepted SHA-256 values of cifar10.npz (comma-separated), for a deliberately other build
ENV_NPZ_SHA256 = "HASHLIB_CIFAR10_SHA256"


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is not where the package looks for it; the message says how to get it."""


class CorruptDatasetError(ValueError):
    """A dataset file is there but is not the expected data (truncated, corrupt, another build)."""


def _accepted_npz_sha256() -> set[str]:
    extra = {h.strip().lower() for h in os.environ.get(ENV_NPZ_SHA256, "").split(",") if h.strip()}
    return {NPZ_SHA256} | extra


def _npz_fix(path: Path) -> str:
    return (f"replace it with the published cifar10.npz (sha256 {NPZ_SHA256}), or delete it and use "
            f"torchvision's {TV_FOLDER}/ in {path.parent} (torchvision.datasets.CIFAR10(root, download=True) "
            f"fetches and md5-checks it); a deliberately different build is accepted when its sha256 is "
            f"listed in ${ENV_NPZ_SHA256}")


def verify_cifar10_npz(path: Union[str, os.PathLike]) -> str:
    """The SHA-256 of ``path`` if it is an accepted cifar10.npz, else :class:`CorruptDatasetError`
    naming the file and the fix."""
    path = Path(path)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if digest not in _accepted_npz_sha256():
        raise CorruptDatasetError(
            f"{path} is not the expected CIFAR-10 file (sha256 {digest}, {path.stat().st_size:,} bytes): "
            f"truncated, corrupt or another build. Fix: {_npz_fix(path)}.")
    return digest


@dataclass(frozen=True, eq=False)
class ImageArrays:
    """Images held in memory.

    images: uint8 (N, H, W, 3), HWC, RGB.  labels: int64 (N,) class ids (or uint8 (N, C) multi-hot).
    For :func:`load_cifar10` the arrays are read-only (they are shared by an in-process cache);
    copy them before modifying.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list = field(default_factory=list)
    # Number of leading images that come from the official training set (CIFAR-10: 50,000).
    n_train: Optional[int] = None
    # SHA-256 of the images' bytes (what split checksums cover); computed on load
    images_sha256: str = ""

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def multi_label(self) -> bool:
        return self.labels.ndim == 2

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])


def _missing_message(root: Path) -> str:
    return (
        f"CIFAR-10 not found in {root} (looked for {root / NPZ_NAME} and {root / TV_FOLDER}/). "
        f"Get it one of two ways: (1) put {NPZ_NAME} (arrays x_train, y_train, x_test, y_test, "
        f"class_names) in that folder, or point the HASHLIB_DATA environment variable at the folder "
        f"that holds it; or (2) download it (needs internet) with "
        f"hashlib_core.data.load_cifar10(root, download=True), equivalently "
        f"torchvision.datasets.CIFAR10(root, download=True), which creates {root / TV_FOLDER}/."
    )


def cifar10_source(root: Union[str, os.PathLike, None] = None, source: str = "auto") -> tuple[str, Path]:
    """Resolve which CIFAR-10 source ``load_cifar10`` would read: ``("npz"|"torchvision", path)``.

    Raises :class:`DatasetNotFoundError` when the requested source is absent.
    """
    root = Path(root) if root is not None else data_root()
    if source not in ("auto", "npz", "torchvision"):
        raise ValueError(f"source must be 'auto', 'npz' or 'torchvision', not {source!r}")
    npz = root / NPZ_NAME
    tv = root / TV_FOLDER
    if source in ("auto", "npz") and npz.is_file():
        return "npz", npz
    if source in ("auto", "torchvision") and (tv / TV_TEST_FILE).is_file():
        return "torchvision", tv
    raise DatasetNotFoundError(_missing_message(root))


def load_cifar10(
    root: Union[str, os.PathLike, None] = None, source: str = "auto", download: bool = False
) -> ImageArrays:
    """All 60,000 CIFAR-10 images: official train (50,000) then test (10,000).

    root:     folder holding ``cifar10.npz`` or ``cifar-10-batches-py/`` (default :func:`data_root`).
    source:   ``"auto"`` (npz if present, else the torchvision folder), ``"npz"`` or ``"torchvision"``.
    download: only with internet; when neither source is present, let torchvision download the
              python batches into ``root`` (``torchvision.datasets.CIFAR10(root, download=True)``).

    Returns an :class:`ImageArrays` with read-only uint8 (60000, 32, 32, 3) images, int64 labels and
    the class names. The result is cached in-process per resolved file (and its mtime/size), so
    repeated calls are free.
    """
    root = Path(root) if root is not None else data_root()
    try:
        kind, path = cifar10_source(root, source)
    except DatasetNotFoundError:
        if not download or source == "npz":
            raise
        import torchvision

        root.mkdir(parents=True, exist_ok=True)
        torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        torchvision.datasets.CIFAR10(str(root), train=False, download=True)
        kind, path = cifar10_source(root, "torchvision")
    stamp_file = path if kind == "npz" else path / TV_TEST_FILE
    st = stamp_file.stat()
    return _load_cached(kind, str(path.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _load_cached(kind: str, path: str, mtime_ns: int, size: int) -> ImageArrays:
    # once per process per file version (the cache key has its mtime and size)
    if kind == "npz":
        verify_cifar10_npz(path)
        arrays = _read_npz(Path(path))
    else:
        arrays = _read_torchvision(Path(path))
    images_sha256 = hashlib.sha256(np.ascontiguousarray(arrays.images).data).hexdigest()
    arrays = ImageArrays(images=arrays.images, labels=arrays.labels, class_names=arrays.class_names,
                         n_train=arrays.n_train, images_sha256=images_sha256)
    arrays.images.setflags(write=False)
    arrays.labels.setflags(write=False)
    return arrays


def _check(images: np.ndarray, labels: np.ndarray, what: str) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(f"{what}: expected uint8 (N, 32, 32, 3) images, got {images.dtype} {images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"{what}: labels shape {labels.shape} does not match {images.shape[0]} images")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{what}: labels outside 0..9")


def _read_npz(path: Path) -> ImageArrays:
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as d:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(d.files)
            if missing:
                raise CorruptDatasetError(f"{path}: missing arrays {sorted(missing)} (has {d.files}). "
                                          f"Fix: {_npz_fix(path)}.")
            x_train, x_test = d["x_train"], d["x_test"]
            y_train = d["y_train"].astype(np.int64).reshape(-1)
            y_test = d["y_test"].astype(np.int64).reshape(-1)
            names = [str(s) for s in d["class_names"]] if "class_names" in d.files else list(CIFAR10_CLASSES)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        if isinstance(err, CorruptDatasetError):
            raise
        raise CorruptDatasetError(f"{path} cannot be read as CIFAR-10 ({type(err).__name__}: {err}): "
                                  f"truncated or corrupt. Fix: {_npz_fix(path)}.") from err
    _check(x_train, y_train, f"{path} (train)")
    _check(x_test, y_test, f"{path} (test)")
    images = np.concatenate([x_train, x_test], axis=0)
    labels = np.concatenate([y_train, y_test], axis=0)
    return ImageArrays(images=images, labels=labels, class_names=names, n_train=len(x_train))


def _read_torchvision(folder: Path) -> ImageArrays:
    """Read through ``torchvision.datasets.CIFAR10`` (which verifies the files' md5 sums)."""
    import torchvision

    root = str(folder.parent)
    try:
        train = torchvision.datasets.CIFAR10(root, train=True, download=False)
        test = torchvision.datasets.CIFAR10(root, train=False, download=False)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
        raise RuntimeError(
            f"torchvision refused the CIFAR-10 batches in {folder}: {e}. The files are incomplete or "
            f"their md5 sums differ from the official ones; delete the folder and download again."
        ) from e
    x_train = np.ascontiguousarray(train.data, dtype=np.uint8)
    x_test = np.ascontiguousarray(test.data, dtype=np.uint8)
    y_train = np.asarray(train.targets, dtype=np.int64)
    y_test = np.asarray(test.targets, dtype=np.int64)
    _check(x_train, y_train, f"{folder} (train)")
    _check(x_test, y_test, f"{folder} (test)")
    return ImageArrays(
        images=np.concatenate([x_train, x_test]),
        labels=np.concatenate([y_train, y_test]),
        class_names=[str(c) for c in train.classes],
        n_train=len(x_train),
    )


def read_cifar10_batches(folder: Union[str, os.PathLike]) -> ImageArrays:
    """Read ``cifar-10-batches-py/`` directly (no md5 check), exactly as torchvision does.

    Each batch is a pickled dict with ``b"data"`` (N, 3072) uint8, each row a 3x32x32 image in
    row-major CHW order, and ``b"labels"``; ``batches.meta`` has ``b"label_names"``. Useful for
    checking a folder without torchvision's integrity check; ``load_cifar10`` itself goes through
    torchvision.
    """
    folder = Path(folder)

    def _unpickle(name: str) -> dict:
        with open(folder / name, "rb") as fh:
            d = pickle.load(fh, encoding="bytes")
        return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in d.items()}

    xs, ys = [], []
    for name in TV_TRAIN_FILES + [TV_TEST_FILE]:
        d = _unpickle(name)
        xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(d["labels"], dtype=np.int64))
    names = list(CIFAR10_CLASSES)
    if (folder / TV_META_FILE).is_file():
        meta = _unpickle(TV_META_FILE)
        names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in meta["label_names"]]
    images = np.ascontiguousarray(np.concatenate(xs))
    labels = np.concatenate(ys)
    _check(images, labels, str(folder))
    return ImageArrays(images=images, labels=labels, class_names=names, n_train=sum(len(x) for x in xs[:5]))


def ensure_cifar10(root: Union[str, os.PathLike, None] = None) -> str:
    """Make sure CIFAR-10 is in ``root``: use what is there, else download it through torchvision.

    What ``make test`` / ``make reproduce`` call first. On a machine without internet and without
    the data, the download fails and this raises :class:`DatasetNotFoundError` with the message
    naming both ways to get CIFAR-10 — before any other work starts.
    """
    root = Path(root) if root is not None else data_root()
    try:
        kind, path = cifar10_source(root)
    except DatasetNotFoundError:
        pass
    else:  # present is not enough: verified (sha256 of the npz, torchvision's md5 sums)
        load_cifar10(root)
        return f"CIFAR-10 found and verified: {path}"
    try:
        load_cifar10(root, download=True)
    except DatasetNotFoundError:
        raise
    except Exception as err:  # no internet, proxy, disk full ... one clear message instead
        raise DatasetNotFoundError(f"download failed ({type(err).__name__}: {err}). " + _missing_message(root)) from err
    return f"CIFAR-10 downloaded into {root}"

