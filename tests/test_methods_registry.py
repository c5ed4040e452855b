"""The method registry (issue 11): one place per method, every method through ``runner.run``, the
runner's hooks (a quantizer fitted on training outputs, extra metrics cached with the run, an input
spec, criteria that see the batch) and no import cycles inside the package."""
import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hashlib_core import methods, runner
from hashlib_core.data.transforms import InputSpec
from hashlib_core.methods import METHODS, Method, get_method, register_method
from hashlib_core.quantizers import MeanThresholdQuantizer, SignQuantizer

PACKAGE = Path(methods.__file__).resolve().parents[1]

README_METHODS = ["dshfmdf", "dshc", "dshc-multilabel", "lsh", "pcah", "itq", "sh", "sdh", "ksh", "dpsh", "hashnet",
                  "dhn", "dch", "csq", "dsdh"]


def test_a_fresh_process_lists_every_method():
    out = subprocess.run([sys.executable, "-c", "import hashlib_core.methods as m; print(sorted(m.METHODS))"],
                         capture_output=True, text=True, check=True).stdout
    listed = ast.literal_eval(out.strip())
    assert set(README_METHODS) <= set(listed)
    assert {"vae", "cvae", "csvae", "vte", "dpn"} <= set(listed)


def test_duplicate_method_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_method(dataclasses.replace(METHODS["itq"]))
    with pytest.raises(ValueError, match="unknown method"):
        get_method("nosuch")
    with pytest.raises(ValueError, match="needs build_criterion"):
        Method(name="x", family="deep", build_model=lambda c, s: None)


def _imports(path: Path) -> set:
    """hashlib_core modules a file imports, at any depth (function-level imports too)."""
    tree = ast.parse(path.read_text())
    pkg = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        pkg = pkg.rsplit(".", 1)[0] + "._"  # relative imports of a package resolve inside it
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level)[0]
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names = [f"{mod}.{a.name}" for a in node.names]
            out.update([mod] + names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("hashlib_core")}


def _module_graph() -> dict:
    files = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in PACKAGE.rglob("*.py")}
    graph = {}
    for mod, path in files.items():
        deps = set()
        for imp in _imports(path):
            while imp and imp not in files:  # "pkg.mod.name" -> "pkg.mod"
                imp = imp.rsplit(".", 1)[0] if "." in imp else ""
            if imp and imp != mod:
                deps.add(imp)
        graph[mod] = deps
    return graph


def test_no_module_imports_one_that_imports_it_back():
    """No cycle in the import graph of hashlib_core's modules (package __init__ files that only
    gather their own submodules are part of the graph, function-level imports too)."""
    graph = _module_graph()
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    # a package importing its own submodules is not a cycle; a submodule importing its package is
    real = [c for c in cycles if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert not real, "import cycles: " + "; ".join(" -> ".join(c) for c in real)


def test_profile_width_reaches_only_methods_that_declare_it():
    cpu = {m: runner.make_config("cpu", m, "cifar10-selfsup" if METHODS[m].paper == "003" else "cifar10-dshfmdf", 32, 0)
           for m in ("dshfmdf", "dpsh", "itq", "cvae")}
    assert cpu["dshfmdf"].model["width"] == 0.125 and cpu["dpsh"].model["width"] == 0.125
    assert "width" not in cpu["itq"].model and "width" not in cpu["cvae"].model
    # the profile's schedule reaches the VAEs, with the cpu profile's own epochs for paper 003's models
    # (method_overrides, docs/decisions.md "Paper 003's notebooks")
    other = lambda t: {k: v for k, v in t.items() if k != "epochs"}  # noqa: E731
    assert other(cpu["cvae"].train) == other(cpu["dshfmdf"].train) and cpu["itq"].train == {}
    assert cpu["cvae"].train["epochs"] == 5 and cpu["dshfmdf"].train["epochs"] == 20
    with pytest.raises(ValueError, match="does not apply"):
        runner.make_config("cpu", "cvae", "cifar10-selfsup", 32, 0, recipe="lite0")


def test_sign_and_mean_threshold_quantizers_on_synthetic_outputs():
    """fit/encode without CIFAR-10: sign ignores the training outputs; the mean threshold learns
    one threshold per bit from them (strict >, ties to -1)."""
    rng = np.random.default_rng(0)
    train = rng.normal(loc=[5.0, -2.0, 0.0], scale=1.0, size=(1000, 3))
    test = np.array([[5.5, -2.5, 0.1], [4.0, 0.0, -0.1]])
    assert not SignQuantizer.needs_fit and MeanThresholdQuantizer.needs_fit
    assert np.array_equal(SignQuantizer().fit(train).encode(test), [[1, -1, 1], [1, 1, -1]])
    q = MeanThresholdQuantizer().fit(train)
    np.testing.assert_allclose(q.threshold_, train.mean(axis=0))
    want = np.where(test > train.mean(axis=0), 1, -1)
    assert np.array_equal(q.encode(test), want)
    assert np.array_equal(q.encode(q.threshold_[None, :]), [[-1, -1, -1]])  # a tie is -1


def test_input_spec_gray_minmax():
    imgs = np.zeros((2, 8, 8, 3), np.uint8)
    imgs[0, :4] = 200
    imgs[1] = 7  # a flat image
    x = InputSpec(channels=1, norm="minmax").prepare(imgs, 16)
    assert x.shape == (2, 1, 16, 16) and float(x[0].max()) == pytest.approx(1.0) and float(x[0].min()) == 0.0
    rgb = InputSpec().prepare(imgs, 8)
    assert rgb.shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="channels must be 1"):
        InputSpec(channels=3, norm="minmax")
    with pytest.raises(ValueError, match="norm"):
        InputSpec(norm="bogus")


def test_selfsup_run_uses_every_hook(isolated_cache, monkeypatch):
    """A tiny CVAE run: the criterion reconstructs the batch's own inputs (1-channel, min-max), the
    quantizer is fitted on the training outputs before encoding, and the extra metrics come back
    from the cache unchanged."""
    seen = {}
    spec = METHODS["cvae"]
    build_criterion, build_quantizer = spec.build_criterion, spec.build_quantizer

    def criterion_spy(config, split):
        crit = build_criterion(config, split)

        def call(output, batch):
            seen["inputs"] = batch.inputs
            return crit(output, batch)
        return call

    def quantizer_spy(config, split):
        q = build_quantizer(config, split)
        fit = q.fit

        def fit_spy(train_outputs):
            seen["fit_rows"] = len(train_outputs)
            return fit(train_outputs)
        q.fit = fit_spy
        return q

    monkeypatch.setitem(METHODS, "cvae", dataclasses.replace(spec, build_criterion=criterion_spy,
                                                              build_quantizer=quantizer_spy))
    config = dataclasses.replace(runner.make_config("smoke", "cvae", "cifar10-selfsup", 16, 0), num_threads=1)
    first = runner.run(config, progress=False, verbose=False)
    assert seen["inputs"].shape[1] == 1 and float(seen["inputs"].min()) >= 0.0 and float(seen["inputs"].max()) <= 1.0
    assert seen["fit_rows"] == len(first.split().train)
    assert {"main.precision", "main.recall", "main.f1", "main.map", "first_hit_self.precision",
            "collision.items_sharing", "collision.distinct_codes"} <= set(first.metrics)
    again = runner.run(config, progress=False, verbose=False)
    assert again.cached and again.metrics == first.metrics
    assert np.array_equal(again.db_codes, first.db_codes)
