"""What reading and writing share: the ``Image`` and ``Header`` types and the mode names.

Imports neither NumPy nor Pillow (the array annotation is only a type hint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np

#: Pillow modes with an alpha channel (always last)
ALPHA_MODES = ("LA", "RGBA", "LA;16", "RGBA;16")
#: the 8-bit modes by channel count: EIGHT_BIT[C - 1]
EIGHT_BIT = ("L", "LA", "RGB", "RGBA")
#: the 16-bit modes by channel count (uint16; ``LA;16``, ``RGB;16``, ``RGBA;16`` are poolcli's
#: names for the 16-bit colour Pillow cannot hold, read by imagecodecs/tifffile)
SIXTEEN_BIT = ("I;16", "LA;16", "RGB;16", "RGBA;16")
#: TIFF compressions carried from the input to a TIFF output (lossless: LZW and Deflate)
TIFF_COMPRESSIONS = frozenset({"tiff_lzw", "tiff_adobe_deflate", "tiff_deflate"})


class Header(NamedTuple):
    """What ``header()`` tells without decoding pixels."""

    width: int
    height: int
    frames: int
    #: the mode ``load_image`` will give (after normalisation), or "npy"
    mode: str
    format: str


@dataclass
class Image:
    """A decoded image or array, with what is needed to write the result alike."""

    #: the pixels in their natural layout: (H, W) grayscale, (H, W, C), or (D, H, W, C) for
    #: several frames; for .npy, exactly the file's array
    array: np.ndarray
    #: Pillow mode of the pixels after normalisation ("L", "LA", "RGB", "RGBA", "CMYK",
    #: "I;16", "I", "F"; "LA;16", "RGB;16", "RGBA;16" for 16-bit colour; "raw" for TIFF
    #: samples no Pillow mode holds, such as float colour, read by tifffile), or "npy"
    mode: str
    #: index of the alpha channel along the last axis, or None
    alpha_channel: int | None
    #: "PNG", "JPEG", "TIFF", "BMP", "GIF", "WEBP", "PPM", "NPY"
    format: str
    frames: int = 1
    #: metadata kept for the output: icc_profile, dpi, duration, loop, exif (bytes), xmp
    #: (bytes), text (PNG text chunks: {key: value}), ...
    info: dict = field(default_factory=dict)
    source: str = ""
    #: size of the input file in bytes
    file_bytes: int = 0
    #: the mode stored in the file before normalisation ("P", "1", "I;16B", ...; "npy")
    file_mode: str = ""
    #: TIFF pages of different sizes (``load_image(..., pages=True)``): one natural-layout
    #: array per page; ``array`` is then the first page and ``frames`` the page count
    pages: list | None = None

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)
