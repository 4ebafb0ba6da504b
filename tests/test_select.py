"""Issue 14's modes: mode, median, quantile (select_windows) and blurpool / max --antialias.

The golden files (tests/golden/{mode,median_quantile,blurpool,nodata}.npz, made once by
make_golden_modes.py with scipy, numpy, tinybrain and antialiased_cnns; MODES_ORACLES.md)
against the reference and every backend; hand-made cases; label maps with real ties;
nodata through the plan fields; hypothesis for blurpool; usage errors.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import BACKENDS, check_backend, random_array
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import poolcli
from poolcli import api, dispatch, modes, reference

GOLDEN = Path(__file__).resolve().parent / "golden"
ALL_BACKENDS = ["reference"] + BACKENDS
if "cuda" not in ALL_BACKENDS and dispatch.cuda_status()[0]:  # the simulator, or a GPU
    ALL_BACKENDS.append("cuda")


def golden(name):
    with np.load(GOLDEN / f"{name}.npz", allow_pickle=False) as data:
        count = sum(1 for key in data.files if key.endswith("_call"))
        for i in range(count):
            call = json.loads(str(data[f"{i}_call"]))
            yield pytest.param(data[f"{i}_x"], data[f"{i}_y"], call, id=f"{name}-{i}")


def compare_golden(got, want, call):
    assert got.dtype == want.dtype and got.shape == want.shape
    if call["compare"] == "exact":
        np.testing.assert_array_equal(got, want, strict=True)  # NaN equal to NaN
    else:
        np.testing.assert_allclose(got, want, rtol=call["rtol"], atol=0, strict=True)


def _kwargs(call):
    drop = ("compare", "oracle", "note", "rtol", "mode")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in call.items() if k not in drop}


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("x, want, call", [*golden("mode"), *golden("median_quantile"),
                                           *golden("blurpool")])
def test_golden(x, want, call, backend):
    got = poolcli.pool(x, call["mode"], backend=backend, **_kwargs(call))
    compare_golden(got, want, call)


NODATA_CASES = [p for p in golden("nodata") if p.values[2]["mode"] in ("mode", "median")]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("x, want, call", NODATA_CASES)
def test_golden_nodata_in_the_selection_kernels(x, want, call, backend):
    """The Plan fields nodata/min_valid (DECISIONS.md), set on the plan directly."""
    kw = _kwargs(call)
    nodata, min_valid = kw.pop("nodata"), kw.pop("min_valid", None)
    x4 = api.as_dhwc(x)
    plan = api.make_plan(modes.MODES[call["mode"]], x4.shape, x4.dtype,
                         opts={k: kw.pop(k) for k in ("even",) if k in kw}, **kw)
    plan = dataclasses.replace(plan, nodata=float("nan") if nodata == "nan" else float(nodata),
                               min_valid=min_valid)
    got = api.restore(dispatch.load(backend).pool(x4, plan), x.ndim)
    compare_golden(got, want, call)


def test_golden_files_hold_what_the_tests_expect():
    assert len(list(golden("mode"))) == 14 and len(list(golden("blurpool"))) == 30
    assert len(list(golden("median_quantile"))) == 24 and len(NODATA_CASES) == 7


# --------------------------------------------------------------------------------------------
# by hand


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_mode_by_hand(backend):
    # RGB label map: one 2x2 window per colour story
    red, blue, black = (200, 0, 0), (0, 0, 200), (0, 0, 0)
    x = np.array([[red, blue, black, black, red, blue],
                  [blue, blue, black, red, blue, red]], dtype=np.uint8)
    y = poolcli.pool(x, "mode", backend=backend)
    # 3 blue beat 1 red; 3 black beat 1 red; 2-2 tie of red and blue -> the smaller, blue
    np.testing.assert_array_equal(y[0], [blue, black, blue])
    y = poolcli.pool(x, "mode", backend=backend, ignore=0)
    # black pixels do not vote (red wins the middle), (0, 0, 200) is not all zero
    np.testing.assert_array_equal(y[0], [blue, red, blue])
    only = np.zeros((2, 2), np.uint8)
    assert poolcli.pool(only, "mode", backend=backend, ignore=0)[0, 0] == 0
    f = np.array([[np.nan, 1.0], [np.nan, np.nan]])
    assert poolcli.pool(f, "mode", backend=backend)[0, 0] == 1.0  # NaN never votes
    assert np.isnan(poolcli.pool(np.full((2, 2), np.nan), "mode", backend=backend)[0, 0])
    # signed dtypes compare signed; padding never votes (one pixel per window here)
    lo, hi = -(2**62) - 1, 2**62 + 1
    s = np.array([[lo, hi], [hi, lo]], dtype=np.int64)
    assert poolcli.pool(s, "mode", backend=backend)[0, 0] == lo
    np.testing.assert_array_equal(
        poolcli.pool(np.array([[3, 4]], np.uint64), "mode", size=2, padding=1, stride=1,
                     backend=backend), [[3, 3, 4], [3, 3, 4]])


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_median_and_quantile_by_hand(backend):
    x = np.array([[1, 9, 4, 4], [3, 2, 4, 5]], dtype=np.uint8)
    np.testing.assert_array_equal(poolcli.pool(x, "median", backend=backend), [[2, 4]])
    np.testing.assert_array_equal(poolcli.pool(x, "median", backend=backend, even="mean"),
                                  [[2, 4]])  # 2.5 -> 2 (half to even), 4
    np.testing.assert_array_equal(poolcli.pool(x, "quantile", backend=backend, q=1.0), [[9, 5]])
    np.testing.assert_array_equal(poolcli.pool(x, "quantile", backend=backend, q=0.0), [[1, 4]])
    f = x.astype(np.float64)
    np.testing.assert_array_equal(poolcli.pool(f, "quantile", backend=backend, q=0.25),
                                  [[np.quantile([1, 9, 3, 2], 0.25), 4.0]])
    # int64 picks are exact beyond 2**53
    big = np.array([[2**62 + 1, 2**62 + 3], [2**62 + 5, 1]], dtype=np.int64)
    assert poolcli.pool(big, "median", backend=backend)[0, 0] == 2**62 + 1
    assert poolcli.pool(big, "quantile", backend=backend, q=1.0)[0, 0] == 2**62 + 5
    # infinities: the mathematical value (numpy.quantile gives NaN), NaN propagates
    inf = np.array([[1.0, 2.0], [np.inf, 3.0]])
    assert poolcli.pool(inf, "quantile", backend=backend, q=1.0)[0, 0] == np.inf
    assert poolcli.pool(inf, "quantile", backend=backend, q=0.9)[0, 0] == np.inf
    both = np.array([[-np.inf, np.inf]])
    assert np.isnan(poolcli.pool(both, "quantile", size=(1, 2), backend=backend, q=0.5)[0, 0])
    assert poolcli.pool(both, "quantile", size=(1, 2), backend=backend, q=0.0)[0, 0] == -np.inf
    assert np.isnan(poolcli.pool(np.array([[1.0, np.nan]]), "median", size=(1, 2),
                                 backend=backend)[0, 0])


def test_blurpool_by_hand():
    # F=3, stride 2 on a 1x5 row: reflect pad [x1, x0..x4, x3]; taps 1/4, 1/2, 1/4
    x = np.array([[0.0, 4.0, 8.0, 0.0, 4.0]] * 3)
    y = poolcli.pool(x, "blurpool", backend="reference")
    np.testing.assert_allclose(y[0], [2.0, 5.0, 2.0])
    assert y.shape == (2, 3)  # ceil(n / stride)
    np.testing.assert_array_equal(poolcli.pool(x, "blurpool", filter_size=1, stride=2), x[::2, ::2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_label_maps_with_ties(backend):
    """Few labels, so windows have repeated pixels and ties: every backend == reference."""
    rng = np.random.default_rng(4)
    for dtype in ("uint8", "int16", "float32", "uint64", "int64"):
        x = rng.integers(0, 3, size=(13, 11, 3)).astype(dtype)
        x[..., 1] = x[..., 0]  # colours share channels, as colour-coded labels do
        if dtype == "float32":
            x[rng.random((13, 11)) < 0.2] = np.nan
        for kw in ({}, {"size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                   {"size": (2, 3), "dilation": 2, "stride": 1}, {"ignore": 0, "size": 3}):
            check_backend(x, "mode", backend, **kw)
            if "ignore" not in kw:
                check_backend(x[..., 0], "median", backend, **kw)


# --------------------------------------------------------------------------------------------
# properties


@given(data=st.data(), h=st.integers(4, 12), w=st.integers(4, 12), f=st.integers(1, 4),
       s=st.integers(1, 3), dtype=st.sampled_from(["uint8", "int16", "float32", "float64"]),
       backend=st.sampled_from(BACKENDS))
def test_blurpool_equals_reference(data, h, w, f, s, dtype, backend):
    x = data.draw(hnp.arrays(np.dtype(dtype), (h, w, 2)))
    if x.dtype.kind == "f":
        x = np.nan_to_num(x, posinf=1e30, neginf=-1e30)
    check_backend(x, "blurpool", backend, filter_size=f, stride=s)
    y = poolcli.pool(x, "max", size=2, stride=s, antialias=True, filter_size=f, backend=backend)
    blur = poolcli.pool(poolcli.pool(x, "max", size=2, stride=1), "blurpool", stride=s,
                        filter_size=f, backend="reference")
    np.testing.assert_array_equal(y, blur)


@given(data=st.data(), n=st.integers(1, 9), q=st.floats(0, 1))
def test_quantile_equals_numpy_on_finite_windows(data, n, q):
    v = data.draw(hnp.arrays(np.float64, (1, n), elements=st.floats(-1e6, 1e6)))
    got = poolcli.pool(v, "quantile", size=(1, n), q=q, backend="reference")[0, 0]
    assert got == np.quantile(v, q)  # numpy's own arithmetic, to the last bit
    assert poolcli.pool(v, "median", size=(1, n), backend="reference")[0, 0] == \
        np.quantile(v, 0.5, method="lower")


# --------------------------------------------------------------------------------------------
# usage errors and the registry


@pytest.mark.parametrize("mode, kw, words", [
    ("quantile", {"q": 1.5}, "q must be"),
    ("median", {"even": "upper"}, "even must be"),
    ("mode", {"ignore": "x"}, "ignore must be a number"),
    ("blurpool", {"filter_size": 8}, "filter size must be"),
    ("blurpool", {"padding": 1}, "takes --filter-size and --stride only"),
    ("max", {"antialias": True, "size": (2, 2, 2)}, "1- or 2-number window"),
])
def test_bad_options_are_value_errors(mode, kw, words):
    with pytest.raises(ValueError, match=words):
        poolcli.pool(np.zeros((2, 8, 8, 1), np.uint8), mode, **kw)


def test_blurpool_needs_more_pixels_than_its_padding():
    with pytest.raises(ValueError, match="needs more than 3 pixels along height"):
        poolcli.pool(np.zeros((3, 9)), "blurpool", filter_size=7)


def test_every_new_mode_has_a_function_in_every_backend():
    from poolcli.kernels import cpu, strided

    for name in ("mode", "median", "quantile", "blurpool"):
        for be in (reference, strided, cpu):
            assert callable(getattr(be, f"pool_{name}")), (be.NAME, name)


def test_cuda_refuses_windows_beyond_its_buffer():
    if not dispatch.cuda_status()[0]:
        pytest.skip("no GPU and no CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")
    with pytest.raises(ValueError, match="at most 256 cells"):
        poolcli.pool(np.zeros((17, 17)), "median", size=17, backend="cuda")


def test_random_data_matches_on_cpu_with_a_big_window():
    x = random_array(np.random.default_rng(1), (20, 21, 2), "int32")
    check_backend(x, "median", "cpu", size=7, stride=3, padding=3, ceil_mode=True)
