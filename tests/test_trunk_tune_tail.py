"""Partial fine-tuning from cached taps (``train.tune_tail``, issue 16): fc1 recomputed from the
cached conv5 tap equals the trunk's own fc1; only the head conv and its BN train beside the head,
in the backbone's optimiser group; bad settings are refused before any work."""
import dataclasses

import numpy as np
import pytest
import torch

from hashlib_core.data.transforms import RGB_IMAGENET
from hashlib_core.models import dshfmdf
from hashlib_core.runner import make_config, run
from hashlib_core.train import TrainSettings, make_optimizer
from hashlib_core.trunk import HeadOnly


def _lite_model():
    torch.manual_seed(0)
    return dshfmdf(backbone="efficientnet_lite0", weights=None, width=1.0, bits=12, input_size=64).eval()


def test_fc1_from_the_conv5_tap_is_the_trunks_fc1():
    model = _lite_model()
    x = RGB_IMAGENET.prepare(np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), 64)
    with torch.inference_mode():
        taps = model.backbone(x)
        tuned = HeadOnly(model, tune_tail=True).eval()
        plain = HeadOnly(model).eval()
        without_fc1 = {k: v for k, v in taps.items() if k != "fc1"}
        torch.testing.assert_close(tuned(without_fc1).u, plain(taps).u)
        torch.testing.assert_close(model.backbone.fc1_from_last_block(taps["conv5"]), taps["fc1"])


def test_only_the_tail_trains_and_it_gets_the_backbone_learning_rate():
    model = _lite_model()
    model.backbone.requires_grad_(False)
    for m in model.backbone.tail_modules():
        m.requires_grad_(True)
    settings = TrainSettings(epochs=1, batch_size=8, lr=1e-3, backbone_lr=1e-4, weight_decay=0.0, input_size=64,
                             freeze_backbone=True, tune_tail=True)
    groups = {g["name"]: g for g in make_optimizer(HeadOnly(model, tune_tail=True), settings).param_groups}
    tail = {id(p) for m in model.backbone.tail_modules() for p in m.parameters()}
    assert {id(p) for p in groups["backbone"]["params"]} == tail and groups["backbone"]["lr"] == 1e-4
    assert groups["head"]["lr"] == 1e-3 and not tail & {id(p) for p in groups["head"]["params"]}


def test_a_run_with_a_tuned_tail_changes_the_head_conv_and_nothing_else_of_the_trunk(isolated_cache, monkeypatch):
    from hashlib_core import methods

    seen = {}
    build = methods.METHODS["dshfmdf"].build_model

    def spy(config, split):
        model = build(config, split)
        seen["model"], seen["trunk0"] = model, {k: v.clone() for k, v in model.backbone.state_dict().items()}
        return model

    monkeypatch.setitem(methods.METHODS, "dshfmdf", dataclasses.replace(methods.METHODS["dshfmdf"], build_model=spy))
    config = make_config("smoke", "dshfmdf", "cifar10-dshfmdf", 12, 0, recipe="lite0",
                         train={"epochs": 2, "tune_tail": True, "backbone_lr": 1e-3})
    first = run(config, progress=False, use_cache=False, verbose=False)
    after = seen["model"].backbone.state_dict()
    changed = {k for k, v in seen["trunk0"].items() if not torch.equal(v, after[k])}
    assert changed and all(k.startswith(("_conv_head.", "_bn1.")) for k in changed), changed
    assert "_conv_head.weight" in changed
    again = run(config, progress=False, use_cache=False, verbose=False)
    np.testing.assert_array_equal(first.db_codes, again.db_codes)  # deterministic


def test_tune_tail_needs_a_frozen_trunk_and_a_lite_tail():
    with pytest.raises(ValueError, match="tune_tail needs train.freeze_backbone"):
        TrainSettings(epochs=1, batch_size=8, lr=1e-3, backbone_lr=1e-4, weight_decay=0.0, input_size=64,
                      tune_tail=True)
    torch.manual_seed(0)
    fc1_only = dshfmdf(backbone="efficientnet_lite0", weights=None, width=1.0, bits=12, input_size=64,
                       variant="fc1")
    with pytest.raises(ValueError, match="conv5 tap"):
        fc1_only.backbone.tail_modules()
