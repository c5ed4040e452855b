"""benches/regeneration_cost.py: a run shared by two notebooks counts once, a trunk pass once per
trunk and protocol (the longest recorded), under the kind of run that recorded it."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("regeneration_cost", ROOT / "benches" / "regeneration_cost.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(method, train_s, trunk_s=0.1, frozen=True, seed=0):
    return {"config": {"method": method, "protocol": "cifar10-dshc", "seed": seed, "input_size": 224,
                       "num_threads": 2, "model": {"backbone": "efficientnet_lite0", "weights": "imagenet"},
                       "train": {"freeze_backbone": frozen}},
            "timings": {"trunk_s": trunk_s, "train_s": train_s, "encode_s": 10.0, "metrics_s": 1.0}}


def _write(folder: Path, runs: dict):
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"runs": runs}))


def test_shared_runs_and_trunk_passes_are_counted_once(tmp_path):
    mod = _module()
    # notebook a computed the trunk (1,500 s) with dshc run k1; notebook b reused k1 (its copy
    # recorded the 0.1 s load) and computed dpsh run k2 on the cached trunk
    _write(tmp_path / "a", {"k1": _run("dshc", 100.0, trunk_s=1500.0)})
    _write(tmp_path / "b", {"k1": _run("dshc", 100.0), "k2": _run("dpsh", 600.0, seed=1)})
    kinds, total, n = mod.breakdown(tmp_path)
    dshc = kinds[("dshc", "efficientnet_lite0", "cifar10-dshc")]
    dpsh = kinds[("dpsh", "efficientnet_lite0", "cifar10-dshc")]
    assert n == 2
    assert dshc == [1, pytest.approx(111.0), pytest.approx(1500.0)]
    assert dpsh == [1, pytest.approx(611.0), 0.0]
    assert total == pytest.approx(111.0 + 611.0 + 1500.0)


def test_a_run_that_trains_its_whole_network_has_no_trunk_pass(tmp_path):
    mod = _module()
    _write(tmp_path / "a", {"k1": _run("dshfmdf", 200.0, trunk_s=900.0, frozen=False)})
    kinds, total, n = mod.breakdown(tmp_path)
    assert kinds[("dshfmdf", "efficientnet_lite0", "cifar10-dshc")][2] == 0.0
    assert total == pytest.approx(211.0)


def test_the_committed_manifests_give_a_breakdown(capsys):
    mod = _module()
    assert mod.main(["--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "distinct runs" in out and out.count("\n| ") >= 4


def test_a_folder_without_manifests_is_refused(tmp_path, capsys):
    mod = _module()
    with pytest.raises(SystemExit):
        mod.main(["--figures", str(tmp_path)])
    assert "no manifest lists a run" in capsys.readouterr().err
