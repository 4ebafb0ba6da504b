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

16-bit colour (PNG bit depth 16 with colour type 2/4/6, from the IHDR; TIFF with more than 8
bits per sample and more than one sample, from its tags), which Pillow reads as 8 bits, is
decoded at full depth instead: PNG by imagecodecs (``png_decode``), TIFF by tifffile; the
modes are ``LA;16``, ``RGB;16``, ``RGBA;16`` (uint16). Without the decoder such a file raises
``ImageError`` naming the extra (``poolcli[depth]``), never reads at 8 bits. A TIFF Pillow
cannot identify is read by tifffile (float colour, separate planes: mode ``raw``, the samples
as stored). With ``pages=True`` a TIFF whose pages differ in size comes back with
``Image.pages`` (one array per page); otherwise that is an ``ImageError``.

``--max-pixels``: width x height of each frame (from the header, before any pixel is
decoded; for ``.npy`` from the array header) over the limit raises ``ImageError("image is
W x H = N pixels, over the limit of M (--max-pixels)")``; 0 or ``None`` means no limit.
Pillow's own decompression-bomb check is skipped only in the thread that is reading for
poolcli (``prefetch.reading``): ``MAX_IMAGE_PIXELS`` is never changed, other threads keep it.

Every failure (missing, empty, truncated, corrupt or non-image file, bad ``.npy``) raises
``ImageError`` whose ``str()`` is a one-line reason without the path.

Kept in ``Image.info`` for the output: ``icc_profile`` (bytes), ``dpi`` ((x, y)),
``duration`` (list of ms per frame, multi-frame files), ``loop``, ``compression`` (TIFF LZW or
Deflate only), ``orientation`` (the EXIF orientation that was applied, when not 1), ``exif``
(the raw block of a JPEG, PNG or WebP; a TIFF's tags are not copied as EXIF), ``xmp`` (bytes)
and ``text`` (PNG tEXt/iTXt/zTXt chunks, ``{key: value}``); ``write`` adapts them.
"""

from __future__ import annotations

import io
import math
import struct

import numpy as np

from ..errors import ImageError
from . import deep, npyfile, prefetch
from . import meta as metadata
from .fsio import one_line, open_input
from .npyfile import DEFAULT_MAX_PIXELS, check_pixels, npy_header
from .prefetch import reading as _reading
from .types import ALPHA_MODES, EIGHT_BIT, TIFF_COMPRESSIONS, Header, Image

__all__ = ["DEFAULT_MAX_PIXELS", "Header", "Image", "header", "load_bytes", "load_image",
           "npy_header"]

#: Pillow format names read as another
_FORMAT_ALIASES = {"MPO": "JPEG"}


def _open(f):
    """``PIL.Image.open`` for a poolcli read (call it inside ``_reading()``)."""
    from PIL import Image as PILImage

    f.seek(0)
    return PILImage.open(f)


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


def _load_png_deep(f, im, info: dict, max_pixels) -> tuple[list, list, list]:
    """A 16-bit colour PNG at full depth (imagecodecs: libpng; Pillow would give 8 bits).

    imagecodecs over an own decoder: the Paeth and average filters cannot be undone row by
    row in NumPy, and libpng decodes a 2000x1500 16-bit RGB PNG in 180 ms (measured).
    """
    if int(getattr(im, "n_frames", 1)) > 1:
        raise ImageError("a 16-bit colour animated PNG cannot be read at full depth")
    try:
        import imagecodecs
    except ImportError:
        raise ImageError(f"this is a 16-bit colour PNG; reading it without losing depth "
                         f"needs imagecodecs ({deep.DEPTH_EXTRA})") from None
    f.seek(0)
    try:
        arr = imagecodecs.png_decode(f.read())
    except Exception as exc:  # imagecodecs.PngError and the like
        raise ImageError(f"cannot decode this PNG file: {one_line(exc)}") from exc
    if arr.ndim == 2:
        arr = arr[:, :, None]
    orientation = _orientation(im)
    _frame_info(im, info, orientation)
    metadata.read_metadata(im, info, "PNG")
    return [_orient(arr, orientation)], [deep.deep_mode(arr, "a PNG")], [None]


def _load_tifffile(f, im, info: dict, max_pixels) -> tuple[list, list, list]:
    """Every page of a TIFF with tifffile: 16-bit colour (Pillow would give 8 bits) and TIFFs
    Pillow cannot identify. Each page's size is checked before it is decoded."""
    try:
        import tifffile
    except ImportError:
        what = "a TIFF with more than 8 bits per colour sample" if im is not None else \
            "a TIFF that Pillow cannot read"
        raise ImageError(f"this is {what}; reading it needs tifffile "
                         f"({deep.DEPTH_EXTRA})") from None
    f.seek(0)
    arrays, modes = [], []
    try:
        with tifffile.TiffFile(f) as tf:
            for page in tf.pages:
                check_pixels(page.imagewidth, page.imagelength, max_pixels)
                if page.photometric not in (0, 1, 2):  # MINISWHITE, MINISBLACK, RGB
                    raise ImageError(f"a TIFF with photometric {page.photometric.name} "
                                     "(more than 8 bits per sample) is not supported")
                arr = page.asarray()
                if arr.ndim == 3 and page.planarconfig == 2:  # separate planes: (C, H, W)
                    arr = np.moveaxis(arr, 0, -1)
                if arr.ndim == 2:
                    arr = arr[:, :, None]
                if arr.ndim != 3:
                    raise ImageError(f"a TIFF page of shape {arr.shape} is not an image")
                if arr.dtype.byteorder == ">":
                    arr = arr.astype(arr.dtype.newbyteorder("="))
                arrays.append(np.ascontiguousarray(arr))
                modes.append(deep.deep_mode(arr, "a TIFF"))
    except ImageError:
        raise
    except Exception as exc:  # tifffile's errors, missing codecs (LZW needs imagecodecs)
        raise ImageError(f"cannot decode this TIFF file: {one_line(exc)}") from exc
    if not arrays:
        raise ImageError("the TIFF file has no pages")
    orientation = 1
    if im is not None:
        orientation = _orientation(im)
        _frame_info(im, info, orientation)
        metadata.read_metadata(im, info, "TIFF")
    arrays = [_orient(a, orientation) for a in arrays]
    return arrays, modes, [None] * len(arrays)


def _load_pil(f, source, size, max_pixels, pages: bool = False) -> Image:
    with _reading():
        return _load_pil_checked(f, source, size, max_pixels, pages)


def _load_pil_checked(f, source, size, max_pixels, pages: bool) -> Image:
    from PIL import Image as PILImage

    im = prefetch.take(f)  # decoded ahead of time (a one-file run), or None
    try:
        im = _open(f) if im is None else im
    except PILImage.UnidentifiedImageError:
        if deep.is_tiff(f):  # a TIFF Pillow cannot identify: tifffile may read it
            _check_tiff_directories(f, size)  # a cut file: said so, before tifffile logs
            info: dict = {}
            arrays, modes, durations = _load_tifffile(f, None, info, max_pixels)
            return _assemble(arrays, modes, durations, info, None, "TIFF", "TIFF", source,
                             size, pages)
        raise ImageError("not an image file (or a format Pillow cannot read)") from None
    except Exception as exc:
        raise ImageError(f"cannot read the image header: {one_line(exc)}") from exc
    fmt = _FORMAT_ALIASES.get(im.format, im.format or "unknown")
    file_mode = im.mode
    info = {}
    try:
        check_pixels(*im.size, max_pixels)
        if fmt == "TIFF":
            _check_tiff_directories(f, size)
        if fmt == "PNG" and deep.png_is_deep(f):
            arrays, modes, durations = _load_png_deep(f, im, info, max_pixels)
            return _assemble(arrays, modes, durations, info, None, fmt, file_mode, source,
                             size, pages)
        if fmt == "TIFF" and deep.tiff_is_deep(im):
            arrays, modes, durations = _load_tifffile(f, im, info, max_pixels)
            return _assemble(arrays, modes, durations, info, None, fmt, file_mode, source,
                             size, pages)
        n = 1 if fmt == "JPEG" else int(getattr(im, "n_frames", 1))
        arrays, modes, durations, loop = [], [], [], None
        for i in range(n):
            if i:
                im.seek(i)
                check_pixels(*im.size, max_pixels)
            arr, mode, orientation = _frame_array(im, fmt)
            if i == 0:
                _frame_info(im, info, orientation)
                metadata.read_metadata(im, info, fmt)
                loop = im.info.get("loop")
            arrays.append(arr)
            modes.append(mode)
            durations.append(im.info.get("duration"))
    except ImageError:
        raise
    except Exception as exc:  # OSError, SyntaxError, ValueError, struct.error, EOFError, ...
        raise ImageError(f"cannot decode this {fmt} file: {one_line(exc)}") from exc
    finally:
        im.close()
    return _assemble(arrays, modes, durations, info, loop, fmt, file_mode, source, size, pages)


def _assemble(arrays, modes, durations, info, loop, fmt, file_mode, source, size,
              pages: bool) -> Image:
    """Frames -> one ``Image``: one common mode, stacked when they share a size; TIFF pages of
    different sizes kept apart in ``Image.pages`` (with ``pages=True``)."""
    n = len(arrays)
    mode = _common_mode(modes)
    arrays = [_convert_frame(a, m, mode) for a, m in zip(arrays, modes)]
    sizes = [a.shape[:2] for a in arrays]
    alpha = arrays[0].shape[-1] - 1 if mode in ALPHA_MODES else None
    if len(set(sizes)) > 1:
        i = next(i for i, s in enumerate(sizes) if s != sizes[0])
        if not (pages and fmt == "TIFF"):
            hint = (" (TIFF pages of different sizes are pooled page by page with a "
                    "two-number window)" if fmt == "TIFF" else "")
            raise ImageError(f"frame {i + 1} is {sizes[i][1]} x {sizes[i][0]} but frame 1 is "
                             f"{sizes[0][1]} x {sizes[0][0]}; all frames must have one "
                             f"size{hint}")
        flat = [np.ascontiguousarray(a[:, :, 0] if a.shape[2] == 1 else a) for a in arrays]
        return Image(flat[0], mode, alpha, fmt, frames=n, info=info, source=source,
                     file_bytes=size, file_mode=file_mode, pages=flat)
    if n == 1:
        arr = arrays[0]
        arr = np.ascontiguousarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    else:
        arr = np.stack(arrays)
        if any(d is not None for d in durations):
            info["duration"] = [float(d or 0) for d in durations]
        if loop is not None:
            info["loop"] = loop
    return Image(arr, mode, alpha, fmt, frames=n, info=info, source=source, file_bytes=size,
                 file_mode=file_mode)


# --------------------------------------------------------------------------- reading API


def load_image(path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               pages: bool = False) -> Image:
    """Read an image file (or ``-`` for standard input) or a ``.npy`` array.

    ``pages``: a TIFF whose pages differ in size comes back with ``Image.pages`` (one array
    per page) instead of raising ``ImageError``. Raises ``ImageError`` (one-line reason) for
    anything that cannot be read.
    """
    with open_input(path) as (f, source, size):
        if size == 0:
            raise ImageError("empty input" if source == "-" else "empty file")
        head = f.read(len(npyfile.NPY_MAGIC))
        f.seek(0)
        if head == npyfile.NPY_MAGIC:
            return npyfile.load_npy(f, source, size, max_pixels)
        if source.lower().endswith(".npy"):
            raise ImageError("not a .npy file (no NumPy header)")
        return _load_pil(f, source, size, max_pixels, pages)


def load_bytes(data: bytes, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               source: str = "-", pages: bool = False) -> Image:
    """``load_image`` for an encoded image (or ``.npy``) already in memory."""
    f = io.BytesIO(data)
    if not data:
        raise ImageError("empty input")
    if data[: len(npyfile.NPY_MAGIC)] == npyfile.NPY_MAGIC:
        return npyfile.load_npy(f, source, len(data), max_pixels)
    return _load_pil(f, source, len(data), max_pixels, pages)


def header(path) -> Header:
    """Width, height, frame count, mode (as ``load_image`` will give it) and format, read
    from the header only (no pixel is decoded). Not for standard input."""
    if str(path) == "-":
        raise ImageError("the header of standard input cannot be read ahead")
    with open_input(path) as (f, source, size):
        if size == 0:
            raise ImageError("empty file")
        if f.read(len(npyfile.NPY_MAGIC)) == npyfile.NPY_MAGIC:
            f.seek(0)
            shape, _fortran, dtype = npyfile.npy_header(f)
            npyfile.check_npy(shape, dtype)
            frames, h, w = npyfile.npy_plane(shape)
            return Header(int(w), int(h), int(frames), "npy", "NPY")
        from PIL import Image as PILImage

        try:
            with _reading(), _open(f) as im:
                fmt = _FORMAT_ALIASES.get(im.format, im.format or "unknown")
                w, h = im.size
                frames = 1 if fmt == "JPEG" else int(getattr(im, "n_frames", 1))
                transparent = bool(getattr(im, "has_transparency_data", False))
                mode = _normal_mode(im.mode, transparent)
                if im.mode == "I" and fmt == "PPM":
                    mode = "I;16"
                if fmt == "PNG" and deep.png_is_deep(f):
                    mode = {2: "RGB;16", 4: "LA;16", 6: "RGBA;16"}[deep.png_colour_type(f)]
                elif fmt == "TIFF" and deep.tiff_is_deep(im):
                    samples = int(im.tag_v2.get(277, 1))
                    mode = ("I;16", "LA;16", "RGB;16", "RGBA;16")[min(samples, 4) - 1]
                # orientation only where it is known without decoding
                cheap = fmt in ("JPEG", "TIFF", "WEBP") or "exif" in im.info
                if cheap and _orientation(im) >= 5:
                    w, h = h, w
        except PILImage.UnidentifiedImageError:
            if not deep.is_tiff(f):
                raise ImageError("not an image file (or a format Pillow cannot read)") from None
            _check_tiff_directories(f, size)
            return deep.tifffile_header(f)
        except Exception as exc:
            raise ImageError(f"cannot read the image header: {one_line(exc)}") from exc
    return Header(int(w), int(h), frames, mode, fmt)
