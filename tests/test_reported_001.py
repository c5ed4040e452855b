"""Paper 001 (MDFF-SH): every transcribed cell of Tables 2-5 agrees with the paper's table text.

The text is ``tests/fixtures/paper001_tables.txt`` (the tables and the sentences that quote their
numbers, copied verbatim from the paper); this test parses it on its own and compares cell by
cell in both directions: every number of the tables is in ``reported.csv`` under the right key,
and ``reported.csv`` holds no paper-001 row that is not in the tables.
"""
import re
from pathlib import Path

import pytest

from hashlib_core.reported import reported

FIXTURE = Path(__file__).with_name("fixtures") / "paper001_tables.txt"
NUMBER = re.compile(r"0\.\d{3}")


def _sections():
    lines = [l for l in FIXTURE.read_text(encoding="utf-8").splitlines() if not l.startswith("# ")]
    i, j = lines.index("## TABLES"), lines.index("## TEXT")
    return lines[i + 1:j], " ".join(lines[j + 1:])


def _cells(line: str) -> list:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _method(cell: str) -> str:
    return re.sub(r"\s*\[\d+\]$", "", cell)


def _rows_after(table: list, header_start: str, n_numbers: int) -> list:
    """(label, [numbers]) of the rows after the first line starting with ``header_start``, up to the
    first row that is not a label followed by ``n_numbers`` numbers."""
    start = next(k for k, l in enumerate(table) if l.startswith(header_start))
    out = []
    for line in table[start + 1:]:
        c = [x for x in _cells(line) if x]
        if len(c) != n_numbers + 1 or not all(NUMBER.fullmatch(x) for x in c[1:]):
            break
        out.append((c[0], c[1:]))
    return out


def _paper_cells() -> dict:
    """{(artefact, method, variant, dataset, bits): value string} parsed from the table text."""
    table, _ = _sections()
    cells = {}
    t2 = _rows_after(table, "| Method | 12 bits | 24 bits | 32 bits | 48 bits | 12 bits", 8)
    keys2 = [(ds, b) for ds in ("cifar10", "nuswide21") for b in (12, 24, 32, 48)]
    for label, nums in t2:
        for (ds, b), v in zip(keys2, nums):
            cells[("table2", _method(label), "", ds, b)] = v
    for label, nums in _rows_after(table, "| Method | 16 bits | 32 bits | 48 bits | 64 bits |", 4):
        for b, v in zip((16, 32, 48, 64), nums):
            cells[("table3", _method(label), "", "mscoco", b)] = v
    # Tables 4 and 5: after each "12 Bits | 24 Bits ..." header line, three rows of four numbers.
    # Table 4's row labels are lost in this copy: the first row has no label, the second only "–5".
    heads = [k for k, l in enumerate(table) if l.startswith("| 12 Bits | 24 Bits | 32 Bits | 48 Bits")]
    assert len(heads) == 2
    t4 = [[x for x in _cells(l) if x] for l in table[heads[0] + 1:heads[0] + 4]]
    assert [r[:-4] for r in t4] == [[], ["–5"], ["MDFF-SH"]]
    for variant, r in zip(("fc1", "conv3-5", "fused"), t4):
        for b, v in zip((12, 24, 32, 48), r[-4:]):
            cells[("table4", "MDFF-SH", variant, "cifar10", b)] = v
    t5 = [[x for x in _cells(l) if x] for l in table[heads[1] + 1:heads[1] + 4]]
    names5 = {"MDFF-SH-J2": "J1+J2 (gamma=0)", "MDFF-SH-J3": "J1+J3 (beta=0)", "MDFF-SH": "J1+J2+J3"}
    assert [r[0] for r in t5] == list(names5)
    for r in t5:
        for b, v in zip((12, 24, 32, 48), r[1:]):
            cells[("table5", "MDFF-SH", names5[r[0]], "cifar10", b)] = v
    return cells


def _transcribed() -> dict:
    rep = reported("001")
    assert set(rep.metric) == {"map"}
    keys = list(zip(rep.artefact, rep.method, rep.variant, rep.dataset, rep.bits.astype(int)))
    assert len(set(keys)) == len(keys), "duplicate paper-001 rows in reported.csv"
    return dict(zip(keys, rep.value.astype(float)))


def test_every_cell_of_tables_2_to_5_is_transcribed_and_nothing_else():
    paper, ours = _paper_cells(), _transcribed()
    assert len(paper) == 12 * 8 + 10 * 4 + 12 + 12  # Table 2 (12 rows), 3 (10 rows), 4, 5
    assert sorted(ours) == sorted(paper)
    wrong = {k: (ours[k], v) for k, v in paper.items() if ours[k] != float(v)}
    assert not wrong


@pytest.mark.parametrize("artefact,methods", [
    ("table2", ["SH", "ITQ", "KSH", "SDH", "CNNH", "DNNH", "DHN", "HashNet", "DPH", "LRH", "MFLH", "MDFF-SH"]),
    ("table3", ["SGH", "SH", "PCAH", "LSH", "ITQ", "DHN", "HashNet", "DCH", "DHDW", "MDFF-SH"]),
])
def test_method_rows_in_table_order(artefact, methods):
    assert list(dict.fromkeys(reported("001", artefact).method)) == methods


def test_table4_row_labels_from_the_texts_averages():
    """Table 4 lost its row labels; §3.5 (1) gives each row's average (fc1 75.8 %, Conv 3-5 62.5 %,
    MDFF-SH 85.5 %), which fixes which row is which."""
    _, text = _sections()
    fc1 = float(re.search(r"fc1 layer yielded the highest mAP of ([\d.]+)%", text).group(1))
    conv = float(re.search(r"Conv 3-5 resulted in an average mAP of ([\d.]+)%", text).group(1))
    fused = float(re.search(r"achieving an average mAP of ([\d.]+)%", text).group(1))
    rep = reported("001", "table4")
    mean = rep.groupby("variant").value.mean() * 100
    assert mean["fc1"] == pytest.approx(fc1, abs=0.05)
    assert mean["conv3-5"] == pytest.approx(conv, abs=0.05)
    assert mean["fused"] == pytest.approx(fused, abs=0.05)


def test_table5_names_read_from_the_text():
    """"MDFF-SH-J3" is the model without the quantization loss J2 (β = 0), "MDFF-SH-J2" the one
    without the classification loss J3 (γ = 0), as §3.5 (2) says (and as paper 000 names them)."""
    _, text = _sections()
    no_j2 = re.search(r"Quantization Loss \(, (MDFF-SH-J\d)\)", text).group(1)
    no_j3 = re.search(r"Classification Loss \(, (MDFF-SH-J\d)\)", text).group(1)
    assert (no_j2, no_j3) == ("MDFF-SH-J3", "MDFF-SH-J2")
    rep = reported("001", "table5")
    assert set(rep.variant) == {"J1+J3 (beta=0)", "J1+J2 (gamma=0)", "J1+J2+J3"}


def test_full_model_row_is_the_same_in_tables_2_4_5():
    full = lambda art, **f: reported("001", art, method="MDFF-SH", dataset="cifar10", **f).sort_values("bits").value.tolist()
    assert full("table2") == full("table4", variant="fused") == full("table5", variant="J1+J2+J3")


def test_abstract_gains_follow_from_the_tables():
    """Abstract: gains of 9.5 %, 5 % and 11.5 % on CIFAR-10, NUS-WIDE, MS-COCO = MDFF-SH's mean MAP
    over the bit lengths minus the best other method's (MFLH, MFLH, DHDW)."""
    _, text = _sections()
    stated = [float(x) for x in re.search(r"gains of ([\d.]+)%, ([\d.]+)% and ([\d.]+)%", text).groups()]
    gains, best = [], []
    for art, ds in (("table2", "cifar10"), ("table2", "nuswide21"), ("table3", "mscoco")):
        means = reported("001", art, dataset=ds).groupby("method").value.mean()
        others = means.drop("MDFF-SH")
        gains.append(100 * (means["MDFF-SH"] - others.max()))
        best.append(others.idxmax())
    assert best == ["MFLH", "MFLH", "DHDW"]
    assert gains == pytest.approx(stated, abs=0.1)


def test_baseline_rows_of_table2_are_paper_000s():
    """Every baseline cell 001's Table 2 shares with paper 000's Table 2 is identical (80 cells):
    the baselines were carried over, not re-run on a ResNet-50."""
    a, b = reported("000", "table2"), reported("001", "table2")
    m = a.merge(b, on=["method", "dataset", "bits"], suffixes=("_000", "_001"))
    assert len(m) == 80 and (m.value_000 == m.value_001).all()


def test_table1_lists_vgg19_blocks_not_resnet50_stages():
    """Table 1 (the architecture) lists five blocks of plain Conv2D layers closed by max-pooling,
    2-2-4-4-4 convolutions: VGG-19's blocks, not ResNet-50's bottleneck stages (3-4-6-3 blocks of
    three convolutions), though §2.2 names ResNet-50 as the backbone."""
    table, _ = _sections()
    rows = [_cells(l) for l in table if re.match(r"\| [1-5] \| Conv2D", l)]
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"]
    assert [r[1].count("Conv2D") for r in rows] == [2, 2, 4, 4, 4]
    assert all(r[1].endswith("Conv2D#, MaxPooling") for r in rows)  # '#': the tapped last conv of a block
