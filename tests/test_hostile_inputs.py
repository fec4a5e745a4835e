"""Paths that are not plain net files: each is named for what it is, in one line, in every command.

FIFOs, devices, symlink loops, broken symlinks, over-long paths, unreadable
directories, oversized files and over-deep configuration (issue 12).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from backprop_lint.caffe import files as files_module
from backprop_lint.caffe.files import read_regular_file
from backprop_lint.caffe.load import load_file
from backprop_lint.caffe.model import InputError
from backprop_lint.cli.commands import main

REPO = Path(__file__).resolve().parents[1]
NET = 'name: "n"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }\n'
TOO_LONG = "a" * 5000


def run_cli(*argv: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "backprop_lint", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def assert_no_crash(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr


@pytest.fixture
def odd_paths(tmp_path: Path) -> Path:
    os.mkfifo(tmp_path / "fifo.prototxt")
    (tmp_path / "loop1.prototxt").symlink_to("loop2.prototxt")
    (tmp_path / "loop2.prototxt").symlink_to("loop1.prototxt")
    (tmp_path / "broken.prototxt").symlink_to("nowhere.prototxt")
    return tmp_path


EXPECTED = [
    ("fifo.prototxt", "is a FIFO (named pipe), not a file"),
    ("loop1.prototxt", "is a symlink loop"),
    ("broken.prototxt", "is a symlink to 'nowhere.prototxt', which does not exist"),
    ("/dev/null", "is a character device, not a file"),
    ("/dev/zero", "is a character device, not a file"),
    (TOO_LONG, "the path (5000 characters) is longer than the operating system allows"),
    ("missing.prototxt", "no such file or directory"),
]


@pytest.mark.parametrize("name, message", EXPECTED, ids=[name[:20] for name, _ in EXPECTED])
def test_check_names_what_the_path_is(odd_paths: Path, name: str, message: str) -> None:
    result = run_cli("check", "--format", "json", name, cwd=odd_paths)
    assert_no_crash(result)
    assert result.returncode == 1
    [error] = json.loads(result.stdout)["findings"]
    assert error["code"] == "BL000" and message in error["message"]
    assert error["file"] == name and error["line"] is None and error["column"] is None


@pytest.mark.parametrize("name, message", EXPECTED, ids=[name[:20] for name, _ in EXPECTED])
def test_simulate_and_backward_name_what_the_path_is(odd_paths: Path, name: str, message: str) -> None:
    simulated = run_cli("simulate", name, cwd=odd_paths)
    assert_no_crash(simulated)
    assert simulated.returncode == 1
    error = json.loads(simulated.stdout)["error"]
    assert message in error["message"] and error["line"] is None and error["column"] is None
    backward = run_cli("backward", name, cwd=odd_paths)
    assert_no_crash(backward)
    assert backward.returncode == 1 and message in backward.stderr
    assert len(backward.stderr.strip().splitlines()) == 1


def test_fifo_is_never_opened_for_a_blocking_read(tmp_path: Path) -> None:
    """No writer ever comes: a blocking open or read would hang until the timeout."""
    os.mkfifo(tmp_path / "net.prototxt")
    result = run_cli("check", ".", "--format", "json", cwd=tmp_path, timeout=30)
    assert_no_crash(result)
    [error] = json.loads(result.stdout)["findings"]
    assert error["file"] == "net.prototxt" and "FIFO" in error["message"]


def test_fifo_swapped_in_after_the_stat_is_refused_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "net.prototxt"
    os.mkfifo(fifo)
    regular = os.stat(__file__)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: regular if str(path) == str(fifo) else real_stat(path))
    with pytest.raises(InputError, match="is a FIFO"):
        read_regular_file(fifo, lambda head: 1000)


def test_solver_with_a_net_name_longer_than_the_os_allows(tmp_path: Path) -> None:
    (tmp_path / "solver.prototxt").write_text(f'net: "{TOO_LONG}"\nbase_lr: 0.1\n')
    result = run_cli("check", "solver.prototxt", "--format", "json", cwd=tmp_path)
    assert_no_crash(result)
    [error] = json.loads(result.stdout)["findings"]
    assert error["message"].startswith("solver names the net 'aaa")
    shown = f"...{'a' * 40} (5000 characters)'"
    assert f"{shown}, which cannot be read: the path (5000 characters) is longer" in error["message"]


def test_solver_naming_a_device_says_so(tmp_path: Path) -> None:
    (tmp_path / "solver.prototxt").write_text('train_net: "/dev/zero"\nbase_lr: 0.1\n')
    result = run_cli("check", "solver.prototxt", "--format", "json", cwd=tmp_path)
    [error] = json.loads(result.stdout)["findings"]
    assert error["message"] == (
        "solver names the net '/dev/zero', which cannot be read: it is a character device, not a file; "
        "backprop-lint reads only regular files"
    )


def test_size_limit_is_checked_before_reading(tmp_path: Path, bytes_read: List[int]) -> None:
    big = tmp_path / "big.prototxt"
    with open(big, "wb") as stream:  # text first, then a hole: 200 MB that cost no disk
        stream.write(b"#" * 8191 + b"\n")
        stream.truncate(200 * 1024 * 1024)
    with pytest.raises(InputError) as caught:
        load_file(big)
    assert "over the limit" in caught.value.message and caught.value.location.line == 0
    assert sum(bytes_read) <= files_module.HEAD_BYTES


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_bytes(b"#" * 5000)
    with pytest.raises(InputError, match="over the limit of 100"):
        read_regular_file(path, lambda head: 100 if len(head) == files_module.HEAD_BYTES else 10**6)


def test_size_limit_error_has_no_position_in_check_and_simulate(tmp_path: Path) -> None:
    path = tmp_path / "big.prototxt"
    with open(path, "wb") as stream:
        stream.write(b"#" * 8191 + b"\n")
        stream.truncate(17 * 1024 * 1024)
    checked = run_cli("check", "--format", "json", "big.prototxt", cwd=tmp_path)
    [error] = json.loads(checked.stdout)["findings"]
    simulated = json.loads(run_cli("simulate", "big.prototxt", cwd=tmp_path).stdout)["error"]
    for document in (error, simulated):
        assert "over the limit" in document["message"]
        assert (document["line"], document["column"]) == (None, None)


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "net.prototxt").write_text(NET)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "hidden.prototxt").write_text(NET)
    return tmp_path


def test_unreadable_subdirectory_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    root = _tree(tmp_path)
    real_scandir = os.scandir

    def scandir(path: "os.PathLike[str]") -> "os.ScandirIterator[str]":
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.chdir(root)
    code = main(["check", ".", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["files"] == ["ok/net.prototxt"]
    [error] = [finding for finding in document["findings"] if finding["code"] == "BL000"]
    assert error["file"] == "locked" and "cannot search this directory: permission denied" in error["message"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 directory anyway (the monkeypatched test covers it)")
def test_unreadable_subdirectory_for_real(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    os.chmod(root / "locked", 0)
    try:
        result = run_cli("check", ".", "--format", "json", cwd=root)
    finally:
        os.chmod(root / "locked", 0o755)
    assert result.returncode == 1
    [error] = [finding for finding in json.loads(result.stdout)["findings"] if finding["code"] == "BL000"]
    assert error["file"] == "locked" and "permission denied" in error["message"]


def test_nets_found_in_a_directory_that_are_not_files_are_errors(odd_paths: Path) -> None:
    (odd_paths / "good.prototxt").write_text(NET)
    result = run_cli("check", ".", "--format", "json", cwd=odd_paths, timeout=30)
    assert_no_crash(result)
    document = json.loads(result.stdout)
    assert document["files"] == ["good.prototxt"]
    errors = [finding for finding in document["findings"] if finding["code"] == "BL000"]
    assert sorted((f["file"], f["message"].split(":")[0]) for f in errors) == [
        ("broken.prototxt", "is a symlink to 'nowhere.prototxt', which does not exist"),
        ("fifo.prototxt", "is a FIFO (named pipe), not a file; backprop-lint reads only regular files, so it never "
                          "waits on a pipe"),
        ("loop1.prototxt", "is a symlink loop"),
        ("loop2.prototxt", "is a symlink loop"),
    ]


def deep_pyproject(directory: Path) -> Path:
    path = directory / "pyproject.toml"
    path.write_text("[tool.backprop-lint]\nignore = " + "[" * 5000 + "]" * 5000 + "\n")
    return path


@pytest.mark.parametrize("command", [["check", "net.prototxt"], ["simulate", "net.prototxt", "--config", "pyproject.toml"],
                                     ["backward", "net.prototxt", "--config", "pyproject.toml"]])
def test_deeply_nested_pyproject_is_a_configuration_error(tmp_path: Path, command: List[str]) -> None:
    deep_pyproject(tmp_path)
    (tmp_path / "net.prototxt").write_text(NET)
    result = run_cli(*command, cwd=tmp_path)
    assert_no_crash(result)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "pyproject.toml: error: invalid configuration: nested too deeply to read" in line


@pytest.mark.parametrize("command", ["simulate", "backward"])
def test_configuration_error_is_printed_escaped(tmp_path: Path, command: str) -> None:
    name = "bad\x1b[2J.toml"
    (tmp_path / name).write_text("[layers\n")
    (tmp_path / "net.prototxt").write_text(NET)
    result = run_cli(command, "net.prototxt", "--config", name, cwd=tmp_path)
    assert_no_crash(result)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "\x1b" not in line and "bad\\x1b[2J.toml" in line


def test_config_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "backprop-lint.toml")
    (tmp_path / "net.prototxt").write_text(NET)
    result = run_cli("check", "net.prototxt", "--config", "backprop-lint.toml", cwd=tmp_path, timeout=30)
    assert_no_crash(result)
    assert result.returncode == 2 and "is a FIFO" in result.stderr


def test_read_regular_file_returns_an_identity(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(NET)
    data, snapshot = read_regular_file(path, lambda head: 10**6)
    status = os.stat(path)
    assert data == NET.encode()
    assert (snapshot.inode, snapshot.size, snapshot.mtime_ns) == (status.st_ino, len(data), status.st_mtime_ns)


def explain_call(tmp_path: Path, *extra: str) -> Tuple[int, str]:
    net = tmp_path / "py.prototxt"
    net.write_text(
        'input: "data"\ninput_shape { dim: 1 dim: 3 }\nforce_backward: true\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 } }\n'
        'layer { name: "py" type: "Python" bottom: "ip" top: "out" python_param { module: "mymod" layer: "L" } }\n'
    )
    result = run_cli("backward", "py.prototxt", "--read", "data", *extra, cwd=tmp_path)
    assert_no_crash(result)
    return result.returncode, result.stdout


def test_backward_through_an_undeclared_python_layer_is_unknown(tmp_path: Path) -> None:
    code, text = explain_call(tmp_path)
    assert code == 1
    assert "data: unknown" in text and "No call makes" not in text
    assert "Unknown whether any call makes every requested diff non-zero" in text
    assert "the gradient of 'data' is unknown: it flows back through 'py' (#2, Python layer mymod.L)" in text
    assert '[tool.backprop-lint.layers."mymod.L"]' in text
    assert not any(line.rstrip().endswith(":") and "are zero" in line for line in text.splitlines())
    code, document = explain_call(tmp_path, "--format", "json")
    fix = json.loads(document)["fix"]
    assert fix["possible"] is False and fix["unknown"] is True


def test_declaring_the_python_layer_makes_backward_known(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.backprop-lint.layers."mymod.L"]\nparams = 0\nbackward = "respects-pd"\n'
    )
    code, text = explain_call(tmp_path, "--config", "pyproject.toml")
    assert code == 0 and "data: non-zero" in text


def test_a_reason_names_at_most_twenty_undeclared_layers(tmp_path: Path) -> None:
    net = tmp_path / "fan.prototxt"
    layers = [f'layer {{ name: "py{i}" type: "Python" bottom: "data" top: "p{i}" '
              f'python_param {{ module: "m{i % 22}" layer: "L" }} }}' for i in range(25)]
    net.write_text('input: "data"\ninput_shape { dim: 1 dim: 3 }\n' + "\n".join(layers) + "\n")
    result = run_cli("backward", "fan.prototxt", "--read", "data", cwd=tmp_path)
    assert_no_crash(result)
    reason = next(line for line in result.stdout.splitlines() if "flows back through" in line)
    assert "'py19' (#" in reason and "'py20'" not in reason and ", 5 more, whose backward" in reason
    assert '[tool.backprop-lint.layers."m19.L"] and 2 more in pyproject.toml' in reason
