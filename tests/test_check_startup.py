"""What a plain `check` leaves out of its start-up: the modules only writing or hinting needs,
and the machinery its own data no longer need.

tempfile (with random and the compression modules) is for writing a
file, hashlib for the snapshot --fix compares before it writes, difflib for a
"did you mean" hint; together they cost a plain `check` of DenseNet-201 more
than a tenth of its instructions (README, Performance).

The linter's data are records (caffe/records.py), not dataclasses, and its
modules import typing names only for type checkers: `dataclasses` (with
`inspect`, `ast`, `dis`, `tokenize`) and `typing` would cost a small net's
`check` a quarter of its instructions. pathlib (with `urllib.parse` and
`ipaddress`) is for path options, configuration files and solvers only.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

import backprop_lint
from backprop_lint.cli import main

WRITING_OR_HINTING = ("tempfile", "hashlib", "difflib", "shutil")
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


#: what `check` must not import beyond what `simulate` imports (the simulate path's own start-up is
#: its own tests' business): a dataclass, a typing import or a Path in the linter's start-up brings them back
MACHINERY = ("dataclasses", "inspect", "ast", "dis", "tokenize", "typing", "pathlib", "urllib.parse", "ipaddress",
             "tomllib", "importlib.metadata")
REPO = str(Path(backprop_lint.__file__).resolve().parent.parent)
# -S: no `site`, whose .pth files (an editable install's finder, setuptools' hacks) import typing and
# more before backprop-lint starts; the checkout first, then site-packages for protobuf and rich
BARE_PROBE = (
    f"import sys; sys.path[:0] = [{REPO!r}]; import site; sys.path.extend(site.getsitepackages()); "
    "from backprop_lint.cli import main; code = main(sys.argv[1:]); "
    f"print(code, sorted(m for m in sys.modules if m in {MACHINERY!r}))"
)


def bare_probe(tmp_path: Path, *args: str) -> Tuple[str, List[str]]:
    done = subprocess.run([sys.executable, "-S", "-c", BARE_PROBE, *args], capture_output=True, text=True,
                          cwd=tmp_path, env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"})
    assert done.returncode in (0, 1), done.stderr
    code, imported = done.stdout.strip().splitlines()[-1].split(" ", 1)
    return code, ast.literal_eval(imported)


def test_check_imports_no_machinery_simulate_does_not(tmp_path: Path) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text(NO_LOSS)
    simulate_code, by_simulate = bare_probe(tmp_path, "simulate", str(net), "--phase", "TEST")
    check_code, by_check = bare_probe(tmp_path, "check", str(net), "--color", "never", "--no-progress", "--jobs", "1")
    assert (simulate_code, check_code) == ("0", "0")
    assert sorted(set(by_check) - set(by_simulate)) == []
    assert by_check == []  # nor does simulate now: neither may bring them back


def test_a_path_option_still_works_without_pathlib_at_start(tmp_path: Path) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text(NO_LOSS)
    (tmp_path / "backprop-lint.toml").write_text('ignore = ["BL201"]\n')
    code, imported = bare_probe(tmp_path, "check", str(net), "--no-progress", "--output-file", "out.txt")
    assert code == "0" and "pathlib" in imported and "tomllib" in imported
    assert (tmp_path / "out.txt").read_text() == "All checks passed (1 file).\n"


def test_a_forks_layer_type_is_named_without_importing_the_packs(tmp_path: Path) -> None:
    """BL008 names the pack that describes a fork's type from a table, not from the 27 pack
    modules; the "closest types" hint (difflib) is computed only for a type no pack explains."""
    probe = (
        "import sys; from backprop_lint.cli import main; code = main(sys.argv[1:]); "
        "print(code, sorted(m for m in ('backprop_lint.caffe.packs', 'difflib') if m in sys.modules))"
    )

    def imported_by_check(layer_type: str) -> str:
        net = tmp_path / "net.prototxt"
        net.write_text(NO_LOSS.replace('type: "InnerProduct"', f'type: "{layer_type}"'))
        done = subprocess.run([sys.executable, "-c", probe, "check", str(net), "--color", "never", "--no-progress"],
                              capture_output=True, text=True, cwd=tmp_path)
        assert "BL008" in done.stdout, done.stderr
        return done.stdout.strip().splitlines()[-1]

    assert imported_by_check("XCovLoss") == "1 []"
    assert imported_by_check("InnerProdcut") == "1 ['difflib']"
