"""Properties over random valid geometries and random arrays (hypothesis).

The strategy builds only valid geometries (size, stride, padding <= size // 2, dilation, ceil
mode or SAME padding, and an input at least as long as needed, with no window made of padding
alone). Settings (examples, deadline=None) come from the profiles in conftest.py.
"""

from __future__ import annotations

import math

import numpy as np
from helpers import BACKENDS, MODE_CASES, assert_pool_equal, check_backend
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import poolcli

DTYPES = ["uint8", "uint16", "int32", "float32", "float64"]


def expected_windows(n, k, s, p, d, ceil_mode):
    """(out, starts) per axis from PyTorch's formula (or TensorFlow's SAME), independently."""
    span = d * (k - 1) + 1
    if p == "same":
        out = -(-n // s)
        left = max((out - 1) * s + span - n, 0) // 2
    else:
        num = n + 2 * p - span
        out = (-(-num // s) if ceil_mode else num // s) + 1
        if ceil_mode and (out - 1) * s >= n + p:
            out -= 1
        left = p
    return out, [i * s - left for i in range(max(out, 0))]


@st.composite
def geometries(draw, axes=None):
    """(shape of the pooled axes, pool() keyword arguments), always valid."""
    naxes = axes or draw(st.sampled_from([2, 2, 3]))
    same = draw(st.booleans()) and draw(st.booleans())  # SAME a quarter of the time
    ceil_mode = False if same else draw(st.booleans())
    ks, ss, ps, ds, ns = [], [], [], [], []
    for _ in range(naxes):
        k = draw(st.integers(1, 4))
        s = draw(st.integers(1, 3))
        d = draw(st.integers(1, 2))
        p = draw(st.integers(0, k // 2))
        span = d * (k - 1) + 1
        n = draw(st.integers(max(1, span - (0 if same else 2 * p)), span + 6))
        out, starts = expected_windows(n, k, s, "same" if same else p, d, ceil_mode)
        assume(out >= 1)
        # no window made of padding alone (a rare case with dilation, refused by poolcli)
        assume(all(any(0 <= a + j * d < n for j in range(k)) for a in starts))
        ks.append(k), ss.append(s), ps.append(p), ds.append(d), ns.append(n)
    kwargs = {"size": tuple(ks), "stride": tuple(ss), "padding": "same" if same else tuple(ps),
              "dilation": tuple(ds), "ceil_mode": ceil_mode}
    return tuple(ns), kwargs


def elements(dtype, *, nan=False, low=None):
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return st.integers(int(info.min) if low is None else max(low, int(info.min)), int(info.max))
    return st.floats(-1e6 if low is None else low, 1e6, allow_nan=False, allow_infinity=False,
                     width=dtype.itemsize * 8) | (st.just(float("nan")) if nan else st.nothing())


@st.composite
def arrays_for(draw, dims, naxes, dtype, *, nan=False, low=None):
    """An array whose pooled axes have lengths ``dims``, in one of the layouts that fit."""
    if naxes == 3:
        shape = dims + (draw(st.integers(1, 3)),)
    else:
        layout = draw(st.sampled_from(["HW", "HWC", "DHWC"]))
        shape = {"HW": dims, "HWC": dims + (draw(st.integers(1, 3)),),
                 "DHWC": (draw(st.integers(1, 2)),) + dims + (draw(st.integers(1, 3)),)}[layout]
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, nan=nan, low=low)))


SLIDING_CASES = [c for c in MODE_CASES if c[1] in ("max", "min", "avg", "lp", "mixed", "softpool",
                                                      "stochastic", "weighted", "mode", "median",
                                                      "quantile") and not c[2].get("antialias")]
#: blurpool and max --antialias need more pixels than the filter's padding: test_select.py
BLUR_CASES = [c for c in MODE_CASES if c[1] == "blurpool" or c[2].get("antialias")]
OTHER_CASES = [c for c in MODE_CASES if c not in SLIDING_CASES and c not in BLUR_CASES]


@given(data=st.data(), geometry=geometries(), dtype=st.sampled_from(DTYPES),
       case=st.sampled_from(SLIDING_CASES), backend=st.sampled_from(BACKENDS))
def test_backend_equals_reference_sliding(data, geometry, dtype, case, backend):
    dims, kwargs = geometry
    _, mode, options = case
    if mode == "weighted":
        assume(len(dims) == 2)
        kh, kw = kwargs["size"]
        w = data.draw(hnp.arrays(np.float64, (kh, kw), elements=st.floats(-4, 4, width=32)))
        options = {**options, "weights": w + (1.0 if options.get("normalize") else 0.0)}
        assume(not options.get("normalize") or w.sum() + w.size != 0)
        kwargs = {k: v for k, v in kwargs.items() if k != "size"}
    x = data.draw(arrays_for(dims, len(dims), dtype, nan=True))
    check_backend(x, mode, backend, **kwargs, **options)


@given(data=st.data(), dims=st.tuples(st.integers(1, 9), st.integers(1, 9)), dtype=st.sampled_from(DTYPES),
       case=st.sampled_from(OTHER_CASES), backend=st.sampled_from(BACKENDS))
def test_backend_equals_reference_other_windows(data, dims, dtype, case, backend):
    _, mode, options = case
    options = dict(options)
    if mode == "adaptive":
        options["output_size"] = data.draw(st.tuples(st.integers(1, 12), st.integers(1, 12)))
    if mode == "fractional":
        k = data.draw(st.integers(1, 3))
        assume(min(dims) >= k)
        out = tuple(data.draw(st.integers(1, n - k + 1)) for n in dims)
        samples = data.draw(st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)))
        options = {"size": k, "output_size": out, "samples": samples}
    x = data.draw(arrays_for(dims, 2, dtype, nan=True))
    check_backend(x, mode, backend, **options)


def slack(dtype, cells):
    """How far a float average may stray from exact: a float64 sum of ``cells`` values is
    rounded at each addition (PyTorch's too); float32 values sum exactly in float64."""
    return 0.0 if np.dtype(dtype).kind in "ui" else (cells + 2) * np.finfo(np.float64).eps


@given(data=st.data(), geometry=geometries(), dtype=st.sampled_from(DTYPES))
def test_min_le_avg_le_max(data, geometry, dtype):
    dims, kwargs = geometry
    x = data.draw(arrays_for(dims, len(dims), dtype))
    lo, hi = (poolcli.pool(x, m, backend="numpy", **kwargs).astype(np.float64) for m in ("min", "max"))
    tol = slack(dtype, math.prod(kwargs["size"])) * np.maximum(np.abs(lo), np.abs(hi))
    for mode, options in [("avg", {}), ("mixed", {"alpha": 0.3}), ("softpool", {}), ("stochastic", {"seed": 0})]:
        for backend in ["numpy"] + BACKENDS:
            y = poolcli.pool(x, mode, backend=backend, **kwargs, **options).astype(np.float64)
            assert np.all(lo - tol <= y) and np.all(y <= hi + tol), (mode, backend)


@given(data=st.data(), geometry=geometries(), dtype=st.sampled_from(DTYPES))
def test_constant_image_is_a_fixed_point(data, geometry, dtype):
    dims, kwargs = geometry
    shape = data.draw(arrays_for(dims, len(dims), "uint8")).shape
    # non-negative (lp is a mean of |x|); floats not below 2**-100: the power mean of values
    # near 1e-100 underflows in c**p (as in PyTorch), which is not what this property is about
    value = data.draw(elements(dtype, low=0) if np.dtype(dtype).kind in "ui" else
                      st.just(0.0) | st.floats(2.0**-100, 1e6, width=np.dtype(dtype).itemsize * 8))
    x = np.full(shape, value, dtype=dtype)
    cases = [("max", {}), ("min", {}), ("avg", {}), ("lp", {}), ("lp", {"p": 3.0}), ("mixed", {}),
             ("mixed", {"random": True, "seed": 1}), ("softpool", {}), ("softpool", {"temperature": 0.1}),
             ("stochastic", {"seed": 2})]
    for mode, options in cases:
        for backend in ["numpy"] + BACKENDS:
            y = poolcli.pool(x, mode, backend=backend, **kwargs, **options)
            assert y.dtype == x.dtype
            if np.dtype(dtype).kind in "ui" or mode in ("max", "min", "stochastic"):
                assert np.all(y == x.flat[0]), (mode, options, backend)
            else:  # float sums round (see slack); (c**3)**(1/3) errs by |ln c**3| * (1/3 - fl(1/3))
                tol = slack(dtype, math.prod(kwargs["size"])) if mode != "lp" else 1e-13
                np.testing.assert_allclose(y.astype(np.float64), float(x.flat[0]),
                                           rtol=tol if dtype == "float64" else 1e-7,
                                           err_msg=f"{mode} {options} {backend}")


@given(data=st.data(), geometry=geometries(), case=st.sampled_from(SLIDING_CASES))
def test_output_shape_is_pytorchs(data, geometry, case):
    dims, kwargs = geometry
    _, mode, options = case
    if mode == "weighted":
        assume(len(dims) == 2)
        options = {**options, "weights": np.ones(kwargs["size"])}
    x = data.draw(arrays_for(dims, len(dims), "uint8"))
    result = poolcli.api.run(x, mode, backend="numpy", **kwargs, **options)
    pad = kwargs["padding"]
    want = tuple(expected_windows(n, k, s, "same" if pad == "same" else pad[i], d, kwargs["ceil_mode"])[0]
                 for i, (n, k, s, d) in enumerate(zip(dims, kwargs["size"], kwargs["stride"], kwargs["dilation"])))
    plan_out = result.plan.out_shape[:3] if len(dims) == 3 else result.plan.out_shape[1:3]
    assert plan_out == want
    y = result.array
    if len(dims) == 3:  # (D, H, W, C): all three pooled
        assert y.shape == want + x.shape[3:]
    else:  # the frames (if any) and the channels (if any) are kept
        lead, tail = x.shape[: x.ndim - 2 - (x.ndim >= 3)], x.shape[2 + (x.ndim == 4):][-1:] if x.ndim >= 3 else ()
        assert y.shape == lead + want + tail


# -------------------------------------------------------------------------------------------
# issue 12 (64-bit exactness, lp for any p) and issue 14 (nodata, indices): fewer examples

#: the loaded profile's examples, fewer (dev 60 -> 25, ci 150 -> 30, long 2000 -> 400)
FEW = settings(settings.default, max_examples=max(25, settings.default.max_examples // 5))

EXTREMES = {
    "int64": [-(2**63), -(2**63) + 1, -(2**53) - 1, -1, 0, 1, 2**53 + 1, 2**63 - 2, 2**63 - 1],
    "uint64": [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 5, 2**64 - 2, 2**64 - 1],
}


def extreme_elements(dtype):
    info = np.iinfo(dtype)
    return st.sampled_from(EXTREMES[dtype]) | st.integers(int(info.min), int(info.max))


@FEW
@given(data=st.data(), geometry=geometries(), dtype=st.sampled_from(["int64", "uint64"]),
       backend=st.sampled_from(BACKENDS))
def test_64bit_extremes_exact_max_min_and_avg_never_wraps(data, geometry, dtype, backend):
    dims, kwargs = geometry
    shape = data.draw(arrays_for(dims, len(dims), "uint8")).shape
    x = data.draw(hnp.arrays(np.dtype(dtype), shape, elements=extreme_elements(dtype)))
    lo = check_backend(x, "min", backend, **kwargs)  # exact: assert_array_equal
    hi = check_backend(x, "max", backend, **kwargs)
    # every output of max/min is one of the input's values, bit for bit (not a float64 round)
    assert np.isin(hi, x).all() and np.isin(lo, x).all()
    avg = check_backend(x, "avg", backend, **kwargs)
    # never wraps: between the window's min and max up to the float64 rounding of the mean
    # (cells * 2**-52 relative, and the clip to the dtype's range)
    cells = math.prod(kwargs["size"])
    f_lo, f_hi, f_avg = (a.astype(np.float64) for a in (lo, hi, avg))
    tol = (cells + 2) * np.finfo(np.float64).eps * np.maximum(np.abs(f_lo), np.abs(f_hi))
    assert np.all(f_lo - tol <= f_avg) and np.all(f_avg <= f_hi + tol), (
        f"avg left [min, max] (wrapped?) on {backend}: {avg[(f_avg < f_lo - tol) | (f_avg > f_hi + tol)][:4]}")


def nonzero_floats(dtype):
    """Finite values whose magnitude is 0 or in [2**-10, 2**20] (no underflow of max|x| / cells)."""
    width = np.dtype(dtype).itemsize * 8
    mag = st.floats(2.0**-10, 2.0**20, width=width)
    return st.just(0.0) | mag | mag.map(lambda v: -v)


@FEW
@given(data=st.data(), geometry=geometries(), dtype=st.sampled_from(DTYPES),
       p=st.just(float("inf")) | st.floats(1.0, 3000.0) | st.sampled_from([1.0, 200.0, 3000.0]),
       normalize=st.booleans(), backend=st.sampled_from(BACKENDS))
def test_lp_large_p_equals_reference_and_never_overflows(data, geometry, dtype, p, normalize,
                                                         backend):
    dims, kwargs = geometry
    shape = data.draw(arrays_for(dims, len(dims), "uint8")).shape
    elems = elements(dtype) if np.dtype(dtype).kind in "ui" else nonzero_floats(dtype)
    x = data.draw(hnp.arrays(np.dtype(dtype), shape, elements=elems))
    y = check_backend(x, "lp", backend, p=p, normalize=normalize, **kwargs)
    yf = y.astype(np.float64)
    assert np.isfinite(yf).all(), f"lp p={p} overflowed on {backend}"
    big = poolcli.pool(np.abs(x.astype(np.float64)), "max", backend="numpy", **kwargs)
    if np.dtype(dtype).kind == "f":  # a window with a non-zero cell has a non-zero norm
        assert np.all(yf[big > 0] > 0), f"lp p={p} underflowed to 0 on {backend}"
    # the power mean lies in [max|x| * cells**(-1/p), max|x|] (p = inf: max|x|); the sum,
    # times cells**(1/p), at most (integers round to the nearest, floats a few ulps)
    cells = math.prod(kwargs["size"])
    lo_f, hi_f = (big, big * cells ** (1.0 / p)) if not normalize else (big * cells ** (-1.0 / p), big)
    slack_ = 0.5 if np.dtype(dtype).kind in "ui" else 1e-5 * big
    if np.dtype(dtype).kind in "ui":  # integer results saturate (|-2**31| -> 2**31 - 1)
        lo_f = np.minimum(lo_f, np.iinfo(dtype).max)
    assert np.all(lo_f - slack_ <= yf) and np.all(yf <= hi_f + slack_), f"lp p={p} out of bounds"


@FEW
@given(data=st.data(), geometry=geometries(), dtype=st.sampled_from(DTYPES),
       mode=st.sampled_from(["max", "min", "avg", "median"]),
       min_valid=st.none() | st.floats(0.05, 1.0), backend=st.sampled_from(BACKENDS))
def test_nodata_backend_equals_reference(data, geometry, dtype, mode, min_valid, backend):
    dims, kwargs = geometry
    shape = data.draw(arrays_for(dims, len(dims), "uint8")).shape
    # few distinct values, so that nodata cells are frequent and windows all-nodata at times
    if np.dtype(dtype).kind in "ui":
        info = np.iinfo(dtype)
        elems = st.sampled_from(sorted({0, 1, 7, int(info.max), int(info.min)}))
    else:
        elems = st.sampled_from([0.0, -1.5, 2.25, 1e6, float("nan")])
    x = data.draw(hnp.arrays(np.dtype(dtype), shape, elements=elems))
    use_nan = np.dtype(dtype).kind == "f" and data.draw(st.booleans())
    nodata = float("nan") if use_nan else data.draw(st.sampled_from(x.reshape(-1).tolist()))
    assume(not (isinstance(nodata, float) and math.isnan(nodata)) or use_nan)
    y = check_backend(x, mode, backend, nodata=nodata, min_valid=min_valid, **kwargs)
    # an all-nodata input gives nodata everywhere
    if use_nan:
        absent = np.isnan(x)
    else:
        absent = x == nodata
    if absent.all():
        assert (np.isnan(y) if use_nan else y == nodata).all()


@FEW
@given(data=st.data(), geometry=geometries(), dtype=st.sampled_from(DTYPES),
       mode=st.sampled_from(["max", "min", "adaptive"]), backend=st.sampled_from(BACKENDS))
def test_indices_backend_equals_reference_and_unpool(data, geometry, dtype, mode, backend):
    dims, kwargs = geometry
    if mode == "adaptive":
        assume(len(dims) == 2)
        kwargs = {"output_size": data.draw(st.tuples(*[st.integers(1, n + 2) for n in dims])),
                  "op": "max"}  # adaptive takes op max or avg; indices for max
    x = data.draw(arrays_for(dims, len(dims), dtype, nan=True))
    expected = poolcli.api.run(x, mode, backend="reference", return_indices=True, **kwargs)
    y, idx = poolcli.pool(x, mode, backend=backend, return_indices=True, **kwargs)
    assert_pool_equal(y, expected.array, context=f"{mode} {kwargs} {backend}")
    assert idx.dtype == np.int64 and idx.shape == y.shape
    np.testing.assert_array_equal(idx, expected.indices, err_msg=f"{mode} {kwargs} {backend}")
    # each index points at a cell of its channel's plane holding the pooled value
    x4, y4, i4 = (poolcli.api.dhwc_view(np.asarray(a)) for a in (x, y, idx))
    lead = 1 if len(dims) == 3 else x4.shape[0]
    planes_x = x4.reshape(lead, -1, x4.shape[3])
    flat_i = i4.reshape(lead, -1, i4.shape[3])
    assert (flat_i >= 0).all() and (flat_i < planes_x.shape[1]).all()
    np.testing.assert_array_equal(np.take_along_axis(planes_x, flat_i, axis=1),
                                  y4.reshape(flat_i.shape))
    # unpool puts y at those indices and zeros elsewhere
    u = poolcli.unpool(y, idx, output_size=dims)
    assert u.shape == x.shape and u.dtype == y.dtype
    planes_u = poolcli.api.dhwc_view(u).reshape(planes_x.shape)
    np.testing.assert_array_equal(np.take_along_axis(planes_u, flat_i, axis=1),
                                  y4.reshape(flat_i.shape))
    hit = np.zeros(planes_u.shape, bool)
    np.put_along_axis(hit, flat_i, True, axis=1)
    assert (planes_u[~hit] == 0).all()


def test_min_valid_counts_the_cells_inside_for_median_quantile_mode():
    """Found by test_nodata_backend_equals_reference on cuda: the reference's selection modes
    counted the valid cells as the window's size, so min_valid never refused a window."""
    x = np.array([[0], [1]], np.uint8)  # one valid cell of two under nodata 0
    for mode, options in [("median", {}), ("quantile", {"q": 0.5}), ("mode", {})]:
        for backend in ["reference", "numpy"] + BACKENDS:
            kw = dict(size=(2, 1), stride=1, nodata=0, backend=backend, **options)
            assert poolcli.pool(x, mode, min_valid=1.0, **kw).tolist() == [[0]], (mode, backend)
            assert poolcli.pool(x, mode, min_valid=0.5, **kw).tolist() == [[1]], (mode, backend)
    # mode: a pixel is absent only when every channel is nodata: (0, 5) votes
    rgb = np.array([[[0, 5]], [[0, 5]], [[0, 0]]], np.uint8)
    for backend in ["reference", "numpy"] + BACKENDS:
        y = poolcli.pool(rgb, "mode", size=(3, 1), nodata=0, min_valid=0.6, backend=backend)
        assert y.tolist() == [[[0, 5]]], backend
