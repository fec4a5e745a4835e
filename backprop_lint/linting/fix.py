"""Applying findings' fixes to a file: byte-preserving, all-or-nothing.

Edits are applied from the end of the file backwards so earlier positions stay
valid; everything outside an edit, comments and line endings included, is kept
byte for byte, and inserted lines end as the file's lines do (CRLF or LF). A
fix whose edits overlap an already accepted fix is left for the next pass (the
caller re-lints and fixes again). ``write_fixed_file`` writes the result as
careful editors do (see its docstring).
"""

from __future__ import annotations

import os
import stat

from backprop_lint.caffe import text_bytes
from backprop_lint.caffe.files import kind_of, os_error_message
from backprop_lint.caffe.records import Record
from backprop_lint.linting.findings import Finding, Fix, TextEdit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Iterable, List, Optional, Sequence, Tuple

    from backprop_lint.caffe.files import FileSnapshot


class EditOutOfRange(ValueError):
    """An edit names a position the text does not have."""


class FixPlan(Record):
    """What --fix will do to one file's text."""

    __slots__ = ("applied", "deferred", "refused", "new_text")
    applied: List[Finding]
    #: fixable but overlapping an applied fix: will be retried after re-linting
    deferred: List[Finding]
    #: (finding, why --fix will not apply it)
    refused: List[Tuple[Finding, str]]
    new_text: str

    def __init__(
        self,
        applied: Optional[List[Finding]] = None,
        deferred: Optional[List[Finding]] = None,
        refused: Optional[List[Tuple[Finding, str]]] = None,
        new_text: str = "",
    ) -> None:
        self.applied = [] if applied is None else applied
        self.deferred = [] if deferred is None else deferred
        self.refused = [] if refused is None else refused
        self.new_text = new_text


def is_applicable(fix: Fix) -> bool:
    return fix.safe and bool(fix.edits)


def refusal_reason(fix: Fix) -> str:
    if not fix.edits:
        return "the fix is advice only; change the net by hand"
    return fix.unsafe_reason or "the fix is marked unsafe"


def plan_fixes(text: str, file: str, findings: Iterable[Finding]) -> FixPlan:
    """Choose non-overlapping safe fixes for ``file`` and apply them to ``text``."""
    plan = FixPlan(new_text=text)
    offsets = LineOffsets(text)
    accepted: List[Tuple[int, int, TextEdit]] = []
    seen_edit_sets: set = set()
    for finding in sorted(findings, key=Finding.sort_key):
        fix = finding.fix
        if fix is None or not fix.edits:  # advice only: nothing for --fix to do or to refuse
            continue
        if not is_applicable(fix):
            plan.refused.append((finding, refusal_reason(fix)))
            continue
        if any(edit.file != file for edit in fix.edits):
            plan.refused.append((finding, "the fix edits another file"))
            continue
        if fix.edits in seen_edit_sets:  # the same fix reported for several states or rules
            plan.applied.append(finding)
            continue
        spans = [
            (offsets.offset(e.start_line, e.start_col), offsets.offset(e.end_line, e.end_col), e) for e in fix.edits
        ]
        if any(start > end for start, end, _ in spans):
            plan.refused.append((finding, "the fix has an edit that ends before it starts"))
            continue
        if any(_overlaps(span, other) for span in spans for other in accepted):
            plan.deferred.append(finding)
            continue
        accepted.extend(spans)
        seen_edit_sets.add(fix.edits)
        plan.applied.append(finding)
    plan.new_text = _apply_spans(text, accepted)
    return plan


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """``text`` with ``edits`` applied (they must not overlap)."""
    offsets = LineOffsets(text)
    spans = [(offsets.offset(e.start_line, e.start_col), offsets.offset(e.end_line, e.end_col), e) for e in edits]
    for index, span in enumerate(spans):
        if any(_overlaps(span, other) for other in spans[index + 1 :]):
            raise ValueError("overlapping edits")
    return _apply_spans(text, spans)


def line_ending(text: str) -> str:
    """The file's own line ending: CRLF when most of its lines end so, else LF."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


def _with_line_ending(inserted: str, newline: str) -> str:
    if newline == "\n":
        return inserted
    return inserted.replace("\r\n", "\n").replace("\n", newline)


def _apply_spans(text: str, spans: List[Tuple[int, int, TextEdit]]) -> str:
    # Sorting by (start, end) then applying from the end keeps insertions at the same point in order.
    newline = line_ending(text)
    for start, end, edit in sorted(spans, key=lambda span: (span[0], span[1]), reverse=True):
        text = text[:start] + _with_line_ending(edit.text, newline) + text[end:]
    return text


def _overlaps(a: Tuple[int, int, TextEdit], b: Tuple[int, int, TextEdit]) -> bool:
    """Two replaced ranges overlap; two insertions at one point conflict too."""
    (a_start, a_end, _), (b_start, b_end, _) = a, b
    if a_start == a_end == b_start == b_end:
        return True
    return a_start < b_end and b_start < a_end


class LineOffsets:
    """Converts 1-based (line, column) positions to string offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for index, char in enumerate(text):
            if char == "\n":
                self.starts.append(index + 1)

    def offset(self, line: int, col: int) -> int:
        if not 1 <= line <= len(self.starts):
            raise EditOutOfRange(f"line {line} is outside the file (1..{len(self.starts)})")
        start = self.starts[line - 1]
        line_end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        offset = start + col - 1
        # A column one past the end of a line (just before its newline) is valid.
        if col < 1 or offset > line_end:
            raise EditOutOfRange(f"column {col} is outside line {line}")
        return offset


def read_source(path: Path) -> str:
    """A text file exactly as stored (no newline translation)."""
    return text_bytes.decode(path.read_bytes())


class UnsafeWrite(Exception):
    """``--fix`` will not (or cannot) write a file; the file is left exactly as it was."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def write_fixed_file(path: Path, text: str, read_as: Optional[FileSnapshot], *, force: bool = False) -> Optional[str]:
    """Write ``text`` over the net at ``path``, which was read as ``read_as``; a note to show, or None.

    What careful editors do, and what is refused (``UnsafeWrite``, nothing written):

    * a symlink: its target is written (the link is kept) and the note says which file that is;
    * a file that changed since it was read (identity, size, mtime or content): refused;
    * a read-only file (no write permission bit, or not writable by you): refused unless ``force``;
    * a file with several hard links: refused unless ``force``, which writes it in place, so
      every link sees the fix (a rename would give this path a new file and leave the others);
    * otherwise a new file is written next to it, fsynced, given the old mode, owner and group,
      checked once more against ``read_as``, then renamed over it (atomic). When the owner or
      group cannot be kept (it is not yours), refused unless ``force``, which writes in place.
    """
    note = None
    target = path
    if path.is_symlink():
        from pathlib import Path  # only when a file is written

        target = Path(os.path.realpath(path))
        note = f"{path} is a symlink: the fix was written to its target, {target}"
    data = text_bytes.encode(text)  # bytes that were not UTF-8 go back as they were
    status = _current_status(target)
    _check_unchanged(target, status, read_as)
    if not _is_writable(target, status) and not force:
        raise UnsafeWrite(
            f"is read-only (mode {stat.S_IMODE(status.st_mode):04o}), so --fix leaves it alone; "
            "make it writable, or pass --force to rewrite it anyway (its mode is kept)"
        )
    if status.st_nlink > 1:
        if not force:
            raise UnsafeWrite(
                f"has {status.st_nlink} hard links: replacing it would give this name a new file and leave "
                "the other names with the old net; pass --force to write it in place, through every link"
            )
        _write_in_place(target, data, read_as)
        return note
    if not _replace_keeping_metadata(target, data, status, read_as):
        if not force:
            raise UnsafeWrite(
                f"belongs to uid {status.st_uid} / gid {status.st_gid} and a new file cannot be given that owner "
                "(you are not root): replacing it would change its owner; pass --force to write it in place"
            )
        _write_in_place(target, data, read_as)
    return note


def _current_status(target: Path) -> os.stat_result:
    try:
        status = os.stat(target)
    except OSError as error:
        raise UnsafeWrite(f"cannot look at it again before writing: {os_error_message(target, error)}") from None
    if not stat.S_ISREG(status.st_mode):
        raise UnsafeWrite(f"{kind_of(status.st_mode)} any more")
    return status


def _is_writable(target: Path, status: os.stat_result) -> bool:
    # root may write anything: the permission bits say what the owner meant
    return bool(status.st_mode & 0o222) and os.access(target, os.W_OK)


def _check_unchanged(target: Path, status: os.stat_result, read_as: Optional[FileSnapshot]) -> None:
    if read_as is None:
        return
    same = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns) == read_as[:4]
    if same:
        from hashlib import sha256

        try:
            with open(target, "rb") as stream:
                same = sha256(stream.read(read_as.size + 1)).digest() == read_as.digest
        except OSError as error:
            raise UnsafeWrite(f"cannot read it again before writing: {os_error_message(target, error)}") from None
    if not same:
        raise UnsafeWrite(
            "changed on disk while backprop-lint was fixing it; the fix was not written, "
            "so the other change is kept: run --fix again"
        )


def _replace_keeping_metadata(
    target: Path, data: bytes, status: os.stat_result, read_as: Optional[FileSnapshot]
) -> bool:
    """Write a sibling temporary file and rename it over ``target``; False if the owner cannot be kept."""
    directory = target.parent
    try:
        handle, temp_name = _temporary_file_beside(target)
    except OSError as error:
        raise UnsafeWrite(
            f"cannot create a temporary file in its directory {directory} to replace it atomically "
            f"({error.strerror or error})"
        ) from None
    try:
        try:
            _write_all(handle, data)
            os.fsync(handle)
        except OSError as error:
            raise UnsafeWrite(f"cannot write the fixed net ({error.strerror or error})") from None
        os.fchmod(handle, stat.S_IMODE(status.st_mode))
        if (status.st_uid, status.st_gid) != _owner_of(handle):
            try:
                os.fchown(handle, status.st_uid, status.st_gid)
            except PermissionError:
                os.close(handle)
                handle = -1
                os.unlink(temp_name)
                return False
        os.close(handle)
        handle = -1
        _check_unchanged(target, _current_status(target), read_as)
        try:
            os.replace(temp_name, target)
        except OSError as error:
            raise UnsafeWrite(f"cannot rename the fixed copy over it ({error.strerror or error})") from None
    except BaseException:
        if handle >= 0:
            os.close(handle)
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise
    return True


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def _owner_of(descriptor: int) -> Tuple[int, int]:
    status = os.fstat(descriptor)
    return status.st_uid, status.st_gid


def _write_in_place(target: Path, data: bytes, read_as: Optional[FileSnapshot]) -> None:
    """Overwrite ``target``'s own bytes (same inode: hard links and owner kept; not atomic)."""
    _check_unchanged(target, _current_status(target), read_as)
    try:
        descriptor = os.open(target, os.O_WRONLY)
    except OSError as error:
        raise UnsafeWrite(f"cannot open it to write it in place ({error.strerror or error})") from None
    try:
        _write_all(descriptor, data)
        os.ftruncate(descriptor, len(data))
        os.fsync(descriptor)
    except OSError as error:
        raise UnsafeWrite(
            f"writing it in place failed ({error.strerror or error}); it may be partly written: "
            "check it (your version control has the original)"
        ) from None
    finally:
        os.close(descriptor)


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask), not mkstemp's private 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def __getattr__(name: str) -> Any:
    """``fix.tempfile``: the module, imported on first use (see ``_temporary_file_beside``)."""
    if name == "tempfile":
        import tempfile

        return tempfile
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _temporary_file_beside(path: Path, directory: Optional[Path] = None) -> Tuple[int, str]:
    """``tempfile.mkstemp`` in ``path``'s directory (or ``directory``), hidden, named after it.
    tempfile (shutil, random, the compression modules) is imported only when a file is
    written: about 40 M instructions of every `check` otherwise."""
    import tempfile

    folder = path.parent if directory is None else directory
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(folder))


def write_atomically(path: Path, text: str) -> None:
    """Create or replace an output file (a report, a baseline, a picture; not a net being fixed) in one rename.

    An existing file keeps its mode, a new one gets ``open()``'s. Raises ``OSError`` on failure, written
    through one raw descriptor so that a failed write raises once and leaves no temporary file.
    """
    directory = path.resolve().parent
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else _new_file_mode()
    handle, temp_name = _temporary_file_beside(path, directory)
    try:
        try:
            _write_all(handle, text_bytes.encode(text))
            os.fsync(handle)
            os.fchmod(handle, mode)
        finally:
            os.close(handle)
        os.replace(temp_name, str(path.resolve()))
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


def unified_diff(path: str, before: str, after: str) -> str:
    import difflib

    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
