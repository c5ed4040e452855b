"""The transcribed paper numbers agree with the paper text they came from."""
import re
from pathlib import Path

import pytest

from hashlib_core.reported import reported

PAPERS = Path(__file__).resolve().parents[1].parent / "shared" / "papers"
P000 = PAPERS / "000_2663ea36adbc16fb.txt"


def _row(text: str, name: str) -> list[str]:
    """Numbers of the first tab-separated table row starting with ``name`` (or '-' for a gap)."""
    for line in text.splitlines():
        cells = line.split("\t")
        if cells and re.sub(r"<[^>]+>|\s*\[\d+\]", "", cells[0]).strip() == name:
            return [c.strip() for c in cells[1:] if c.strip()]
    raise AssertionError(f"row {name!r} not found")


@pytest.mark.skipif(not P000.is_file(), reason="the paper's plain text is not on this machine (developers' copy only)")
@pytest.mark.parametrize("name,method", [("Ours", "DSHFMDF"), ("SH", "SH"), ("DFEH", "DFEH"), ("DMUH", "DMUH")])
def test_table2_rows_match_paper_text(name, method):
    cells = _row(P000.read_text(), name)
    rep = reported("000", "table2", method=method)
    expected = []
    for ds in ("cifar10", "nuswide21"):
        for b in (12, 24, 32, 48):
            hit = rep[(rep.dataset == ds) & (rep.bits == b)]
            expected.append(f"{hit.value.iloc[0]:g}" if len(hit) else "-")
    assert [f"{float(c):g}" if c != "-" else "-" for c in cells[:8]] == expected


@pytest.mark.skipif(not P000.is_file(), reason="the paper's plain text is not on this machine (developers' copy only)")
@pytest.mark.parametrize("table,row,variant", [("table3", "VGG13", "vgg13_bn"), ("table4", "conv3–5", "conv3-5"),
                                                ("table5", "DSHFMDJ-J3", "J1+J3 (beta=0)")])
def test_ablation_rows_match_paper_text(table, row, variant):
    cells = _row(P000.read_text(), row)[:4]
    rep = reported("000", table, variant=variant).sort_values("bits")
    assert [float(c) for c in cells] == pytest.approx(rep.value.tolist())


def test_filters_and_unknown_column():
    assert len(reported("000", "table2", method="DSHFMDF")) == 8
    with pytest.raises(ValueError, match="unknown column"):
        reported("000", colour="red")
