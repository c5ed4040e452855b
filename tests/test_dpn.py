"""DPN (Fan et al., IJCAI 2020): polarization loss and target codes against their definitions."""
import numpy as np
import pytest
import torch

from hashlib_core.models import HashOutput
from hashlib_core.train import Batch
from hashlib_core.baselines.dpn import DPNCriterion, dpn_loss, dpn_target_codes, dpn_targets


def test_polarization_loss_matches_the_per_bit_hinge():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(6, 8, generator=g, dtype=torch.float64) * 1.5
    t = torch.where(torch.rand(6, 8, generator=g) < 0.5, -1.0, 1.0).double()
    for m in (0.0, 0.5, 1.0, 2.0):
        loss, terms = dpn_loss(u, t, margin=m)
        want = np.mean([max(m - float(u[i, k]) * float(t[i, k]), 0.0) for i in range(6) for k in range(8)])
        assert float(loss) == pytest.approx(want)
        frac = np.mean([float(u[i, k]) * float(t[i, k]) >= m for i in range(6) for k in range(8)])
        assert terms["polarized_fraction"] == pytest.approx(frac)


def test_loss_is_zero_beyond_the_margin_and_its_gradient_pushes_towards_the_target():
    t = torch.tensor([[1.0, -1.0, 1.0]])
    assert float(dpn_loss(torch.tensor([[1.0, -1.5, 3.0]]), t, margin=1.0)[0]) == 0.0
    u = torch.tensor([[0.2, 0.3, -0.4]], requires_grad=True)
    dpn_loss(u, t, margin=1.0)[0].backward()
    # descending the gradient moves every bit towards its target sign
    assert torch.all(-u.grad * t > 0)


def test_random_targets_have_half_their_bits_negative_and_follow_the_seed():
    a = dpn_target_codes(10, 32, seed=3)
    assert a.shape == (10, 32) and set(np.unique(a)) == {-1.0, 1.0}
    assert np.all((a == -1).sum(axis=1) == 16)
    np.testing.assert_array_equal(a, dpn_target_codes(10, 32, seed=3))
    assert not np.array_equal(a, dpn_target_codes(10, 32, seed=4))
    assert len({row.tobytes() for row in a}) == 10


def test_hadamard_targets_are_orthogonal_rows():
    h = dpn_target_codes(10, 16, kind="hadamard")
    gram = h @ h.T
    off = gram[~np.eye(10, dtype=bool)]
    # rows of H are orthogonal; row i of -H is the negation of row i of H (only when classes > bits)
    assert np.all(off == 0) and np.all(np.diag(gram) == 16)
    with pytest.raises(ValueError, match="power of two"):
        dpn_target_codes(10, 12, kind="hadamard")
    with pytest.raises(ValueError, match="unknown DPN target"):
        dpn_target_codes(10, 16, kind="bch")


def test_criterion_uses_the_class_codes_and_the_old_signature():
    crit = DPNCriterion(num_classes=4, bits=8, seed=0, margin=1.0)
    labels = torch.tensor([0, 3, 3, 1])
    u = torch.randn(4, 8)
    loss, terms = crit(HashOutput(u, None), Batch(None, labels, torch.arange(4)))
    ref, _ = dpn_loss(u, crit.codes[labels], 1.0)
    assert float(loss) == pytest.approx(float(ref))
    assert set(terms) == {"polarization", "polarized_fraction"}


def test_multi_hot_targets_are_the_sign_of_the_summed_codes():
    codes = torch.tensor([[1.0, 1.0, -1.0, -1.0], [1.0, -1.0, 1.0, -1.0], [1.0, 1.0, 1.0, 1.0]])
    tie = torch.tensor([-1.0, -1.0, 1.0, 1.0])
    labels = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1]])
    got = dpn_targets(labels, codes, tie)
    # row 0: sum (2, 0, 0, -2) -> (+1, tie, tie, -1)
    assert got.tolist() == [[1, -1, 1, -1], [1, 1, -1, -1], [1, 1, 1, -1]]


def test_training_on_the_loss_polarizes_every_bit():
    torch.manual_seed(0)
    crit = DPNCriterion(num_classes=3, bits=16, seed=1, margin=1.0)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    u = torch.zeros(6, 16, requires_grad=True)
    opt = torch.optim.SGD([u], lr=0.3 * u.numel())  # the loss is a mean over the 96 entries
    for _ in range(10):
        opt.zero_grad()
        loss, terms = crit(HashOutput(u, None), Batch(None, labels, None))
        loss.backward()
        opt.step()
    loss, terms = crit(HashOutput(u.detach(), None), Batch(None, labels, None))
    assert float(loss) == 0.0 and terms["polarized_fraction"] == 1.0
    assert torch.equal(torch.sign(u.detach()), crit.codes[labels])


def test_loss_defaults_build_a_criterion():
    from hashlib_core.baselines.dpn import LOSS_DEFAULTS

    crit = DPNCriterion(num_classes=10, bits=32, seed=0, **LOSS_DEFAULTS)
    assert crit.margin == 1.0 and crit.codes.shape == (10, 32)
