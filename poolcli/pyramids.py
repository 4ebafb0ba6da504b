"""``poolcli pyramid IMG -o out.ome.zarr | out.tif``: every level in one store or file.

``one_file_pyramid(path, out, levels, mode, size, stride, backend)`` reads the input (an image,
a ``.npy``, an OME/ImageJ TIFF stack, a GeoTIFF, a NIfTI volume or a zarr / OME-Zarr store),
pools it ``levels`` times (``io.pyramid.compose_levels``: max, min and avg level from level,
the other modes from the full resolution with the window raised to the level's power) and
writes every level with ``io.pyramid.write_pyramid``.

Inputs larger than memory -- decoded size x ``batch.STRIP_FACTOR`` over the memory available,
the strip path's rule -- and zarr stores (chunked by nature) take the Dask path: the input is
opened lazily (``io.lazy``), each level is a Dask array pooled block by block by
``poolcli.pool`` (the same plan, windows and random draws as in memory, so bit-identical),
and each pooled level is stored as it is made, chunk by chunk, in a scratch zarr store beside
the output (removed at the end), from which the next level (max, min, avg) and the writer read
it: every pass is read chunk -> pool -> write chunk. Memory then holds a few chunks of about
``chunk`` x ``chunk`` cells per thread (a TIFF output: one band of rows of a level), never a
volume or a level; the disk holds the levels twice until the output is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from . import api, formats, modes
from .errors import PoolcliError, UsageError

#: cells along Y and X of one Dask chunk (the Dask path)
CHUNK = 1024


def is_zarr(path) -> bool:
    return str(path).lower().rstrip("/").endswith(".zarr")


def chunked(path, kind: str | None, memory: int | None = None) -> bool:
    """Whether ``path`` takes the Dask path: a zarr store, or decoded bytes x
    ``batch.STRIP_FACTOR`` over ``memory`` (default: ``batch.memory_available()``)."""
    from . import batch
    from .io import lazy

    if kind == "zarr":
        return True
    if kind == "video":
        return False
    available = batch.memory_available() if memory is None else memory
    if available is None:
        return False
    need = lazy.decoded_bytes(path, kind)
    return need is not None and need * batch.STRIP_FACTOR > available


def one_file_pyramid(path: str, out: str, levels: int, mode: str, size, stride,
                     backend: str = "auto", *, memory: int | None = None,
                     chunk: int = CHUNK) -> list[tuple[int, ...]]:
    """Write ``levels`` pooled levels (and the full resolution) into one OME-Zarr store or one
    TIFF; -> each level's shape. ``memory``: the bytes deemed available when choosing the
    Dask path (default: what this machine has); ``chunk``: that path's chunk side."""
    from .io import lazy, pyramid

    spec = modes.get(mode)
    if spec.returns != "image" or spec.windows in ("adaptive", "global"):
        raise UsageError(f"a pyramid repeats one pooling; {mode!r} has a fixed output size")
    k = _two(size, "size")
    st = k if stride is None else _two(stride, "stride")
    kd = "zarr" if is_zarr(path) else formats.kind(path)
    if kd == "video":
        raise UsageError("a video pyramid is not supported: pool the video "
                         "(poolcli avg clip.mp4 -k 2), or pyramid a frame")
    if kd == "geotiff" and spec.windows != "sliding":
        raise UsageError(f"mode {mode!r} pools uneven windows: a GeoTIFF pyramid cannot "
                         "keep its georeferencing; use max, min, avg, ...")
    big = chunked(path, kd, memory)
    src = None
    meta: dict = {}
    alpha = None
    if big or kd in ("nifti", "zarr"):
        src = lazy.open_lazy(path, kd, chunk)
    try:
        if src is not None:
            x, axes = src.array, src.axes
            meta.update({k_: v for k_, v in src.meta.items() if k_ in ("pixel_size", "unit")})
            geo_raster = src.meta.get("geo")
            if src.meta.get("alpha") and spec.averaging and mode not in ("max", "min"):
                raise UsageError(f"an image with alpha takes {mode!r} in memory only; it is too "
                                 "large here: use max or min, or drop the alpha channel")
            if not big:
                x = x.compute()
                if geo_raster is not None:
                    geo_raster.array = x
        else:
            x, axes, geo_raster, alpha = _load(path, kd, meta)
        if geo_raster is not None and out.lower().endswith(formats.TIFF_EXTENSIONS):
            meta["geo"] = geo_raster
        if "unit" in meta:
            meta["unit"] = pyramid.UNITS.get(meta["unit"], meta["unit"])
        meta["axes"] = axes
        meta["name"] = os.path.basename(str(path).rstrip("/"))
        meta["mode"] = mode
        composable = mode in pyramid.COMPOSABLE_MODES
        nodata = geo_raster.nodata if geo_raster is not None else None
        pool_fn = _pool_fn(mode, k, st, composable, backend, alpha, nodata,
                           geo_raster is not None, chunk)
        if geo_raster is not None and "geo" in meta and k != st:
            raise UsageError("a GeoTIFF pyramid's overviews need the window equal to the stride")
        with _scratch(out, big) as stored:
            if stored is not None:
                pool_fn = _stored(pool_fn, stored, axes, chunk)
            try:
                lv = pyramid.compose_levels(x, levels, pool_fn, composable)
            except PoolcliError:
                raise
            except ValueError as exc:  # the window no longer fits a level
                raise UsageError(f"{levels} levels do not fit: {exc}") from None
            scales = [tuple([1] * (axes.count("Z")) + [st[0] ** i, st[1] ** i])
                      for i in range(len(lv))]
            pyramid.write_pyramid(out, lv, scales, meta)
        return [tuple(int(n) for n in level.shape) for level in lv]
    finally:
        if src is not None:
            src.close()


@contextlib.contextmanager
def _scratch(out, big: bool):
    """A scratch folder beside ``out`` for the Dask path's levels (None in memory), removed
    whatever happens; named as poolcli's temporaries are."""
    if not big:
        yield None
        return
    target = os.path.abspath(str(out).rstrip("/"))
    folder = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.",
                              suffix=".levels.poolcli-tmp", dir=os.path.dirname(target))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stored(pool_fn, folder: str, axes: str, chunk: int):
    """``pool_fn`` whose Dask result is stored chunk by chunk in ``folder`` (a zarr array per
    level, uncompressed) and read back from there: the next level and the writer then read
    stored chunks, and no pass recomputes or holds an earlier level."""
    import dask.array as da

    from .io._formats import need

    zarr = need("zarr", "science")
    count = [0]

    def stored(a, times):
        from .io.pyramid import is_dask

        y = pool_fn(a, times)
        if not is_dask(y):
            return y
        count[0] += 1
        chunks = tuple({"Z": 1, "C": n}.get(ax, min(n, chunk)) for ax, n in zip(axes, y.shape))
        y = y.rechunk(chunks)
        z = zarr.create_array(store=os.path.join(folder, f"{count[0]}.zarr"), shape=y.shape,
                              dtype=y.dtype, chunks=chunks, compressors=None, zarr_format=2,
                              fill_value=0)
        da.store(y, z, lock=False)
        return da.from_zarr(z)

    return stored


def _load(path, kd, meta):
    """In memory: -> (array, axes, GeoTIFF raster or None, alpha channel or None)."""
    if kd == "geotiff":
        from .io import geo

        raster = geo.read_geotiff(path)
        return raster.array, ("YX" if raster.array.ndim == 2 else "YXC"), raster, None
    if kd == "stack":
        from .io import volume

        stack = volume.read_stack(path)
        sizes = stack.sizes
        meta["pixel_size"] = tuple(sizes.get(a, (1.0, None))[0] for a in "ZYX")
        unit = next((u for _, u in sizes.values()), None)
        if unit:
            meta["unit"] = unit
        return stack.array, "ZYXC", None, None
    from .io.read import load_image

    img = load_image(path)
    x = img.array
    if x.ndim == 4:
        raise UsageError("a multi-frame image's pyramid: use an OME-TIFF stack input")
    return x, ("YX" if x.ndim == 2 else "YXC"), None, img.alpha_channel


def _pool_fn(mode, k, st, composable, backend, alpha, nodata, honour_nodata, chunk):
    """``compose_levels``'s ``pool_fn(array, times)``: NumPy arrays through ``api.run``,
    Dask arrays through ``poolcli.pool`` (block by block); a level made from the previous
    one is first rechunked to ``chunk`` cells along Y and X, so blocks keep their size."""
    from .io.pyramid import is_dask

    spec = modes.get(mode)
    extra = {"seed": 0} if spec.random else {}

    def pool_fn(a, times):
        kk = k if composable else tuple(v ** times for v in k)
        ss = st if composable else tuple(v ** times for v in st)

        def one(arr, m, **kw):
            if is_dask(arr):
                return api.pool(arr, m, size=kk, stride=ss, backend=backend, **extra,
                                **kw)
            return api.run(arr, m, size=kk, stride=ss, backend=backend, alpha_channel=alpha,
                           **extra, **kw).array

        if is_dask(a) and composable:
            y_axis = 0 if a.ndim in (2, 3) else 1
            a = a.rechunk({y_axis: chunk, y_axis + 1: chunk})
        return formats.pool_nodata(a, nodata, mode, one) if honour_nodata else one(a, mode)

    return pool_fn


def _two(value, name) -> tuple[int, int]:
    from .options import parse_ints

    v = parse_ints(value, name, lengths=(1, 2))
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


__all__ = ["CHUNK", "chunked", "is_zarr", "one_file_pyramid"]
