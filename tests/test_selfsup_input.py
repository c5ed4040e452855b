"""Paper 003's input: grayscale, resized, per-image min-max to [0, 1]."""
import numpy as np
import pytest
import torch

from hashlib_core.data.grayscale import LUMA_WEIGHTS, grayscale_minmax_batch


def _images(n=3, size=32, seed=0):
    return np.random.default_rng(seed).integers(20, 200, size=(n, size, size, 3), dtype=np.uint8)


def test_shape_range_and_luminance_at_native_size():
    x = _images()
    y = grayscale_minmax_batch(x, 32)
    assert y.dtype == torch.float32 and tuple(y.shape) == (3, 1, 32, 32)
    lum = (x.astype(np.float64) / 255 * np.array(LUMA_WEIGHTS)).sum(axis=-1)
    lo, hi = lum.min(axis=(1, 2), keepdims=True), lum.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y[:, 0].numpy(), (lum - lo) / (hi - lo), atol=1e-5)
    assert torch.all(y.amin(dim=(1, 2, 3)) == 0) and torch.allclose(y.amax(dim=(1, 2, 3)), torch.ones(3))


def test_resize_and_per_image_independence():
    x = _images(4)
    y = grayscale_minmax_batch(x, 64)
    assert tuple(y.shape) == (4, 1, 64, 64)
    assert float(y.min()) == 0.0 and float(y.max()) == pytest.approx(1.0)
    # an image's input does not depend on the other images of the batch
    torch.testing.assert_close(grayscale_minmax_batch(x[2:3], 64), y[2:3])


def test_min_max_removes_an_unclipped_brightness_shift_and_constant_images_become_zero():
    x = _images()
    torch.testing.assert_close(grayscale_minmax_batch(x + 30, 32), grayscale_minmax_batch(x, 32), atol=1e-5, rtol=0)
    flat = np.full((1, 8, 8, 3), 90, np.uint8)
    assert float(grayscale_minmax_batch(flat, 8).abs().max()) == 0.0


def test_global_scope_is_the_uint8_range_and_gray_input_works():
    x = _images()
    g = grayscale_minmax_batch(x[..., :1], 32, scope="global")
    np.testing.assert_allclose(g[:, 0].numpy(), x[..., 0] / 255.0, atol=1e-6)


@pytest.mark.parametrize("bad", [np.zeros((2, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8),
                                 np.zeros((2, 8, 8, 4), np.uint8)])
def test_bad_images_are_refused(bad):
    with pytest.raises(ValueError, match="uint8"):
        grayscale_minmax_batch(bad, 8)


def test_bad_size_and_scope():
    with pytest.raises(ValueError, match="size"):
        grayscale_minmax_batch(_images(), 0)
    with pytest.raises(ValueError, match="scope"):
        grayscale_minmax_batch(_images(), 32, scope="dataset")
