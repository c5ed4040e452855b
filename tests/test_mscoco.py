"""MS-COCO (paper 001 §3.1): the list-file protocol on generated images, the list writer for users
with the official annotations, and the CIFAR-10 mosaic stand-in ``cifar10-mosaic-coco``."""
import json
import warnings
from pathlib import Path

import os

import numpy as np
import pytest

from cifar_root import real_cifar_root
from hashlib_core.data import get_protocol, label_statistics, load_cifar10, load_list_file
from hashlib_core.data.coco import MSCOCO_SIZES, write_coco_lists
from hashlib_core.data.mosaic import COCO_MOSAIC_SIZES

CATEGORIES = [(1, "person"), (2, "bicycle"), (5, "airplane"), (18, "dog"), (90, "toothbrush")]


def _write_coco_folder(root: Path, n_per_split=(30, 12), seed=0, unlabelled=(3, 1)):
    """<root>/coco/{train2014,val2014}/*.jpg (small random images) and one instances json per
    folder, COCO's format: category ids are not contiguous, some images have no instance."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = root / "coco"
    ann_files, truth = {}, {}
    iid = aid = 0
    for sub, n, n_unl in zip(("train2014", "val2014"), n_per_split, unlabelled):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        images, anns = [], []
        for i in range(n):
            iid += 1
            name = f"COCO_{sub}_{iid:012d}.jpg"
            Image.fromarray(rng.integers(0, 256, (int(rng.integers(10, 30)), int(rng.integers(10, 30)), 3),
                                         dtype=np.uint8)).save(folder / sub / name)
            images.append({"id": iid, "file_name": name, "height": 1, "width": 1})
            if i < n_unl:
                continue  # no instance: must be left out of the lists
            cats = rng.choice([c for c, _ in CATEGORIES], size=int(rng.integers(1, 4)), replace=False)
            for c in list(cats) + [cats[0]]:  # a repeated category is still one label
                aid += 1
                anns.append({"id": aid, "image_id": iid, "category_id": int(c), "bbox": [0, 0, 1, 1]})
            truth[f"{sub}/{name}"] = {int(c) for c in cats}
        p = root / "annotations" / f"instances_{sub}.json"
        p.parent.mkdir(exist_ok=True)
        p.write_text(json.dumps({"images": images, "annotations": anns,
                                 "categories": [{"id": c, "name": n} for c, n in CATEGORIES]}))
        ann_files[sub] = p
    return folder, ann_files, truth


def test_write_coco_lists_from_annotations_and_load_the_protocol(tmp_path):
    folder, ann, truth = _write_coco_folder(tmp_path)
    info = write_coco_lists(ann, folder, seed=0, n_query=6, n_train=10)
    assert info["images"] == len(truth) == 38 and info["unlabelled_left_out"] == 4
    assert (info["query"], info["database"], info["train"], info["num_classes"]) == (6, 32, 10, 5)
    assert (folder / "classes.txt").read_text().split("\n")[:5] == [n for _, n in CATEGORIES]

    # every listed label is exactly the set of annotated categories, columns in category-id order
    cols = [c for c, _ in CATEGORIES]
    for name in ("test.txt", "database.txt", "train.txt"):
        paths, y = load_list_file(folder / name)
        for p, row in zip(paths, y):
            assert {cols[j] for j in np.flatnonzero(row)} == truth[p]
    q, _ = load_list_file(folder / "test.txt")
    d, _ = load_list_file(folder / "database.txt")
    t, _ = load_list_file(folder / "train.txt")
    assert set(q).isdisjoint(d) and set(t) <= set(d) and set(q) | set(d) == set(truth)

    with pytest.warns(UserWarning, match=r"6 queries \(paper: 5000\), 10 training images \(paper: 10000\), "
                                         r"5 categories \(paper: 80\)"):
        s = get_protocol("mscoco", seed=0, root=tmp_path, cache_dir=tmp_path / "splits")
    assert s.multi_label and s.map_topk == 5000 and s.num_classes == 5
    assert s.class_names == [n for _, n in CATEGORIES] and s.info["section"] == "001 §3.1"
    assert (len(s.query), len(s.database), len(s.train)) == (6, 32, 10)
    assert s.info["source"]["train_source"] == "train.txt"
    b = s.train.get_batch([0, 1], size=32)
    assert b.shape == (2, 32, 32, 3) and b.dtype == np.uint8
    st = label_statistics(s)
    assert 1 <= st["labels_per_image"]["database"]["mean"] <= 3

    # the same seed writes the same lists; another seed draws other queries
    again = tmp_path / "again" / "coco"
    for sub in ann:
        again.mkdir(parents=True, exist_ok=True)
        (again / sub).symlink_to(folder / sub)
    write_coco_lists(ann, again, seed=0, n_query=6, n_train=10)
    assert (again / "test.txt").read_bytes() == (folder / "test.txt").read_bytes()
    write_coco_lists(ann, again, seed=1, n_query=6, n_train=10, overwrite=True)
    assert (again / "test.txt").read_bytes() != (folder / "test.txt").read_bytes()


def test_write_coco_lists_refuses_bad_input_before_writing(tmp_path):
    folder, ann, _ = _write_coco_folder(tmp_path)
    with pytest.raises(ValueError, match="need more"):
        write_coco_lists(ann, folder, n_query=30, n_train=10)
    with pytest.raises(ValueError, match="positive ints"):
        write_coco_lists(ann, folder, n_query=0, n_train=10)
    with pytest.raises(ValueError, match="is not a file"):
        write_coco_lists({"train2014": tmp_path / "nope.json"}, folder, n_query=2, n_train=2)
    (folder / "val2014" / sorted(p.name for p in (folder / "val2014").iterdir())[-1]).unlink()
    with pytest.raises(ValueError, match="1 of 38 images are missing"):
        write_coco_lists(ann, folder, n_query=6, n_train=10)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [], "categories": []}))
    with pytest.raises(ValueError, match="not a COCO instances file"):
        write_coco_lists({"x": bad}, folder, n_query=1, n_train=1)
    assert not any((folder / f).exists() for f in ("test.txt", "database.txt", "train.txt"))
    write_coco_lists(ann, folder, n_query=6, n_train=10, check_images=False)
    with pytest.raises(ValueError, match="exist already"):
        write_coco_lists(ann, folder, n_query=6, n_train=10, check_images=False)


def test_mscoco_lists_of_the_papers_sizes_raise_no_warning(tmp_path):
    """A hand-written list set (DeepHash-pytorch layout, no train.txt) with 5,000 queries and 80
    columns: the training set is 10,000 rows drawn from the database, and nothing is warned."""
    from PIL import Image

    folder = tmp_path / "coco"
    (folder / "img").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(folder / "img" / "q0.png")
    for prefix, n in (("q", MSCOCO_SIZES["query"]), ("d", 12_000)):  # every listed image must exist (issue 12)
        for i in range(n):
            if (prefix, i) != ("q", 0):
                os.link(folder / "img" / "q0.png", folder / "img" / f"{prefix}{i}.png")
    rng = np.random.default_rng(0)

    def lines(prefix, n):
        y = (rng.random((n, 80)) < 0.04).astype(int)
        y[np.arange(n), rng.integers(0, 80, n)] = 1
        return "".join(f"img/{prefix}{i}.png " + " ".join(map(str, r)) + "\n" for i, r in enumerate(y.tolist()))

    (folder / "test.txt").write_text(lines("q", MSCOCO_SIZES["query"]))
    (folder / "database.txt").write_text(lines("d", 12_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = get_protocol("mscoco", seed=3, root=tmp_path, cache_dir=tmp_path / "splits")
    assert (len(s.query), len(s.database), len(s.train)) == (5000, 12000, 10000)
    assert s.info["source"]["train_source"] == "database.txt"
    assert np.isin(s.train.indices, s.database.indices).all() and len(np.unique(s.train.indices)) == 10000


def test_mosaic_coco_stand_in(tmp_path):
    root = real_cifar_root()
    if root is None:
        pytest.skip("real CIFAR-10 not found: set HASHLIB_DATA to a folder holding cifar10.npz")
    real = {"root": root, "cache": tmp_path / "splits", "arrays": load_cifar10(root)}
    s = get_protocol("cifar10-mosaic-coco", seed=0, root=real["root"], cache_dir=real["cache"])
    assert s.multi_label and s.map_topk == 5000 and s.image_size == 64 and s.num_classes == 10
    assert (len(s.query), len(s.database), len(s.train)) == (5000, 20000, 10000) == tuple(COCO_MOSAIC_SIZES.values())
    labels = real["arrays"].labels
    for part in s.parts.values():
        tiles = np.asarray(part.indices)
        union = np.zeros((len(part), 10), dtype=np.uint8)
        for j in range(4):
            union[np.arange(len(part)), labels[tiles[:, j]]] = 1
        np.testing.assert_array_equal(part.labels, union)
        assert all(len(set(r)) == 4 for r in tiles.tolist())  # 4 distinct images per mosaic
    qt, dt = np.asarray(s.query.indices), np.asarray(s.database.indices)
    assert qt.min() >= 50000 and dt.max() < 50000 and np.intersect1d(qt, dt).size == 0
    db_rows = {tuple(r) for r in dt.tolist()}
    assert all(tuple(r) in db_rows for r in np.asarray(s.train.indices).tolist())
    # its own split, not cifar10-mosaic's
    nus = get_protocol("cifar10-mosaic", seed=0, root=real["root"], cache_dir=real["cache"])
    assert s.checksum != nus.checksum and not np.array_equal(nus.database.indices, dt)
    again = get_protocol("cifar10-mosaic-coco", seed=0, root=real["root"], cache_dir=tmp_path / "fresh")
    assert again.checksum == s.checksum
    st = label_statistics(s)
    assert 1.85 < st["labels_per_image"]["database"]["mean"] < 1.95  # 1.9 expected; COCO has ~2.9
    assert 0.31 < st["chance_precision"] < 0.35  # 0.332 expected
    assert st["relevant_fraction_per_query"]["queries_without_relevant"] == 0.0
