"""Frozen-trunk training (hashlib_core.trunk): cached taps are the trunk's taps, are reused, and a
frozen run trains the head only, deterministically."""
import dataclasses
import numpy as np
import pytest
import torch

from hashlib_core.data import get_protocol
from hashlib_core.data.transforms import to_tensor_batch
from hashlib_core.models import dshfmdf
from hashlib_core.runner import make_config, run
from hashlib_core.trunk import IndexedRows, TapInputs, trunk_key, trunk_taps

SUBSET = {"query": 20, "database": 120, "train": 40}


def _model(input_size=32):
    torch.manual_seed(0)
    return dshfmdf(backbone="vgg11_bn", width=0.0625, bits=12, input_size=input_size).eval()


def test_cached_taps_equal_the_trunk_and_are_reused(isolated_cache):
    split = get_protocol("cifar10-dshfmdf", seed=0, subset=SUBSET)
    model = _model()
    key = trunk_key(model.config, 32, 1)
    taps = trunk_taps(model.backbone, split.query, key, 32, batch_size=7, progress=False)
    with torch.inference_mode():
        direct = model.backbone(to_tensor_batch(split.query.get_batch(np.arange(len(split.query))), 32))
    assert set(taps) == set(direct)
    for name, t in direct.items():
        np.testing.assert_allclose(np.asarray(taps[name][np.arange(len(split.query))], dtype=np.float32),
                                   t.numpy(), rtol=2e-3, atol=2e-3)  # stored as float16
    folders = list((isolated_cache / "trunk" / key).iterdir())
    assert len(folders) == 1 and not folders[0].name.startswith(".tmp")
    # a second call reads the cache: a different (random) trunk would give different taps if it ran
    again = trunk_taps(_model_with_seed(1).backbone, split.query, key, 32, progress=False)
    for name in taps:
        np.testing.assert_array_equal(np.asarray(again[name][np.arange(len(split.query))]),
                                      np.asarray(taps[name][np.arange(len(split.query))]))


def _model_with_seed(seed):
    torch.manual_seed(seed)
    return dshfmdf(backbone="vgg11_bn", width=0.0625, bits=12, input_size=32).eval()


def test_flipped_view_is_the_trunk_of_the_mirrored_images(isolated_cache):
    split = get_protocol("cifar10-dshfmdf", seed=0, subset=SUBSET)
    model = _model()
    key = trunk_key(model.config, 32, 1)
    flipped = trunk_taps(model.backbone, split.query, key, 32, flip=True, progress=False)
    with torch.inference_mode():
        x = to_tensor_batch(split.query.get_batch(np.arange(5)), 32)
        direct = model.backbone(x.flip(3))
    np.testing.assert_allclose(np.asarray(flipped["fc1"][np.arange(5)], dtype=np.float32),
                               direct["fc1"].numpy(), rtol=2e-3, atol=2e-3)


def test_indexed_rows_read_lazily_and_correctly():
    base = np.arange(30, dtype=np.float16).reshape(10, 3)
    rows = IndexedRows(base, np.array([7, 2, 5]))
    assert rows.shape == (3, 3) and len(rows) == 3
    np.testing.assert_array_equal(rows[np.array([2, 0])], base[[5, 7]])


def test_tap_inputs_pick_views_by_generator_and_view_zero_without():
    a = {"fc1": np.zeros((6, 2), np.float16)}
    b = {"fc1": np.ones((6, 2), np.float16)}
    part = TapInputs(np.arange(6), [a, b])
    idx = np.arange(6)
    assert part.inputs(idx)["fc1"].sum() == 0  # encoding: the unflipped view
    g1 = part.inputs(idx, torch.Generator().manual_seed(3))["fc1"]
    g2 = part.inputs(idx, torch.Generator().manual_seed(3))["fc1"]
    assert torch.equal(g1, g2) and 0 < g1[:, 0].sum() < 6
    with pytest.raises(ValueError, match="labels"):
        TapInputs(np.arange(5), [a])


def test_frozen_run_trains_only_the_head_and_is_deterministic(isolated_cache, monkeypatch):
    from hashlib_core import methods

    seen = {}
    build = methods.METHODS["dshfmdf"].build_model

    def spy(config, split):
        model = build(config, split)
        seen["model"] = model
        seen["trunk0"] = {k: v.clone() for k, v in model.backbone.state_dict().items()}
        return model

    monkeypatch.setitem(methods.METHODS, "dshfmdf", dataclasses.replace(methods.METHODS["dshfmdf"],
                                                                               build_model=spy))
    config = make_config("smoke", "dshfmdf", "cifar10-dshfmdf", 12, 0, recipe="lite0",
                         train={"epochs": 8})
    assert config.train["freeze_backbone"] is True and config.model["weights"] == "imagenet"
    first = run(config, progress=False, use_cache=False, verbose=False)
    after = seen["model"].backbone.state_dict()
    for k, v in seen["trunk0"].items():  # weights and batch-norm statistics untouched
        assert torch.equal(v, after[k]), k
    again = run(config, progress=False, use_cache=False, verbose=False)  # taps now from the cache
    np.testing.assert_array_equal(first.db_codes, again.db_codes)
    np.testing.assert_array_equal(first.query_codes, again.query_codes)
    assert first.history[-1]["loss"] < first.history[0]["loss"]  # the head does learn
    assert first.timings["trunk_s"] > again.timings["trunk_s"]


def test_a_cache_with_more_taps_serves_a_variant_needing_fewer(isolated_cache):
    split = get_protocol("cifar10-dshfmdf", seed=0, subset=SUBSET)
    torch.manual_seed(0)
    fc1_only = dshfmdf(backbone="vgg11_bn", width=0.0625, bits=12, input_size=32, variant="fc1").eval()
    key = trunk_key(fc1_only.config, 32, 1)
    assert set(trunk_taps(fc1_only.backbone, split.query, key, 32, progress=False)) == {"fc1"}
    fused = _model()
    assert key == trunk_key(fused.config, 32, 1)  # same trunk, same key
    taps = trunk_taps(fused.backbone, split.query, key, 32, progress=False)  # needs conv taps: computed
    assert set(taps) == {"conv3", "conv4", "conv5", "fc1"}
    assert len(list((isolated_cache / "trunk" / key).iterdir())) == 2
    trunk_taps(fc1_only.backbone, split.query, key, 32, progress=False)  # found, nothing new written
    assert len(list((isolated_cache / "trunk" / key).iterdir())) == 2


def test_dshc_and_baselines_train_on_the_same_cached_trunk(isolated_cache):
    from hashlib_core.papers import p004_dshc

    (fused,) = [run(make_config("smoke", "dshfmdf", "cifar10-dshfmdf", 12, 0, recipe="lite0"),
                    progress=False, verbose=False)]
    folders = {p.name for p in (isolated_cache / "trunk").glob("*/*")}
    (c,) = p004_dshc.configs("smoke", "dshc", "cifar10-dshfmdf", [10], [0], recipe="lite0", train={"augment": False})
    r = run(c, progress=False, verbose=False)
    d = run(make_config("smoke", "dpsh", "cifar10-dshfmdf", 12, 0, recipe="lite0", train={"augment": False}),
            progress=False, verbose=False)
    # fc1-only models found the fused model's taps: no new trunk pass, nothing new on disk
    assert {p.name for p in (isolated_cache / "trunk").glob("*/*")} == folders
    assert r.timings["trunk_s"] < fused.timings["trunk_s"] and d.timings["trunk_s"] < fused.timings["trunk_s"]
    assert r.db_codes.shape == (len(r.split().database), 10) and set(np.unique(r.db_codes)) <= {-1, 1}


def test_a_pass_waiting_on_another_process_says_so_without_machine_paths(isolated_cache, capsys):
    """Two processes computing the same taps: the second waits on the first's lock and says so in
    one log line naming the cache entry, not its path (stored notebooks hold no machine paths)."""
    import shutil
    import threading
    import time

    import filelock

    split = get_protocol("cifar10-dshfmdf", seed=0, subset=SUBSET)
    model = _model()
    key = trunk_key(model.config, 32, 1)
    trunk_taps(model.backbone, split.query, key, 32, progress=False)
    (lock_path,) = (isolated_cache / "locks" / "trunk" / key).glob("*.lock")
    shutil.rmtree(isolated_cache / "trunk" / key)  # so the next call must compute, not read
    capsys.readouterr()
    held = threading.Event()

    def other_process():  # a thread stands in for it: filelock refuses a second lock in one thread
        with filelock.FileLock(str(lock_path)):
            held.set()
            time.sleep(1.5)

    holder = threading.Thread(target=other_process)
    holder.start()
    held.wait()
    try:
        taps = trunk_taps(model.backbone, split.query, key, 32, progress=False)
    finally:
        holder.join()
    out = capsys.readouterr().out
    assert "another process is computing these trunk taps" in out and "waiting" in out
    assert str(isolated_cache) not in out
    assert set(taps) == set(model.backbone(to_tensor_batch(split.query.get_batch(np.arange(2)), 32)))
