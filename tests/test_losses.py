"""DSHFMDF objective (paper 000 §3.3): J1 pairwise likelihood, J2 quantization, J3 classification."""

import math

import pytest
import torch
import torch.nn.functional as F

from hashlib_core.losses import (
    PAPER_BETA,
    PAPER_GAMMA,
    CodeMemory,
    DSHFMDFLoss,
    classification_loss,
    pairwise_likelihood_loss,
    quantization_loss,
    similarity_matrix,
)
from hashlib_core.models import HashOutput


def _j1_loops(u, labels, u2=None, labels2=None, multi=False):
    """Eq. (2) with explicit double loops, averaged over the pairs used."""
    within = u2 is None
    if within:
        u2, labels2 = u, labels
    total, count = 0.0, 0
    for i in range(u.shape[0]):
        for j in range(u2.shape[0]):
            if within and i == j:
                continue
            if multi:
                s = 1.0 if float((labels[i] * labels2[j]).sum()) > 0 else 0.0
            else:
                s = 1.0 if int(labels[i]) == int(labels2[j]) else 0.0
            w = 0.5 * float(u[i].double() @ u2[j].double())
            total += -(s * w - math.log(1.0 + math.exp(w)))
            count += 1
    return total / count


def test_similarity_single_and_multi():
    y = torch.tensor([0, 1, 0, 2])
    S = similarity_matrix(y)
    assert S.tolist() == [[1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]]
    ym = torch.tensor([[1, 0, 1], [0, 1, 0], [0, 0, 1]])
    assert similarity_matrix(ym).tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    assert similarity_matrix(y[:2], y).shape == (2, 4)


def test_j1_matches_double_loop_within_batch():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(6, 8, generator=g)
    y = torch.tensor([0, 1, 0, 2, 1, 0])
    got = pairwise_likelihood_loss(u, y)
    assert got.item() == pytest.approx(_j1_loops(u, y), rel=1e-5)


def test_j1_matches_double_loop_against_memory():
    g = torch.Generator().manual_seed(1)
    u = torch.randn(4, 12, generator=g)
    y = torch.tensor([0, 1, 2, 1])
    um = torch.randn(7, 12, generator=g)
    ym = torch.tensor([2, 2, 0, 1, 0, 1, 2])
    got = pairwise_likelihood_loss(u, y, um, ym)
    assert got.item() == pytest.approx(_j1_loops(u, y, um, ym), rel=1e-5)


def test_j1_multi_hot_matches_double_loop():
    g = torch.Generator().manual_seed(2)
    u = torch.randn(5, 6, generator=g)
    y = (torch.rand(5, 4, generator=g) > 0.6).float()
    y[0] = torch.tensor([1.0, 0, 0, 0])
    got = pairwise_likelihood_loss(u, y)
    assert got.item() == pytest.approx(_j1_loops(u, y, multi=True), rel=1e-5)


def test_j1_stable_for_large_codes():
    g = torch.Generator().manual_seed(3)
    u = (torch.randn(8, 128, generator=g) * 1e3).requires_grad_(True)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss = pairwise_likelihood_loss(u, y)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(u.grad).all()
    # memory path too
    um = torch.randn(16, 128, generator=g) * 1e3
    ym = torch.arange(16) % 4
    u.grad = None
    loss = pairwise_likelihood_loss(u, y, um, ym)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(u.grad).all()
    # perfectly separated codes -> loss ~ 0, not nan
    v = torch.cat([torch.full((4, 128), 1e3), torch.full((4, 128), -1e3)])
    yy = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    assert pairwise_likelihood_loss(v, yy).item() == pytest.approx(0.0, abs=1e-6)


def test_j1_decreases_when_optimising_codes():
    torch.manual_seed(0)
    y = torch.arange(12) % 3
    u = (0.1 * torch.randn(12, 16)).requires_grad_(True)
    S = similarity_matrix(y).bool()
    off = ~torch.eye(12, dtype=torch.bool)

    def sim_inner(v):
        ip = v @ v.t()
        return ip[S & off].mean().item(), ip[~S].mean().item()

    start = pairwise_likelihood_loss(u, y).item()
    pos0, neg0 = sim_inner(u.detach())
    opt = torch.optim.Adam([u], lr=0.05)
    for _ in range(40):
        opt.zero_grad()
        loss = pairwise_likelihood_loss(u, y)
        loss.backward()
        opt.step()
    end = pairwise_likelihood_loss(u, y).item()
    pos1, neg1 = sim_inner(u.detach())
    assert end < 0.5 * start
    assert pos1 > pos0 + 1.0  # similar pairs' inner products grow
    assert neg1 < neg0  # dissimilar ones shrink


def test_quantization_loss_formula():
    u = torch.tensor([[0.5, -0.2, 0.0], [-1.5, 2.0, 0.9]])
    b = torch.tensor([[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]])  # sgn(0) = +1
    expected = sum(((b[i] - u[i]) ** 2).sum().item() for i in range(2)) / 2
    assert quantization_loss(u).item() == pytest.approx(expected, rel=1e-6)
    assert quantization_loss(torch.tensor([[1.0, -1.0]])).item() == 0.0


def test_classification_loss_single_label():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(5, 4, generator=g)
    y = torch.tensor([0, 3, 1, 1, 2])
    expected = -sum(math.log(torch.softmax(logits[i], 0)[y[i]].item()) for i in range(5)) / 5
    assert classification_loss(logits, y).item() == pytest.approx(expected, rel=1e-5)


def test_classification_loss_multi_hot_uses_bce():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(3, 4, generator=g)
    y = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]]).float()
    p = torch.sigmoid(logits)
    expected = -(y * p.log() + (1 - y) * (1 - p).log()).mean().item()
    assert classification_loss(logits, y).item() == pytest.approx(expected, rel=1e-5)
    # explicit single-label override on one-hot targets -> cross-entropy
    onehot = F.one_hot(torch.tensor([1, 0, 3]), 4).float()
    assert classification_loss(logits, onehot, multi_label=False).item() == pytest.approx(
        F.cross_entropy(logits, torch.tensor([1, 0, 3])).item()
    )


def test_total_loss_combination():
    g = torch.Generator().manual_seed(6)
    u = torch.tanh(torch.randn(6, 12, generator=g))
    logits = torch.randn(6, 3, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    out = HashOutput(u=u, logits=logits)

    total0, parts0 = DSHFMDFLoss(beta=0.0, gamma=0.0)(out, y)
    assert total0.item() == pytest.approx(pairwise_likelihood_loss(u, y).item(), rel=1e-6)
    assert parts0["j1"] == pytest.approx(total0.item(), rel=1e-6)

    crit = DSHFMDFLoss(beta=0.01, gamma=0.1)
    total, parts = crit(out, y)
    assert set(parts) == {"j1", "j2", "j3"} and all(isinstance(v, float) for v in parts.values())
    expected = pairwise_likelihood_loss(u, y) + 0.01 * quantization_loss(u) + 0.1 * classification_loss(logits, y)
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert (PAPER_BETA, PAPER_GAMMA) == (0.01, 0.1)
    assert DSHFMDFLoss().beta == 0.01 and DSHFMDFLoss().gamma == 0.1


def test_code_memory_and_loss_with_memory():
    mem = CodeMemory(n_train=10, bits=4)
    assert len(mem) == 0
    g = torch.Generator().manual_seed(7)
    u = torch.randn(3, 4, generator=g).requires_grad_(True)
    y = torch.tensor([0, 1, 0])
    idx = torch.tensor([2, 5, 7])
    crit = DSHFMDFLoss(beta=0.0, gamma=0.0)
    total, _ = crit(HashOutput(u, torch.zeros(3, 2)), y, memory=mem, index=idx)
    assert len(mem) == 3
    assert torch.equal(mem.u[idx], u.detach()) and not mem.u.requires_grad
    mu, my = mem.get()
    assert mu.shape == (3, 4) and my.tolist() == [0, 1, 0]
    # memory contains the batch itself: all 3x3 pairs (DPSH)
    assert total.item() == pytest.approx(_j1_loops(u.detach(), y, mu, my), rel=1e-5)
    total.backward()
    assert torch.isfinite(u.grad).all()
    # multi-hot labels are stored as float rows
    mem2 = CodeMemory(5, 2)
    mem2.update(torch.tensor([0, 4]), torch.ones(2, 2), torch.tensor([[1, 0, 1], [0, 1, 0]]))
    mu2, my2 = mem2.get()
    assert my2.shape == (2, 3) and my2.dtype == torch.float32


def test_end_to_end_loss_on_model_output():
    from hashlib_core.models import dshfmdf

    torch.manual_seed(0)
    m = dshfmdf("vgg13_bn", bits=12, num_classes=4, width=0.125, input_size=32)
    x = torch.randn(4, 3, 32, 32)
    y = torch.tensor([0, 1, 0, 3])
    total, parts = DSHFMDFLoss()(m(x), y)
    total.backward()
    assert torch.isfinite(total) and all(math.isfinite(v) for v in parts.values())
    assert all(p.grad is not None for p in m.parameters())
