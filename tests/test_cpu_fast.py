"""The CPU fast path (reduce_fixed) gives exactly the generic kernel's and the reference's numbers."""

import numpy as np
import pytest

from poolcli import api, modes, reference
from poolcli.kernels import cpu

CASES = [  # dtype, channels, size, stride, mode, (D, H, W)
    ("uint8", 3, 2, 2, "max", (1, 9, 11)),
    ("uint8", 3, 2, 2, "avg", (1, 9, 11)),
    ("uint8", 4, 3, 2, "avg", (2, 8, 9)),
    ("uint16", 1, 3, 2, "min", (1, 10, 7)),
    ("uint16", 3, 3, 2, "avg", (1, 7, 10)),
    ("uint16", 3, 2, 2, "avg", (2, 9, 11)),
    ("uint8", 1, (1, 2), (1, 2), "avg", (1, 5, 9)),
    ("uint8", 2, (2, 1), (2, 1), "avg", (1, 9, 5)),
    ("int8", 3, 2, 2, "avg", (1, 9, 11)),
    ("int16", 1, 2, 2, "avg", (1, 6, 6)),
    ("uint8", 3, 3, 3, "avg", (1, 10, 11)),
    ("uint16", 2, (1, 3), (1, 2), "avg", (1, 4, 12)),
    ("uint8", 1, (2, 3), (2, 3), "avg", (1, 8, 9)),
    ("float32", 3, 2, 2, "avg", (1, 9, 11)),
    ("float32", 1, 3, 2, "max", (2, 9, 9)),
    ("float32", 3, 2, 2, "lp", (1, 6, 8)),
    ("float32", 4, 2, 2, "max", (2, 8, 11)),  # four float channels: whole rows first
    ("float32", 4, 2, 2, "avg", (1, 9, 10)),
    ("float64", 4, 3, 2, "min", (1, 9, 12)),
    ("float32", 4, 3, 3, "lp", (1, 9, 9)),
    # float 3x3 windows of 2 or 3 channels: every input column first (max, min, avg)
    ("float32", 3, 3, 2, "max", (1, 9, 13)),
    ("float64", 2, 3, 3, "avg", (2, 9, 10)),
    ("float32", 3, 3, 2, "lp", (1, 7, 9)),  # lp keeps the interleaved loop
    ("float32", 3, (3, 3, 3), (2, 2, 2), "min", (5, 7, 9)),
    # windows across frames (volumes, video): frames, then rows, then columns
    ("uint16", 1, (2, 2, 2), (2, 2, 2), "avg", (5, 9, 7)),  # 8 cells: integer lanes, shift
    ("uint8", 3, (3, 3, 3), (2, 2, 2), "avg", (7, 8, 9)),  # 27 cells: a constant divisor
    ("int16", 1, (2, 2, 2), (2, 2, 2), "avg", (4, 6, 6)),
    ("float32", 1, (2, 2, 2), (2, 2, 2), "avg", (6, 7, 9)),
    ("float64", 2, (2, 3, 2), (1, 2, 3), "lp", (5, 9, 11)),
    ("uint16", 1, (3, 2, 2), (3, 2, 2), "max", (7, 6, 6)),
    ("int32", 3, (2, 2, 2), (2, 1, 2), "min", (5, 6, 7)),
    ("int32", 1, (3, 3, 3), (2, 2, 2), "avg", (5, 7, 7)),  # int64 sums
    # lp (p = 2) of 8/16-bit integers: squares summed exactly in int32 / int64
    ("uint8", 3, 2, 2, "lp", (1, 9, 11)),  # every input column first
    ("uint16", 1, 3, 2, "lp", (1, 10, 7)),  # one channel: interleaved
    ("int8", 4, 3, 3, "lp", (1, 9, 10)),
    ("int16", 2, (2, 2, 2), (2, 2, 2), "lp", (5, 7, 9)),
]


def _data(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        x = (rng.standard_normal(shape) * 100).astype(dtype)
        x.flat[[1, 5, 9]] = [np.nan, np.inf, -np.inf]
        return x
    info = np.iinfo(dtype)
    x = rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)
    x.flat[:3] = info.max
    return x


@pytest.mark.parametrize(("dtype", "c", "k", "s", "mode", "dhw"), CASES)
def test_fast_path_equals_generic_and_reference(dtype, c, k, s, mode, dhw):
    x = _data(dtype, (*dhw, c))
    plan = api.make_plan(modes.MODES[mode], x.shape, x.dtype, size=k, stride=s)
    kernel, _ = cpu.fast_args(x, np.empty(plan.out_shape, plan.dtype), plan)
    cells = np.prod(k)
    integer = mode == "avg" and np.dtype(dtype).kind == "u" and cells in (2, 3, 4, 8, 9, 27)
    squares = mode == "lp" and np.dtype(dtype).kind in "ui" and np.dtype(dtype).itemsize <= 2
    assert kernel is (cpu.mean_int_fixed if integer else cpu.squares_fixed if squares else
                      cpu.extreme_fixed if mode in ("max", "min") else cpu.reduce_fixed)
    fast = cpu.pool(x, plan)
    np.testing.assert_array_equal(fast, cpu.pool(x, plan, fast=False))
    np.testing.assert_array_equal(fast, reference.pool(x, plan))
    assert fast.dtype == plan.dtype


def test_integer_lp_normalized_ties_and_extremes():
    """lp p = 2 of uint8 2x2 windows, normalized: sqrt(s / 4) is k + 1/2 exactly when s is an
    odd square (2k + 1)^2, and rounds to even like the reference's float64 sum; 255s at the top."""
    x = np.zeros((1, 6, 10, 3), np.uint8)
    x[0, :2, :2] = [[[1, 0, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]]  # s = 1: sqrt(1/4) = 0.5 -> 0
    x[0, :2, 2:4] = 3  # s = 36, sqrt(9) = 3
    x[0, :2, 4:6] = [[[3, 0, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]]  # sqrt(9/4) = 1.5 -> 2
    x[0, 2:4] = 255
    x[0, 4:] = np.arange(60).reshape(2, 10, 3) * 4
    plan = api.make_plan(modes.MODES["lp"], x.shape, x.dtype, size=2, stride=2,
                         opts={"normalize": True})
    assert cpu.fast_args(x, np.empty(plan.out_shape, plan.dtype), plan)[0] is cpu.squares_fixed
    fast = cpu.pool(x, plan)
    np.testing.assert_array_equal(fast, reference.pool(x, plan))
    np.testing.assert_array_equal(fast[0, 0, :3, 0], [0, 3, 2])
    assert (fast[0, 1] == 255).all()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
def test_ties_round_half_to_even(dtype):
    # 2x2 windows summing to 2 mod 4: mean x.5 -> even neighbour
    x = np.array([[0, 1, 1, 2, 3, 3, 255, 255], [0, 1, 2, 2, 3, 4, 255, 253]], dtype=dtype)
    plan = api.make_plan(modes.MODES["avg"], x[None, :, :, None].shape, x.dtype)
    # 0.5 -> 0, 1.75 -> 2, 3.25 -> 3, 254.5 -> 254
    np.testing.assert_array_equal(cpu.pool(x[None, :, :, None], plan)[0, :, :, 0], [[0, 2, 3, 254]])
    # 1x2 windows: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4
    y = np.array([[0, 1, 1, 2, 2, 3, 3, 4]], dtype=dtype)[None, :, :, None]
    plan = api.make_plan(modes.MODES["avg"], y.shape, y.dtype, size=(1, 2), stride=(1, 2))
    np.testing.assert_array_equal(cpu.pool(y, plan)[0, 0, :, 0], [0, 2, 2, 4])


@pytest.mark.parametrize("kw", [{"padding": 1, "size": 3, "stride": 2}, {"size": 2, "dilation": 2},
                                {"size": 2, "ceil_mode": True}])
def test_other_geometries_use_the_generic_kernel(kw):
    x = _data("uint8", (1, 9, 9, 3))
    plan = api.make_plan(modes.MODES["max"], x.shape, x.dtype, **kw)
    assert cpu.fast_args(x, np.empty(plan.out_shape, plan.dtype), plan) is None
    np.testing.assert_array_equal(cpu.pool(x, plan), reference.pool(x, plan))


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_odd_cell_counts_round_to_nearest(dtype):
    # 3x3 windows: sums 4 (0.44 -> 0), 5 (0.56 -> 1), 13 (1.44 -> 1), 14 (1.56 -> 2), and the top
    top = np.iinfo(dtype).max
    windows = []
    for total in [4, 5, 13, 14]:  # spread over the 9 cells
        windows.append(np.bincount(np.arange(total) % 9, minlength=9).reshape(3, 3))
    windows.append(np.full((3, 3), top))
    x = np.concatenate(windows, axis=1).astype(dtype)
    plan = api.make_plan(modes.MODES["avg"], x[None, :, :, None].shape, x.dtype, size=3, stride=3)
    assert cpu.fast_args(x[None, :, :, None], np.empty(plan.out_shape, plan.dtype), plan)[0] is cpu.mean_int_fixed
    np.testing.assert_array_equal(cpu.pool(x[None, :, :, None], plan)[0, 0, :, 0], [0, 1, 1, 2, top])


@pytest.mark.parametrize("c", [1, 3, 4])
@pytest.mark.parametrize("mode", ["max", "min"])
def test_max_keeps_the_scan_order_bits(c, mode):
    """extreme_fixed gives the very bits of the generic kernel's row-major scan: the first
    NaN (sign and payload), else the first of -0.0 and 0.0 that ties."""
    values = np.array([0.0, -0.0, 1.0, -1.0, np.nan, -np.nan, 0.0, -0.0], np.float32)
    x = np.random.default_rng(c).choice(values, size=(2, 9, 1101, c))
    plan = api.make_plan(modes.MODES[mode], x.shape, x.dtype, size=3, stride=2)
    assert cpu.fast_args(x, np.empty(plan.out_shape, plan.dtype), plan)[0] is cpu.extreme_fixed
    assert cpu.pool(x, plan).tobytes() == cpu.pool(x, plan, fast=False).tobytes()
