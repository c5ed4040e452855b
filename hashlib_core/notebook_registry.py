"""The one list of notebooks (``params/notebooks.yaml``): what each regenerates, for which paper, and
which functions compute it. Read by the batch (:mod:`hashlib_core.reproduce`), the gallery
(:mod:`hashlib_core.gallery`) and the README check."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hashlib_core.paths import repo_root

__all__ = ["REGISTRY", "registry", "artefact_row"]

REGISTRY = "params/notebooks.yaml"


def registry() -> list[dict[str, Any]]:
    """The registered notebooks, in the order they run."""
    entries = yaml.safe_load((repo_root() / REGISTRY).read_text())["notebooks"]
    return [dict(e) for e in entries]


def artefact_row(entry: dict[str, Any]) -> str:
    """The first four cells of the README's artefact table for a registry entry: artefact,
    notebook, params folder, the functions that compute it."""
    stem = Path(entry["notebook"]).stem
    funcs = ", ".join(f"`{name}`" for name in entry.get("computed_by", []))
    return f"| {entry['artefact']} | `{entry['notebook']}` | `params/{stem}/` | {funcs} |"
