"""Strip-by-strip pooling equals pooling the whole image at once (poolcli.strips)."""

from __future__ import annotations

import numpy as np
import pytest

from poolcli import api, strips

RNG = np.random.default_rng(7)
#: (H, W, C) uint8 with an odd height and width, so strips end at awkward rows
IMG = RNG.integers(0, 256, size=(41, 19, 3), dtype=np.uint8)
ROW = 19 * 3  # bytes of one uint8 row

GEOMETRIES = [
    dict(size=2),
    dict(size=3, stride=2, padding=1),
    dict(size=3, stride=1),
    dict(size=3, stride=2, dilation=2, ceil_mode=True),
    dict(size=2, stride=3, ceil_mode=True),
    dict(size="4x3", stride="3x2", padding="same"),
    dict(size=5, stride=2, padding=2, dilation=1),
]
MODES = [
    ("max", {}), ("min", {}), ("avg", {}), ("avg", {"count_include_pad": True}), ("lp", {"p": 3}),
    ("mixed", {"alpha": 0.3}), ("mixed", {"random": True, "seed": 11}), ("stochastic", {"seed": 5}),
    ("softpool", {"temperature": 0.5}), ("weighted", {"weights": np.arange(1, 10, dtype=float).reshape(3, 3)}),
]


def both(x, mode, budget, backend="numpy", **kw):
    ref = api.pool(x, mode, backend=backend, **kw)
    got = strips.pool_strips(x, mode, backend=backend, budget_bytes=budget, **kw)
    return ref, got


@pytest.mark.parametrize("geom", GEOMETRIES, ids=lambda g: ",".join(f"{k}={v}" for k, v in g.items()))
@pytest.mark.parametrize("mode,opts", MODES, ids=[f"{m}{'+' if o else ''}{'_'.join(o)}" for m, o in MODES])
def test_equals_in_memory(mode, opts, geom):
    if mode == "weighted":
        geom = {k: v for k, v in geom.items() if k != "size"}  # the 3x3 weights set the window
        geom["padding"] = 1 if geom.get("padding") == 2 else geom.get("padding", 0)
    ref, got = both(IMG, mode, 5 * ROW, **geom, **opts)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("budget_rows", [5, 6, 7, 11, 40, 41, 1000])
def test_any_budget_gives_the_same(budget_rows):
    ref, got = both(IMG, "avg", budget_rows * ROW, size=5, stride=2, padding=2)
    np.testing.assert_array_equal(got, ref)


def test_many_strips_really_happen():
    plan_rows = []
    strips.pool_strips(IMG, "max", size=3, stride=2, budget_bytes=4 * ROW,
                       on_block=lambda done, total: plan_rows.append((done, total)))
    assert len(plan_rows) > 5 and plan_rows[-1] == (20, 20)
    assert [d for d, _ in plan_rows] == sorted({d for d, _ in plan_rows})


def test_adaptive_and_fractional_windows():
    np.testing.assert_array_equal(*both(IMG, "adaptive", 12 * ROW, output_size=(7, 5), op="avg"))
    np.testing.assert_array_equal(*both(IMG, "fractional", 6 * ROW, size=3, output_size=(13, 7), seed=3))


def test_cpu_backend_and_float_nan_and_layouts():
    x = RNG.standard_normal((2, 23, 9, 2)).astype(np.float32)  # (D, H, W, C), frames pooled too
    x[0, 5, 3, 1] = np.nan
    np.testing.assert_array_equal(*both(x, "max", 2 * 9 * 2 * 4 * 4, backend="cpu", size="2x3x3", stride="1x2x2"))
    g = RNG.integers(0, 65535, size=(29, 13), dtype=np.uint16)
    ref, got = both(g, "avg", 4 * 13 * 2, backend="cpu", size=3, stride=2, padding=1)
    assert got.shape == ref.shape and got.ndim == 2
    np.testing.assert_array_equal(got, ref)
    h = RNG.standard_normal((17, 6)).astype(np.float16)  # converted for the kernel and back
    ref, got = both(h, "lp", 3 * 6 * 4, size=3, stride=2)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, ref)


def test_alpha_and_linear_light():
    x = RNG.integers(0, 256, size=(21, 10, 4), dtype=np.uint8)
    budget = 4 * 10 * 4 * 9
    ref = api.run(x, "avg", size=3, stride=2, alpha_channel=3, linear_light=True, backend="numpy").array
    got = strips.pool_strips(x, "avg", size=3, stride=2, alpha_channel=3, linear_light=True,
                             backend="numpy", budget_bytes=budget)
    np.testing.assert_array_equal(got, ref)


def test_npy_file_read_by_rows_and_npy_output(tmp_path):
    src = tmp_path / "big.npy"
    np.save(src, IMG)
    rows = strips.open_rows(src)
    try:
        assert isinstance(rows, strips.FileRows)  # plain reads, not the whole file in memory
        np.testing.assert_array_equal(rows.read(13, 29), IMG[None, 13:29])
    finally:
        rows.close()
    ref = api.pool(IMG, "avg", size=3, stride=2, padding=1, backend="numpy")
    np.testing.assert_array_equal(
        strips.pool_strips(src, "avg", size=3, stride=2, padding=1, budget_bytes=4 * ROW, backend="numpy"), ref)
    out = tmp_path / "small.npy"
    assert strips.pool_strips(src, "avg", size=3, stride=2, padding=1, budget_bytes=4 * ROW,
                              backend="numpy", out=out) == out
    np.testing.assert_array_equal(np.load(out), ref)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy", "small.npy"]  # no temporary left


def test_fortran_npy_and_2d_npy(tmp_path):
    src = tmp_path / "f.npy"
    np.save(src, np.asfortranarray(IMG[..., 0]))
    ref = api.pool(IMG[..., 0], "max", size=3, stride=2, backend="numpy")
    np.testing.assert_array_equal(strips.pool_strips(src, "max", size=3, stride=2, budget_bytes=4 * 19), ref)


def test_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="strip budget"):
        strips.pool_strips(IMG, "max", size=5, budget_bytes=4 * ROW)
    with pytest.raises(ValueError, match="cannot be pooled strip by strip"):
        strips.pool_strips(IMG, "global")
    with pytest.raises(ValueError, match="cannot be pooled strip by strip"):
        strips.pool_strips(IMG, "spp")
    with pytest.raises(ValueError, match="not '.png'"):
        strips.pool_strips(tmp_path / "a.png", "max")
    np.save(tmp_path / "same.npy", IMG)
    with pytest.raises(ValueError, match="overwrite the input"):
        strips.pool_strips(tmp_path / "same.npy", "max", out=tmp_path / "same.npy")
    with pytest.raises(ValueError, match="output would be empty"):
        strips.pool_strips(IMG[:2], "max", size=3)


def test_failed_run_leaves_no_output(tmp_path, monkeypatch):
    src = tmp_path / "big.npy"
    np.save(src, IMG)
    calls = []

    def boom(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        strips.pool_strips(src, "max", budget_bytes=4 * ROW, out=tmp_path / "o.npy", on_block=boom)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy"]


# ----------------------------------------------------------------------------------------- TIFF

TIFF_LAYOUTS = {
    "strips": dict(rowsperstrip=5),
    "strips-zlib-predictor": dict(rowsperstrip=3, compression="zlib", predictor=True),
    "tiles-zlib": dict(tile=(16, 16), compression="zlib"),
    "tiles-raw": dict(tile=(16, 16)),
    "planar": dict(rowsperstrip=4, planarconfig="separate"),
}


@pytest.mark.parametrize("layout", TIFF_LAYOUTS)
def test_tiff_sources(tmp_path, layout):
    tifffile = pytest.importorskip("tifffile", reason="tifffile is only in the optional 'dask' extra")
    src = tmp_path / "big.tif"
    kw = TIFF_LAYOUTS[layout]
    data = IMG.transpose(2, 0, 1) if kw.get("planarconfig") == "separate" else IMG  # planes first
    tifffile.imwrite(src, data, photometric="rgb", **kw)
    rows = strips.open_rows(src)
    try:
        np.testing.assert_array_equal(rows.read(0, 41), IMG[None])
        np.testing.assert_array_equal(rows.read(14, 33), IMG[None, 14:33])
    finally:
        rows.close()
    for mode, kw in [("max", dict(size=3, stride=2, padding=1)), ("avg", dict(size=2, ceil_mode=True, stride=3))]:
        ref = api.pool(IMG, mode, backend="numpy", **kw)
        got = strips.pool_strips(src, mode, budget_bytes=4 * ROW, backend="numpy", **kw)
        np.testing.assert_array_equal(got, ref)


def test_tiff_frames_grey_and_tiff_output(tmp_path):
    tifffile = pytest.importorskip("tifffile", reason="tifffile is only in the optional 'dask' extra")
    stack = RNG.integers(0, 4096, size=(3, 22, 15), dtype=np.uint16)  # three grey pages
    src = tmp_path / "stack.tif"
    tifffile.imwrite(src, stack, photometric="minisblack", rowsperstrip=7, compression="zlib")
    ref = api.pool(stack[..., None], "avg", size=3, stride=2, backend="numpy")
    got = strips.pool_strips(src, "avg", size=3, stride=2, budget_bytes=3 * 15 * 2 * 4, backend="numpy")
    np.testing.assert_array_equal(got, ref)
    grey = tmp_path / "grey.tif"
    tifffile.imwrite(grey, stack[0], photometric="minisblack", tile=(16, 16))
    out = tmp_path / "out.tif"
    assert strips.pool_strips(grey, "max", budget_bytes=3 * 15 * 2, out=out) == out
    np.testing.assert_array_equal(tifffile.imread(out), api.pool(stack[0], "max"))


def test_tiff_alpha_is_found(tmp_path):
    tifffile = pytest.importorskip("tifffile", reason="tifffile is only in the optional 'dask' extra")
    x = RNG.integers(0, 256, size=(21, 10, 4), dtype=np.uint8)
    src = tmp_path / "rgba.tif"
    tifffile.imwrite(src, x, photometric="rgb", extrasamples=["unassalpha"], rowsperstrip=3)
    ref = api.run(x, "avg", alpha_channel=3, backend="numpy").array
    np.testing.assert_array_equal(strips.pool_strips(src, "avg", budget_bytes=4 * 40 * 9, backend="numpy"), ref)


def test_cli_pools_a_huge_npy_strip_by_strip(tmp_path, monkeypatch):
    """The CLI sends .npy inputs too big for the memory available through pool_strips,
    writing the output file directly; the result equals pooling the whole array in memory."""
    from typer.testing import CliRunner

    from poolcli import batch, strips
    from poolcli.cli import app

    x = np.random.default_rng(5).integers(0, 256, (301, 97, 3), dtype=np.uint8)
    np.save(tmp_path / "big.npy", x)
    monkeypatch.setattr(batch, "memory_available", lambda: 1000)
    calls = []
    real = strips.pool_strips
    monkeypatch.setattr(strips, "pool_strips",
                        lambda *a, **k: calls.append(a) or real(*a, **{**k, "budget_bytes": 5000}))
    r = CliRunner().invoke(app, ["avg", str(tmp_path / "big.npy"), "-k", "3", "-s", "2", "-p", "1",
                                 "-o", str(tmp_path / "out.npy"), "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert calls, "the strip path was not taken"
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"),
                                  api.pool(x, "avg", size=3, stride=2, padding=1))


@pytest.mark.parametrize("args", [["avg"], ["max", "-k", "3", "-s", "2", "-p", "1"]])
def test_geotiff_over_the_strip_threshold_keeps_its_georeferencing(tmp_path, monkeypatch, args):
    """A GeoTIFF too big for memory goes strip by strip and comes out as the in-memory path
    writes it: the transform GDAL reads (rasterio), the CRS, the nodata value (honoured in
    the pooling) and the pixels."""
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine
    from typer.testing import CliRunner

    from poolcli import batch
    from poolcli.cli import app

    src = tmp_path / "dem.tif"
    data = np.random.default_rng(8).standard_normal((1, 61, 90)).astype(np.float32)
    data[0, :6, :9] = -9999.0  # a nodata corner: never mixed into a window's value
    with rasterio.open(src, "w", driver="GTiff", height=61, width=90, count=1,
                       dtype="float32", crs="EPSG:32633", nodata=-9999.0,
                       transform=Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 4100000.0)) as ds:
        ds.write(data)

    def pool(out, memory):
        with monkeypatch.context() as m:
            calls = []
            real = strips.pool_strips
            m.setattr(strips, "pool_strips",
                      lambda *a, **k: calls.append(a) or real(*a, **{**k, "budget_bytes": 3000}))
            if memory is not None:
                m.setattr(batch, "memory_available", lambda: memory)
            r = CliRunner().invoke(app, [args[0], str(src), *args[1:], "-o", str(out)],
                                   catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return bool(calls)

    assert not pool(tmp_path / "mem.tif", None)
    assert pool(tmp_path / "strip.tif", 1000), "the strip path was not taken"
    with rasterio.open(tmp_path / "mem.tif") as a, rasterio.open(tmp_path / "strip.tif") as b:
        assert b.transform == a.transform and b.crs == a.crs and b.nodata == a.nodata == -9999
        # pixel size x stride; for k=3 s=2 p=1 the corner moves by (k-1)/2 - p + (1-s)/2 =
        # -0.5 input pixel, so that each output pixel's centre is its window's centre
        origin = 500000.0 - (15.0 if args != ["avg"] else 0.0)
        assert (b.transform.a, b.transform.e, b.transform.c) == (60.0, -60.0, origin)
        np.testing.assert_array_equal(b.read(), a.read())
        out = b.read(1)
        assert out[0, 0] == -9999  # a window of nodata alone gives nodata
        assert out[out != -9999].min() > -100  # nodata never mixed into a value
