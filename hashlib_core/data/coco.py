"""MS-COCO for the ``mscoco`` protocol (paper 001 §3.1), for users who own the images.

Paper 001 (MDFF-SH) evaluates on MS-COCO with 5,000 query images, 10,000 training images and the
rest as the database, MAP@5000, at 16/32/48/64 bits: the protocol of HashNet and
DeepHash-pytorch (the 2014 train + val images that carry at least one of the 80 object
categories; 10,000 training images drawn from the database). ``get_protocol("mscoco")`` reads
``<data root>/coco/{test,database,train}.txt``. Users who have DeepHash-pytorch's list files use
them as they are; users who have only the images and the official ``instances_*.json``
annotations write the lists with :func:`write_coco_lists`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Union

import numpy as np

from ..paths import atomic_path

__all__ = ["MSCOCO_SIZES", "write_coco_lists"]

#: paper 001 §3.1: 5,000 queries, 10,000 training images (drawn from the database), MAP@5000
MSCOCO_SIZES = {"query": 5000, "train": 10000}

PathLike = Union[str, os.PathLike]


def _read_instances(path: Path) -> tuple[dict, dict, dict]:
    """-> (categories {id: name}, images {id: file_name}, labels {image id: set of category ids})."""
    try:
        with open(path, "r", encoding="utf-8") as fh:
            d = json.load(fh)
        cats = {int(c["id"]): str(c["name"]) for c in d["categories"]}
        images = {int(im["id"]): str(im["file_name"]) for im in d["images"]}
        anns = d["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a COCO instances file with 'categories', 'images' and "
                         f"'annotations' ({type(e).__name__}: {e})") from e
    labels: dict = {}
    for a in anns:
        iid, cid = int(a["image_id"]), int(a["category_id"])
        if iid not in images or cid not in cats:
            raise ValueError(f"{path}: annotation {a.get('id')} names image {iid} / category {cid}, "
                             "which the file does not define")
        labels.setdefault(iid, set()).add(cid)
    return cats, images, labels


def write_coco_lists(annotations: Mapping[str, PathLike], folder: PathLike, seed: int = 0,
                     n_query: int = MSCOCO_SIZES["query"], n_train: int = MSCOCO_SIZES["train"],
                     check_images: bool = True, overwrite: bool = False) -> dict:
    """Write ``folder/{test,database,train,classes}.txt`` for ``get_protocol("mscoco")``.

    Args:
        annotations: image sub-folder of ``folder`` -> its COCO ``instances_*.json``, e.g.
            ``{"train2014": ".../instances_train2014.json", "val2014": ".../instances_val2014.json"}``
            (the images are then ``folder/train2014/<file_name>``; symlink the image folders there).
        folder: the protocol's folder, ``<data root>/coco``.
        seed: ``numpy.random.default_rng(seed)`` draws the queries (a permutation of all labelled
            images: the first ``n_query`` are queries, the rest the database) and then the
            ``n_train`` training images from the database.
        check_images: every listed image file must exist (one error naming the first missing).
        overwrite: replace existing list files (otherwise an existing list is an error).

    Labels: multi-hot over the categories of the annotation files (ascending category id; every
    file must define the same categories), a category present if the image has at least one
    instance of it; images without any instance are left out (as in HashNet / DeepHash-pytorch).
    Lines are ``<sub-folder>/<file_name> 0 1 0 ...``. Returns the sizes and label statistics.
    Our seeded draw is not DeepHash-pytorch's lists (their draw is not reproducible from a seed).
    """
    folder = Path(folder)
    if not annotations:
        raise ValueError("annotations: give at least one {image sub-folder: instances json}")
    for v in (n_query, n_train):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"n_query and n_train must be positive ints, got {n_query!r}, {n_train!r}")
    outputs = [folder / f for f in ("test.txt", "database.txt", "train.txt", "classes.txt")]
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not overwrite:
        raise ValueError(f"list files exist already: {', '.join(existing)}; pass overwrite=True to replace them")

    categories = None
    paths, label_sets = [], []
    n_unlabelled = 0
    for sub, ann_path in annotations.items():
        ann_path = Path(ann_path)
        if not ann_path.is_file():
            raise ValueError(f"annotations[{sub!r}]: {ann_path} is not a file")
        cats, images, labels = _read_instances(ann_path)
        if categories is None:
            categories = cats
        elif cats != categories:
            raise ValueError(f"{ann_path}: its categories differ from those of the first annotation file")
        for iid in sorted(images, key=lambda i: images[i]):
            if iid not in labels:
                n_unlabelled += 1
                continue
            paths.append(f"{sub}/{images[iid]}")
            label_sets.append(labels[iid])
    cat_ids = sorted(categories)
    column = {c: j for j, c in enumerate(cat_ids)}
    n = len(paths)
    if n < n_query + n_train:
        raise ValueError(f"{n} labelled images; n_query={n_query} + n_train={n_train} need more")
    if check_images:
        missing = [p for p in paths if not (folder / p).is_file()]
        if missing:
            raise ValueError(f"{len(missing)} of {n} images are missing, e.g. {folder / missing[0]}; "
                             f"symlink the image folders into {folder}/ (one per annotation file)")
    multi_hot = np.zeros((n, len(cat_ids)), dtype=np.uint8)
    for i, s in enumerate(label_sets):
        multi_hot[i, [column[c] for c in s]] = 1

    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    query = np.sort(perm[:n_query])
    database = np.sort(perm[n_query:])
    train = np.sort(rng.choice(database, n_train, replace=False))

    def write(path: Path, rows: np.ndarray) -> None:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for i in rows.tolist():
                fh.write(paths[i] + " " + " ".join(map(str, multi_hot[i].tolist())) + "\n")

    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "test.txt", query)
    write(folder / "database.txt", database)
    write(folder / "train.txt", train)
    with atomic_path(folder / "classes.txt") as tmp:
        Path(tmp).write_text("".join(categories[c] + "\n" for c in cat_ids), encoding="utf-8")
    k = multi_hot.sum(axis=1)
    return {"images": n, "unlabelled_left_out": n_unlabelled, "num_classes": len(cat_ids),
            "query": len(query), "database": len(database), "train": len(train),
            "labels_per_image": float(k.mean()), "seed": int(seed)}
