"""What a plain `check` leaves out of its start-up: the modules only writing or hinting needs.

tempfile (with random and the compression modules) is for writing a
file, hashlib for the snapshot --fix compares before it writes, difflib for a
"did you mean" hint; together they cost a plain `check` of DenseNet-201 more
than a tenth of its instructions (README, Performance).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lint.cli import main

# not shutil: argparse's help formatter imports it whenever an argument is added, for every command
WRITING_OR_HINTING = ("tempfile", "hashlib", "difflib")
NO_LOSS = (
    'name: "n"\n'
    'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }\n'
    'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 2 } }\n'
)
# the interpreter's own start-up (a development environment's `site`) may import some of them: only
# what backprop-lint imports counts
PROBE = (
    "import sys; before = set(sys.modules); from backprop_lint.cli import main; code = main(sys.argv[1:]); "
    f"print(code, sorted(m for m in set(sys.modules) - before if m in {WRITING_OR_HINTING!r}))"
)


def run_probe(tmp_path: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_plain_check_imports_none_of_them(tmp_path: Path) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text(NO_LOSS)
    # BL201 is reported, with its fix checked by the force_backward re-run
    assert run_probe(tmp_path, "check", str(net), "--color", "never", "--no-progress") == "0 []"


def test_check_still_writes_a_report_file(tmp_path: Path) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text(NO_LOSS)
    out = tmp_path / "report.txt"
    assert main(["check", str(net), "--no-progress", "--output-file", str(out)]) == 0
    assert "BL201" in out.read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["net.prototxt", "report.txt"]


def test_fix_still_writes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """(That --fix still refuses a file changed meanwhile is tests/test_fix_safety.py's.)"""
    net = tmp_path / "net.prototxt"
    net.write_text(NO_LOSS)
    assert main(["check", str(net), "--no-progress", "--fix", "--color", "never"]) == 0
    assert net.read_text() == NO_LOSS.replace('name: "n"\n', 'name: "n"\nforce_backward: true\n')
