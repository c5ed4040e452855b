"""MeanThresholdQuantizer (paper 003 §III) and SignQuantizer."""
import numpy as np
import pytest
import torch

from hashlib_core.codes import sign
from hashlib_core.quantizers import MeanThresholdQuantizer, SignQuantizer


def test_threshold_is_the_training_mean_and_the_comparison_is_strict():
    train = np.array([[0.0, 1.0, -2.0], [2.0, 3.0, 2.0], [1.0, 2.0, 0.0]], dtype=np.float32)
    q = MeanThresholdQuantizer().fit(train)
    np.testing.assert_allclose(q.threshold_, [1.0, 2.0, 0.0])
    # the middle row sits exactly on the threshold: every bit is -1 (ties go to -1)
    codes = q.encode(train)
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(codes, [[-1, -1, -1], [1, 1, 1], [-1, -1, -1]])
    # sign would send ties (0) to +1; the mean threshold does not
    assert sign(np.zeros((1, 3))).tolist() == [[1, 1, 1]]
    assert MeanThresholdQuantizer().fit(np.zeros((4, 3))).encode(np.zeros((1, 3))).tolist() == [[-1, -1, -1]]


def test_threshold_comes_from_the_training_codes_only():
    rng = np.random.default_rng(0)
    train = rng.normal(loc=[5.0, -3.0], size=(1000, 2))
    other = rng.normal(loc=[5.0, -3.0], size=(200, 2)) + 1.0  # shifted set: mostly above the training mean
    q = MeanThresholdQuantizer().fit(train)
    np.testing.assert_allclose(q.threshold_, train.mean(axis=0))
    assert (q.encode(other) == 1).mean() > 0.75
    # on the training set itself a symmetric distribution gives balanced bits
    assert abs((q.encode(train) == 1).mean() - 0.5) < 0.05
    # sign would put nearly every first bit at +1 (values ≈ 5)
    assert (SignQuantizer().fit(train).encode(train)[:, 0] == 1).mean() > 0.99


def test_torch_input_and_float32_ties():
    u = torch.tensor([[0.1, 0.2], [0.3, 0.4]], dtype=torch.float32)
    q = MeanThresholdQuantizer().fit(u)
    np.testing.assert_array_equal(q.encode(u), [[-1, -1], [1, 1]])


def test_sign_quantizer_is_codes_sign():
    u = np.array([[-1.5, 0.0, 2.0], [0.3, -0.0, -7.0]])
    np.testing.assert_array_equal(SignQuantizer().fit(u).encode(u), sign(u))


@pytest.mark.parametrize("bad, match", [
    (np.zeros(3), "2-D"),
    (np.zeros((2, 0)), "zero bits"),
    (np.array([[np.nan, 1.0]]), "NaN"),
    (np.zeros((2, 2), dtype=bool), "real-valued"),
])
def test_bad_codes_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        MeanThresholdQuantizer().fit(bad)
    with pytest.raises(ValueError, match=match):
        SignQuantizer().encode(bad)


def test_encode_needs_fit_and_matching_bits():
    with pytest.raises(ValueError, match="before fit"):
        MeanThresholdQuantizer().encode(np.zeros((2, 3)))
    q = MeanThresholdQuantizer().fit(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="fitted on 3"):
        q.encode(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="no training codes"):
        MeanThresholdQuantizer().fit(np.zeros((0, 3)))
