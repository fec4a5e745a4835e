"""Reading input files without surprises: regular files only, bounded, never blocking.

Caffe's ``ReadProtoFromTextFile`` opens whatever path it is given. A linter
run over a directory, in a pre-commit hook or in CI, must not hang on a FIFO,
stream ``/dev/zero`` into memory or call a symlink loop "no such file". So
every path is classified with ``stat`` before it is opened, it is opened
non-blocking, checked again on the open descriptor (the path may have changed
in between), and at most ``limit + 1`` bytes are read.
"""
from __future__ import annotations

import errno
import os
import stat

from backprop_lint.caffe.model import InputError, Location
from backprop_lint.caffe.records import FrozenRecord, LazyNamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional, Tuple, Union

    PathArg = Union[str, "os.PathLike[str]"]

#: bytes read first, to choose a size limit (text or binary) before reading the rest
HEAD_BYTES = 4096
#: why a file over its size limit is refused, unless the limit says otherwise
DEFAULT_REASON = "a Caffe net definition is far smaller, so this is probably not one (raise the limit if it really is)"


class SizeLimit(FrozenRecord):
    """A file size limit and why it is what it is (said when a file is refused for it).

    A record, not a named tuple: a run makes one, and a named tuple class compiles its
    constructor when the class is made (0.2 M instructions at every start)."""

    __slots__ = ("bytes", "reason")
    bytes: int
    reason: str

    def __init__(self, bytes: int, reason: str = DEFAULT_REASON) -> None:
        self._set(bytes, reason)


class FileSnapshot(LazyNamedTuple):
    """What identifies a file's content on disk at the moment it was read (only ``check`` keeps one)."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    #: SHA-256 of the bytes read (catches a change that keeps size and mtime)
    digest: bytes

    @classmethod
    def of(cls, status: os.stat_result, data: bytes) -> "FileSnapshot":
        import hashlib  # only `check` keeps snapshots (for --fix); `simulate` never imports it

        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, hashlib.sha256(data).digest())


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words (``is a FIFO...``)."""
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a file; backprop-lint reads only regular files, so it never waits on a pipe"
    if stat.S_ISCHR(mode):
        return "is a character device, not a file; backprop-lint reads only regular files"
    if stat.S_ISBLK(mode):
        return "is a block device, not a file; backprop-lint reads only regular files"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file; backprop-lint reads only regular files"
    return "is not a regular file; backprop-lint reads only regular files"


def os_error_message(path: PathArg, error: OSError) -> str:
    """An ``OSError`` about ``path`` in the user's terms (without the path itself)."""
    code = error.errno
    if code == errno.ENOENT:
        try:
            target = os.readlink(path)
        except OSError:
            return "no such file or directory"
        return f"is a symlink to '{target}', which does not exist"
    if code == errno.ELOOP:
        return "is a symlink loop: following its links never reaches a file"
    if code == errno.ENAMETOOLONG:
        return (
            f"the path ({len(os.fspath(path))} characters) is longer than the operating system allows "
            "(a name over 255 bytes or a path over 4096): it cannot name a file"
        )
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied: you cannot read it (or a directory on its path)"
    if code == errno.ENOTDIR:
        return "a part of the path is a file, not a directory"
    if code == errno.EISDIR:
        return "is a directory, not a file"
    return f"cannot read it: {error.strerror or error}"


def problem_with(path: PathArg) -> Optional[str]:
    """Why ``path`` cannot be read as a file or searched as a directory; None when it can."""
    try:
        status = os.stat(path)
    except OSError as error:
        return os_error_message(path, error)
    except ValueError:  # a NUL byte in the path
        return "the path contains a NUL byte: it cannot name a file"
    if stat.S_ISREG(status.st_mode) or stat.S_ISDIR(status.st_mode):
        return None
    return kind_of(status.st_mode)


def read_regular_file(
    path: PathArg,
    limit_for: Callable[[bytes], Union[int, SizeLimit]],
    *,
    name: Optional[str] = None,
    inspect: Optional[Callable[[bytes, int, Callable[[int, int], bytes]], None]] = None,
) -> Tuple[bytes, FileSnapshot]:
    """The bytes of a regular file, refused past ``limit_for(first 4 KB)`` bytes, and its snapshot.

    Raises ``InputError`` (no position: the problem is the whole file) for anything else.
    """
    data, status = read_regular_bytes(path, limit_for, name=name, inspect=inspect)
    return data, FileSnapshot.of(status, data)


def read_regular_bytes(
    path: PathArg,
    limit_for: Callable[[bytes], Union[int, SizeLimit]],
    *,
    name: Optional[str] = None,
    inspect: Optional[Callable[[bytes, int, Callable[[int, int], bytes]], None]] = None,
) -> Tuple[bytes, os.stat_result]:
    """``read_regular_file`` without the snapshot: the bytes and the file's status when read.

    ``inspect(first 4 KB, size, read(offset, count))``, when given, runs before the
    rest of the file is read, to refuse it (``InputError``) from what a few reads show.
    """
    display = name if name is not None else os.fspath(path)
    where = Location(display)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            raise InputError(kind_of(status.st_mode), where)
        descriptor = os.open(path, flags)
    except OSError as error:
        raise InputError(os_error_message(path, error), where) from None
    except ValueError:
        raise InputError("the path contains a NUL byte: it cannot name a file", where) from None
    try:
        status = os.fstat(descriptor)  # the path may have been swapped since the stat above
        if not stat.S_ISREG(status.st_mode):
            raise InputError(kind_of(status.st_mode), where)
        head = _read_up_to(descriptor, HEAD_BYTES)
        chosen = limit_for(head)
        limit, reason = (chosen.bytes, chosen.reason) if isinstance(chosen, SizeLimit) else (chosen, DEFAULT_REASON)
        if status.st_size > limit:
            raise too_big(display, status.st_size, limit, "bytes", reason)
        if inspect is not None:
            inspect(head, status.st_size, lambda offset, count: _read_at(descriptor, offset, count))
        data = _read_whole(descriptor, head, status.st_size, limit)
    except OSError as error:
        raise InputError(os_error_message(path, error), where) from None
    finally:
        os.close(descriptor)
    if len(data) > limit:  # it grew while we read it
        raise too_big(display, len(data), limit, "bytes", reason)
    return data, status


def _read_whole(descriptor: int, head: bytes, size: int, limit: int) -> bytes:
    """The file from its start, at most ``limit + 1`` bytes, in one buffer when its size holds:
    a 500 MB .caffemodel costs 500 MB, not twice that for chunks joined."""
    if len(head) < HEAD_BYTES:
        return head  # the whole file
    os.lseek(descriptor, 0, os.SEEK_SET)
    data = os.read(descriptor, size + 1)
    rest = _read_up_to(descriptor, limit + 1 - len(data))  # a short read, or a file growing as we read
    return data + rest if rest else data


def _read_at(descriptor: int, offset: int, count: int) -> bytes:
    os.lseek(descriptor, offset, os.SEEK_SET)
    return _read_up_to(descriptor, count)


def _read_up_to(descriptor: int, count: int) -> bytes:
    chunks = []
    while count > 0:
        chunk = os.read(descriptor, min(count, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def too_big(file: str, size: int, limit: int, unit: str, reason: str = DEFAULT_REASON) -> InputError:
    return InputError(f"the input is {size} {unit}, over the limit of {limit}; {reason}", Location(file))
