"""The results gallery (figures/README.md): every registered notebook, links that resolve,
paper-vs-ours rows and claim verdicts read from the tables."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from hashlib_core import gallery, reproduce

REPO = Path(__file__).resolve().parent.parent
FIGURES = REPO / "figures"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _links(markdown: str) -> list[str]:
    return [m for m in LINK.findall(markdown) if "://" not in m]


def test_committed_gallery_lists_every_registered_notebook_and_links_existing_files():
    page = (FIGURES / gallery.GALLERY_NAME).read_text()
    for entry in reproduce.registry():
        stem = Path(entry["notebook"]).stem
        assert f"## {stem}\n" in page, f"{stem} missing from figures/README.md"
        assert f"(#{stem})" in page
    links = _links(page)
    assert len(links) > 30
    missing = [link for link in links if not (FIGURES / link).exists()]
    assert missing == [], missing
    # every PNG in a registered folder is shown
    for entry in reproduce.registry():
        stem = Path(entry["notebook"]).stem
        for png in (FIGURES / stem).glob("*.png"):
            assert f"]({stem}/{png.name})" in page


def test_committed_gallery_is_up_to_date():
    """figures/README.md is what gallery.build makes of the committed folders (rebuild it with
    ``python -m hashlib_core.gallery`` after changing figures/)."""
    assert (FIGURES / gallery.GALLERY_NAME).read_text() == gallery.build(FIGURES)


def test_committed_gallery_has_paper_values_and_verdicts():
    page = (FIGURES / gallery.GALLERY_NAME).read_text()
    # paper 000 Table 2, Lite0 row at 48 bits: ours 0.819 ± 0.007 against the paper's 0.845
    table = pd.read_csv(FIGURES / "01_dshfmdf_table2" / "dshfmdf_vs_paper.csv")
    row = table[(table["bits"] == 48) & table["setting"].str.startswith("EfficientNet")].iloc[0]
    assert f"| {row['map']} | {row['paper']:.3f} | {float(row['map'].split()[0]) - row['paper']:.3f} |" in page
    claims = pd.read_csv(FIGURES / "03_dshfmdf_table3_backbones" / "ladder_claims.csv")  # hashlib_core.claims
    for _, claim in claims.iterrows():
        assert f"- {claim['claim']} — **{claim['verdict']}**" in page
    claims = pd.read_csv(FIGURES / "01_dshfmdf_table2" / "dshfmdf_vs_paper_claims.csv")  # named <x>_claims
    assert len(claims) and all(f"- {c} ({s}) — **{v}**" in page
                               for c, s, v in zip(claims["claim"], claims["setting"], claims["verdict"]))


def _folder(root: Path, stem: str, tables: dict[str, pd.DataFrame], pngs=(), manifest=True):
    folder = root / stem
    folder.mkdir(parents=True)
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)
        (folder / f"{name}.md").write_text(df.to_markdown(index=False))
    for name in pngs:
        (folder / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    if manifest:
        (folder / "manifest.json").write_text(json.dumps(
            {"profile": "cpu", "seeds": [0, 1], "params": {"bits": [12, 48]}, "commit": "0123456789abcdef",
             "date": "2026-11-25T10:00:00+00:00", "runs": {"k": {}}}))


def test_build_on_synthetic_folders(tmp_path):
    _folder(tmp_path, "a_table", {
        "t": pd.DataFrame({"method": ["x", "x"], "bits": [12, 48], "map": ["0.500 ± 0.010", "0.700"],
                           "paper": [0.6, None], "paper runtime_s": [10.0, 20.0], "runtime_s": [12.5, 18.0]}),
        "claims": pd.DataFrame({"claim": ["x beats y", "y beats z"], "reproduced": ["yes", "no"],
                                "ours": ["0.5 > 0.4", "0.3 > 0.4"]}),
        "order_claims": pd.DataFrame({"claim": ["z beats w"], "bits": [12], "verdict": ["inconclusive"],
                                      "n seeds": [1], "reason": ["fewer than 3 seeds"], "paper": [0.5]}),
    }, pngs=["fig"])
    _folder(tmp_path, "b_missing", {}, manifest=False)
    entries = [{"notebook": "notebooks/a_table.ipynb", "artefacts": "table A"},
               {"notebook": "notebooks/b_missing.ipynb", "artefacts": "figure B"}]
    page = gallery.build(tmp_path, entries)
    assert "| x, bits 12 | map | 0.500 ± 0.010 | 0.600 | -0.100 |" in page
    assert "bits 48 | map" not in page                      # no paper value, no comparison
    assert "| x, bits 12 | runtime_s | 12.5 | 10.0 | +2.500 |" in page
    assert "| x, bits 48 | runtime_s | 18.0 | 20.0 | -2.000 |" in page
    assert "- x beats y — **reproduced** — ours: 0.5 > 0.4" in page
    assert "- y beats z — **not reproduced**" in page
    assert "- z beats w — **inconclusive** — bits: 12; n seeds: 1; reason: fewer than 3 seeds; paper: 0.5" in page
    assert "bits 12 | n seeds" not in page                  # a claims table is not a paper comparison
    assert "![a_table: fig](a_table/fig.png)" in page
    assert "at commit `0123456789ab`" in page and "seeds [0, 1]" in page and "`bits` = [12, 48]" in page
    assert "## b_missing" in page and "Not generated under this profile yet" in page
    out = gallery.write(tmp_path, entries)
    assert out == tmp_path / "README.md" and out.read_text() == page
    assert all((tmp_path / link).exists() for link in _links(page) if not link.startswith("../"))


def test_bad_claims_table_is_one_clear_error(tmp_path):
    _folder(tmp_path, "c", {"claims": pd.DataFrame({"statement": ["x"], "ok": ["yes"]})})
    with pytest.raises(ValueError, match=r"claims.csv: a claims table needs the columns 'claim' and 'verdict'"):
        gallery.build(tmp_path, [{"notebook": "notebooks/c.ipynb", "artefacts": "c"}])
