"""DSHFMDF model (paper 000 §3.2): shapes, variants, torchvision fidelity, weight loading."""

import pytest
import torch
import torchvision

from hashlib_core.models import (
    HashOutput,
    MultiScaleHashNet,
    VGGBackbone,
    count_parameters,
    dshfmdf,
    map_torchvision_vgg_state_dict,
    parameter_groups,
)

@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    """Any attempt to fetch weights fails the test instead of touching the network."""
    import torchvision.models._api as tv_api

    def _refuse(*args, **kwargs):
        raise AssertionError("a test tried to download weights")

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", _refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _refuse)


BACKBONES = ["vgg13_bn", "vgg16_bn", "vgg19_bn"]
VARIANTS = ["fused", "fc1", "conv3-5"]
SMALL = dict(width=0.125, input_size=32)


def _x(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_output_shapes(backbone, variant):
    torch.manual_seed(0)
    m = dshfmdf(backbone, bits=12, num_classes=10, variant=variant, **SMALL)
    assert isinstance(m, MultiScaleHashNet)
    out = m(_x())
    assert isinstance(out, HashOutput)
    assert out.u.shape == (4, 12)
    assert out.logits.shape == (4, 10)
    assert torch.all(out.u.abs() < 1)  # tanh hash layer
    assert torch.isfinite(out.logits).all()


def test_backward_reaches_backbone_and_head():
    torch.manual_seed(0)
    m = dshfmdf("vgg13_bn", bits=16, num_classes=5, **SMALL)
    out = m(_x())
    (out.u.sum() + out.logits.sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert m.features[0].weight.grad.abs().sum() > 0


def test_multilabel_num_classes_and_other_input_size():
    torch.manual_seed(0)
    m = dshfmdf("vgg16_bn", bits=24, num_classes=21, width=0.125, input_size=64).eval()
    assert m.backbone.grid == 2
    out = m(_x(size=64))
    assert out.u.shape == (4, 24) and out.logits.shape == (4, 21)


def test_full_width_features_match_torchvision():
    # meta device: shapes only, nothing is allocated or initialised
    with torch.device("meta"):
        tv = torchvision.models.vgg19_bn()
        ours = dshfmdf("vgg19_bn", bits=48, width=1.0, input_size=224)
    tv_shapes = {k: tuple(v.shape) for k, v in tv.features.state_dict().items()}
    our_shapes = {k: tuple(v.shape) for k, v in ours.features.state_dict().items()}
    assert our_shapes == tv_shapes
    assert [type(a) for a in ours.features] == [type(b) for b in tv.features]
    # fc1 == torchvision classifier[0] at 224 px
    assert tuple(ours.backbone.fc1[0].weight.shape) == tuple(tv.classifier[0].weight.shape) == (4096, 512 * 7 * 7)


def test_tap_sizes_match_table1_at_224():
    with torch.device("meta"):
        bb = VGGBackbone("vgg19_bn", width=1.0, input_size=224)
        taps = bb(torch.empty(2, 3, 224, 224))
    assert tuple(taps["conv3"].shape) == (2, 256, 56, 56)
    assert tuple(taps["conv4"].shape) == (2, 512, 28, 28)
    assert tuple(taps["conv5"].shape) == (2, 512, 14, 14)
    assert tuple(taps["fc1"].shape) == (2, 4096)
    assert bb.tap_sizes == {"conv3": 56, "conv4": 28, "conv5": 14}


@pytest.mark.parametrize("backbone", ["vgg13", "vgg16", "vgg19"])
def test_plain_vgg_matches_torchvision_layout(backbone):
    with torch.device("meta"):
        tv = getattr(torchvision.models, backbone)()
        ours = dshfmdf(backbone, variant="conv3-5")
    assert {k: tuple(v.shape) for k, v in ours.features.state_dict().items()} == {
        k: tuple(v.shape) for k, v in tv.features.state_dict().items()
    }


def test_width_scaling_of_channels():
    m = dshfmdf("vgg19_bn", width=0.125, input_size=32)
    convs = [l for l in m.features if isinstance(l, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16] + [32] * 4 + [64] * 8
    assert m.backbone.global_dim == 512
    assert m.head.fusion[0].out_features == 128
    assert m.head.reduce["conv3"][0].out_channels == 16


def test_variant_parameters():
    fused = dict(dshfmdf("vgg13_bn", **SMALL).named_parameters())
    fc1 = dict(dshfmdf("vgg13_bn", variant="fc1", **SMALL).named_parameters())
    conv = dict(dshfmdf("vgg13_bn", variant="conv3-5", **SMALL).named_parameters())
    # fc1 variant: no 1x1 reductions, no fusion layer, no fusion hash layer
    assert not [k for k in fc1 if "reduce" in k or "fusion" in k]
    # conv3-5 variant: no fc1 (backbone or hash branch)
    assert not [k for k in conv if "fc1" in k]
    assert [k for k in fused if k.startswith("head.reduce")] and [k for k in fused if "fc1" in k]
    # single-branch variants: branch hash layer is the final one
    assert not [k for k in fc1 if "final_hash" in k] and not [k for k in conv if "final_hash" in k]
    assert fused["head.final_hash.0.weight"].shape == (48, 96)
    assert len(fc1) < len(fused) and len(conv) < len(fused)


def test_deterministic_under_manual_seed():
    x = _x()
    torch.manual_seed(123)
    a = dshfmdf("vgg13_bn", bits=16, **SMALL).eval()
    torch.manual_seed(123)
    b = dshfmdf("vgg13_bn", bits=16, **SMALL).eval()
    with torch.no_grad():
        oa, ob, oa2 = a(x), b(x), a(x)
    assert torch.equal(oa.u, ob.u) and torch.equal(oa.logits, ob.logits)
    assert torch.equal(oa.u, oa2.u)
    torch.manual_seed(124)
    c = dshfmdf("vgg13_bn", bits=16, **SMALL).eval()
    with torch.no_grad():
        assert not torch.equal(c(x).u, oa.u)


def test_parameter_groups_partition():
    m = dshfmdf("vgg13_bn", **SMALL)
    groups = parameter_groups(m, backbone_lr=1e-5, head_lr=1e-4)
    assert [g["name"] for g in groups] == ["backbone", "head"]
    assert groups[0]["lr"] == 1e-5 and groups[1]["lr"] == 1e-4
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))
    trunk = {id(p) for p in m.features.parameters()} | {id(p) for p in m.backbone.fc1.parameters()}
    assert {id(p) for p in groups[0]["params"]} == trunk
    opt = torch.optim.Adam(groups, lr=1e-3)
    assert [pg["lr"] for pg in opt.param_groups] == [1e-5, 1e-4]
    assert sum(p.numel() for g in groups for p in g["params"]) == count_parameters(m)


def test_backbone_alone_runs():
    m = dshfmdf("vgg13_bn", **SMALL).eval()
    taps = m.backbone(_x())
    assert set(taps) == {"conv3", "conv4", "conv5", "fc1"}
    assert taps["fc1"].shape == (4, m.backbone.global_dim)


def test_imagenet_weights_require_full_width():
    with pytest.raises(ValueError, match="width"):
        dshfmdf("vgg19_bn", width=0.5, input_size=32, weights="imagenet")
    with pytest.raises(ValueError, match="width"):
        dshfmdf("vgg13_bn", width=0.25, weights=torchvision.models.VGG13_BN_Weights.IMAGENET1K_V1)


def test_bad_arguments():
    with pytest.raises(ValueError):
        dshfmdf("vgg19_bn", variant="conv1-2", **SMALL)
    with pytest.raises(ValueError):
        dshfmdf("resnet9000", **SMALL)
    with pytest.raises(ValueError):
        dshfmdf("vgg19_bn", weights="/nonexistent/file.pth", **SMALL)


def test_load_torchvision_state_dict_from_path(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.vgg13_bn().eval()
    # make BN running stats non-trivial so they are really copied
    for mod in tv.features:
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    sd = tv.state_dict()
    path = tmp_path / "vgg13_bn.pth"
    torch.save(sd, path)

    m = dshfmdf("vgg13_bn", bits=16, width=1.0, input_size=32, weights=path).eval()
    ours = m.backbone.state_dict()
    for k, v in sd.items():
        if k.startswith("features."):
            assert torch.equal(ours[k], v), k
    assert torch.equal(ours["fc1.0.bias"], sd["classifier.0.bias"])
    # 32 px: block-5 map is 1x1; torchvision's AdaptiveAvgPool2d((7,7)) replicates it, so the
    # folded fc1 weight is the sum over the 7x7 grid of the source weight
    folded = sd["classifier.0.weight"].view(4096, 512, 49).sum(-1)
    assert torch.allclose(ours["fc1.0.weight"], folded, rtol=1e-5, atol=1e-6)
    # ... and fc1 computes exactly what torchvision's classifier[0:2] computes
    x = _x(n=2)
    with torch.no_grad():
        ref = tv.classifier[:2](torch.flatten(tv.avgpool(tv.features(x)), 1))
        got = m.backbone(x)["fc1"]
        ref_conv5 = tv.features[:-1](x)
        got_conv5 = m.backbone(x)["conv5"]
    assert torch.allclose(got, ref, rtol=1e-4, atol=1e-5)
    assert torch.allclose(got_conv5, ref_conv5, rtol=1e-5, atol=1e-6)

    # wrong arch -> clear error
    with pytest.raises(ValueError, match="does not fit"):
        dshfmdf("vgg16_bn", width=1.0, input_size=32, weights=path, variant="conv3-5")
    del tv, sd


def test_state_dict_mapping_at_224_keeps_fc1_unchanged():
    # no folding when the fc1 grid is 7x7; a torchvision-named state dict of meta tensors (no memory)
    with torch.device("meta"):
        bb = VGGBackbone("vgg11", width=1.0, input_size=224)
    src = {k.replace("fc1.0.", "classifier.0."): v for k, v in bb.state_dict().items()}
    src["classifier.3.weight"] = torch.empty(4096, 4096, device="meta")
    mapped = map_torchvision_vgg_state_dict(src, bb)
    assert set(mapped) == set(bb.state_dict())
    assert mapped["fc1.0.weight"] is src["classifier.0.weight"]


def test_imagenet_path_uses_torchvision_weights_api(monkeypatch):
    """weights="imagenet" goes through VGG13_BN_Weights.IMAGENET1K_V1.get_state_dict (download stubbed)."""
    import torchvision.models._api as tv_api
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    feats = make_layers(cfgs["B"], batch_norm=True)
    fake = {"features." + k: v for k, v in feats.state_dict().items()}
    calls = []

    def _fake_load(url, *args, **kwargs):
        calls.append((url, kwargs))
        return fake

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", _fake_load)
    m = dshfmdf("vgg13_bn", width=1.0, input_size=32, variant="conv3-5", weights="imagenet", progress=False)
    assert calls and calls[0][0] == torchvision.models.VGG13_BN_Weights.IMAGENET1K_V1.url
    assert calls[0][1].get("progress") is False
    for k, v in fake.items():
        assert torch.equal(m.backbone.state_dict()[k], v), k


@pytest.mark.parametrize("tap_pool", [None, 1, 2])
def test_tap_pool_options_and_identity_activation(tap_pool):
    torch.manual_seed(0)
    m = dshfmdf("vgg13_bn", bits=8, tap_pool=tap_pool, hash_activation="identity", **SMALL).eval()
    side = {None: (8 * 8 + 4 * 4 + 2 * 2), 1: 3, 2: 12}[tap_pool]
    assert m.head.fusion[0].in_features == 16 * side  # reduce_channels = 128 * 0.125
    out = m(_x())
    assert out.u.shape == (4, 8)
