"""Paper 003's network metrics (hashlib_core.methods.selfsup): reconstruction error against a direct
computation, the stored reconstructions, the code stability with the run's quantizer, and the run
itself carrying them (cached with it)."""
import numpy as np
import pytest
import torch

from hashlib_core.data.grayscale import grayscale_minmax_batch
from hashlib_core.methods import selfsup
from hashlib_core.models.selfsup import cvae
from hashlib_core.quantizers import MeanThresholdQuantizer


def _images(n=12, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def test_network_metrics_match_a_direct_computation():
    torch.manual_seed(0)
    model = cvae(bits=16, input_size=32).eval()
    images = _images()
    x = grayscale_minmax_batch(images, 32)
    with torch.no_grad():
        out = model(x)
    quant = MeanThresholdQuantizer().fit(out.u.numpy())
    m = selfsup.network_metrics(model, quant, images, 32, n_examples=3, n_stability=5, batch=5)
    per_image = ((out.recon - x) ** 2).flatten(1).mean(1).double().numpy()
    assert m["recon.mse_mean"] == pytest.approx(per_image.mean(), rel=1e-5)
    assert m["recon.mse_sd"] == pytest.approx(per_image.std(ddof=1), rel=1e-4)
    assert m["recon.sse_mean"] == pytest.approx(per_image.mean() * 1024, rel=1e-5)
    assert m["recon.sse128_mean"] == pytest.approx(per_image.mean() * 128 ** 2, rel=1e-5)
    ex = np.asarray(m["recon.examples"])
    assert ex.shape == (3, 1024) and ex.min() >= 0 and ex.max() <= 255
    assert np.array_equal(ex[0], np.rint(out.recon[0, 0].clamp(0, 1).numpy() * 255).ravel())
    assert m["stability.n_images"] == 5
    for k in ("jpeg75", "jpeg50", "crop90", "brighter20"):
        assert 0 <= m[f"stability.{k}"] <= 16


def test_readings_carry_no_network_metrics_and_the_network_hook_measures_the_queries():
    class Part:
        def __init__(self, n, labels):
            self.labels = labels
            self._n = n

        def __len__(self):
            return self._n

        def get_batch(self, idx):
            return _images(self._n)[idx]

    class Split:
        checksum = "abc"
        query = Part(6, np.arange(6) % 2)
        database = Part(10, np.arange(10) % 2)

    class Config:
        input_size, device = 32, "cpu"

    rng = np.random.default_rng(1)
    q, d = np.where(rng.random((6, 16)) > 0.5, 1, -1), np.where(rng.random((10, 16)) > 0.5, 1, -1)
    plain = selfsup.readings_metrics(q, d, Split())
    assert "main.precision" in plain and "collision_eval.items_sharing" in plain
    assert not any(k.startswith(("recon.", "stability.")) for k in plain)
    torch.manual_seed(0)
    model = cvae(bits=16, input_size=32)
    quant = MeanThresholdQuantizer().fit(rng.normal(size=(4, 16)))
    hooked = selfsup.query_network_metrics(model, quant, Config(), Split())
    assert hooked == selfsup.network_metrics(model, quant, _images(6), 32)  # the split's 6 queries
    assert hooked["recon.n_images"] == 6
    from hashlib_core.methods import get_method

    for name in selfsup.SELFSUP_METHODS:  # the runner calls it with the trained network and quantizer
        assert get_method(name).network_metrics == (selfsup.query_network_metrics,)


def test_a_selfsup_run_carries_its_network_metrics(isolated_cache):
    from hashlib_core.runner import load_cached, make_config, run

    config = make_config("smoke", "cvae", "cifar10-selfsup", 16, 0)
    r = run(config, progress=False, verbose=False)
    assert r.config.version == 2
    for k in ("recon.mse_mean", "recon.sse128_mean", "stability.jpeg75", "collision_eval.items_sharing",
              "nn_label_self.precision"):
        assert np.isfinite(r.metrics[k]), k
    assert len(r.metrics["recon.examples"]) == selfsup.N_EXAMPLES
    again = load_cached(config)
    assert again is not None and again.metrics["recon.mse_mean"] == r.metrics["recon.mse_mean"]
