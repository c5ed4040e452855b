"""Paper 004 (DSHC): the transcribed values agree with the paper text they came from."""
import re
from pathlib import Path

import pytest

from hashlib_core.reported import reported

PAPERS = Path(__file__).resolve().parents[1].parent / "shared" / "papers"
P004 = PAPERS / "004_6485a438287d2966.txt"
needs_text = pytest.mark.skipif(not P004.is_file(), reason="the paper's plain text is not on this machine (developers' copy only)")


def _rows(text: str, first: str) -> list[list[str]]:
    """Cells of every tab-separated row whose first cell (without '*') is ``first``."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) > 1 and cells[0].rstrip("*") == first:
            out.append(cells[1:])
    if not out:
        raise AssertionError(f"row {first!r} not found")
    return out


def _value(artefact, method, dataset, bits, metric="map", variant=""):
    rep = reported("004", artefact, method=method, dataset=dataset, bits=bits, metric=metric, variant=variant)
    assert len(rep) == 1, (artefact, method, dataset, bits, metric, variant)
    return float(rep.value.iloc[0])


@needs_text
@pytest.mark.parametrize("method", ["DSHC", "DSLH", "RMLH", "DTSH", "VDSH", "ITQ", "SH"])
def test_table1_rows(method):
    cells = _rows(P004.read_text(), method)[0]  # Method, Year, CIFAR MAP, bits, NUS MAP, bits
    _, c_map, c_bits, n_map, n_bits = cells[:5]
    assert _value("table1", method, "cifar10", int(c_bits)) == float(c_map)
    assert _value("table1", method, "nuswide21", int(n_bits)) == float(n_map)


@needs_text
@pytest.mark.parametrize("method", ["DSDH", "DPSH"])
def test_table1_bracketed_reruns(method):
    _, c_map, c_bits, n_map, n_bits = _rows(P004.read_text(), method)[0][:5]
    m = re.fullmatch(r"([\d.]+)\(([\d.]+)\)", c_map)
    b = re.fullmatch(r"(\d+)\((\d+)\)", c_bits)
    assert _value("table1", method, "cifar10", int(b.group(1))) == float(m.group(1))
    assert _value("table1", method, "cifar10", int(b.group(2)), variant="rerun") == float(m.group(2))
    assert _value("table1", method, "nuswide21", int(n_bits)) == float(n_map)


@needs_text
@pytest.mark.parametrize("method", ["DSHC", "DPSH", "DSDH"])
def test_table2_rows(method):
    rows = [r for r in _rows(P004.read_text(), method) if len(r) == 2]  # Table 2: MAP, runtime
    mp, rt = rows[0]
    assert _value("table2", method, "cifar10", 60) == float(mp)
    assert _value("table2", method, "cifar10", 60, "runtime_last10_s") == float(rt)


@needs_text
@pytest.mark.parametrize("bits", [10, 20, 30, 60])
def test_table3_rows(bits):
    mp, rt = _rows(P004.read_text(), str(bits))[0][:2]
    assert _value("table3", "DSHC", "cifar10", bits, variant="cpbc") == float(mp)
    assert _value("table3", "DSHC", "cifar10", bits, "runtime_last10_s", variant="cpbc") == float(rt)


@needs_text
def test_table4_rows():
    rows = {r[0]: r[1:] for r in _rows(P004.read_text(), "10") if r[0] in ("CPBC", "KBC")}
    assert _value("table4", "DSHC", "cifar10", 10, "map@5000", "cpbc") == float(rows["CPBC"][0])
    assert _value("table4", "DSHC", "cifar10", 10, "n_subclasses", "cpbc") == float(rows["CPBC"][1])
    assert _value("table4", "DSHC", "cifar10", 10, "map@5000", "kbc") == float(rows["KBC"][0])
    kept, filtered = re.fullmatch(r"(\d+)\(filter (\d+)\)", rows["KBC"][1]).groups()
    assert _value("table4", "DSHC", "cifar10", 10, "n_subclasses", "kbc") == float(kept)
    assert _value("table4", "DSHC", "cifar10", 10, "n_filtered", "kbc") == float(filtered)
    assert int(kept) + int(filtered) == 2 ** 10


@needs_text
def test_fig3_recall_at_distance_zero_from_text():
    text = " ".join(P004.read_text().split())
    m = re.search(r"recall for the code distance 0 in our model is about (\d+\.\d+) while the value of DPSH "
                  r"is about (\d+\.\d+)", text)
    assert m
    assert _value("fig3", "DSHC", "cifar10", 60, "recall@r0") == float(m.group(1))
    assert _value("fig3", "DPSH", "cifar10", 60, "recall@r0") == float(m.group(2))


def test_counts():
    assert len(reported("004", "table1")) == 20
    assert len(reported("004", "table3")) == 8
    assert set(reported("004").artefact) == {"table1", "table2", "table3", "table4", "fig3"}
