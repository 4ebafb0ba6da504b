"""GeoTIFF: rasters made by rasterio/tifffile, pooled by poolcli.io.geo, read back by rasterio
(GDAL): the transform must be what a GDAL user computes for the pooling."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import poolcli
from poolcli.errors import ImageError

rasterio = pytest.importorskip("rasterio")
tifffile = pytest.importorskip("tifffile")
from affine import Affine  # noqa: E402  (rasterio's dependency)

from poolcli.io import geo  # noqa: E402
from poolcli.io._formats import Window  # noqa: E402

NODATA = -9999
ORIGIN = Affine(30.0, 0.0, 500000.0, 0.0, -20.0, 4100000.0)  # 30 m x 20 m pixels, north up


def make_geotiff(path, bands=2, dtype="int16", transform=ORIGIN, nodata=NODATA, **profile):
    data = np.arange(bands * 24 * 32).reshape(bands, 24, 32).astype(dtype)
    data[:, :3, :3] = nodata
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=24,
        width=32,
        count=bands,
        dtype=dtype,
        crs="EPSG:32633",
        transform=transform,
        nodata=nodata,
        **profile,
    ) as ds:
        ds.write(data)
    return data


def gdal_user_transform(t: Affine, k, s, p, d=1) -> Affine:
    """What a GDAL user computes: output pixel j's centre at the centre of window j, i.e. its
    corner at input pixel (k - 1)*d/2 - p + (1 - s)/2 + s*j, and pixels s times larger."""
    c = (k - 1) * d / 2 - p + (1 - s) / 2
    return t @ Affine.translation(c, c) @ Affine.scale(s)


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 3, 0), (3, 2, 1), (2, 2, 1), (3, 1, 1)])
def test_transform_equals_what_gdal_computes(tmp_path, k, s, p):
    src, dst = tmp_path / "in.tif", tmp_path / "out.tif"
    make_geotiff(src)
    r = geo.read_geotiff(src)
    assert r.nodata == NODATA and r.array.shape == (24, 32, 2)
    y = poolcli.pool(r.array, "max", size=k, stride=s, padding=p)
    geo.write_geotiff(dst, y, r, Window.of(2, k, s, p))
    with rasterio.open(src) as a, rasterio.open(dst) as b:
        assert b.transform.almost_equals(gdal_user_transform(a.transform, k, s, p), precision=1e-9)
        assert b.nodata == NODATA and b.crs == a.crs
        assert (b.height, b.width, b.count) == y.shape
        np.testing.assert_array_equal(b.read(), np.moveaxis(y, -1, 0))
    if k == s and p == 0:  # the corner does not move
        with rasterio.open(dst) as b:
            assert (b.transform.c, b.transform.f) == (ORIGIN.c, ORIGIN.f)


def test_nodata_never_mixed_into_avg_max_min(tmp_path):
    src, dst = tmp_path / "in.tif", tmp_path / "out.tif"
    data = make_geotiff(src, bands=1)[0]
    r = geo.read_geotiff(src)
    for mode in ("avg", "max", "min"):
        y = poolcli.pool(r.array, mode, size=2, nodata=r.nodata)
        geo.write_geotiff(dst, y, r, Window.of(2, 2))
        with rasterio.open(dst) as b:
            got = b.read(1, masked=True)
        # oracle: numpy masked arrays over 2x2 blocks
        blocks = (
            np.ma.masked_equal(data, NODATA).reshape(12, 2, 16, 2).swapaxes(1, 2).reshape(12, 16, 4)
        )
        want = {"avg": blocks.mean(-1), "max": blocks.max(-1), "min": blocks.min(-1)}[mode]
        assert got.mask[0, 0] and not got.mask[1:, :].any()  # the all-nodata block stays nodata
        if mode == "avg":
            np.testing.assert_array_equal(
                got.filled(NODATA), np.rint(want).filled(NODATA).astype(np.int16)
            )
        else:
            np.testing.assert_array_equal(got.filled(NODATA), want.filled(NODATA))
        # block (0, 1) has two valid cells of four: nodata did not pull it down
        assert got[0, 1] == {"avg": (3 + 35) / 2, "max": 35, "min": 3}[mode]


def test_pixel_is_point_raster(tmp_path):
    """A PixelIsPoint file (tiepoint at the first pixel's centre), written by tifffile."""
    src, dst = tmp_path / "pt.tif", tmp_path / "out.tif"
    keys = (
        1,
        1,
        0,
        3,
        1024,
        0,
        1,
        1,
        1025,
        0,
        1,
        2,
        3072,
        0,
        1,
        32633,
    )  # projected, point, UTM 33N
    tifffile.imwrite(
        src,
        np.arange(16 * 20, dtype=np.float32).reshape(16, 20),
        extratags=[
            (33550, "d", 3, (10.0, 10.0, 0.0), True),
            (33922, "d", 6, (0.0, 0.0, 0.0, 1000.0, 2000.0, 0.0), True),
            (34735, "H", len(keys), keys, True),
            (42113, "s", 0, "nan", True),
        ],
    )
    r = geo.read_geotiff(src)
    assert r.pixel_is_point and np.isnan(r.nodata)
    y = poolcli.pool(r.array, "avg", size=2)
    geo.write_geotiff(dst, y, r, Window.of(2, 2))
    with rasterio.open(src) as a, rasterio.open(dst) as b:
        assert b.transform.almost_equals(gdal_user_transform(a.transform, 2, 2, 0), precision=1e-9)
        assert np.isnan(b.nodata)
    # in the file itself the tiepoint is the centre of the first output pixel: a 2x2 block's centre
    with tifffile.TiffFile(dst) as t:
        assert t.pages[0].tags[33922].value == (0.0, 0.0, 0.0, 1005.0, 1995.0, 0.0)
        assert t.pages[0].tags[33550].value == (20.0, 20.0, 0.0)


def test_model_transformation_is_composed(tmp_path):
    src, dst = tmp_path / "rot.tif", tmp_path / "out.tif"
    rotated = Affine(
        10.0, 2.0, 300.0, 1.0, -10.0, 700.0
    )  # rotated/sheared: GDAL writes a ModelTransformation
    make_geotiff(src, bands=1, dtype="float32", transform=rotated, nodata=None)
    r = geo.read_geotiff(src)
    assert geo.TRANSFORMATION in r.tags
    y = poolcli.pool(r.array, "avg", size=3, stride=2, padding=1)
    geo.write_geotiff(dst, y, r, Window.of(2, 3, 2, 1))
    with rasterio.open(dst) as b:
        assert b.transform.almost_equals(gdal_user_transform(rotated, 3, 2, 1), precision=1e-9)
        assert b.nodata is None


@pytest.mark.parametrize("interleave", ["pixel", "band"])
def test_compressed_tiled_layout_is_kept(tmp_path, interleave):
    src, dst = tmp_path / "in.tif", tmp_path / "out.tif"
    data = make_geotiff(
        src,
        bands=3,
        tiled=True,
        blockxsize=16,
        blockysize=16,
        compress="deflate",
        interleave=interleave,
    )
    r = geo.read_geotiff(src)
    np.testing.assert_array_equal(r.array, np.moveaxis(data, 0, -1))  # bands last either way
    y = poolcli.pool(r.array, "max", size=2)
    geo.write_geotiff(dst, y, r, Window.of(2, 2))
    with rasterio.open(dst) as b:
        assert b.compression.name.lower() == "deflate" and b.block_shapes[0] == (16, 16)
        assert b.interleaving.name.lower() == interleave
        np.testing.assert_array_equal(b.read(), np.moveaxis(y, -1, 0))


def test_rewrite_keeps_the_replaced_files_permissions(tmp_path):
    src, dst = tmp_path / "in.tif", tmp_path / "out.tif"
    make_geotiff(src)
    r = geo.read_geotiff(src)
    geo.write_geotiff(dst, r.array, r, Window.of(2, 1))
    dst.chmod(0o640)
    geo.write_geotiff(dst, poolcli.pool(r.array, "max", size=2), r, Window.of(2, 2))
    assert dst.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif", "out.tif"]


@pytest.mark.parametrize(
    "mode, options",
    [
        ("adaptive", {"output_size": (4, 4)}),
        ("fractional", {"ratio": 0.7}),
        ("spp", {}),
        ("global", {}),
        ("max", {"output_size": (3, 3)}),
    ],
)
def test_uneven_windows_are_refused(mode, options):
    with pytest.raises(ValueError, match="uneven windows.*georeferencing cannot be kept"):
        geo.check_even_windows(mode, **options)
    geo.check_even_windows("avg")  # a sliding mode passes


def test_tiff_without_georeferencing_is_an_image_error(tmp_path):
    src = tmp_path / "plain.tif"
    tifffile.imwrite(src, np.zeros((8, 8), np.uint8))
    with pytest.raises(ImageError, match="no georeferencing"):
        geo.read_geotiff(src)


def test_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ImageError, match=r'pip install "poolcli\[science\]"'):
        geo.read_geotiff(tmp_path / "x.tif")
