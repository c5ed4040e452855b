"""Fault-injection suite (issue 12): every test injects a fault and asserts the outcome -- the
correct result (identical to a clean run) or one clear error before work, nothing left behind.

``faults`` counts what the suite injected and detected; the terminal summary prints the tally
(``silent wrong results`` = injected faults whose test did not reach ``faults.detected``)."""
from __future__ import annotations

import pytest

_TALLY = {"injected": [], "detected": []}


class Faults:
    def __init__(self, test: str):
        self.test = test
        self.open: list[str] = []

    def inject(self, what: str) -> None:
        _TALLY["injected"].append(f"{self.test}: {what}")
        self.open.append(what)

    def detected(self, what: str | None = None) -> None:
        """The outcome was asserted right for the last injected fault (or ``what``)."""
        what = what or self.open[-1]
        self.open.remove(what)
        _TALLY["detected"].append(f"{self.test}: {what}")


@pytest.fixture
def faults(request):
    f = Faults(request.node.name)
    yield f


def pytest_terminal_summary(terminalreporter):
    if not _TALLY["injected"]:
        return
    n_in, n_det = len(_TALLY["injected"]), len(_TALLY["detected"])
    terminalreporter.write_sep("-", "fault injection (issue 12)")
    terminalreporter.write_line(f"faults injected: {n_in}, detected: {n_det}, silent wrong results: {n_in - n_det}")


@pytest.fixture
def cache(isolated_cache):
    """The isolated cache (real CIFAR-10), and the in-process memo of cleaned folders reset."""
    from hashlib_core import runner

    getattr(runner, "_CLEANED", set()).clear()
    return isolated_cache
