"""The one runner: deterministic, cached by config hash, atomic and verified cache entries."""
import dataclasses
import json

import numpy as np
import pytest

from damage import flip_middle_byte
from hashlib_core import runner
from hashlib_core.runner import load_cached, make_config, run, run_dir, run_many


def _config(**overrides):
    cfg = make_config("smoke", "dshfmdf", "cifar10-dshfmdf", 12, 0)
    return dataclasses.replace(cfg, **overrides) if overrides else cfg


def test_key_depends_on_every_field():
    base = _config()
    assert base.key() == _config().key()
    variants = [_config(seed=1), _config(bits=24), _config(protocol="cifar10-mosaic"),
                _config(model={**base.model, "variant": "fc1"}), _config(loss={**base.loss, "beta": 0.0}),
                _config(train={**base.train, "epochs": 2}), _config(input_size=64)]
    assert len({v.key() for v in variants} | {base.key()}) == len(variants) + 1


def test_same_config_same_codes(isolated_cache):
    a = run(_config(), progress=False, use_cache=False, verbose=False)
    b = run(_config(), progress=False, use_cache=False, verbose=False)
    assert np.array_equal(a.query_codes, b.query_codes) and np.array_equal(a.db_codes, b.db_codes)
    assert a.metrics["map"] == b.metrics["map"]
    assert set(np.unique(a.db_codes)) <= {-1, 1} and a.db_codes.shape == (400, 12)
    c = run(_config(seed=1), progress=False, use_cache=False, verbose=False)
    assert not np.array_equal(a.db_codes, c.db_codes)


def test_cache_hit_then_corruption_is_recomputed(isolated_cache):
    cfg = _config()
    first = run(cfg, progress=False, verbose=False)
    assert not first.cached
    second = run(cfg, progress=False, verbose=False)
    assert second.cached and np.array_equal(first.db_codes, second.db_codes)
    assert second.metrics == first.metrics  # JSON round trip of floats is exact
    # flip bytes of the stored codes: verification must fail and the run be recomputed
    flip_middle_byte(run_dir(cfg.key()) / "codes.npz")
    assert load_cached(cfg) is None
    third = run(cfg, progress=False, verbose=False)
    assert not third.cached and np.array_equal(third.db_codes, first.db_codes)
    # a meta file for another key is not trusted either
    meta = json.loads((run_dir(cfg.key()) / "meta.json").read_text())
    meta["key"] = "0" * 64
    (run_dir(cfg.key()) / "meta.json").write_text(json.dumps(meta))
    assert load_cached(cfg) is None


def test_a_run_records_the_cpu_kernel_set_and_processor_it_was_computed_on(isolated_cache):
    """Same seed, same codes on one kind of CPU; across CPU kernel sets (AVX2 / AVX-512), and across
    processor models with the same kernel set, floats can differ in the last bits, so the cache
    entry keeps where it was computed (docs/decisions.md)."""
    import torch

    from hashlib_core.reporting import cpu_model

    cfg = _config()
    first = run(cfg, progress=False, verbose=False)
    assert first.computed_on == f"{torch.backends.cpu.get_cpu_capability()}, {cpu_model()}"
    assert cpu_model() not in ("", "unknown")
    assert json.loads((run_dir(cfg.key()) / "meta.json").read_text())["computed_on"] == first.computed_on
    assert run(cfg, progress=False, verbose=False).computed_on == first.computed_on  # read back from the entry
    # an entry written before the field existed reads as "unknown", not as this machine
    meta_path = run_dir(cfg.key()) / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["computed_on"]
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
    from hashlib_core.integrity import write_checksums

    write_checksums(run_dir(cfg.key()), runner.ENTRY_FILES)
    assert load_cached(cfg).computed_on == "unknown"


def test_sweep_resumes_and_leaves_no_partial_entries(isolated_cache):
    cfgs = [_config(), _config(bits=24)]
    run(cfgs[0], progress=False, verbose=False)
    results = run_many(cfgs, progress=False, verbose=False)
    assert [r.cached for r in results] == [True, False]
    leftovers = [p for p in (isolated_cache / "runs").iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []


def test_unknown_method_fails_before_work(isolated_cache):
    with pytest.raises(ValueError, match="unknown method"):
        run(_config(method="nope"), progress=False)
    with pytest.raises(ValueError, match="unknown method"):
        make_config("smoke", "nope", "cifar10-dshfmdf", 12, 0)
