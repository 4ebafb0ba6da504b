"""The CPU backend's fast paths for issue 14's modes (kernels/select_fast.py, window_fast.py)
against the NumPy reference, and the benchmark cases that time them.

Each property first checks that the plan really takes the fast path (else the test would
compare the generic kernel again), then compares with ``reference.pool`` exactly: label-like
values with ties, NaN, -0.0 and infinities, ignore, nodata (a value or NaN) and min_valid.
The combinations of dtype, channels and window are drawn from short lists: each one is a
kernel specialisation to compile.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from poolcli import api, bench, bench_modes, modes, reference
from poolcli.kernels import cpu, select_fast, window_fast


def _plan(x4, mode, size, stride, opts=None, **fields):
    plan = api.make_plan(modes.MODES[mode], x4.shape, x4.dtype, size=size, stride=stride,
                         opts=opts or {})
    return dataclasses.replace(plan, **fields) if fields else plan


def _same(x4, plan, finder):
    """The fast path is taken, and its result equals the reference (NaN equal NaN)."""
    out = np.empty(plan.out_shape, plan.dtype)
    assert finder(x4, out, plan) is not None, "the fast path must take this plan"
    got, want = cpu.pool(x4, plan), reference.pool(x4, plan)
    if plan.return_indices:
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w, strict=True)
    else:
        np.testing.assert_array_equal(got, want, strict=True)


def _labels(dtype):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return [0.0, -0.0, 1.0, 2.5, -np.inf, np.nan]
    info = np.iinfo(dt)
    return [0, 1, 2, int(info.min), int(info.max)]


#: (dtype, channels, (size, stride)): each a specialisation of a fast kernel
MODE_COMBOS = [("uint8", 3, (2, 2)), ("uint8", 1, (2, 2)), ("int64", 2, (2, 2)),
               ("int16", 1, ((2, 2), (2, 1))), ("uint8", 3, (3, 2)), ("float32", 3, (2, 2)),
               ("float32", 1, ((3, 2), (2, 2))), ("uint16", 4, (2, 2))]


@given(data=st.data(), combo=st.sampled_from(MODE_COMBOS), h=st.integers(2, 9),
       w=st.integers(2, 9), d=st.integers(1, 2))
def test_mode_fast_paths_equal_the_reference(data, combo, h, w, d):
    dtype, c, (size, stride) = combo
    kh = size[0] if isinstance(size, tuple) else size
    kw = size[1] if isinstance(size, tuple) else size
    h, w = max(h, kh), max(w, kw)
    vals = _labels(dtype)
    x = data.draw(hnp.arrays(np.dtype(dtype), (d, h, w, c), elements=st.sampled_from(vals)))
    fields = {}
    if data.draw(st.booleans()):
        fields["ignore"] = data.draw(st.sampled_from(vals[:3]))
    if data.draw(st.booleans()):
        nd = data.draw(st.sampled_from(vals if dtype[0] == "f" else vals[:3]))
        fields["nodata"] = float(nd)
        fields["min_valid"] = data.draw(st.sampled_from([None, 0.3, 0.5, 1.0]))
    _same(x, _plan(x, "mode", size, stride, **fields), select_fast.fast_args)


MEDIAN_COMBOS = [("uint8", 3, (3, 2)), ("uint8", 1, ((2, 3), (1, 2))), ("int16", 3, (2, 2)),
                 ("float32", 3, (3, 2)), ("float64", 1, ((3, 2), (2, 1))),
                 ("int64", 2, (3, 2))]


@given(data=st.data(), combo=st.sampled_from(MEDIAN_COMBOS), h=st.integers(3, 9),
       w=st.integers(3, 9), how=st.sampled_from(["lower", "mean", "q"]),
       q=st.floats(0.0, 1.0))
def test_median_and_quantile_fast_paths_equal_the_reference(data, combo, h, w, how, q):
    dtype, c, (size, stride) = combo
    dt = np.dtype(dtype)
    elements = None
    if dt.kind == "i" and dt.itemsize == 8:  # beyond 2**53: picks stay exact
        elements = st.integers(-(2**62), 2**62)
    x = data.draw(hnp.arrays(dt, (1, h, w, c), elements=elements))
    if how == "q":
        plan = _plan(x, "quantile", size, stride, q=q)
    else:
        plan = _plan(x, "median", size, stride, even_mean=how == "mean")
    _same(x, plan, select_fast.fast_args)


def test_fast_and_generic_agree_on_ties_by_hand():
    """The four 2x2 stories (pair, two pairs, triple, all distinct) on one row."""
    x = np.array([[5, 5, 7, 9, 3, 3, 8, 2], [1, 2, 9, 7, 3, 4, 6, 4]], np.uint8)[None, ..., None]
    plan = _plan(x, "mode", 2, 2)
    np.testing.assert_array_equal(cpu.pool(x, plan)[0, 0, :, 0], [5, 7, 3, 2])
    np.testing.assert_array_equal(cpu.pool(x, plan, fast=False), cpu.pool(x, plan))


#: (filter size, stride) pairs: every size 2..7 and stride 1..3 is covered, but each pair is a
#: kernel specialisation per dtype (5-10 s of compiling each): all 18 pairs x 4 dtypes cost
#: the suite several minutes of CI (the kernel's code does not depend on the pair otherwise).
#: Filter size 1 is a plain subsampling: the generic kernel (test_filter_size_1_is_generic)
BLUR_PAIRS = [(2, 1), (2, 2), (3, 2), (4, 3), (5, 1), (6, 2), (7, 3), (3, 1)]


@given(data=st.data(), dtype=st.sampled_from(["uint8", "int16", "float32", "int32"]),
       pair=st.sampled_from(BLUR_PAIRS), h=st.integers(4, 12), w=st.integers(4, 12))
def test_blurpool_fast_path_equals_the_reference(data, dtype, pair, h, w):
    f, s = pair
    dt = np.dtype(dtype)
    elements = st.floats(-2.0**100, 2.0**100, width=32) if dt.kind == "f" \
        else None
    x = data.draw(hnp.arrays(dt, (1, h, w, 3), elements=elements))
    plan = _plan(x, "blurpool", 2, s, opts={"filter_size": f})
    if max(plan.reflect) >= min(h, w):
        return  # numpy.pad's repeated reflection: the generic path (not this test)
    _same(x, plan, window_fast.fast_args)


@given(data=st.data(), dtype=st.sampled_from(["uint8", "float32", "float64", "int16"]),
       op=st.sampled_from(["max", "min"]), k=st.sampled_from([(2, 2), (3, 2)]),
       h=st.integers(3, 9), w=st.integers(3, 9))
def test_indices_fast_path_equals_the_reference(data, dtype, op, k, h, w):
    dt = np.dtype(dtype)
    elements = st.sampled_from([0.0, 1.0, -np.inf, np.inf, np.nan]) if dt.kind == "f" else \
        st.integers(0, 3)
    x = data.draw(hnp.arrays(dt, (1, h, w, 3), elements=elements))
    _same(x, _plan(x, op, k[0], k[1], return_indices=True), window_fast.fast_args)


@given(data=st.data(), dtype=st.sampled_from(["uint8", "float32", "int16"]),
       k=st.sampled_from([(2, 2), (3, 2)]), nan=st.booleans(),
       min_valid=st.sampled_from([None, 0.25, 0.5, 1.0]), h=st.integers(3, 9),
       w=st.integers(3, 9))
def test_nodata_avg_fast_path_equals_the_reference(data, dtype, k, nan, min_valid, h, w):
    dt = np.dtype(dtype)
    floats = dt.kind == "f"
    elements = st.sampled_from([0.0, 1.5, -7.25, np.nan, np.inf]) if floats else \
        st.sampled_from([0, 1, 2, 254, 255] if dt.kind == "u" else [-3, 0, 5])
    x = data.draw(hnp.arrays(dt, (1, h, w, 3), elements=elements))
    nodata = float("nan") if (nan and floats) else 0.0
    plan = _plan(x, "avg", k[0], k[1], nodata=nodata, min_valid=min_valid)
    _same(x, plan, window_fast.fast_args)


def test_plans_outside_the_fast_paths_are_left_to_the_generic_kernels():
    x = np.zeros((1, 6, 6, 3), np.uint8)
    for mode, kw in (("mode", {"padding": 1}), ("median", {"dilation": 2}),
                     ("median", {"ceil_mode": True, "size": 3, "stride": 2})):
        plan = api.make_plan(modes.MODES[mode], x.shape, x.dtype, **kw)
        assert select_fast.fast_args(x, np.empty(plan.out_shape, x.dtype), plan) is None
    plan = _plan(x, "max", 2, 2)  # no indices, no nodata: reduce_fixed's job
    assert window_fast.fast_args(x, np.empty(plan.out_shape, x.dtype), plan) is None


def test_sorting_networks_sort():
    """Every 0/1 input (the 0-1 principle) comes out sorted at the kept ranks."""
    for n in range(1, 10):
        pairs = select_fast.network(n, range(n))
        for bits in range(2**n):
            v = [(bits >> i) & 1 for i in range(n)]
            for a, b in pairs:
                if v[b] < v[a]:
                    v[a], v[b] = v[b], v[a]
            assert v == sorted(v), (n, bits)
    assert len(select_fast.network(9, [4])) < len(select_fast.network(9, range(9)))


# --------------------------------------------------------------------------------------------
# the benchmark cases


def test_bench_cases_run_in_quick_mode_without_peers(monkeypatch):
    """No peer installed (as in poolcli's own environment): each is named in the log, poolcli
    gets a row for every case, nothing raises."""
    monkeypatch.setattr(bench_modes, "_installed", lambda m: m in ("numba",))
    logged: list[str] = []
    rows = bench_modes.run("cpu", True, {"all_cores_gbs": 10.0},
                           lambda fn, **kw: (fn(), 1e-3)[1], bench._test_array,
                           log=logged.append)
    cases = bench_modes.cases(quick=True)
    assert all(max(c["shape"][:2]) <= 256 for c in cases)
    assert {r["impl"] for r in rows} == {"poolcli cpu"}
    assert len(rows) == len(cases)
    assert {r["mode"] for r in rows} == {"mode", "median", "avg nodata", "max+indices",
                                         "blurpool"}
    for peer in ("tinybrain", "scipy median_filter", "numpy nanmean", "pytorch", "kornia"):
        assert f"peer not installed: {peer}" in logged


def test_bench_numpy_peer_gives_the_same_numbers():
    """The always-installed peer (NumPy nanmean) agrees with poolcli on the float nodata case
    (float32 sums in NumPy: a few units in the last place)."""
    case = next(c for c in bench_modes.cases(quick=True)
                if c["mode"] == "avg nodata" and c["dtype"] == "float32")
    x = bench_modes.make_array(case, bench._test_array)
    assert 0.05 < np.isnan(x).mean() < 0.15
    ours = bench_modes.PEERS["poolcli cpu"][1](x, case)()[0]
    theirs = bench_modes.PEERS["numpy nanmean"][1](x, case)()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_one_cell_windows_and_filter_size_1_take_the_generic_kernel():
    """Nothing to select in a window of one cell, nothing to blur with a filter of one tap:
    the generic kernels (no specialisation to compile) give the reference's numbers."""
    x = np.random.default_rng(5).integers(0, 9, (1, 7, 8, 3)).astype(np.uint8)
    for mode, opts, finder in [("mode", {}, select_fast.fast_args),
                               ("median", {}, select_fast.fast_args),
                               ("blurpool", {"filter_size": 1}, window_fast.fast_args)]:
        plan = _plan(x, mode, 1, 2 if mode == "blurpool" else 1, opts=opts)
        assert finder(x, np.empty(plan.out_shape, x.dtype), plan) is None, mode
        np.testing.assert_array_equal(cpu.pool(x, plan), reference.pool(x, plan), strict=True)
