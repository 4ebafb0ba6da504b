"""One-file pyramids: OME-Zarr multiscales (zarr) and tiled pyramidal TIFF (tifffile).

Interface
---------
- ``compose_levels(x, n, pool_fn, composable) -> [x, level 1, ..., level n]``: the levels of a
  pyramid. ``pool_fn(array, times)`` pools ``array`` as ``times`` repetitions of the one-level
  pooling would (the caller maps it to a window: size**times and stride**times for k = s).
  ``composable`` (max, min, avg without padding: pooling twice equals pooling once with the
  product window) makes level i from level i - 1 (``pool_fn(previous, 1)``), else every level
  is made from the full resolution (``pool_fn(x, i)``), so modes such as median, mode,
  quantile, stochastic and fractional mean the same at every level.
- ``write_pyramid(path, levels, scales, metadata=None)``: one file (or store) holding every
  level. ``levels``: channels-last arrays, all of one layout, named by ``metadata["axes"]``
  ("YX", "YXC", "ZYX", "ZYXC"; default from ndim: 2 "YX", 3 "YXC", 4 "ZYXC"). ``scales``: per
  level, the size of its pixel in level-0 pixels, one number or one per spatial axis (Z, Y, X
  order), e.g. ``[1, 2, 4]``. ``metadata`` (all optional): ``pixel_size`` (level 0's physical
  pixel size per spatial axis, default 1), ``unit`` (an OME-Zarr unit name such as
  "micrometer"), ``name``, ``translations`` (per level, the position of the first pixel's
  centre in level-0 pixels; default ``(scale - 1) / 2``, the centre of the first block, which is
  right for k = s without padding), ``tile`` (default 256), ``geo`` (a ``geo.Raster`` for a
  GeoTIFF pyramid, with ``window`` the one-level ``Window``).

  - ``*.zarr``: OME-Zarr 0.4 (Zarr v2 format, "/" chunk keys), arrays "0", "1", ... stored as
    (c, z, y, x) as the specification orders axes, each with a ``scale`` (pixel size x scale, 1
    on the channel axis) and a ``translation`` coordinate transformation.
  - ``*.tif``/``*.tiff`` without ``geo``: a tiled OME-TIFF whose reduced levels are SubIFDs of
    each full-resolution plane (Bio-Formats, QuPath, tifffile's ``series.levels``), with the
    physical pixel size of level 0 in the OME metadata. Volumes: every level keeps the full
    depth (only Y and X reduced), as OME-TIFF pyramids require; Z-pooled levels need OME-Zarr.
  - ``*.tif``/``*.tiff`` with ``geo``: a tiled GeoTIFF whose overviews follow the full image as
    reduced-resolution IFDs (NewSubfileType 1), the layout GDAL reads as internal overviews
    (GDAL derives each overview's transform from its size: right for k = s); level 0 carries
    the raster's tags, updated by ``metadata["window"]`` when level 0 is itself pooled. (The
    byte order of a validated COG, IFDs first, is not promised.)

Levels may be Dask arrays (``poolcli pyramid`` on an input larger than memory): they are then
computed and written chunk by chunk -- OME-Zarr by ``dask.array.store`` into the zarr arrays,
one level after the other; a TIFF tile by tile from one band of rows of a level at a time
(tifffile takes an iterator of tiles) -- so memory holds chunks, never a whole level (the
caller makes each level cheap to read: ``pyramids`` stores them in a scratch store first).

Every output is written under a temporary name beside the target and renamed into place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ._formats import need, replace_atomically

COMPOSABLE_MODES = ("max", "min", "avg")
DEFAULT_AXES = {2: "YX", 3: "YXC", 4: "ZYXC"}
UNITS = {
    "µm": "micrometer",
    "um": "micrometer",
    "nm": "nanometer",
    "mm": "millimeter",
    "m": "meter",
    "cm": "centimeter",
    "s": "second",
}


def compose_levels(
    x: np.ndarray, n: int, pool_fn: Callable[[np.ndarray, int], np.ndarray], composable: bool
) -> list[np.ndarray]:
    """The full resolution and ``n`` pooled levels (see the module doc)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UsageError(f"levels must be a whole number >= 1, got {n!r}")
    levels = [x]
    for i in range(1, int(n) + 1):
        levels.append(pool_fn(levels[-1], 1) if composable else pool_fn(x, i))
    return levels


def _axes(levels: Sequence[np.ndarray], metadata: dict) -> str:
    ndim = np.ndim(levels[0])
    axes = metadata.get("axes") or DEFAULT_AXES.get(ndim)
    if (
        axes is None
        or len(axes) != ndim
        or not set(axes) <= set("ZYXC")
        or not axes.endswith(("YX", "YXC"))
    ):
        raise UsageError(
            f"pyramid levels of {ndim} dimensions need axes among YX, YXC, ZYX, ZYXC, got {axes!r}"
        )
    if any(np.ndim(level) != ndim for level in levels):
        raise UsageError("every pyramid level needs the same number of dimensions")
    return axes


def _per_spatial(value, n: int, name: str) -> tuple[float, ...]:
    if np.ndim(value) == 0:
        return (float(value),) * n
    values = tuple(float(v) for v in value)
    if len(values) != n:
        raise UsageError(f"{name} needs one number or {n} (one per spatial axis), got {value!r}")
    return values


def write_pyramid(
    path, levels: Sequence[np.ndarray], scales: Sequence, metadata: dict | None = None
) -> None:
    """Write every level into one OME-Zarr store or one TIFF (see the module doc)."""
    metadata = dict(metadata or {})
    levels = [level if is_dask(level) else np.asarray(level) for level in levels]
    if not levels:
        raise UsageError("a pyramid needs at least one level")
    if len(scales) != len(levels):
        raise UsageError(f"{len(levels)} levels need {len(levels)} scales, got {len(scales)}")
    axes = _axes(levels, metadata)
    spatial = axes.replace("C", "")
    scales = [_per_spatial(s, len(spatial), "scale") for s in scales]
    pixel = _per_spatial(metadata.get("pixel_size", 1.0), len(spatial), "pixel_size")
    translations = metadata.get("translations")
    if translations is None:
        translations = [tuple((s - 1) / 2 for s in scale) for scale in scales]
    translations = [_per_spatial(t, len(spatial), "translation") for t in translations]
    name = str(path)
    if re.search(r"\.zarr/?$", name, re.I):
        _write_zarr(path, levels, axes, scales, pixel, translations, metadata)
    elif re.search(r"\.tiff?$", name, re.I):
        if metadata.get("geo") is not None:
            _write_geotiff(path, levels, axes, metadata)
        else:
            _write_ome_tiff(path, levels, axes, scales, pixel, metadata)
    else:
        raise UsageError(f"{path}: a pyramid is written as .ome.zarr/.zarr or .tif/.tiff")


def is_dask(x) -> bool:
    """Whether ``x`` is a Dask array (computed chunk by chunk when written)."""
    return type(x).__module__.startswith("dask.") and hasattr(x, "chunks")


def _to_spec_order(level: np.ndarray, axes: str) -> tuple[np.ndarray, str]:
    """Channels-last -> OME's order: c first, then z, y, x."""
    if "C" in axes:
        level = np.moveaxis(level, axes.index("C"), 0)
        axes = "C" + axes.replace("C", "")
    return level, axes


def _write_zarr(path, levels, axes, scales, pixel, translations, metadata) -> None:
    zarr = need("zarr", "science")
    unit = UNITS.get(metadata.get("unit", ""), metadata.get("unit"))
    with replace_atomically(path, suffix=".zarr", directory=True) as tmp:
        root = zarr.open_group(tmp, mode="w", zarr_format=2)
        datasets, sources, targets = [], [], []
        for i, (level, scale, shift) in enumerate(zip(levels, scales, translations)):
            data, order = _to_spec_order(level, axes)
            chunks = tuple(1 if a in "CZ" else min(n, 256) for a, n in zip(order, data.shape))
            array = root.create_array(
                str(i),
                shape=data.shape,
                dtype=data.dtype,
                chunks=chunks,
                chunk_key_encoding={"name": "v2", "separator": "/"},
                fill_value=0,
            )
            if is_dask(data):  # written by the one store below, chunk by chunk
                sources.append(_aligned(data, chunks))
                targets.append(array)
            else:
                array[...] = data
            lead = [1.0] if order.startswith("C") else []
            datasets.append(
                {
                    "path": str(i),
                    "coordinateTransformations": [
                        {"type": "scale", "scale": lead + [p * s for p, s in zip(pixel, scale)]},
                        {
                            "type": "translation",
                            "translation": [0.0] * len(lead)
                            + [p * t for p, t in zip(pixel, shift)],
                        },
                    ],
                }
            )
        _, order = _to_spec_order(levels[0], axes)
        axes_meta = []
        for a in order:
            if a == "C":
                axes_meta.append({"name": "c", "type": "channel"})
            else:
                entry = {"name": a.lower(), "type": "space"}
                if unit:
                    entry["unit"] = unit
                axes_meta.append(entry)
        multiscale = {"version": "0.4", "axes": axes_meta, "datasets": datasets}
        if metadata.get("name"):
            multiscale["name"] = metadata["name"]
        if metadata.get("mode"):
            multiscale["type"] = metadata["mode"]
        root.attrs["multiscales"] = [multiscale]
        if sources:
            import dask.array as da

            for s_, t_ in zip(sources, targets):
                da.store(s_, t_, lock=False)


def _aligned(data, chunks):
    """``data`` rechunked so that every Dask block covers whole zarr chunks (no two tasks
    write one chunk): each axis's block a multiple of the zarr chunk, near its own size."""
    want = tuple(c * max(1, (bc[0] if bc else c) // c) for c, bc in zip(chunks, data.chunks))
    if all(len(bc) <= 1 or bc[0] == w and all(b == w for b in bc[:-1])
           for bc, w in zip(data.chunks, want)):
        return data
    return data.rechunk(want)


def _tile(metadata) -> tuple[int, int]:
    tile = int(metadata.get("tile", 256))
    if tile < 16 or tile % 16:
        raise UsageError(f"a TIFF tile is a multiple of 16, got {tile}")
    return (tile, tile)


def _write_ome_tiff(path, levels, axes, scales, pixel, metadata) -> None:
    tifffile = need("tifffile", "science")
    # tifffile's OME writer takes planes as (..., Y, X): channels before the plane
    data0, order = _to_spec_order(levels[0], axes)
    if "Z" in order and order.startswith("C"):
        order = "ZCYX"
    meta = {"axes": order}
    unit = metadata.get("unit")
    for axis, size in zip(axes.replace("C", ""), pixel):
        meta[f"PhysicalSize{axis}"] = size
        if unit:
            meta[f"PhysicalSize{axis}Unit"] = {"micrometer": "µm"}.get(unit, unit)
    suffix = ".ome.tif" if not str(path).lower().endswith(".tiff") else ".ome.tiff"
    tile = _tile(metadata)

    def arrange(level):
        level, o = _to_spec_order(level, axes)
        if o == "CZYX":
            level = np.swapaxes(level, 0, 1)
        return level

    if "Z" in axes and any(
        level.shape[axes.index("Z")] != levels[0].shape[axes.index("Z")] for level in levels
    ):
        raise UsageError(
            "an OME-TIFF pyramid reduces Y and X only (each plane has its SubIFDs): "
            "write levels pooled along Z as OME-Zarr (.ome.zarr)"
        )
    big = sum(level.nbytes for level in levels) > 2**31
    with (
        replace_atomically(path, suffix=suffix) as tmp,
        tifffile.TiffWriter(tmp, bigtiff=big, ome=True) as tif,
    ):
        tif.write(
            **_data(arrange(levels[0]), tile, samples=False),
            subifds=len(levels) - 1,
            tile=tile,
            metadata=meta,
            photometric="minisblack",
        )
        for level in levels[1:]:
            tif.write(
                **_data(arrange(level), tile, samples=False),
                subfiletype=1,
                tile=tile,
                photometric="minisblack",
                metadata=None,
            )


def _write_geotiff(path, levels, axes, metadata) -> None:
    tifffile = need("tifffile", "science")
    from .geo import _extratags, pooled_tags

    if "Z" in axes:
        raise UsageError("a GeoTIFF pyramid holds 2-D rasters (YX or YXC), not volumes")
    raster = metadata["geo"]
    tags = (
        raster.tags if metadata.get("window") is None else pooled_tags(raster, metadata["window"])
    )
    tile = _tile(metadata)
    big = sum(level.nbytes for level in levels) > 2**31
    with (
        replace_atomically(path, suffix=Path(path).suffix) as tmp,
        tifffile.TiffWriter(tmp, bigtiff=big) as tif,
    ):
        for i, level in enumerate(levels):
            kwargs = dict(
                tile=tile,
                photometric="minisblack",
                metadata=None,
                planarconfig="contig" if level.ndim == 3 else None,
            )
            if raster.compression is not None:
                kwargs["compression"] = raster.compression
            if i == 0:
                kwargs["extratags"] = _extratags(tags)
            else:
                kwargs["subfiletype"] = 1
                nodata = tags.get(42113)
                if nodata is not None:  # GDAL reads each overview's nodata from its own IFD
                    kwargs["extratags"] = _extratags({42113: nodata})
            tif.write(**_data(level, tile, samples=level.ndim == 3), **kwargs)


def _data(level, tile, samples: bool) -> dict:
    """``TiffWriter.write``'s data: the array itself, or for a Dask array an iterator of its
    tiles (with the shape and dtype), computed one band of rows at a time."""
    if not is_dask(level):
        return {"data": level}
    return {"data": _tiles(level, tile, samples), "shape": level.shape, "dtype": level.dtype}


def _tiles(level, tile, samples: bool):
    """The tiles of every plane of ``level`` (planes first, then Y, X, and a trailing sample
    axis when ``samples``) in TIFF order, each zero-padded to the tile's shape."""
    nlead = level.ndim - (3 if samples else 2)
    h, w = level.shape[nlead], level.shape[nlead + 1]
    th, tw = tile
    band = th * max(1, level.chunks[nlead][0] // th)
    for plane in np.ndindex(*level.shape[:nlead]):
        for r0 in range(0, h, band):
            rows = np.asarray(level[plane + (slice(r0, min(r0 + band, h)),)].compute())
            for t0 in range(0, rows.shape[0], th):
                for c0 in range(0, w, tw):
                    t = rows[t0 : t0 + th, c0 : c0 + tw]
                    if t.shape[:2] != (th, tw):
                        pad = [(0, th - t.shape[0]), (0, tw - t.shape[1])] + [(0, 0)] * (
                            t.ndim - 2
                        )
                        t = np.pad(t, pad)
                    yield np.ascontiguousarray(t)
