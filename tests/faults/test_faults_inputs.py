"""Bad parameters and bad data files: one clear error before any work (findings 7 and 8)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from hashlib_core import reproduce

# notebook stem, parameter file text, what the error must name (besides the file)
BAD_PARAMS = {
    "bits float": ("01_dshfmdf_table2", "bits: [12.7]\n", ["'bits'", "12.7", "integer"]),
    "bits word": ("01_dshfmdf_table2", "bits: [12, \"forty\", 2.5]\n",
                  ["'bits'", "element 1 is str 'forty'", "element 2 is float 2.5", "integers"]),
    "bits zero": ("01_dshfmdf_table2", "bits: [0, 12]\n", ["'bits'", ">= 1"]),
    "scalar bits float": ("06_dshfmdf_fig4_retrievals", "bits: 48.5\n", ["'bits'", "int"]),
    "seeds empty": ("01_dshfmdf_table2", "seeds: []\n", ["'seeds'", "empty"]),
    "seeds negative": ("01_dshfmdf_table2", "seeds: [-1]\n", ["'seeds'", ">= 0"]),
    "dshc bits": ("11_dshc_table3_code_lengths", "bits: [10, 15]\n", ["'bits'", "[15]", "multiple", "10, 20, 30"]),
    "dshc scalar bits": ("12_dshc_table4_cpbc_vs_kbc", "bits: 12\n", ["'bits'", "multiple"]),
    "unknown backbone": ("03_dshfmdf_table3_backbones", "backbones: [vgg99_bn]\n",
                         ["'backbones'", "'vgg99_bn'", "vgg19_bn"]),
    "unknown protocol": ("01_dshfmdf_table2", "protocols: [cifar11]\n", ["'protocols'", "cifar10-dshfmdf"]),
    "unknown method": ("10_dshc_table1_table2", "compare_methods: [dpshh]\n", ["'compare_methods'", "dpsh"]),
    "unknown recipe": ("01_dshfmdf_table2", "pretrained_recipe: lite9\n", ["'pretrained_recipe'", "lite0"]),
    "unknown features": ("20_baselines_table2", "features: [gist]\n", ["'features'", "hog-color"]),
    "unknown shallow": ("21_cross_paper_48bits", "shallow_methods: [itqq]\n", ["'shallow_methods'", "itq"]),
    "unknown name": ("01_dshfmdf_table2", "bitz: [12]\n", ["'bitz'", "bits"]),
    "malformed yaml": ("01_dshfmdf_table2", "seeds: [0]\nbits: [12, 24\nprotocols: [a]\n",
                       [":2:", "malformed YAML", "line 3"]),
    "yaml list": ("01_dshfmdf_table2", "- 12\n- 24\n", ["mapping", "list"]),
}


@pytest.mark.parametrize("case", sorted(BAD_PARAMS))
def test_bad_parameter_is_one_error_naming_file_parameter_and_allowed(faults, tmp_path, monkeypatch, case):
    stem, text, needles = BAD_PARAMS[case]
    pfile = tmp_path / stem / "smoke.yaml"
    pfile.parent.mkdir()
    pfile.write_text(text)
    real = reproduce.params_path
    monkeypatch.setattr(reproduce, "params_path", lambda s, p: pfile if s == stem else real(s, p))
    ran = []
    monkeypatch.setattr(reproduce, "execute", lambda *a: ran.append(a))
    faults.inject(f"parameter file: {case}")
    with pytest.raises(ValueError) as err:
        reproduce.resolve("smoke", [stem])
    msg = str(err.value)
    assert str(pfile) in msg and all(n in msg for n in needles), msg
    assert reproduce.cli(["--profile", "smoke", "--only", "00_data_and_metrics", stem]) == 2
    assert ran == []  # refused before any notebook ran
    faults.detected()


def test_only_without_names_is_an_error(faults, capsys):
    faults.inject("--only without names")
    with pytest.raises(SystemExit) as exit_:
        reproduce.cli(["--profile", "smoke", "--only", "--check"])
    assert exit_.value.code == 2 and "--only" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--only needs at least one notebook"):
        reproduce.resolve("smoke", [])
    faults.detected()


# ---------------------------------------------------------------------------------------------
# data files
# ---------------------------------------------------------------------------------------------


def _real_npz():
    path = os.path.join(os.environ.get("HASHLIB_DATA", ""), "cifar10.npz")
    if not os.path.isfile(path):
        pytest.skip("real CIFAR-10 not found: set HASHLIB_DATA to a folder holding cifar10.npz")
    return path


@pytest.mark.parametrize("accepted", [False, True])
def test_truncated_cifar10_npz_is_an_error_naming_the_file_and_the_fix(faults, tmp_path, monkeypatch, accepted):
    from fault_helpers import sha256_file
    from hashlib_core.data import ensure_cifar10, load_cifar10

    with open(_real_npz(), "rb") as fh:
        (tmp_path / "cifar10.npz").write_bytes(fh.read(1 << 20))
    if accepted:  # even when its checksum is accepted, the reader's error names the file
        monkeypatch.setenv("HASHLIB_CIFAR10_SHA256", sha256_file(tmp_path / "cifar10.npz"))
    faults.inject(f"truncated cifar10.npz (sha256 accepted: {accepted})")
    for call in (lambda: load_cifar10(tmp_path), lambda: ensure_cifar10(tmp_path)):
        with pytest.raises(ValueError) as err:  # CorruptDatasetError, not zipfile.BadZipFile
            call()
        assert str(tmp_path / "cifar10.npz") in str(err.value) and "Fix:" in str(err.value)
    faults.detected()


def test_published_cifar10_npz_is_verified(tmp_path):
    from fault_helpers import sha256_file
    from hashlib_core.data import ensure_cifar10
    from hashlib_core.data.cifar import NPZ_SHA256

    path = _real_npz()
    assert sha256_file(path) == NPZ_SHA256
    assert ensure_cifar10(os.path.dirname(path)).startswith("CIFAR-10 found and verified")


def _lists(root, database, test="img/q.png 1 0 0\n"):
    from PIL import Image

    folder = root / "nuswide_21"
    (folder / "img").mkdir(parents=True)
    for name in ("a", "b", "c", "q"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "img" / f"{name}.png")
    (folder / "database.txt").write_text(database)
    (folder / "test.txt").write_text(test)
    return folder


BAD_LISTS = {
    "label 2": ("img/a.png 0 2 0\nimg/b.png 0 1 0\n", [":1:", "label column 2 is '2'"]),
    "no labels on line 1": ("img/a.png\nimg/b.png 0 1 0\n", [":1:"]),
    "fewer columns on line 3": ("img/a.png 0 1 0\nimg/b.png 0 1 0\nimg/c.png 0 1\n", [":3:", "line 1 has 3"]),
    "missing image": ("img/a.png 0 1 0\n\nimg/zz.png 1 0 0\n", ["database.txt:3", "zz.png does not exist"]),
}


@pytest.mark.parametrize("case", sorted(BAD_LISTS))
def test_bad_list_file_is_refused_up_front_with_the_right_line(faults, tmp_path, case):
    from hashlib_core.data import get_protocol

    text, needles = BAD_LISTS[case]
    _lists(tmp_path, text)
    faults.inject(f"list file: {case}")
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        get_protocol("nuswide21", root=tmp_path, cache_dir=tmp_path / "splits")
    msg = str(err.value)
    assert "database.txt" in msg and all(n in msg for n in needles), msg
    assert not (tmp_path / "splits").exists()  # refused before any split was made
    faults.detected()


def test_make_data_reports_a_truncated_npz_in_one_line(faults, tmp_path):
    """`make data` (python -m hashlib_core.data.check) on a truncated cifar10.npz: exit 2 and one
    line naming the file and the fix, no traceback."""
    import subprocess
    import sys

    from cifar_root import real_cifar_root

    root = real_cifar_root()
    if root is None:
        pytest.skip("real CIFAR-10 not found")
    bad = tmp_path / "data"
    bad.mkdir()
    (bad / "cifar10.npz").write_bytes((root / "cifar10.npz").read_bytes()[:100_000])
    faults.inject("truncated cifar10.npz under make data")
    out = subprocess.run([sys.executable, "-m", "hashlib_core.data.check"], capture_output=True, text=True,
                         env={**__import__("os").environ, "HASHLIB_DATA": str(bad)})
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "Traceback" not in out.stderr
    assert str(bad / "cifar10.npz") in lines[0] and "Fix:" in lines[0]
    faults.detected()
