"""Pillow and .npy in and out: modes, EXIF, alpha, frames, metadata, atomic writes, stdin/stdout.

API: ``load_image(path, *, max_pixels)`` -> ``Image``; ``load_bytes(data, *, max_pixels,
source)``; ``header(path)`` -> ``Header(width, height, frames, mode, format)`` without
decoding; ``save_image(path, array, like=None, *, format, scale, png_compress_level,
jpeg_quality)`` -> bytes written; ``output_format(path, format)``; ``atomic_write(path,
write)``; ``load_weights(path)``; ``ImageError``. Pillow is imported only inside functions.

Reading (``load_image``)
------------------------
Formats: whatever Pillow reads (PNG/APNG, JPEG, TIFF, BMP, GIF, WebP, PPM/PGM/PBM, ...) and
``.npy`` (recognised by its magic bytes; ``allow_pickle=False``). The array comes back in its
natural layout: ``(H, W)`` for a single-channel still, ``(H, W, C)`` for a still with
channels, ``(D, H, W, C)`` when the file has more than one frame (always 4-D then, C = 1
included). A ``.npy`` array comes back exactly as stored (2 to 4 dimensions, integer,
floating or boolean dtype; object/pickled arrays and other dtypes are refused).

Modes are normalised so that no value needs a palette or a bit-unpacking to mean something:

=================  =========================================================
file mode          array (``Image.mode``)
=================  =========================================================
``1``              ``L`` uint8, 0 and 255
``L``, ``LA``      uint8, C = 1 / 2 (alpha last)
``P``              ``RGB`` uint8, or ``RGBA`` when the file has transparency
                   (``tRNS`` / GIF transparent index); indices are never kept
``PA``             ``RGBA`` uint8
``RGB``, ``RGBA``  uint8, C = 3 / 4 (alpha last)
``CMYK``           ``CMYK`` uint8, C = 4 (no alpha)
``I;16*``          ``I;16`` uint16 (``I;16B``/``I;16L``/``I;16N`` read to native order)
``I``              ``I`` int32 (16-bit PGM files, which Pillow reads as ``I``, give
                   ``I;16`` uint16)
``F``              ``F`` float32
``La``/``RGBa``    un-premultiplied to ``LA``/``RGBA``; ``RGBX``, ``YCbCr``, ``LAB``,
                   ``HSV`` -> ``RGB``
=================  =========================================================

EXIF orientation is applied (the same eight transposes as ``ImageOps.exif_transpose``, done
on the array without copying the EXIF block); ``info["dpi"]`` is swapped with it. Every
frame of a GIF, APNG, animated WebP or multi-page TIFF is kept (Pillow composites animation
frames, so each frame is the full picture as shown); frames are converted to one common mode
(L < LA < RGB < RGBA for 8-bit frames, CMYK frames mixed with RGB become RGB, single-channel
numeric frames mixed together become I (int32) or F (float32)); frames of different sizes are
an error. A multi-picture JPEG (MPO) reads as its first picture, format ``JPEG``.

``--max-pixels``: width x height of each frame (from the header, before any pixel is
decoded; for ``.npy`` from the array header) over the limit raises ``ImageError("image is
W x H = N pixels, over the limit of M (--max-pixels)")``; 0 or ``None`` means no limit.
Pillow's own decompression-bomb limit is lifted while poolcli decodes (our check, done first,
replaces it; its error or warning can therefore never escape).

Every failure (missing, empty, truncated, corrupt or non-image file, bad ``.npy``) raises
``ImageError`` whose ``str()`` is a one-line reason without the path.

Kept in ``Image.info`` for the output: ``icc_profile`` (bytes), ``dpi`` ((x, y)),
``duration`` (list of ms per frame, multi-frame files), ``loop``, ``compression`` (TIFF LZW or
Deflate only), ``orientation`` (the EXIF orientation that was applied, when not 1).
EXIF, XMP and text chunks are not carried to the output.

Writing (``save_image``)
------------------------
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

Every write goes through ``atomic_write``: a temporary file in the target folder renamed into
place, removed on any error or interrupt; the new file gets the permissions of the file it
replaces, or those the umask gives. Errors raise ``ImageError``, except ``BrokenPipeError``
on standard output, which is left to the caller.
"""

from __future__ import annotations

import io
import math
import os
import struct
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import ImageError

#: refuse images larger than this many pixels per frame (from the header, before decoding)
DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's own decompression-bomb limit (~180 MP)
DEFAULT_PNG_COMPRESS_LEVEL = 1
DEFAULT_JPEG_QUALITY = 90

NPY_MAGIC = b"\x93NUMPY"

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
_TIFF_COMPRESSIONS = frozenset({"tiff_lzw", "tiff_adobe_deflate", "tiff_deflate"})
#: Pillow format names read as another
_FORMAT_ALIASES = {"MPO": "JPEG"}
_ALPHA_MODES = ("LA", "RGBA")
_EIGHT_BIT = ("L", "LA", "RGB", "RGBA")


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
    #: the mode stored in the file before normalisation ("P", "1", "I;16B", ...; "npy")
    file_mode: str = ""

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)


# --------------------------------------------------------------------------- helpers


def _pil():
    from PIL import Image as PILImage

    return PILImage


def _one_line(exc: BaseException) -> str:
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


_limit_lock = threading.Lock()
_limit_users = 0
_limit_saved: int | None = None


@contextmanager
def _pillow_limit_lifted():
    """Lift Pillow's decompression-bomb limit (our own header check replaces it).

    Reference-counted across threads: the limit is restored when the last reader finishes.
    """
    global _limit_users, _limit_saved
    PILImage = _pil()
    with _limit_lock:
        if _limit_users == 0:
            _limit_saved = PILImage.MAX_IMAGE_PIXELS
            PILImage.MAX_IMAGE_PIXELS = None
        _limit_users += 1
    try:
        yield PILImage
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                PILImage.MAX_IMAGE_PIXELS = _limit_saved


def _check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is None or max_pixels == 0:
        return
    if max_pixels < 0:
        raise ValueError(f"max_pixels must be >= 0 (0 = no limit), got {max_pixels}")
    n = int(width) * int(height)
    if n > max_pixels:
        raise ImageError(f"image is {width} x {height} = {n} pixels, over the limit of "
                         f"{max_pixels} (--max-pixels)")


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
        raise ImageError(f"cannot read standard input: {_one_line(exc)}") from exc
    if isinstance(data, str):  # a text stream without a binary buffer
        data = data.encode("latin-1", "replace")
    return data


@contextmanager
def _open_input(path):
    """-> (binary file object, source name, size in bytes); ``-`` is standard input."""
    source = str(path)
    if source == "-":
        data = _read_stdin()
        yield io.BytesIO(data), "-", len(data)
        return
    try:
        f = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ImageError(_one_line(exc)) from exc
    try:
        try:
            size = os.fstat(f.fileno()).st_size
        except OSError as exc:  # pragma: no cover - fstat on an open file
            raise ImageError(_one_line(exc)) from exc
        yield f, source, size
    finally:
        f.close()


# --------------------------------------------------------------------------- .npy


def _npy_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ImageError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except ImageError:
        raise
    except Exception as exc:  # ValueError, EOFError, SyntaxError from a damaged header
        raise ImageError(f"not a valid .npy file: {_one_line(exc)}") from exc
    return tuple(shape), fortran, dtype


def _npy_plane(shape) -> tuple[int, int, int]:
    """(frames, height, width) of a natural-layout array shape."""
    if len(shape) == 4:
        return shape[0], shape[1], shape[2]
    return 1, shape[0], shape[1]


def _check_npy(shape, dtype) -> None:
    if dtype.hasobject:
        raise ImageError("the .npy file holds Python objects (pickled data), which are "
                         "never loaded")
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise ImageError(f"a .npy array of dtype {dtype} is not an image; use an integer, "
                         "floating or boolean dtype")
    if not 2 <= len(shape) <= 4:
        raise ImageError(f"a .npy array must have 2 to 4 dimensions ((H, W), (H, W, C) or "
                         f"(D, H, W, C)); this one has shape {tuple(shape)}")


def _load_npy(f, source, size, max_pixels) -> Image:
    shape, _fortran, dtype = _npy_header(f)
    _check_npy(shape, dtype)
    frames, h, w = _npy_plane(shape)
    _check_pixels(w, h, max_pixels)
    # the data the header promises must be in the file: a few bytes claiming 10**12
    # elements are refused here, before NumPy allocates the array
    need = f.tell() + math.prod(shape) * dtype.itemsize
    if need > size:
        raise ImageError(f"cannot read the .npy data: the file is truncated (its header "
                         f"promises {need} bytes, the file has {size})")
    f.seek(0)
    try:
        arr = np.load(f, allow_pickle=False)
    except Exception as exc:  # truncated data: ValueError / EOFError / OSError
        raise ImageError(f"cannot read the .npy data: {_one_line(exc)}") from exc
    return Image(arr, "npy", None, "NPY", frames=frames, source=source, file_bytes=size,
                 file_mode="npy")


# --------------------------------------------------------------------------- Pillow


def _normal_mode(mode: str, transparent: bool) -> str:
    """The mode a frame of Pillow mode ``mode`` is read as."""
    if mode == "1":
        return "L"
    if mode == "P":
        return "RGBA" if transparent else "RGB"
    if mode in ("PA", "RGBa"):
        return "RGBA"
    if mode == "La":
        return "LA"
    if mode.startswith("I;16"):
        return "I;16"
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F"):
        return mode
    if mode in ("RGBX", "YCbCr", "LAB", "HSV"):
        return "RGB"
    return "RGBA" if transparent else "RGB"


def _orientation(im) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block does not make the pixels unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an (H, W[, C]) array, as ``ImageOps.exif_transpose``."""
    if orientation == 2:  # FLIP_LEFT_RIGHT
        return arr[:, ::-1]
    if orientation == 3:  # ROTATE_180
        return arr[::-1, ::-1]
    if orientation == 4:  # FLIP_TOP_BOTTOM
        return arr[::-1]
    if orientation == 5:  # TRANSPOSE
        return arr.swapaxes(0, 1)
    if orientation == 6:  # ROTATE_270 (90 degrees clockwise)
        return np.rot90(arr, -1)
    if orientation == 7:  # TRANSVERSE
        return arr[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:  # ROTATE_90 (counter-clockwise)
        return np.rot90(arr, 1)
    return arr


def _raw_array(im) -> np.ndarray | None:
    """The pixels of a loaded Pillow image as a read-only array, packed by one raw-encoder
    call into one buffer of the image's size; None where that does not apply."""
    if im.mode == "1":  # bits: np.asarray widens them to bytes
        return None
    PILImage = _pil()
    try:
        shape, typestr = PILImage._conv_type_shape(im)
        nbytes = math.prod(shape) * np.dtype(typestr).itemsize
        encoder = PILImage._getencoder(im.mode, "raw", im.mode)
        try:
            encoder.setimage(im.im, (0, 0, *im.size))
            _, status, data = encoder.encode(nbytes + 1)  # room for all: done in one call
        finally:
            encoder.cleanup()
    except Exception:  # noqa: BLE001 - a mode or Pillow version this does not know
        return None
    if status <= 0 or len(data) != nbytes:
        return None
    return np.frombuffer(data, dtype=typestr).reshape(shape)


def _as_array(im) -> np.ndarray:
    """np.asarray(im), without its detour: Pillow's ``tobytes`` packs the pixels in 64 KiB
    chunks and joins them (a second copy of the image); ``_raw_array`` is the same bytes in
    about 2/3 of the time (12 MP RGB: 30 ms against 46; 1024x768: 0.67 ms against 0.85)."""
    arr = _raw_array(im)
    return np.asarray(im) if arr is None else arr


def _frame_array(im, fmt: str) -> tuple[np.ndarray, str, int]:
    """Decode the current frame -> ((H, W, C) array, normalised mode, orientation applied)."""
    im.load()
    mode = im.mode
    target = _normal_mode(mode, bool(getattr(im, "has_transparency_data", False)))
    if mode == "I" and fmt == "PPM":
        target = "I;16"  # 16-bit PGM, which Pillow reads as I; maxval <= 65535
    orientation = _orientation(im)
    if mode.startswith("I;16") or target == "I;16":
        arr = _as_array(im)
        arr = arr.astype(np.uint16) if arr.dtype != np.uint16 or arr.dtype.byteorder == ">" else arr
    elif target == mode:
        arr = _as_array(im)
    else:
        arr = _as_array(im.convert(target))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return _orient(arr, orientation), target, orientation


def _common_mode(modes: list[str]) -> str:
    kinds = set(modes)
    if len(kinds) == 1:
        return modes[0]
    if kinds <= set(_EIGHT_BIT) | {"CMYK"}:
        colour = bool(kinds & {"RGB", "RGBA", "CMYK"})
        alpha = bool(kinds & {"LA", "RGBA"})
        return ("RGB" if colour else "L") + ("A" if alpha else "")
    if kinds <= {"L", "I;16", "I", "F"}:
        return "F" if "F" in kinds else "I"
    raise ImageError(f"the frames have modes {', '.join(sorted(kinds))}, which cannot be "
                     "brought to one")


def _convert_frame(arr: np.ndarray, mode: str, target: str) -> np.ndarray:
    """(H, W, C) array of ``mode`` -> ``target`` (only the conversions _common_mode picks)."""
    if mode == target:
        return arr
    if target in ("I", "F"):
        return arr.astype(np.int32 if target == "I" else np.float32)
    if mode == "CMYK":
        PILImage = _pil()
        arr = np.asarray(PILImage.fromarray(np.ascontiguousarray(arr), "CMYK").convert("RGB"))
        mode = "RGB"
    colour = arr[..., :-1] if mode in _ALPHA_MODES else arr
    alpha = arr[..., -1:] if mode in _ALPHA_MODES else None
    if target.startswith("RGB") and colour.shape[-1] == 1:
        colour = np.repeat(colour, 3, axis=-1)
    if target.endswith("A"):
        if alpha is None:
            alpha = np.full(colour.shape[:-1] + (1,), 255, np.uint8)
        return np.concatenate([colour, alpha], axis=-1)
    return colour


def _frame_info(im, info: dict, orientation: int) -> None:
    icc = im.info.get("icc_profile")
    if isinstance(icc, bytes) and icc:
        info["icc_profile"] = icc
    dpi = im.info.get("dpi")
    try:
        dx, dy = (float(v) for v in dpi)
        if dx > 1 and dy > 1:  # Pillow's TIFF writer stores 1 x 1 when it has no DPI
            info["dpi"] = (dy, dx) if orientation >= 5 else (dx, dy)
    except (TypeError, ValueError):
        pass
    if im.info.get("compression") in _TIFF_COMPRESSIONS:
        info["compression"] = im.info["compression"]
    if orientation != 1:
        info["orientation"] = orientation


#: bytes per value of each TIFF field type
_TIFF_TYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
                    13: 4, 16: 8, 17: 8, 18: 8}


def _check_tiff_directories(f, size: int) -> None:
    """Refuse a TIFF whose directories (or their tag values) lie past the end of the file.

    Pillow skips such a tag with only a warning and reads on: a float TIFF cut by a few
    bytes loses its SampleFormat tag and decodes as int32 garbage. Walks every IFD
    (classic and BigTIFF) without decoding; leaves ``f`` at 0.
    """
    f.seek(0)
    head = f.read(16)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 8:
        return
    big = struct.unpack(order + "H", head[2:4])[0] == 43
    count_fmt, entry_fmt, inline = (("Q", "HHQQ", 8) if big else ("H", "HHII", 4))
    next_fmt = "Q" if big else "I"
    entry_size = struct.calcsize(order + entry_fmt)
    offset = struct.unpack(order + next_fmt, head[8:16] if big else head[4:8])[0]
    seen: set[int] = set()
    truncated = ImageError("the TIFF file is truncated (its directory points past the end)")
    while offset and offset not in seen:
        seen.add(offset)
        f.seek(offset)
        raw = f.read(struct.calcsize(order + count_fmt))
        if len(raw) < struct.calcsize(order + count_fmt):
            raise truncated
        n = struct.unpack(order + count_fmt, raw)[0]
        if offset + n * entry_size > size:
            raise truncated
        table = f.read(n * entry_size + struct.calcsize(order + next_fmt))
        if len(table) < n * entry_size + struct.calcsize(order + next_fmt):
            raise truncated
        for i in range(n):
            _tag, kind, count, value = struct.unpack_from(order + entry_fmt, table, i * entry_size)
            nbytes = count * _TIFF_TYPE_BYTES.get(kind, 1)
            if nbytes > inline and value + nbytes > size:
                raise truncated
        offset = struct.unpack_from(order + next_fmt, table, n * entry_size)[0]
    f.seek(0)


def _load_pil(f, source, size, max_pixels) -> Image:
    with _pillow_limit_lifted() as PILImage:
        try:
            im = PILImage.open(f)
        except PILImage.UnidentifiedImageError:
            raise ImageError("not an image file (or a format Pillow cannot read)") from None
        except Exception as exc:
            raise ImageError(f"cannot read the image header: {_one_line(exc)}") from exc
        fmt = _FORMAT_ALIASES.get(im.format, im.format or "unknown")
        file_mode = im.mode
        _check_pixels(*im.size, max_pixels)
        if fmt == "TIFF":
            try:
                _check_tiff_directories(f, size)
            except ImageError:
                im.close()
                raise
        try:
            n = 1 if fmt == "JPEG" else int(getattr(im, "n_frames", 1))
            arrays, modes, durations, info = [], [], [], {}
            for i in range(n):
                if i:
                    im.seek(i)
                    _check_pixels(*im.size, max_pixels)
                arr, mode, orientation = _frame_array(im, fmt)
                if i == 0:
                    _frame_info(im, info, orientation)
                    loop = im.info.get("loop")
                elif arr.shape[:2] != arrays[0].shape[:2]:
                    h0, w0 = arrays[0].shape[:2]
                    raise ImageError(f"frame {i + 1} is {arr.shape[1]} x {arr.shape[0]} but frame 1 "
                                     f"is {w0} x {h0}; all frames must have one size")
                arrays.append(arr)
                modes.append(mode)
                durations.append(im.info.get("duration"))
        except ImageError:
            raise
        except Exception as exc:  # OSError, SyntaxError, ValueError, struct.error, EOFError, ...
            raise ImageError(f"cannot decode this {fmt} file: {_one_line(exc)}") from exc
        finally:
            im.close()
    mode = _common_mode(modes)
    arrays = [_convert_frame(a, m, mode) for a, m in zip(arrays, modes)]
    if n == 1:
        arr = arrays[0]
        arr = np.ascontiguousarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    else:
        arr = np.stack(arrays)
        if any(d is not None for d in durations):
            info["duration"] = [float(d or 0) for d in durations]
        if loop is not None:
            info["loop"] = loop
    alpha = arr.shape[-1] - 1 if mode in _ALPHA_MODES else None
    return Image(arr, mode, alpha, fmt, frames=n, info=info, source=source, file_bytes=size,
                 file_mode=file_mode)


# --------------------------------------------------------------------------- reading API


def load_image(path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file (or ``-`` for standard input) or a ``.npy`` array.

    Raises ``ImageError`` (one-line reason) for anything that cannot be read.
    """
    with _open_input(path) as (f, source, size):
        if size == 0:
            raise ImageError("empty input" if source == "-" else "empty file")
        head = f.read(len(NPY_MAGIC))
        f.seek(0)
        if head == NPY_MAGIC:
            return _load_npy(f, source, size, max_pixels)
        if source.lower().endswith(".npy"):
            raise ImageError("not a .npy file (no NumPy header)")
        return _load_pil(f, source, size, max_pixels)


def load_bytes(data: bytes, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               source: str = "-") -> Image:
    """``load_image`` for an encoded image (or ``.npy``) already in memory."""
    f = io.BytesIO(data)
    if not data:
        raise ImageError("empty input")
    if data[: len(NPY_MAGIC)] == NPY_MAGIC:
        return _load_npy(f, source, len(data), max_pixels)
    return _load_pil(f, source, len(data), max_pixels)


def header(path) -> Header:
    """Width, height, frame count, mode (as ``load_image`` will give it) and format, read
    from the header only (no pixel is decoded). Not for standard input."""
    if str(path) == "-":
        raise ImageError("the header of standard input cannot be read ahead")
    with _open_input(path) as (f, source, size):
        if size == 0:
            raise ImageError("empty file")
        if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
            f.seek(0)
            shape, _fortran, dtype = _npy_header(f)
            _check_npy(shape, dtype)
            frames, h, w = _npy_plane(shape)
            return Header(int(w), int(h), int(frames), "npy", "NPY")
        f.seek(0)
        with _pillow_limit_lifted() as PILImage:
            try:
                with PILImage.open(f) as im:
                    fmt = _FORMAT_ALIASES.get(im.format, im.format or "unknown")
                    w, h = im.size
                    frames = 1 if fmt == "JPEG" else int(getattr(im, "n_frames", 1))
                    transparent = bool(getattr(im, "has_transparency_data", False))
                    mode = _normal_mode(im.mode, transparent)
                    if im.mode == "I" and fmt == "PPM":
                        mode = "I;16"
                    # orientation only where it is known without decoding
                    cheap = fmt in ("JPEG", "TIFF", "WEBP") or "exif" in im.info
                    if cheap and _orientation(im) >= 5:
                        w, h = h, w
            except PILImage.UnidentifiedImageError:
                raise ImageError("not an image file (or a format Pillow cannot read)") from None
            except Exception as exc:
                raise ImageError(f"cannot read the image header: {_one_line(exc)}") from exc
    return Header(int(w), int(h), frames, mode, fmt)


def load_weights(path) -> np.ndarray:
    """A weight kernel for ``weighted`` from ``.npy`` (no pickle) or ``.json`` (nested lists).

    Raises ``ImageError`` for a file that cannot be read as numbers.
    """
    path = str(path)
    if path.lower().endswith(".json"):
        import json

        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            return np.asarray(data, dtype=np.float64)
        except OSError as exc:
            raise ImageError(_one_line(exc)) from exc
        except (ValueError, TypeError) as exc:
            raise ImageError(f"not a JSON array of numbers: {_one_line(exc)}") from exc
    with _open_input(path) as (f, _source, _size):
        shape, _fortran, dtype = _npy_header(f)
        if dtype.hasobject:
            raise ImageError("the .npy file holds Python objects (pickled data), which are "
                             "never loaded")
        if dtype.kind not in "biuf" or dtype.fields is not None:
            raise ImageError(f"weights of dtype {dtype} are not numbers")
        f.seek(0)
        try:
            return np.load(f, allow_pickle=False)
        except Exception as exc:
            raise ImageError(f"cannot read the .npy data: {_one_line(exc)}") from exc


# --------------------------------------------------------------------------- writing


def output_format(path, format: str | None = None) -> str:
    """The format to write: ``format`` if given (a name or an extension: ``png``, ``jpg``,
    ``tif``, ``npy``, ...), else from the extension of ``path``."""
    PILImage = _pil()

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
    return a4, _EIGHT_BIT[c - 1]


def _fit_format(a4: np.ndarray, mode: str, fmt: str) -> tuple[np.ndarray, str]:
    """Convert to a mode ``fmt`` can hold (the rules of the module docstring)."""
    holds = FORMAT_MODES.get(fmt)
    if holds is None:  # another Pillow writer: offer it 8-bit data and let it try
        holds = frozenset(_EIGHT_BIT) | {"CMYK"}
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
    if mode in _ALPHA_MODES:
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
    PILImage = _pil()
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
    elif fmt == "TIFF" and info.get("compression") in _TIFF_COMPRESSIONS:
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
            raise ImageError(f"cannot make a {mode} image: {_one_line(exc)}") from exc
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
        return atomic_write(path, write)
    except BrokenPipeError:
        raise
    except (OSError, ValueError, TypeError, KeyError, SyntaxError, struct.error) as exc:
        raise ImageError(f"cannot write {fmt}: {_one_line(exc)}") from exc


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
