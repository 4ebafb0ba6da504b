"""Reading images and arrays: Pillow and ``.npy``, headers without decoding, the
decompression-bomb checks, the TIFF directory guard, EXIF orientation, frames and modes.

API: ``load_image(path, *, max_pixels)`` -> ``Image``; ``load_bytes(data, *, max_pixels,
source)``; ``header(path)`` -> ``Header(width, height, frames, mode, format)`` without
decoding; ``npy_header(f)``. Failures raise ``ImageError``. Pillow is imported only inside
functions.


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
"""

from __future__ import annotations

import io
import math
import struct
import threading
from contextlib import contextmanager

import numpy as np

from ..errors import ImageError
from .fsio import one_line, open_input
from .types import ALPHA_MODES, EIGHT_BIT, TIFF_COMPRESSIONS, Header, Image

__all__ = ["DEFAULT_MAX_PIXELS", "Header", "Image", "header", "load_bytes", "load_image",
           "npy_header"]

#: refuse images larger than this many pixels per frame (from the header, before decoding)
DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's own decompression-bomb limit (~180 MP)

NPY_MAGIC = b"\x93NUMPY"

#: Pillow format names read as another
_FORMAT_ALIASES = {"MPO": "JPEG"}


# --------------------------------------------------------------------------- limits


_limit_lock = threading.Lock()
_limit_users = 0
_limit_saved: int | None = None


@contextmanager
def _pillow_limit_lifted():
    """Lift Pillow's decompression-bomb limit (our own header check replaces it).

    Reference-counted across threads: the limit is restored when the last reader finishes.
    """
    global _limit_users, _limit_saved
    from PIL import Image as PILImage

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

# --------------------------------------------------------------------------- .npy


def npy_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
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
        raise ImageError(f"not a valid .npy file: {one_line(exc)}") from exc
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
    shape, _fortran, dtype = npy_header(f)
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
        raise ImageError(f"cannot read the .npy data: {one_line(exc)}") from exc
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
    from PIL import Image as PILImage

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
    if kinds <= set(EIGHT_BIT) | {"CMYK"}:
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
        from PIL import Image as PILImage

        arr = np.asarray(PILImage.fromarray(np.ascontiguousarray(arr), "CMYK").convert("RGB"))
        mode = "RGB"
    colour = arr[..., :-1] if mode in ALPHA_MODES else arr
    alpha = arr[..., -1:] if mode in ALPHA_MODES else None
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
    if im.info.get("compression") in TIFF_COMPRESSIONS:
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
            raise ImageError(f"cannot read the image header: {one_line(exc)}") from exc
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
                    raise ImageError(f"frame {i + 1} is {arr.shape[1]} x {arr.shape[0]} but "
                                     f"frame 1 is {w0} x {h0}; all frames must have one size")
                arrays.append(arr)
                modes.append(mode)
                durations.append(im.info.get("duration"))
        except ImageError:
            raise
        except Exception as exc:  # OSError, SyntaxError, ValueError, struct.error, EOFError, ...
            raise ImageError(f"cannot decode this {fmt} file: {one_line(exc)}") from exc
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
    alpha = arr.shape[-1] - 1 if mode in ALPHA_MODES else None
    return Image(arr, mode, alpha, fmt, frames=n, info=info, source=source, file_bytes=size,
                 file_mode=file_mode)


# --------------------------------------------------------------------------- reading API


def load_image(path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file (or ``-`` for standard input) or a ``.npy`` array.

    Raises ``ImageError`` (one-line reason) for anything that cannot be read.
    """
    with open_input(path) as (f, source, size):
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
    with open_input(path) as (f, source, size):
        if size == 0:
            raise ImageError("empty file")
        if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
            f.seek(0)
            shape, _fortran, dtype = npy_header(f)
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
                raise ImageError(f"cannot read the image header: {one_line(exc)}") from exc
    return Header(int(w), int(h), frames, mode, fmt)
