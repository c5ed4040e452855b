"""Progress bars: widgets in JupyterLab, plain text in batch runs.

Every bar of the package is made by :func:`tqdm`. ``HASHLIB_PROGRESS`` picks the kind:

* ``auto`` (default) -- ``tqdm.auto``: an ipywidgets bar in a Jupyter kernel, text elsewhere;
* ``text`` -- ``tqdm.std`` always, written to stdout and redrawn at most every
  :data:`TEXT_MININTERVAL_S`. ``hashlib_core.reproduce`` sets it for the papermill kernels,
  because a widget bar in a batch run is stored as widget-view JSON plus the notebook's widget
  state, which no one will ever see rendered (the executed notebooks in ``figures/``). stdout,
  not tqdm's default stderr: progress is not an error, and the executed notebooks keep stderr
  for real warnings (``tests/test_stored_outputs.py`` rejects any); the longer interval keeps a
  bar of an hour-long run to a few hundred redraws in the stored output.

The variable is read when a bar is made, so a kernel started with it set gets text bars
whatever imported the package first.
"""
from __future__ import annotations

import os
import sys

ENV_PROGRESS = "HASHLIB_PROGRESS"
MODES = ("auto", "text")
TEXT_MININTERVAL_S = 5.0


def mode() -> str:
    """The bar kind ``HASHLIB_PROGRESS`` asks for (``auto`` when unset or empty)."""
    value = os.environ.get(ENV_PROGRESS, "").strip() or "auto"
    if value not in MODES:
        raise ValueError(f"{ENV_PROGRESS}={value!r}: allowed values are {', '.join(MODES)}")
    return value


def bar_class():
    """``tqdm.std.tqdm`` under ``text``, ``tqdm.auto.tqdm`` under ``auto``."""
    if mode() == "text":
        from tqdm.std import tqdm as bar
    else:
        from tqdm.auto import tqdm as bar
    return bar


def tqdm(*args, **kwargs):
    """A tqdm bar of the kind :func:`mode` selects; same arguments as ``tqdm.tqdm``."""
    if mode() == "text":
        kwargs.setdefault("file", sys.stdout)
        kwargs.setdefault("mininterval", TEXT_MININTERVAL_S)
        # every text bar on line 0: a nested bar (a run's epochs inside a sweep's runs) would
        # otherwise be drawn one line down with cursor-up escapes, which a stored notebook keeps as
        # one new line per frame; at position 0 each frame starts with "\r" and only the bar's last
        # frame survives reproduce's stream folding
        kwargs.setdefault("position", 0)
    return bar_class()(*args, **kwargs)


def write(message: str) -> None:
    """Print one log line without breaking an open bar: ``tqdm.write`` clears the bars drawn on
    stdout, prints, then redraws them (in a stored notebook the line would otherwise run on from
    the bar's last frame: "runs: 0%| | 0/12[run c1d0d10a02] ...")."""
    bar_class().write(message, file=sys.stdout)
