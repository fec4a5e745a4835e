"""Shared pytest wiring: a tally of differential comparisons with real Caffe.

Every suite that compares backprop-lint with real Caffe records each net in
``differential_tally``; the terminal summary prints, per suite, how many nets
were compared and how many agreed.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List

import pytest

_TALLY: Dict[str, List[int]] = defaultdict(lambda: [0, 0])


class Tally:
    def record(self, suite: str, agreed: bool) -> None:
        counts = _TALLY[suite]
        counts[0] += 1
        counts[1] += int(agreed)


@pytest.fixture(scope="session")
def differential_tally() -> Tally:
    return Tally()


def pytest_terminal_summary(terminalreporter: "pytest.TerminalReporter") -> None:
    if not _TALLY:
        return
    terminalreporter.section("comparisons with real Caffe")
    for suite in sorted(_TALLY):
        compared, agreed = _TALLY[suite]
        terminalreporter.write_line(f"{suite}: {compared} nets compared, {agreed} agreed")
