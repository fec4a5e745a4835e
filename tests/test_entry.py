"""The console-script dispatcher: ``simulate`` goes straight to cli_simulate, the rest to cli."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lint import cli as entry
from backprop_lint.cli.guard import EXIT_ERROR

REPO = Path(__file__).resolve().parent.parent

NET = """
name: "tiny"
layer { name: "data" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 2 } }
"""


def _run(module: str, *args: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True)


def test_simulate_prints_what_cli_prints(tmp_path: Path) -> None:
    net = tmp_path / "tiny.prototxt"
    net.write_text(NET)
    ours = _run("backprop_lint.cli.commands", "simulate", str(net), "--phase", "TEST")
    theirs = _run("backprop_lint", "simulate", str(net), "--phase", "TEST")
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
    assert json.loads(ours.stdout)["layers"][1]["name"] == "ip"


def test_simulate_refusal_and_usage_errors_match_cli(tmp_path: Path) -> None:
    net = tmp_path / "bad.prototxt"
    net.write_text('layer { name: "a" type: "ReLU" bottom: "nowhere" top: "y" }\n')
    for args in (("simulate", str(net)), ("simulate",), ("simulate", str(net), "--phase", "NOPE")):
        ours = _run("backprop_lint.cli.commands", *args)
        theirs = _run("backprop_lint", *args)
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
    assert _run("backprop_lint.cli.commands", "simulate", str(net)).returncode == 1


def test_simulate_does_not_import_the_linter(tmp_path: Path) -> None:
    net = tmp_path / "tiny.prototxt"
    net.write_text(NET)
    code = (
        "import sys, io, contextlib\n"
        "from backprop_lint import cli as entry\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    status = entry.main(['simulate', {str(net)!r}])\n"
        "heavy = ('rich', 'backprop_lint.cli.commands', 'backprop_lint.linting', 'backprop_lint.linting.rules',\n"
        "         'backprop_lint.linting.config', 'backprop_lint.backward.plan', 'google.protobuf')\n"
        "print(status, sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + '.' for h in heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 []"


def test_other_commands_go_to_cli(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        entry.main(["--version"])
    assert exit_info.value.code == 0
    assert "backprop-lint" in capsys.readouterr().out


def test_internal_error_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from backprop_lint.cli import simulate as cli_simulate

    def broken(argv: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_simulate, "main", broken)
    assert entry.main(["simulate", "x.prototxt"]) == EXIT_ERROR
    assert "internal error: RuntimeError: boom" in capsys.readouterr().err
