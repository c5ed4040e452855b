"""Named, seeded evaluation protocols, saved with a checksum.

``get_protocol(name, seed=0, root=None, cache_dir=None, subset=None) -> Split``

| name              | source                          | query  | database | train  | map_topk |
| ----------------- | ------------------------------- | ------ | -------- | ------ | -------- |
| cifar10-dshfmdf   | paper 000 §4.1                  | 1,000  | 59,000   | 5,000 (⊂ db) | None |
| cifar10-dshc      | paper 004 §4.1                  | 10,000 | 50,000   | 50,000 (= db) | None |
| cifar10-selfsup   | paper 003 §IV                   | 5,000  | 5,000    | 20,000 (disjoint) | None |
| cifar10-mosaic    | NUS-WIDE-21 stand-in (000, 004) | 2,100  | 20,000   | 10,500 (⊂ db) | 5000 |
| nuswide21         | list files, DeepHash-pytorch    | test.txt | database.txt | train.txt or 10,500 ⊂ db | 5000 |
| mscoco            | list files, DeepHash-pytorch    | test.txt | database.txt | train.txt or 10,000 ⊂ db | 5000 |
| cifar10-mosaic-coco | MS-COCO stand-in (001 §3.1)   | 5,000  | 20,000   | 10,000 (⊂ db) | 5000 |
| nuswide-selfsup   | paper 003 §IV, NUS-WIDE list files pooled | 5,000 | 5,000 | 20,000 (disjoint) | None |
| imagenet-selfsup  | paper 003 §IV, ImageFolder tree | 5,000  | 5,000    | 20,000 (disjoint) | None |
| mosaic-selfsup    | NUS-WIDE stand-in (003 §IV)     | 5,000  | 5,000    | 20,000 (disjoint) | None |

Paper 003's draw (``cifar10-selfsup`` and the three below it) is :data:`SELFSUP_SIZES`: 30,000 images
drawn uniformly without replacement, 20,000 train / 5,000 database / 5,000 queries. On images a user
owns (``nuswide-selfsup``, ``imagenet-selfsup``) the images are read lazily from disk at
:data:`SELFSUP_IMAGE_SIZE` px (paper 003 §III's input side); too few images is one error before any
work, naming the folder and what is needed.

Splits are drawn with ``numpy.random.default_rng(seed)`` and saved (atomically) to
``<cache_dir>/<name>-seed<seed>[-sub-...].npz`` together with a sha256 checksum of the index arrays,
the name, the seed, the subset and a fingerprint of the source (labels / list files). On reload the
checksum is recomputed: a mismatch (a corrupted or edited file) raises :class:`SplitChecksumError`
naming the file; a file that is intact but was made for other inputs (other source fingerprint or
split version) is recomputed and overwritten with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Union

import numpy as np

from ..paths import atomic_path, data_root, splits_dir
from .cifar import DatasetNotFoundError, ImageArrays, load_cifar10
from .imagefolder import CLASS_LIST, scan_image_folder
from .listfile import load_list_file
from .coco import MSCOCO_SIZES
from .mosaic import (COCO_MOSAIC_K_PROBS, COCO_MOSAIC_SIZES, MOSAIC_K_PROBS, MOSAIC_SIZES, build_mosaic_table,
                     mosaic_labels)
from .sources import ArraySource, FileSource, ImageSource, MosaicSource

__all__ = [
    "SPLIT_VERSION",
    "SELFSUP_SIZES",
    "SELFSUP_IMAGE_SIZE",
    "PROTOCOLS",
    "Split",
    "SplitChecksumError",
    "get_protocol",
    "validation_split",
    "VALIDATION_SUFFIX",
    "list_protocols",
    "label_statistics",
    "split_checksum",
]

SPLIT_VERSION = 1
PARTS = ("query", "database", "train")
#: paper 003 §IV: "20,000 training and 10,000 evaluation images ... by uniform random sampling",
#: the evaluation images split into 5,000 database and 5,000 query images (every *-selfsup protocol)
SELFSUP_SIZES = {"train": 20_000, "database": 5_000, "query": 5_000}
#: the side (px) images on disk are read at for paper 003's protocols: §III's 128x128 input; the
#: input pipeline resizes them on to the profile's input size
SELFSUP_IMAGE_SIZE = 128
_SUBSET_STREAM = 0x5B5E7  # second entropy word of the subset generator: independent of the split's


class SplitChecksumError(ValueError):
    """A saved split does not match its checksum (corrupted or edited); delete it to recompute."""


# ---------------------------------------------------------------------------------------------
# The Split object
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Split:
    """A protocol instance. ``query`` / ``database`` / ``train`` are :class:`ImageSource` objects
    (``.images`` uint8 NHWC, ``.labels`` int64 ids or uint8 multi-hot, ``.indices`` into the
    source, ``.get_batch(positions, size)``)."""

    name: str
    seed: int
    multi_label: bool
    num_classes: int
    class_names: list
    query: ImageSource
    database: ImageSource
    train: ImageSource
    map_topk: Optional[int]
    checksum: str
    subset: Optional[dict] = None
    info: dict = field(default_factory=dict)
    path: Optional[Path] = None

    @property
    def parts(self) -> dict:
        return {"query": self.query, "database": self.database, "train": self.train}

    @property
    def image_size(self) -> Optional[int]:
        return self.database.image_size

    def index_arrays(self) -> dict:
        """The saved index arrays (what the checksum covers, with the metadata)."""
        return {p: np.asarray(s.indices) for p, s in self.parts.items()}

    def describe(self) -> dict:
        """Sizes and label statistics, JSON-serialisable."""
        d = {
            "name": self.name,
            "seed": self.seed,
            "multi_label": self.multi_label,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "map_topk": self.map_topk,
            "checksum": self.checksum,
            "subset": self.subset,
            "image_size": self.image_size,
            "sizes": {p: len(s) for p, s in self.parts.items()},
            "parts": {p: s.describe() for p, s in self.parts.items()},
            "protocol": dict(self.info),
        }
        stats = label_statistics(self)
        d["chance_precision"] = stats["chance_precision"]
        if self.multi_label:
            d["labels_per_image"] = stats["labels_per_image"]
        return d

    def __repr__(self) -> str:
        sizes = ", ".join(f"{p}={len(s)}" for p, s in self.parts.items())
        return f"Split({self.name!r}, seed={self.seed}, {sizes}, map_topk={self.map_topk}, checksum={self.checksum[:12]})"


# ---------------------------------------------------------------------------------------------
# Sources of items (contexts): how to build image sources and labels from the index arrays
# ---------------------------------------------------------------------------------------------


def _sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


class _CifarContext:
    def __init__(self, root):
        self.arrays: ImageArrays = load_cifar10(root)
        a = self.arrays
        self.class_names = list(a.class_names)
        self.num_classes = len(self.class_names)
        self.fingerprint = {
            "dataset": "cifar10",
            "n": int(len(a)),
            "n_train": int(a.n_train or 0),
            "labels_sha256": _sha256_bytes(np.ascontiguousarray(a.labels, dtype="<i8").tobytes()),
            # the images themselves, so a run cached on other images is not served (issue 12)
            "images_sha256": a.images_sha256 or _sha256_bytes(np.ascontiguousarray(a.images).tobytes()),
        }

    def labels(self, part: str, idx: np.ndarray) -> np.ndarray:
        return self.arrays.labels[idx]

    def keys(self, part: str, idx: np.ndarray) -> list:
        return np.asarray(idx).tolist()

    def source(self, part: str, idx: np.ndarray) -> ImageSource:
        return ArraySource(self.arrays.images, idx, self.arrays.labels[idx], self.class_names)


class _MosaicContext(_CifarContext):
    def __init__(self, root):
        super().__init__(root)
        self.fingerprint = dict(self.fingerprint, mosaic_k_probs=list(MOSAIC_K_PROBS),
                                mosaic_sizes=dict(MOSAIC_SIZES))

    def labels(self, part, tiles):
        return mosaic_labels(tiles, self.arrays.labels, self.num_classes)

    def keys(self, part, tiles):
        return [tuple(r) for r in np.asarray(tiles).tolist()]

    def source(self, part, tiles):
        return MosaicSource(self.arrays.images, tiles, self.labels(part, tiles), self.class_names)


class _MosaicCocoContext(_MosaicContext):
    """``cifar10-mosaic-coco``: the mosaic label model at the MS-COCO protocol's sizes."""

    def __init__(self, root):
        super().__init__(root)
        self.fingerprint = dict(self.fingerprint, mosaic_k_probs=list(COCO_MOSAIC_K_PROBS),
                                mosaic_sizes=dict(COCO_MOSAIC_SIZES))


class _MosaicSelfsupContext(_MosaicContext):
    """``mosaic-selfsup``: the mosaic label model at paper 003's sizes, three disjoint tile pools."""

    def __init__(self, root):
        super().__init__(root)
        self.fingerprint = dict(self.fingerprint, mosaic_k_probs=list(MOSAIC_K_PROBS), mosaic_sizes=dict(SELFSUP_SIZES),
                                mosaic_pools="query: test images; database, train: disjoint shares of the train images")


_LIST_LAYOUT = {
    # name: (folder under root, default training size when train.txt is absent, queries expected)
    "nuswide21": ("nuswide_21", 10_500, 2_100),
    "mscoco": ("coco", 10_000, 5_000),
    "nuswide-selfsup": ("nuswide_81", 0, 0),  # pooled (_PooledContext): no training size of its own
}


class _ListContext:
    """``<root>/<folder>/{database,test,train}.txt``; image paths relative to ``<root>/<folder>/``."""

    def __init__(self, name: str, root):
        folder_name, self.default_train, self.expected_queries = _LIST_LAYOUT[name]
        root = Path(root) if root is not None else data_root()
        self.folder = folder = root / folder_name
        need = [folder / "database.txt", folder / "test.txt"]
        layout = (
            f"expected layout: {folder}/database.txt, {folder}/test.txt and optionally "
            f"{folder}/train.txt (and classes.txt, one class name a line), each line "
            f"'relative/path.jpg 0 1 0 ...' (multi-hot), as DeepHash-pytorch's list files; "
            f"image paths are relative to {folder}/ (symlink the image folders there). Set HASHLIB_DATA "
            f"or pass root= to point at the folder that holds {folder_name}/."
        )
        missing = [str(p) for p in need if not p.is_file()]
        if missing:
            raise DatasetNotFoundError(f"{name}: missing {', '.join(missing)}; {layout}")
        self.lists = {"database": folder / "database.txt", "query": folder / "test.txt"}
        train_txt = folder / "train.txt"
        self.train_from_file = train_txt.is_file()
        if self.train_from_file:
            self.lists["train"] = train_txt
        try:  # every line parsed and every image checked up front, not found missing mid-training
            self.data = {k: load_list_file(p, image_root=folder) for k, p in self.lists.items()}
        except FileNotFoundError as err:
            raise DatasetNotFoundError(f"{name}: {err}; {layout}") from err
        ncls = {v[1].shape[1] for v in self.data.values() if len(v[0])}
        if len(ncls) != 1:
            raise ValueError(f"{name}: list files disagree on the number of classes: {sorted(ncls)}")
        self.num_classes = ncls.pop()
        names_file = folder / "classes.txt"
        if names_file.is_file():
            self.class_names = [l.strip() for l in names_file.read_text().splitlines() if l.strip()]
            if len(self.class_names) != self.num_classes:
                raise ValueError(f"{names_file}: {len(self.class_names)} names for {self.num_classes} classes")
        else:
            self.class_names = [f"label{i:02d}" for i in range(self.num_classes)]
        self.fingerprint = {
            "dataset": name,
            "train_source": "train.txt" if self.train_from_file else "database.txt",
            **{f"{k}_sha256": _sha256_bytes(p.read_bytes()) for k, p in sorted(self.lists.items())},
        }

    def _list_for(self, part: str) -> str:
        if part == "train" and not self.train_from_file:
            return "database"
        return part

    def labels(self, part, idx):
        return self.data[self._list_for(part)][1][idx]

    def keys(self, part, idx):
        paths = self.data[self._list_for(part)][0]
        return [paths[i] for i in np.asarray(idx).tolist()]

    def source(self, part, idx):
        lst = self._list_for(part)
        paths, labels = self.data[lst]
        return FileSource(self.folder, [paths[i] for i in np.asarray(idx).tolist()], labels[idx],
                          self.class_names, indices=idx, list_file=self.lists[lst])


class _PooledContext:
    """Paper 003's protocols on images a user owns: one pool of image files (paths relative to
    ``folder``, labels), from which :func:`_uniform_parts` draws; read lazily at
    :data:`SELFSUP_IMAGE_SIZE` px by :class:`FileSource`."""

    def __init__(self, name: str, folder: Path, paths: list, labels: np.ndarray, class_names: list,
                 fingerprint: dict, what: str):
        need = sum(SELFSUP_SIZES.values())
        if len(paths) < need:
            raise ValueError(
                f"{name}: {what} holds {len(paths):,} images; the protocol draws {need:,} without replacement "
                f"({SELFSUP_SIZES['train']:,} training + {SELFSUP_SIZES['database']:,} database + "
                f"{SELFSUP_SIZES['query']:,} queries, paper 003 §IV): add images, or use the stand-in "
                f"protocol 'mosaic-selfsup' (docs/data.md)")
        self.name, self.folder, self.paths, self.pool_labels = name, folder, list(paths), labels
        self.class_names = list(class_names)
        self.num_classes = len(self.class_names)
        self.fingerprint = dict(fingerprint, pool=len(self.paths), sizes=dict(SELFSUP_SIZES),
                                image_size=SELFSUP_IMAGE_SIZE)

    @property
    def pool_size(self) -> int:
        return len(self.paths)

    def labels(self, part, idx):
        return self.pool_labels[idx]

    def keys(self, part, idx):
        return [self.paths[i] for i in np.asarray(idx).tolist()]

    def source(self, part, idx):
        idx = np.asarray(idx, dtype=np.int64)
        return FileSource(self.folder, self.keys(part, idx), self.pool_labels[idx], self.class_names,
                          indices=idx, image_size=SELFSUP_IMAGE_SIZE)


def _nuswide_selfsup_context(root) -> _PooledContext:
    """``nuswide-selfsup``: every labelled line of ``<root>/nuswide_81/{database,test,train}.txt``
    (the list-file layout of ``nuswide21``), pooled in that order; a path listed in several files
    counts once (with different labels: an error naming both files); lines without a label are left
    out (nothing can be relevant to them)."""
    name = "nuswide-selfsup"
    lists = _ListContext(name, root)
    first: dict = {}
    paths, rows, unlabelled = [], [], 0
    for part in ("database", "query", "train"):
        if part not in lists.data:
            continue
        part_paths, part_labels = lists.data[part]
        for path, lab in zip(part_paths, part_labels):
            if path in first:
                where, row = first[path]
                if not np.array_equal(row, lab):
                    raise ValueError(f"{name}: {path} is listed in {lists.lists[where]} and {lists.lists[part]} "
                                     f"with different labels")
                continue
            first[path] = (part, lab)
            if not lab.any():
                unlabelled += 1
                continue
            paths.append(path)
            rows.append(lab)
    labels = np.asarray(rows, dtype=np.uint8).reshape(len(rows), lists.num_classes)
    files = ", ".join(p.name for p in lists.lists.values())
    fingerprint = {"dataset": name, "unlabelled_left_out": unlabelled,
                   **{k: v for k, v in lists.fingerprint.items() if k.endswith("_sha256")}}
    return _PooledContext(name, lists.folder, paths, labels, lists.class_names, fingerprint,
                          f"the labelled lines of {files} in {lists.folder}")


def _imagenet_selfsup_context(root) -> _PooledContext:
    """``imagenet-selfsup``: the images of ``<root>/imagenet/`` as torchvision's ImageFolder finds
    them (:func:`hashlib_core.data.imagefolder.scan_image_folder`): every class folder, or those
    listed in its ``classes.txt``."""
    name = "imagenet-selfsup"
    root = Path(root) if root is not None else data_root()
    folder = root / "imagenet"
    layout = (f"expected layout: {folder}/<class>/<image> (torchvision ImageFolder: one folder per class, "
              f"images of any size; e.g. a symlink to ILSVRC2012's train/ folder), optionally "
              f"{folder}/{CLASS_LIST} naming the class folders to use, one a line (default: every class "
              f"folder). Set HASHLIB_DATA or pass root= to point at the folder that holds imagenet/.")
    if not folder.is_dir():
        raise DatasetNotFoundError(f"{name}: {folder} does not exist; {layout}")
    try:
        found = scan_image_folder(folder)
    except FileNotFoundError as err:
        raise DatasetNotFoundError(f"{name}: {err}; {layout}") from err
    listing = "\n".join(f"{p}\t{t}" for p, t in zip(found["paths"], found["targets"].tolist()))
    fingerprint = {"dataset": name, "class_rule": found["class_rule"], "classes": len(found["classes"]),
                   "classes_sha256": _sha256_bytes("\n".join(found["classes"]).encode()),
                   "files_sha256": _sha256_bytes(listing.encode())}
    return _PooledContext(name, folder, found["paths"], found["targets"], found["classes"], fingerprint,
                          f"{folder} ({len(found['classes'])} classes, {found['class_rule']})")


# ---------------------------------------------------------------------------------------------
# Split computation
# ---------------------------------------------------------------------------------------------


def _per_class_split(labels: np.ndarray, rng: np.random.Generator, n_query: int, n_train: Optional[int],
                     num_classes: int):
    q, t = [], []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        if len(members) < n_query + (n_train or 0):
            raise ValueError(f"class {c} has {len(members)} images; the protocol needs {n_query + (n_train or 0)}")
        p = rng.permutation(members)
        q.append(p[:n_query])
        if n_train:
            t.append(p[n_query:n_query + n_train])
    query = np.sort(np.concatenate(q))
    database = np.setdiff1d(np.arange(len(labels)), query)
    train = np.sort(np.concatenate(t)) if n_train else database.copy()
    return {"query": query, "database": database, "train": train}


def _compute_dshfmdf(ctx: _CifarContext, seed: int) -> dict:
    # Paper 000 §4.1 (following [49]): 100 random images per class as queries (1,000), the rest
    # (59,000) the database; 500 per class (5,000) drawn from the database for training.
    rng = np.random.default_rng(seed)
    return _per_class_split(ctx.arrays.labels, rng, 100, 500, ctx.num_classes)


def _compute_dshc(ctx: _CifarContext, seed: int) -> dict:
    # Paper 004 §4.1: 1,000 images per class as queries (10,000); the other 50,000 are both the
    # training set and the database.
    rng = np.random.default_rng(seed)
    return _per_class_split(ctx.arrays.labels, rng, 1000, None, ctx.num_classes)


def _uniform_parts(n: int, seed: int) -> dict:
    """Paper 003 §IV: "A total of 20,000 training and 10,000 evaluation images are generated by
    uniform random sampling ... The evaluation dataset is divided into 5,000 images from the search
    database and 5,000 images from the query." -> uniform (not class-stratified) sampling without
    replacement from a pool of ``n`` items: ``perm = default_rng(seed).permutation(n)``, the first
    20,000 train, the next 5,000 database, the next 5,000 queries (:data:`SELFSUP_SIZES`); disjoint."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    t, d, q = (SELFSUP_SIZES[p] for p in ("train", "database", "query"))
    return {"train": np.sort(perm[:t]), "database": np.sort(perm[t:t + d]), "query": np.sort(perm[t + d:t + d + q])}


def _compute_selfsup(ctx: _CifarContext, seed: int) -> dict:
    # all 60,000 CIFAR-10 images (train and test pooled)
    return _uniform_parts(len(ctx.arrays), seed)


def _compute_pooled_selfsup(ctx: _PooledContext, seed: int) -> dict:
    return _uniform_parts(ctx.pool_size, seed)


def _mosaic_split(ctx, seed: int, sizes, k_probs) -> dict:
    """Mosaics of query images from the official test images, database mosaics from the official
    training images, the training set a seeded draw of database rows (one generator, this order)."""
    a = ctx.arrays
    n_train_official = int(a.n_train or 50_000)
    rng = np.random.default_rng(seed)
    all_idx = np.arange(len(a), dtype=np.int64)
    q_pool, d_pool = all_idx[n_train_official:], all_idx[:n_train_official]
    query = build_mosaic_table(rng, a.labels, q_pool, sizes["query"], ctx.num_classes, k_probs)
    database = build_mosaic_table(rng, a.labels, d_pool, sizes["database"], ctx.num_classes, k_probs)
    rows = np.sort(rng.choice(len(database), sizes["train"], replace=False))
    return {"query": query, "database": database, "train": database[rows]}


def _compute_mosaic(ctx: _MosaicContext, seed: int) -> dict:
    return _mosaic_split(ctx, seed, MOSAIC_SIZES, MOSAIC_K_PROBS)


def _compute_mosaic_coco(ctx: _MosaicCocoContext, seed: int) -> dict:
    # the NUS-WIDE stand-in's construction (same pools, same draw order) at paper 001 §3.1's sizes
    return _mosaic_split(ctx, seed, COCO_MOSAIC_SIZES, COCO_MOSAIC_K_PROBS)


def _compute_mosaic_selfsup(ctx: _MosaicSelfsupContext, seed: int) -> dict:
    """Paper 003's three disjoint parts as mosaics (the label model and tile rule of
    :func:`build_mosaic_table`): query mosaics from the official test images, as every mosaic
    stand-in; database and training mosaics from disjoint shares of the official training images,
    in proportion to their sizes (10,000 / 40,000 images for 5,000 / 20,000 mosaics, so each pool
    gives about two tiles per image, like the query pool). One generator, in this order: the share
    (a permutation of the training images), query table, database table, training table."""
    a = ctx.arrays
    n_train_official = int(a.n_train or 50_000)
    rng = np.random.default_rng(seed)
    all_idx = np.arange(len(a), dtype=np.int64)
    test_pool, train_images = all_idx[n_train_official:], all_idx[:n_train_official]
    shuffled = rng.permutation(train_images)
    n_db = int(round(len(train_images) * SELFSUP_SIZES["database"] / (SELFSUP_SIZES["database"] + SELFSUP_SIZES["train"])))
    pools = {"query": test_pool, "database": shuffled[:n_db], "train": shuffled[n_db:]}
    return {p: build_mosaic_table(rng, a.labels, pools[p], SELFSUP_SIZES[p], ctx.num_classes, MOSAIC_K_PROBS)
            for p in PARTS}


def _compute_listfile(ctx: _ListContext, seed: int) -> dict:
    n_db = len(ctx.data["database"][0])
    out = {"query": np.arange(len(ctx.data["query"][0]), dtype=np.int64),
           "database": np.arange(n_db, dtype=np.int64)}
    if ctx.train_from_file:
        out["train"] = np.arange(len(ctx.data["train"][0]), dtype=np.int64)
    else:
        rng = np.random.default_rng(seed)
        out["train"] = np.sort(rng.choice(n_db, min(ctx.default_train, n_db), replace=False))
    return out


def _check_cifar(arrays: dict, train_in_db: bool) -> None:
    q, d, t = (np.asarray(arrays[p]) for p in PARTS)
    if np.intersect1d(q.reshape(-1), d.reshape(-1)).size:
        raise ValueError("split invariant violated: a source image is in both query and database")
    if train_in_db and not np.isin(t, d).all():
        raise ValueError("split invariant violated: training images outside the database")


def _check_selfsup(arrays: dict, name: str = "cifar10-selfsup") -> None:
    """Pairwise disjoint parts; for mosaics, no source image in two parts."""
    q, d, t = (np.asarray(arrays[p]).reshape(-1) for p in PARTS)
    if np.intersect1d(q, d).size or np.intersect1d(q, t).size or np.intersect1d(d, t).size:
        raise ValueError(f"split invariant violated: {name} parts overlap")


def _check_nuswide_selfsup(arrays: dict, ctx: _PooledContext) -> None:
    """Disjoint parts, and a warning when the lists are not paper 003's NUS-WIDE (81 tags): tables
    then say "NUS-WIDE" for another label set."""
    _check_selfsup(arrays, ctx.name)
    if ctx.num_classes != 81:
        warnings.warn(f"nuswide-selfsup lists in {ctx.folder} have {ctx.num_classes} label columns; paper 003's "
                      f"NUS-WIDE has 81 tags", stacklevel=3)


def _check_mosaic(arrays: dict) -> None:
    _check_cifar(arrays, train_in_db=False)
    d = {tuple(r) for r in np.asarray(arrays["database"]).tolist()}
    if not all(tuple(r) in d for r in np.asarray(arrays["train"]).tolist()):
        raise ValueError("split invariant violated: training mosaics outside the database")


def _check_listfile(arrays: dict, ctx: _ListContext) -> None:
    overlap = set(ctx.keys("query", arrays["query"])) & set(ctx.keys("database", arrays["database"]))
    if overlap:
        warnings.warn(f"{ctx.fingerprint['dataset']}: {len(overlap)} images are both in test.txt and "
                      f"database.txt (e.g. {sorted(overlap)[0]})", stacklevel=3)


def _check_mscoco(arrays: dict, ctx: _ListContext) -> None:
    """The list-file checks, and a warning when the lists are not paper 001 §3.1's protocol
    (5,000 queries, 10,000 training images, 80 categories): tables then say "mscoco" for another split."""
    _check_listfile(arrays, ctx)
    n_query = len(ctx.data["query"][0])
    n_train = len(ctx.data["train"][0]) if ctx.train_from_file else min(ctx.default_train, len(ctx.data["database"][0]))
    got = {"queries": n_query, "training images": n_train, "categories": ctx.num_classes}
    want = {"queries": MSCOCO_SIZES["query"], "training images": MSCOCO_SIZES["train"], "categories": 80}
    off = [f"{got[k]} {k} (paper: {want[k]})" for k in want if got[k] != want[k]]
    if off:
        warnings.warn(f"mscoco lists in {ctx.folder} differ from paper 001's MS-COCO protocol: " + ", ".join(off),
                      stacklevel=3)


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    paper: str
    section: str
    description: str
    multi_label: bool
    map_topk: Optional[int]
    context: Callable
    compute: Callable
    check: Callable


PROTOCOLS: dict[str, ProtocolSpec] = {
    "cifar10-dshfmdf": ProtocolSpec(
        "cifar10-dshfmdf", "000 (DSHFMDF)", "§4.1",
        "CIFAR-10, 60,000 pooled: 100 queries/class (1,000); database the other 59,000; "
        "training 500/class (5,000) from the database. mAP over the whole ranking.",
        False, None, lambda root: _CifarContext(root), _compute_dshfmdf,
        lambda a, ctx: _check_cifar(a, True)),
    "cifar10-dshc": ProtocolSpec(
        "cifar10-dshc", "004 (DSHC)", "§4.1",
        "CIFAR-10, 60,000 pooled: 1,000 queries/class (10,000); the other 50,000 are training set "
        "and database. mAP over the whole ranking.",
        False, None, lambda root: _CifarContext(root), _compute_dshc,
        lambda a, ctx: _check_cifar(a, True)),
    "cifar10-selfsup": ProtocolSpec(
        "cifar10-selfsup", "003 (VAE/ViT hashing)", "§IV",
        "CIFAR-10, 60,000 pooled, uniform random (not stratified): 20,000 training, 10,000 "
        "evaluation split 5,000 database / 5,000 queries, all disjoint. mAP over the whole ranking.",
        False, None, lambda root: _CifarContext(root), _compute_selfsup,
        lambda a, ctx: _check_selfsup(a)),
    "cifar10-mosaic": ProtocolSpec(
        "cifar10-mosaic", "000 / 004 NUS-WIDE-21 stand-in", "000 §4.1, 004 §4.1",
        "2x2 mosaics (64x64) of CIFAR-10 images, multi-hot = union of tile classes; 2,100 query "
        "mosaics from test-set images, 20,000 database mosaics from train-set images, 10,500 "
        "training mosaics from the database; mAP@5000.",
        True, 5000, lambda root: _MosaicContext(root), _compute_mosaic,
        lambda a, ctx: _check_mosaic(a)),
    "nuswide21": ProtocolSpec(
        "nuswide21", "000 / 004 (NUS-WIDE-21)", "000 §4.1, 004 §4.1",
        "NUS-WIDE 21 concepts from list files: test.txt queries (2,100), database.txt, train.txt "
        "(10,500) or 10,500 drawn from the database with the seed; mAP@5000.",
        True, 5000, lambda root: _ListContext("nuswide21", root), _compute_listfile,
        lambda a, ctx: _check_listfile(a, ctx)),
    "mscoco": ProtocolSpec(
        "mscoco", "001 (MDFF-SH, MS-COCO)", "001 §3.1",
        "MS-COCO (80 classes) from list files: test.txt queries (5,000), database.txt, train.txt "
        "(10,000) or 10,000 drawn from the database with the seed; mAP@5000. "
        "hashlib_core.data.coco.write_coco_lists writes the lists from the official annotations.",
        True, 5000, lambda root: _ListContext("mscoco", root), _compute_listfile,
        lambda a, ctx: _check_mscoco(a, ctx)),
    "cifar10-mosaic-coco": ProtocolSpec(
        "cifar10-mosaic-coco", "001 MS-COCO stand-in", "001 §3.1",
        "2x2 mosaics (64x64) of CIFAR-10 images as cifar10-mosaic, at the MS-COCO protocol's sizes: "
        "5,000 query mosaics from test-set images, 20,000 database mosaics from train-set images, "
        "10,000 training mosaics from the database; mAP@5000. 10 labels, 1.9 per image: not COCO's "
        "80 categories and ~2.9 labels per image.",
        True, 5000, lambda root: _MosaicCocoContext(root), _compute_mosaic_coco,
        lambda a, ctx: _check_mosaic(a)),
    "nuswide-selfsup": ProtocolSpec(
        "nuswide-selfsup", "003 (VAE/ViT hashing, NUS-WIDE)", "§IV",
        "NUS-WIDE (81 tags) from list files in nuswide_81/: every labelled line of database.txt, test.txt "
        "and train.txt pooled, 30,000 drawn uniformly (not stratified): 20,000 training, 5,000 database, "
        "5,000 queries, disjoint; read at 128 px. Relevant = a shared tag; mAP over the whole ranking.",
        True, None, _nuswide_selfsup_context, _compute_pooled_selfsup, _check_nuswide_selfsup),
    "imagenet-selfsup": ProtocolSpec(
        "imagenet-selfsup", "003 (VAE/ViT hashing, ImageNet)", "§IV",
        "ImageNet as a torchvision ImageFolder tree in imagenet/ (every class folder, or those listed in "
        "imagenet/classes.txt): 30,000 images drawn uniformly (not stratified): 20,000 training, 5,000 "
        "database, 5,000 queries, disjoint; read at 128 px. mAP over the whole ranking.",
        False, None, _imagenet_selfsup_context, _compute_pooled_selfsup,
        lambda a, ctx: _check_selfsup(a, ctx.name)),
    "mosaic-selfsup": ProtocolSpec(
        "mosaic-selfsup", "003 NUS-WIDE stand-in", "§IV",
        "2x2 mosaics (64x64) of CIFAR-10 images as cifar10-mosaic, at paper 003's sizes: 5,000 query "
        "mosaics from test-set images, 5,000 database and 20,000 training mosaics from disjoint shares "
        "(10,000 / 40,000) of the train-set images; no source image in two parts. 10 labels, 1.9 per "
        "image: not NUS-WIDE's 81 tags. mAP over the whole ranking.",
        True, None, lambda root: _MosaicSelfsupContext(root), _compute_mosaic_selfsup,
        lambda a, ctx: _check_selfsup(a, "mosaic-selfsup")),
}


def list_protocols() -> dict:
    """name -> one-line description."""
    return {k: v.description for k, v in PROTOCOLS.items()}


# ---------------------------------------------------------------------------------------------
# Subsets
# ---------------------------------------------------------------------------------------------


def _normalise_subset(subset) -> Optional[dict]:
    if subset is None:
        return None
    if not isinstance(subset, Mapping):
        raise TypeError("subset must be a dict like {'query': 100, 'database': 1000, 'train': 200}")
    unknown = set(subset) - set(PARTS)
    if unknown:
        raise ValueError(f"subset: unknown parts {sorted(unknown)}; use {PARTS}")
    out = {}
    for p in PARTS:
        v = subset.get(p)
        if v is not None:
            v = int(v)
            if v <= 0:
                raise ValueError(f"subset[{p!r}] must be positive, got {v}")
        out[p] = v
    return None if all(v is None for v in out.values()) else out


def _strat_keys(labels: np.ndarray) -> np.ndarray:
    """Stratification key: the class (single-label), or the rarest present label (multi-label;
    C for an item without labels)."""
    if labels.ndim == 1:
        return labels
    freq = labels.sum(axis=0).astype(np.int64)
    order = np.argsort(freq, kind="stable")  # rarest class first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    c = len(freq)
    key_rank = np.where(labels.astype(bool), rank[None, :], c).min(axis=1)
    return np.where(key_rank < c, order[np.minimum(key_rank, c - 1)], c)


def _stratified(keys: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a sample of size n whose key proportions match the population's
    (largest-remainder allocation, ties broken at random)."""
    keys = np.asarray(keys)
    N = len(keys)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n >= N:
        return np.arange(N, dtype=np.int64)
    groups, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    exact = n * counts / N
    quota = np.floor(exact).astype(np.int64)
    rem = n - int(quota.sum())
    if rem:
        order = np.lexsort((rng.random(len(groups)), -(exact - quota)))
        quota[order[:rem]] += 1
    picks = []
    for g in range(len(groups)):
        if quota[g]:
            members = np.flatnonzero(inv == g)
            picks.append(rng.choice(members, int(quota[g]), replace=False))
    return np.sort(np.concatenate(picks)).astype(np.int64)


def _apply_subset(full: dict, ctx, seed: int, subset: dict) -> dict:
    rng = np.random.default_rng([int(seed), _SUBSET_STREAM])
    sizes = {p: len(full[p]) for p in PARTS}
    for p, v in subset.items():
        if v is not None and v > sizes[p]:
            raise ValueError(f"subset[{p!r}]={v} is larger than the {p} set ({sizes[p]})")
    want = {p: (subset[p] if subset[p] is not None else sizes[p]) for p in PARTS}
    keys = {p: _strat_keys(ctx.labels(p, full[p])) for p in PARTS}
    pos = {"query": _stratified(keys["query"], want["query"], rng)}
    # Keep "train ⊂ database" when the full protocol has it: sample train first, then fill the
    # database subset with the chosen training items plus a stratified sample of the rest.
    db_pos_of = {k: i for i, k in enumerate(ctx.keys("database", full["database"]))}
    train_keys = ctx.keys("train", full["train"])
    train_in_db = all(k in db_pos_of for k in train_keys)
    if train_in_db and want["train"] <= want["database"]:
        pos["train"] = _stratified(keys["train"], want["train"], rng)
        forced = np.unique(np.asarray([db_pos_of[train_keys[i]] for i in pos["train"]], dtype=np.int64))
        rest = np.setdiff1d(np.arange(sizes["database"]), forced)
        fill = _stratified(keys["database"][rest], want["database"] - len(forced), rng)
        pos["database"] = np.sort(np.concatenate([forced, rest[fill]]))
    else:
        pos["database"] = _stratified(keys["database"], want["database"], rng)
        pos["train"] = _stratified(keys["train"], want["train"], rng)
    return {p: np.asarray(full[p])[pos[p]] for p in PARTS}


# ---------------------------------------------------------------------------------------------
# Saving, loading, checksums
# ---------------------------------------------------------------------------------------------


def _meta(name: str, seed: int, subset: Optional[dict], fingerprint: dict) -> dict:
    return {"name": name, "seed": int(seed), "version": SPLIT_VERSION, "subset": subset, "source": fingerprint}


def split_checksum(meta: dict, arrays: dict) -> str:
    """sha256 hex of the metadata (name, seed, version, subset, source fingerprint) and the index
    arrays (name, dtype, shape and bytes of each, in a fixed order)."""
    h = hashlib.sha256()
    h.update(b"hashlib_core split\0")
    h.update(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    for p in PARTS:
        a = np.ascontiguousarray(arrays[p], dtype="<i8")
        h.update(f"\0{p}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _file_name(name: str, seed: int, subset: Optional[dict]) -> str:
    base = f"{name}-seed{int(seed)}"
    if subset:
        base += "-sub-" + "-".join(f"{p[0]}{subset[p] if subset[p] is not None else 'all'}" for p in PARTS)
    return base + ".npz"


def _save(path: Path, meta: dict, arrays: dict, checksum: str) -> None:
    with atomic_path(path) as tmp:
        np.savez(tmp, **{p: np.ascontiguousarray(arrays[p], dtype="<i8") for p in PARTS},
                 meta=np.array(json.dumps(meta, sort_keys=True)), checksum=np.array(checksum))


def _load(path: Path, expected_meta: dict) -> Optional[tuple[dict, str]]:
    """(arrays, checksum) if ``path`` holds a verified split for ``expected_meta``; None if it is
    missing or was made for other inputs (warns); raises SplitChecksumError if corrupted."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as d:
            arrays = {p: d[p] for p in PARTS}
            meta = json.loads(str(d["meta"][()]))
            stored = str(d["checksum"][()])
    except Exception as e:  # truncated, not a zip, missing keys, bad json ...
        raise SplitChecksumError(
            f"saved split {path} is unreadable ({type(e).__name__}: {e}); delete it to recompute"
        ) from e
    actual = split_checksum(meta, arrays)
    if actual != stored:
        raise SplitChecksumError(
            f"saved split {path} fails its checksum (stored {stored[:16]}..., contents give "
            f"{actual[:16]}...): the file was corrupted or edited. Delete it to recompute the split."
        )
    if meta != expected_meta:
        warnings.warn(
            f"saved split {path} was made for other inputs (version/source/subset differ); recomputing it",
            stacklevel=3,
        )
        return None
    return arrays, stored


def _resolve(spec: ProtocolSpec, ctx, seed: int, subset: Optional[dict], cache: Path) -> tuple[dict, str, Path]:
    meta = _meta(spec.name, seed, subset, ctx.fingerprint)
    path = cache / _file_name(spec.name, seed, subset)
    loaded = _load(path, meta)
    if loaded is not None:
        arrays, checksum = loaded
        spec.check(arrays, ctx)
        return arrays, checksum, path
    if subset is None:
        arrays = spec.compute(ctx, seed)
    else:
        full, _, _ = _resolve(spec, ctx, seed, None, cache)
        arrays = _apply_subset(full, ctx, seed, subset)
    arrays = {p: np.ascontiguousarray(arrays[p], dtype=np.int64) for p in PARTS}
    spec.check(arrays, ctx)
    checksum = split_checksum(meta, arrays)
    _save(path, meta, arrays, checksum)
    return arrays, checksum, path


def get_protocol(name: str, seed: int = 0, root: Union[str, os.PathLike, None] = None,
                 cache_dir: Union[str, os.PathLike, None] = None, subset: Optional[dict] = None) -> Split:
    """Build (or reload) protocol ``name`` with ``seed``.

    root:      data folder (default :func:`hashlib_core.paths.data_root`).
    cache_dir: folder of saved splits (default ``<cache_root>/splits``).
    subset:    e.g. ``{"query": 100, "database": 1000, "train": 200}``: a seeded,
               class-stratified subsample of each part (missing parts stay whole); ``train ⊂
               database`` is kept when the full protocol has it. Covered by the checksum.
    """
    if name.endswith(VALIDATION_SUFFIX):
        parent = get_protocol(name[: -len(VALIDATION_SUFFIX)], seed, root, cache_dir, subset)
        return validation_split(parent)
    if name not in PROTOCOLS:
        raise KeyError(f"unknown protocol {name!r}; known: {sorted(PROTOCOLS)} "
                       f"(and each with {VALIDATION_SUFFIX!r} for its validation split)")
    spec = PROTOCOLS[name]
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    subset = _normalise_subset(subset)
    cache = Path(cache_dir) if cache_dir is not None else splits_dir()
    ctx = spec.context(root)
    arrays, checksum, path = _resolve(spec, ctx, seed, subset, cache)
    info = {"paper": spec.paper, "section": spec.section, "description": spec.description,
            "source": ctx.fingerprint}
    return Split(
        name=name, seed=seed, multi_label=spec.multi_label, num_classes=ctx.num_classes,
        class_names=list(ctx.class_names),
        query=ctx.source("query", arrays["query"]),
        database=ctx.source("database", arrays["database"]),
        train=ctx.source("train", arrays["train"]),
        map_topk=spec.map_topk, checksum=checksum, subset=subset, info=info, path=path,
    )


#: ``get_protocol("<name>:val")`` is :func:`validation_split` of protocol ``<name>``
VALIDATION_SUFFIX = ":val"
VALIDATION_SEED = 123


def validation_split(split: Split, fraction: float = 0.2, seed: int = VALIDATION_SEED) -> Split:
    """A validation protocol carved from ``split``'s *training* images only.

    A class-stratified ``fraction`` of the training set (1,000 of CIFAR-10's 5,000) becomes the
    queries; the rest is both the training set and the retrieval database. Recipes (epochs, input
    size, learning rates) are chosen on it, so the protocol's query set is never looked at.
    Deterministic in ``seed`` (its own, fixed, so every run seed validates on the same split).
    """
    n = len(split.train)
    n_val = int(round(fraction * n))
    if not 0 < n_val < n:
        raise ValueError(f"a validation fraction of {fraction} leaves no queries or no training images of {n}")
    rng = np.random.default_rng(seed)
    val = _stratified(_strat_keys(np.asarray(split.train.labels)), n_val, rng)
    rest = np.setdiff1d(np.arange(n), val)
    train = split.train.take(rest)
    checksum = _sha256_bytes(f"{split.checksum}|val|{fraction}|{seed}".encode())
    return Split(
        name=split.name + VALIDATION_SUFFIX, seed=split.seed, multi_label=split.multi_label,
        num_classes=split.num_classes, class_names=list(split.class_names),
        query=split.train.take(val), database=train, train=train, map_topk=split.map_topk,
        checksum=checksum, subset=split.subset,
        info={**split.info, "validation": {"of": split.name, "fraction": fraction, "seed": seed,
                                           "queries": int(n_val), "train": int(n - n_val)}},
        path=split.path,
    )


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def label_statistics(split: Split, chunk: int = 1024) -> dict:
    """Label statistics of a split.

    labels_per_image: mean/min/max per part (1 for single-label); label_frequency: per class, the
    fraction of database (and query) items carrying it; chance_precision: the fraction of
    query-database pairs that are relevant (share at least one label), averaged over queries --
    the precision, and about the mAP, of a random ranking; also min/max over queries and the
    fraction of queries with no relevant database item.
    """
    out: dict = {"name": split.name, "multi_label": split.multi_label, "class_names": list(split.class_names)}
    per = {}
    for p, s in split.parts.items():
        mh = s.multi_hot
        k = mh.sum(axis=1) if len(s) else np.zeros(1)
        per[p] = {"mean": float(k.mean()), "min": int(k.min()), "max": int(k.max()),
                  "histogram": np.bincount(k.astype(np.int64), minlength=1).tolist()}
    out["labels_per_image"] = per
    out["label_frequency"] = {
        p: (s.multi_hot.mean(axis=0) if len(s) else np.zeros(split.num_classes)).round(6).tolist()
        for p, s in (("database", split.database), ("query", split.query))
    }
    if not split.multi_label:
        # relevant <=> same class: the fraction of the database in the query's class
        db_frac = np.bincount(split.database.labels, minlength=split.num_classes) / max(len(split.database), 1)
        fr = db_frac[split.query.labels].astype(np.float64)
    else:
        Q = split.query.multi_hot.astype(np.float32)
        D = split.database.multi_hot.astype(np.float32).T.copy()
        fr = np.empty(len(Q), dtype=np.float64)
        for i in range(0, len(Q), chunk):
            fr[i:i + chunk] = ((Q[i:i + chunk] @ D) > 0).mean(axis=1)
    out["chance_precision"] = float(fr.mean()) if len(fr) else 0.0
    out["relevant_fraction_per_query"] = {
        "min": float(fr.min()) if len(fr) else 0.0, "max": float(fr.max()) if len(fr) else 0.0,
        "queries_without_relevant": float((fr == 0).mean()) if len(fr) else 0.0,
    }
    return out
