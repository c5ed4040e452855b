"""Run results → tables beside the paper, claimed orderings, and the output folder's manifest."""
import json
import types

import pandas as pd
import pytest

from hashlib_core import reporting, tables


def _runs():
    rows = []
    for variant, base in (("fused", 0.8), ("fc1", 0.7), ("conv3-5", 0.6)):
        for bits in (12, 48):
            for seed, noise in ((0, -0.01), (1, 0.01)):
                rows.append({"variant": variant, "bits": bits, "seed": seed, "map": base + noise + bits / 1000})
    return pd.DataFrame(rows)


def test_summarise_mean_sd_and_seed_count():
    s = tables.summarise(_runs(), ["variant", "bits"])
    row = s[(s.variant == "fused") & (s.bits == 12)].iloc[0]
    assert row["map"] == pytest.approx(0.812) and row["map_sd"] == pytest.approx(0.0141421, rel=1e-4)
    assert row["n_seeds"] == 2


def test_beside_paper_and_format_cells():
    ours = tables.summarise(_runs(), ["variant", "bits"])
    paper = pd.DataFrame({"variant": ["fused"], "bits": [12], "value": [0.779]})
    cmp = tables.beside_paper(ours, paper, on=["variant", "bits"])
    fused12 = cmp[(cmp.variant == "fused") & (cmp.bits == 12)].iloc[0]
    assert fused12["diff"] == pytest.approx(0.812 - 0.779)
    assert cmp[cmp.variant == "fc1"]["paper"].isna().all()  # no paper cell -> empty, not 0
    text = tables.format_cells(cmp)
    assert text.loc[fused12.name, "map"] == "0.812 ± 0.014" and text.loc[fused12.name, "diff"] == "+0.033"
    assert "map_sd" not in text and text.loc[cmp.index[cmp.variant == "fc1"][0], "paper"] == ""


def test_report_writes_tables_figures_and_manifest(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv(reporting.FIGURES_ENV, str(tmp_path))
    rep = reporting.Report("nb", "cpu", seeds=[0, 1], params={"bits": [12]})
    rep.save_table(pd.DataFrame({"a": [1]}), "t", "caption")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    rep.save_figure(fig, "f")
    split = types.SimpleNamespace(name="p", seed=0, checksum="abc")
    rep.add_split(split)
    manifest = rep.finish()
    files = {p.name for p in (tmp_path / "nb").iterdir()}
    assert {"t.csv", "t.md", "f.png", "f.svg", "manifest.json"} <= files
    assert not any(name.endswith(".tmp") or ".tmp." in name for name in files)
    on_disk = json.loads((tmp_path / "nb" / "manifest.json").read_text())
    assert on_disk["profile"] == "cpu" and on_disk["seeds"] == [0, 1] and on_disk["splits"] == {"p/seed0": "abc"}
    assert on_disk["commit"] == manifest["commit"] and on_disk["wall_time_s"] >= 0 and on_disk["date"]
    import torch

    # the CPU kernel set beside the commit: results can differ in the last bits between kernel sets
    assert on_disk["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert on_disk["machine"]["cpu_model"] == reporting.cpu_model()
    assert (tmp_path / "nb" / "t.md").read_text().startswith("caption")


def test_figures_dir_per_profile(monkeypatch):
    monkeypatch.delenv(reporting.FIGURES_ENV, raising=False)
    assert reporting.figures_dir("nb", "cpu").parts[-2:] == ("figures", "nb")
    assert reporting.figures_dir("nb", "paper").parts[-3:] == ("figures", "paper", "nb")
    assert reporting.figures_dir("nb", "smoke").parts[-2] == "figures-smoke"  # CI never writes figures/


def test_setting_label_names_the_network():
    from types import SimpleNamespace

    from hashlib_core.tables import setting_label

    scratch = SimpleNamespace(model={"backbone": "vgg19_bn", "width": 0.125, "weights": None}, train={}, input_size=32)
    lite = SimpleNamespace(model={"backbone": "efficientnet_lite0", "width": 1.0, "weights": "imagenet"},
                           train={"freeze_backbone": True}, input_size=224)
    assert setting_label(scratch) == "VGG-19-BN ×0.125, from scratch, 32 px"
    assert setting_label(lite) == "EfficientNet-Lite0, ImageNet-pretrained, frozen trunk, 224 px"


def test_save_table_escapes_pipes_in_markdown_cells_only(tmp_path, monkeypatch):
    monkeypatch.setenv(reporting.FIGURES_ENV, str(tmp_path))
    rep = reporting.Report("nb", "cpu", seeds=[0])
    rep.save_table(pd.DataFrame({"reason": ["gap |d| small"], "x": [1.5]}), "t")
    md = (tmp_path / "nb" / "t.md").read_text()
    row = [line for line in md.splitlines() if "gap" in line][0]
    assert "gap \\|d\\| small" in row and row.count(" | ") == 1  # two cells, one separator
    assert pd.read_csv(tmp_path / "nb" / "t.csv")["reason"][0] == "gap |d| small"


def test_cpu_model_reads_vendor_family_and_model_of_the_first_processor():
    """Two AVX-512 processor models gave different floats for the same seed: the processor's
    model numbers go beside the kernel set (docs/decisions.md, "Same seed, same result")."""
    cpuinfo = ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n"
               "model name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nvendor_id\t: OtherVendor\n"
               "cpu family\t: 7\nmodel\t\t: 1\n")
    assert reporting.cpu_model(cpuinfo) == "GenuineIntel family 6 model 207"
    # no /proc/cpuinfo fields (another OS): the platform's processor name, never an empty string
    assert reporting.cpu_model("") != ""
