"""DSHC (paper 004): centre constructions, sub-class mapping, targets, top-K codes, the
multi-label path and a tiny deterministic run through the runner — each against direct computation."""
import dataclasses
import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from hashlib_core import codebooks, label_codes
from hashlib_core.losses import dshc as dshc_losses
from hashlib_core.models import dshc as dshc_models
from hashlib_core.papers import p004_dshc as p004
from hashlib_core.codes import sign
from hashlib_core.models import HashOutput
from hashlib_core.train import Batch


def _ham(a, b):
    return int(np.sum(np.asarray(a) != np.asarray(b)))


# --- CPBC ------------------------------------------------------------------------------------

@pytest.mark.parametrize("C,H", [(10, 1), (10, 3), (4, 2), (3, 6)])
def test_cpbc_centres_and_distances(C, H):
    cons = codebooks.cpbc(C, H)
    L = C * H
    assert cons.centres.shape == (C, L) and cons.codes.shape == ((L + 1) * C, L)
    assert cons.num_subclasses == (C * H + 1) * C
    for i in range(C):
        expect = -np.ones(L, dtype=np.int8)
        expect[i * H:(i + 1) * H] = 1
        assert np.array_equal(cons.centres[i], expect)
    for i, j in itertools.combinations(range(C), 2):
        assert _ham(cons.centres[i], cons.centres[j]) == 2 * H  # inter-centre = 2H
    for k in range(C):
        members = cons.codes[cons.subclasses_of(k)]
        assert len(members) == L + 1
        assert np.array_equal(members[0], cons.centres[k])
        assert max(_ham(a, b) for a in members for b in members) <= 2  # intra <= 2
        assert all(_ham(m, cons.centres[k]) == (0 if s == 0 else 1) for s, m in enumerate(members))
    obj = codebooks.distance_objective(cons.codes, cons.subclass_class)
    assert obj["max_intra"] <= 2


def test_cpbc_h1_collides_h2_distinct():
    assert codebooks.cpbc(10, 1).num_distinct_codes() == 56  # 10 centres + all -1 + C(10,2) pairs
    assert codebooks.cpbc(10, 2).num_distinct_codes() == 210
    with pytest.raises(ValueError, match="multiple"):
        codebooks.build_construction("cpbc", 10, 25)


def test_distance_objective_matches_eq1_loops():
    cons = codebooks.cpbc(3, 2)
    C = cons.num_classes
    groups = [cons.codes[cons.subclasses_of(k)] for k in range(C)]
    inter = sum(_ham(a, b) for i1 in range(C) for i2 in range(C) if i2 != i1 for a in groups[i1] for b in groups[i2])
    intra = sum(_ham(a, b) for g in groups for a in g for b in g)
    obj = codebooks.distance_objective(cons.codes, cons.subclass_class)
    assert (obj["D_inter"], obj["D_intra"], obj["objective"]) == (inter, intra, intra - inter)


# --- KBC -------------------------------------------------------------------------------------

def test_kbc_small_l_against_direct_rule():
    from sklearn.cluster import KMeans

    C, L, thr = 3, 6, 3
    cons = codebooks.kbc(C, L, threshold=thr, seed=0)
    pts = np.array(list(itertools.product((-1, 1), repeat=L)), dtype=np.int8)
    km = KMeans(n_clusters=C, n_init=10, random_state=cons.info["kmeans_seed"]).fit(pts.astype(float))
    centres = sign(km.cluster_centers_)
    assert np.array_equal(cons.centres, centres)
    kept = []
    for p in pts:
        d = [_ham(p, c) for c in centres]
        k = int(np.argmin(d))
        if d[k] <= 1 and all(d[j] >= thr for j in range(C) if j != k):
            kept.append((k, tuple(p)))
    got = sorted((int(k), tuple(c)) for k, c in zip(cons.subclass_class, cons.codes))
    assert got == sorted(kept)
    assert cons.info["candidates"] == 2 ** L and cons.info["filtered"] == 2 ** L - len(kept)
    assert cons.counts().min() >= 1
    assert codebooks.distance_objective(cons.codes, cons.subclass_class)["max_intra"] <= 2
    assert np.array_equal(codebooks.kbc(C, L, threshold=thr, seed=0).codes, cons.codes)  # deterministic


def test_kbc_paper_setting_filters_most_points():
    cons = codebooks.kbc(10, 10, threshold=3, seed=0)
    assert cons.info["candidates"] == 1024
    assert cons.num_subclasses + cons.info["filtered"] == 1024
    assert 10 <= cons.num_subclasses <= 110  # paper: 74 kept (950 filtered)
    assert cons.num_distinct_codes() == cons.num_subclasses


# --- sub-class <-> code ----------------------------------------------------------------------

@pytest.mark.parametrize("cons", [codebooks.cpbc(10, 2), codebooks.cpbc(5, 3), codebooks.kbc(4, 8, seed=1)],
                         ids=["cpbc10x2", "cpbc5x3", "kbc4x8"])
def test_subclass_code_round_trip(cons):
    ids = np.arange(cons.num_subclasses)
    codes = codebooks.subclass_codes(cons, ids)
    assert np.array_equal(codes, cons.codes)
    assert np.array_equal(codebooks.code_to_subclass(cons, codes), ids)
    assert np.array_equal(codebooks.subclass_codes(cons, [3, 0]), cons.codes[[3, 0]])
    # a code that is no sub-class maps to -1 (all +1 is at distance >= 2 from every CPBC code here)
    far = np.ones((1, cons.bits), dtype=np.int8) if cons.name == "cpbc" else -cons.centres[:1]
    if not (codebooks._hamming(far, cons.codes) == 0).any():
        assert codebooks.code_to_subclass(cons, far)[0] == -1
    with pytest.raises(ValueError):
        codebooks.subclass_codes(cons, [cons.num_subclasses])


def test_subclass_ids_layout():
    cons = codebooks.cpbc(4, 2)  # L = 8, 9 sub-classes per class
    s = 2 * 9 + 4  # class 2, bit 3 flipped
    code = codebooks.subclass_codes(cons, [s])[0]
    expect = cons.centres[2].copy()
    expect[3] *= -1
    assert np.array_equal(code, expect) and cons.subclass_class[s] == 2


# --- targets, loss, top-K --------------------------------------------------------------------

@pytest.mark.parametrize("norm", ["paper", "sum1"])
def test_multi_hot_target_sums(norm):
    C, H = 10, 3
    cons = codebooks.cpbc(C, H)
    y = torch.tensor([0, 3, 9, 3])
    t = codebooks.subclass_targets(y, cons, norm)
    assert t.shape == (4, (C * H + 1) * C)
    for row, k in zip(t, y.tolist()):
        support = torch.nonzero(row).flatten().numpy()
        assert np.array_equal(support, cons.subclasses_of(k))
        value = 1 / H if norm == "paper" else 1 / (C * H + 1)
        assert torch.allclose(row[support], torch.full((len(support),), value))
    expect_sum = (C * H + 1) / H if norm == "paper" else 1.0
    assert torch.allclose(t.sum(1), torch.full((4,), expect_sum))


def test_dshc_loss_is_soft_cross_entropy():
    cons = codebooks.cpbc(3, 2)
    torch.manual_seed(0)
    logits = torch.randn(5, cons.num_subclasses, requires_grad=True)
    y = torch.tensor([0, 1, 2, 1, 0])
    loss, terms = dshc_losses.DSHCLoss(cons, "paper")(HashOutput(None, logits), Batch(None, y, None))
    p = torch.softmax(logits, 1)
    direct = -sum((0.5 * torch.log(p[i, cons.subclasses_of(int(y[i]))])).sum() for i in range(5)) / 5
    assert torch.allclose(loss, direct) and set(terms) == {"ce", "acc"}
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_topk_code_average():
    cons = codebooks.cpbc(3, 2)
    codes = torch.as_tensor(cons.codes, dtype=torch.float32)
    torch.manual_seed(1)
    logits = torch.randn(6, cons.num_subclasses)
    for k in (1, 2, 5):
        u = codebooks.topk_code(logits, codes, k)
        for i in range(6):
            top = np.argsort(-logits[i].numpy(), kind="stable")[:k]
            assert np.allclose(u[i].numpy(), cons.codes[top].mean(0))
    # K = 1 is the arg-max sub-class's code; three same-class codes average back to the centre
    assert np.array_equal(sign(codebooks.topk_code(logits, codes, 1)), cons.codes[logits.argmax(1).numpy()])
    three = torch.full((1, cons.num_subclasses), -10.0)
    three[0, cons.subclasses_of(1)[[0, 2, 4]]] = 5.0
    assert np.array_equal(sign(codebooks.topk_code(three, codes, 3))[0], cons.centres[1])
    with pytest.raises(ValueError):
        codebooks.topk_code(logits, codes, cons.num_subclasses + 1)


def test_dshc_net_forward():
    torch.manual_seed(0)
    net = dshc_models.dshc_model(20, 10, backbone="vgg11_bn", width=0.0625, input_size=32, topk=2)
    net.eval()
    out = net(torch.randn(3, 3, 32, 32))
    assert out.logits.shape == (3, 210) and out.u.shape == (3, 20)
    assert torch.allclose(out.u, codebooks.topk_code(out.logits, net.codes, 2))
    kbc_net = dshc_models.dshc_model(10, 10, backbone="vgg11_bn", width=0.0625, input_size=32, construction="kbc")
    assert kbc_net.classifier.out_features == kbc_net.construction.num_subclasses


def test_resnet_backbone_for_paper_profile():
    from hashlib_core.models import BACKBONES, dshfmdf

    assert "resnet50" in BACKBONES
    net = dshc_models.dshc_model(30, 10, backbone="resnet50", width=1.0, input_size=64)
    assert net.classifier.in_features == 2048
    # the multi-tap ResNet of hashlib_core.models.resnet scales its width
    assert dshc_models.dshc_model(30, 10, backbone="resnet50", width=0.5, input_size=64).classifier.in_features == 1024
    # the comparison methods' fc1 model runs on the same backbone (global feature only)
    m = dshfmdf(backbone="resnet50", bits=30, variant="fc1", width=1.0, input_size=64).eval()
    assert m(torch.randn(2, 3, 64, 64)).u.shape == (2, 30)


# --- multi-label path ------------------------------------------------------------------------

def test_multilabel_loss_is_eq3():
    torch.manual_seed(0)
    x = torch.randn(4, 6)
    y = (torch.rand(4, 6) > 0.5).float()
    loss, _ = dshc_losses.SoftMarginMultiLabelLoss()(HashOutput(x, x), Batch(None, y, None))
    direct = -(y * torch.log(1 / (1 + torch.exp(-x))) + (1 - y) * torch.log(1 / (1 + torch.exp(x)))).mean()
    assert torch.allclose(loss, direct, atol=1e-6)
    assert torch.allclose(loss, torch.nn.MultiLabelSoftMarginLoss()(x, y), atol=1e-6)


def test_multilabel_code_is_predicted_multi_hot():
    torch.manual_seed(0)
    net = dshc_models.dshc_multilabel_model(10, backbone="vgg11_bn", width=0.0625, input_size=32).eval()
    out = net(torch.randn(5, 3, 32, 32))
    codes = sign(out.u)
    predicted = (torch.sigmoid(out.logits) >= 0.5).numpy()
    assert codes.shape == (5, 10) and np.array_equal(codes == 1, predicted)


def test_multilabel_distance_and_map_direct():
    rng = np.random.default_rng(0)
    q = np.where(rng.random((7, 5)) < 0.4, 1, -1).astype(np.int8)
    d = np.where(rng.random((30, 5)) < 0.4, 1, -1).astype(np.int8)
    ql = (rng.random((7, 5)) < 0.4).astype(np.uint8)
    dl = (rng.random((30, 5)) < 0.4).astype(np.uint8)
    dist = label_codes.multilabel_distance(q, d)
    for i in range(7):
        for j in range(30):
            bq, bd = (q[i] > 0).astype(int), (d[j] > 0).astype(int)
            assert dist[i, j] == 5 - int(bq @ bd)  # 2 x (L - <b_q, b_d>) / 2
    # distance differs between "both 1" and "both 0": codes sharing only zeros are far
    assert label_codes.multilabel_distance(np.array([[-1, -1]]), np.array([[-1, -1]]))[0, 0] == 2
    for topk in (None, 10):
        aps = []
        for i in range(7):
            order = np.lexsort((np.arange(30), dist[i]))[: topk or 30]
            rel = (dl[order] @ ql[i]) > 0
            hits = np.cumsum(rel)
            aps.append(float((hits / np.arange(1, len(rel) + 1))[rel].mean()) if rel.any() else 0.0)
        assert label_codes.multilabel_map(q, d, ql, dl, topk) == pytest.approx(np.mean(aps))


# --- helpers and a tiny run through the runner -----------------------------------------------

def test_last_epochs_seconds():
    hist = [{"seconds": float(s)} for s in range(1, 13)]
    assert p004.last_epochs_seconds(hist) == sum(range(3, 13))
    assert p004.last_epochs_seconds(hist[:3]) == 6.0


@pytest.fixture
def dshc_cache(tmp_path, monkeypatch):
    from hashlib_core import paths

    cands = [Path(os.environ["HASHLIB_DATA"])] if os.environ.get("HASHLIB_DATA") else []
    cands.append(paths.repo_root().parent / "shared" / "datasets")
    root = next((c for c in cands if (c / "cifar10.npz").is_file()), None)
    if root is None:
        pytest.skip("real CIFAR-10 not found: set HASHLIB_DATA to a folder holding cifar10.npz")
    monkeypatch.setenv("HASHLIB_DATA", str(root))
    monkeypatch.setenv("HASHLIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_with_train_subset_keeps_query_and_database():
    from hashlib_core.runner import make_config

    cpu = make_config("cpu", "dshc", "cifar10-dshc", 30, 0)
    sub = p004.with_train_subset(cpu, 5000)
    assert sub.subset == {"query": None, "database": None, "train": 5000} and sub.key() != cpu.key()
    assert p004.with_train_subset(cpu, 0) is cpu
    smoke = make_config("smoke", "dshc", "cifar10-dshc", 30, 0)
    assert p004.with_train_subset(smoke, 5000) is smoke  # the smoke profile's own subset wins


def test_tiny_run_is_deterministic(dshc_cache):
    from hashlib_core.runner import make_config, run

    # one thread: as deterministic as the profile's two, and not slowed 4x by OpenMP spinning when
    # another job shares the cores (see docs/decisions.md)
    cfg = dataclasses.replace(make_config("smoke", "dshc", "cifar10-dshc", 20, 0), num_threads=1)
    a = run(cfg, progress=False, use_cache=False, verbose=False)
    b = run(cfg, progress=False, use_cache=False, verbose=False)
    assert a.query_codes.shape == (50, 20) and a.db_codes.shape == (400, 20)
    assert np.array_equal(a.query_codes, b.query_codes) and np.array_equal(a.db_codes, b.db_codes)
    assert a.metrics["map"] == b.metrics["map"]
    # every code is the code of some sub-class (K = 1)
    cons = codebooks.cpbc(10, 2)
    assert (codebooks.code_to_subclass(cons, a.db_codes) >= 0).all()
    assert set(a.history[0]) >= {"loss", "ce", "acc", "seconds"}


def test_tsne_2d_is_deterministic_on_tiny_input():
    codes = codebooks.cpbc(3, 2).codes  # 21 codes: perplexity is capped at (n - 1) / 3
    a, b = p004.tsne_2d(codes, 30.0, 0), p004.tsne_2d(codes, 30.0, 0)
    assert a.shape == (21, 2) and np.allclose(a, b)


def test_resnet50_imagenet_goes_through_torchvision_weights_api_and_a_saved_file_loads(monkeypatch, tmp_path):
    """The paper profile's ResNet-50: weights="imagenet" asks torchvision's weights API for
    ResNet50_Weights.IMAGENET1K_V1 (the download is stubbed: nothing leaves the machine), and a
    locally saved state dict loads key-for-key with weights_only=True."""
    import torchvision
    import torchvision.models._api as tv_api

    torch.manual_seed(0)
    fake = torchvision.models.resnet50(weights=None).state_dict()
    calls = []

    def _fake_load(url, *args, **kwargs):
        calls.append(url)
        return fake

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", _fake_load)
    net = dshc_models.dshc_model(30, 10, backbone="resnet50", width=1.0, input_size=64, weights="imagenet", progress=False)
    assert calls == [torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url]
    got = net.backbone.state_dict()
    assert all(torch.equal(got[k], v) for k, v in fake.items() if not k.startswith("fc."))
    path = tmp_path / "resnet50.pth"
    torch.save(fake, path)
    from_file = dshc_models.dshc_model(30, 10, backbone="resnet50", width=1.0, input_size=64, weights=str(path))
    assert torch.equal(from_file.backbone.conv1.weight, fake["conv1.weight"])


def _table_runs():
    import pandas as pd

    rows = []
    for method, protocol, bits, maps in [("dshc", "cifar10-dshc", 30, [0.80, 0.82]),
                                         ("dpsh", "cifar10-dshc", 30, [0.70]),
                                         ("dshc-multilabel", "cifar10-mosaic", 10, [0.60]),
                                         ("dpsh", "cifar10-mosaic", 24, [0.65])]:
        for seed, m in enumerate(maps):
            rows.append({"method": method, "protocol": protocol, "bits": bits, "seed": seed, "map": m,
                         "map_tie_aware": m - 0.01, "runtime_last10_s": 10.0 if method == "dshc" else 30.0,
                         "train_s": 40.0})
    return pd.DataFrame(rows)


def _three_seed_runs():
    import pandas as pd

    rows = [{"method": method, "protocol": protocol, "bits": bits, "seed": seed, "map": m + 0.003 * seed,
             "map_tie_aware": m, "runtime_last10_s": (10.0 if method == "dshc" else 30.0) + seed, "train_s": 40.0}
            for method, protocol, bits, m in [("dshc", "cifar10-dshc", 30, 0.80), ("dpsh", "cifar10-dshc", 30, 0.70),
                                              ("dshc-multilabel", "cifar10-mosaic", 10, 0.60),
                                              ("dpsh", "cifar10-mosaic", 24, 0.65)]
            for seed in range(3)]
    return pd.DataFrame(rows)


def test_table1_puts_the_papers_rerun_value_beside_our_mean():
    from hashlib_core.reported import reported

    t = p004.table1(_table_runs(), reported("004", "table1"), {"cifar10-dshc": "cifar10", "cifar10-mosaic": "nuswide21"})
    row = t[(t.method == "dshc") & (t.protocol == "cifar10-dshc")].iloc[0]
    assert row["map"] == pytest.approx(0.81) and row["n_seeds"] == 2 and row["paper"] == pytest.approx(0.9431)
    assert row["diff"] == pytest.approx(0.81 - 0.9431)
    dpsh = t[(t.method == "dpsh") & (t.protocol == "cifar10-dshc")].iloc[0]
    assert dpsh["paper"] == pytest.approx(0.887) and dpsh["paper bits"] == 30  # the bracketed re-run, not 0.781 @32
    ml = t[(t.method == "dpsh") & (t.protocol == "cifar10-mosaic")].iloc[0]
    assert ml["paper"] == pytest.approx(0.722) and ml["paper bits"] == 24
    assert p004.table1_paper_value(reported("004", "table1"), "nosuch", "cifar10")[1] is None


def test_table2_and_the_ordering_claims_follow_the_runs():
    import pandas as pd

    from hashlib_core.reported import reported

    runs = _table_runs()
    runs2 = runs[runs.protocol == "cifar10-dshc"].assign(bits=60)
    t2 = p004.table2(runs2, reported("004", "table2"))
    assert set(t2.method) == {"dshc", "dpsh"} and t2["paper map"].notna().all()
    few = pd.DataFrame(p004.comparison_claims(runs, runs2, ["dpsh"], "cifar10-mosaic", 30, 60))
    assert set(few.verdict) == {"inconclusive"}  # DPSH has one seed: no claim is judged on it
    three = _three_seed_runs()
    three2 = three[three.protocol == "cifar10-dshc"].assign(bits=60)
    verdicts = [c["verdict"] for c in p004.comparison_claims(three, three2, ["dpsh"], "cifar10-mosaic", 30, 60)]
    assert verdicts == ["reproduced", "reproduced", "refuted", "reproduced"]  # the stand-in row: 0.60 < 0.65
    slower = three2.assign(runtime_last10_s=lambda d: d.runtime_last10_s.where(d.method != "dshc", 99.0 + d.seed))
    last = p004.comparison_claims(three, slower, ["dpsh"], "cifar10-mosaic", 30, 60)[-1]
    assert last["verdict"] == "refuted" and "faster" in last["claim"]
    no_table2 = p004.comparison_claims(runs, runs2[runs2.method == "dshc"], ["dpsh"], "cifar10-mosaic", 30, 60)
    assert [c["claim"][:7] for c in no_table2] == ["Table 1", "Table 1"]  # no Table 2 claims without its runs


def test_comparison_claims_put_dshc_against_the_papers_table1_value_first():
    from hashlib_core.reported import reported

    three = _three_seed_runs()
    three2 = three[three.protocol == "cifar10-dshc"].assign(bits=60)
    rows = p004.comparison_claims(three, three2, ["dpsh"], "cifar10-mosaic", 30, 60, paper_table1=reported("004", "table1"))
    first = rows[0]
    assert first["kind"] == "versus reported" and "0.943" in first["claim"] and "(30 bits)" in first["claim"]
    dshc = three[(three.protocol == "cifar10-dshc") & (three.method == "dshc")]["map"]
    assert first["means"] == pytest.approx([dshc.mean(), 0.9431])
    assert first["verdict"] == "refuted"  # 0.800-0.806 in every seed, far below 0.943
    assert len(rows) == 1 + len(p004.comparison_claims(three, three2, ["dpsh"], "cifar10-mosaic", 30, 60))
    # the paper's DSHC value is at 30 bits: another Table 1 length gets no versus-paper row
    assert p004.comparison_claims(three.assign(bits=32), three2, ["dpsh"], "cifar10-mosaic", 32, 60,
                                  paper_table1=reported("004", "table1"))[0]["kind"] != "versus reported"


def _radius_results(collapsing: str, seeds=(0, 1, 2), bits=8):
    """Fake runs of two methods on 4 classes: ``collapsing`` maps every item of a class onto its
    class's code (recall at distance 0 = 1); the other spreads a class over distinct codes. Each
    seed has its own split (items in a seed-dependent order), as cifar10-dshc draws one per seed."""
    from types import SimpleNamespace

    results = {}
    for s in seeds:
        rng = np.random.default_rng(s)
        centres = np.where(rng.random((4, bits)) < 0.5, -1, 1).astype(np.int8)
        dl, ql = rng.permutation(np.repeat(np.arange(4), 20)), rng.permutation(np.repeat(np.arange(4), 5))
        split = SimpleNamespace(query=SimpleNamespace(labels=ql), database=SimpleNamespace(labels=dl))
        for m in ("dshc", "dpsh"):
            db, q = centres[dl].copy(), centres[ql].copy()
            if m != collapsing:  # one flipped bit per item, at a random position: few exact matches
                for codes in (db, q):
                    idx = rng.integers(0, bits, len(codes))
                    codes[np.arange(len(codes)), idx] *= -1
            results[(m, bits, s)] = SimpleNamespace(db_codes=db, query_codes=q, metrics={"map": 0.5},
                                                    split=lambda split=split: split)
    return results


def test_radius_curves_use_each_seeds_own_split():
    from hashlib_core import metrics

    results = _radius_results("dpsh")
    curves = p004.radius_curves(results)
    assert set(curves) == set(results)
    assert all(curves[("dpsh", 8, s)]["recall"][0] == 1.0 for s in (0, 1, 2))
    # seed 0's labels on seed 1's codes would rank the wrong items: the curve differs
    r1, sp0 = results[("dpsh", 8, 1)], results[("dpsh", 8, 0)].split()
    wrong = metrics.precision_recall_vs_radius(r1.query_codes, r1.db_codes, sp0.query.labels, sp0.database.labels)
    assert wrong["recall"][0] < 1.0


def test_radius_claims_judge_recall_at_distance_zero_paired_by_seed():
    from hashlib_core.reported import reported

    paper = reported("004", "fig3")
    results = _radius_results("dpsh")
    rows = p004.radius_rows(results, p004.radius_curves(results), paper)
    assert set(rows.columns) >= {"method", "bits", "seed", "recall@r0", "distinct db codes", "paper recall@r0"}
    assert (rows[rows.method == "dpsh"]["recall@r0"] == 1.0).all()
    assert (rows[rows.method == "dpsh"]["distinct db codes"] <= 4).all()
    [claim] = p004.radius_claims(rows, ["dpsh"])
    assert claim["verdict"] == "reproduced" and claim["n_seeds"] == [3, 3]
    # DSHC collapsing instead: the paper's reading is refuted
    results = _radius_results("dshc")
    [claim] = p004.radius_claims(p004.radius_rows(results, p004.radius_curves(results), paper), ["dpsh"])
    assert claim["verdict"] == "refuted"
    # one seed is never a result
    results = _radius_results("dpsh", seeds=(0,))
    [claim] = p004.radius_claims(p004.radius_rows(results, p004.radius_curves(results), paper), ["dpsh"])
    assert claim["verdict"] == "inconclusive"
