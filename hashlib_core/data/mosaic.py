"""The multi-label stand-in for NUS-WIDE-21: 2x2 mosaics of real CIFAR-10 images.

NUS-WIDE images cannot be had on these machines, so the multi-label protocols (paper 000 §4.1,
paper 004 §4.1, NUS-WIDE-21) are exercised on ``cifar10-mosaic``. Construction, exactly (see
docs/data.md):

* Source pools. Query mosaics take their tiles only from the 10,000 official CIFAR-10 *test*
  images; database mosaics only from the 50,000 official *train* images. No source image is
  shared between a query mosaic and a database mosaic.
* For each mosaic: draw k in {1, 2, 3} with probabilities MOSAIC_K_PROBS = (0.35, 0.40, 0.25);
  draw k distinct classes uniformly; the first k of the 4 tile slots get one chosen class each,
  the remaining 4 - k slots a chosen class drawn uniformly; the 4 slots are then shuffled (slot
  order: top-left, top-right, bottom-left, bottom-right).
* Tile images: per class, the pool's images of that class are consumed in a random order without
  replacement; when fewer remain than a mosaic needs, the class's pool is reshuffled and consumption
  starts over (so tiles of one mosaic are always distinct images; database images are reused about
  1.6 times across different database mosaics since 80,000 tiles come from 50,000 images; query
  images are not reused as long as a class needs at most 1,000 query tiles, as it does for 2,100
  queries).
* Label = union (multi-hot over the 10 classes) of the classes of the 4 tiles, i.e. exactly the k
  chosen classes.
* Sizes: 2,100 query mosaics, 20,000 database mosaics, 10,500 training mosaics drawn uniformly
  without replacement from the database. Random draws come from one numpy.random.default_rng(seed)
  in the order: query table, database table, training rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MOSAIC_K_PROBS", "MOSAIC_SIZES", "COCO_MOSAIC_K_PROBS", "COCO_MOSAIC_SIZES", "build_mosaic_table",
           "mosaic_labels"]

MOSAIC_K_PROBS = (0.35, 0.40, 0.25)
MOSAIC_SIZES = {"query": 2100, "database": 20000, "train": 10500}
#: ``cifar10-mosaic-coco``, the MS-COCO stand-in: the same label model, paper 001 §3.1's 5,000 queries
#: and 10,000 training images (from the database); the database as large as the NUS-WIDE stand-in's
#: (docs/data.md says why neither can resemble COCO's 80 categories).
COCO_MOSAIC_K_PROBS = MOSAIC_K_PROBS
COCO_MOSAIC_SIZES = {"query": 5000, "database": 20000, "train": 10000}


def build_mosaic_table(rng: np.random.Generator, labels: np.ndarray, pool: np.ndarray, n: int,
                       num_classes: int = 10, k_probs=MOSAIC_K_PROBS) -> np.ndarray:
    """-> int64 (n, 4) tile table: indices (into the array ``labels`` indexes) of pool images."""
    labels = np.asarray(labels)
    pool = np.sort(np.asarray(pool, dtype=np.int64))
    kmax = len(k_probs)
    if kmax > 4 or kmax > num_classes:
        raise ValueError("at most 4 labels per mosaic (and no more than the number of classes)")
    k = rng.choice(np.arange(1, kmax + 1), size=n, p=np.asarray(k_probs, dtype=float))
    chosen = np.argsort(rng.random((n, num_classes)), axis=1)[:, :kmax]  # distinct classes per row
    extra = rng.integers(0, k[:, None], size=(n, 4))  # a chosen class for the remaining slots
    slot = np.arange(4)[None, :]
    which = np.where(slot < k[:, None], slot, extra)
    slot_cls = np.take_along_axis(chosen, which, axis=1)
    order = np.argsort(rng.random((n, 4)), axis=1)
    slot_cls = np.take_along_axis(slot_cls, order, axis=1)

    members = {c: pool[labels[pool] == c] for c in range(num_classes)}
    for c, m in members.items():
        if len(m) < 4 and np.any(slot_cls == c):
            raise ValueError(f"class {c} has only {len(m)} images in the pool; need at least 4")
    perms = {c: rng.permutation(members[c]).tolist() for c in range(num_classes)}
    ptr = {c: 0 for c in range(num_classes)}
    out = np.empty((n, 4), dtype=np.int64)
    for m, row in enumerate(slot_cls.tolist()):
        need: dict = {}
        for j, c in enumerate(row):
            need.setdefault(c, []).append(j)
        for c, slots in need.items():
            cnt = len(slots)
            if ptr[c] + cnt > len(perms[c]):
                perms[c] = rng.permutation(members[c]).tolist()
                ptr[c] = 0
            for j, img in zip(slots, perms[c][ptr[c]:ptr[c] + cnt]):
                out[m, j] = img
            ptr[c] += cnt
    return out


def mosaic_labels(tiles: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """uint8 (M, C) multi-hot: the union of the tiles' classes."""
    tiles = np.asarray(tiles)
    out = np.zeros((tiles.shape[0], num_classes), dtype=np.uint8)
    rows = np.repeat(np.arange(tiles.shape[0]), tiles.shape[1])
    out[rows, np.asarray(labels)[tiles.reshape(-1)]] = 1
    return out
