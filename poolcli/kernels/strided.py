"""The ``numpy`` backend: the reference, with one shortcut that needs no Numba.

When every window lies wholly inside the input at regular steps (no padding, no partial
ceil-mode window; sliding windows of any size, stride and dilation), the cell ``(jd, jh,
jw)`` of every window is a strided *view* of the input, so max, min, avg and lp reduce
those views in place instead of gathering cells with index arrays. The numbers are the
reference's exactly: max and min are exact in any order; integer sums are exact integers
(accumulated in a wide integer type, then divided in float64 as the reference does); float
sums are accumulated in float64 in the reference's cell order. Everything else is
``reference.pool``. This is what ``auto`` uses for work too small to pay Numba's start-up.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from .. import reference
from ..plan import OP_AVG, OP_LP, OP_MAX, OP_MIN, finish

NAME = "numpy"


def _axis_slices(axis) -> tuple[slice, ...] | None:
    """One slice per cell offset j, or None when some window is partial or irregular
    (``AxisWindows.regular``, computed once per table)."""
    if axis.regular is None:
        return None
    k, s, first = axis.regular
    span = s * (axis.out - 1) + 1
    return tuple(slice(first + j * axis.step, first + j * axis.step + span, s) for j in range(k))


def cell_views(x: np.ndarray, plan):
    """The strided views of the cells of every window, in the reference's cell order, or None."""
    per_axis = [_axis_slices(a) for a in plan.axes]
    if any(p is None for p in per_axis):
        return None
    return [x[sd, sh, sw] for sd, sh, sw in product(*per_axis)]


def _rows_first(x: np.ndarray, plan, combine, dtype=None) -> np.ndarray | None:
    """combine() over the cells of every window, whole rows first: the (depth, height) cells
    of each window are combined over full input rows (contiguous, so NumPy runs them at
    memory speed), then the width cells of that partial result (strided: the slow part, now
    kw views instead of kd*kh*kw). Only for exact combines (max, min, integer sums), whose
    result does not depend on the order. ``dtype``: the accumulator's; None if no shortcut."""
    per_axis = [_axis_slices(a) for a in plan.axes]
    if any(p is None for p in per_axis):
        return None
    rows = [x[sd, sh] for sd, sh in product(per_axis[0], per_axis[1])]
    acc = _combined(combine, rows, dtype or x.dtype)
    return _combined(combine, [acc[:, :, sw] for sw in per_axis[2]], acc.dtype)


def _combined(combine, views, dtype) -> np.ndarray:
    """combine() of the views into a new array of ``dtype`` (never one of the views)."""
    if len(views) == 1:
        return views[0].astype(dtype)
    acc = combine(views[0], views[1], dtype=dtype)  # no copy before the first combine
    for v in views[2:]:
        combine(acc, v, out=acc, casting="unsafe")
    return acc


def _sum_dtype(dtype: np.dtype, cells: int):
    """A type that holds the exact sum of ``cells`` values of an integer ``dtype``."""
    if dtype.kind in "ui" and dtype.itemsize <= 2 and cells * 65535 < 2**31:
        return np.int32
    if dtype.kind in "ui" and dtype.itemsize <= 4:
        return np.int64  # 16 * 2**32 fits easily
    return np.float64  # 64-bit integers and floats: float64 in the reference's order


def applies(plan) -> bool:
    """Whether the shortcut serves this plan: max, min, avg, lp (p = 2 only: other powers may
    need the largest |x| factored out, ``reference.power_mean``) over regular windows, and
    neither nodata nor indices (the reference does those)."""
    ops = (OP_MAX, OP_MIN, OP_AVG) + ((OP_LP,) if plan.p == 2.0 else ())
    return (plan.op in ops and plan.nodata is None and not plan.return_indices
            and all(a.regular for a in plan.axes))


def pool(x: np.ndarray, plan) -> np.ndarray:
    views = cell_views(x, plan) if applies(plan) else None
    if views is None:
        return reference.pool(x, plan)
    if plan.op in (OP_MAX, OP_MIN):
        better = np.maximum if plan.op == OP_MAX else np.minimum
        if plan.axes[2].hi[0] < len(views):  # some cells share a column: rows first
            return _rows_first(x, plan, better)
        out = views[0].copy()
        for v in views[1:]:
            better(out, v, out=out)  # NaN propagates, as in the reference
        return out
    if plan.op == OP_AVG:
        n = len(views)  # every window is full: the divisor is the cell count
        if x.dtype in (np.uint8, np.uint16) and _is_2x2(plan):
            return _mean_2x2(x, plan)
        if x.dtype in (np.uint8, np.uint16) and n >= 2 and n & (n - 1) == 0 and n <= 256:
            return _power_of_two_mean(x, n, plan)
        acc = np.zeros(plan.out_shape, dtype=_sum_dtype(x.dtype, n))
        for v in views:
            np.add(acc, v, out=acc, casting="unsafe")  # float32 -> float64 is exact; ints exact
        if x.dtype.kind in "ui" and x.dtype.itemsize <= 2 and n <= 64:
            # 8/16-bit means in float32: the sums are exact (< 2**24), and a quotient of two
            # such integers with divisor <= 64 is a tie exactly when it is one, so rint gives
            # the reference's answer; a mean never leaves the dtype's range (no clip needed)
            q = acc.astype(np.float32)
            np.divide(q, np.float32(n), out=q)
            np.rint(q, out=q)
            return q.astype(plan.dtype)
        return finish(acc.astype(np.float64, copy=False) / plan.divisors()[..., None], plan.dtype)
    # lp, p = 2: the reference's formula on float64 cells, in its order, where the plain sum
    # is safe (``reference.lp_scale``); any other window: the reference
    acc = np.zeros(plan.out_shape, dtype=np.float64)
    top = np.zeros(plan.out_shape, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        for v in views:
            f = v.astype(np.float64)
            np.maximum(top, np.abs(f), out=top)
            acc += f * f
        if not np.all(reference.lp_scale(top, 2.0, len(views)) == 1.0):
            return reference.pool(x, plan)
    return finish(reference.lp_finish(acc, plan), plan.dtype)


def pool_timed(x: np.ndarray, plan) -> tuple[np.ndarray, float]:
    """``pool`` and the seconds spent compiling: none, in NumPy."""
    return pool(x, plan), 0.0


def _power_of_two_mean(x, n: int, plan) -> np.ndarray:
    """The mean of 2**m unsigned 8/16-bit cells, rounded half to even, in integers only:
    (s + 2**(m-1) - 1 + ((s >> m) & 1)) >> m (the odd quotient's tie goes up, the even one's
    stays), in the next wider unsigned type, which holds 256 sums with room to spare."""
    wide = np.uint16 if x.dtype == np.uint8 else np.uint32
    m = n.bit_length() - 1
    acc = _rows_first(x, plan, np.add, wide)
    odd = np.right_shift(acc, m)
    np.bitwise_and(odd, 1, out=odd)
    acc += wide((1 << (m - 1)) - 1)
    acc += odd
    np.right_shift(acc, m, out=acc)
    return acc.astype(plan.dtype)


def _is_2x2(plan) -> bool:
    """Whether the windows are 2x2 at stride 2 from the first pixel, each frame on its own."""
    ad, ah, aw = plan.axes
    return (ad.regular == (1, 1, 0) and ad.out == plan.in_shape[0]
            and ah.step == aw.step == 1 and ah.regular == aw.regular == (2, 2, 0))


def _round_quarter(v: np.ndarray, odd: np.ndarray | None = None) -> np.ndarray:
    """v / 4 rounded half to even, in place, for unsigned sums v (``_power_of_two_mean``);
    ``odd``: scratch of v's shape and dtype."""
    odd = np.right_shift(v, 2, out=odd)
    odd &= 1
    v += 1
    v += odd
    v >>= 2
    return v


def _mean_2x2(x, plan) -> np.ndarray:
    """The 2x2/s2 mean of unsigned 8/16-bit images (photos' common case), exact: row pairs
    summed into the wider type (contiguous), then column pairs one channel at a time (long
    strided runs: NumPy is slow on the short inner channel axis of the (Wo, C) view), then
    rounded half to even. ~3x faster than ``_power_of_two_mean`` on a 1024x768 RGB photo
    (benchmarks/README.md). Done in bands of ``BAND`` output rows, whose sums stay in the
    CPU's cache (12 MP RGB: 31 -> 14 ms)."""
    d, h, w, c = x.shape
    _, ho, wo, _ = plan.out_shape
    wide = np.uint16 if x.dtype == np.uint8 else np.uint32
    band = min(ho, BAND)
    s = np.empty((d, band, w * c), dtype=wide)
    v = np.empty((d, band, wo, c), dtype=wide)
    odd = np.empty_like(v)
    out = np.empty(plan.out_shape, dtype=plan.dtype)
    for r0 in range(0, ho, band):
        n = min(band, ho - r0)
        rows = x[:, 2 * r0 : 2 * (r0 + n)].reshape(d, n, 2, w * c)
        sb, vb, ob = s[:, :n], v[:, :n], odd[:, :n]
        np.add(rows[:, :, 0], rows[:, :, 1], out=sb, dtype=wide)
        pairs = sb[..., : 2 * wo * c].reshape(d, n, wo, 2, c)
        for i in range(c):
            np.add(pairs[..., 0, i], pairs[..., 1, i], out=vb[..., i])
        out[:, r0 : r0 + n] = _round_quarter(vb, ob)
    return out


#: output rows per band of ``_mean_2x2`` (measured best of 32-256 for 1024x768 and 4000x3000 RGB)
BAND = 128


pool_max = pool_min = pool_avg = pool_lp = pool_global = pool_adaptive = pool
pool_fractional = pool_mixed = pool_stochastic = pool_softpool = pool_weighted = pool
pool_mode = pool_median = pool_quantile = pool_blurpool = pool
