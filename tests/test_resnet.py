"""The multi-tap ResNet backbone (hashlib_core.models.resnet) of MDFF-SH (paper 001 §2.2)."""
import pytest
import torch
import torchvision
import torchvision.models._api as tv_api

from hashlib_core.models import BACKBONES, multiscale_hashnet, parameter_groups
from hashlib_core.models.common import scale_width
from hashlib_core.models.resnet import RESNET_CONFIGS, ResNetBackbone, map_torchvision_resnet_state_dict

FACTORY_ARGS = dict(conv_taps=("conv3", "conv4", "conv5"), with_global=True, weights=None, dropout=0.0, progress=False)


def _randomised_state_dict(arch="resnet50", seed=0):
    """A torchvision state dict whose BN statistics and affine terms are not the init's 1/0, so that
    a wrong mapping of any BN layer changes the output."""
    torch.manual_seed(seed)
    sd = getattr(torchvision.models, arch)(weights=None).state_dict()
    g = torch.Generator().manual_seed(seed + 1)
    for k, v in sd.items():
        if k.endswith(("running_mean", "bias")) and v.is_floating_point():
            sd[k] = 0.1 * torch.randn(v.shape, generator=g)
        elif k.endswith(("running_var", "bn1.weight", "bn2.weight", "bn3.weight", "downsample.1.weight")):
            sd[k] = 0.5 + torch.rand(v.shape, generator=g)
    return sd


def _torchvision_layer4(net, x):
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    return net.layer4(net.layer3(net.layer2(net.layer1(x))))


def test_registered_in_a_fresh_process_and_duplicates_refused():
    import subprocess
    import sys

    from hashlib_core.models import register_backbone

    out = subprocess.run([sys.executable, "-c", "from hashlib_core.models.common import BACKBONES; "
                          "print(BACKBONES['resnet50'].__name__)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "resnet50_backbone"
    with pytest.raises(ValueError, match="already registered"):
        register_backbone("ResNet50", lambda **kw: None)
    for arch in ("resnet18", "resnet34", "resnet50", "resnet101"):
        assert BACKBONES[arch].__name__ == f"{arch}_backbone"


@pytest.mark.parametrize("arch", sorted(RESNET_CONFIGS))
def test_names_and_shapes_equal_torchvision_at_width_1(arch):
    with torch.device("meta"):
        tv = getattr(torchvision.models, arch)(weights=None)
        ours = ResNetBackbone(arch)
    want = {k: tuple(v.shape) for k, v in tv.state_dict().items() if not k.startswith("fc.")}
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert got == want
    assert ours.global_dim == tv.fc.in_features


@pytest.mark.parametrize("size,sides", [(32, (4, 2, 1)), (64, (8, 4, 2)), (224, (28, 14, 7)), (50, (7, 4, 2))])
def test_tap_shapes_resnet50_width_1(size, sides):
    bb = ResNetBackbone("resnet50", input_size=size).eval()
    with torch.no_grad():
        taps = bb(torch.randn(1, 3, size, size))
    assert bb.tap_channels == {"conv3": 512, "conv4": 1024, "conv5": 2048} and bb.global_dim == 2048
    assert bb.tap_sizes == dict(zip(("conv3", "conv4", "conv5"), sides))
    for t, c in bb.tap_channels.items():
        assert tuple(taps[t].shape) == (1, c, bb.tap_sizes[t], bb.tap_sizes[t])
    assert tuple(taps["fc1"].shape) == (1, 2048)
    assert (taps["conv5"] >= 0).all()  # after the block's ReLU


@pytest.mark.parametrize("arch,expansion", [("resnet18", 1), ("resnet50", 4)])
@pytest.mark.parametrize("width", [0.125, 0.25, 0.5])
def test_width_scales_every_stage(arch, expansion, width):
    bb = ResNetBackbone(arch, width=width, input_size=32).eval()
    assert bb.conv1.out_channels == scale_width(64, width)
    want = {t: scale_width(p, width) * expansion for t, p in zip(("conv3", "conv4", "conv5"), (128, 256, 512))}
    assert bb.tap_channels == want and bb.global_dim == want["conv5"]
    with torch.no_grad():
        taps = bb(torch.randn(2, 3, 32, 32))
    assert {t: taps[t].shape[1] for t in want} == want
    full = sum(p.numel() for p in ResNetBackbone(arch, input_size=32).parameters())
    narrow = sum(p.numel() for p in bb.parameters())
    assert narrow < full * min(1.0, 1.5 * width * width)  # conv weights scale with width squared


def test_random_torchvision_state_dict_loads_key_for_key_and_gives_torchvisions_outputs():
    sd = _randomised_state_dict("resnet50")
    tv = torchvision.models.resnet50(weights=None)
    tv.load_state_dict(sd)
    tv.eval()
    bb = BACKBONES["resnet50"](width=1.0, input_size=64, conv_taps=("conv3", "conv4", "conv5"),
                               with_global=True, weights=sd, dropout=0.5, progress=False).eval()
    assert set(bb.state_dict()) == {k for k in sd if not k.startswith("fc.")}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        taps = bb(x)
        want5 = _torchvision_layer4(tv, x)
        assert torch.equal(taps["conv5"], want5)
        assert torch.allclose(taps["fc1"], torch.flatten(tv.avgpool(want5), 1))  # dropout is off in eval
        assert torch.allclose(tv.fc(taps["fc1"]), tv(x), atol=1e-5)


def test_imagenet_weights_go_through_torchvision_weights_api(monkeypatch):
    sd = _randomised_state_dict("resnet50", seed=3)
    calls = []

    def fake_download(url, *args, **kwargs):  # nothing leaves the machine
        calls.append(url)
        return sd

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", fake_download)
    with pytest.raises(ValueError, match="full-width"):
        BACKBONES["resnet50"](width=0.5, input_size=32, conv_taps=(), with_global=True, weights="imagenet",
                              dropout=0.0, progress=False)
    assert calls == []  # refused before any download
    bb = BACKBONES["resnet50"](width=1.0, input_size=32, conv_taps=(), with_global=True, weights="imagenet",
                               dropout=0.0, progress=False)
    assert calls == [torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url]
    assert torch.equal(bb.layer4[2].conv3.weight, sd["layer4.2.conv3.weight"])
    assert torch.equal(bb.bn1.running_var, sd["bn1.running_var"])


def test_state_dict_file_prefix_wrapper_and_mismatch(tmp_path):
    sd = _randomised_state_dict("resnet18", seed=5)
    path = tmp_path / "r18.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, path)
    bb = BACKBONES["resnet18"](width=1.0, input_size=32, **dict(FACTORY_ARGS, weights=str(path)))
    assert torch.equal(bb.layer3[1].conv2.weight, sd["layer3.1.conv2.weight"])
    with pytest.raises(ValueError, match="does not fit backbone resnet50"):
        BACKBONES["resnet50"](width=1.0, input_size=32, **dict(FACTORY_ARGS, weights=sd))
    with pytest.raises(ValueError, match="does not fit"):
        BACKBONES["resnet18"](width=0.5, input_size=32, **dict(FACTORY_ARGS, weights=sd))
    with pytest.raises(ValueError, match="not a file"):
        BACKBONES["resnet18"](width=1.0, input_size=32, **dict(FACTORY_ARGS, weights=str(tmp_path / "none.pth")))


def test_trunk_stops_after_the_deepest_requested_tap():
    bb = ResNetBackbone("resnet50", input_size=64, conv_taps=("conv3",), with_global=False)
    assert hasattr(bb, "layer2") and not hasattr(bb, "layer3") and not hasattr(bb, "layer4")
    sd = _randomised_state_dict("resnet50", seed=7)
    bb.load_state_dict(map_torchvision_resnet_state_dict(sd, bb))  # the unbuilt stages' keys are ignored
    taps = bb.eval()(torch.randn(1, 3, 64, 64))
    assert set(taps) == {"conv3"} and taps["conv3"].shape == (1, 512, 8, 8)
    conv35 = ResNetBackbone("resnet50", input_size=64, conv_taps=("conv3", "conv4", "conv5"), with_global=False)
    assert conv35.fc1 is None and conv35.global_dim is None and hasattr(conv35, "layer4")


def test_global_only_backbone_for_dshc():
    from hashlib_core.models import dshc

    bb = BACKBONES["resnet50"](width=1.0, input_size=64, conv_taps=(), with_global=True, weights=None,
                               dropout=0.5, progress=False).eval()
    assert bb.conv_taps == () and bb.tap_channels == {} and bb.tap_sizes == {}
    assert set(bb(torch.randn(1, 3, 64, 64))) == {"fc1"}
    net = dshc.dshc_model(30, 10, backbone="resnet50", width=0.25, input_size=32)
    assert net.classifier.in_features == 512
    assert net.eval()(torch.randn(2, 3, 32, 32)).u.shape == (2, 30)


@pytest.mark.parametrize("variant,branches", [("fused", ("fusion", "fc1")), ("fc1", ("fc1",)), ("conv3-5", ("fusion",))])
def test_multiscale_head_builds_on_resnet50(variant, branches):
    torch.manual_seed(0)
    m = multiscale_hashnet("resnet50", bits=16, num_classes=10, variant=variant, width=0.125, input_size=64)
    assert m.head.branches == branches
    out = m(torch.randn(4, 3, 64, 64))
    assert out.u.shape == (4, 16) and out.logits.shape == (4, 10) and out.u.abs().max() < 1
    out.logits.sum().backward()
    assert m.backbone.conv1.weight.grad is not None and m.backbone.conv1.weight.grad.abs().sum() > 0
    groups = {g["name"]: g["params"] for g in parameter_groups(m)}
    trunk = {id(p) for p in m.backbone.parameters()}
    assert {id(p) for p in groups["backbone"]} == trunk
    assert trunk.isdisjoint(id(p) for p in groups["head"])
    if variant != "fc1":
        assert m.head.reduce["conv5"][0].in_channels == 256  # 512 planes x 1/8 x expansion 4


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown ResNet arch"):
        ResNetBackbone("resnet9000")
    with pytest.raises(ValueError, match="unknown conv taps"):
        ResNetBackbone("resnet18", conv_taps=("conv2",))
    with pytest.raises(ValueError, match="input_size"):
        ResNetBackbone("resnet18", input_size=0)
    with pytest.raises(ValueError, match="computes nothing"):
        ResNetBackbone("resnet18", conv_taps=(), with_global=False)
    with pytest.raises(ValueError, match="width"):
        ResNetBackbone("resnet18", width=0)
    with pytest.raises(ValueError, match="unsupported weights"):
        BACKBONES["resnet18"](width=1.0, input_size=32, **dict(FACTORY_ARGS, weights=3))
