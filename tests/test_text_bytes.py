"""Bytes like Caffe: non-UTF-8 bytes in comments and strings load; names show escaped.

The oracle part loads the same files with both real Caffes (skipped, with the
reason, when an oracle is not built) and compares acceptance and, for
accepted nets, the structure (the oracle prints raw bytes, which its wrapper
decodes with U+FFFD, so names are compared after the same replacement).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from oracle_support import oracle  # also puts tools/oracle on sys.path

from backprop_lint.caffe.build_options import ORACLE_BUILDS, build_setting_of
from backprop_lint.caffe.pipeline import run_simulate
from backprop_lint.linting.linter import lint

REPO = Path(__file__).resolve().parent.parent

BASE = (b'layer { name: "input" type: "Input" top: "data" top: "target" '
        b'input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 4 } } }\n'
        b'layer { name: "NAME" type: "InnerProduct" bottom: "data" top: "TOP" '
        b'inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 1 } } }\n'
        b'layer { name: "loss" type: "EuclideanLoss" bottom: "TOP" bottom: "target" }\n')


def _net(name: bytes = b"fc", top: bytes = b"fc", before: bytes = b"") -> bytes:
    return before + BASE.replace(b"NAME", name).replace(b"TOP", top)


#: case -> (file bytes, whether Caffe loads it); every verdict checked with both oracles below
CASES: Dict[str, Tuple[bytes, bool]] = {
    "latin1-comment": (_net(before=b"# caf\xe9 r\xe9seau\n"), True),
    "latin1-layer-name": (_net(name=b"fc\xe9"), True),
    "latin1-blob-name": (_net(top=b"fc\xe9"), True),
    "latin1-net-name": (b'name: "r\xe9seau"\n' + _net(), True),
    "octal-escape-not-utf8": (_net(name=b"fc\\351"), True),
    "utf8-name": (_net(name="fcé".encode()), True),
    "latin1-outside-strings": (_net().replace(b"layer {", b"layer \xe9{", 1), False),
    "nul-in-comment": (_net(before=b"# a\x00b\n"), False),
    "nul-in-string": (_net(name=b"f\x00c"), False),
}


def _write(tmp_path: Path, data: bytes, name: str = "net.prototxt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_we_accept_what_caffe_accepts(case: str, tmp_path: Path) -> None:
    data, loads = CASES[case]
    ours = run_simulate(str(_write(tmp_path, data)), phase="TRAIN")
    assert ("error" not in ours) == loads, ours.get("error")


def test_names_keep_their_bytes_and_show_escaped(tmp_path: Path) -> None:
    path = _write(tmp_path, _net(name=b"fc\xe9", top=b"fc\xe9\xff"))
    ours = run_simulate(str(path), phase="TRAIN")
    assert ours["layers"][1]["name"].encode("utf-8", "surrogateescape") == b"fc\xe9"
    done = subprocess.run([sys.executable, "-m", "backprop_lint", "simulate", str(path)],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and '"fc\\\\xe9"' in done.stdout and '"fc\\\\xe9\\\\xff"' in done.stdout
    assert json.loads(done.stdout)["layers"][1]["name"] == "fc\\xe9"


def test_findings_show_escaped_names_in_every_format(tmp_path: Path) -> None:
    path = _write(tmp_path, _net(name=b"fc\xe9") + b'layer { name: "r\xe9lu" type: "ReLU" bottom: "x" top: "y" }\n')
    assert [finding.code for finding in lint(str(path), phase="TRAIN").findings] == ["BL001"]
    for fmt in ("text", "json", "sarif", "github"):
        done = subprocess.run([sys.executable, "-m", "backprop_lint", "check", str(path), "--phase", "TRAIN",
                               "--format", fmt], capture_output=True, text=True, cwd=REPO)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "r\\xe9lu" in done.stdout.replace("\\\\", "\\"), (fmt, done.stdout)


def test_fix_writes_the_other_bytes_back_unchanged(tmp_path: Path) -> None:
    deploy = b"# r\xe9seau de caf\xe9\n" + _net(name=b"fc\xe9").rsplit(b"\n", 2)[0] + b"\n"  # no loss layer
    path = _write(tmp_path, deploy)
    done = subprocess.run([sys.executable, "-m", "backprop_lint", "check", str(path), "--phase", "TEST",
                           "--need-diff", "data", "--fix"], capture_output=True, text=True, cwd=REPO)
    assert "Traceback" not in done.stderr, done.stderr
    after = path.read_bytes()
    assert b"force_backward: true" in after
    assert after.replace(b"force_backward: true\n", b"") == deploy


@pytest.mark.parametrize("flavor", ["ssd", "bvlc"])
def test_real_caffe_agrees(flavor: str, tmp_path: Path) -> None:
    ready, reason = oracle.oracle_available(flavor)
    if not ready:
        print(f"SKIPPED (real Caffe not available): {reason}")
        pytest.skip(reason)
    problems: List[str] = []
    for case, (data, loads) in sorted(CASES.items()):
        path = _write(tmp_path, data, f"{case}.prototxt")
        real = oracle.run_oracle(path, "TRAIN", flavor=flavor)
        if (real.refusal is None) != loads:
            problems.append(f"{case}: the table says loads={loads}, real {flavor} Caffe: {real.refusal}")
            continue
        ours = run_simulate(str(path), phase="TRAIN", flavor=flavor, build=build_setting_of(ORACLE_BUILDS[flavor]))
        if real.structure is None:
            continue

        def shown(name: str) -> str:
            return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

        if [shown(layer["name"]) for layer in ours["layers"]] != [layer["name"] for layer in real.structure["layers"]]:
            problems.append(f"{case}: layer names differ")
        if [shown(blob) for blob in ours["blobs"]] != real.structure["blobs"]:
            problems.append(f"{case}: blob names differ")
    assert not problems, "\n".join(problems)
