"""hashlib_core.recipe_search: candidates run through the one runner on a validation split, the
rows of earlier searches are kept, and each candidate is tested against the baseline by seed."""
import pandas as pd
import pytest

from hashlib_core import recipe_search

CANDIDATES = {"one-epoch": ("1 epoch", {"train": {"epochs": 1}}),
              "two-epochs": ("2 epochs", {"train": {"epochs": 2}})}


def test_unknown_candidates_and_baselines_are_refused_before_any_run():
    with pytest.raises(ValueError, match=r"unknown candidate\(s\) \['nosuch'\]"):
        recipe_search.check_candidates(CANDIDATES, ["one-epoch", "nosuch"], "one-epoch")
    with pytest.raises(ValueError, match="baseline 'x' is not a candidate"):
        recipe_search.check_candidates(CANDIDATES, ["one-epoch"], "x")


def test_a_search_runs_ranks_and_pairs_by_seed(isolated_cache):
    runs = recipe_search.run_candidates("hashnet", "cifar10-dshfmdf:val", 12, [0, 1], CANDIDATES,
                                        list(CANDIDATES), recipe=None, profile="smoke")
    assert list(zip(runs.candidate, runs.seed, runs.epochs)) == [("one-epoch", 0, 1), ("one-epoch", 1, 1),
                                                                 ("two-epochs", 0, 2), ("two-epochs", 1, 2)]
    assert runs["map"].between(0, 1).all() and not runs.cached.any()
    again = recipe_search.run_candidates("hashnet", "cifar10-dshfmdf:val", 12, [0], CANDIDATES, ["one-epoch"],
                                         recipe=None, profile="smoke")
    assert again.cached.all() and again["map"].iloc[0] == runs["map"].iloc[0]
    merged = recipe_search.keep_previous(again, runs)
    assert len(merged) == 4 and merged.cached.sum() == 1   # the earlier rows of the other seeds kept
    summary, claims = recipe_search.summarise(merged, "one-epoch")
    assert set(summary.index) == set(CANDIDATES) and (summary.seeds == 2).all()
    assert [c["verdict"] for c in claims] == ["inconclusive"]   # two seeds per arm: too few for a verdict
    text = recipe_search.report("t", "intro", CANDIDATES, merged, summary, claims)
    assert "| two-epochs | 2 epochs |" in text and "inconclusive" in text
    with pytest.raises(ValueError, match="another length to its own --out"):
        recipe_search.keep_previous(again.assign(bits=48), runs)
    assert recipe_search.keep_previous(runs, pd.DataFrame()).equals(runs.sort_values(["candidate", "seed"]).reset_index(drop=True))


def test_cli_baseline_option_is_checked_before_any_run(tmp_path, capsys):
    kwargs = dict(description="d", method="hashnet", protocol="cifar10-dshfmdf:val", bits=12, candidates=CANDIDATES,
                  baseline="one-epoch", recipe=None, out=tmp_path / "r.md", title="t", intro=lambda b: "i")
    with pytest.raises(SystemExit):
        recipe_search.cli(["--baseline", "nosuch", "--only", "one-epoch"], **kwargs)
    assert "baseline 'nosuch' is not a candidate" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()   # refused before any run or write
