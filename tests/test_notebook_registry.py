"""params/notebooks.yaml is the one list of notebooks: each names its paper, its artefacts and the
functions that compute them; every name imports, and the README's artefact table says the same."""
import importlib
from pathlib import Path

import pytest

from hashlib_core.paths import repo_root
from hashlib_core.reproduce import artefact_row, registry

ENTRIES = registry()


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: Path(e["notebook"]).stem)
def test_entry_is_complete_and_its_functions_exist(entry):
    assert (repo_root() / entry["notebook"]).is_file()
    assert entry["paper"] in ("", "000", "001", "002", "003", "004")
    assert entry["artefact"] and entry["artefacts"] and entry["computed_by"]
    for name in entry["computed_by"]:
        assert _resolve(name) is not None, name


def test_readme_artefact_table_agrees_with_the_registry():
    readme = (repo_root() / "README.md").read_text()
    for entry in ENTRIES:
        assert artefact_row(entry) in readme, f"README lacks the row for {entry['notebook']}: {artefact_row(entry)}"
    listed = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| ") and "`notebooks/" in line}
    assert listed == {e["notebook"] for e in ENTRIES}
    assert sorted(p.relative_to(repo_root()).as_posix() for p in (repo_root() / "notebooks").glob("*.ipynb")) == \
        sorted(e["notebook"] for e in ENTRIES)
