"""Run entries, trunk taps and shallow features: every file truncated / bit-flipped / edited /
deleted, ill-typed metas, and the data changed under a filled cache. Each is a miss, recomputed
(identical to a clean run) and logged once -- never a crash, never the tampered value."""
from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest
import torch

from fault_helpers import sha256_file, smoke_config, synthetic_result, write_sha256sums
from hashlib_core.runner import cached_run, load_cached, run_dir

CACHE_LOG = "hashlib_core.cache"


def _same(a, b):
    return (np.array_equal(a.query_codes, b.query_codes) and np.array_equal(a.db_codes, b.db_codes)
            and a.metrics == b.metrics)


def _misses(caplog):
    return [r for r in caplog.records if r.name == CACHE_LOG and "cache miss" in r.getMessage()]


def _tamper(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "bitflip":
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif how == "delete":
        path.unlink()
    else:
        raise AssertionError(how)


# ---------------------------------------------------------------------------------------------
# run entries
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["codes.npz", "meta.json", "SHA256SUMS"])
@pytest.mark.parametrize("how", ["truncate", "bitflip", "delete"])
def test_run_entry_file_damaged_is_a_miss_and_recomputed(cache, faults, caplog, name, how):
    cfg, calls = smoke_config(), []
    clean = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    faults.inject(f"run entry {name} {how}")
    _tamper(run_dir(cfg.key()) / name, how)
    caplog.set_level(logging.WARNING, logger=CACHE_LOG)
    again = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    assert len(calls) == 2 and not again.cached and _same(again, clean)
    assert len(_misses(caplog)) == 1  # logged once, one line
    assert load_cached(cfg).cached  # the rewritten entry verifies
    faults.detected()


def test_edited_metric_in_meta_is_not_shown(cache, faults):
    """Finding 2: an edited ``map`` value was shown as the result."""
    cfg, calls = smoke_config(), []
    clean = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    meta_path = run_dir(cfg.key()) / "meta.json"
    meta = json.loads(meta_path.read_text())
    faults.inject("meta.json map edited")
    meta["metrics"]["map"] = 0.999
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
    again = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    assert again.metrics["map"] == clean.metrics["map"] != 0.999 and len(calls) == 2
    faults.detected()


@pytest.mark.parametrize("meta", ["[]", "null", "text", "key-only", "no-metrics", "metrics-list", "other-config"])
def test_ill_typed_meta_with_valid_checksum_is_a_miss_not_a_crash(cache, faults, caplog, meta):
    """Finding 2: ``[]``, ``null`` or no ``metrics`` crashed with AttributeError / KeyError. Here
    the checksum is rewritten to match, so only the meta checks stand between it and the user."""
    cfg, calls = smoke_config(), []
    clean = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    folder = run_dir(cfg.key())
    good = json.loads((folder / "meta.json").read_text())
    bad = {"[]": [], "null": None, "text": "text", "key-only": {"key": good["key"]},
           "no-metrics": {k: v for k, v in good.items() if k != "metrics"},
           "metrics-list": {**good, "metrics": [0.5]},
           "other-config": {**good, "config": {**good["config"], "bits": 48}}}[meta]
    faults.inject(f"meta.json {meta} (checksum matching)")
    (folder / "meta.json").write_text(json.dumps(bad))
    write_sha256sums(folder, ["codes.npz", "meta.json"])
    caplog.set_level(logging.WARNING, logger=CACHE_LOG)
    assert load_cached(cfg) is None
    caplog.clear()
    again = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    assert len(calls) == 2 and _same(again, clean) and len(_misses(caplog)) == 1
    faults.detected()


def test_entry_without_checksums_written_last_is_not_trusted(cache, faults):
    """A writer killed after codes and meta but before SHA256SUMS: that entry is not served."""
    cfg, calls = smoke_config(), []
    cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    faults.inject("entry without SHA256SUMS")
    (run_dir(cfg.key()) / "SHA256SUMS").unlink()
    assert load_cached(cfg) is None
    faults.detected()


# ---------------------------------------------------------------------------------------------
# data changed under a filled cache (finding 1)
# ---------------------------------------------------------------------------------------------


def test_other_cifar10_under_a_filled_cache_is_a_miss(cache, faults, tmp_path, monkeypatch):
    from hashlib_core.data import CorruptDatasetError, load_cifar10

    cfg, calls = smoke_config(), []
    cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    real = load_cifar10()
    images = np.array(real.images)
    images[:, 0, 0, 0] ^= 0x80  # one pixel of every image: the labels are the same
    other = tmp_path / "other"
    other.mkdir()
    np.savez(other / "cifar10.npz", x_train=images[:50000], y_train=real.labels[:50000].astype(np.uint8),
             x_test=images[50000:], y_test=real.labels[50000:].astype(np.uint8), class_names=np.array(real.class_names))
    faults.inject("another cifar10.npz (same labels, other pixels) under a filled cache")
    monkeypatch.setenv("HASHLIB_DATA", str(other))
    with pytest.raises(CorruptDatasetError, match="cifar10.npz"):  # not the published file: refused
        synthetic_result(cfg)
    monkeypatch.setenv("HASHLIB_CIFAR10_SHA256", sha256_file(other / "cifar10.npz"))
    with pytest.warns(UserWarning, match="made for other inputs"):  # the split's fingerprint changed
        again = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    assert not again.cached and len(calls) == 2
    assert again.split_checksum == synthetic_result(cfg).split_checksum
    faults.detected()


def _list_dataset(root, labels):
    from PIL import Image

    folder = root / "nuswide_21"
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, row in enumerate(labels):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / "img" / f"{i}.png")
        lines.append(f"img/{i}.png " + " ".join(map(str, row)))
    (folder / "database.txt").write_text("\n".join(lines[:30]) + "\n")
    (folder / "test.txt").write_text("\n".join(lines[30:]) + "\n")
    (folder / "train.txt").write_text("\n".join(lines[:20]) + "\n")


def test_edited_list_file_labels_under_a_filled_cache_are_a_miss(cache, faults, tmp_path, monkeypatch):
    """Finding 1's NUS-WIDE case: edited labels returned the old run's mAP."""
    rng = np.random.default_rng(1)
    labels = (rng.random((40, 4)) < 0.4).astype(int)
    labels[labels.sum(1) == 0, 0] = 1
    _list_dataset(tmp_path, labels)
    monkeypatch.setenv("HASHLIB_DATA", str(tmp_path))
    cfg, calls = smoke_config(protocol="nuswide21", subset=None), []
    first = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    assert cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False).cached
    faults.inject("nuswide21 database.txt labels edited under a filled cache")
    edited = labels.copy()
    edited[:30] = 1 - edited[:30]
    edited[edited.sum(1) == 0, 1] = 1
    _list_dataset(tmp_path, edited)
    with pytest.warns(UserWarning, match="made for other inputs"):
        again = cached_run(cfg, lambda: synthetic_result(cfg, calls), verbose=False)
    assert not again.cached and len(calls) == 2
    fresh = synthetic_result(cfg)
    assert again.metrics == fresh.metrics and again.metrics["map"] != first.metrics["map"]
    faults.detected()


# ---------------------------------------------------------------------------------------------
# trunk taps (finding 3)
# ---------------------------------------------------------------------------------------------

SUBSET = {"query": 20, "database": 100, "train": 40}


def _trunk(seed=0):
    from hashlib_core.models import dshfmdf

    torch.manual_seed(seed)
    return dshfmdf(backbone="vgg11_bn", width=0.0625, bits=12, input_size=32).eval()


def _taps(model, part, key):
    from hashlib_core.trunk import trunk_taps

    got = trunk_taps(model.backbone, part, key, 32, batch_size=16, progress=False)
    return {k: np.asarray(v[np.arange(len(part))]) for k, v in got.items()}


def _zero_64k(path):
    data = bytearray(path.read_bytes())
    start = max(128, len(data) // 2 - 32768)
    data[start:start + 65536] = bytes(len(data[start:start + 65536]))
    path.write_bytes(bytes(data))


def _change_row(path):
    arr = np.load(path, mmap_mode="r+")
    arr[1] = arr[0]
    arr.flush()
    del arr


def _edit_meta(path):
    meta = json.loads(path.read_text())
    meta["taps"]["fc1"] = [meta["n"], 7]
    path.write_text(json.dumps(meta))


TRUNK_FAULTS = {
    "fc1.npy truncated": ("fc1.npy", lambda p: _tamper(p, "truncate")),
    "conv4.npy 64 KiB zeroed": ("conv4.npy", _zero_64k),
    "fc1.npy a row changed": ("fc1.npy", _change_row),
    "conv3.npy bit flip": ("conv3.npy", lambda p: _tamper(p, "bitflip")),
    "conv5.npy deleted": ("conv5.npy", lambda p: _tamper(p, "delete")),
    "meta.json edited": ("meta.json", _edit_meta),
    "meta.json = []": ("meta.json", lambda p: p.write_text("[]")),
    "SHA256SUMS deleted": ("SHA256SUMS", lambda p: _tamper(p, "delete")),
}


@pytest.mark.parametrize("fault", sorted(TRUNK_FAULTS))
def test_trunk_cache_file_damaged_is_recomputed(cache, faults, caplog, fault):
    from hashlib_core.data import get_protocol
    from hashlib_core.trunk import trunk_key

    split = get_protocol("cifar10-dshfmdf", seed=0, subset=SUBSET)
    model = _trunk()
    key = trunk_key(model.config, 32, 1)
    clean = _taps(model, split.query, key)
    (folder,) = [p for p in (cache / "trunk" / key).iterdir() if p.is_dir()]
    name, damage = TRUNK_FAULTS[fault]
    time.sleep(0.02)  # a later write has a later mtime (the once-per-process verification's key)
    faults.inject(f"trunk {fault}")
    damage(folder / name)
    caplog.set_level(logging.WARNING, logger=CACHE_LOG)
    again = _taps(model, split.query, key)
    assert set(again) == set(clean) and all(np.array_equal(again[k], clean[k]) for k in clean)
    assert len(_misses(caplog)) == 1
    assert [p.name for p in (cache / "trunk" / key).iterdir() if p.name.startswith(".tmp")] == []
    faults.detected()


# ---------------------------------------------------------------------------------------------
# shallow features (finding 3)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["truncate", "bitflip", "rows", "delete-checksum"])
def test_feature_cache_damaged_is_recomputed(cache, faults, caplog, how):
    from hashlib_core.baselines.features import feature_cache_dir, features_for
    from hashlib_core.data import get_protocol

    split = get_protocol("cifar10-dshfmdf", seed=0, subset=SUBSET)
    clean = features_for(split.query, "hog-color", whole_base_fraction=1.0)
    (path,) = feature_cache_dir("hog-color").glob("*.npy")
    faults.inject(f"hog-color features {how}")
    if how == "rows":  # same shape, finite, other values: what the shape check let through
        arr = np.load(path)
        arr[[0, 1]] = arr[[1, 0]]
        np.save(path, arr)
    elif how == "delete-checksum":
        path.with_name(path.name + ".sha256").unlink()
    else:
        _tamper(path, how)
    caplog.set_level(logging.WARNING, logger=CACHE_LOG)
    again = features_for(split.query, "hog-color", whole_base_fraction=1.0)
    assert np.array_equal(again, clean)
    assert len(_misses(caplog)) == 1
    assert sha256_file(path) == path.with_name(path.name + ".sha256").read_text().strip()
    faults.detected()
