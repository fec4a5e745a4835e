from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from backprop_lint.linting.fix import (
    EditOutOfRange,
    LineOffsets,
    UnsafeWrite,
    apply_edits,
    plan_fixes,
    unified_diff,
    write_atomically,
    write_fixed_file,
)
from backprop_lint.caffe.model import Location
from backprop_lint.linting.findings import Finding, Fix, TextEdit

TEXT = 'name: "n"  # keep me\r\nlayer {\r\n  name: "relu1"\r\n  propagate_down: false\r\n}\r\n'


def edit(sl: int, sc: int, el: int, ec: int, text: str, file: str = "n.prototxt") -> TextEdit:
    return TextEdit(file, sl, sc, el, ec, text)


def finding(line: int, fix: Fix, code: str = "BL201") -> Finding:
    return Finding(
        code=code, name="x", severity="error", location=Location("n.prototxt", line, 1), message="m", fix=fix
    )


def test_edits_apply_from_the_end_and_keep_every_other_byte() -> None:
    result = apply_edits(TEXT, [edit(1, 1, 1, 1, "force_backward: true\r\n"), edit(4, 1, 5, 1, "")])
    assert result == 'force_backward: true\r\nname: "n"  # keep me\r\nlayer {\r\n  name: "relu1"\r\n}\r\n'


def test_overlapping_fixes_are_deferred_and_identical_ones_applied_once() -> None:
    delete_line = Fix("remove propagate_down", (edit(4, 1, 5, 1, ""),))
    change_value = Fix("set propagate_down true", (edit(4, 19, 4, 24, "true"),))
    plan = plan_fixes(
        TEXT,
        "n.prototxt",
        [finding(4, delete_line), finding(4, change_value, "BL202"), finding(4, delete_line, "BL203")],
    )
    assert [f.code for f in plan.applied] == ["BL201", "BL203"]
    assert [f.code for f in plan.deferred] == ["BL202"]
    assert "propagate_down" not in plan.new_text


def test_unsafe_fixes_are_refused_with_reason_and_advice_is_skipped() -> None:
    unsafe = Fix("drop layer", (edit(2, 1, 6, 1, ""),), safe=False, unsafe_reason="changes what the net computes")
    advice = Fix("declare the layer in pyproject.toml")
    plan = plan_fixes(TEXT, "n.prototxt", [finding(2, unsafe), finding(3, advice)])
    assert plan.new_text == TEXT
    assert [reason for _, reason in plan.refused] == ["changes what the net computes"]
    assert plan.applied == [] and plan.deferred == []


def test_fix_touching_another_file_is_refused() -> None:
    other = Fix("x", (edit(1, 1, 1, 1, "y", file="other.prototxt"),))
    plan = plan_fixes(TEXT, "n.prototxt", [finding(1, other)])
    assert plan.refused[0][1] == "the fix edits another file"


@pytest.mark.parametrize("line, col", [(0, 1), (7, 1), (1, 0), (2, 12)])
def test_out_of_range_positions_are_rejected(line: int, col: int) -> None:
    with pytest.raises(EditOutOfRange):
        LineOffsets(TEXT).offset(line, col)


def test_end_of_line_and_end_of_file_are_valid_positions() -> None:
    offsets = LineOffsets("ab\ncd")
    assert offsets.offset(1, 3) == 2
    assert offsets.offset(2, 3) == 5


def test_atomic_write_keeps_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_bytes(TEXT.encode())
    os.chmod(path, 0o640)
    write_fixed_file(path, "new\r\n", None)
    assert path.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["net.prototxt"]


def test_failed_write_leaves_the_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text("original")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(UnsafeWrite, match="cannot rename the fixed copy over it"):
        write_fixed_file(path, "new", None)
    assert path.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["net.prototxt"]


def test_unified_diff_names_both_sides() -> None:
    diff = unified_diff("n.prototxt", "a\nb\n", "a\nc")
    assert diff.splitlines() == [
        "--- a/n.prototxt",
        "+++ b/n.prototxt",
        "@@ -1,2 +1,2 @@",
        " a",
        "-b",
        "+c",
        "\\ No newline at end of file",
    ]


def test_output_files_are_created_or_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """write_atomically is for outputs (graph pictures): a new file is created, an existing one keeps its mode."""
    new = tmp_path / "picture.svg"
    write_atomically(new, "<svg/>")
    assert new.read_text() == "<svg/>"
    os.chmod(new, 0o640)
    write_atomically(new, "<svg></svg>")
    assert new.read_text() == "<svg></svg>" and stat.S_IMODE(new.stat().st_mode) == 0o640

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomically(new, "lost")
    assert new.read_text() == "<svg></svg>" and [p.name for p in tmp_path.iterdir()] == ["picture.svg"]
