"""A cached run is reused only while its method's code is the same: each method's code
fingerprint (hashlib_core.methods.versions) must equal the one recorded beside its version; a
source change without a version bump (or a recorded reason why results are unchanged) fails."""
import json
from pathlib import Path

import pytest

from hashlib_core.methods import METHODS
from hashlib_core.methods.versions import code_fingerprint, module_closure
from hashlib_core.runner import make_config

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "method_versions.json").read_text())


@pytest.mark.parametrize("name", sorted(METHODS))
def test_code_change_needs_a_version_bump(name):
    assert name in RECORDED, f"method {name!r} has no recorded version: run scripts/record_method_versions.py"
    rec = RECORDED[name]
    version, code = METHODS[name].version, code_fingerprint(name)
    assert version >= rec["version"], f"{name}: version went down ({rec['version']} -> {version})"
    if version == rec["version"]:
        assert code == rec["code"], (
            f"the code {name!r} depends on changed without a version bump; if its results change, bump "
            f"Method.version, then run `python scripts/record_method_versions.py` (or `--unchanged REASON`)")


def test_the_version_is_part_of_the_cache_key():
    a = make_config("smoke", "itq", "cifar10-dshfmdf", 12, 0)
    assert a.version == METHODS["itq"].version
    import dataclasses

    assert dataclasses.replace(a, version=a.version + 1).key() != a.key()


def test_fingerprint_ignores_docstrings_and_sees_the_closure():
    closure = module_closure("hashlib_core.methods.dshfmdf")
    assert "hashlib_core.losses.dshfmdf" in closure and "hashlib_core.models.multiscale" in closure
    assert "hashlib_core.papers.p004_dshc" not in closure
