"""The papers' reported numbers, transcribed once into ``reported_values/reported.csv``.

Columns: paper (its number in ``docs/papers.md``: ``000`` ... ``004``), artefact (``table2`` ...), method,
variant, dataset, bits, metric, value. Notebooks read them through :func:`reported` and put
them beside our numbers; ``tests/test_reported.py`` checks cells against the paper text.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd


@lru_cache(maxsize=1)
def _all() -> pd.DataFrame:
    df = pd.read_csv(Path(__file__).with_name("reported_values") / "reported.csv",
                     dtype={"paper": str, "variant": str})
    df["variant"] = df["variant"].fillna("")
    return df


def reported(paper: str | None = None, artefact: str | None = None, **filters) -> pd.DataFrame:
    """Rows of the transcribed tables, filtered by paper, artefact and any column=value."""
    df = _all()
    if paper is not None:
        df = df[df["paper"] == paper]
    if artefact is not None:
        df = df[df["artefact"] == artefact]
    for col, val in filters.items():
        if col not in df.columns:
            raise ValueError(f"unknown column {col!r}; columns: {list(df.columns)}")
        df = df[df[col].isin(val if isinstance(val, (list, tuple, set)) else [val])]
    return df.reset_index(drop=True).copy()
