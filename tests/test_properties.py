"""Properties over random valid geometries and random arrays (hypothesis).

The strategy builds only valid geometries (size, stride, padding <= size // 2, dilation, ceil
mode or SAME padding, and an input at least as long as needed, with no window made of padding
alone). Settings (examples, deadline=None) come from the profiles in conftest.py.
"""

from __future__ import annotations

import math

import numpy as np
from helpers import BACKENDS, MODE_CASES, check_backend
from hypothesis import assume, given
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
