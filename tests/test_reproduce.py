"""The batch runner checks every parameter file before any notebook runs."""
import nbformat
import pytest

from hashlib_core import reproduce


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_every_registered_notebook_has_valid_parameters(profile):
    plan = reproduce.resolve(profile)
    assert len(plan) == len(reproduce.registry())
    for notebook, params in plan:
        assert params["profile"] == profile


def _notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('import os\nprofile = "cpu"\nbits = [12, 48]\nbeta = 0.01\nseed = 0')
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_unknown_and_mistyped_parameters_are_one_error(tmp_path):
    path = _notebook(tmp_path)
    reproduce.validate_parameters(path, {"bits": [24], "beta": 1, "seed": 3})  # int is fine for a float
    with pytest.raises(ValueError) as err:
        reproduce.validate_parameters(path, {"bitz": [24], "seed": "3", "beta": "x"})
    msg = str(err.value)
    assert "unknown parameter 'bitz'" in msg and "'seed' must be int" in msg and "'beta' must be float" in msg


def test_unknown_profile_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown profile"):
        reproduce.validate_parameters(_notebook(tmp_path), {"profile": "fast"})


def test_main_fails_fast_with_exit_code_2(capsys):
    assert reproduce.main(["--profile", "nope", "--check"]) == 2
    assert "unknown profile" in capsys.readouterr().err
    assert reproduce.main(["--profile", "smoke", "--only", "99_missing", "--check"]) == 2
    assert reproduce.main(["--profile", "smoke", "--check"]) == 0


def test_papermill_sees_every_parameter_of_every_notebook(caplog):
    """papermill's own inspection (``papermill --help-notebook``, JupyterLab's parameter tools)
    skips a parameter line holding more than one '=' (e.g. in its comment); every parameter our
    validation knows must be visible to it too."""
    import logging

    import nbformat
    from papermill.translators import PythonTranslator

    for entry in reproduce.registry():
        path = reproduce.repo_root() / entry["notebook"]
        nb = nbformat.read(path, as_version=4)
        (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        with caplog.at_level(logging.WARNING, logger="papermill"):
            caplog.clear()
            seen = {p.name for p in PythonTranslator.inspect(cell)}
        assert not [r.message for r in caplog.records if "Unable to parse" in r.message], path
        assert seen == set(reproduce.notebook_defaults(path)), path


def test_allocator_settings_reach_the_kernels_but_a_users_value_wins():
    environ = {"MALLOC_TRIM_THRESHOLD_": "0", "PATH": "/bin"}
    reproduce.use_allocator_settings(environ)
    assert environ["MALLOC_TRIM_THRESHOLD_"] == "0"  # set by the user: kept
    assert environ["MALLOC_MMAP_THRESHOLD_"] == reproduce.ALLOCATOR_ENV["MALLOC_MMAP_THRESHOLD_"]
    assert set(reproduce.ALLOCATOR_ENV) <= set(environ)


def test_makefile_exports_the_same_allocator_settings_as_reproduce():
    """`make lab` / `make test` kernels and `python -m hashlib_core.reproduce` kernels run with the
    same glibc settings: the Makefile's exported values are ALLOCATOR_ENV's."""
    import re

    makefile = (reproduce.repo_root() / "Makefile").read_text()
    exported = dict(re.findall(r"^export (MALLOC_\w+) \?= (\S+)$", makefile, re.M))
    assert exported == reproduce.ALLOCATOR_ENV


def test_scratch_bits_are_checked_as_code_lengths():
    """`scratch_bits` (notebooks 04 and 30: the from-scratch rows' lengths) has a None default, so
    its element type comes from the rule table: a length that is not an integer is refused before any run."""
    nb30 = reproduce.repo_root() / "notebooks" / "30_mdffsh_table2_table3.ipynb"
    reproduce.validate_parameters(nb30, {"scratch_bits": [12, 48]})
    reproduce.validate_parameters(nb30, {"scratch_bits": None})  # None: all of `bits`
    with pytest.raises(ValueError, match="scratch_bits"):
        reproduce.validate_parameters(nb30, {"scratch_bits": ["12"]})
