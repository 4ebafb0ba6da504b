"""The arrays people hold: layouts, array-likes, xarray DataArrays, Dask arrays, typing, help."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import poolcli
from poolcli import modes

RNG = np.random.default_rng(15)
NHWC = RNG.integers(0, 256, size=(3, 13, 11, 2), dtype=np.uint8)  # channels-last oracle input

LAYOUTS = ("HW", "HWC", "DHWC", "CHW", "NCHW", "NHWC", "NCDHW", "NDHWC")


def _from_ndhwc(x5: np.ndarray, layout: str) -> np.ndarray:
    """(N, D, H, W, C) -> ``layout`` (taking item 0 / frame 0 / channel 0 of absent axes)."""
    idx = tuple(slice(None) if a in layout else 0 for a in "NDHWC")
    kept = [a for a in "NDHWC" if a in layout]
    return np.ascontiguousarray(x5[idx].transpose([kept.index(a) for a in layout]))


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("mode,kw", [("max", {"size": 3, "stride": 2, "padding": 1}),
                                     ("avg", {"size": (2, 3), "ceil_mode": True}),
                                     ("stochastic", {"seed": 5})])
def test_every_layout_is_the_channels_last_result_transposed(layout, mode, kw):
    x5 = RNG.integers(0, 256, size=(2, 3, 9, 10, 3), dtype=np.uint8)
    x = _from_ndhwc(x5, layout)
    got = poolcli.pool(x, mode, layout=layout, backend="numpy", **kw)
    # what the layout holds, as (N, D, H, W, C) with absent axes of length 1
    sub = x5[tuple(slice(None) if a in layout else slice(0, 1) for a in "NDHWC")]
    n, d = sub.shape[:2]
    if mode == "stochastic":  # one draw per window of the folded (N*D, Ho, Wo) windows
        want = poolcli.pool(sub.reshape((n * d,) + sub.shape[2:]), mode, backend="numpy", **kw)
        want = want.reshape((n, d) + want.shape[1:])
    else:  # each (H, W, C) image alone, channels-last
        want = np.stack([np.stack([poolcli.pool(sub[i, j], mode, backend="numpy", **kw)
                                   for j in range(d)]) for i in range(n)])
    assert np.array_equal(got, _from_ndhwc(want, layout))


def test_a_3d_window_pools_each_item_of_a_batch_alone():
    x = RNG.random((2, 3, 4, 6, 8)).astype(np.float32)  # NCDHW
    got = poolcli.pool(x, "avg", size=(2, 2, 2), layout="NCDHW", backend="numpy")
    for n in range(2):
        one = poolcli.pool(x[n].transpose(1, 2, 3, 0), "avg", size=(2, 2, 2), backend="numpy")
        assert np.array_equal(got[n], one.transpose(3, 0, 1, 2))
    assert got.shape == (2, 3, 2, 3, 4)


def test_global_and_spp_in_a_batched_layout_give_one_vector_per_item():
    x = RNG.random((4, 3, 8, 8))
    g = poolcli.pool(x, "global", layout="NCHW", backend="numpy")
    assert np.allclose(g, x.mean(axis=(2, 3)))
    s = poolcli.pool(x, "spp", layout="NCHW", levels=(1, 2), backend="numpy")
    assert s.shape == (4, 3 * 5)


def test_layout_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown layout 'NHCW'; choose one of"):
        poolcli.pool(NHWC, "max", layout="NHCW")
    with pytest.raises(ValueError, match="layout NCHW has 4 axes but the array has 3"):
        poolcli.pool(NHWC[0], "max", layout="NCHW")
    with pytest.raises(ValueError, match="layout NCHW has 2 spatial axes"):
        poolcli.pool(NHWC, "max", size=(2, 2, 2), layout="NCHW")
    with pytest.raises(ValueError, match="layout="):
        poolcli.pool(np.zeros((1, 2, 3, 4, 5)), "max")


def test_a_4d_array_that_looks_like_nchw_warns_once_naming_layout():
    x = np.zeros((8, 3, 32, 32), dtype=np.float32)
    with pytest.warns(UserWarning, match=r"looks like \(N, C, H, W\); pass layout='NCHW'") as w:
        poolcli.pool(x, "max", backend="numpy")
    assert len(w) == 1 and w[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        poolcli.pool(x, "max", layout="NCHW", backend="numpy")  # named: no warning
        poolcli.pool(np.zeros((2, 8, 8, 3)), "max", backend="numpy")  # a DHWC look: none


class _DLPackOnly:
    """An array-like with ``__dlpack__`` alone (as a foreign CPU tensor)."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, **kw):
        return self._a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


class _ArrayOnly:
    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a


@pytest.mark.parametrize("wrap", [_DLPackOnly, _ArrayOnly])
def test_array_likes_are_accepted(wrap):
    x = RNG.random((2, 3, 6, 6)).astype(np.float32)
    got = poolcli.pool(wrap(x), "max", layout="NCHW", backend="numpy")
    assert isinstance(got, np.ndarray)
    assert np.array_equal(got, poolcli.pool(x, "max", layout="NCHW", backend="numpy"))


# --------------------------------------------------------------------------------------------
# xarray


def _dataarray(chunks=None):
    xr = pytest.importorskip("xarray")
    data = RNG.random((3, 12, 10))
    arr = xr.DataArray(
        data, dims=("band", "y", "x"), name="reflectance",
        attrs={"units": "1", "crs": "EPSG:32633"},
        coords={"band": ["red", "green", "blue"], "y": 4_000_000.0 - 30.0 * np.arange(12),
                "x": 500_000.0 + 30.0 * np.arange(10), "time": np.datetime64("2024-05-01"),
                "lat": (("y", "x"), RNG.random((12, 10)))})
    return arr.chunk(chunks) if chunks else arr


@pytest.mark.parametrize("mode,how", [("avg", "mean"), ("max", "max"), ("min", "min")])
def test_dataarray_matches_coarsen(mode, how):
    arr = _dataarray()
    got = poolcli.pool(arr, mode, size={"y": 2, "x": 2}, backend="numpy")
    want = getattr(arr.drop_vars("lat").coarsen(y=2, x=2), how)()
    assert got.dims == ("band", "y", "x") and got.name == "reflectance"
    assert got.attrs == {"units": "1", "crs": "EPSG:32633"}
    np.testing.assert_allclose(got.values, want.values, rtol=1e-12)
    for c in ("y", "x"):
        np.testing.assert_allclose(got[c].values, want[c].values)
    assert list(got.band.values) == ["red", "green", "blue"]
    assert got.time.values == np.datetime64("2024-05-01")
    assert "lat" not in got.coords  # 2-D over a pooled dim: dropped


def test_dataarray_stride_and_padding_put_coordinates_at_the_window_centres():
    arr = _dataarray()
    got = poolcli.pool(arr, "max", size={"y": 3, "x": 2}, stride={"y": 2}, padding={"y": 1},
                       backend="numpy")
    # y windows: rows [-1..1], [1..3], ...; their cells inside the input are [0,1], [1,3], ...
    want = poolcli.pool(arr.transpose("y", "x", "band").values, "max", size=(3, 2),
                        stride=(2, 2), padding=(1, 0), backend="numpy")
    np.testing.assert_array_equal(got.transpose("y", "x", "band").values, want)
    y = arr.y.values
    assert got.y.values[0] == pytest.approx((y[0] + y[1]) / 2)
    assert got.y.values[1] == pytest.approx(y[2])
    assert got.sizes == {"band": 3, "y": 6, "x": 5}


def test_a_dask_backed_dataarray_stays_lazy():
    pytest.importorskip("dask")
    arr = _dataarray(chunks={"y": 5, "x": 3})
    got = poolcli.pool(arr, "avg", size={"y": 2, "x": 2}, backend="numpy")
    assert got.chunks is not None  # still Dask
    eager = poolcli.pool(arr.compute(), "avg", size={"y": 2, "x": 2}, backend="numpy")
    np.testing.assert_array_equal(got.values, eager.values)
    np.testing.assert_array_equal(got.y.values, eager.y.values)


def test_dataarray_needs_sizes_by_name():
    arr = _dataarray()
    with pytest.raises(ValueError, match=r"size=\{'y': 2, 'x': 2\}"):
        poolcli.pool(arr, "max", size=2)
    with pytest.raises(ValueError, match="has dims"):
        poolcli.pool(arr, "max", size={"lon": 2})


# --------------------------------------------------------------------------------------------
# Dask arrays

SLIDING = [
    ("max", {"size": 3, "stride": 2, "padding": 1}),
    ("min", {"size": (2, 3), "dilation": 2}),
    ("avg", {"size": 3, "stride": 2, "padding": "same"}),
    ("avg", {"size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
             "count_include_pad": True}),
    ("lp", {"size": 2, "p": 3.0}),
    ("mixed", {"size": 3, "stride": 2, "alpha": 0.3}),
    ("mixed", {"size": 2, "random": True, "seed": 11}),
    ("stochastic", {"size": 3, "stride": 2, "seed": 7}),
    ("softpool", {"size": 2, "temperature": 0.5}),
    ("weighted", {"weights": np.arange(6, dtype=np.float64).reshape(2, 3), "stride": 2}),
    ("fractional", {"size": 2, "ratio": 0.6, "seed": 3}),
    ("adaptive", {"output_size": (5, 7), "op": "avg"}),
    ("global", {"op": "max"}),
    ("mode", {"size": 3, "stride": 2, "padding": 1}),
    ("median", {"size": (2, 3), "stride": 2, "even": "mean"}),
    ("quantile", {"size": 3, "stride": 2, "q": 0.3}),
    ("avg", {"size": 3, "stride": 2, "nodata": 0, "min_valid": 0.5}),
]


def test_the_dask_cases_cover_every_sliding_mode():
    sliding = {m.name for m in modes.MODES.values() if m.windows == "sliding"}
    assert sliding <= {m for m, _ in SLIDING}


@pytest.mark.parametrize("mode,kw", SLIDING, ids=[m for m, _ in SLIDING])
@pytest.mark.parametrize("chunks", [(1, 7, 9, 2), (1, 5, 41, 3), (1, 37, 4, 1)])
def test_dask_arrays_are_bit_identical_to_memory(mode, kw, chunks):
    da = pytest.importorskip("dask.array")
    x = RNG.integers(0, 256, size=(1, 37, 41, 3), dtype=np.uint8)
    xd = da.from_array(x, chunks=chunks)
    got = poolcli.pool(xd, mode, backend="numpy", **kw)
    assert isinstance(got, da.Array)
    want = poolcli.pool(x, mode, backend="numpy", **kw)
    out = got.compute()
    assert out.dtype == want.dtype and np.array_equal(out, want)


def test_dask_in_a_batched_layout_and_with_a_3d_window():
    da = pytest.importorskip("dask.array")
    x = RNG.random((2, 3, 10, 12)).astype(np.float32)
    got = poolcli.pool(da.from_array(x, chunks=(1, 2, 3, 5)), "stochastic", seed=1,
                       layout="NCHW", backend="numpy")
    want = poolcli.pool(x, "stochastic", seed=1, layout="NCHW", backend="numpy")
    assert np.array_equal(got.compute(), want)
    v = RNG.integers(0, 9, size=(7, 9, 10, 2), dtype=np.int16)
    got = poolcli.pool(da.from_array(v, chunks=(3, 4, 4, 1)), "avg", size=(3, 2, 2), stride=2,
                       backend="numpy")
    assert np.array_equal(got.compute(), poolcli.pool(v, "avg", size=(3, 2, 2), stride=2,
                                                      backend="numpy"))


def test_dask_with_the_numba_backend():
    da = pytest.importorskip("dask.array")
    x = RNG.integers(0, 256, size=(1, 30, 26, 3), dtype=np.uint8)
    got = poolcli.pool(da.from_array(x, chunks=(1, 7, 9, 3)), "max", size=3, stride=2,
                       backend="cpu")
    assert np.array_equal(got.compute(), poolcli.pool(x, "max", size=3, stride=2,
                                                      backend="numpy"))


# --------------------------------------------------------------------------------------------
# typing and help


def test_py_typed_ships():
    assert (Path(poolcli.__file__).parent / "py.typed").is_file()
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert 'poolcli = ["py.typed"]' in text


def test_mypy_strict_passes_on_a_user_script_and_sees_real_types(tmp_path):
    pytest.importorskip("mypy")
    script = Path(__file__).parent / "typing" / "user_script.py"
    bad = tmp_path / "bad.py"  # an Any from the lazy __getattr__ would let this pass
    bad.write_text('import poolcli\ny: int = poolcli.pool([[1, 2], [3, 4]], "max")\n'
                   'z: str = poolcli.load_image("a.png")\n')
    cmd = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
           "--no-incremental", "--cache-dir", str(tmp_path / "cache")]
    env = {"PYTHONPATH": str(Path(poolcli.__file__).parent.parent), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(cmd + [str(script)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    fail = subprocess.run(cmd + [str(bad)], capture_output=True, text=True, env=env)
    assert fail.returncode == 1
    assert "bad.py:2: error: Incompatible types in assignment" in fail.stdout
    assert "bad.py:3: error: Incompatible types in assignment" in fail.stdout


def test_help_lists_every_mode_option_with_its_default():
    doc = poolcli.pool.__doc__
    for name, default in modes.OPTION_DEFAULTS.items():
        assert f"``{name}={default!r}``" in doc
    assert "layout" in doc


def test_an_unknown_keyword_suggests_the_closest_name_as_the_cli_does(tmp_path):
    with pytest.raises(TypeError, match=r"kernel_size \(did you mean size\?\)"):
        poolcli.pool(NHWC[0], "max", kernel_size=3)
    with pytest.raises(TypeError, match=r"temprature \(did you mean temperature\?\)"):
        poolcli.pool(NHWC[0], "softpool", temprature=3)
    exe = shutil.which("poolcli") or str(Path(sys.executable).parent / "poolcli")
    np.save(tmp_path / "a.npy", NHWC[0])
    proc = subprocess.run([exe, "max", str(tmp_path / "a.npy"), "--kernel-size", "3"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "No such option: --kernel-size (did you mean --size?)" in proc.stderr


def test_a_block_of_windows_cut_by_the_padding_is_not_regular():
    from poolcli import geometry, layouts

    axis = geometry.sliding_axis(41, 3, 2, 1, 1, True)  # the last window: 2 cells + padding
    last = layouts.restrict_axis(axis, axis.out - 1, axis.out, 39, 41)
    assert last.regular is None  # a strided shortcut would divide by 2, not by total 3


@pytest.mark.parametrize("layout", ["CHW", "NCHW", "NHWC"])
def test_indices_follow_the_layout(layout):
    """return_indices in any layout: the indices come back in the caller's layout, equal to
    the channels-last indices of each item transposed (each an index into its own plane)."""
    x = RNG.random((2, 3, 9, 10))  # N, C, H, W
    arr = {"CHW": x[0], "NCHW": x, "NHWC": x.transpose(0, 2, 3, 1)}[layout]
    y, idx = poolcli.pool(arr, "max", size=3, stride=2, layout=layout, return_indices=True)
    assert idx.shape == y.shape and idx.dtype == np.int64
    items = [x[0]] if layout == "CHW" else list(x)
    for n, item in enumerate(items):
        y1, i1 = poolcli.pool(item.transpose(1, 2, 0), "max", size=3, stride=2,
                              return_indices=True)  # (H, W, C)
        got_y = y if layout == "CHW" else y[n]
        got_i = idx if layout == "CHW" else idx[n]
        back = (2, 0, 1) if layout in ("CHW", "NCHW") else (0, 1, 2)
        np.testing.assert_array_equal(got_y, y1.transpose(back))
        np.testing.assert_array_equal(got_i, i1.transpose(back))


def test_indices_refused_for_dask_arrays():
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="return_indices takes NumPy arrays"):
        poolcli.pool(da.zeros((8, 8), chunks=4), "max", return_indices=True)
