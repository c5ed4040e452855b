import pytest
import yaml

from hashlib_core.profiles import profiles_dir

from hashlib_core.profiles import available_profiles, load_profile, validate_profile_dict


def test_shipped_profiles_load():
    assert {"smoke", "cpu", "paper"} <= set(available_profiles())
    cpu = load_profile("cpu")
    assert cpu.subset is None and cpu.input_size == 32 and len(cpu.seeds) == 3
    assert load_profile("smoke").subset is not None
    assert load_profile("paper").weights == "imagenet"


def test_unknown_profile_names_the_choices():
    with pytest.raises(ValueError, match="available"):
        load_profile("gpu-fast")


def test_validation_lists_every_problem_at_once():
    raw = dict(vars(load_profile("cpu")))
    raw.pop("name")
    raw["seeds"] = list(raw["seeds"])
    raw["epochs"] = "30"
    raw["colour"] = "red"
    raw.pop("lr")
    with pytest.raises(ValueError) as err:
        validate_profile_dict("bad", raw)
    msg = str(err.value)
    assert "unknown key" in msg and "colour" in msg and "missing" in msg and "'epochs' must be int" in msg


def test_method_overrides_reach_the_run_config_and_are_validated():
    from hashlib_core.runner import make_config

    assert make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 12, 0).loss["pairs"] == "batch"
    assert make_config("paper", "dshfmdf", "cifar10-dshfmdf", 12, 0).loss["pairs"] == "memory"
    explicit = make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 12, 0, loss={"pairs": "memory"})
    assert explicit.loss["pairs"] == "memory"  # explicit arguments win over the profile
    raw = dict(vars(load_profile("cpu")))
    raw.pop("name")
    raw["seeds"] = list(raw["seeds"])
    raw["method_overrides"] = {"dshfmdf": {"optimizer": {"lr": 1}}}
    with pytest.raises(ValueError, match="may only hold model / loss / train"):
        validate_profile_dict("bad", raw)


def test_recipe_overrides_sit_between_profile_and_explicit_overrides():
    from hashlib_core.runner import make_config

    c = make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 48, 0, recipe="lite0")
    assert c.input_size == 224 and c.model["backbone"] == "efficientnet_lite0" and c.model["width"] == 1.0
    assert c.train["freeze_backbone"] is True
    assert c.loss["pairs"] == "batch"  # the profile's method override still applies
    c2 = make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 48, 0, recipe="lite0", train={"epochs": 3})
    assert c2.train["epochs"] == 3 and c2.key() != c.key()
    plain = make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 48, 0)
    assert plain.input_size == 32 and "freeze_backbone" not in plain.train
    with pytest.raises(ValueError, match="no recipe 'nope'"):
        make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 48, 0, recipe="nope")


def test_invalid_recipe_is_rejected_before_work():
    from hashlib_core.profiles import validate_profile_dict

    raw = yaml.safe_load((profiles_dir() / "cpu.yaml").read_text())
    raw["recipes"] = {"x": {"epochs": 3}}
    with pytest.raises(ValueError, match="recipes.x"):
        validate_profile_dict("cpu", raw)
    raw["recipes"] = {"x": {"input_size": "224"}}
    with pytest.raises(ValueError, match="input_size"):
        validate_profile_dict("cpu", raw)
