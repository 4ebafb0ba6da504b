"""Bounded-memory pooling of images larger than memory, strip by strip along the height.

The plan is made once for the whole image (so the windows, the divisors and the random
draws are exactly those of ``api.pool``). Output rows are then taken in blocks: block
``[o0, o1)`` needs input rows ``[r0, r1)`` -- from the first valid cell of window ``o0`` to
the last valid cell of window ``o1 - 1`` -- and is computed from those rows alone with the
plan *restricted* to the block: the height tables of rows ``o0..o1`` with their starts
shifted by ``-r0``, and the same slice of the random arrays. Every window therefore visits
the same cells in the same order as the in-memory path, and the result is bit-identical.
Windows that span two strips are handled by overlapping the strips (consecutive blocks
may read some rows twice); padding is never materialised.

Sources: an ndarray (or ``np.memmap``), a ``.npy`` file (opened with
``np.load(mmap_mode="r")``; C-ordered data is then read row range by row range with plain
file reads so that neither the heap nor the resident set grows with the file), or a TIFF
file (tifffile, the ``dask`` extra): contiguous uncompressed image data is read the same
way, strips and tiles (compressed or not) by decoding only the segments that cover the
rows. Peak memory is about one strip (``budget_bytes``) plus the output.

A GeoTIFF source is treated as the in-memory path treats it (``formats``): modes with uneven
windows are refused, its ``GDAL_NODATA`` is the nodata value unless ``nodata`` is given, and a
TIFF output carries its GeoTIFF tags updated for the window (``io.geo.pooled_tags``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import api, geometry, modes
from .io.fsio import make_temporary, normal_mode
from .plan import Plan, check_options, make_plan

#: default bytes of input rows held in memory at once (the strip), 256 MiB
DEFAULT_BUDGET = 256 * 2**20

TIFF_SUFFIXES = (".tif", ".tiff")


# --------------------------------------------------------------------------------------------
# row sources: shape (D, H, W, C) and read(r0, r1) -> C-contiguous (D, r1 - r0, W, C)


class ArrayRows:
    """Rows of an in-memory array or an ``np.memmap`` (any of the API's layouts)."""

    def __init__(self, arr: np.ndarray):
        arr = api.dhwc_view(arr)
        self.arr = arr
        self.shape = tuple(arr.shape)
        self.dtype = arr.dtype

    def read(self, r0: int, r1: int) -> np.ndarray:
        return np.ascontiguousarray(self.arr[:, r0:r1])

    def close(self) -> None:
        pass


class FileRows:
    """Rows of C-ordered raw data in a file: frame ``d`` of shape (H, W, C) starts at
    ``offsets[d]``. Read with ``readinto``, so only the requested rows enter memory."""

    def __init__(self, path, offsets: list[int], frame_shape: tuple[int, int, int], dtype):
        self.path = str(path)
        self.offsets = list(offsets)
        h, w, c = frame_shape
        self.shape = (len(self.offsets), h, w, c)
        self.file_dtype = np.dtype(dtype)
        self.dtype = self.file_dtype.newbyteorder("=")
        self._row_bytes = w * c * self.file_dtype.itemsize
        self._f = open(self.path, "rb")  # noqa: SIM115  (closed by close())

    def read(self, r0: int, r1: int) -> np.ndarray:
        d, _, w, c = self.shape
        buf = np.empty((d, r1 - r0, w, c), dtype=self.file_dtype)
        for i, off in enumerate(self.offsets):
            self._f.seek(off + r0 * self._row_bytes)
            view = memoryview(buf[i]).cast("B")
            if self._f.readinto(view) != view.nbytes:
                raise ValueError(f"{self.path}: file is shorter than its header says")
        return buf if self.file_dtype.isnative else buf.astype(self.dtype)

    def close(self) -> None:
        self._f.close()


class TiffRows:
    """Rows of the pages of a TIFF's first series (one page per frame), decoding only the
    strips or tiles that cover the requested rows."""

    def __init__(self, path):
        import tifffile

        self.path = str(path)
        self.tif = tifffile.TiffFile(self.path)
        series = self.tif.series[0]
        self.pages = list(series.pages)
        key = self.pages[0].keyframe
        if key.photometric == 3:  # PALETTE
            raise ValueError(f"{self.path}: palette TIFFs cannot be pooled strip by strip "
                             "(indices are never pooled)")
        s, depth, h, w, c = key.shaped
        if depth != 1:
            raise ValueError(f"{self.path}: volumetric (tiled-depth) TIFFs are not supported "
                             "strip by strip")
        self.samples = s * c
        self.shape = (len(self.pages), h, w, self.samples)
        self.dtype = np.dtype(key.dtype).newbyteorder("=")
        self.key = key
        #: photometric interpretation for a TIFF output alike
        names = {0: "miniswhite", 1: "minisblack", 2: "rgb"}
        self.photometric_name = names.get(int(key.photometric))
        has_alpha = bool(key.extrasamples) and key.extrasamples[-1] in (1, 2)
        self.alpha_channel = (self.samples - 1) if has_alpha else None
        self._raw = None
        contiguous = all(p.is_contiguous for p in self.pages)
        if key.fillorder == 1 and key.predictor == 1 and s == 1 and contiguous:
            order = self.tif.byteorder
            self._raw = FileRows(self.path, [p.dataoffsets[0] for p in self.pages], (h, w, c),
                                 np.dtype(key.dtype).newbyteorder(order))

    def read(self, r0: int, r1: int) -> np.ndarray:
        if self._raw is not None:
            return self._raw.read(r0, r1)
        d, _, w, _ = self.shape
        out = np.empty((d, r1 - r0, w, self.samples), dtype=self.dtype)
        for i, page in enumerate(self.pages):
            self._read_page(page, r0, r1, out[i])
        return out

    def _read_page(self, page, r0: int, r1: int, out: np.ndarray) -> None:
        key = self.key
        fh = self.tif.filehandle
        s, _, h, w, c = key.shaped
        if key.is_tiled:
            seg_rows, ncols = key.tilelength, -(-w // key.tilewidth)
        else:
            seg_rows, ncols = key.rowsperstrip, 1
        nrows = -(-h // seg_rows)
        per_plane = nrows * ncols
        first, last = r0 // seg_rows, (r1 - 1) // seg_rows
        indices = [plane * per_plane + t * ncols + col
                   for plane in range(s) for t in range(first, last + 1) for col in range(ncols)]
        decodeargs = {"_fullsize": False}
        if key.compression in (6, 7, 34892, 33007):  # JPEG
            decodeargs["jpegtables"] = page.jpegtables
            decodeargs["jpegheader"] = key.jpegheader
        with fh.lock:
            decode = key.decode
            for data, index in fh.read_segments([page.dataoffsets[i] for i in indices],
                                                [page.databytecounts[i] for i in indices],
                                                indices=indices, sort=True, lock=fh.lock):
                segment, (plane, _, y, x, _), shape = decode(data, index, **decodeargs)
                a, b = max(y, r0), min(y + shape[1], r1, h)
                if b <= a:
                    continue
                xe = min(x + shape[2], w)
                dst = out[a - r0 : b - r0, x:xe]
                if s > 1:  # planar: one sample per plane
                    dst = dst[..., plane : plane + 1]
                if segment is None:
                    dst[...] = key.nodata
                else:
                    dst[...] = segment[0, a - y : b - y, : xe - x]

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        self.tif.close()


def open_rows(source):
    """An ndarray, a ``.npy`` path or a TIFF path -> a row source (``shape``, ``dtype``,
    ``read(r0, r1)``, ``close()``)."""
    if isinstance(source, np.ndarray):
        return ArrayRows(source)
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        if (isinstance(arr, np.memmap) and arr.flags.c_contiguous and arr.ndim in (2, 3, 4)
                and arr.size):
            shape = api.dhwc_view(arr).shape
            frame = shape[1] * shape[2] * shape[3] * arr.dtype.itemsize
            offsets = [arr.offset + i * frame for i in range(shape[0])]
            dtype = arr.dtype
            del arr
            return FileRows(path, offsets, shape[1:], dtype)
        return ArrayRows(arr)  # Fortran order or odd layouts: read through the memmap
    if suffix in TIFF_SUFFIXES:
        try:
            import tifffile  # noqa: F401
        except ImportError:
            raise ValueError(
                f"{path}: pooling TIFF files strip by strip needs tifffile; "
                "pip install 'poolcli[dask]'"
            ) from None
        return TiffRows(path)
    what = suffix or "files without a suffix"
    raise ValueError(f"{path}: strip pooling reads .npy and TIFF files, not {what!r}")


# --------------------------------------------------------------------------------------------
# plans restricted to a block of output rows


def restrict_axis(axis: geometry.AxisWindows, o0: int, o1: int, r0: int,
                  r1: int) -> geometry.AxisWindows:
    """Windows o0..o1-1 of ``axis`` seen from an input that starts at row r0 and has r1 - r0 rows.

    ``lo``/``hi``/``total`` are unchanged (the same cells, the same divisors); only the
    starts move, so every window visits the same input cells in the same order.
    """
    return geometry.AxisWindows(
        n=r1 - r0, start=tuple(s - r0 for s in axis.start[o0:o1]), lo=axis.lo[o0:o1],
        hi=axis.hi[o0:o1], total=axis.total[o0:o1], step=axis.step)


def restrict_plan(plan: Plan, o0: int, o1: int, r0: int, r1: int) -> Plan:
    """``plan`` for output rows [o0, o1) computed from input rows [r0, r1) only."""
    d, _, w, c = plan.in_shape
    axes = (plan.axes[0], restrict_axis(plan.axes[1], o0, o1, r0, r1), plan.axes[2])
    alpha = None if plan.alpha is None else np.ascontiguousarray(plan.alpha[:, o0:o1])
    uniform = None if plan.uniform is None else np.ascontiguousarray(plan.uniform[:, o0:o1])
    return dataclasses.replace(plan, axes=axes, in_shape=(d, r1 - r0, w, c), alpha=alpha,
                               uniform=uniform)


def blocks(axis: geometry.AxisWindows, row_bytes: int,
           budget_bytes: int) -> list[tuple[int, int, int, int]]:
    """Split the output rows into blocks (o0, o1, r0, r1) whose input rows fit the budget."""
    out: list[tuple[int, int, int, int]] = []
    firsts = [s + lo * axis.step for s, lo in zip(axis.start, axis.lo)]
    lasts = [s + (hi - 1) * axis.step + 1 for s, hi in zip(axis.start, axis.hi)]
    max_rows = max(budget_bytes // max(row_bytes, 1), 0)
    o0 = 0
    while o0 < axis.out:
        r0, r1 = firsts[o0], lasts[o0]
        if r1 - r0 > max_rows:
            need = (r1 - r0) * row_bytes
            raise ValueError(
                f"one row of windows needs {r1 - r0} input rows ({_size(need)}), more than the "
                f"strip budget ({_size(budget_bytes)}); raise the budget"
            )
        o1 = o0 + 1
        while o1 < axis.out:
            nr0, nr1 = min(r0, firsts[o1]), max(r1, lasts[o1])
            if nr1 - nr0 > max_rows:
                break
            r0, r1, o1 = nr0, nr1, o1 + 1
        out.append((o0, o1, r0, r1))
        o0 = o1
    return out


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


# --------------------------------------------------------------------------------------------
# outputs


def _natural_shape(shape4: tuple[int, int, int, int], ndim: int) -> tuple[int, ...]:
    if ndim == 2:
        return shape4[1:3]
    if ndim == 3:
        return shape4[1:]
    return shape4


class _Output:
    """Where pooled rows go: an ndarray, or a ``.npy`` / TIFF memmap in a temporary file
    beside the target, renamed into place only when every row is written."""

    def __init__(self, out, shape4, natural, dtype, photometric=None, extratags=None):
        self.path, self.tmp = None, None
        if out is None:
            self.array = np.empty(natural, dtype=dtype)
        else:
            self.path = Path(out)
            suffix = self.path.suffix.lower()
            fd, self.tmp = make_temporary(self.path)
            os.close(fd)
            if suffix == ".npy":
                self.array = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=dtype,
                                                       shape=natural)
            elif suffix in TIFF_SUFFIXES:
                import tifffile

                tshape = natural[:3] if len(natural) == 4 and natural[3] == 1 else natural
                colour = tshape[-1] in (3, 4) and len(tshape) >= 3
                kw = {"photometric": photometric or ("rgb" if colour else "minisblack")}
                if extratags:
                    kw["extratags"] = extratags
                mm = tifffile.memmap(self.tmp, shape=tshape, dtype=dtype, **kw)
                self.array = mm.reshape(natural)
            else:
                os.unlink(self.tmp)
                raise ValueError(f"{out}: strip pooling writes .npy or TIFF, not {suffix!r}")
        self.view4 = self.array.reshape(shape4)

    def commit(self):
        if self.path is None:
            return self.array
        self.array.flush()
        del self.view4, self.array
        try:  # the temporary is 0600: give the output the permissions of any other output
            os.chmod(self.tmp, normal_mode(self.path))
        except OSError:  # pragma: no cover - a file system without permissions
            pass
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self):
        if self.tmp is not None:
            self.__dict__.pop("view4", None)
            self.__dict__.pop("array", None)
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


# --------------------------------------------------------------------------------------------
# the entry point


def pool_strips(source, mode: str, *, size=2, stride=None, padding=0, dilation=1, ceil_mode=False,
                backend="auto", budget_bytes: int = DEFAULT_BUDGET, out=None,
                alpha_channel: int | None = None,
                on_block: Callable[[int, int], None] | None = None, **options):
    """Pool ``source`` strip by strip along its height; equal to ``api.pool`` on the whole image.

    ``source``: an ndarray / ``np.memmap`` ((H, W), (H, W, C) or (D, H, W, C)), a ``.npy``
    path or a TIFF path (2-D pages, one page per frame). ``budget_bytes``: input bytes
    held in memory at once (the strip; float64 work copies of linear-light and alpha
    pooling included). ``out``: ``None`` (return an ndarray) or a ``.npy`` / ``.tif`` path
    written through a memmap into a temporary file and renamed into place (the path is
    returned). ``alpha_channel``: as ``api.run`` (a TIFF's extra alpha sample is found
    automatically). ``on_block(rows_done, rows_total)`` reports progress in output rows.
    The output takes the layout of the source (a .npy keeps its dimensions; a TIFF page is
    (H, W) or (H, W, C)). ``global`` and ``spp`` reduce the whole image into one window and
    are refused.
    """
    spec = modes.get(mode)
    if spec.windows == "global" or spec.returns == "vector":
        raise ValueError(f"{spec.name} reduces the whole image at once and cannot be pooled "
                         "strip by strip")
    opts = check_options(spec, size=size, stride=stride, padding=padding, dilation=dilation,
                         ceil_mode=ceil_mode, **options).opts
    if spec.windows == "blur" or opts.get("antialias"):
        raise ValueError(f"{spec.name}{' --antialias' if opts.get('antialias') else ''} "
                         "pads by reflection at the image's edges and cannot be pooled strip "
                         "by strip")
    if out is not None and not isinstance(source, np.ndarray) and Path(source).exists() \
            and Path(out).exists() and os.path.samefile(source, out):
        raise ValueError(f"{out}: the output would overwrite the input")
    raster = _geotiff(source)
    if raster is not None:  # as formats' in-memory GeoTIFF path: even windows, GDAL_NODATA
        from .io import geo

        geo.check_even_windows(mode, **options)
        if options.get("nodata") is None and raster.nodata is not None:
            options = dict(options, nodata=raster.nodata)
            opts = check_options(spec, size=size, stride=stride, padding=padding,
                                 dilation=dilation, ceil_mode=ceil_mode, **options).opts
    src = open_rows(source)
    try:
        if 0 in src.shape:
            raise ValueError(f"cannot pool an empty array of shape {src.shape}")
        if alpha_channel is None:
            alpha_channel = getattr(src, "alpha_channel", None)
        kdtype = api.kernel_dtype(src.dtype)
        caller_dtype = src.dtype
        plan = make_plan(spec, src.shape, kdtype, size=size, stride=stride, padding=padding,
                         dilation=dilation, ceil_mode=ceil_mode, opts=opts)
        from . import dispatch

        be = dispatch.backend_for(backend, plan)  # chosen once, for the whole image
        linear = bool(opts.get("linear_light"))
        premultiply = api.premultiplies(plan, alpha_channel)
        d, _, w, c = src.shape
        row_bytes = d * w * c * (kdtype.itemsize + (8 if (linear or premultiply) else 0))
        todo = blocks(plan.axes[1], row_bytes, int(budget_bytes))
        ndim = source.ndim if isinstance(source, np.ndarray) else _source_ndim(source, src)
        natural = _natural_shape(plan.out_shape, ndim)
        tags = None
        if raster is not None and out is not None and Path(out).suffix.lower() in TIFF_SUFFIXES:
            tags = _geo_tags(raster, dict(size=size, stride=stride, padding=padding,
                                          dilation=dilation), src.shape)
        dst = _Output(out, plan.out_shape, natural, caller_dtype,
                      getattr(src, "photometric_name", None), tags)
        try:
            for o0, o1, r0, r1 in todo:
                x = src.read(r0, r1)
                if x.dtype != kdtype:
                    x = x.astype(kdtype)
                sub = restrict_plan(plan, o0, o1, r0, r1)
                y, _ = api.pool_dhwc(x, sub, be, linear=linear, alpha_channel=alpha_channel)
                del x
                dst.view4[:, o0:o1] = y
                if on_block is not None:
                    on_block(o1, plan.axes[1].out)
            return dst.commit()
        except BaseException:
            dst.abort()
            raise
    finally:
        src.close()


def _geotiff(source):
    """A GeoTIFF source's tags and layout (``io.geo.Raster`` without pixels), else None."""
    if isinstance(source, np.ndarray) or Path(source).suffix.lower() not in TIFF_SUFFIXES:
        return None
    from . import formats

    if formats.kind(str(source)) != "geotiff":
        return None
    from .io import geo

    return geo.read_geotiff(source, pixels=False)


def _geo_tags(raster, geometry: dict, shape4) -> list:
    """tifffile's extratags: the raster's GeoTIFF tags updated for the window, as the
    in-memory path writes them (``io.geo.write_geotiff``)."""
    from . import formats
    from .io import geo
    from .io._formats import Window

    win3, temporal = formats.window3(geometry, (1, *shape4[1:3]))
    if temporal:
        raise ValueError("a GeoTIFF is one raster: give a two-number window (-k HxW)")
    win = Window(win3.size[1:], win3.stride[1:], win3.padding[1:], win3.dilation[1:])
    return geo._extratags(geo.pooled_tags(raster, win))


def _source_ndim(source, src) -> int:
    """The natural number of dimensions of a file source (as load_image would give it)."""
    if Path(source).suffix.lower() == ".npy":
        return len(np.load(source, mmap_mode="r", allow_pickle=False).shape)
    d, _, _, c = src.shape
    return 4 if d > 1 else (3 if c > 1 else 2)


__all__ = ["DEFAULT_BUDGET", "blocks", "open_rows", "pool_strips", "restrict_plan"]
