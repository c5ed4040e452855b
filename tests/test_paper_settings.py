"""The `paper` profile per paper: every row of docs/decisions.md's "Paper settings per paper" table
is what the notebook's paper parameters and the profile resolve to (make_config, as the notebook
calls it), and the optimiser settings reach the trainer."""
import pytest
import torch

from hashlib_core.paths import repo_root
from hashlib_core.reproduce import resolve
from hashlib_core.runner import make_config
from hashlib_core.train import TrainSettings, make_optimizer


def _table_rows():
    text = (repo_root() / "docs" / "decisions.md").read_text()
    section = text.split("## Paper settings per paper", 1)[1].split("\n## ", 1)[0]
    lines = [l for l in section.splitlines() if l.startswith("| ") and not l.startswith("| ---")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in l.strip("|").split("|")))) for l in lines[1:]]


ROWS = _table_rows()


def test_table_covers_every_paper_000_and_004_training_notebook():
    assert {r["notebook"] for r in ROWS} >= {"01_dshfmdf_table2", "10_dshc_table1_table2", "11_dshc_table3_code_lengths",
                                             "12_dshc_table4_cpbc_vs_kbc", "13_dshc_fig2_tsne", "14_dshc_fig3_radius_curves"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['notebook']}:{r['method']}")
def test_paper_config_matches_the_recorded_settings(row):
    ((_, params),) = resolve("paper", [row["notebook"]])
    if row["method"].startswith("dshc"):
        ml = row["method"] == "dshc-multilabel"
        backbone = (params.get("ml_backbone") if ml else None) or params["backbone"]
        train = (params.get("ml_train_overrides") if ml else None) or params["train_overrides"]
        config = make_config("paper", row["method"], row["protocol"], 30, 0, model={"backbone": backbone}, train=train)
    else:
        config = make_config("paper", row["method"], row["protocol"], 48, 0)
    assert config.model["backbone"] == row["backbone"]
    assert str(config.model["weights"]) == row["weights"]
    assert config.input_size == int(row["input px"])
    assert config.train.get("optimizer", "adam") == row["optimizer"]
    assert config.train["lr"] == pytest.approx(float(row["lr"]))
    assert config.train["epochs"] == int(row["epochs"])
    assert config.train.get("lr_step", 0) == int(row["lr_step"])
    settings = TrainSettings(input_size=config.input_size, **config.train)
    assert settings.optimizer == row["optimizer"]


def test_sgd_and_step_schedule_reach_the_optimiser():
    model = torch.nn.Linear(3, 2)
    sgd = make_optimizer(model, TrainSettings(epochs=1, batch_size=2, lr=0.1, backbone_lr=0.1, weight_decay=0.0,
                                              input_size=32, optimizer="sgd", momentum=0.9))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9
    with pytest.raises(ValueError, match="optimizer"):
        TrainSettings(epochs=1, batch_size=2, lr=0.1, backbone_lr=0.1, weight_decay=0.0, input_size=32, optimizer="rmsprop")


def test_step_schedule_decays_the_learning_rate_each_lr_step_epochs(monkeypatch):
    import numpy as np

    from hashlib_core import train as train_mod
    from hashlib_core.models import HashOutput

    class Part:
        labels = np.arange(8) % 2

        def __len__(self):
            return 8

        def inputs(self, idx, generator=None):
            return torch.ones(len(idx), 3)

    captured = {}
    make = train_mod.make_optimizer
    monkeypatch.setattr(train_mod, "make_optimizer", lambda m, s: captured.setdefault("opt", make(m, s)))
    net = torch.nn.Linear(3, 2)
    crit = lambda out, batch: (out.u.pow(2).mean(), {})  # noqa: E731
    model = type("M", (torch.nn.Module,), {"__init__": lambda self: (torch.nn.Module.__init__(self), setattr(self, "l", net))[0],
                                          "forward": lambda self, x: HashOutput(self.l(x), None)})()
    settings = TrainSettings(epochs=4, batch_size=4, lr=0.1, backbone_lr=0.1, weight_decay=0.0, input_size=32,
                             optimizer="sgd", lr_step=2, lr_gamma=0.1, augment=False)
    train_mod.fit(model, crit, Part(), settings, seed=0, progress=False)
    assert captured["opt"].param_groups[0]["lr"] == pytest.approx(0.1 * 0.1 ** 2)
