"""Shared helpers for tests that consult real Caffe (tools/oracle/).

    from oracle_support import oracle, require_oracle, requires_oracle

    @requires_oracle
    def test_something() -> None: ...

    def test_other() -> None:
        require_oracle()          # skips, with the reason printed, when not built
        result = oracle.run_oracle(path, "TEST", run=True)

When the oracle is not built, tests skip (never fail) and say how to build it:
``tools/oracle/build.sh`` (10-15 minutes; the result is cached in
$CAFFE_ORACLE_HOME, default ~/.cache/caffe-oracle).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Tuple

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / "tools"
GOLDEN_DIR = REPO / "fixtures" / "golden"
ORACLE_INPUTS = REPO / "fixtures" / "oracle_inputs"

for _path in (TOOLS / "oracle", TOOLS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import oracle  # noqa: E402  (tools/oracle/oracle.py, found through sys.path above)

OracleResult = oracle.OracleResult
OracleError = oracle.OracleError
run_oracle = oracle.run_oracle


def oracle_status(flavor: str = "ssd") -> Tuple[bool, str]:
    """(ready, reason it is not) for the flavour's real-Caffe oracle (ssd: the SSD lineage, bvlc: BVLC)."""
    return oracle.oracle_available(flavor)


def require_oracle() -> None:
    """Skip the calling test, printing why, unless the oracle is ready."""
    ready, reason = oracle_status()
    if not ready:
        print(f"SKIPPED (real Caffe not available): {reason}")
        pytest.skip(reason)


_READY, _REASON = oracle_status()

#: decorator: skip the test (with the reason) unless the oracle is ready
requires_oracle = pytest.mark.skipif(not _READY, reason=f"real Caffe not available: {_REASON}")
