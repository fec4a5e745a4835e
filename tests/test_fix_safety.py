"""How ``check --fix`` writes a net: what it keeps, what it refuses, and that a refusal writes nothing (issue 12)."""
from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from backprop_lint.caffe.load import read_net_file
from backprop_lint.cli.commands import main
from backprop_lint.linting import fix as fix_module
from backprop_lint.linting.fix import UnsafeWrite, write_fixed_file
from example_nets import NO_LOSS

REPO = Path(__file__).resolve().parents[1]


def fix(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, str]:
    code = main(["check", "--fix", "--no-progress", *argv])
    return code, capsys.readouterr().err


def net_in(directory: Path, name: str = "net.prototxt") -> Path:
    path = directory / name
    path.write_text(NO_LOSS)
    return path


def is_fixed(path: Path) -> bool:
    return "force_backward: true" in path.read_text()


def leftovers(directory: Path) -> List[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def test_plain_fix_keeps_mode_and_inode_is_new(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    os.chmod(path, 0o640)
    before = os.stat(path)
    code, err = fix(capsys, str(path))
    assert is_fixed(path) and "Fixed 1 problem in 1 file." in err
    after = os.stat(path)
    assert stat.S_IMODE(after.st_mode) == 0o640 and after.st_ino != before.st_ino  # atomic rename
    assert leftovers(tmp_path) == []


def test_read_only_file_is_refused_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    os.chmod(path, 0o444)
    code, err = fix(capsys, str(path))
    assert code == 1 and not is_fixed(path)
    assert f"{path}: error: not fixed: is read-only (mode 0444)" in err and "--force" in err
    assert "Fixed" not in err
    code, err = fix(capsys, "--force", str(path))
    assert is_fixed(path) and stat.S_IMODE(os.stat(path).st_mode) == 0o444


def test_refused_file_is_reported_as_it_still_is(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    os.chmod(path, 0o444)
    code = main(["check", "--fix", "--no-progress", "--format", "json", str(path)])
    out = capsys.readouterr().out
    assert code == 1 and '"BL201"' in out  # still there: the fix was not written


def test_refusal_is_an_error_even_with_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    os.chmod(path, 0o444)
    code, _ = fix(capsys, "--exit-zero", str(path))
    assert code == 1


def test_hard_links_are_refused_or_written_in_place(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    other = tmp_path / "copy.prototxt.bak"
    os.link(path, other)
    code, err = fix(capsys, str(path))
    assert code == 1 and not is_fixed(path) and "has 2 hard links" in err
    inode = os.stat(path).st_ino
    code, err = fix(capsys, "--force", str(path))
    assert is_fixed(path) and is_fixed(other)
    assert os.stat(path).st_ino == inode == os.stat(other).st_ino and os.stat(path).st_nlink == 2


def test_symlink_target_is_written_and_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "elsewhere").mkdir()
    target = net_in(tmp_path / "elsewhere", "real.prototxt")
    link = tmp_path / "link.prototxt"
    link.symlink_to(Path("elsewhere") / "real.prototxt")
    code, err = fix(capsys, str(link))
    assert is_fixed(target) and link.is_symlink() and os.readlink(link) == str(Path("elsewhere") / "real.prototxt")
    assert f"note: {link} is a symlink: the fix was written to its target, {target.resolve()}" in err
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "elsewhere") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file another owner to test keeping it")
def test_owner_and_group_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    os.chown(path, 12345, 23456)
    fix(capsys, str(path))
    status = os.stat(path)
    assert is_fixed(path) and (status.st_uid, status.st_gid) == (12345, 23456)


def test_owner_that_cannot_be_kept_is_refused_or_written_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = net_in(tmp_path)
    status = os.stat(path)
    someone_else = (status.st_uid + 1, status.st_gid + 1)
    real_stat = os.stat

    def stat_as_if_owned_by_someone_else(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        result = real_stat(target, *args, **kwargs)
        if str(target) == str(path):
            fields = list(result)
            fields[4:6] = someone_else
            return os.stat_result(fields, {"st_mtime_ns": result.st_mtime_ns})
        return result

    def fchown(descriptor: int, uid: int, gid: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(fix_module.os, "stat", stat_as_if_owned_by_someone_else)
    monkeypatch.setattr(fix_module.os, "fchown", fchown)
    _, snapshot = read_net_file(path)
    with pytest.raises(UnsafeWrite, match=f"belongs to uid {someone_else[0]}"):
        write_fixed_file(path, NO_LOSS + "force_backward: true\n", snapshot)
    assert not is_fixed(path) and leftovers(tmp_path) == []
    inode = status.st_ino
    write_fixed_file(path, NO_LOSS + "force_backward: true\n", snapshot, force=True)
    assert is_fixed(path) and real_stat(path).st_ino == inode


def test_a_change_made_while_fixing_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone saves the file after backprop-lint read it and before it writes: their change wins."""
    path = net_in(tmp_path)
    their_text = NO_LOSS.replace('"features"', '"edited meanwhile"')
    real_plan = fix_module.plan_fixes

    def plan_then_edit(*args: Any, **kwargs: Any) -> Any:
        path.write_text(their_text)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(fix_module, "plan_fixes", plan_then_edit)
    code, err = fix(capsys, str(path))
    assert path.read_text() == their_text
    assert code == 1 and "changed on disk while backprop-lint was fixing it" in err
    assert leftovers(tmp_path) == []


def test_a_change_by_another_process_keeping_size_and_mtime_is_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second process rewrites the file in place with same-size content and restores the mtime."""
    path = net_in(tmp_path)
    their_text = NO_LOSS.replace('"features"', '"FEATURES"')
    real_plan = fix_module.plan_fixes
    editor = (
        "import os, sys\n"
        "path, text = sys.argv[1], sys.argv[2]\n"
        "status = os.stat(path)\n"
        "with open(path, 'r+') as stream:\n"
        "    stream.write(text)\n"
        "os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))\n"
    )

    def plan_while_another_process_edits(*args: Any, **kwargs: Any) -> Any:
        subprocess.run([sys.executable, "-c", editor, str(path), their_text], check=True)
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(fix_module, "plan_fixes", plan_while_another_process_edits)
    code, err = fix(capsys, str(path))
    assert path.read_text() == their_text and "changed on disk" in err


def test_a_change_between_the_temporary_file_and_the_rename_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = net_in(tmp_path)
    _, snapshot = read_net_file(path)
    real_write_all = fix_module._write_all

    def write_then_someone_edits(descriptor: int, data: bytes) -> None:
        real_write_all(descriptor, data)
        path.write_text("# replaced by hand\n")

    monkeypatch.setattr(fix_module, "_write_all", write_then_someone_edits)
    with pytest.raises(UnsafeWrite, match="changed on disk"):
        write_fixed_file(path, NO_LOSS + "force_backward: true\n", snapshot)
    assert path.read_text() == "# replaced by hand\n" and leftovers(tmp_path) == []


def test_unwritable_directory_names_the_net_and_its_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = net_in(tmp_path)

    def mkstemp(*args: Any, **kwargs: Any) -> Tuple[int, str]:
        raise PermissionError(13, "Permission denied", str(tmp_path / ".net.prototxt.abc.tmp"))

    monkeypatch.setattr(fix_module.tempfile, "mkstemp", mkstemp)
    code, err = fix(capsys, str(path))
    [line] = [line for line in err.splitlines() if "not fixed" in line]
    assert line == (
        f"{path}: error: not fixed: cannot create a temporary file in its directory {tmp_path} "
        "to replace it atomically (Permission denied)"
    )
    assert code == 1 and not is_fixed(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory anyway (monkeypatched above)")
def test_unwritable_directory_for_real(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    os.chmod(tmp_path, 0o555)
    try:
        code, err = fix(capsys, str(path))
    finally:
        os.chmod(tmp_path, 0o755)
    assert code == 1 and f"{path}: error: not fixed: cannot create a temporary file" in err


def test_a_failed_write_names_the_net_and_leaves_it_whole(tmp_path: Path) -> None:
    """EFBIG for real: the file-size limit is smaller than the fixed net."""
    path = net_in(tmp_path)
    size = path.stat().st_size

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    result = subprocess.run(
        [sys.executable, "-m", "backprop_lint", "check", "--fix", "--no-progress", "net.prototxt"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        preexec_fn=limit_file_size, timeout=60,
    )
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "net.prototxt: error: not fixed: cannot write the fixed net (File too large)" in result.stderr
    assert result.returncode == 1 and path.read_text() == NO_LOSS and leftovers(tmp_path) == []


def test_diff_writes_nothing_and_needs_no_write_access(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    os.chmod(path, 0o444)
    code = main(["check", "--diff", "--no-progress", str(path)])
    assert code == 1 and "+force_backward: true" in capsys.readouterr().out and not is_fixed(path)


def test_add_suppressions_writes_as_fix_does(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = net_in(tmp_path)
    os.chmod(path, 0o444)
    before = path.read_text()
    code = main(["check", "--add-suppressions", "--no-progress", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and path.read_text() == before
    assert f"{path}: error: not fixed: is read-only (mode 0444)" in err and "Added 0 suppressions in 0 files." in err
    code = main(["check", "--add-suppressions", "--force", "--no-progress", str(path)])
    assert "backprop-lint: disable-file=BL201" in path.read_text() and stat.S_IMODE(os.stat(path).st_mode) == 0o444
