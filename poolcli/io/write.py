"""Writing images and arrays: the output format, the Pillow mode fitted to the data and the
format, save parameters (quality, ICC, DPI, frame durations), Pillow's writers or the fast
``pngwrite``; every file through ``fsio.atomic_write``.

API: ``save_image(path, array, like=None, *, format, scale, png_compress_level,
jpeg_quality)`` -> bytes written; ``output_format(path, format)``. Pillow is imported only
inside functions.

The output format follows ``format`` or the extension (``output_format``); for ``-``
(standard output) ``format`` or else ``like.format``. ``.npy`` writes the array as given.
For image formats the dtype and channel count pick a Pillow mode:

==================  ======================================================================
array               mode
==================  ======================================================================
uint8, C=1/2/3/4    ``L`` / ``LA`` / ``RGB`` / ``RGBA``; C=4 is ``CMYK`` when ``like.mode``
                    is ``CMYK``
bool                ``L`` (0 / 255)
uint16, C=1         ``I;16``
other ints, C=1     ``I`` (int32, clipped to the int32 range)
float, C=1          ``F`` (float32)
uint16, C>1         8-bit: ``round(v / 257)`` (Pillow cannot write 16-bit colour)
other ints, C>1     8-bit: clipped to 0..255
float, C>1          8-bit: ``round(clip(v, 0, 1) * 255)``, NaN -> 0 (floats are taken as 0..1)
==================  ======================================================================

Then, when the target format cannot hold that mode (``FORMAT_MODES``), one rule each:

- alpha (``LA``/``RGBA``) into a format without alpha (JPEG, BMP, PPM): composited onto
  white, ``round(255 - (255 - v) * a / 255)``; into WebP (colour only): ``LA`` -> ``RGBA``.
- ``L`` into WebP: replicated to ``RGB``.
- ``I;16`` into an 8-bit format (JPEG, BMP, GIF, WebP): ``round(v / 257)``.
- ``I`` (int32): into PNG/PPM, clipped to 0..65535 as ``I;16``; into 8-bit formats, clipped
  to 0..255.
- ``F`` (float32) into anything but TIFF: ``round(clip(v, 0, 1) * 255)``, NaN -> 0.
- ``CMYK`` into a format without CMYK (all but JPEG and TIFF): Pillow's ``CMYK -> RGB``.
- GIF stores a palette: Pillow quantises each frame (an adaptive palette of up to 256
  colours), so GIF output is lossy for photographs.

Multi-frame arrays (D > 1) are written with ``save_all`` as GIF, PNG (APNG), WebP or TIFF;
any other format raises ``ImageError``. Frame durations come from ``like.info["duration"]``
when the frame count is unchanged, else the total time is spread evenly over the new
frames (100 ms per frame without ``like``); ``loop`` is kept (0 = forever when unknown,
except that a GIF without a loop count still plays once).
The ICC profile of ``like`` is written when the format can hold one (PNG, JPEG, TIFF, WebP)
and its colour space matches the output (an RGB profile is not put on a grey image); DPI is
divided by ``scale`` (the stride: ``(sh, sw)``) for PNG, JPEG, TIFF and BMP. Quality:
``png_compress_level`` (0-9) for PNG, ``jpeg_quality`` for JPEG and (lossy) WebP.

Every write goes through ``fsio.atomic_write`` (a temporary file renamed into place).
Errors raise ``ImageError``, except ``BrokenPipeError`` on standard output, which is left
to the caller.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImageError
from . import fsio
from .fsio import one_line
from .types import ALPHA_MODES, EIGHT_BIT, TIFF_COMPRESSIONS

if TYPE_CHECKING:
    from .types import Image

DEFAULT_PNG_COMPRESS_LEVEL = 1
DEFAULT_JPEG_QUALITY = 90

#: Pillow modes each format is written in without conversion (see the module docstring)
FORMAT_MODES: dict[str, frozenset[str]] = {
    "PNG": frozenset({"L", "LA", "RGB", "RGBA", "I;16"}),
    "JPEG": frozenset({"L", "RGB", "CMYK"}),
    "TIFF": frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "I;16", "I", "F"}),
    "BMP": frozenset({"L", "RGB"}),
    "GIF": frozenset({"L", "RGB", "RGBA"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
    "PPM": frozenset({"L", "RGB", "I;16"}),
}
#: formats that hold several frames (written with ``save_all``)
MULTI_FRAME_FORMATS = frozenset({"GIF", "PNG", "WEBP", "TIFF"})
_ICC_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "WEBP"})
_DPI_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "BMP"})


def output_format(path, format: str | None = None) -> str:
    """The format to write: ``format`` if given (a name or an extension: ``png``, ``jpg``,
    ``tif``, ``npy``, ...), else from the extension of ``path``."""
    from PIL import Image as PILImage


    def saver(ext: str, name: str | None = None) -> str | None:
        for load in (PILImage.preinit, PILImage.init):  # preinit: BMP, GIF, JPEG, PPM, PNG;
            load()  # init: every other plugin (~15 ms), only when needed
            fmt = PILImage.EXTENSION.get(ext) or name
            if fmt is not None and fmt in PILImage.SAVE:
                return fmt
        return None

    if format:
        name = str(format).strip().lower().lstrip(".")
        if name == "npy":
            return "NPY"
        fmt = saver("." + name, name.upper())
        if fmt is None:
            raise ImageError(f"unknown output format {format!r}")
        return fmt
    if str(path) == "-":
        raise ImageError("standard output needs a format (--format)")
    ext = Path(str(path)).suffix.lower()
    if ext == ".npy":
        return "NPY"
    if not ext:
        raise ImageError("the output name has no extension; give a format (--format)")
    fmt = saver(ext)
    if fmt is None:
        raise ImageError(f"unknown output format for extension {ext!r}")
    return fmt


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Any dtype -> uint8 by the rules of the module docstring."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if a.dtype.kind in "ui":
        return np.clip(a, 0, 255).astype(np.uint8)
    if a.dtype.kind == "f":
        v = np.clip(np.nan_to_num(a.astype(np.float64), nan=0.0), 0.0, 1.0)
        return np.rint(v * 255.0).astype(np.uint8)
    raise ImageError(f"an array of dtype {a.dtype} cannot be written as an image")


def _flatten_alpha(a: np.ndarray) -> np.ndarray:
    """uint8 (..., C+1) with alpha last -> (..., C) composited onto white."""
    colour = a[..., :-1].astype(np.float64)
    alpha = a[..., -1:].astype(np.float64) / 255.0
    return np.rint(255.0 - (255.0 - colour) * alpha).astype(np.uint8)


def _natural_mode(a4: np.ndarray, like: Image | None) -> tuple[np.ndarray, str]:
    """(D, H, W, C) array -> (array in the dtype of the mode, Pillow mode)."""
    c = a4.shape[3]
    kind = a4.dtype.kind
    if kind not in "biuf":
        raise ImageError(f"an array of dtype {a4.dtype} cannot be written as an image")
    if c == 1 and a4.dtype == np.uint16:
        return a4, "I;16"
    if c == 1 and kind in "ui" and a4.dtype != np.uint8:
        info = np.iinfo(np.int32)
        return np.clip(a4, info.min, info.max).astype(np.int32), "I"
    if c == 1 and kind == "f":
        return a4.astype(np.float32), "F"
    a4 = _to_uint8(a4)
    if c == 4 and like is not None and like.mode == "CMYK":
        return a4, "CMYK"
    return a4, EIGHT_BIT[c - 1]


def _fit_format(a4: np.ndarray, mode: str, fmt: str) -> tuple[np.ndarray, str]:
    """Convert to a mode ``fmt`` can hold (the rules of the module docstring)."""
    holds = FORMAT_MODES.get(fmt)
    if holds is None:  # another Pillow writer: offer it 8-bit data and let it try
        holds = frozenset(EIGHT_BIT) | {"CMYK"}
    if mode in holds:
        return a4, mode
    if mode == "I" and "I;16" in holds:
        return np.clip(a4, 0, 65535).astype(np.uint16), "I;16"
    if mode in ("I;16", "I", "F"):
        a4, mode = _to_uint8(a4), "L"
        if mode in holds:
            return a4, mode
    if mode == "CMYK":
        return a4, "CMYK"  # converted by Pillow once it is an image (see _pil_frames)
    if mode in ALPHA_MODES:
        if mode == "LA" and "RGBA" in holds:
            return np.concatenate([np.repeat(a4[..., :1], 3, axis=-1), a4[..., 1:]], -1), "RGBA"
        a4, mode = _flatten_alpha(a4), mode[:-1]
        if mode in holds:
            return a4, mode
    if mode == "L" and "RGB" in holds:
        return np.repeat(a4, 3, axis=-1), "RGB"
    return a4, mode


_RAW = {"L": ("L", np.uint8), "LA": ("LA", np.uint8), "RGB": ("RGB", np.uint8),
        "RGBA": ("RGBA", np.uint8), "CMYK": ("CMYK", np.uint8),
        "I;16": ("I;16", np.dtype("<u2")), "I": ("I", np.dtype("=i4")),
        "F": ("F", np.dtype("=f4"))}


def _pil_frames(a4: np.ndarray, mode: str, fmt: str) -> list:
    from PIL import Image as PILImage

    rawmode, dtype = _RAW[mode]
    frames = []
    for frame in a4:
        data = np.ascontiguousarray(frame, dtype=dtype)
        h, w = data.shape[:2]
        im = PILImage.frombuffer(mode, (w, h), data, "raw", rawmode, 0, 1)
        if mode == "CMYK" and "CMYK" not in FORMAT_MODES.get(fmt, {"CMYK"}):
            im = im.convert("RGB")
        frames.append(im)
    return frames


def _icc_space(mode: str) -> bytes:
    if mode.startswith("RGB"):
        return b"RGB "
    if mode == "CMYK":
        return b"CMYK"
    return b"GRAY"


def _save_params(fmt: str, mode: str, d: int, like: Image | None, scale,
                 png_compress_level: int, jpeg_quality: int) -> dict:
    info = like.info if like is not None else {}
    params: dict = {}
    if fmt == "PNG":
        params["compress_level"] = int(png_compress_level)
    elif fmt in ("JPEG", "WEBP"):
        params["quality"] = int(jpeg_quality)
    elif fmt == "TIFF" and info.get("compression") in TIFF_COMPRESSIONS:
        params["compression"] = info["compression"]
    icc = info.get("icc_profile")
    if fmt in _ICC_FORMATS and isinstance(icc, bytes) and icc[16:20] == _icc_space(mode):
        params["icc_profile"] = icc
    dpi = info.get("dpi")
    if fmt in _DPI_FORMATS and dpi:
        sh, sw = (float(v) for v in tuple(scale)[-2:])
        if sh <= 0 or sw <= 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        params["dpi"] = (float(dpi[0]) / sw, float(dpi[1]) / sh)
    if d > 1:
        durations = info.get("duration")
        if isinstance(durations, (list, tuple)) and len(durations) == d:
            params["duration"] = [float(x) for x in durations]
        elif isinstance(durations, (list, tuple)) and durations:
            params["duration"] = [float(sum(durations)) / d] * d
        else:
            params["duration"] = [100.0] * d
        if fmt == "GIF":
            params["duration"] = [round(x) for x in params["duration"]]
            params["disposal"] = 2  # every frame is a full picture: clear, then draw
        if "loop" in info:
            params["loop"] = int(info["loop"] or 0)
        elif like is None or like.format != "GIF":  # a GIF without a loop count plays once
            params["loop"] = 0
        if fmt == "PNG":
            params["default_image"] = False
    return params


def save_image(path, array, like: Image | None = None, *, format: str | None = None,
               scale=(1, 1), png_compress_level: int = DEFAULT_PNG_COMPRESS_LEVEL,
               jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> int:
    """Write ``array`` (natural layout) to ``path`` (``-``: standard output) atomically.

    ``like``: the ``Image`` it came from (mode, ICC, DPI, durations, format for ``-``);
    ``scale``: the stride ``(sh, sw)`` by which DPI is divided. Returns the bytes written.
    Conversions where the format cannot hold the data: see the module docstring.
    """
    if str(path) == "-" and not format and like is not None:
        format = like.format
    fmt = output_format(path, format)
    arr = np.asarray(array)

    if fmt == "NPY":
        if arr.dtype.hasobject:
            raise ImageError("arrays of Python objects are not written")

        def write(f):
            np.save(f, arr, allow_pickle=False)
    else:
        if arr.ndim == 2:
            a4 = arr[None, :, :, None]
        elif arr.ndim == 3:
            a4 = arr[None]
        elif arr.ndim == 4:
            a4 = arr
        else:
            raise ImageError(f"an array of shape {arr.shape} is not an image; images are "
                             "(H, W), (H, W, C) or (D, H, W, C)")
        d, h, w, c = a4.shape
        if 0 in a4.shape:
            raise ImageError(f"the image is empty (shape {arr.shape})")
        if not 1 <= c <= 4:
            raise ImageError(f"{c} channels cannot be written as {fmt}; write .npy instead")
        if d > 1 and fmt not in MULTI_FRAME_FORMATS:
            raise ImageError(f"{fmt} holds one frame and this image has {d}; write GIF, PNG "
                             "(APNG), WebP, TIFF or .npy")
        a4, mode = _natural_mode(a4, like)
        a4, mode = _fit_format(a4, mode, fmt)
        from . import pngwrite

        if fmt == "PNG" and pngwrite.handles(mode, d):  # the fast writer (pngwrite.py says why)
            params = _save_params(fmt, mode, d, like, scale, png_compress_level, jpeg_quality)

            def write(f):
                pngwrite.write_png(f, a4[0], mode, params["compress_level"],
                                   icc_profile=params.get("icc_profile"), dpi=params.get("dpi"))

            return _write(path, write, fmt)
        try:
            frames = _pil_frames(a4, mode, fmt)
        except (ValueError, TypeError, OSError) as exc:
            raise ImageError(f"cannot make a {mode} image: {one_line(exc)}") from exc
        params = _save_params(fmt, frames[0].mode, d, like, scale, png_compress_level,
                              jpeg_quality)

        def write(f):
            if d > 1:
                frames[0].save(f, format=fmt, save_all=True, append_images=frames[1:], **params)
            else:
                frames[0].save(f, format=fmt, **params)

    return _write(path, write, fmt)


def _write(path, write, fmt: str) -> int:
    try:
        return fsio.atomic_write(path, write)
    except BrokenPipeError:
        raise
    except (OSError, ValueError, TypeError, KeyError, SyntaxError, struct.error) as exc:
        raise ImageError(f"cannot write {fmt}: {one_line(exc)}") from exc
