"""File-system I/O under reading and writing: inputs opened (``-`` is standard input),
outputs written atomically (``-`` is standard output), the umask, and the one-line reason
for an I/O error. Standard library only.

``atomic_write(path, write)`` calls ``write(fileobj)`` on a temporary file in the target
folder and renames it into place; on any error or interrupt the temporary file is removed
and ``path`` is untouched. The new file gets the permissions of the file it replaces, or
those the umask gives.
"""

from __future__ import annotations

import io
import os
import re
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path

from ..errors import ImageError


def one_line(exc: BaseException) -> str:
    """A short one-line reason for an exception."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, MemoryError):
        return "not enough memory"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _read_stdin() -> bytes:
    stream = sys.stdin
    if stream is None:
        raise ImageError("there is no standard input")
    try:
        if stream.isatty():
            raise ImageError("standard input is a terminal; pipe an image into it")
    except (AttributeError, ValueError):
        pass
    buf = getattr(stream, "buffer", stream)
    try:
        data = buf.read()
    except OSError as exc:
        raise ImageError(f"cannot read standard input: {one_line(exc)}") from exc
    if isinstance(data, str):  # a text stream without a binary buffer
        data = data.encode("latin-1", "replace")
    return data


@contextmanager
def open_input(path):
    """-> (binary file object, source name, size in bytes); ``-`` is standard input."""
    source = str(path)
    if source == "-":
        data = _read_stdin()
        yield io.BytesIO(data), "-", len(data)
        return
    try:
        f = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ImageError(one_line(exc)) from exc
    try:
        try:
            size = os.fstat(f.fileno()).st_size
        except OSError as exc:  # pragma: no cover - fstat on an open file
            raise ImageError(one_line(exc)) from exc
        yield f, source, size
    finally:
        f.close()


_umask_value: int | None = None


def _umask() -> int:
    global _umask_value
    if _umask_value is None:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("Umask:"):
                        _umask_value = int(line.split()[1], 8)
                        break
        except (OSError, ValueError):
            pass
        if _umask_value is None:  # not Linux: read it once (briefly sets it)
            old = os.umask(0o022)
            os.umask(old)
            _umask_value = old
    return _umask_value


#: what every poolcli temporary file's name ends with
TMP_SUFFIX = ".poolcli-tmp"
#: a file name's limit in bytes on the usual file systems (ext4, XFS, btrfs, APFS, NTFS)
NAME_MAX = 255
_TMP_NAME = re.compile(r"^\..*\.([0-9a-f]{8})-([0-9]+)-[0-9a-f]{8}" + re.escape(TMP_SUFFIX) + "$",
                       re.DOTALL)
_host_tag: str | None = None


def _hostname() -> str:
    """``socket.gethostname()``, without importing socket where ``os.uname`` says the same
    (Linux, macOS): a single file's run does not pay for the socket module."""
    try:
        return os.uname().nodename
    except AttributeError:  # Windows
        import socket

        return socket.gethostname()


def host_tag() -> str:
    """This host's name as 8 hex digits (CRC-32): the temporaries' names say where they were
    made, so a run never judges a process of another host sharing the folder (NFS)."""
    global _host_tag
    if _host_tag is None:
        _host_tag = f"{zlib.crc32(_hostname().encode('utf-8', 'replace')):08x}"
    return _host_tag


def temporary_name(name: str) -> str:
    """``.<name>.<host>-<pid>-<random>.poolcli-tmp``, ``name`` shortened (at a character
    boundary) so that the whole fits in 255 bytes whatever the output's name."""
    tail = f".{host_tag()}-{os.getpid()}-{os.urandom(4).hex()}{TMP_SUFFIX}"
    room = NAME_MAX - 1 - len(tail.encode())
    full = os.fsencode(name)
    raw = full[:room]
    if len(raw) < len(full):  # cut: not inside a UTF-8 sequence (at most 3 bytes back)
        for back in range(4):
            try:
                raw[:len(raw) - back].decode("utf-8")
            except UnicodeDecodeError:
                continue
            raw = raw[:len(raw) - back]
            break
    head = os.fsdecode(raw)
    return f".{head}{tail}"


def make_temporary(path) -> tuple[int, str]:
    """Create (exclusively, mode 0600 until renamed) a temporary file beside ``path``;
    -> (file descriptor, its path). Its name tells which process of which host made it
    (``remove_stale_temporaries``)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    for _ in range(100):
        tmp = os.path.join(folder, temporary_name(path.name))
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                           0o600), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue
    raise FileExistsError(f"cannot create a temporary file in {folder}")  # pragma: no cover


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: alive
    return True


def remove_stale_temporaries(folder) -> list[str]:
    """Remove the temporaries that dead poolcli processes of this host left in ``folder``
    (a ``kill -9`` or a power cut during a write); -> the paths removed. A temporary of a
    live process, or of another host, is never touched. Best effort: errors are ignored."""
    removed = []
    me = host_tag()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = _TMP_NAME.match(e.name)
        if m is None or m.group(1) != me:
            continue
        pid = int(m.group(2))
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            if e.is_file(follow_symlinks=False):
                os.unlink(e.path)
                removed.append(e.path)
        except OSError:
            pass
    return removed


def normal_mode(path) -> int:
    """The permissions a new file at ``path`` gets: those of the file it replaces, or
    0666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def atomic_write(path, write) -> int:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it into place.

    On any error (or Ctrl-C) the temporary file is removed and ``path`` is untouched.
    ``path == "-"`` writes to standard output (binary). Returns the bytes written.
    """
    if str(path) == "-":
        buf = io.BytesIO()
        write(buf)
        data = buf.getvalue()
        out = getattr(sys.stdout, "buffer", None)
        if out is None:
            raise ImageError("standard output cannot take binary data")
        out.write(data)
        out.flush()
        return len(data)
    path = Path(path)
    mode = normal_mode(path)
    fd, tmp = make_temporary(path)
    try:
        with os.fdopen(fd, "w+b") as f:  # w+: Pillow's multi-page TIFF writer reads back
            write(f)
        size = os.path.getsize(tmp)
        try:
            os.chmod(tmp, mode)
        except OSError:  # pragma: no cover - a file system without permissions
            pass
        os.replace(tmp, path)
        return size
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
