"""The README's numbers come from the committed figure tables, not from typing (issue 13): every
"mean ± sd" in the README is a cell of some figures/*/*.csv, the README's copy of paper 000 Table 2
is that notebook's table cell for cell, the headline sentence quotes its Lite0 row, and a
regenerated folder's row in the artefact map quotes only that folder's tables."""
import csv
import re

from hashlib_core.paths import repo_root

README = (repo_root() / "README.md").read_text()
FIGURES = repo_root() / "figures"


def _cells(paths):
    """Every cell of the CSV tables at ``paths``, as written."""
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.reader(f):
                yield from row


def _csv_cells() -> set:
    return {c.strip() for c in _cells(FIGURES.glob("*/*.csv"))}


def test_every_mean_sd_in_the_readme_is_a_figure_table_cell():
    cells = _csv_cells()
    quoted = re.findall(r"\d\.\d{3} ± \d\.\d{3}", README)
    assert quoted, "the README quotes no mean ± sd: the test would check nothing"
    assert [q for q in quoted if q not in cells] == []


def _table2_rows() -> dict:
    with open(FIGURES / "01_dshfmdf_table2" / "dshfmdf_vs_paper.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {(r["setting"], r["protocol"], int(r["bits"])): r["map"] for r in rows}


def test_readme_table2_is_the_notebooks_table():
    table = _table2_rows()
    lines = [l for l in README.splitlines() if l.startswith("| ") and "`cifar10-" in l and " bits" not in l]
    checked = 0
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 7:
            continue
        setting, protocol = cells[0], re.search(r"`([^`]+)`", cells[1]).group(1)
        for bits, cell in zip((12, 24, 32, 48), cells[2:6]):
            assert table[(setting, protocol, bits)] == cell, (setting, protocol, bits)
            checked += 1
    assert checked >= 12  # three rows of four code lengths


def test_headline_quotes_the_lite0_row():
    table = _table2_rows()
    lite0 = [table[(s, p, b)].split(" ± ")[0] for (s, p, b) in sorted(table, key=lambda k: k[2])
             if s.startswith("EfficientNet-Lite0") and p == "cifar10-dshfmdf"]
    headline = re.search(r"reaches CIFAR-10 MAP ([\d. /]+) at 12 / 24 / 32 / 48 bits", README.replace("\n", " "))
    assert headline, "the README's headline sentence moved: update this test with it"
    assert [v.strip() for v in headline.group(1).split("/")] == lite0


def test_every_committed_figure_was_computed_at_a_clean_known_commit():
    """Issue 13: every manifest in figures/, and every run it lists, names the clean commit it was
    computed at (no dirty tree, no unknown commit)."""
    import json

    bad = []
    for manifest in sorted(FIGURES.glob("*/manifest.json")):
        m = json.loads(manifest.read_text())
        commits = {m.get("commit", "unknown")} | {r.get("computed_at_commit", "unknown") for r in m.get("runs", {}).values()}
        bad += [f"{manifest.parent.name}: {c}" for c in commits if c in ("", "unknown") or c.endswith("+dirty")]
    assert bad == []


def _listed(values: list) -> str:
    """12 / 12 and 24 / 12, 24 and 48"""
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def test_readme_states_each_lengths_verdict_against_the_paper():
    """The README's "below it at ... bits" sentence is notebook 01's versus-paper claims table for
    the Lite0 row, verdict by verdict (issue 16: say honestly which lengths meet the paper)."""
    with open(FIGURES / "01_dshfmdf_table2" / "dshfmdf_vs_paper_claims.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f)
                if r["setting"].startswith("EfficientNet-Lite0") and r["protocol"] == "cifar10-dshfmdf"]
    assert len(rows) == 4
    words = {"refuted": "below it", "inconclusive": "within our seed noise", "reproduced": "above it"}
    parts = []
    for verdict in ("refuted", "inconclusive", "reproduced"):
        bits = sorted(int(r["bits"]) for r in rows if r["verdict"] == verdict)
        if bits:
            parts.append(f"{words[verdict]} at {_listed(bits)} bits")
    sentence = "; ".join(parts) + "."
    assert sentence in README.replace("\n", " "), f"the README should say: {sentence}"


def _folder_numbers(folder) -> list:
    """Every numeric cell of a figure folder's CSV tables (and the leading number of "mean ± sd" cells)."""
    return [float(token) for cell in _cells(folder.glob("*.csv"))
            for token in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", cell)]


def _quoted_in(folder_numbers: list, text: str, percent: bool) -> bool:
    """``text`` (as written in the README, e.g. "0.808" or "90.7") is some cell rounded to its decimals."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    target = float(text) / (100 if percent else 1)
    shift = 2 if percent else 0
    return any(round(v, decimals + shift) == round(target, decimals + shift) for v in folder_numbers)


def test_regenerated_rows_of_the_artefact_map_quote_their_folders_tables():
    """A regenerated folder's row in the README's artefact map ("... `figures/NN_x/` — numbers") quotes
    only numbers found in that folder's tables (a decimal rounded as written; "x %" as a fraction).
    Folders not regenerated yet are left to their regeneration (tests/test_stored_outputs.py)."""
    from tests.test_stored_outputs import NOT_REGENERATED

    checked, missing = 0, []
    for line in README.splitlines():
        m = re.search(r"`figures/(\d\d_[a-z0-9_]+)/`\s*—(.*)", line)
        if not line.startswith("|") or not m or m.group(1) in NOT_REGENERATED:
            continue
        numbers = _folder_numbers(FIGURES / m.group(1))
        # a sign is part of the number ("difference -0.022"): a negative cell does not vouch for its absolute value
        for text, pct in re.findall(r"(?<![\w.])([-−]?\d+\.\d+)(\s*%)?", m.group(2).split("|")[0]):
            text = text.replace("−", "-")
            checked += 1
            if not _quoted_in(numbers, text, bool(pct)):
                missing.append((m.group(1), text + pct))
    assert checked, "no regenerated artefact-map row quotes a number: the test would check nothing"
    assert missing == []


def test_readme_state_note_names_the_folders_not_regenerated():
    """The README's "State of the committed outputs" note lists, as "Notebooks 02, 04, ... were computed
    before ..." (or "Notebook 07 was computed before ..."), exactly the folders tests/test_stored_outputs.py still lists as not regenerated, so the
    note cannot go stale when a folder is regenerated."""
    from tests.test_stored_outputs import NOT_REGENERATED

    note = re.search(r"\*\*State of the committed outputs.*?(?=\n\n)", README, re.S)
    assert note, "the README's state note moved: update this test with it"
    text = re.sub(r"\s*\n>\s*", " ", note.group(0))
    stale = re.search(r"Notebooks? ([\d, and]+) (?:was|were) computed before", text)
    if not NOT_REGENERATED:
        assert stale is None, "every folder is regenerated: the note should say so"
        return
    assert stale, "the note does not list the folders not regenerated"
    listed = set(re.findall(r"\d\d", stale.group(1)))
    assert listed == {name[:2] for name in NOT_REGENERATED}


def test_readme_regeneration_estimate_is_the_gallerys_total():
    """The README's whole-regeneration estimate is the total of the gallery's Cost table (generated
    by hashlib_core.gallery from the manifests), not a number typed once and left to go stale."""
    gallery = (FIGURES / "README.md").read_text()
    total = re.search(r"\| \*\*total\*\* \((\d+) of \d+ notebooks\) \|[^|]*\|[^|]*\| \*\*([^*]+)\*\* \|", gallery)
    assert total, "the gallery's Cost table has no total row: update this test with it"
    quoted = re.search(r"whole cpu regeneration is far longer \(([^)]+?) estimated for (\d+) notebooks", README)
    assert quoted, "the README no longer quotes the regeneration estimate: update this test with it"
    assert (quoted.group(1), quoted.group(2)) == (total.group(2), total.group(1))


def test_readme_notebook01_estimate_is_the_gallerys_row():
    """The README's cost paragraph quotes the gallery's empty-cache estimate for notebook 01; like the
    total above, it is the Cost table's cell, not a copy typed once (it went stale once the
    manifests' rates moved)."""
    gallery = (FIGURES / "README.md").read_text()
    row = re.search(r"^\| 01_dshfmdf_table2 \|[^|]*\|[^|]*\| ([^|]+?) \|", gallery, re.M)
    assert row, "the gallery's Cost table has no row for notebook 01: update this test with it"
    quoted = re.search(r"the gallery's Cost table, which reads the trunk pass as recorded, says ([^.]+?)\.",
                       README.replace("\n", " "))
    assert quoted, "the README no longer quotes notebook 01's estimate: update this test with it"
    assert quoted.group(1) == row.group(1)
