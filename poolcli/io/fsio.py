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
import sys
import tempfile
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
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".poolcli-tmp",
                               dir=path.parent if str(path.parent) else ".")
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
