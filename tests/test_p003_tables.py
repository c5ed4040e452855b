"""Paper 003's table builders (hashlib_core.papers.p003_selfsup) on synthetic runs: the paper's
value is the right cell, the difference is ours − paper, the readings table and its nearest reading,
the MSE scales, the claims' verdicts; the shared run definition; the pixel references on real data."""
import numpy as np
import pandas as pd
import pytest

from hashlib_core.claims import claims_frame
from hashlib_core.papers import p003_selfsup as p3
from hashlib_core.reported import reported

PAPER = reported("003")
NAMES = {"vae": "VAE", "cvae": "CVAE", "vte": "VTE", "csvae": "CSVAE", "dhn": "DHN", "hashnet": "HashNet", "dpn": "DPN"}


def _runs(methods=("vae", "cvae", "vte", "csvae"), bits=(16, 32, 64, 128), seeds=(0, 1, 2), **columns) -> pd.DataFrame:
    """One row per (method, bits, seed); metric columns from ``columns[name](method, bits, seed)``."""
    rows = []
    for m in methods:
        for b in bits:
            for s in seeds:
                row = {"method": m, "bits": b, "seed": s, "protocol": "cifar10-selfsup", "paper_method": NAMES[m],
                       "inputs": f"inputs of {m}"}
                row.update({k.replace("__", "."): f(m, b, s) for k, f in columns.items()})
                rows.append(row)
    return pd.DataFrame(rows)


def _base_map(m, b, s):
    return {"vae": 0.11, "cvae": 0.14, "vte": 0.15, "csvae": 0.145, "dhn": 0.2, "hashnet": 0.21, "dpn": 0.22}[m] \
        + (0.01 if b == 64 else 0.0) + 0.001 * s


def test_table1_puts_the_paper_cell_beside_the_mean_over_seeds():
    runs = _runs(map=_base_map, main__precision=lambda m, b, s: 0.2 + 0.01 * s,
                 main__recall=lambda m, b, s: 0.001, main__f1=lambda m, b, s: 0.002)
    t = p3.table1(runs, PAPER)
    cell = t[(t.method == "CVAE") & (t.bits == 32) & (t.metric == "map")].iloc[0]
    assert cell.ours == pytest.approx(0.141)
    assert cell.sd == pytest.approx(0.001)
    assert cell.n_seeds == 3
    assert cell.paper == 0.962 and cell["diff"] == pytest.approx(0.141 - 0.962)
    prec = t[(t.method == "VTE") & (t.bits == 64) & (t.metric == "precision")].iloc[0]
    assert prec.paper == 0.979 and prec.ours == pytest.approx(0.21)
    assert len(t) == 4 * 4 * 4
    wide = p3.layout(t)
    assert list(wide.columns[:5]) == ["method", "metric", "16b ours", "16b paper", "16b diff"]
    row = wide[(wide.method == "CVAE") & (wide.metric == "map")].iloc[0]
    assert row["32b ours"] == "0.141 ± 0.001" and row["32b paper"] == "0.962" and row["32b diff"] == "-0.821"
    assert row["seeds"] == "3/3/3/3"


def test_table2_reads_the_evaluation_collisions_and_references_get_no_paper_value():
    runs = _runs(collision_eval__items_sharing=lambda m, b, s: 100.0 / b)
    ref = _runs(methods=("vae",), seeds=(0,), collision_eval__items_sharing=lambda m, b, s: 5.0)
    ref["method"], ref["paper_method"] = "itq-pixels", "ITQ (pixels)"
    t = p3.table2(pd.concat([runs, ref]), PAPER)
    cell = t[(t.method == "CSVAE") & (t.bits == 16)].iloc[0]
    assert cell.ours == pytest.approx(6.25) and cell.paper == 0.23
    itq = t[t.method == "ITQ (pixels)"]
    assert len(itq) == 4 and itq.paper.isna().all() and (itq.ours == 5.0).all()


def test_table3_rows_our_work_and_transhash():
    runs = _runs(methods=("vte", "csvae", "dhn", "hashnet", "dpn"), bits=(16, 32, 64), map=_base_map)
    t = p3.table3(runs, PAPER, ours_as=("vte", "csvae"))
    vte = t[(t.method == "VTE") & (t.bits == 32)].iloc[0]
    assert vte.paper == 0.966 and vte["paper row"] == "Our work" and vte.inputs == "inputs of vte"
    dhn = t[(t.method == "DHN") & (t.bits == 64)].iloc[0]
    assert dhn.paper == 0.588 and dhn.ours == pytest.approx(0.211)
    trans = t[t.method == "TransH (TransHash)"]
    assert sorted(trans.bits) == [16, 32, 64] and trans.ours.isna().all() and list(trans.paper) == [0.908, 0.911, 0.917]
    assert set(trans.inputs) == {"reported only: no public code"}
    assert "inputs" in p3.layout(t).columns


def test_fig5_mse_scales_and_ratios():
    runs = _runs(bits=(64,), recon__mse_mean=lambda m, b, s: 0.00868 if m == "vae" else 0.01,
                 recon__mse_sd=lambda m, b, s: 0.001, recon__sse_mean=lambda m, b, s: 10.0,
                 recon__sse_sd=lambda m, b, s: 1.0, recon__sse128_mean=lambda m, b, s: 0.00868 * 128 ** 2,
                 recon__sse128_sd=lambda m, b, s: 16.384)
    f = p3.fig5_mse(runs, PAPER).set_index("method")
    assert f.loc["VAE", "ratio ×1000 / paper"] == pytest.approx(1.0)
    assert f.loc["VAE", "MSE per pixel ×1000"] == "8.680 ± 1.000"
    assert f.loc["VAE", "paper"] == "8.680 ± 0.821"
    assert f.loc["VTE", "ratio SSE / paper"] == pytest.approx(10.0 / 6.664)


def test_fig6_curve_takes_cvae_from_table1_and_dpn_from_table3():
    runs = _runs(methods=("cvae", "dpn", "hashnet"), bits=(16, 32, 64), map=_base_map)
    c = p3.fig6_curve(runs, PAPER).set_index(["method", "bits"])
    assert c.loc[("CVAE", 32), "paper"] == 0.962
    assert c.loc[("DPN", 64), "paper"] == 0.812
    assert c.loc[("HashNet", 16), "paper"] == 0.748


def test_readings_table_and_nearest_reading():
    paper_row = {"precision": 0.976, "recall": 0.981, "f1": 0.980}  # CVAE, 32 bits
    cols = {}
    for label, metrics in p3.READINGS.items():
        for metric, col in metrics.items():
            exact = label.startswith("first hit's label as a class (macro P / R / F1), queries")
            cols[col.replace(".", "__")] = (lambda v: (lambda m, b, s: v))(paper_row[metric] if exact else 0.1)
    runs = _runs(methods=("cvae",), bits=(32,), **cols)
    t = p3.readings_table(runs, PAPER, bits=32)
    assert t.iloc[0].reading == "paper 003 Table I" and t.iloc[0]["map"] == 0.962
    assert len(t) == 1 + len(p3.READINGS)
    first_hit = t[t.reading == "precision of the first hit only (P@1), disjoint"].iloc[0]
    assert first_hit.precision == pytest.approx(0.1) and np.isnan(first_hit.recall)
    near = p3.nearest_reading(t)
    assert near.iloc[0].reading.startswith("first hit's label as a class (macro P / R / F1), queries")
    assert near.iloc[0]["mean |ours − paper|"] == pytest.approx(0.0)
    assert near.iloc[0]["metrics compared"] == 3


def test_robustness_table_counts_and_shares():
    runs = _runs(bits=(16, 64), **{f"stability__{k}": (lambda m, b, s: b / 8) for k in p3.PERTURBATIONS})
    t = p3.robustness_table(runs)
    row = t[(t.method == "CVAE") & (t.bits == 64)].iloc[0]
    assert row["JPEG q75: bits changed"] == "8.00 ± 0.00" and row["JPEG q75: % of bits"] == pytest.approx(12.5)


def test_claims_verdicts_on_clear_synthetic_differences():
    runs = _runs(map=_base_map, recon__mse_mean=lambda m, b, s: {"vte": 0.01, "csvae": 0.011, "cvae": 0.012,
                                                                 "vae": 0.02}[m] + 0.0001 * s,
                 collision_eval__items_sharing=lambda m, b, s: 100.0 / b + 0.01 * s)
    cf = claims_frame(p3.claims(runs)).set_index("claim")
    assert cf.loc["§IV: CVAE > VAE (mAP, pooled over code lengths)", "verdict"] == "reproduced"
    assert cf.loc["§III / Fig. 5: reconstruction MSE VTE < CSVAE < CVAE < VAE", "verdict"] == "reproduced"
    assert cf.loc["§IV: VTE mAP highest at 64 bits (64 > 128)", "verdict"] == "reproduced"
    assert cf.loc["Table II: CSVAE collision ratio falls with the code length", "verdict"] == "reproduced"
    low = runs.assign(map=[0.05 + 0.001 * s if m == "cvae" else v for m, s, v in zip(runs.method, runs.seed, runs["map"])])
    cf = claims_frame(p3.claims(low)).set_index("claim")
    assert cf.loc["§IV: CVAE > VAE (mAP, pooled over code lengths)", "verdict"] == "refuted"


def test_selfsup_configs_seed_rule_and_overrides():
    cfgs = p3.selfsup_configs("smoke", ["vae", "vte"], [16, 64], [0, 1, 2], few_seeds=[0], few_seeds_models=["vte"],
                              all_seeds_bits=[64], num_threads=1, model_overrides={"vte": {"depth": 2}})
    got = sorted((c.method, c.bits, c.seed) for c in cfgs)
    assert got == sorted([("vae", 16, s) for s in range(3)] + [("vae", 64, s) for s in range(3)]
                         + [("vte", 16, 0)] + [("vte", 64, s) for s in range(3)])
    assert {c.num_threads for c in cfgs} == {1}
    assert all(c.model.get("depth") == 2 for c in cfgs if c.method == "vte")
    assert all("depth" not in c.model for c in cfgs if c.method == "vae")
    big = p3.configs("smoke", "cvae", [32], [0], input_size=128)[0]
    assert big.input_size == 128 and big.key() != p3.configs("smoke", "cvae", [32], [0])[0].key()


def test_reference_rows_on_real_data(isolated_cache):
    """The reference rows are ordinary runner runs of the shallow methods on the ``gray-minmax``
    descriptor and the Lite0 feature: cached like any run, with paper 003's readings (and, on
    pixels, the code stability)."""
    from hashlib_core.runner import run_dir

    results = p3.reference_runs("smoke", [16], methods=("itq",), input_size=32)
    assert [r.config.method for r in results] == ["itq"]
    assert dict(results[0].config.model)["features"] == "gray-minmax@32"
    row = p3.reference_frame(results).iloc[0]
    assert row.method == "itq-pixels" and row.paper_method == "ITQ (pixels)" and row.bits == 16
    assert row.inputs.startswith("grayscale 32 px pixels (1024-d)")
    for col in ("map", "main.precision", "nn_label_self.precision", "collision_eval.items_sharing",
                "stability.jpeg75", "stability.brighter20"):
        assert np.isfinite(row[col]), col
    assert 0 <= row["stability.jpeg75"] <= 16
    assert (run_dir(results[0].key) / "meta.json").is_file()  # in the run cache
    again = p3.reference_runs("smoke", [16], methods=("itq",), input_size=32)
    assert again[0].metrics == results[0].metrics
    assert p3.reference_frame([]).empty
    lite = p3.reference_frame(p3.reference_runs("smoke", [16], methods=("itq",), features=("lite0-fc1@32",))).iloc[0]
    assert lite.method == "itq-lite0" and lite.paper_method == "ITQ (Lite0 features)"
    assert lite.inputs.startswith("ImageNet-pretrained EfficientNet-Lite0 fc1 feature (frozen, 32 px RGB)")
    assert np.isfinite(lite["main.precision"]) and "stability.jpeg75" not in lite.dropna().index



# --------------------------------------------------------------------------------------------
# The ImageNet and NUS-WIDE columns (notebook 44)
# --------------------------------------------------------------------------------------------

def test_tables_take_the_dataset_column():
    runs = _runs(map=_base_map, main__precision=lambda m, b, s: 0.4, main__recall=lambda m, b, s: 0.01,
                 main__f1=lambda m, b, s: 0.02, collision_eval__items_sharing=lambda m, b, s: 100.0 / b)
    nus = p3.table1(runs, PAPER, dataset="nuswide81")
    cell = nus[(nus.method == "CVAE") & (nus.bits == 32) & (nus.metric == "map")].iloc[0]
    assert cell.paper == 0.821 and cell["diff"] == pytest.approx(0.141 - 0.821)  # CIFAR-10's would be 0.962
    assert nus[(nus.method == "VAE") & (nus.bits == 16) & (nus.metric == "f1")].iloc[0].paper == 0.537
    assert len(nus) == 64 and nus.paper.notna().all()
    img = p3.table2(runs, PAPER, dataset="imagenet")
    assert img[(img.method == "VTE") & (img.bits == 128)].iloc[0].paper == 0.11
    assert img[(img.method == "CSVAE") & (img.bits == 32)].iloc[0].ours == pytest.approx(100 / 32)
    assert p3.table1(runs, PAPER).equals(p3.table1(runs, PAPER, dataset="cifar10"))
    with pytest.raises(ValueError, match="columns"):
        p3.table1(runs, PAPER, dataset="nuswide21")


def test_reported_column_is_the_papers_cells_only():
    t = p3.reported_column(PAPER, "table1", "imagenet")
    assert len(t) == 4 * 4 * 4 and t.ours.isna().all() and t["diff"].isna().all() and (t.n_seeds == 0).all()
    assert list(dict.fromkeys(t.method)) == ["VAE", "CVAE", "VTE", "CSVAE"]  # the paper's order
    assert t[(t.method == "VAE") & (t.bits == 64) & (t.metric == "precision")].iloc[0].paper == 0.663
    wide = p3.layout(t)
    row = wide[(wide.method == "CSVAE") & (wide.metric == "map")].iloc[0]
    assert row["16b ours"] == "" and row["16b paper"] == "0.784" and row["16b diff"] == "" and row["seeds"] == "0/0/0/0"
    t2 = p3.reported_column(PAPER, "table2", "nuswide81")
    assert len(t2) == 16 and t2[(t2.method == "CSVAE") & (t2.bits == 16)].iloc[0].paper == 0.13
    with pytest.raises(ValueError, match="artefact"):
        p3.reported_column(PAPER, "table3", "imagenet")


def test_paper_dataset_of_each_protocol_and_its_runs():
    assert p3.paper_dataset("mosaic-selfsup") == p3.paper_dataset("nuswide-selfsup") == "nuswide81"
    assert p3.paper_dataset("imagenet-selfsup:val") == "imagenet" and p3.paper_dataset("cifar10-selfsup") == "cifar10"
    with pytest.raises(ValueError, match="fills no column"):
        p3.paper_dataset("cifar10-mosaic")
    cfgs = p3.selfsup_configs("smoke", ["cvae"], [16], [0, 1], protocol="mosaic-selfsup", num_threads=1)
    assert [c.protocol for c in cfgs] == ["mosaic-selfsup"] * 2
    assert cfgs[0].key() != p3.selfsup_configs("smoke", ["cvae"], [16], [0], num_threads=1)[0].key()
    ref = p3.reference_configs("smoke", [16], methods=("itq",), protocol="mosaic-selfsup")
    assert [(c.protocol, dict(c.model)["features"]) for c in ref] == [("mosaic-selfsup", "gray-minmax@32")]


def test_chance_levels_of_the_stand_in(isolated_cache):
    from hashlib_core.data import get_protocol

    split = get_protocol("mosaic-selfsup", seed=0)
    c = p3.chance_levels(split, bits=64)
    q, d = split.query.labels.astype(np.int64), split.database.labels.astype(np.int64)
    assert c["chance precision"] == pytest.approx(((q @ d.T) > 0).mean())
    assert 0.30 < c["chance precision"] < 0.37 and c["queries without a relevant item"] == 0
    # random codes rank at random: their mAP is the chance precision, up to the sampling noise
    assert c["mAP of random 64-bit codes"] == pytest.approx(c["chance precision"], abs=0.01)
    assert c["multi_label"] and c["classes"] == 10 and 1.8 < c["labels per image (database)"] < 2.0


def test_columns_and_their_captions():
    assert p3.columns(["mosaic-selfsup", ""]) == {"nuswide81": "mosaic-selfsup"}
    assert p3.columns(["nuswide-selfsup", "imagenet-selfsup"]) == {"nuswide81": "nuswide-selfsup",
                                                                    "imagenet": "imagenet-selfsup"}
    with pytest.raises(ValueError, match="both fill the NUS-WIDE column"):
        p3.columns(["mosaic-selfsup", "nuswide-selfsup"])
    with pytest.raises(ValueError, match="fills the CIFAR-10 column; here: NUS-WIDE, ImageNet .*notebook 40's"):
        p3.columns(["cifar10-selfsup"], among=("nuswide81", "imagenet"))
    reported_only = p3.column_caption("table1", "imagenet")
    assert "ImageNet column: reported only" in reported_only and "imagenet_protocol: imagenet-selfsup" in reported_only
    assert "no ImageNet images" in reported_only and "Table II" in p3.column_caption("table2", "imagenet")
    chance = {"multi_label": True, "chance precision": 0.3362, "mAP of random 64-bit codes": 0.3349}
    stand_in = p3.column_caption("table1", "nuswide81", "mosaic-selfsup", "cpu", chance, references=True)
    assert "NUS-WIDE column, on `mosaic-selfsup`" in stand_in and "at least one shared label" in stand_in
    assert "Chance precision 0.336, mAP of random 64-bit codes 0.335." in stand_in and "(pixels)" in stand_in
    assert "stand-in for NUS-WIDE" in stand_in and "nuswide-selfsup" in stand_in
    own = p3.column_caption("table1", "imagenet", "imagenet-selfsup", "paper", {"multi_label": False, "chance precision": 0.001})
    assert "the same class" in own and "stand-in" not in own and "(pixels)" not in own
    assert "collision ratio" in p3.column_caption("table2", "nuswide81", "nuswide-selfsup", "cpu")
