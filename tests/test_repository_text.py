"""Tracked text files carry no leftover merge-conflict markers (one once sat in benches/README.md
for several stops, splitting two bench sections)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: git's markers: 7 of <, = or > at the start of a line (= alone on its line)
CONFLICT = re.compile(r"^(?:<{7} |>{7} |={7}$)", re.MULTILINE)
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".cfg", ".txt", ".json", ".ipynb", ".sh", ""}


def conflict_lines(text: str) -> list[int]:
    """1-based line numbers of conflict markers in ``text``."""
    return [text.count("\n", 0, m.start()) + 1 for m in CONFLICT.finditer(text)]


def test_the_marker_pattern_finds_a_conflict_and_spares_markdown_rules():
    text = "a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n"
    assert conflict_lines(text) == [2, 4, 6]
    assert conflict_lines("Title\n=====\n\n| a |\n|===|\n========\n") == []  # setext rules, 8 '='


def test_no_tracked_file_has_conflict_markers():
    try:
        files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    found = []
    for name in files:
        path = REPO / name
        if path.suffix not in TEXT_SUFFIXES or not path.is_file() or name.startswith("figures/"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{name}:{line}" for line in conflict_lines(text)]
    assert not found, f"merge-conflict markers left in: {found}"
