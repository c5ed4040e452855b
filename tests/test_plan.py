"""The batch plan (hashlib_core.plan) and reproduce's --plan / summary, on synthetic manifests."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashlib_core import plan as plan_mod
from hashlib_core import reproduce
from hashlib_core.trunk import trunk_key

FROZEN = {"model": {"backbone": "efficientnet_lite0", "width": 1.0, "weights": "imagenet"},
          "input_size": 224, "num_threads": 2, "train": {"freeze_backbone": True}}
SCRATCH = {"model": {"backbone": "vgg19_bn", "width": 0.125}, "input_size": 32, "num_threads": 2,
           "train": {"epochs": 20}}


def _run(config, cached, train_s, trunk_s=0.0, **extra):
    return {"config": config, "cached": cached, "metrics": {"map": 0.5},
            "timings": {"train_s": train_s, "encode_s": 5.0, "metrics_s": 1.0, "trunk_s": trunk_s,
                        "train_images_per_s": 1000.0, **extra}}


def _manifest(root: Path, stem: str, runs: dict, wall: float):
    folder = root / stem
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(
        {"notebook": stem, "profile": "cpu", "wall_time_s": wall, "runs": runs,
         "machine": {"cpu_count": 2}, "date": "2026-11-25T10:00:00+00:00", "commit": "abc"}))


def _cache_run(cache: Path, key: str):
    (cache / "runs" / key).mkdir(parents=True)
    (cache / "runs" / key / "meta.json").write_text("{}")


@pytest.fixture
def batch(tmp_path):
    figures, cache = tmp_path / "figures", tmp_path / "cache"
    cache.mkdir()
    # nb_a computed k1 (100 s train), k2 (its run made the 1,000 s trunk pass) and reused k3
    _manifest(figures, "nb_a", {"k1": _run(SCRATCH, False, 100.0),
                                "k2": _run(FROZEN, False, 50.0, trunk_s=1000.0),
                                "k3": _run(SCRATCH, True, 70.0)}, wall=1180.0)
    # nb_b shares k2 with nb_a; k4 needs the same trunk but found it cached when it ran
    _manifest(figures, "nb_b", {"k2": _run(FROZEN, True, 50.0, trunk_s=1000.0),
                                "k4": _run(FROZEN, False, 30.0, trunk_s=0.1)}, wall=40.0)
    return figures, cache


def test_empty_cache_counts_every_run_once_and_the_trunk_pass_once(batch):
    figures, cache = batch
    a, b = plan_mod.plan_batch(["nb_a", "nb_b"], figures, cache)
    # nb_a: its three runs (106 + 56 + 76 s of recorded compute) + the trunk pass + its own 18 s
    assert (a.runs, a.cached, a.to_compute, a.shared) == (3, 0, 3, 0)
    assert a.runs_s == pytest.approx(106 + 56 + 76)
    assert a.trunk_s == pytest.approx(1000.0)
    assert a.overhead_s == pytest.approx(1180 - (106 + 1056))
    # nb_b: k2 is computed by nb_a first; k4 needs no second trunk pass
    assert (b.runs, b.cached, b.to_compute, b.shared) == (2, 0, 1, 1)
    assert b.runs_s == pytest.approx(36.0) and b.trunk_s == 0.0
    assert b.estimate_s == pytest.approx(36.0 + (40.0 - 36.1))


def test_cached_runs_and_trunks_cost_nothing(batch):
    figures, cache = batch
    for key in ("k1", "k3"):
        _cache_run(cache, key)
    (cache / "trunk" / trunk_key(FROZEN["model"], 224, 2) / "cifar10-all@taps").mkdir(parents=True)
    a, b = plan_mod.plan_batch(["nb_a", "nb_b"], figures, cache)
    assert (a.cached, a.to_compute) == (2, 1) and a.runs_s == pytest.approx(56.0) and a.trunk_s == 0.0
    assert (b.cached, b.to_compute, b.shared) == (0, 1, 1)


def test_empty_cache_flag_ignores_what_the_cache_holds(batch):
    figures, cache = batch
    for key in ("k1", "k3"):
        _cache_run(cache, key)
    (cache / "trunk" / trunk_key(FROZEN["model"], 224, 2) / "cifar10-all@taps").mkdir(parents=True)
    fresh = plan_mod.plan_batch(["nb_a", "nb_b"], figures, tmp_empty := cache.parent / "nothing-here")
    assert not tmp_empty.exists()
    flagged = plan_mod.plan_batch(["nb_a", "nb_b"], figures, cache, empty_cache=True)
    assert [(p.cached, p.to_compute, p.estimate_s) for p in flagged] == [(p.cached, p.to_compute, p.estimate_s) for p in fresh]
    assert flagged[0].trunk_s == pytest.approx(1000.0)


def test_gallery_cost_section_from_the_manifests(batch):
    from hashlib_core import gallery

    figures, _ = batch
    (figures / "reproduce-cpu.json").write_text(json.dumps({"nb_a": 1195.0}))
    lines = gallery.cost_section(figures, ["nb_a", "nb_b", "nb_c"], "cpu")
    text = "\n".join(lines)
    a, b = plan_mod.plan_batch(["nb_a", "nb_b"], figures, empty_cache=True)
    assert f"| nb_a | 3 | 3 | {plan_mod.duration(a.estimate_s)} | 19 min 55 s |" in text
    assert f"| nb_b | 2 | 1 | {plan_mod.duration(b.estimate_s)} |  |" in text
    assert "| nb_c | ? | ? | not run under this profile yet | |" in text
    assert f"**{plan_mod.duration(a.estimate_s + b.estimate_s)}**" in text and "(2 of 3 notebooks) | 5 | 4 |" in text
    assert gallery.cost_section(figures, ["nb_c"], "cpu") == []


def test_a_trunk_counts_as_cached_only_with_the_image_sets_the_run_reads(tmp_path, isolated_cache):
    """A trunk folder holding other image sets (e.g. a validation split's) does not spare the pass."""
    from hashlib_core.data import get_protocol
    from hashlib_core.data.identity import source_identity
    from hashlib_core.profiles import load_profile

    subset = dict(load_profile("smoke").subset)
    config = {**FROZEN, "protocol": "cifar10-dshfmdf", "seed": 0, "subset": subset,
              "train": {"freeze_backbone": True, "augment": False}}
    key = trunk_key(FROZEN["model"], 224, 2)
    root = tmp_path / "trunk" / key
    (root / "array-somethingelse@fc1").mkdir(parents=True)
    assert not plan_mod._trunk_cached(key, tmp_path, config)
    assert plan_mod._trunk_cached(key, tmp_path, None)   # no protocol named: any image set counts
    split = get_protocol("cifar10-dshfmdf", seed=0, subset=subset)
    for part in (split.train, split.query, split.database):
        (root / f"{source_identity(part)[0]}@conv3+fc1").mkdir(exist_ok=True)
    assert plan_mod._trunk_cached(key, tmp_path, config)
    with_flips = {**config, "train": {"freeze_backbone": True}}   # the trainer's default: flipped views too
    assert not plan_mod._trunk_cached(key, tmp_path, with_flips)


def test_trunk_pass_recorded_by_another_notebook_is_counted(batch):
    """Running nb_b alone: k4 recorded no pass (the trunk was cached then), but nb_a's k2 did."""
    figures, cache = batch
    _cache_run(cache, "k2")
    (b,) = plan_mod.plan_batch(["nb_b"], figures, cache)
    assert (b.cached, b.to_compute) == (1, 1)
    assert b.trunk_s == pytest.approx(1000.0)


def test_notebook_without_manifest_is_unknown_and_plan_text_says_so(batch):
    figures, cache = batch
    plans = plan_mod.plan_batch(["nb_a", "nb_new"], figures, cache)
    assert not plans[1].known and plans[1].estimate_s is None
    text = plan_mod.format_plan(plans, "cpu")
    assert "nb_new" in text and "no manifest yet" in text
    assert "3 to compute" in text and "1 notebook(s) never run under this profile" in text
    assert plan_mod.duration(3725) == "1 h 02 min" and plan_mod.duration(75) == "1 min 15 s"


def test_reproduce_plan_flag_prints_the_plan_and_runs_nothing(batch, monkeypatch, capsys):
    figures, cache = batch
    stem = reproduce.registry()[0]["notebook"].split("/")[-1][: -len(".ipynb")]
    _manifest(figures, stem, {"k1": _run(SCRATCH, False, 100.0)}, wall=110.0)
    monkeypatch.setenv("HASHLIB_FIGURES", str(figures))
    monkeypatch.setenv("HASHLIB_CACHE", str(cache))
    monkeypatch.setattr(reproduce, "execute", lambda *a, **k: pytest.fail("--plan must not execute"))
    assert reproduce.main(["--profile", "cpu", "--only", stem, "--plan"]) == 0
    out = capsys.readouterr().out
    assert f"{stem}" in out and "1 to compute" in out and "estimate 1 min 50 s" in out


def test_reproduce_summary_counts_runs_and_failures(batch, monkeypatch, capsys):
    """A failing notebook is reported, the batch goes on, the summary counts the manifests' runs."""
    figures, cache = batch
    stems = [Path(e["notebook"]).stem for e in reproduce.registry()[:2]]
    monkeypatch.setenv("HASHLIB_FIGURES", str(figures))
    monkeypatch.setenv("HASHLIB_CACHE", str(cache))

    def fake_execute(notebook, params, profile):
        if notebook.stem == stems[0]:
            raise RuntimeError("cell 3 failed\nValueError: bad input")
        _manifest(figures, notebook.stem, {"k1": _run(SCRATCH, False, 1.0), "k3": _run(SCRATCH, True, 1.0),
                                           "k5": _run(SCRATCH, True, 1.0)}, wall=3.0)
        return figures / notebook.stem / notebook.name

    monkeypatch.setattr(reproduce, "execute", fake_execute)
    assert reproduce.main(["--profile", "cpu", "--only", *stems]) == 1
    out = capsys.readouterr().out
    assert "1 notebook(s) ran, 1 failed; runs computed 1, reused 2" in out
    assert f"failed: {stems[0]}: RuntimeError: ValueError: bad input" in out
    assert (figures / "README.md").is_file()  # the gallery is rebuilt at the end
    timings = json.loads((figures / "reproduce-cpu.json").read_text())
    assert set(timings) == {stems[1]}


def test_kernel_startup_from_the_batch_timings(batch):
    """The batch's time of a notebook minus its manifest's wall time; far-off pairs are ignored."""
    figures, cache = batch
    _manifest(figures, "nb_c", {}, wall=10.0)
    (figures / "reproduce-cpu.json").write_text(json.dumps(
        {"nb_a": 1186.0, "nb_b": 44.0, "nb_c": 500.0, "nb_gone": 3.0}))
    assert plan_mod.kernel_startup_s(figures, "cpu") == pytest.approx(5.0)  # median of 6 and 4
    a, b = plan_mod.plan_batch(["nb_a", "nb_b"], figures, cache, profile="cpu")
    assert a.overhead_s == pytest.approx(5.0 + 1180 - (106 + 1056))
    assert plan_mod.kernel_startup_s(figures, "paper") == 0.0


def _git(root: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_a_notebook_whose_settings_changed_since_its_manifest_is_flagged(tmp_path, batch):
    """Its manifest's runs are the old settings' runs: the plan says so rather than pass them off."""
    figures, cache = batch
    repo = tmp_path
    for stem in ("nb_a", "nb_b"):
        (repo / "params" / stem).mkdir(parents=True)
        (repo / "params" / stem / "cpu.yaml").write_text("bits: [48]\n")
    (repo / "params" / "profiles").mkdir()
    (repo / "params" / "profiles" / "cpu.yaml").write_text("recipes: {lite0: {epochs: 30}}\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "params")
    _git(repo, "commit", "-q", "-m", "settings")
    commit = _git(repo, "rev-parse", "HEAD")
    for stem in ("nb_a", "nb_b"):
        manifest = json.loads((figures / stem / "manifest.json").read_text())
        (figures / stem / "manifest.json").write_text(json.dumps({**manifest, "commit": commit}))
    assert [p.settings_changed for p in plan_mod.plan_batch(["nb_a", "nb_b"], figures, cache, repo=repo)] == [False, False]
    (repo / "params" / "nb_b" / "cpu.yaml").write_text("bits: [12, 48]\n")
    a, b = plan_mod.plan_batch(["nb_a", "nb_b"], figures, cache, repo=repo)
    assert (a.settings_changed, b.settings_changed) == (False, True)
    text = plan_mod.format_plan([a, b], "cpu")
    assert text.count("settings changed since its manifest") == 1 and "1 notebook(s) have new params" in text
    (repo / "params" / "nb_b" / "cpu.yaml").write_text("bits: [48]\n")
    (repo / "params" / "profiles" / "cpu.yaml").write_text("recipes: {lite0: {epochs: 60}}\n")  # a recipe: every notebook
    assert [p.settings_changed for p in plan_mod.plan_batch(["nb_a", "nb_b"], figures, cache, repo=repo)] == [True, True]
    # not a commit of this repository, or no repository at all: cannot tell
    assert plan_mod.settings_changed("nb_a", "0" * 40, repo) is None
    assert plan_mod.settings_changed("nb_a", "unknown", repo) is None


def test_comments_and_re_recorded_fingerprints_are_not_a_settings_change(tmp_path):
    """What decides a run is compared, not the text: a comment or a re-recorded source fingerprint
    (same version) leaves the old runs valid; a new value or a version bump does not."""
    repo = tmp_path
    (repo / "params" / "nb_a").mkdir(parents=True)
    (repo / "params" / "profiles").mkdir()
    (repo / "tests" / "fixtures").mkdir(parents=True)
    params = repo / "params" / "nb_a" / "cpu.yaml"
    versions = repo / "tests" / "fixtures" / "method_versions.json"
    params.write_text("bits: [48]\n")
    (repo / "params" / "profiles" / "cpu.yaml").write_text("epochs: 20\n")
    versions.write_text(json.dumps({"dpsh": {"code": "aaaa", "version": 1}}))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "settings")
    commit = _git(repo, "rev-parse", "HEAD")
    params.write_text("# measured cost: 44 min\nbits:   [48]   # one length\n")
    versions.write_text(json.dumps({"dpsh": {"code": "bbbb", "unchanged_because": "metadata", "version": 1}}, indent=1))
    assert plan_mod.settings_changed("nb_a", commit, repo) is False
    versions.write_text(json.dumps({"dpsh": {"code": "bbbb", "version": 2}}))
    assert plan_mod.settings_changed("nb_a", commit, repo) is True
    versions.write_text(json.dumps({"dpsh": {"code": "aaaa", "version": 1}}))
    params.write_text("bits: [48]\nseeds: [0, 1, 2]\n")
    assert plan_mod.settings_changed("nb_a", commit, repo) is True
    params.write_text("bits: [48]\n")
    (repo / "params" / "nb_a" / "paper.yaml").write_text("bits: [12]\n")  # a new file counts
    assert plan_mod.settings_changed("nb_a", commit, repo) is True


def _complete_run(cache: Path, key: str, config: dict | None = None):
    """A run cache entry as the runner leaves it: meta.json, then SHA256SUMS last."""
    entry = cache / "runs" / key
    entry.mkdir(parents=True)
    (entry / "meta.json").write_text(json.dumps({"config": config} if config else {}))
    (entry / "SHA256SUMS").write_text("")


def test_run_watcher_counts_runs_completed_during_the_batch_with_a_log_line_each(
        tmp_path, monkeypatch, capsys):
    from tqdm.std import tqdm

    from hashlib_core.runner import make_config

    cache = tmp_path / "cache"
    monkeypatch.setenv("HASHLIB_CACHE", str(cache))
    _complete_run(cache, "before")  # already there when the batch began: reused, not computed
    (cache / "runs" / "half").mkdir()  # being written: no SHA256SUMS yet
    bar = tqdm(total=3, disable=True)
    watcher = reproduce.RunWatcher(bar, 3, started=0.0)
    assert watcher.poll() == 0
    config = make_config("smoke", "dshc", "cifar10-dshc", bits=30, seed=1)
    _complete_run(cache, "k1", config.to_dict())
    _complete_run(cache, "k2")  # an unreadable config: the line names the key
    assert watcher.poll() == 2 and watcher.poll() == 0
    (cache / "runs" / "half" / "SHA256SUMS").write_text("")
    watcher.stop()  # the final poll counts the last run
    assert watcher.count == 3
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert err[0].startswith("run 1/3 computed after ") and err[0].endswith(": " + config.label())
    assert err[1].startswith("run 2/3 computed after ") and err[1].endswith(": k2")
    assert err[2].startswith("run 3/3 ") and err[2].endswith(": half")


def test_run_watcher_without_a_total_and_with_its_thread(tmp_path, monkeypatch, capsys):
    import time

    from tqdm.std import tqdm

    cache = tmp_path / "cache"
    monkeypatch.setenv("HASHLIB_CACHE", str(cache))
    watcher = reproduce.RunWatcher(tqdm(total=None, disable=True), None, started=time.time(), poll_s=0.01)
    watcher.start()
    _complete_run(cache, "k1")
    deadline = time.time() + 10
    while watcher.count == 0 and time.time() < deadline:  # the thread, not stop()'s final poll
        time.sleep(0.01)
    watcher.stop()
    assert watcher.count == 1
    assert capsys.readouterr().err == "run 1 computed after 0 s: k1\n"


def test_run_watcher_moves_a_drawn_bar_instead_of_writing_lines(tmp_path, monkeypatch, capsys):
    import io

    from tqdm.std import tqdm

    cache = tmp_path / "cache"
    monkeypatch.setenv("HASHLIB_CACHE", str(cache))
    bar = tqdm(total=2, file=io.StringIO())  # a terminal's bar
    watcher = reproduce.RunWatcher(bar, 2, started=0.0)
    _complete_run(cache, "k1")
    watcher.stop()
    assert bar.n == 1 and capsys.readouterr().err == ""
