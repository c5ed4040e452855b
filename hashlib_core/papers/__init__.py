"""One module per paper: the layout of its tables and its claims beside our runs.

| module | paper |
| --- | --- |
| :mod:`~hashlib_core.papers.p000_dshfmdf` | 000 DSHFMDF (Redaoui et al., Information 2024) |
| :mod:`~hashlib_core.papers.p001_mdffsh` | 001 MDFF-SH (Redaoui et al., J. Imaging 2025) and 002 DMSH |
| :mod:`~hashlib_core.papers.p003_selfsup` | 003 self-supervised hashing (Kim et al.) |
| :mod:`~hashlib_core.papers.p004_dshc` | 004 DSHC (Luo et al.) |
"""
