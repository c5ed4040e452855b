"""Perturbations of uint8 images and code_stability."""
import numpy as np
import pytest
from PIL import Image

from hashlib_core.robustness import (PERTURBATIONS, brightness_shift, center_crop_resize, code_stability, jpeg)


def _photos(n=4, size=32):
    from skimage import data

    src = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
    return np.stack([np.asarray(Image.fromarray(src[i % 4]).resize((size, size), Image.BILINEAR)) for i in range(n)])


def test_jpeg_round_trip_loses_more_at_lower_quality():
    x = _photos()
    err = {}
    for q in (95, 75, 50):
        y = jpeg(x, q)
        assert y.dtype == np.uint8 and y.shape == x.shape
        err[q] = np.abs(y.astype(float) - x).mean()
    assert 0 < err[95] < err[75] < err[50]
    assert np.array_equal(PERTURBATIONS["jpeg50"](x), jpeg(x, 50))
    g = x[..., :1]
    assert jpeg(g, 75).shape == g.shape


def test_center_crop_resize():
    x = _photos()
    assert np.array_equal(center_crop_resize(x, 1.0), x)
    y = center_crop_resize(x, 0.9)
    assert y.shape == x.shape and y.dtype == np.uint8 and not np.array_equal(y, x)
    flat = np.full((2, 32, 32, 3), 77, np.uint8)
    assert np.array_equal(center_crop_resize(flat, 0.9), flat)
    with pytest.raises(ValueError, match="keep"):
        center_crop_resize(x, 0.0)


def test_brightness_shift_clips():
    x = np.array([[[[0, 100, 250]]]], dtype=np.uint8)
    assert brightness_shift(x, 20).tolist() == [[[[20, 120, 255]]]]
    assert brightness_shift(x, -20).tolist() == [[[[0, 80, 230]]]]


def _pixel_code(images):
    """A code that reads 8 pixels of channel 0 against 127.5: brightness shifts flip known bits."""
    v = images[:, 0, :8, 0].astype(float)
    return np.where(v > 127.5, 1, -1).astype(np.int8)


def test_code_stability_counts_flipped_bits():
    x = np.zeros((2, 4, 8, 3), np.uint8)
    x[0, 0, :, 0] = [100, 110, 120, 130, 140, 90, 10, 255]   # +20 flips 110 and 120: 2 bits
    x[1, 0, :, 0] = [0, 0, 0, 0, 0, 0, 0, 115]               # +20 flips 115: 1 bit
    got = code_stability(_pixel_code, x, ["brighter20"])
    assert got == {"brighter20": pytest.approx(1.5)}
    const = code_stability(lambda im: np.ones((im.shape[0], 4), np.int8), _photos(), None)
    assert set(const) == set(PERTURBATIONS) and all(v == 0.0 for v in const.values())
    custom = code_stability(_pixel_code, x, {"invert": lambda im: 255 - im})
    assert custom["invert"] == 8.0


def test_code_stability_refuses_bad_input():
    x = _photos(2)
    with pytest.raises(ValueError, match="unknown perturbations"):
        code_stability(_pixel_code, x, ["blur"])
    with pytest.raises(ValueError, match="uint8"):
        code_stability(_pixel_code, x.astype(np.float32), None)
    with pytest.raises(ValueError, match="codes"):
        code_stability(lambda im: np.zeros((im.shape[0], 4)), x, ["jpeg75"])
