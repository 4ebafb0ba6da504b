"""Pillow and .npy in and out: modes, EXIF, alpha, frames, metadata, atomic writes, stdin/stdout.

(First cut: the interface is fixed, the implementation is minimal and will be completed.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: refuse images larger than this many pixels per frame (from the header, before decoding)
DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's own decompression-bomb limit (~180 MP)
DEFAULT_PNG_COMPRESS_LEVEL = 1
DEFAULT_JPEG_QUALITY = 90


class ImageError(Exception):
    """A file that cannot be read or written. ``str()`` is the one-line reason, without the path."""


@dataclass
class Image:
    """A decoded image or array, with what is needed to write the result alike."""

    #: the pixels in their natural layout: (H, W) grayscale, (H, W, C), or (D, H, W, C) for
    #: several frames; for .npy, exactly the file's array
    array: np.ndarray
    #: Pillow mode of the pixels after normalisation ("L", "LA", "RGB", "RGBA", "CMYK",
    #: "I;16", "I", "F"), or "npy"
    mode: str
    #: index of the alpha channel along the last axis, or None
    alpha_channel: int | None
    #: "PNG", "JPEG", "TIFF", "BMP", "GIF", "WEBP", "PPM", "NPY"
    format: str
    frames: int = 1
    #: metadata kept for the output: icc_profile, dpi, duration, loop, ...
    info: dict = field(default_factory=dict)
    source: str = ""
    #: size of the input file in bytes
    file_bytes: int = 0

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)


def load_image(path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file (or ``-`` for standard input) or a ``.npy`` array."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    path = str(path)
    if path.endswith(".npy"):
        arr = np.load(path, allow_pickle=False)
        return Image(arr, "npy", None, "NPY", source=path, file_bytes=os.path.getsize(path))
    with PILImage.open(path) as im:
        fmt = im.format
        im = ImageOps.exif_transpose(im)
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        arr = np.asarray(im)
        mode = im.mode
    alpha = arr.shape[-1] - 1 if mode in ("LA", "RGBA") else None
    return Image(arr, mode, alpha, fmt, source=path, file_bytes=os.path.getsize(path))


def output_format(path, format: str | None = None) -> str:
    """The format to write: ``format`` if given, else from the extension."""
    if format:
        return format.upper().replace("JPG", "JPEG")
    ext = Path(str(path)).suffix.lower()
    if ext == ".npy":
        return "NPY"
    from PIL import Image as PILImage

    PILImage.init()
    try:
        return PILImage.EXTENSION[ext]
    except KeyError:
        raise ImageError(f"unknown output format for extension {ext!r}") from None


def save_image(path, array, like: Image | None = None, *, format: str | None = None,
               scale=(1, 1), png_compress_level: int = DEFAULT_PNG_COMPRESS_LEVEL,
               jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> int:
    """Write ``array`` (natural layout) to ``path`` atomically; returns the bytes written."""
    from PIL import Image as PILImage

    fmt = output_format(path, format)
    arr = np.asarray(array)

    def write(f):
        if fmt == "NPY":
            np.save(f, arr, allow_pickle=False)
        else:
            PILImage.fromarray(arr).save(f, format=fmt)

    return atomic_write(path, write)


def atomic_write(path, write) -> int:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it into place.

    On any error (or Ctrl-C) the temporary file is removed and ``path`` is untouched.
    ``path == "-"`` writes to standard output.
    """
    if str(path) == "-":
        import io

        buf = io.BytesIO()
        write(buf)
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
        return len(buf.getvalue())
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".poolcli-tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        size = os.path.getsize(tmp)
        os.replace(tmp, path)
        return size
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_weights(path) -> np.ndarray:
    """A weight kernel for ``weighted`` from ``.npy`` (no pickle) or ``.json`` (nested lists)."""
    path = str(path)
    if path.endswith(".json"):
        import json

        with open(path) as f:
            return np.asarray(json.load(f), dtype=np.float64)
    return np.load(path, allow_pickle=False)
