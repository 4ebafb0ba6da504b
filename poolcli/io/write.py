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
uint16, C>1         ``LA;16`` / ``RGB;16`` / ``RGBA;16``: written at full depth to PNG
                    (``pngwrite``, single frame) and TIFF (tifffile); 8-bit
                    (``round(v / 257)``) elsewhere
other ints, C>1     8-bit: clipped to 0..255 (TIFF: kept as they are, by tifffile)
float, C>1          8-bit: ``round(clip(v, 0, 1) * 255)``, NaN -> 0 (floats are taken as 0..1;
                    TIFF: kept as they are, by tifffile)
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

Every conversion above that loses something (depth, alpha, float precision, CMYK, GIF's
palette, metadata) appends one line to ``save_image(..., warnings=list)``; the same loss gives
the same text, so a caller can group them.

Metadata (unless ``strip``): EXIF (the orientation reset to 1, since reading applied it;
ExifImageWidth/Height and ImageWidth/Length set to the output's size), XMP and PNG text
chunks go to PNG (eXIf, iTXt ``XML:com.adobe.xmp``, tEXt/iTXt), JPEG and WebP (exif, xmp),
and TIFF (EXIF tags without the pixel-layout ones, XMP tag 700); other formats get none, and
say so. ``array`` may be a list of arrays: TIFF pages of different sizes.

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
from . import deep, fsio
from . import meta as metadata
from .fsio import one_line
from .types import ALPHA_MODES, EIGHT_BIT, SIXTEEN_BIT, TIFF_COMPRESSIONS

if TYPE_CHECKING:
    from .types import Image

DEFAULT_PNG_COMPRESS_LEVEL = 1
DEFAULT_JPEG_QUALITY = 90

#: Pillow modes each format is written in without conversion (see the module docstring)
FORMAT_MODES: dict[str, frozenset[str]] = {
    "PNG": frozenset({"L", "LA", "RGB", "RGBA", "I;16", "LA;16", "RGB;16", "RGBA;16"}),
    "JPEG": frozenset({"L", "RGB", "CMYK"}),
    "TIFF": frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "LA;16", "RGB;16",
                       "RGBA;16"}),
    "BMP": frozenset({"L", "RGB"}),
    "GIF": frozenset({"L", "RGB", "RGBA"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
    "PPM": frozenset({"L", "RGB", "I;16"}),
}
#: formats that hold several frames (written with ``save_all``)
MULTI_FRAME_FORMATS = frozenset({"GIF", "PNG", "WEBP", "TIFF"})
_ICC_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "WEBP"})
#: formats that hold EXIF, XMP and (PNG only) text chunks
#: 16-bit colour modes (written by pngwrite and tifffile: Pillow has no such modes)
_DEEP_COLOUR = frozenset(SIXTEEN_BIT[1:])
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


def _natural_mode(a4: np.ndarray, like: Image | None, warn: list) -> tuple[np.ndarray, str]:
    """(D, H, W, C) array -> (array in the dtype of the mode, Pillow mode)."""
    c = a4.shape[3]
    kind = a4.dtype.kind
    if kind not in "biuf":
        raise ImageError(f"an array of dtype {a4.dtype} cannot be written as an image")
    if a4.dtype == np.uint16:
        return a4, SIXTEEN_BIT[c - 1]
    if c == 1 and kind in "ui" and a4.dtype != np.uint8:
        info = np.iinfo(np.int32)
        return np.clip(a4, info.min, info.max).astype(np.int32), "I"
    if c == 1 and kind == "f":
        return a4.astype(np.float32), "F"
    if kind == "f":
        warn.append("float colour rounded to 8 bits, taken as 0..1 (images hold no float "
                    "colour)")
    elif kind in "ui" and a4.dtype != np.uint8:
        warn.append(f"{a4.dtype} colour clipped to 0..255 (images hold 8 or 16 bits)")
    a4 = _to_uint8(a4)
    if c == 4 and like is not None and like.mode == "CMYK":
        return a4, "CMYK"
    return a4, EIGHT_BIT[c - 1]


def _fit_format(a4: np.ndarray, mode: str, fmt: str, warn: list) -> tuple[np.ndarray, str]:
    """Convert to a mode ``fmt`` can hold (the rules of the module docstring); every
    conversion that loses something appends its one-line description to ``warn``."""
    holds = FORMAT_MODES.get(fmt)
    if holds is None:  # another Pillow writer: offer it 8-bit data and let it try
        holds = frozenset(EIGHT_BIT) | {"CMYK"}
    if fmt == "PNG" and a4.shape[0] > 1:  # APNG frames go through Pillow: 8-bit colour
        holds = holds - _DEEP_COLOUR
    if mode in holds:
        return a4, mode
    if mode == "I" and "I;16" in holds:
        warn.append(f"32-bit integers clipped to 0..65535 ({fmt} holds 16 bits at most)")
        return np.clip(a4, 0, 65535).astype(np.uint16), "I;16"
    if mode in _DEEP_COLOUR:
        warn.append(f"16-bit colour reduced to 8 bits ({fmt} holds 8)")
        a4, mode = _to_uint8(a4), mode[:-3]
        if mode in holds:
            return a4, mode
    if mode in ("I;16", "I", "F"):
        what = {"I;16": "16-bit values reduced to 8 bits",
                "I": "32-bit integers clipped to 0..255",
                "F": "float values rounded to 8 bits, taken as 0..1"}[mode]
        warn.append(f"{what} ({fmt} holds {'8 bits' if mode != 'F' else 'no floats'})")
        a4, mode = _to_uint8(a4), "L"
        if mode in holds:
            return a4, mode
    if mode == "CMYK":
        warn.append(f"CMYK converted to RGB ({fmt} holds no CMYK)")
        return a4, "CMYK"  # converted by Pillow once it is an image (see _pil_frames)
    if mode in ALPHA_MODES:
        if mode == "LA" and "RGBA" in holds:
            return np.concatenate([np.repeat(a4[..., :1], 3, axis=-1), a4[..., 1:]], -1), "RGBA"
        warn.append(f"alpha dropped, composited onto white ({fmt} has no alpha)")
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
                 png_compress_level: int, jpeg_quality: int, strip: bool = False) -> dict:
    info = like.info if like is not None else {}
    params: dict = {}
    if fmt == "PNG":
        params["compress_level"] = int(png_compress_level)
    elif fmt in ("JPEG", "WEBP"):
        params["quality"] = int(jpeg_quality)
    elif fmt == "TIFF" and info.get("compression") in TIFF_COMPRESSIONS:
        params["compression"] = info["compression"]
    icc = info.get("icc_profile")
    space = mode if mode not in _DEEP_COLOUR else mode[:-3]
    if (not strip and fmt in _ICC_FORMATS and isinstance(icc, bytes)
            and icc[16:20] == _icc_space(space)):
        params["icc_profile"] = icc
    dpi = info.get("dpi")
    if fmt in _DPI_FORMATS and dpi and not strip:
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


def _as_a4(arr: np.ndarray, fmt: str) -> np.ndarray:
    if arr.ndim == 2:
        a4 = arr[None, :, :, None]
    elif arr.ndim == 3:
        a4 = arr[None]
    elif arr.ndim == 4:
        a4 = arr
    else:
        raise ImageError(f"an array of shape {arr.shape} is not an image; images are "
                         "(H, W), (H, W, C) or (D, H, W, C)")
    if 0 in a4.shape:
        raise ImageError(f"the image is empty (shape {arr.shape})")
    if not 1 <= a4.shape[3] <= 4:
        raise ImageError(f"{a4.shape[3]} channels cannot be written as {fmt}; write .npy "
                         "instead")
    return a4


def save_image(path, array, like: Image | None = None, *, format: str | None = None,
               scale=(1, 1), png_compress_level: int = DEFAULT_PNG_COMPRESS_LEVEL,
               jpeg_quality: int = DEFAULT_JPEG_QUALITY, strip: bool = False,
               warnings: list | None = None) -> int:
    """Write ``array`` (natural layout) to ``path`` (``-``: standard output) atomically.

    ``like``: the ``Image`` it came from (mode, ICC, DPI, EXIF, XMP, text, durations, format
    for ``-``); ``scale``: the stride ``(sh, sw)`` by which DPI is divided; ``strip``: write
    no metadata (ICC, DPI, EXIF, XMP, text). ``array`` may also be a list of arrays: pages of
    different sizes, written as one multi-page TIFF. Every conversion that loses something
    (depth, alpha, float precision, CMYK, palette, metadata) appends a one-line description
    to ``warnings`` (when given). Returns the bytes written.
    """
    warn: list[str] = []
    try:
        return _save(path, array, like, format, scale, png_compress_level, jpeg_quality,
                     strip, warn)
    finally:
        if warnings is not None:
            warnings.extend(dict.fromkeys(warn))  # each once, in order


def _save(path, array, like, format, scale, png_compress_level, jpeg_quality, strip,
          warn: list) -> int:
    if str(path) == "-" and not format and like is not None:
        format = like.format
    fmt = output_format(path, format)
    if isinstance(array, (list, tuple)):
        return _save_pages(path, array, like, fmt, scale, strip, warn)
    arr = np.asarray(array)

    if fmt == "NPY":
        if arr.dtype.hasobject:
            raise ImageError("arrays of Python objects are not written")

        def write(f):
            np.save(f, arr, allow_pickle=False)

        return _write(path, write, fmt)
    a4 = _as_a4(arr, fmt)
    d, h, w, c = a4.shape
    if d > 1 and fmt not in MULTI_FRAME_FORMATS:
        raise ImageError(f"{fmt} holds one frame and this image has {d}; write GIF, PNG "
                         "(APNG), WebP, TIFF or .npy")
    if fmt == "TIFF" and deep.tiff_raw(a4):  # float or wide-integer colour: kept as it is
        meta = metadata.output_metadata(fmt, like, (w, h), strip, warn)
        params = _save_params(fmt, "raw", d, like, scale, png_compress_level, jpeg_quality,
                              strip)
        return _write(path, deep.tifffile_writer(list(a4), ["raw"] * d, params, meta, warn), fmt)
    a4, mode = _natural_mode(a4, like, warn)
    a4, mode = _fit_format(a4, mode, fmt, warn)
    if fmt == "GIF" and mode.startswith("RGB"):
        warn.append("colours quantised to a 256-colour palette (GIF)")
    meta = metadata.output_metadata(fmt, like, (w, h), strip, warn)
    from . import pngwrite

    if fmt == "PNG" and pngwrite.handles(mode, d):  # the fast writer (pngwrite.py says why)
        params = _save_params(fmt, mode, d, like, scale, png_compress_level, jpeg_quality,
                              strip)
        chunks = []
        if meta.get("exif") is not None:
            chunks.append((b"eXIf", metadata.exif_body(meta["exif"].tobytes())))
        chunks += meta.get("png_chunks", [])

        def write(f):
            pngwrite.write_png(f, a4[0], mode, params["compress_level"],
                               icc_profile=params.get("icc_profile"), dpi=params.get("dpi"),
                               chunks=chunks)

        return _write(path, write, fmt)
    if mode in _DEEP_COLOUR:  # TIFF (PNG went above)
        params = _save_params(fmt, mode, d, like, scale, png_compress_level, jpeg_quality,
                              strip)
        return _write(path, deep.tifffile_writer(list(a4), [mode] * d, params, meta, warn), fmt)
    try:
        frames = _pil_frames(a4, mode, fmt)
    except (ValueError, TypeError, OSError) as exc:
        raise ImageError(f"cannot make a {mode} image: {one_line(exc)}") from exc
    params = _save_params(fmt, frames[0].mode, d, like, scale, png_compress_level,
                          jpeg_quality, strip)
    params.update(metadata.pil_params(fmt, meta))

    def write(f):
        if d > 1:
            frames[0].save(f, format=fmt, save_all=True, append_images=frames[1:], **params)
        else:
            frames[0].save(f, format=fmt, **params)

    return _write(path, write, fmt)


def _save_pages(path, pages, like, fmt: str, scale, strip: bool, warn: list) -> int:
    """Pages of different sizes -> one multi-page TIFF (Pillow; tifffile for 16-bit colour)."""
    if fmt != "TIFF":
        raise ImageError(f"pages of different sizes are written as TIFF only, not {fmt}")
    fitted = []
    for page in pages:
        a4 = _as_a4(np.asarray(page), fmt)
        if a4.shape[0] != 1:
            raise ImageError("each page must be one (H, W[, C]) image")
        if deep.tiff_raw(a4):
            fitted.append((a4, "raw"))
            continue
        a4, mode = _natural_mode(a4, like, warn)
        fitted.append(_fit_format(a4, mode, fmt, warn))
    if len({m for _, m in fitted}) > 1:
        raise ImageError(f"the pages have modes {', '.join(sorted({m for _, m in fitted}))}, "
                         "which one TIFF does not mix here")
    a4, mode = fitted[0]
    size = (a4.shape[2], a4.shape[1])
    meta = metadata.output_metadata(fmt, like, size, strip, warn)
    params = _save_params(fmt, mode, 1, like, scale, DEFAULT_PNG_COMPRESS_LEVEL,
                          DEFAULT_JPEG_QUALITY, strip)
    if mode in _DEEP_COLOUR or mode == "raw":
        return _write(path, deep.tifffile_writer([a[0] for a, _ in fitted], [mode] * len(fitted),
                                             params, meta, warn), fmt)
    frames = [_pil_frames(a, m, fmt)[0] for a, m in fitted]
    params.update(metadata.pil_params(fmt, meta))

    def write(f):
        frames[0].save(f, format=fmt, save_all=True, append_images=frames[1:], **params)

    return _write(path, write, fmt)


def _write(path, write, fmt: str) -> int:
    try:
        return fsio.atomic_write(path, write)
    except BrokenPipeError:
        raise
    except (OSError, ValueError, TypeError, KeyError, SyntaxError, struct.error) as exc:
        raise ImageError(f"cannot write {fmt}: {one_line(exc)}") from exc
