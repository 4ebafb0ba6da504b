"""What the format modules (video, volume, geo, pyramid) share.

- ``need(module, extra)``: import an optional library or raise ``ImageError`` with the one-line
  fix (``pip install "poolcli[video]"``).
- ``Window``: a window per pooled axis (size, stride, padding, dilation as tuples), and the one
  fact the metadata needs from it: where the centre of output cell 0 lies, in input cells.
- ``replace_atomically(path)``: a temporary name in the target folder, renamed into place on
  success and removed on failure (files and folders alike), so no partial output is ever left.

``fsio.atomic_write`` hands its writer a file object; PyAV, tifffile, nibabel and zarr want a
path (zarr a folder, PyAV and tifffile an extension), hence a path here, with fsio's rules: a
hidden temporary beside the target (``.NAME.XXXX.poolcli-tmp.EXT``), the replaced file's
permissions kept, nothing left behind on an error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImageError, UsageError


def need(module: str, extra: str):
    """Import ``module`` or raise ``ImageError`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise ImageError(
            f'this format needs the {top!r} package: pip install "poolcli[{extra}]"'
        ) from None


def _per_axis(value, n: int, name: str) -> tuple[int, ...]:
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return (value,) * n
    values = tuple(value)
    if len(values) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise UsageError(f"{name} needs one whole number or {n} of them, got {value!r}")
    return values


@dataclass(frozen=True)
class Window:
    """One sliding window per pooled axis, in the array's axis order (PyTorch's meaning)."""

    size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]

    @classmethod
    def of(cls, naxes: int, size=2, stride=None, padding=0, dilation=1) -> Window:
        """Broadcast poolcli's ``size``/``stride``/``padding``/``dilation`` to ``naxes`` axes.

        ``padding="same"`` needs the input's shape: resolve it with ``Window.same``.
        """
        if isinstance(padding, str):
            raise UsageError(
                "padding 'same' depends on the input size: use Window.same(shape, ...)"
            )
        k = _per_axis(size, naxes, "size")
        s = k if stride is None else _per_axis(stride, naxes, "stride")
        return cls(
            k, s, _per_axis(padding, naxes, "padding"), _per_axis(dilation, naxes, "dilation")
        )

    @classmethod
    def same(cls, shape, size=2, stride=None, dilation=1) -> Window:
        """TensorFlow's SAME padding for ``shape``: the left (top) padding per axis."""
        base = cls.of(len(shape), size, stride, 0, dilation)
        left = []
        for n, k, s, d in zip(shape, base.size, base.stride, base.dilation):
            out = -(-n // s)
            left.append(max((out - 1) * s + d * (k - 1) + 1 - n, 0) // 2)
        return cls(base.size, base.stride, tuple(left), base.dilation)

    def centre(self) -> tuple[float, ...]:
        """The centre of output cell 0 in input cell coordinates (cell i's centre is i):
        ``(k - 1) * d / 2 - p`` per axis; output cell j's centre is ``centre + j * stride``."""
        return tuple((k - 1) * d / 2 - p for k, d, p in zip(self.size, self.dilation, self.padding))


@contextlib.contextmanager
def replace_atomically(path, suffix: str | None = None, directory: bool = False):
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The temporary name keeps ``suffix`` (default: the target's own suffixes) so libraries that
    pick a format from the extension still see the right one. A folder (``directory=True``,
    e.g. an OME-Zarr store) replaces an existing folder of the same name.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    suffix = "".join(target.suffixes) if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".poolcli-tmp" + suffix, dir=folder
    )
    os.close(fd)
    os.unlink(tmp)  # the library creates it (with the umask's permissions; some refuse to
    try:  # open an existing file or folder)
        yield tmp
        with contextlib.suppress(OSError):  # a replaced file keeps its permissions
            if target.is_file():
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        if directory and target.is_dir():
            old = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=folder)
            os.rmdir(old)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)
        raise
