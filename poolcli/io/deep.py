"""16-bit colour and the TIFFs Pillow cannot read, through imagecodecs and tifffile.

Pillow reads 16-bit colour PNG and TIFF as 8 bits. This module recognises them from their
headers (PNG IHDR bit depth 16 with colour type 2/4/6; TIFF BitsPerSample > 8 with more
than one sample) and says which decoder reads them at full depth (imagecodecs' libpng for
PNG, tifffile for TIFF: the ``poolcli[depth]`` extra); ``read`` decodes with them and
``write`` writes 16-bit colour and float colour TIFF through ``tifffile_writer``. Without
the extra such a file raises ``ImageError`` naming it, never reads at 8 bits.
"""

from __future__ import annotations

import numpy as np

from ..errors import ImageError
from .fsio import one_line
from .types import ALPHA_MODES, EIGHT_BIT, Header

#: ``pip install`` hint for the readers and writers of 16-bit colour
DEPTH_EXTRA = "pip install 'poolcli[depth]'"


def png_is_deep(f) -> bool:
    """Is this PNG 16-bit colour (bit depth 16, colour type 2, 4 or 6), from its IHDR?"""
    f.seek(0)
    head = f.read(26)
    f.seek(0)
    return len(head) == 26 and head[12:16] == b"IHDR" and head[24] == 16 and head[25] in (2, 4, 6)


def tiff_is_deep(im) -> bool:
    """Is this TIFF page colour (or grey + alpha) with more than 8 bits per sample, which
    Pillow reads as 8 bits? From its tags (BitsPerSample, SamplesPerPixel), before decoding."""
    tags = getattr(im, "tag_v2", None)
    if tags is None:
        return False
    bits = tags.get(258, (1,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    return int(tags.get(277, 1)) > 1 and max(int(b) for b in bits) > 8


def deep_mode(arr: np.ndarray, what: str) -> str:
    """The mode of an (H, W, C) array read by imagecodecs/tifffile."""
    c = arr.shape[2]
    if arr.dtype == np.uint8 and 1 <= c <= 4:
        return EIGHT_BIT[c - 1]
    if arr.dtype == np.uint16 and 1 <= c <= 4:
        return ("I;16", "LA;16", "RGB;16", "RGBA;16")[c - 1]
    if c == 1 and arr.dtype == np.float32:
        return "F"
    if c == 1 and arr.dtype == np.int32:
        return "I"
    if arr.dtype.kind in "uif" and 1 <= c <= 4:
        return "raw"  # samples as stored (float colour, ...): pooled alike, written by tifffile
    raise ImageError(f"{what} with {c} sample(s) of {arr.dtype} per pixel is not supported")


def is_tiff(f) -> bool:
    f.seek(0)
    head = f.read(4)
    f.seek(0)
    return head in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def png_colour_type(f) -> int:
    f.seek(25)
    ctype = f.read(1)[0]
    f.seek(0)
    return ctype


def tifffile_header(f) -> Header:
    try:
        import tifffile
    except ImportError:
        raise ImageError(f"this is a TIFF that Pillow cannot read; reading it needs tifffile "
                         f"({DEPTH_EXTRA})") from None
    try:
        with tifffile.TiffFile(f) as tf:
            page = tf.pages[0]
            w, h, n = page.imagewidth, page.imagelength, len(tf.pages)
            c = page.samplesperpixel
            bits = page.bitspersample
    except Exception as exc:  # noqa: BLE001
        raise ImageError(f"cannot read the TIFF header: {one_line(exc)}") from exc
    modes = ("L", "LA", "RGB", "RGBA") if bits <= 8 else ("I;16", "LA;16", "RGB;16", "RGBA;16")
    return Header(int(w), int(h), int(n), modes[min(max(c, 1), 4) - 1], "TIFF")


def tiff_raw(a4: np.ndarray) -> bool:
    """Colour samples no Pillow mode holds (float, int32, ...), which tifffile writes as is."""
    return a4.shape[3] > 1 and a4.dtype.kind in "uif" and a4.dtype not in (np.uint8, np.uint16)


def tifffile_writer(frames: list, modes: list, params: dict, meta: dict, warn: list):
    """A ``write(f)`` for 16-bit colour TIFF pages (Pillow has no 16-bit colour mode)."""
    try:
        import tifffile
    except ImportError:
        raise ImageError(f"writing 16-bit colour TIFF needs tifffile ({DEPTH_EXTRA}); "
                         "or write PNG") from None
    kw: dict = {"metadata": None}
    if params.get("compression"):
        kw["compression"] = "zlib"  # LZW would need imagecodecs; Deflate is as lossless
    if params.get("icc_profile"):
        kw["iccprofile"] = params["icc_profile"]
    if params.get("dpi"):
        kw["resolution"] = tuple(float(v) for v in params["dpi"])
        kw["resolutionunit"] = "INCH"
    if meta.get("xmp"):
        kw["extratags"] = [(700, "B", len(meta["xmp"]), meta["xmp"], True)]
    if meta.get("exif") is not None:
        warn.append("EXIF not kept (16-bit colour TIFF is written without EXIF)")

    def write(f):
        import io as _io

        buf = _io.BytesIO()
        with tifffile.TiffWriter(buf) as tw:
            for frame, mode in zip(frames, modes):
                c = frame.shape[-1]
                rgb = mode.startswith("RGB") or (mode == "raw" and c >= 3)
                extra = ("unassalpha",) if mode in ALPHA_MODES else None
                if mode == "raw" and c in (2, 4):
                    extra = ("unspecified",)
                data = frame[..., 0] if c == 1 else frame
                tw.write(np.ascontiguousarray(data), photometric="rgb" if rgb else "minisblack",
                         extrasamples=extra, **kw)
        f.write(buf.getbuffer())

    return write
