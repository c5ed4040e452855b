"""Shallow baselines (hashlib_core.baselines.shallow / features): ITQ's quantization loss does not
increase, SH/PCAH/LSH give balanced bits on Gaussian data, SDH and KSH beat LSH on a small
separable problem, every encoder is deterministic given its seed, the hand-crafted descriptor and
its cache, and their runs through the one runner (registered methods, cached like every run)."""
import os
from pathlib import Path

import numpy as np
import pytest

from hashlib_core import metrics, paths
from hashlib_core.methods import SHALLOW_METHODS
from hashlib_core.runner import make_config, run
from hashlib_core.baselines.shallow import ITQ, SHALLOW, make_shallow


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster and immune to a busy machine."""
    import scipy.linalg  # noqa: F401 -- load scipy's own OpenBLAS before limiting it
    import scipy.optimize  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _blobs(n, d=24, classes=4, seed=0, spread=1.6):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(123).normal(size=(classes, d))
    y = rng.integers(0, classes, n)
    return centers[y] + spread * rng.normal(size=(n, d)), y


def test_itq_quantization_loss_never_increases():
    X, _ = _blobs(800, d=32)
    m = ITQ(n_iter=30).fit(X, bits=16, seed=0)
    h = m.loss_history_
    assert len(h) == 31
    assert np.all(np.diff(h) <= 1e-9 * h[0])
    assert h[-1] < h[0]
    B = m.encode(X).astype(float)
    V = (X - m.mean_) @ m.W_  # = PCA projection @ R
    assert ((B - V) ** 2).sum() == pytest.approx(h[-1], rel=1e-9)


@pytest.mark.parametrize("name", ["sh", "pcah", "lsh"])
def test_balanced_bits_on_gaussian_data(name):
    rng = np.random.default_rng(5)
    d, bits = 32, 16
    scales = np.linspace(1.0, 1.5, d)  # mildly anisotropic: SH picks one k=1 mode per direction
    X = rng.normal(size=(4000, d)) * scales
    Xt = rng.normal(size=(4000, d)) * scales
    m = make_shallow(name).fit(X, bits=bits, seed=0)
    frac = (m.encode(Xt) > 0).mean(axis=0)
    assert frac.shape == (bits,)
    if name == "sh":
        # SH thresholds each principal direction at the midpoint of the observed range, which
        # differs from the mean by the noise of the extremes: balanced on average, each bit roughly
        assert np.all(m.ks_ == 1)
        assert abs(frac.mean() - 0.5) < 0.03 and np.all(np.abs(frac - 0.5) < 0.2), frac
    else:
        assert np.all(np.abs(frac - 0.5) < 0.05), frac


def test_sdh_and_ksh_beat_lsh_on_a_separable_problem():
    Xtr, ytr = _blobs(600, seed=1)
    Xq, yq = _blobs(100, seed=2)
    Xd, yd = _blobs(800, seed=3)
    maps = {}
    for name in ("lsh", "sdh", "ksh"):
        params = {"n_labelled": 600} if name == "ksh" else {}
        m = make_shallow(name, **params).fit(Xtr, ytr, bits=16, seed=0)
        maps[name] = metrics.mean_average_precision(m.encode(Xq), m.encode(Xd), yq, yd)
    assert maps["sdh"] > maps["lsh"] + 0.15, maps
    assert maps["ksh"] > maps["lsh"] + 0.15, maps


def test_supervised_methods_need_labels_and_accept_multi_hot():
    X, y = _blobs(200)
    with pytest.raises(ValueError, match="supervised"):
        make_shallow("sdh").fit(X, bits=8)
    multi = np.eye(4, dtype=np.uint8)[y]
    multi[::3, (y[::3] + 1) % 4] = 1
    for name in ("sdh", "ksh"):
        codes = make_shallow(name).fit(X, multi, bits=8, seed=0).encode(X)
        assert codes.shape == (200, 8) and set(np.unique(codes)) <= {-1, 1}


@pytest.mark.parametrize("name", SHALLOW_METHODS)
def test_encoders_are_deterministic_given_seed(name):
    X, y = _blobs(300, seed=4)
    a = make_shallow(name).fit(X, y, bits=12, seed=7).encode(X)
    b = make_shallow(name).fit(X, y, bits=12, seed=7).encode(X)
    assert a.dtype == np.int8 and a.shape == (300, 12) and set(np.unique(a)) <= {-1, 1}
    assert np.array_equal(a, b)
    if name in ("lsh", "itq"):  # randomised: another seed gives other codes
        assert not np.array_equal(a, make_shallow(name).fit(X, y, bits=12, seed=8).encode(X))


def test_hog_color_descriptor():
    from hashlib_core.baselines.features import hog_color

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    large = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    f32, f64 = hog_color(small), hog_color(large)
    assert f32.shape == (3, 388) and f64.shape == (2, 388)  # fixed 4x4 cell grid at any size
    assert np.allclose(np.linalg.norm(f32[:, :324], axis=1), 1) and np.allclose(np.linalg.norm(f32[:, 324:], axis=1), 1)
    assert np.array_equal(hog_color(small), f32)
    red = np.zeros((1, 32, 32, 3), np.uint8)
    red[..., 0] = 255
    assert hog_color(red)[0, 324 + 3 * 16] == pytest.approx(1.0)  # all mass in the (3,0,0) colour bin


def test_gray_minmax_descriptor_is_the_selfsup_networks_input():
    """``gray-minmax`` is paper 003's input, flattened: luminance, per-image min-max, at the
    native size or resized (``@<px>``)."""
    from hashlib_core.baselines.features import descriptor_function, gray_minmax
    from hashlib_core.data.grayscale import LUMA_WEIGHTS

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    f = gray_minmax(images)
    assert f.shape == (4, 1024) and f.dtype == np.float32
    assert np.allclose(f.min(axis=1), 0) and np.allclose(f.max(axis=1), 1)
    luma = images.astype(np.float64) @ np.array(LUMA_WEIGHTS)   # the direct computation
    lo, hi = luma.min(axis=(1, 2), keepdims=True), luma.max(axis=(1, 2), keepdims=True)
    assert np.allclose(f.reshape(4, 32, 32), (luma - lo) / (hi - lo), atol=1e-5)
    assert descriptor_function("gray-minmax@16")(images).shape == (4, 256)
    assert np.array_equal(descriptor_function("gray-minmax@32")(images), f)   # native size: no resize
    assert descriptor_function("hog-color@16") is None   # only gray-minmax takes a size
    assert descriptor_function("lite0-fc1") is None      # a trunk feature
    with pytest.raises(ValueError, match="integer >= 8"):
        descriptor_function("gray-minmax@4")
    with pytest.raises(ValueError, match="unknown features 'hog-color@16'"):
        _shallow_config("itq", features="hog-color@16")


def test_features_are_cached_per_item_set(tmp_path, monkeypatch):
    from hashlib_core.baselines import features as feat
    from hashlib_core.data.sources import ArraySource

    monkeypatch.setenv("HASHLIB_CACHE", str(tmp_path))
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    src = ArraySource(base, np.arange(5, 12), np.zeros(7, np.int64), ["a"])
    calls = []
    monkeypatch.setitem(feat.FEATURES, "hog-color", lambda im: (calls.append(len(im)), feat.hog_color(im))[1])
    f1 = feat.features_for(src)
    f2 = feat.features_for(src)
    assert np.array_equal(f1, f2) and calls == [7]  # second call read from disk
    assert np.array_equal(f1, feat.hog_color(base[5:12]))
    big = ArraySource(base, np.arange(0, 30, 2), np.zeros(15, np.int64), ["a"])
    assert np.array_equal(feat.features_for(big), feat.hog_color(base)[0:30:2])  # whole-base cache
    assert calls[-1] == 40
    assert len(list((tmp_path / "features").rglob("*.npy"))) == 2


def _shallow_config(name, bits=12, features=None, profile="smoke"):
    return make_config(profile, name, "cifar10-dshfmdf", bits, 0, model={"features": features} if features else None)


def test_a_shallow_run_is_cached_and_reproducible(isolated_cache):
    config = _shallow_config("itq")
    a = run(config, verbose=False)
    b = run(config, verbose=False)
    c = run(config, verbose=False, use_cache=False)
    assert not a.cached and b.cached
    assert np.array_equal(a.db_codes, b.db_codes) and np.array_equal(a.db_codes, c.db_codes)
    assert a.metrics["map"] == pytest.approx(b.metrics["map"])
    assert a.config.model["features"] == "hog-color" and a.query_codes.shape == (50, 12)
    assert a.key != run(_shallow_config("sdh"), verbose=False).key


def test_profile_settings_do_not_reach_a_shallow_method():
    """The cpu profile's width, weights, schedule and input size are deep-network settings: a
    shallow method's config holds its own hyper-parameters and its descriptor, nothing else."""
    config = _shallow_config("itq", profile="cpu")
    assert set(config.model) == {"features", "features_version", "n_iter"}
    assert config.loss == {} and config.train == {} and config.input_size == 0
    with pytest.raises(ValueError, match="no model setting"):
        make_config("cpu", "itq", "cifar10-dshfmdf", 12, 0, model={"width": 0.5})
    with pytest.raises(ValueError, match="hyper-parameters as model settings"):
        make_config("cpu", "itq", "cifar10-dshfmdf", 12, 0, loss={"n_iter": 3})
    with pytest.raises(ValueError, match="does not apply"):
        make_config("cpu", "itq", "cifar10-dshfmdf", 12, 0, recipe="lite0")


def test_lite0_features_are_the_frozen_trunks_fc1_and_shared_with_deep_runs(isolated_cache):
    """"lite0-fc1@32" = the pooled feature of the ImageNet Lite0 at 32 px, read through the trunk
    cache: equal to the backbone's own fc1 output, and found again (no second pass) by the key a
    deep lite0 run of the same trunk uses."""
    import torch

    from hashlib_core.baselines import features as feat
    from hashlib_core.data import get_protocol
    from hashlib_core.data.transforms import to_tensor_batch
    from hashlib_core.models import BACKBONES
    from hashlib_core.trunk import trunk_key, trunk_taps

    split = get_protocol("cifar10-dshfmdf", seed=0, subset={"query": 12, "database": 40, "train": 20})
    got = feat.features_for(split.query, "lite0-fc1@32")
    backbone = BACKBONES["efficientnet_lite0"](width=1.0, input_size=32, conv_taps=(), with_global=True,
                                               weights="imagenet", dropout=0.0, progress=False).eval()
    with torch.inference_mode():
        direct = backbone(to_tensor_batch(split.query.get_batch(np.arange(12)), 32))["fc1"].numpy()
    assert got.dtype == np.float32 and got.shape == (12, 1280)
    np.testing.assert_allclose(got, direct, rtol=2e-3, atol=2e-3)  # the cache stores float16
    folders = sorted(p.name for p in (isolated_cache / "trunk").glob("*/*"))
    key = trunk_key({"backbone": "efficientnet_lite0", "width": 1.0, "weights": "imagenet"}, 32,
                    torch.get_num_threads())
    again = trunk_taps(backbone, split.query, key, 32, progress=False)["fc1"]
    assert sorted(p.name for p in (isolated_cache / "trunk").glob("*/*")) == folders
    np.testing.assert_array_equal(np.asarray(again[np.arange(12)], dtype=np.float32), got)


def test_protocol_readings_reach_shallow_runs_only_on_their_protocol(isolated_cache):
    """On paper 003's protocol a shallow run reports its Table I / II readings and, on a
    hand-crafted descriptor, its code stability; elsewhere its metrics are the standard ones."""
    from hashlib_core.methods.base import (PROTOCOL_READINGS, ProtocolReadings, protocol_readings,
                                           register_protocol_readings)

    assert protocol_readings(type("S", (), {"name": "cifar10-selfsup:val"})()) is PROTOCOL_READINGS["cifar10-selfsup"]
    with pytest.raises(ValueError, match="already has readings"):
        register_protocol_readings("cifar10-selfsup", ProtocolReadings(lambda q, d, s: {}))
    plain = run(_shallow_config("lsh", features="gray-minmax@32"), verbose=False).metrics
    assert not any(k.startswith(("main.", "collision", "stability.")) for k in plain)
    selfsup = run(make_config("smoke", "lsh", "cifar10-selfsup", 12, 0, model={"features": "gray-minmax@32"}),
                  verbose=False).metrics
    assert {"main.precision", "collision_eval.items_sharing", "stability.jpeg75"} <= set(selfsup)
    on_hog = run(make_config("smoke", "lsh", "cifar10-selfsup", 12, 0), verbose=False).metrics
    assert "main.precision" in on_hog and 0 <= on_hog["stability.crop90"] <= 12


def test_unknown_or_malformed_features_fail_before_any_work():
    from hashlib_core.baselines.features import trunk_feature_spec

    with pytest.raises(ValueError, match="unknown features 'gist'"):
        _shallow_config("itq", features="gist")
    with pytest.raises(ValueError, match="integer >= 32"):
        _shallow_config("itq", features="lite0-fc1@big")
    assert trunk_feature_spec("hog-color") is None
    assert trunk_feature_spec("lite0-fc1")[1:] == ("fc1", 224)
    assert trunk_feature_spec("lite0-fc1@64")[2] == 64
    a = _shallow_config("itq", features="lite0-fc1")
    assert a.key() != _shallow_config("itq").key()


def test_shallow_rows_say_which_features_they_used():
    from hashlib_core.baselines.tables import inputs_of

    assert inputs_of(_shallow_config("sh")).startswith("hog-color")
    note = inputs_of(_shallow_config("sh", features="lite0-fc1@32"))
    assert note.startswith("lite0-fc1") and "32px" in note and "224px" not in note
    deep = inputs_of(make_config("smoke", "dpsh", "cifar10-dshfmdf", 12, 0, recipe="lite0"))
    assert "efficientnet_lite0" in deep and "frozen trunk" in deep


def test_run_methods_runs_shallow_methods_once_per_descriptor_and_deep_ones_once(isolated_cache):
    from hashlib_core.baselines.tables import run_methods

    with pytest.raises(ValueError, match="unknown features 'gist'"):  # checked before any run
        run_methods("smoke", ["lsh", "csq"], "cifar10-dshfmdf", [12], [0], features=["hog-color", "gist"])
    assert not list(isolated_cache.glob("runs/*"))
    res = run_methods("smoke", ["lsh", "csq"], "cifar10-dshfmdf", [12], [0], features=["hog-color", "lite0-fc1@32"])
    assert [(r.config.method, r.config.model.get("features")) for r in res] == [
        ("lsh", "hog-color"), ("csq", None), ("lsh", "lite0-fc1@32")]
    one = run_methods("smoke", ["lsh"], "cifar10-dshfmdf", [12], [0], features="hog-color")
    assert one[0].key == res[0].key
