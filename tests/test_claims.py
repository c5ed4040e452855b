"""Claims with seed statistics (hashlib_core.claims): the verdicts of the cases issue 13 names."""

import numpy as np
import pandas as pd
import pytest

from hashlib_core import claims as C


def runs_of(arms: dict, column: str = "model.variant", bits=(48,), seeds=None, metric: str = "map") -> pd.DataFrame:
    """A results_frame-like long frame: ``arms[name]`` is a list of per-seed values (one per seed,
    the same at every bit length) or a dict {bits: [per-seed values]}."""
    rows = []
    for arm, values in arms.items():
        per_bits = values if isinstance(values, dict) else {b: values for b in bits}
        for b, vals in per_bits.items():
            arm_seeds = seeds[arm] if isinstance(seeds, dict) else (seeds or list(range(len(vals))))
            for s, v in zip(arm_seeds, vals):
                rows.append({"method": "dshfmdf", "protocol": "cifar10-dshfmdf", "bits": b, "seed": s,
                             "setting": "test", column: arm, metric: v})
    return pd.DataFrame(rows)


# --- ordering ------------------------------------------------------------------------------

def test_clear_three_seed_gap_is_reproduced_and_its_reverse_refuted():
    runs = runs_of({"dshc": [0.800, 0.804, 0.796], "dpsh": [0.72, 0.73, 0.71]}, column="method")
    row = C.ordering_claim(runs, "method", ["dshc", "dpsh"], "DSHC > DPSH")
    assert row["verdict"] == "reproduced"
    assert row["means"] == pytest.approx([0.800, 0.72])
    (label, diff, se), = row["differences"]
    d = np.array([0.08, 0.074, 0.086])
    assert diff == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / np.sqrt(3))
    assert row["n_seeds"] == [3, 3]
    rev = C.ordering_claim(runs, "method", ["dpsh", "dshc"], "DPSH > DSHC")
    assert rev["verdict"] == "refuted" and "opposite order holds" in rev["reason"]


def test_gap_within_noise_is_inconclusive_where_the_old_check_said_yes():
    # notebook 10's DSHC > DSDH: a 0.014 gap with a seed sd of 0.014 on 3 seeds
    runs = runs_of({"dshc": [0.800, 0.800, 0.800], "dsdh": [0.772, 0.800, 0.786]}, column="method")
    assert runs.groupby("method")["map"].std().loc["dsdh"] == pytest.approx(0.014)
    row = C.ordering_claim(runs, "method", ["dshc", "dsdh"], "DSHC > DSDH")
    assert row["differences"][0][1] == pytest.approx(0.014)
    assert row["verdict"] == "inconclusive" and "gap within noise" in row["reason"]


def test_sign_disagreement_is_inconclusive_even_beyond_two_se():
    # With 3 seeds a mean above 2 SE already forces every seed positive (the largest t with a
    # seed <= 0 is n - 1 = 2); from 4 seeds the sign rule bites: t ~ 3 here, one seed reversed.
    runs = runs_of({"a": [0.80, 0.80, 0.80, 0.80], "b": [0.70, 0.70, 0.70, 0.801]})
    row = C.ordering_claim(runs, "model.variant", ["a", "b"], "a > b")
    d, se = row["differences"][0][1:]
    assert d > 2 * se
    assert row["verdict"] == "inconclusive" and "sign" in row["reason"]


def test_one_seed_is_inconclusive():
    # notebook 04 (Lite0): fused > fc1 > conv3-5 from one seed with gaps 0.010 and 0.004
    runs = runs_of({"fused": [0.813], "fc1": [0.803], "conv3-5": [0.799]})
    row = C.ordering_claim(runs, "model.variant", ["fused", "fc1", "conv3-5"], "fused > fc1 > conv3-5")
    assert row["verdict"] == "inconclusive" and "fewer than 3 seeds" in row["reason"]


def test_two_against_three_seeds_is_inconclusive():
    runs = runs_of({"a": [0.90, 0.91, 0.92], "b": [0.10, 0.11]})
    row = C.ordering_claim(runs, "model.variant", ["a", "b"], "a > b")
    assert row["verdict"] == "inconclusive" and "fewer than 3 seeds (a: 3, b: 2)" in row["reason"]


def test_ties_are_inconclusive():
    runs = runs_of({"a": [0.8, 0.7, 0.75], "b": [0.8, 0.7, 0.75]})
    row = C.ordering_claim(runs, "model.variant", ["a", "b"], "a > b")
    assert row["verdict"] == "inconclusive" and "tie" in row["reason"]
    assert row["differences"][0][1] == 0.0


def test_nan_values_are_dropped_and_counted():
    # a NaN leaves b with 2 finite seeds: inconclusive
    runs = runs_of({"a": [0.80, 0.81, 0.80], "b": [0.70, np.nan, 0.71]})
    row = C.ordering_claim(runs, "model.variant", ["a", "b"], "a > b")
    assert row["verdict"] == "inconclusive" and "fewer than 3 seeds" in row["reason"]
    assert "NaN map dropped (a: 0, b: 1)" in row["reason"]
    # with four seeds the other three still decide
    runs = runs_of({"a": [0.80, 0.81, 0.80, 0.82], "b": [0.70, np.nan, 0.71, 0.72]})
    row = C.ordering_claim(runs, "model.variant", ["a", "b"], "a > b")
    assert row["verdict"] == "reproduced" and "NaN map dropped" in row["reason"]
    assert row["n_seeds"] == [4, 3]


def test_unequal_seed_sets_pair_only_common_seeds_and_say_so():
    runs = runs_of({"a": [0.30, 0.80, 0.81, 0.82], "b": [0.70, 0.71, 0.72, 0.95]},
                   seeds={"a": [0, 1, 2, 3], "b": [1, 2, 3, 4]})
    row = C.ordering_claim(runs, "model.variant", ["a", "b"], "a > b")
    # seeds 1-3: a - b = 0.10, 0.10, 0.10; the unpaired seeds 0 (a) and 4 (b) do not enter
    assert row["differences"][0][1] == pytest.approx(0.10)
    assert row["verdict"] == "reproduced"
    assert "paired on the 3 seed(s) both have; a only: [0], b only: [4]" in row["reason"]
    one_sided = C.ordering_claim(runs[runs.seed != 4], "model.variant", ["a", "b"], "a > b")
    assert one_sided["reason"].endswith("paired on the 3 seed(s) both have; a only: [0]")
    # the arms' means are over all their own seeds
    assert row["means"] == pytest.approx([np.mean([0.30, 0.80, 0.81, 0.82]), np.mean([0.70, 0.71, 0.72, 0.95])])


def test_too_few_common_seeds():
    runs = runs_of({"a": [0.9, 0.9, 0.9], "b": [0.1, 0.1, 0.1]}, seeds={"a": [0, 1, 2], "b": [2, 3, 4]})
    row = C.ordering_claim(runs, "model.variant", ["a", "b"], "a > b")
    assert row["verdict"] == "inconclusive" and "fewer than 3 common seeds (1)" in row["reason"]


def test_three_arm_chain():
    clear = {"fused": [0.85, 0.86, 0.84], "fc1": [0.80, 0.81, 0.79], "conv3-5": [0.70, 0.71, 0.69]}
    order = ["fused", "fc1", "conv3-5"]
    assert C.ordering_claim(runs_of(clear), "model.variant", order, "x")["verdict"] == "reproduced"
    noisy = {**clear, "conv3-5": [0.83, 0.78, 0.80]}  # fc1 vs conv3-5 undecided
    row = C.ordering_claim(runs_of(noisy), "model.variant", order, "x")
    assert row["verdict"] == "inconclusive" and row["reason"].startswith("fc1 vs conv3-5:")
    reversed_last = {**clear, "conv3-5": [0.90, 0.91, 0.89]}  # one step reversed refutes
    row = C.ordering_claim(runs_of(reversed_last), "model.variant", order, "x")
    assert row["verdict"] == "refuted" and "conv3-5 > fc1" in row["reason"]
    assert len(row["differences"]) == 2 and len(row["means"]) == 3


def test_pooling_over_bits_pairs_cells_then_averages_within_seed():
    a = {12: [0.70, 0.72, 0.71], 24: [0.80, 0.83, 0.81]}
    b = {12: [0.66, 0.69, 0.66], 24: [0.78, 0.80, 0.79]}
    runs = runs_of({"a": a, "b": b})
    row = C.ordering_claim(runs, "model.variant", ["a", "b"], "a > b")
    per_seed = (np.array(a[12]) - b[12] + np.array(a[24]) - b[24]) / 2
    assert row["differences"][0][1] == pytest.approx(per_seed.mean())
    assert row["differences"][0][2] == pytest.approx(per_seed.std(ddof=1) / np.sqrt(3))
    assert row["n_seeds"] == [3, 3] and row["verdict"] == "reproduced"
    # a bit length only one arm has is left out of the pairing, and the reason says so
    partial = C.ordering_claim(runs_of({"a": a, "b": {12: b[12]}}), "model.variant", ["a", "b"], "a > b")
    d12 = np.array(a[12]) - b[12]
    assert partial["differences"][0][1] == pytest.approx(d12.mean())
    assert "paired on the 3 cells both have (a: 6, b: 3)" in partial["reason"]


def test_bad_input_gets_one_clear_error():
    runs = runs_of({"a": [0.8, 0.8, 0.8], "b": [0.7, 0.7, 0.7]})
    with pytest.raises(ValueError, match="better"):
        C.ordering_claim(runs, "model.variant", ["a", "b"], "x", better="smaller")
    with pytest.raises(ValueError, match="no column.*'map@5000'"):
        C.ordering_claim(runs, "model.variant", ["a", "b"], "x", metric="map@5000")
    with pytest.raises(ValueError, match="no runs with model.variant == 'fusd'"):
        C.ordering_claim(runs, "model.variant", ["fusd", "b"], "x")
    with pytest.raises(ValueError, match="more than one run in cell"):
        C.ordering_claim(pd.concat([runs, runs]), "model.variant", ["a", "b"], "x")
    with pytest.raises(ValueError, match="at least two arms"):
        C.ordering_claim(runs, "model.variant", ["a"], "x")
    with pytest.raises(ValueError, match="must contain 'seed'"):
        C.ordering_claim(runs, "model.variant", ["a", "b"], "x", pair_on=["bits"])


def test_lower_is_better_for_runtimes():
    # paper 004 Table 2: DSHC's last ten epochs faster than DPSH's
    runs = runs_of({"dshc": [41.0, 42.5, 41.7], "dpsh": [400.0, 410.0, 407.0]}, column="method", metric="runtime_s")
    row = C.ordering_claim(runs, "method", ["dshc", "dpsh"], "DSHC faster than DPSH", metric="runtime_s", better="lower")
    assert row["verdict"] == "reproduced" and row["means"] == pytest.approx([41.733, 405.667], abs=1e-3)
    assert row["differences"][0][0] == "dpsh − dshc" and row["differences"][0][1] == pytest.approx(363.933, abs=1e-3)
    rev = C.ordering_claim(runs, "method", ["dpsh", "dshc"], "x", metric="runtime_s", better="lower")
    assert rev["verdict"] == "refuted" and "dshc < dpsh" in rev["reason"]
    assert C.claims_frame([row]).loc[0, "arms"] == "dshc < dpsh"


# --- shapes ---------------------------------------------------------------------------------

GAMMAS = [1e-4, 1e-3, 1e-2, 1e-1]
SMALL_NOISE = [0.0, 0.003, -0.003]  # per-seed offsets, the same at every grid value


def curve_runs(means, noise=SMALL_NOISE, column="loss.gamma", grid=GAMMAS):
    return runs_of({g: [m + e for e in noise] for g, m in zip(grid, means)}, column=column)


def test_dip_then_jump_is_not_rises_then_levels_off():
    # notebook 07's γ curve, one seed: the old check said yes
    curve = [0.176, 0.153, 0.123, 0.219]
    one = C.rise_then_level_claim(curve_runs(curve, noise=[0.0]), "loss.gamma", "rises then levels off in γ")
    assert one["verdict"] == "inconclusive" and "fewer than 3 seeds" in one["reason"]
    # with three seeds of small, non-parallel spread it is refuted: a dip, then still rising at the edge
    noise = [[0.0, 0.004, -0.004], [0.003, -0.002, 0.001], [-0.003, 0.002, 0.0], [0.002, 0.0, -0.003]]
    runs = runs_of({g: [m + e for e in n] for g, m, n in zip(GAMMAS, curve, noise)}, column="loss.gamma")
    row = C.rise_then_level_claim(runs, "loss.gamma", "rises then levels off in γ")
    assert row["verdict"] == "refuted"
    assert "dips below loss.gamma=0.0001" in row["reason"] and "still rising at the grid's edge" in row["reason"]
    assert row["peak"] == "loss.gamma=0.1"


def test_rise_then_plateau_is_reproduced():
    noise = [[0.0, 0.003, -0.003], [0.003, -0.003, 0.0], [-0.003, 0.0, 0.003], [0.003, 0.0, -0.003]]
    runs = runs_of({g: [m + e for e in n] for g, m, n in zip(GAMMAS, [0.70, 0.80, 0.81, 0.805], noise)},
                   column="loss.gamma")
    row = C.rise_then_level_claim(runs, "loss.gamma", "x")
    assert row["verdict"] == "reproduced" and row["peak"] == "loss.gamma=0.01"
    assert "within noise of the peak: loss.gamma=0.1" in row["reason"]
    # peak at the edge with a predecessor within noise is a plateau too
    noise = [[0.0, 0.003, -0.003], [0.0, 0.003, -0.003], [0.004, -0.004, 0.001], [-0.002, 0.003, -0.001]]
    runs = runs_of({g: [m + e for e in n] for g, m, n in zip(GAMMAS, [0.70, 0.75, 0.805, 0.806], noise)},
                   column="loss.gamma")
    row = C.rise_then_level_claim(runs, "loss.gamma", "x")
    assert row["verdict"] == "reproduced" and row["peak"] == "loss.gamma=0.1"


def test_fall_after_the_peak_and_no_rise_are_refuted():
    row = C.rise_then_level_claim(curve_runs([0.70, 0.80, 0.75, 0.70]), "loss.gamma", "x")
    assert row["verdict"] == "refuted" and "falls after the peak loss.gamma=0.001" in row["reason"]
    row = C.rise_then_level_claim(curve_runs([0.80, 0.75, 0.74, 0.70]), "loss.gamma", "x")
    assert row["verdict"] == "refuted" and "no rise" in row["reason"]


def test_rise_within_noise_is_inconclusive():
    noise = [[0.0, 0.02, -0.02], [0.02, -0.02, 0.0], [-0.02, 0.0, 0.02], [0.0, -0.02, 0.02]]
    runs = runs_of({g: [m + e for e in n] for g, m, n in zip(GAMMAS, [0.80, 0.81, 0.812, 0.811], noise)},
                   column="loss.gamma")
    row = C.rise_then_level_claim(runs, "loss.gamma", "x")
    assert row["verdict"] == "inconclusive" and "within noise" in row["reason"]


def test_stable_across_lengths():
    bits = [12, 24, 32, 48]
    runs = curve_runs([0.810, 0.815, 0.812, 0.811], column="bits", grid=bits)
    row = C.stable_claim(runs, "stable across code lengths", tolerance=0.02)
    assert row["verdict"] == "reproduced"
    assert row["differences"][0][0] == "bits=24 − bits=12 (max − min)"
    assert C.stable_claim(curve_runs([0.70, 0.80, 0.81, 0.80], column="bits", grid=bits), "x",
                          tolerance=0.02)["verdict"] == "refuted"
    noise = [[0.0, 0.02, -0.02], [0.02, -0.02, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    runs = runs_of({b: [m + e for e in n] for b, m, n in zip(bits, [0.80, 0.818, 0.81, 0.81], noise)}, column="bits")
    assert C.stable_claim(runs, "x", tolerance=0.02)["verdict"] == "inconclusive"
    with pytest.raises(ValueError, match="tolerance"):
        C.stable_claim(runs, "x", tolerance=-1)


def test_trend_with_bits():
    bits = [12, 24, 32, 48]
    up = curve_runs([0.70, 0.75, 0.78, 0.80], column="bits", grid=bits)
    row = C.trend_claim(up, "MAP increases with bits")
    assert row["verdict"] == "reproduced" and row["arms"] == [f"bits={b}" for b in bits]
    assert [d[0] for d in row["differences"]][-1] == "bits=24 − bits=12"
    assert row["means"] == pytest.approx([0.70, 0.75, 0.78, 0.80])
    assert C.trend_claim(up, "x", direction="falls")["verdict"] == "refuted"
    flat_end = curve_runs([0.70, 0.75, 0.78, 0.78], column="bits", grid=bits)
    assert C.trend_claim(flat_end, "x")["verdict"] == "inconclusive"


# --- per-query bootstrap ------------------------------------------------------------------

def test_paired_bootstrap_on_per_query_aps():
    from hashlib_core.metrics import average_precisions

    rng = np.random.default_rng(0)
    n_q, n_db, bits = 300, 600, 16
    q_lab, db_lab = rng.integers(0, 5, n_q), rng.integers(0, 5, n_db)
    centres = np.where(rng.random((5, bits)) > 0.5, 1, -1)

    def codes(labels, flip):  # class-centre codes with a fraction of bits flipped
        c = centres[labels].copy()
        c[rng.random(c.shape) < flip] *= -1
        return c

    ap_good = average_precisions(codes(q_lab, 0.15), codes(db_lab, 0.15), q_lab, db_lab)
    ap_poor = average_precisions(codes(q_lab, 0.40), codes(db_lab, 0.40), q_lab, db_lab)
    row = C.paired_bootstrap_claim(ap_good, ap_poor, "good > poor", arms=("good", "poor"), n_boot=2000, seed=1)
    assert row["verdict"] == "reproduced"
    lo, hi = row["interval"]
    d = ap_good - ap_poor
    assert lo < d.mean() < hi and lo > 0
    assert row["differences"][0][2] == pytest.approx(d.std(ddof=1) / np.sqrt(n_q), rel=0.1)
    again = C.paired_bootstrap_claim(ap_good, ap_poor, "good > poor", arms=("good", "poor"), n_boot=2000, seed=1)
    assert again["interval"] == row["interval"]
    assert C.paired_bootstrap_claim(ap_poor, ap_good, "x", n_boot=2000)["verdict"] == "refuted"
    shuffled = rng.permutation(np.concatenate([ap_good[:150], ap_poor[:150]]))
    assert C.paired_bootstrap_claim(shuffled, rng.permutation(shuffled), "x", n_boot=2000)["verdict"] == "inconclusive"
    with pytest.raises(ValueError, match="same queries"):
        C.paired_bootstrap_claim(ap_good, ap_poor[:-1], "x")
    with pytest.raises(ValueError, match="finite"):
        C.paired_bootstrap_claim(np.r_[ap_good[:-1], np.nan], ap_poor, "x")


# --- tables ---------------------------------------------------------------------------------

def test_claims_frame_and_by_setting():
    runs = pd.concat([
        runs_of({"dshc": [0.800, 0.804, 0.796], "dpsh": [0.72, 0.73, 0.71]}, column="method").assign(setting="Lite0"),
        runs_of({"dshc": [0.30], "dpsh": [0.20]}, column="method").assign(setting="VGG"),
    ])
    table = C.claims_by_setting(runs, lambda sub: [C.ordering_claim(sub, "method", ["dshc", "dpsh"], "DSHC > DPSH")])
    assert list(table.columns) == ["setting", "claim", "arms", "means", "difference ± SE", "n seeds",
                                   "verdict", "reason"]
    assert table.verdict.tolist() == ["reproduced", "inconclusive"]
    assert table.loc[0, "arms"] == "dshc > dpsh" and table.loc[0, "means"] == "0.800 > 0.720"
    assert table.loc[0, "difference ± SE"] == "dshc − dpsh: +0.080 ± 0.003"
    assert table.loc[1, "difference ± SE"] == "dshc − dpsh: +0.100 ± n/a" and table.loc[1, "n seeds"] == "1"
    assert set(table.verdict) <= set(C.VERDICTS)
    with pytest.raises(ValueError, match="not a claim row"):
        C.claims_frame([{"claim": "x"}])


# --- ours against a value the paper reports -------------------------------------------------


def _runs_at(values_by_bits: dict) -> pd.DataFrame:
    return pd.DataFrame([{"bits": b, "seed": s, "map": v} for b, vals in values_by_bits.items()
                         for s, v in enumerate(vals)])


def test_versus_reported_below_within_and_above_the_paper():
    below = C.versus_reported_claim(_runs_at({12: [0.72, 0.73, 0.725]}), 0.779, "ours ≥ paper, 12 bits")
    assert below["verdict"] == "refuted" and below["kind"] == "versus reported"
    (label, d, se), = below["differences"]
    assert label == "ours − paper" and d == pytest.approx(0.725 - 0.779) and se == pytest.approx(0.005 / np.sqrt(3))
    assert below["means"] == pytest.approx([0.725, 0.779]) and below["n_seeds"] == [3, 3]
    # the paper's value inside the seed spread: no verdict either way
    within = C.versus_reported_claim(_runs_at({48: [0.84, 0.85, 0.846]}), 0.845, "c")
    assert within["verdict"] == "inconclusive" and "within noise" in within["reason"]
    above = C.versus_reported_claim(_runs_at({48: [0.86, 0.87, 0.865]}), 0.845, "c")
    assert above["verdict"] == "reproduced"
    # one seed below the paper by a lot is still one seed
    one = C.versus_reported_claim(_runs_at({12: [0.5]}), 0.779, "c")
    assert one["verdict"] == "inconclusive" and "fewer than 3 seeds (ours: 1)" in one["reason"]


def test_versus_reported_per_length_values_pool_over_lengths():
    runs = _runs_at({12: [0.78, 0.79, 0.785], 24: [0.80, 0.81, 0.805]})
    row = C.versus_reported_claim(runs, {12: 0.779, 24: 0.827}, "c")
    # per seed the mean of its two cells' differences: -0.013, -0.003, -0.008 (all below the paper)
    d = np.mean([(0.78 - 0.779 + 0.80 - 0.827) / 2, (0.79 - 0.779 + 0.81 - 0.827) / 2, (0.785 - 0.779 + 0.805 - 0.827) / 2])
    assert row["differences"][0][1] == pytest.approx(d) and row["verdict"] == "refuted"
    with pytest.raises(ValueError, match=r"no reported value for bits \[24\]"):
        C.versus_reported_claim(runs, {12: 0.779}, "c")
    with pytest.raises(ValueError, match="finite"):
        C.versus_reported_claim(runs, float("nan"), "c")
    with pytest.raises(ValueError, match="no column"):
        C.versus_reported_claim(runs.drop(columns="map"), 0.8, "c")
    table = C.claims_frame([row])
    assert table.loc[0, "arms"] == "ours → paper" and table.loc[0, "n seeds"] == "3"


def test_reasons_hold_no_pipe_that_would_split_a_markdown_cell():
    runs = _runs_at({48: [0.84, 0.85, 0.846]})
    row = C.versus_reported_claim(runs, 0.845, "c")
    assert "within noise" in row["reason"] and "|" not in row["reason"]
