"""EfficientNet-Lite0 (issue 4): the packaged ImageNet weights are loaded into the right network.

Proof of correctness: two real photographs shipped with scikit-image are classified through the
project's own evaluation transform (ImageNet mean/std, the trainer's input) and the expected
ImageNet classes must be in the top 5.  Plus: strict key match, input adapter, tap shapes,
DSHFMDF on the backbone, and (when timm happens to be installed) bit-exactness against timm's
``tf_efficientnet_lite0``.
"""

import numpy as np
import pytest
import torch

from hashlib_core.data.transforms import to_tensor_batch
from hashlib_core.models import (
    BACKBONES,
    EfficientNetLite0,
    EfficientNetLite0Backbone,
    HashOutput,
    count_parameters,
    dshfmdf,
    efficientnet_lite0,
    parameter_groups,
)
from hashlib_core.models.efficientnet_lite import InputAdapter, SameConv2d, load_lite0_state_dict, lite0_weights_path

skdata = pytest.importorskip("skimage.data")

CAT_IDS = {281, 282, 285}  # tabby, tiger cat, Egyptian cat
COFFEE_IDS = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.fixture(scope="module")
def state_dict():
    return load_lite0_state_dict("imagenet")


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return efficientnet_lite0(pretrained=True).eval()


def _center_square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    t, l = (h - s) // 2, (w - s) // 2
    return img[t:t + s, l:l + s]


@pytest.fixture(scope="module")
def photos():
    """chelsea (cat) and coffee (cup), centre square, ImageNet-normalised 224 px (the project's eval path)."""
    imgs = [_center_square(skdata.chelsea()), _center_square(skdata.coffee())]
    return torch.cat([to_tensor_batch(im[None], 224, mean_std="imagenet") for im in imgs])


def test_weights_file_loads_strict(state_dict):
    path = lite0_weights_path()
    assert path.endswith(".pth")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    assert "_conv_stem.weight" in sd and "_blocks.15._project_conv.weight" in sd and "_fc.weight" in sd
    # Lite: no squeeze-excitation tensors in the file
    assert not [k for k in sd if "_se_" in k]
    model = EfficientNetLite0()
    missing, unexpected = model.load_state_dict(sd, strict=True)
    assert not missing and not unexpected
    assert set(model.state_dict()) == set(sd)
    # 4.65 M parameters (+42 k batch-norm running statistics in the file)
    assert count_parameters(model) == 4_652_008


def test_architecture_constants(classifier):
    bns = [m for m in classifier.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-3 for m in bns)
    assert all(isinstance(b.act, torch.nn.ReLU6) for b in classifier._blocks)
    strided = [m for m in classifier.modules() if isinstance(m, SameConv2d) and m.stride[0] > 1]
    assert len(strided) == 5 and all(m.tf_same for m in strided)  # stem + 4 stride-2 depthwise convs


@pytest.mark.parametrize("size", [224, 225, 31])
def test_same_padding_output_sizes(size):
    conv = SameConv2d(3, 4, 5, stride=2)
    assert conv(torch.zeros(1, 3, size, size)).shape[-1] == -(-size // 2)


def test_photographs_top5(classifier, photos):
    with torch.no_grad():
        p = classifier(photos).softmax(1)
    top5 = p.topk(5, dim=1).indices.tolist()
    assert CAT_IDS & set(top5[0]), f"chelsea top-5 {top5[0]}"
    assert COFFEE_IDS & set(top5[1]), f"coffee top-5 {top5[1]}"
    # and confidently so: the true classes' mass
    assert p[0, sorted(CAT_IDS)].sum() > 0.5
    assert p[1, sorted(COFFEE_IDS)].sum() > 0.5


def test_input_adapter_matches_lite_scaling(classifier, photos):
    """ImageNet-normalised input through the adapter == raw pixels scaled (x - 127) / 128."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x255 = (photos * std + mean) * 255.0
    assert torch.allclose(InputAdapter("imagenet")(photos), (x255 - 127.0) / 128.0, atol=1e-4)
    assert torch.allclose(InputAdapter("unit")(x255 / 255.0), (x255 - 127.0) / 128.0, atol=1e-4)
    raw = EfficientNetLite0(input_norm="lite").eval()
    raw.load_state_dict(classifier.state_dict())
    with torch.no_grad():
        a = classifier(photos)
        b = raw((x255 - 127.0) / 128.0)
    assert torch.allclose(a, b, atol=1e-3)
    assert not [k for k in classifier.state_dict() if k.startswith("adapter")]  # constants, not weights
    with pytest.raises(ValueError):
        InputAdapter("cifar10")


def test_backbone_fc1_is_classifier_feature(classifier, photos):
    bb = EfficientNetLite0Backbone(input_size=224, conv_taps=(), dropout=0.0)
    bb.load_imagenet("imagenet")
    bb.eval()
    with torch.no_grad():
        fc1 = bb(photos)["fc1"]
        logits = classifier._fc(fc1)
        assert torch.allclose(logits, classifier(photos), atol=1e-4)


@pytest.mark.parametrize(
    "size, sides",
    [(32, (4, 2, 1)), (64, (8, 4, 2)), (224, (28, 14, 7))],
)
def test_tap_shapes(size, sides):
    bb = EfficientNetLite0Backbone(input_size=size).eval()
    assert bb.tap_channels == {"conv3": 40, "conv4": 112, "conv5": 320}
    assert bb.global_dim == 1280
    assert tuple(bb.tap_sizes[t] for t in ("conv3", "conv4", "conv5")) == sides
    with torch.no_grad():
        taps = bb(torch.randn(2, 3, size, size))
    assert set(taps) == {"conv3", "conv4", "conv5", "fc1"}
    for t, s in zip(("conv3", "conv4", "conv5"), sides):
        assert taps[t].shape == (2, bb.tap_channels[t], s, s)
    assert taps["fc1"].shape == (2, 1280)


def test_registered():
    assert "efficientnet_lite0" in BACKBONES


@pytest.mark.parametrize("variant", ["fused", "fc1", "conv3-5"])
def test_dshfmdf_on_lite0(variant, state_dict):
    torch.manual_seed(0)
    m = dshfmdf(backbone="efficientnet_lite0", bits=48, num_classes=10, variant=variant, input_size=32,
                weights=state_dict)
    assert isinstance(m.backbone, EfficientNetLite0Backbone)
    # trunk weights are the ImageNet ones
    assert torch.equal(m.backbone._conv_stem.weight, state_dict["_conv_stem.weight"])
    assert torch.equal(m.backbone._blocks[4]._bn2.running_var, state_dict["_blocks.4._bn2.running_var"])
    out = m(torch.randn(2, 3, 32, 32))
    assert isinstance(out, HashOutput)
    assert out.u.shape == (2, 48) and out.logits.shape == (2, 10)
    (out.u.sum() + out.logits.sum()).backward()
    groups = {g["name"]: g["params"] for g in parameter_groups(m, backbone_lr=1e-4, head_lr=1e-3)}
    trunk_ids = {id(p) for p in groups["backbone"]}
    assert id(m.backbone._conv_stem.weight) in trunk_ids
    assert all(id(p) not in trunk_ids for p in m.head.parameters())
    assert len(trunk_ids) + len(groups["head"]) == sum(1 for p in m.parameters() if p.requires_grad)
    if variant == "conv3-5":  # the trunk stops at block 15; no head conv is built
        assert not hasattr(m.backbone, "_conv_head")
    else:
        assert m.backbone._conv_head.weight.grad is not None


def test_weights_imagenet_string_and_width_check():
    m = dshfmdf(backbone="efficientnet_lite0", bits=12, variant="fc1", input_size=32, weights="imagenet")
    assert m.config["weights"] == "imagenet"
    with pytest.raises(ValueError, match="width=1.0"):
        dshfmdf(backbone="efficientnet_lite0", bits=12, width=0.5, input_size=32, weights="imagenet")
    # width != 1 from scratch is allowed
    small = dshfmdf(backbone="efficientnet_lite0", bits=12, width=0.5, input_size=32)
    assert small(torch.randn(2, 3, 32, 32)).u.shape == (2, 12)


def test_matches_timm_if_installed(classifier):
    """Optional cross-check (timm is not a dependency): bit-exact vs timm's tf_efficientnet_lite0."""
    timm = pytest.importorskip("timm")
    ref = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    stages = [1, 2, 2, 3, 3, 4, 1]
    flat = [(s, j) for s, r in enumerate(stages) for j in range(r)]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    tsd = {}
    for k, v in classifier.state_dict().items():
        if k.startswith("_blocks."):
            _, i, rest = k.split(".", 2)
            s, j = flat[int(i)]
            names = ({"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"} if s == 0 else
                     {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                      "_project_conv": "conv_pwl", "_bn2": "bn3"})
            mod, leaf = rest.split(".", 1)
            tsd[f"blocks.{s}.{j}.{names[mod]}.{leaf}"] = v
        else:
            mod, leaf = k.split(".", 1)
            tsd[f"{top[mod]}.{leaf}"] = v
    ref.load_state_dict(tsd, strict=True)
    raw = EfficientNetLite0(input_norm="lite").eval()
    raw.load_state_dict(classifier.state_dict())
    x = torch.randn(2, 3, 97, 97)
    with torch.no_grad():
        assert torch.allclose(raw(x), ref(x), atol=1e-5)


# ---- the Lite family (issue 16): Lite1 / Lite2 by the compound coefficients, their packaged weights

from hashlib_core.models.common import build_backbone  # noqa: E402
from hashlib_core.models.efficientnet_lite import (  # noqa: E402
    LITE_VARIANTS,
    EfficientNetLite,
    EfficientNetLiteBackbone,
    efficientnet_lite,
    lite_stages,
    lite_tap_blocks,
    lite_weights_path,
)

#: what the shipped files hold (read from them): blocks, (conv3, conv4, conv5) channels, last block's expansion
LITE_SHAPES = {
    "lite0": (16, (40, 112, 320), 1152),
    "lite1": (21, (40, 112, 320), 1152),
    "lite2": (21, (48, 120, 352), 1248),
}


def _photos_at(size):
    imgs = [_center_square(skdata.chelsea()), _center_square(skdata.coffee())]
    return torch.cat([to_tensor_batch(im[None], size, mean_std="imagenet") for im in imgs])


def test_variant_table_matches_released_coefficients():
    got = {n: (v.width, v.depth, v.resolution) for n, v in LITE_VARIANTS.items()}
    assert got == {"lite0": (1.0, 1.0, 224), "lite1": (1.0, 1.1, 240), "lite2": (1.1, 1.2, 260)}
    # Lite0's stage table and tap blocks are the ones the project has always used
    from hashlib_core.models.efficientnet_lite import LITE0_STAGES, LITE0_TAP_BLOCKS
    assert lite_stages("lite0") == LITE0_STAGES and lite_tap_blocks("lite0") == LITE0_TAP_BLOCKS
    # first and last stage keep 1 block; the others ceil(r * depth)
    assert [r for r, *_ in lite_stages("lite1")] == [1, 3, 3, 4, 4, 5, 1]
    assert [r for r, *_ in lite_stages("lite2")] == [1, 3, 3, 4, 4, 5, 1]
    assert lite_tap_blocks("lite2") == {"conv3": 6, "conv4": 14, "conv5": 20}
    with pytest.raises(ValueError, match="lite0"):
        lite_stages("lite9")


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_variant_file_shapes_and_strict_load(variant):
    """Every tensor of the shipped file has the shape the scaled network builds (strict, no key map)."""
    n_blocks, tap_ch, last_mid = LITE_SHAPES[variant]
    sd = torch.load(lite_weights_path(variant), map_location="cpu", weights_only=True)
    assert tuple(sd["_conv_stem.weight"].shape) == (32, 3, 3, 3)  # stem not scaled
    assert tuple(sd["_conv_head.weight"].shape)[:2] == (1280, tap_ch[2])  # head not scaled
    assert f"_blocks.{n_blocks - 1}._project_conv.weight" in sd and f"_blocks.{n_blocks}._bn2.weight" not in sd
    assert sd[f"_blocks.{n_blocks - 1}._depthwise_conv.weight"].shape[0] == last_mid
    model = EfficientNetLite(lite_variant=variant)
    missing, unexpected = model.load_state_dict(sd, strict=True)
    assert not missing and not unexpected
    own = model.state_dict()
    assert all(tuple(own[k].shape) == tuple(v.shape) for k, v in sd.items())
    bb = EfficientNetLiteBackbone(lite_variant=variant, input_size=LITE_VARIANTS[variant].resolution)
    assert tuple(bb.tap_channels[t] for t in ("conv3", "conv4", "conv5")) == tap_ch
    assert tuple(bb.tap_strides[t] for t in ("conv3", "conv4", "conv5")) == (8, 16, 32)
    assert bb.global_dim == 1280


def test_wrong_variant_weights_refused():
    bb = EfficientNetLiteBackbone(lite_variant="lite2", input_size=32)
    with pytest.raises(ValueError, match="EfficientNet-Lite2"):
        bb.load_imagenet(lite_weights_path("lite0"))


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_variant_photographs_top5(variant):
    """The packaged ImageNet weights classify real photographs at the variant's native size."""
    clf = efficientnet_lite(variant, pretrained=True).eval()
    photos = _photos_at(LITE_VARIANTS[variant].resolution)
    with torch.no_grad():
        p = clf(photos).softmax(1)
    top5 = p.topk(5, dim=1).indices.tolist()
    assert CAT_IDS & set(top5[0]), f"chelsea top-5 {top5[0]}"
    assert COFFEE_IDS & set(top5[1]), f"coffee top-5 {top5[1]}"
    assert p[0, sorted(CAT_IDS)].sum() > 0.5
    assert p[1, sorted(COFFEE_IDS)].sum() > 0.5
    # the registered backbone's fc1 is the classifier's input feature, and its taps have the SAME sizes
    size = LITE_VARIANTS[variant].resolution
    bb = build_backbone(f"efficientnet_{variant}", width=1.0, input_size=size, weights="imagenet", dropout=0.0).eval()
    with torch.no_grad():
        taps = bb(photos)
        assert torch.allclose(clf._fc(taps["fc1"]), clf(photos), atol=1e-4)
    for t in ("conv3", "conv4", "conv5"):
        assert taps[t].shape[1:] == (bb.tap_channels[t], bb.tap_sizes[t], bb.tap_sizes[t])
        assert bb.tap_sizes[t] == -(-size // bb.tap_strides[t])


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_dshfmdf_on_variant(variant):
    m = dshfmdf(backbone=f"efficientnet_{variant}", bits=48, num_classes=10, variant="fused", input_size=32,
                weights="imagenet")
    sd = torch.load(lite_weights_path(variant), map_location="cpu", weights_only=True)
    assert torch.equal(m.backbone._blocks[20]._project_conv.weight, sd["_blocks.20._project_conv.weight"])
    out = m(torch.randn(2, 3, 32, 32))
    assert out.u.shape == (2, 48) and out.logits.shape == (2, 10)
    with pytest.raises(ValueError, match="width=1.0"):
        dshfmdf(backbone=f"efficientnet_{variant}", bits=12, width=0.5, input_size=32, weights="imagenet")
    assert f"efficientnet_{variant}" in BACKBONES
