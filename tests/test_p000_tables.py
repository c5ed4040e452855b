"""Paper 000's table assembly (hashlib_core.papers.p000_dshfmdf) on small synthetic runs."""
from __future__ import annotations

import pandas as pd
import pytest

from hashlib_core.papers.p000_dshfmdf import dshfmdf_rows, equal_inputs_claims, table2_layout, versus_paper_claims
from hashlib_core.reported import reported
from hashlib_core.tables import summarise

PAPER = pd.DataFrame({"method": "DSHFMDF", "dataset": "cifar10", "bits": [12, 48], "value": [0.779, 0.845]})


def _runs(maps: dict) -> pd.DataFrame:
    """maps: (setting, bits) -> per-seed MAP"""
    return pd.DataFrame([{"setting": s, "protocol": "cifar10-dshfmdf", "dataset": "cifar10", "bits": b, "seed": i,
                          "map": v} for (s, b), vals in maps.items() for i, v in enumerate(vals)])


def test_versus_paper_claims_one_row_per_setting_and_length_the_paper_has():
    runs = _runs({("lite0", 12): [0.72, 0.73, 0.725], ("lite0", 48): [0.84, 0.85, 0.846],
                  ("lite0", 24): [0.8, 0.8, 0.8], ("vgg", 12): [0.18, 0.2, 0.19]})
    table = versus_paper_claims(runs, PAPER)
    assert list(table.columns[:3]) == ["setting", "protocol", "bits"]
    got = {(r.setting, r.bits): r.verdict for r in table.itertuples()}
    # 24 bits: no paper value in this frame, so no row
    assert got == {("lite0", 12): "refuted", ("lite0", 48): "inconclusive", ("vgg", 12): "refuted"}
    row = table[(table["setting"] == "lite0") & (table["bits"] == 12)].iloc[0]
    assert row["claim"] == "ours ≥ paper at 12 bits (0.779)" and row["means"] == "0.725 → 0.779"
    assert row["difference ± SE"].startswith("ours − paper: -0.054 ± 0.003")


def test_versus_paper_claims_on_the_papers_own_table_2_values():
    paper = reported("000", "table2", method="DSHFMDF")
    cifar = paper[paper["dataset"] == "cifar10"]
    runs = _runs({("lite0", int(b)): [v + 0.01, v + 0.02, v + 0.015] for b, v in zip(cifar["bits"], cifar["value"])})
    table = versus_paper_claims(runs, paper)
    assert sorted(table["bits"]) == sorted(int(b) for b in cifar["bits"]) and set(table["verdict"]) == {"reproduced"}


def test_table2_layout_paper_ours_and_diff_rows():
    runs = _runs({("lite0", 12): [0.70, 0.72, 0.71], ("lite0", 48): [0.80, 0.82, 0.81]})
    ours = summarise(runs, ["setting", "dataset", "bits"])
    table = table2_layout(dshfmdf_rows(ours), PAPER)
    assert list(table["row"]) == ["paper", "ours", "diff (ours − paper)"]
    assert list(table.columns) == ["method", "row", "inputs", "cifar10@12", "cifar10@48"]
    assert table.loc[1, "cifar10@12"] == "0.710 ± 0.010" and table.loc[2, "cifar10@48"] == "-0.035"
    assert table.loc[0, "cifar10@12"] == "0.779" and table.loc[1, "inputs"] == "lite0"
    only_paper = table2_layout(dshfmdf_rows(ours), pd.concat([PAPER, PAPER.assign(method="DPSH")]))
    assert "paper (reported only; not run here)" in set(only_paper["row"])


@pytest.mark.parametrize("bad", ["dataset", "value"])
def test_versus_paper_claims_needs_the_papers_columns(bad):
    with pytest.raises(ValueError, match=rf"paper has no column\(s\) \['{bad}'\]"):
        versus_paper_claims(_runs({("lite0", 12): [0.7, 0.7, 0.7]}), PAPER.drop(columns=bad))


def _cross(maps: dict) -> pd.DataFrame:
    """maps: (paper_method, family, inputs) -> per-seed MAP, as notebook 21's baseline_frame rows"""
    return pd.DataFrame([{"paper_method": m, "family": f, "inputs": i, "protocol": "cifar10-dshfmdf", "bits": 48,
                          "seed": k, "map": v} for (m, f, i), vals in maps.items() for k, v in enumerate(vals)])


DEEP = "deep: efficientnet_lite0 224px imagenet weights frozen trunk"
TABLE2_48 = pd.DataFrame({"method": ["DSHFMDF", "HashNet", "SDH"], "value": [0.845, 0.646, 0.356]})


def test_equal_inputs_claims_one_claim_per_other_method_at_equal_inputs():
    runs = _cross({
        ("DSHFMDF", "deep", DEEP): [0.825, 0.800, 0.813],
        ("MDFF-SH", "deep", DEEP): [0.825, 0.800, 0.813],      # DSHFMDF's own runs: not compared
        ("HashNet", "deep", DEEP): [0.824, 0.819, 0.821],      # within noise, signs disagree
        ("DHN", "deep", DEEP): [0.742, 0.741, 0.737],          # clearly below
        ("DMSH", "deep", DEEP): [0.43, 0.69, 0.43],            # below in every seed
        ("SDH", "shallow", "lite0-fc1 (1280-d pooled)"): [0.810, 0.820, 0.815],
        ("SDH", "shallow", "hog-color (388-d HOG)"): [0.33, 0.32, 0.33],   # other inputs: left out
        ("CSQ", "deep", DEEP): [0.83, 0.85],                   # two seeds only
    })
    table = equal_inputs_claims(runs, TABLE2_48)
    got = dict(zip(table["claim"], table["verdict"]))
    assert got == {"DSHFMDF > HashNet": "inconclusive", "DSHFMDF > DHN": "reproduced",
                   "DSHFMDF > DMSH": "reproduced", "DSHFMDF > SDH": "inconclusive",
                   "DSHFMDF > CSQ": "inconclusive"}
    papers = dict(zip(table["claim"], table["paper 000"]))
    assert papers["DSHFMDF > HashNet"] == "DSHFMDF 0.845 > HashNet 0.646"
    assert papers["DSHFMDF > DHN"] == "not in the table"
    row = table[table["claim"] == "DSHFMDF > SDH"].iloc[0]
    assert row["means"] == "0.813 > 0.815"  # the lite0-fc1 SDH rows, not the hog-color ones


def test_equal_inputs_claims_refutes_a_reversed_order():
    runs = _cross({("DSHFMDF", "deep", DEEP): [0.70, 0.71, 0.72], ("HashNet", "deep", DEEP): [0.80, 0.81, 0.83]})
    assert equal_inputs_claims(runs, TABLE2_48)["verdict"].tolist() == ["refuted"]


@pytest.mark.parametrize("change, message", [
    (lambda r: r.drop(columns="inputs"), "no column"),
    (lambda r: r.assign(bits=[12, 48, 48, 48, 48, 48]), "one protocol at one length"),
    (lambda r: r[r["paper_method"] != "DSHFMDF"], "no DSHFMDF rows"),
])
def test_equal_inputs_claims_refuses_frames_it_cannot_judge(change, message):
    runs = _cross({("DSHFMDF", "deep", DEEP): [0.8, 0.8, 0.8], ("HashNet", "deep", DEEP): [0.8, 0.8, 0.8]})
    with pytest.raises(ValueError, match=message):
        equal_inputs_claims(change(runs), TABLE2_48)


def test_fig6_curves_train_the_two_slices_once_each_and_the_grid_every_pair():
    from hashlib_core.papers.p000_dshfmdf import fig6_points

    grid4 = [1e-4, 1e-3, 1e-2, 1e-1]
    curves = fig6_points(grid4, grid4, 0.01, 0.1, "curves")
    assert len(curves) == 7 and len(set(curves)) == 7  # 4 + 4 - the shared operating point
    assert curves[:4] == [(b, 0.1) for b in grid4]
    assert {(0.01, g) for g in grid4} <= set(curves)
    grid = fig6_points(grid4, grid4, 0.01, 0.1, "grid")
    assert len(grid) == 16 and set(curves) <= set(grid)


def test_fig6_points_refuse_an_unknown_design_or_curves_that_cannot_cross():
    from hashlib_core.papers.p000_dshfmdf import fig6_points

    with pytest.raises(ValueError, match="design must be one of"):
        fig6_points([0.1], [0.1], 0.1, 0.1, "heatmap")
    with pytest.raises(ValueError, match="default_gamma 0.1 in gammas"):
        fig6_points([0.01, 0.1], [0.001, 0.01], 0.01, 0.1, "curves")


def test_recipe_lengths_cut_only_the_from_scratch_setting():
    from hashlib_core.papers.p000_dshfmdf import recipe_lengths

    assert recipe_lengths([None, "lite0"], [12, 24, 32, 48]) == [(None, [12, 24, 32, 48]), ("lite0", [12, 24, 32, 48])]
    assert recipe_lengths([None, "lite0"], [12, 24, 32, 48], [48]) == [(None, [48]), ("lite0", [12, 24, 32, 48])]
    assert recipe_lengths(["lite0"], [12, 48], [48]) == [("lite0", [12, 48])]
    with pytest.raises(ValueError, match="subset of bits"):
        recipe_lengths([None], [12, 48], [64])
    with pytest.raises(ValueError, match="non-empty"):
        recipe_lengths([None], [12, 48], [])


def test_scale_sweep_computes_the_fused_runs_first_and_returns_the_notebook_order(monkeypatch):
    """Notebook 04: the fused runs' trunk pass caches every tap, so they go first (one pass on an
    empty cache, not three); the results keep the notebook's order (setting, variant, length)."""
    import hashlib_core.runner as runner
    from hashlib_core.papers.p000_dshfmdf import scale_sweep

    calls = []

    def fake_sweep(profile, method, protocol, bits, seeds, model, recipe):
        calls.append((recipe, model["variant"]))
        return [(recipe, model["variant"], b, s) for b in bits for s in seeds]

    monkeypatch.setattr(runner, "sweep", fake_sweep)
    out = scale_sweep("cpu", ["fc1", "conv3-5", "fused"], [None, "lite0"], [12, 48], [48], [0, 1])
    assert calls == [(None, "fused"), (None, "fc1"), (None, "conv3-5"),
                     ("lite0", "fused"), ("lite0", "fc1"), ("lite0", "conv3-5")]
    assert [r[:2] for r in out[:6]] == [(None, "fc1")] * 2 + [(None, "conv3-5")] * 2 + [(None, "fused")] * 2
    assert out[6:] == [("lite0", v, b, s) for v in ["fc1", "conv3-5", "fused"] for b in [12, 48] for s in [0, 1]]
