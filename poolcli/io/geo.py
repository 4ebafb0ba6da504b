"""GeoTIFF through tifffile (the ``science`` extra): georeferencing and nodata kept and updated.

Interface
---------
- ``read_geotiff(path, pixels=True) -> Raster``: ``.array`` (H, W) for one band or (H, W, C)
  (bands last, whatever the file's planar configuration; None when ``pixels`` is False),
  ``.tags`` the GeoTIFF tags as stored
  (ModelPixelScale 33550, ModelTiepoint 33922, ModelTransformation 34264, GeoKeyDirectory 34735,
  GeoDoubleParams 34736, GeoAsciiParams 34737, GDAL_METADATA 42112, GDAL_NODATA 42113),
  ``.nodata`` (float or None, from GDAL_NODATA), ``.pixel_is_point`` (GTRasterTypeGeoKey),
  and the layout (photometric, planar configuration, compression, predictor, tile) to write
  back alike.
- ``pooled_tags(raster, window) -> dict``: the tags updated for a pooling with ``window``
  (over (H, W)): pixel size x stride, and the origin placed so that each output pixel's centre
  is the centre of its window: output raster coordinate u' maps to input u = s*u' + o with
  o = (k - 1)*d/2 - p + (1 - s)/2 for PixelIsArea (o = -p for k = s: unchanged without padding)
  and o = (k - 1)*d/2 - p for PixelIsPoint (the coordinates of pixel centres). A single
  tiepoint with a pixel scale is rewritten at raster (0, 0); several tiepoints (GCPs) keep their
  model coordinates and move in raster space; a ModelTransformation is composed with the map.
  GeoKeys, GDAL_METADATA and GDAL_NODATA are kept unchanged.
- ``write_geotiff(path, pooled, like, window, tile=None)``: write with those tags, ``like``'s
  layout (compression, predictor, tiles) and dtype as given.
- ``check_even_windows(mode, **options)``: raises ``UsageError`` (a ``ValueError``) for modes
  whose windows are uneven (adaptive, fractional, spp, global): no single pixel size and origin
  describe their output, so it cannot carry georeferencing.

The transform that ``rasterio``/GDAL reads from the output equals ``T @ translation(c, c) @
scale(s)`` of the input's transform T, with c = (k - 1)*d/2 - p + (1 - s)/2 per axis (for
GDAL's corner-based transform, whatever the raster type): the tests check exactly that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import ImageError, UsageError
from ._formats import Window, need, replace_atomically

PIXEL_SCALE, TIEPOINT, TRANSFORMATION = 33550, 33922, 34264
GEO_KEYS, GEO_DOUBLES, GEO_ASCII = 34735, 34736, 34737
GDAL_METADATA, GDAL_NODATA = 42112, 42113
GEO_TAGS = (
    PIXEL_SCALE,
    TIEPOINT,
    TRANSFORMATION,
    GEO_KEYS,
    GEO_DOUBLES,
    GEO_ASCII,
    GDAL_METADATA,
    GDAL_NODATA,
)
_TAG_TYPES = {
    PIXEL_SCALE: "d",
    TIEPOINT: "d",
    TRANSFORMATION: "d",
    GEO_KEYS: "H",
    GEO_DOUBLES: "d",
    GEO_ASCII: "s",
    GDAL_METADATA: "s",
    GDAL_NODATA: "s",
}
UNEVEN_MODES = ("adaptive", "fractional", "spp", "global")


def _tifffile():
    return need("tifffile", "science")


@dataclass
class Raster:
    """A GeoTIFF's pixels (bands last), its GeoTIFF tags and the layout to write back."""

    array: np.ndarray
    tags: dict
    photometric: str = "minisblack"
    planarconfig: str = "contig"
    compression: object = None
    predictor: object = None
    tile: tuple | None = None
    extras: dict = field(default_factory=dict)

    @property
    def nodata(self) -> float | None:
        value = self.tags.get(GDAL_NODATA)
        if value is None:
            return None
        try:
            return float(str(value).strip().strip("\0"))
        except ValueError:
            return None

    @property
    def pixel_is_point(self) -> bool:
        keys = self.tags.get(GEO_KEYS)
        if not keys:
            return False
        for i in range(4, len(keys) - 3, 4):
            if keys[i] == 1025 and keys[i + 1] == 0:  # GTRasterTypeGeoKey, stored inline
                return keys[i + 3] == 2  # RasterPixelIsPoint
        return False


def read_geotiff(path, pixels: bool = True) -> Raster:
    """Pixels, GeoTIFF tags and layout of the first image of a (Geo)TIFF; ``pixels=False``
    reads the tags and layout alone (``array`` is then None)."""
    tifffile = _tifffile()
    try:
        with tifffile.TiffFile(os.fspath(path)) as tif:
            page = tif.pages[0]
            data = page.asarray() if pixels else None
            tags = {code: page.tags[code].value for code in GEO_TAGS if code in page.tags}
            separate = page.planarconfig == tifffile.PLANARCONFIG.SEPARATE
            if separate and data is not None and data.ndim == 3:
                data = np.moveaxis(data, 0, -1)
            layout = dict(
                photometric="rgb" if page.photometric == tifffile.PHOTOMETRIC.RGB else "minisblack",
                planarconfig="separate" if separate else "contig",
                compression=None
                if page.compression == tifffile.COMPRESSION.NONE
                else page.compression,
                predictor=None if page.predictor == tifffile.PREDICTOR.NONE else page.predictor,
                tile=(page.tilelength, page.tilewidth) if page.is_tiled else None,
            )
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise ImageError(f"{path}: cannot read as a GeoTIFF: {exc}") from None
    if not any(code in tags for code in (TIEPOINT, TRANSFORMATION)):
        raise ImageError(
            f"{path}: no georeferencing (neither ModelTiepoint nor ModelTransformation)"
        )
    return Raster(array=data, tags=tags, **layout)


def _offsets(window: Window, point: bool) -> tuple[float, float]:
    """o per axis (rows, columns): input raster coordinate = s * output coordinate + o."""
    centre = window.centre()
    return tuple(c + (0.0 if point else (1 - s) / 2) for c, s in zip(centre, window.stride))


def pooled_tags(raster: Raster, window: Window) -> dict:
    """``raster``'s GeoTIFF tags updated for a pooling with ``window`` over (H, W)."""
    if len(window.size) != 2:
        raise UsageError(f"a raster needs a two-number window, got {len(window.size)} numbers")
    sy, sx = window.stride
    oy, ox = _offsets(window, raster.pixel_is_point)
    tags = dict(raster.tags)
    if TRANSFORMATION in tags:
        m = np.asarray(tags[TRANSFORMATION], dtype=np.float64).reshape(4, 4)
        step = np.array(
            [[sx, 0, 0, ox], [0, sy, 0, oy], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64
        )
        tags[TRANSFORMATION] = tuple((m @ step).ravel().tolist())
    if TIEPOINT in tags:
        points = np.asarray(tags[TIEPOINT], dtype=np.float64).reshape(-1, 6)
        if len(points) == 1 and PIXEL_SCALE in tags:
            i, j, k, x, y, z = points[0]
            px, py, pz = tags[PIXEL_SCALE]
            points = np.array([[0, 0, k, x + (ox - i) * px, y - (oy - j) * py, z]])
        else:
            points = points.copy()
            points[:, 0] = (points[:, 0] - ox) / sx
            points[:, 1] = (points[:, 1] - oy) / sy
        tags[TIEPOINT] = tuple(points.ravel().tolist())
    if PIXEL_SCALE in tags:
        px, py, pz = tags[PIXEL_SCALE]
        tags[PIXEL_SCALE] = (px * sx, py * sy, pz)
    return tags


def _extratags(tags: dict) -> list:
    out = []
    for code, value in tags.items():
        kind = _TAG_TYPES[code]
        if kind == "s":
            value = str(value)
            out.append((code, "s", 0, value, True))
        else:
            values = tuple(value) if isinstance(value, (tuple, list, np.ndarray)) else (value,)
            out.append((code, kind, len(values), values, True))
    return out


def write_geotiff(path, pooled: np.ndarray, like: Raster, window: Window, tile=None) -> None:
    """Write ``pooled`` (H, W[, C]) with ``like``'s tags updated for ``window`` and its layout."""
    tifffile = _tifffile()
    pooled = np.asarray(pooled)
    tags = pooled_tags(like, window)
    data = pooled
    if like.planarconfig == "separate" and pooled.ndim == 3:
        data = np.moveaxis(pooled, -1, 0)
    photometric = like.photometric
    if photometric == "rgb" and (pooled.ndim != 3 or pooled.shape[2] not in (3, 4)):
        photometric = "minisblack"
    tile = tile or like.tile
    kwargs = dict(
        photometric=photometric,
        planarconfig=like.planarconfig if pooled.ndim == 3 else None,
        extratags=_extratags(tags),
        metadata=None,
    )
    if tile:
        kwargs["tile"] = tuple(tile)
    if like.compression is not None:
        kwargs["compression"] = like.compression
        if like.predictor is not None and not (like.predictor == 2 and pooled.dtype.kind == "f"):
            kwargs["predictor"] = like.predictor
    try:
        with replace_atomically(path) as tmp:
            tifffile.imwrite(tmp, data, **kwargs)
    except (ValueError, RuntimeError) as exc:
        raise ImageError(f"{path}: cannot write the GeoTIFF: {exc}") from None


def check_even_windows(mode: str, **options) -> None:
    """Refuse modes whose windows differ from one output pixel to the next (no transform fits)."""
    if (
        mode in UNEVEN_MODES
        or options.get("output_size") is not None
        or options.get("ratio") is not None
    ):
        raise UsageError(
            f"mode {mode!r} pools uneven windows, so its output has no single pixel size and "
            "origin: georeferencing cannot be kept; use a sliding mode (max, avg, ...) with -k/-s"
        )
