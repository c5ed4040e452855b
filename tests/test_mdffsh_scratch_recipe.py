"""scripts/mdffsh_scratch_recipe.py (issue 14, cpu setting (a)): its baseline is the very config of
notebook 30's from-scratch ResNet-50 row, and every other candidate changes exactly the settings
it names (one in the first round, two in the second), before any run."""
import dataclasses
import sys

import pytest

from hashlib_core.paths import repo_root
from hashlib_core.papers.p001_mdffsh import run_config
from hashlib_core.runner import make_config

sys.path.insert(0, str(repo_root() / "scripts"))
import mdffsh_scratch_recipe as search  # noqa: E402


def _config(name, protocol=search.PROTOCOL):
    over = search.CANDIDATES[name][1]
    return make_config("cpu", "mdffsh", protocol, 48, 0, recipe=over.get("recipe"), model=over.get("model"),
                       loss=over.get("loss"), train=over.get("train"))


def _settings(config) -> dict:
    """A config's settings flattened to (section, key) -> value."""
    flat = {}
    for section, value in dataclasses.asdict(config).items():
        if isinstance(value, dict):
            flat.update({(section, k): v for k, v in value.items()})
        else:
            flat[(section,)] = value
    return flat


def test_the_baseline_is_notebook_30s_from_scratch_row_on_the_validation_split():
    ours = _config(search.BASELINE, protocol="cifar10-dshfmdf")
    notebook = run_config("cpu", "mdffsh", "cifar10-dshfmdf", 48, 0)
    assert ours == notebook
    assert ours.model["backbone"] == "resnet50" and ours.model.get("weights") is None
    assert _config(search.BASELINE).protocol == "cifar10-dshfmdf:val"


@pytest.mark.parametrize("name, changed", [
    ("tap-pool-1", {("model", "tap_pool"): 1}),
    ("px-64", {("input_size",): 64}),
    ("epochs-40", {("train", "epochs"): 40}),
    ("width-1/4", {("model", "width"): 0.25}),
    ("px-64+epochs-40", {("input_size",): 64, ("train", "epochs"): 40}),
    ("width-1/4+epochs-40", {("model", "width"): 0.25, ("train", "epochs"): 40}),
])
def test_each_candidate_changes_only_the_settings_it_names(name, changed):
    base, cand = _settings(_config(search.BASELINE)), _settings(_config(name))
    diff = {k: cand.get(k) for k in set(base) | set(cand) if base.get(k) != cand.get(k)}
    assert diff == changed
    assert set(search.CANDIDATES) == {search.BASELINE, "tap-pool-1", "px-64", "epochs-40", "width-1/4",
                                      "px-64+epochs-40", "width-1/4+epochs-40"}
