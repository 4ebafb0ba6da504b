"""One-file pyramids: OME-Zarr read back with zarr, pyramidal TIFF with tifffile, GeoTIFF
overviews with rasterio (GDAL)."""

from __future__ import annotations

import numpy as np
import pytest

import poolcli
from poolcli.errors import UsageError

zarr = pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")
from poolcli.io import pyramid  # noqa: E402


def image(shape=(40, 56, 3), dtype=np.uint8, seed=0):
    return np.random.default_rng(seed).integers(0, 255, shape).astype(dtype)


def test_compose_levels_level_from_level_equals_from_full_resolution_for_avg():
    x = image((32, 48, 3), np.float64)
    chained = pyramid.compose_levels(x, 3, lambda a, t: poolcli.pool(a, "avg", size=2**t), True)
    direct = pyramid.compose_levels(x, 3, lambda a, t: poolcli.pool(a, "avg", size=2**t), False)
    assert [lv.shape for lv in chained] == [(32, 48, 3), (16, 24, 3), (8, 12, 3), (4, 6, 3)]
    for a, b in zip(chained, direct):
        np.testing.assert_allclose(a, b)


def test_compose_levels_calls_the_full_resolution_for_non_composable_modes():
    x = image((16, 16, 1))
    calls = []

    def pool_fn(a, times):
        calls.append((a.shape, times))
        return poolcli.pool(a, "lp", size=2**times)

    levels = pyramid.compose_levels(x, 2, pool_fn, composable=False)
    assert calls == [((16, 16, 1), 1), ((16, 16, 1), 2)]
    assert [lv.shape for lv in levels] == [(16, 16, 1), (8, 8, 1), (4, 4, 1)]
    with pytest.raises(UsageError, match="levels must be"):
        pyramid.compose_levels(x, 0, pool_fn, True)


def test_ome_zarr_levels_shapes_and_scales(tmp_path):
    x = image()
    levels = pyramid.compose_levels(x, 3, lambda a, t: poolcli.pool(a, "max", size=2), True)
    out = tmp_path / "out.ome.zarr"
    pyramid.write_pyramid(
        out, levels, [1, 2, 4, 8], {"pixel_size": (0.5, 0.25), "unit": "µm", "name": "x"}
    )
    root = zarr.open_group(str(out), mode="r")
    ms = root.attrs["multiscales"][0]
    assert ms["version"] == "0.4" and ms["name"] == "x"
    assert [a["name"] for a in ms["axes"]] == ["c", "y", "x"]
    assert ms["axes"][1] == {"name": "y", "type": "space", "unit": "micrometer"}
    for i, (level, ds) in enumerate(zip(levels, ms["datasets"])):
        arr = root[ds["path"]]
        assert arr.shape == (3, *level.shape[:2])
        np.testing.assert_array_equal(arr[...], np.moveaxis(level, -1, 0))
        scale, shift = ds["coordinateTransformations"]
        f = 2**i
        assert scale == {"type": "scale", "scale": [1.0, 0.5 * f, 0.25 * f]}
        # the first pixel's centre is the centre of the first f x f block
        assert shift == {
            "type": "translation",
            "translation": [0.0, 0.5 * (f - 1) / 2, 0.25 * (f - 1) / 2],
        }
    assert (out / ".zattrs").is_file() and (out / "0" / ".zarray").is_file()


def test_ome_zarr_volume_pooled_along_z(tmp_path):
    v = image((8, 16, 20, 2), np.uint16)
    levels = pyramid.compose_levels(v, 2, lambda a, t: poolcli.pool(a, "avg", size=(2, 2, 2)), True)
    out = tmp_path / "v.zarr"
    pyramid.write_pyramid(out, levels, [1, 2, 4], {"pixel_size": (2.0, 0.5, 0.5)})
    root = zarr.open_group(str(out), mode="r")
    ms = root.attrs["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["c", "z", "y", "x"]
    assert [root[str(i)].shape for i in range(3)] == [(2, 8, 16, 20), (2, 4, 8, 10), (2, 2, 4, 5)]
    assert ms["datasets"][2]["coordinateTransformations"][0]["scale"] == [1.0, 8.0, 2.0, 2.0]
    assert root["1"].dtype == np.uint16


def test_rewriting_a_zarr_pyramid_replaces_it(tmp_path):
    out = tmp_path / "p.zarr"
    pyramid.write_pyramid(out, [image((16, 16, 1))] * 3, [1, 2, 4])
    pyramid.write_pyramid(out, [image((16, 16, 1)), image((8, 8, 1))], [1, 2])
    root = zarr.open_group(str(out), mode="r")
    assert len(root.attrs["multiscales"][0]["datasets"]) == 2 and "2" not in root
    assert [p.name for p in tmp_path.iterdir()] == ["p.zarr"]  # no temporary left


def test_pyramidal_tiff_with_subifds(tmp_path):
    x = image((300, 280, 3))
    levels = pyramid.compose_levels(x, 2, lambda a, t: poolcli.pool(a, "avg", size=2), True)
    out = tmp_path / "p.ome.tif"
    pyramid.write_pyramid(out, levels, [1, 2, 4], {"pixel_size": 0.5, "unit": "micrometer"})
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome and len(tif.pages) == 3  # one full-resolution page per channel
        assert len(tif.pages[0].subifds) == 2 and tif.pages[0].is_tiled
        series = tif.series[0]
        assert [lv.shape for lv in series.levels] == [(3, 300, 280), (3, 150, 140), (3, 75, 70)]
        for lv, want in zip(series.levels, levels):
            np.testing.assert_array_equal(lv.asarray(), np.moveaxis(want, -1, 0))
        assert 'PhysicalSizeX="0.5"' in tif.ome_metadata


def test_pyramidal_tiff_volume_keeps_depth(tmp_path):
    v = image((4, 32, 48, 2), np.uint16)
    levels = pyramid.compose_levels(v, 1, lambda a, t: poolcli.pool(a, "max", size=(1, 2, 2)), True)
    out = tmp_path / "v.tif"
    pyramid.write_pyramid(out, levels, [(1, 1, 1), (1, 2, 2)])
    with tifffile.TiffFile(out) as tif:
        assert [lv.shape for lv in tif.series[0].levels] == [(4, 2, 32, 48), (4, 2, 16, 24)]
    z_pooled = pyramid.compose_levels(v, 1, lambda a, t: poolcli.pool(a, "max", size=2), True)
    z_pooled[1] = poolcli.pool(v, "max", size=(2, 2, 2))
    with pytest.raises(UsageError, match="reduces Y and X only"):
        pyramid.write_pyramid(tmp_path / "z.tif", z_pooled, [1, 2])


def test_geotiff_pyramid_overviews_read_by_gdal(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine

    from poolcli.io import geo

    src, out = tmp_path / "g.tif", tmp_path / "pyr.tif"
    t = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 4100000.0)
    data = np.arange(64 * 96, dtype=np.float32).reshape(1, 64, 96)
    with rasterio.open(
        src,
        "w",
        driver="GTiff",
        height=64,
        width=96,
        count=1,
        dtype="float32",
        crs="EPSG:32633",
        transform=t,
        nodata=-1.0,
    ) as ds:
        ds.write(data)
    r = geo.read_geotiff(src)
    levels = pyramid.compose_levels(r.array, 2, lambda a, n: poolcli.pool(a, "avg", size=2), True)
    pyramid.write_pyramid(out, levels, [1, 2, 4], {"geo": r, "tile": 16})
    with rasterio.open(out) as ds:
        assert ds.transform == t and ds.nodata == -1.0 and ds.crs.to_epsg() == 32633
        assert ds.overviews(1) == [2, 4] and ds.block_shapes[0] == (16, 16)
        np.testing.assert_array_equal(ds.read(1, out_shape=(16, 24)), levels[2])


def test_missing_extra_names_it(monkeypatch, tmp_path):
    import sys

    from poolcli.errors import ImageError

    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(ImageError, match=r'pip install "poolcli\[science\]"'):
        pyramid.write_pyramid(tmp_path / "p.zarr", [image((8, 8, 1))], [1])
    assert not list(tmp_path.iterdir())


def test_bad_extensions_and_counts_are_usage_errors(tmp_path):
    x = image((8, 8, 1))
    with pytest.raises(UsageError, match="2 levels need 2 scales"):
        pyramid.write_pyramid(tmp_path / "a.zarr", [x, x], [1])
    with pytest.raises(UsageError, match="written as"):
        pyramid.write_pyramid(tmp_path / "a.png", [x], [1])
