"""Shared pytest wiring: a tally of differential comparisons with real Caffe.

Every suite that compares backprop-lint with real Caffe records each net in
``differential_tally``; the terminal summary prints, per suite, how many nets
were compared and how many agreed.
"""
from __future__ import annotations

import os
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


@pytest.fixture
def bytes_read(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """The size of every chunk ``os.read`` hands backprop-lint's file reader, as it happens (clear it between reads)."""
    from backprop_lint.caffe import files

    read: List[int] = []
    real_read = os.read

    def counting_read(descriptor: int, count: int) -> bytes:
        chunk = real_read(descriptor, count)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(files.os, "read", counting_read)
    return read


def pytest_terminal_summary(terminalreporter: "pytest.TerminalReporter") -> None:
    if not _TALLY:
        return
    terminalreporter.section("comparisons with real Caffe")
    for suite in sorted(_TALLY):
        compared, agreed = _TALLY[suite]
        terminalreporter.write_line(f"{suite}: {compared} nets compared, {agreed} agreed")
