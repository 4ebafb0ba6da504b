"""Pillow opened for poolcli: its decompression-bomb check in reading threads only, and the
first file of a one-file run decoded while the command line is still starting.

``reading()``: Pillow's decompression-bomb check off in this thread only, while poolcli reads.
Our check (``--max-pixels``, from the header, before any decoding) replaces it. Pillow's check
reads the global ``MAX_IMAGE_PIXELS``, and lifting that would lift it for every thread of the
process; instead ``PIL.Image._decompression_bomb_check`` is wrapped once by a function that
skips it in a thread that is inside a poolcli read and calls the original everywhere else, so
Pillow's limit (and its warning) stays in force for all other code.

``start(path, max_pixels)`` / ``take(f)`` / ``drop()``: a one-file run (``poolcli avg
photo.jpg``) spends about as long importing NumPy and poolcli's modules and checking its
options as Pillow then spends decoding the file, and the decoder runs in C without holding the
GIL: ``start`` begins decoding the file in a daemon thread at once, so the two overlap on a
second core (a 12 MP JPEG: about 0.1 s of 0.55 s on the 2-core build machine). Only what the
read that follows would decode the same way is started: a regular file, a JPEG or an 8-bit
PNG of one frame (not MPO, APNG or 16-bit colour), its pixels within ``max_pixels``. ``take``
hands the decoded image to the read of that same file (its device, inode, size and
modification time as the decoding saw them, before and after), waiting for it if need be;
anything else gets None and is read as usual. Nothing else changes: the same Pillow decoder,
the same image object, and every check of the read made as before. This module imports
neither NumPy nor (until its thread runs) Pillow, so the decoding starts before they load.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import sys
import threading
from contextlib import contextmanager

from ..limits import DEFAULT_MAX_PIXELS

_local = threading.local()
_guard_lock = threading.Lock()


@contextmanager
def reading():
    """Pillow's decompression-bomb check off in this thread while poolcli reads (above)."""
    from PIL import Image as PILImage

    with _guard_lock:
        current = PILImage._decompression_bomb_check
        if not getattr(current, "_poolcli_guard", False):
            def check(*args, **kwargs):
                if getattr(_local, "depth", 0):
                    return None
                return current(*args, **kwargs)

            check._poolcli_guard = True  # type: ignore[attr-defined]
            PILImage._decompression_bomb_check = check
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


#: files larger than this are not read whole into memory ahead of time
MAX_BYTES = 512 * 2**20
#: the extensions worth starting early (the formats of photos and screenshots)
EXTENSIONS = (".jpg", ".jpeg", ".png")

_lock = threading.Lock()
_job: _Decoding | None = None


class _Decoding:
    def __init__(self, key: tuple):
        self.key = key  # (device, inode, size, mtime ns) when started
        self.done = threading.Event()
        self.image = None  # the loaded PIL image, when everything matched


def _key(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def start(path: str, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
    """Begin decoding ``path`` in a daemon thread, when it qualifies (above); else nothing.
    ``max_pixels``: as ``load_image``'s (0 or None: no limit)."""
    global _job
    if path == "-" or not str(path).lower().endswith(EXTENSIONS):
        return
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return
    if not stat.S_ISREG(st.st_mode) or not 0 < st.st_size <= MAX_BYTES:
        return
    from PIL import Image as PILImage

    PILImage.preinit()  # imported here: an import in the thread waits for the GIL at every file
    job = _Decoding(_key(st))
    with _lock:
        _job = job
    threading.Thread(target=_run, args=(path, max_pixels, job), daemon=True,
                     name="poolcli-prefetch").start()


#: the GIL's switch interval while a decoding runs: the decoder takes the GIL back after each
#: PNG chunk (64 KiB), and with Python's 5 ms a busy main thread kept it ~3/4 of the time
SWITCH_INTERVAL = 0.0001


def _run(path: str, max_pixels: int | None, job: _Decoding) -> None:
    old = sys.getswitchinterval()
    sys.setswitchinterval(min(old, SWITCH_INTERVAL))
    try:
        _decode(path, max_pixels, job)
    finally:
        sys.setswitchinterval(old)
        job.done.set()


def _decode(path: str, max_pixels: int | None, job: _Decoding) -> None:
    try:
        with open(path, "rb") as f:
            if _key(os.fstat(f.fileno())) != job.key:
                return
            data = f.read()
            if _key(os.fstat(f.fileno())) != job.key or len(data) != job.key[2]:
                return
        from PIL import Image as PILImage

        with reading():
            im = PILImage.open(io.BytesIO(data))
            w, h = im.size
            if max_pixels and w * h > max_pixels:
                return
            if im.format == "PNG":
                deep = data[24] == 16 and data[25] in (2, 4, 6)  # read at full depth elsewhere
                if deep or getattr(im, "n_frames", 1) != 1:
                    return
                merged = one_idat(data)
                if merged is not data:
                    data = merged
                    im = PILImage.open(io.BytesIO(data))
            elif im.format != "JPEG":
                return
            im.decodermaxblock = len(data)  # one decoder call: the GIL taken once, not per 64 KiB
            im.load()
        job.image = im
    except Exception:  # noqa: BLE001 - the read that follows meets the problem and says it
        return


def one_idat(data: bytes) -> bytes:
    """A PNG's consecutive IDAT chunks joined into one (the same zlib stream: chunk boundaries
    mean nothing inside it), so that Pillow decodes it in one call, not once per chunk (the
    GIL taken back 500 times for a 32 MB file). The joined chunk's CRC is left zero: Pillow
    skips the CRC of image data, and these bytes go nowhere else. ``data`` itself when it has
    one IDAT chunk, or its chunks are not as expected."""
    pos, idat = 8, []
    while pos + 12 <= len(data):
        (n,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            if idat and idat[-1][1] != pos:  # IDAT chunks are consecutive, or we stay out
                return data
            idat.append((pos, pos + 12 + n))
        elif kind == b"IEND":
            break
        pos += 12 + n
    if len(idat) < 2 or idat[-1][1] > len(data):
        return data
    mv = memoryview(data)
    body = [mv[a + 8 : b - 4] for a, b in idat]
    size = sum(len(b) for b in body)
    return b"".join([mv[: idat[0][0]], struct.pack(">I", size), b"IDAT", *body, b"\0\0\0\0",
                     mv[idat[-1][1] :]])


def take(f):
    """The image decoded ahead of time from the file open as ``f`` (its identity unchanged
    since), or None. A decoding still under way is waited for."""
    global _job
    with _lock:
        job = _job
        if job is None:
            return None
        try:
            same = _key(os.fstat(f.fileno())) == job.key
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            same = False
        if not same:
            return None
        _job = None
    job.done.wait()
    return job.image


def drop() -> None:
    """Forget a decoding that no read took (the end of a run)."""
    global _job
    with _lock:
        _job = None
