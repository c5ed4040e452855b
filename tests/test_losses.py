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

    crit = DSHFMDFLoss(beta=0.01, gamma=0.1, form="mean")
    total, parts = crit(out, y)
    assert set(parts) == {"j1", "j2", "j3", "beta_eff", "gamma_eff"} and all(isinstance(v, float) for v in parts.values())
    expected = pairwise_likelihood_loss(u, y) + 0.01 * quantization_loss(u) + 0.1 * classification_loss(logits, y)
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert (PAPER_BETA, PAPER_GAMMA) == (0.01, 0.1)
    assert DSHFMDFLoss().beta == 0.01 and DSHFMDFLoss().gamma == 0.1
    assert DSHFMDFLoss().form == "sum"
    # the sum form: the same terms, beta and gamma scaled by B / P (6 images, 30 ordered pairs)
    total_s, parts_s = DSHFMDFLoss(beta=0.01, gamma=0.1)(out, y)
    assert parts_s["beta_eff"] == pytest.approx(0.01 * 6 / 30) and parts_s["gamma_eff"] == pytest.approx(0.1 * 6 / 30)
    expected_s = pairwise_likelihood_loss(u, y) + 0.002 * quantization_loss(u) + 0.02 * classification_loss(logits, y)
    assert total_s.item() == pytest.approx(expected_s.item(), rel=1e-6)


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


# --- the sum form (paper 000 eqs. (2)-(5) as written) against a brute-force literal objective ---

def _literal_sum_objective(u, logits, labels, beta, gamma, multi, self_pairs):
    """Eq. (5) with eqs. (2)-(4) as sums, by explicit loops over pairs and images: J1 over ordered
    pairs (i, j) (i = j included when ``self_pairs``), J2 = sum_i ||sgn(u_i) - u_i||^2 (sgn held
    constant), J3 = sum_i sum_k of softmax cross-entropy (1-D labels) or BCE (multi-hot)."""
    n = u.shape[0]
    j1 = u.new_zeros(())
    for i in range(n):
        for j in range(n):
            if i == j and not self_pairs:
                continue
            s = float((labels[i] * labels[j]).sum() > 0) if multi else float(labels[i] == labels[j])
            w = 0.5 * (u[i] * u[j]).sum()
            j1 = j1 - (s * w - torch.log(1.0 + torch.exp(w)))
    j2 = u.new_zeros(())
    j3 = u.new_zeros(())
    for i in range(n):
        b = torch.where(u[i] >= 0, 1.0, -1.0).to(u.dtype).detach()
        j2 = j2 + ((b - u[i]) ** 2).sum()
        if multi:
            p = torch.sigmoid(logits[i])
            j3 = j3 - (labels[i] * torch.log(p) + (1 - labels[i]) * torch.log(1 - p)).sum()
        else:
            j3 = j3 - torch.log_softmax(logits[i], dim=0)[int(labels[i])]
    return j1 + beta * j2 + gamma * j3


def _tiny_batch(seed, n, multi, bits=5, classes=3):
    g = torch.Generator().manual_seed(seed)
    u = torch.tanh(torch.randn(n, bits, generator=g, dtype=torch.float64) * 1.5).requires_grad_(True)
    logits = torch.randn(n, classes, generator=g, dtype=torch.float64).requires_grad_(True)
    if multi:
        labels = (torch.rand(n, classes, generator=g) > 0.5).double()
        labels[:, 0] = torch.where(labels.sum(1) == 0, 1.0, labels[:, 0].float()).double()
    else:
        labels = torch.arange(n) % classes
    return u, logits, labels


@pytest.mark.parametrize("multi", [False, True], ids=["single-label", "multi-label"])
def test_sum_form_gradient_equals_literal_sum_within_batch(multi):
    """Within-batch pairs: the literal sum over the batch's ordered pairs i != j and its images has
    the gradient of the rescaled loss times P = B(B-1)."""
    beta, gamma = 0.3, 0.7  # large enough that J2 and J3 matter for the direction
    u, logits, labels = _tiny_batch(10, 5, multi)
    total, parts = DSHFMDFLoss(beta=beta, gamma=gamma, multi_label=multi)(HashOutput(u, logits), labels)
    got_u, got_l = torch.autograd.grad(total, (u, logits))
    literal = _literal_sum_objective(u, logits, labels, beta, gamma, multi, self_pairs=False)
    want_u, want_l = torch.autograd.grad(literal, (u, logits))
    n_pairs = 5 * 4
    assert parts["beta_eff"] == pytest.approx(beta * 5 / n_pairs)
    assert torch.allclose(got_u * n_pairs, want_u, rtol=1e-9, atol=1e-12)
    assert torch.allclose(got_l * n_pairs, want_l, rtol=1e-9, atol=1e-12)
    # and the mean form does not point the same way (the test can fail)
    mean_total, _ = DSHFMDFLoss(beta=beta, gamma=gamma, multi_label=multi, form="mean")(HashOutput(u, logits), labels)
    mean_u, mean_l = torch.autograd.grad(mean_total, (u, logits))
    cos = F.cosine_similarity(torch.cat([mean_u.flatten(), mean_l.flatten()]),
                              torch.cat([want_u.flatten(), want_l.flatten()]), dim=0)
    assert cos < 0.999


@pytest.mark.parametrize("multi", [False, True], ids=["single-label", "multi-label"])
def test_sum_form_gradient_equals_literal_sum_against_memory(multi):
    """Memory mode: on a training set of N images whose memory holds every current code, the
    gradient of the paper's full sum (all N^2 ordered pairs, every image's J2, J3) with respect to
    a batch's outputs is 2P times the rescaled loss's gradient (P = B*N pairs used, o = 2)."""
    beta, gamma = 0.3, 0.7
    n_train, batch = 7, 3
    u_all, logits_all, labels_all = _tiny_batch(11, n_train, multi)
    idx = torch.tensor([1, 4, 5])
    memory = CodeMemory(n_train, u_all.shape[1], dtype=torch.float64)
    memory.update(torch.arange(n_train), u_all, labels_all)
    loss = DSHFMDFLoss(beta=beta, gamma=gamma, multi_label=multi)
    total, parts = loss(HashOutput(u_all[idx], logits_all[idx]), labels_all[idx], memory=memory, index=idx)
    got_u, got_l = torch.autograd.grad(total, (u_all, logits_all))
    literal = _literal_sum_objective(u_all, logits_all, labels_all, beta, gamma, multi, self_pairs=True)
    want_u, want_l = torch.autograd.grad(literal, (u_all, logits_all))
    n_pairs = batch * n_train
    assert parts["beta_eff"] == pytest.approx(beta * batch / (2 * n_pairs))
    assert parts["gamma_eff"] == pytest.approx(gamma * batch / (2 * n_pairs))
    assert torch.allclose(got_u[idx] * 2 * n_pairs, want_u[idx], rtol=1e-9, atol=1e-12)
    assert torch.allclose(got_l[idx] * 2 * n_pairs, want_l[idx], rtol=1e-9, atol=1e-12)
    rest = torch.tensor([i for i in range(n_train) if i not in idx.tolist()])
    assert torch.count_nonzero(got_u[rest]) == 0  # the memory side is constant


@pytest.mark.parametrize("multi", [False, True], ids=["single-label", "multi-label"])
@pytest.mark.parametrize("mode", ["batch", "memory"])
def test_mean_form_is_the_old_loss_exactly(multi, mode):
    """``form="mean"``: J1 mean over pairs + beta * batch-mean J2 + gamma * batch-mean J3 (the
    multi-hot J3 averaged over labels too), bit for bit, with beta_eff = beta, gamma_eff = gamma."""
    u, logits, labels = _tiny_batch(12, 6, multi)
    u, logits = u.float(), logits.float()
    labels = labels.float() if multi else labels
    memory = None
    if mode == "memory":
        memory = CodeMemory(9, u.shape[1])
        g = torch.Generator().manual_seed(13)
        memory.update(torch.arange(6, 9), torch.randn(3, u.shape[1], generator=g), labels[:3])
    idx = torch.arange(6) if mode == "memory" else None
    total, parts = DSHFMDFLoss(beta=0.01, gamma=0.1, multi_label=multi, form="mean")(
        HashOutput(u, logits), labels, memory=memory, index=idx)
    if mode == "memory":
        mu, ml = memory.get()
        j1 = pairwise_likelihood_loss(u, labels, mu, ml)
    else:
        j1 = pairwise_likelihood_loss(u, labels)
    expected = j1 + 0.01 * quantization_loss(u) + 0.1 * F.binary_cross_entropy_with_logits(logits, labels) \
        if multi else j1 + 0.01 * quantization_loss(u) + 0.1 * F.cross_entropy(logits, labels)
    assert torch.equal(total, expected)
    assert (parts["beta_eff"], parts["gamma_eff"]) == (0.01, 0.1)


def test_sum_form_weight_matches_the_dpsh_baseline():
    """The helper is the conversion ``dpsh_loss`` applies to its eta (batch and memory modes)."""
    from hashlib_core.baselines.deep import dpsh_loss
    from hashlib_core.losses import sum_form_weight

    g = torch.Generator().manual_seed(14)
    u, y = torch.randn(6, 8, generator=g), torch.arange(6) % 3
    um, ym = torch.randn(20, 8, generator=g), torch.arange(20) % 3
    _, batch_terms = dpsh_loss(u, y, eta=10.0)
    _, memory_terms = dpsh_loss(u, y, um, ym, eta=10.0)
    assert sum_form_weight(10.0, 6, 6 * 5, 1) == pytest.approx(batch_terms["quant_weight"], rel=1e-12)
    assert sum_form_weight(10.0, 6, 6 * 20, 2) == pytest.approx(memory_terms["quant_weight"], rel=1e-12)
    # CIFAR-10's 5,000 training images in a full memory: beta / 10,000 on the per-image mean
    assert sum_form_weight(0.01, 64, 64 * 5000, 2) == pytest.approx(1e-6)
    with pytest.raises(ValueError, match="orientations"):
        sum_form_weight(0.01, 4, 12, 3)
    with pytest.raises(ValueError, match="form"):
        DSHFMDFLoss(form="average")
