""".npy arrays, and the pixel limit every reader checks from a header before decoding.

``npy_header(f)`` reads the shape and dtype without the data; ``load_npy`` refuses pickled
(object) arrays, dtypes that are not images, shapes outside 2 to 4 dimensions, and headers
that promise more data than the file holds, all before NumPy allocates anything
(``allow_pickle=False`` always). ``check_pixels``: width x height of a frame over
``--max-pixels`` raises ``ImageError``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ImageError
from ..limits import DEFAULT_MAX_PIXELS  # noqa: F401 - its home for the readers
from .fsio import one_line
from .types import Image

NPY_MAGIC = b"\x93NUMPY"


def check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is None or max_pixels == 0:
        return
    if max_pixels < 0:
        raise ValueError(f"max_pixels must be >= 0 (0 = no limit), got {max_pixels}")
    n = int(width) * int(height)
    if n > max_pixels:
        raise ImageError(f"image is {width} x {height} = {n} pixels, over the limit of "
                         f"{max_pixels} (--max-pixels)")


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


def npy_plane(shape) -> tuple[int, int, int]:
    """(frames, height, width) of a natural-layout array shape."""
    if len(shape) == 4:
        return shape[0], shape[1], shape[2]
    return 1, shape[0], shape[1]


def check_npy(shape, dtype) -> None:
    if dtype.hasobject:
        raise ImageError("the .npy file holds Python objects (pickled data), which are "
                         "never loaded")
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise ImageError(f"a .npy array of dtype {dtype} is not an image; use an integer, "
                         "floating or boolean dtype")
    if not 2 <= len(shape) <= 4:
        raise ImageError(f"a .npy array must have 2 to 4 dimensions ((H, W), (H, W, C) or "
                         f"(D, H, W, C)); this one has shape {tuple(shape)}")


def load_npy(f, source, size, max_pixels) -> Image:
    shape, _fortran, dtype = npy_header(f)
    check_npy(shape, dtype)
    frames, h, w = npy_plane(shape)
    check_pixels(w, h, max_pixels)
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
