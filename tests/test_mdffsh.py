"""MDFF-SH (paper 001) and DMSH (paper 002): registered from DSHFMDF's parts, the ResNet-50 taps,
the paper-profile config with ImageNet weights from a saved state dict (nothing downloads), the
runs they share with DSHFMDF's notebooks through the cache, and a smoke notebook through papermill."""
import json
from types import SimpleNamespace

import nbformat
import pytest
import torch
import torchvision
from torchvision.models import _api as tv_api

from hashlib_core.methods import METHODS
from hashlib_core.models import HashOutput, dshfmdf
from hashlib_core.models.mdffsh import dmsh, mdffsh
from hashlib_core.papers import p001_mdffsh
from hashlib_core.papers.p001_mdffsh import run_config, shared_with_dshfmdf
from hashlib_core.reproduce import resolve
from hashlib_core.runner import make_config

SPLIT = SimpleNamespace(num_classes=10, multi_label=False, train=range(40))


def test_registered_with_dshfmdfs_parts():
    d, m, s = METHODS["dshfmdf"], METHODS["mdffsh"], METHODS["dmsh"]
    assert (m.paper, s.paper, m.family, s.family) == ("001", "002", "deep", "deep")
    for method in (m, s):
        assert method.build_criterion is d.build_criterion
        assert method.encode_output is d.encode_output and method.build_quantizer is d.build_quantizer
        assert method.input_spec == d.input_spec and method.profile_keys == d.profile_keys
        assert dict(method.defaults["loss"]) == dict(d.defaults["loss"]) == \
            {"beta": 0.01, "gamma": 0.1, "pairs": "memory", "form": "sum"}
    assert dict(m.defaults["model"]) == {"backbone": "resnet50", "variant": "fused"}
    assert dict(s.defaults["model"]) == {"backbone": "vgg19_bn", "variant": "conv3-5"}
    assert m.build_model is not d.build_model


@pytest.mark.parametrize("width,size,channels,sides", [
    (1.0, 224, (512, 1024, 2048), (28, 14, 7)),
    (0.125, 32, (64, 128, 256), (4, 2, 1)),
])
def test_resnet50_taps_are_the_ends_of_layer2_3_4_and_fc1_the_pooled_layer4(width, size, channels, sides):
    torch.manual_seed(0)
    net = mdffsh(bits=48, width=width, input_size=size).eval()
    bb = net.backbone
    assert bb.arch == "resnet50" and net.head.branches == ("fusion", "fc1")
    assert bb.tap_channels == dict(zip(("conv3", "conv4", "conv5"), channels))
    assert bb.tap_sizes == dict(zip(("conv3", "conv4", "conv5"), sides))
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        taps = bb(x)
        out = net(x)
        layer4 = bb.layer4(bb.layer3(bb.layer2(bb.layer1(bb.maxpool(bb.relu(bb.bn1(bb.conv1(x))))))))
    for name, c, s in zip(("conv3", "conv4", "conv5"), channels, sides):
        assert taps[name].shape == (2, c, s, s)
    assert torch.equal(taps["conv5"], layer4)
    assert torch.allclose(taps["fc1"], layer4.mean(dim=(2, 3)), atol=1e-6)  # dropout is off in eval
    assert out.u.shape == (2, 48) and out.logits.shape == (2, 10) and out.u.abs().max() < 1


def test_the_networks_are_dshfmdfs_for_the_same_arguments():
    kw = dict(bits=16, num_classes=10, width=0.0625, input_size=32)
    torch.manual_seed(3)
    a = mdffsh(**kw).state_dict()
    torch.manual_seed(3)
    b = dshfmdf(backbone="resnet50", **kw).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(3)
    c = dmsh(**kw)
    torch.manual_seed(3)
    d = dshfmdf(backbone="vgg19_bn", variant="conv3-5", **kw)
    assert c.head.branches == ("fusion",)
    assert all(torch.equal(x, y) for x, y in zip(c.state_dict().values(), d.state_dict().values()))
    with pytest.raises(ValueError, match="conv3-5"):
        dmsh(variant="fused", **kw)


def test_criterion_equals_dshfmdfs():
    torch.manual_seed(0)
    u = torch.tanh(torch.randn(8, 16))
    out = HashOutput(u, torch.randn(8, 10))
    batch = SimpleNamespace(labels=torch.randint(0, 10, (8,)), index=torch.arange(8))
    for pairs in ("batch", "memory"):
        losses = []
        for name in ("dshfmdf", "mdffsh", "dmsh"):
            config = make_config("smoke", name, "cifar10-dshfmdf", 16, 0, loss={"pairs": pairs})
            loss, terms = METHODS[name].build_criterion(config, SPLIT)(out, batch)
            losses.append((float(loss), terms))
        assert losses[0] == losses[1] == losses[2]


@pytest.fixture
def resnet50_state_dict(tmp_path):
    torch.manual_seed(7)
    sd = torchvision.models.resnet50().state_dict()
    path = tmp_path / "resnet50-imagenet.pth"
    torch.save(sd, path)
    return sd, path


def test_paper_profile_is_imagenet_resnet50_at_224_with_adam_1e5(resnet50_state_dict, monkeypatch):
    sd, path = resnet50_state_dict
    config = make_config("paper", "mdffsh", "cifar10-dshfmdf", 48, 0)
    assert dict(config.model) == {"backbone": "resnet50", "variant": "fused", "width": 1.0, "weights": "imagenet"}
    assert config.input_size == 224 and config.train["lr"] == config.train["backbone_lr"] == 1e-5
    assert dict(config.loss) == {"beta": 0.01, "gamma": 0.1, "pairs": "memory", "form": "sum"}
    calls = []
    monkeypatch.setattr(tv_api, "load_state_dict_from_url", lambda url, *a, **k: calls.append(url) or sd)
    net = METHODS["mdffsh"].build_model(config, SPLIT)  # "imagenet" through torchvision's weights API, faked
    assert calls == [torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url]
    assert torch.equal(net.backbone.layer4[2].conv3.weight, sd["layer4.2.conv3.weight"])
    saved = make_config("paper", "mdffsh", "cifar10-dshfmdf", 48, 0, model={"weights": str(path)})
    net = METHODS["mdffsh"].build_model(saved, SPLIT)  # a saved torchvision state dict
    assert torch.equal(net.backbone.conv1.weight, sd["conv1.weight"])
    assert torch.equal(net.backbone.layer3[5].bn3.running_var, sd["layer3.5.bn3.running_var"])
    assert len(calls) == 1


def test_pretrained_cpu_path_and_dmsh_are_dshfmdfs_runs():
    lite = run_config("cpu", "mdffsh", "cifar10-dshfmdf", 48, 0, recipe="lite0")
    assert lite == make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 48, 0, recipe="lite0")
    scratch = run_config("cpu", "mdffsh", "cifar10-dshfmdf", 48, 0)
    assert scratch.method == "mdffsh" and scratch.model["backbone"] == "resnet50" and scratch.model["width"] == 0.125
    assert not shared_with_dshfmdf(scratch, make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 48, 0))
    for profile in ("smoke", "cpu", "paper"):
        assert run_config(profile, "dmsh", "cifar10-dshfmdf", 12, 1) == \
            make_config(profile, "dshfmdf", "cifar10-dshfmdf", 12, 1, model={"variant": "conv3-5"})
    # a setting that makes the networks differ is not shared
    other = run_config("cpu", "mdffsh", "cifar10-dshfmdf", 48, 0, recipe="lite0", loss={"pairs": "memory"})
    assert other.method == "dshfmdf" and other.loss["pairs"] == "memory"


def _keys(profile, stem, build):
    ((_, params),) = resolve(profile, [stem])
    return {c.key() for c in build(params)}


def test_cpu_notebooks_31_32_and_the_lite0_rows_of_30_are_notebooks_01_04_05s_runs():
    """Every run of notebooks 31 / 32 under cpu, and notebook 30's pretrained row, has the key of a
    run notebooks 01 / 04 / 05 make under cpu (same config, so the cache serves it)."""
    def nb01(p):
        return [make_config("cpu", "dshfmdf", pr, b, s, recipe=p["pretrained_recipe"])
                for pr in p["pretrained_protocols"] for b in p["bits"] for s in p["seeds"]]

    def nb04(p):
        return [make_config("cpu", "dshfmdf", "cifar10-dshfmdf", b, s, model={"variant": v}, recipe=r)
                for r in p["recipes"] for v in ("fc1", "conv3-5", "fused") for b in p["bits"] for s in p["seeds"]]

    def nb05(p):
        objectives = [{"beta": p["beta"], "gamma": 0.0}, {"beta": 0.0, "gamma": p["gamma"]},
                      {"beta": p["beta"], "gamma": p["gamma"]}]
        return [make_config("cpu", "dshfmdf", "cifar10-dshfmdf", b, s, loss=o, recipe=r)
                for r in p["recipes"] for o in objectives for b in p["bits"] for s in p["seeds"]]

    def nb31(p):
        return [run_config("cpu", "mdffsh", "cifar10-dshfmdf", b, s, model={"variant": v}, recipe=r)
                for r in p["recipes"] for v in ("fc1", "conv3-5", "fused") for b in p["bits"] for s in p["seeds"]]

    def nb32(p):
        return [run_config("cpu", "mdffsh", "cifar10-dshfmdf", b, s, loss=o, recipe=r)
                for r in p["recipes"] for o in p001_mdffsh.objectives(p["beta"], p["gamma"]).values()
                for b in p["bits"] for s in p["seeds"]]

    def nb30_lite0(p):
        return [run_config("cpu", "mdffsh", pr, b, s, recipe=p["pretrained_recipe"])
                for pr in p["pretrained_protocols"] for b in p["bits"] for s in p["seeds"]]

    k31 = _keys("cpu", "31_mdffsh_table4_scales", nb31)
    k32 = _keys("cpu", "32_mdffsh_table5_objective", nb32)
    k30 = _keys("cpu", "30_mdffsh_table2_table3", nb30_lite0)
    assert len(k31) == 36 and len(k32) == 36 and len(k30) == 12
    assert k31 <= _keys("cpu", "04_dshfmdf_table4_fig5_scales", nb04)
    assert k32 <= _keys("cpu", "05_dshfmdf_table5_objective", nb05)
    assert k30 <= _keys("cpu", "01_dshfmdf_table2", nb01)


def test_smoke_notebook_runs_through_papermill(isolated_cache, tmp_path, monkeypatch):
    """Notebook 33 under smoke, executed by reproduce.execute (papermill) as `make reproduce` does."""
    from hashlib_core import reproduce

    monkeypatch.setenv("HASHLIB_FIGURES", str(tmp_path / "figures"))
    ((notebook, params),) = resolve("smoke", ["33_mdffsh_curves"])
    out = reproduce.execute(notebook, params, "smoke")
    executed = nbformat.read(out, as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    folder = out.parent
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["profile"] == "smoke" and len(manifest["runs"]) == 3
    assert {r["config"]["method"] for r in manifest["runs"].values()} == {"mdffsh"}
    assert (folder / "curves.png").is_file() and (folder / "curve_points.csv").is_file()


def test_cross_method_table_counts_dshfmdfs_shared_run_as_mdffsh(isolated_cache):
    """Notebook 21's run_methods: an MDFF-SH config that is DSHFMDF's computation (the Lite0 recipe)
    is served by DSHFMDF's run, and the table row says MDFF-SH."""
    from hashlib_core.baselines.tables import baseline_frame, run_methods

    results = run_methods("smoke", ["dshfmdf", "mdffsh"], "cifar10-dshfmdf", [12], [0], recipe="lite0")
    by = {r.method: r for r in results}
    assert set(by) == {"dshfmdf", "mdffsh"}
    assert by["mdffsh"].key == by["dshfmdf"].key and by["mdffsh"].config.method == "dshfmdf"
    assert by["mdffsh"].asked_as == "mdffsh" and by["dshfmdf"].asked_as == ""
    frame = baseline_frame(results)
    assert list(frame["method"]) == ["dshfmdf", "mdffsh"]
    assert frame.loc[frame["method"] == "mdffsh", "paper_method"].item() != frame.loc[frame["method"] == "dshfmdf", "paper_method"].item()


def test_scratch_setting_changes_the_resnet50_and_vgg19_rows_alike():
    """Notebook 30's ``scratch_setting`` reaches both trunks of the backbone claim as the same change."""
    kw = p001_mdffsh.scratch_overrides({"recipe": "scratch-64px", "train": {"epochs": 40}, "model": {"width": 0.25}})
    resnet = run_config("cpu", "mdffsh", "cifar10-dshfmdf", 48, 0, **kw)
    vgg = make_config("cpu", "dshfmdf", "cifar10-dshfmdf", 48, 0, **kw)
    for config in (resnet, vgg):
        assert (config.input_size, config.train["epochs"], config.model["width"]) == (64, 40, 0.25)
    assert (resnet.model["backbone"], vgg.model["backbone"]) == ("resnet50", "vgg19_bn")
    assert p001_mdffsh.scratch_overrides({}) == {"recipe": None, "model": None, "train": None}
    assert run_config("cpu", "mdffsh", "cifar10-dshfmdf", 48, 0, **p001_mdffsh.scratch_overrides(None)) == \
        run_config("cpu", "mdffsh", "cifar10-dshfmdf", 48, 0)


@pytest.mark.parametrize("setting, words", [
    ({"epochs": 40}, "unknown key(s) ['epochs']"),
    ({"recipe": 64}, "recipe name"),
    ({"train": 40}, "dict of train settings"),
])
def test_a_bad_scratch_setting_is_refused_by_name(setting, words):
    with pytest.raises(ValueError, match="scratch_setting") as err:
        p001_mdffsh.scratch_overrides(setting)
    assert words in str(err.value)
