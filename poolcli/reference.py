"""The NumPy oracle, and the ``numpy`` backend: ``pool_<mode>(x, plan)`` for every mode.

Written for clarity, not speed. ``x`` is a C-contiguous (D, H, W, C) array,
``plan`` a ``plan.Plan``; each function returns the (Do, Ho, Wo, C) result in
``plan.dtype``. Every window is visited cell by cell in one fixed order
(frames, then rows, then columns, each in increasing ``j``), and sums are
accumulated in float64 in that order, the same order as the fast kernels, so
that a kernel that is right agrees to the last bit.
"""

from __future__ import annotations

import dataclasses
from itertools import product

import numpy as np

from .plan import LP_HUGE, LP_TINY, OP_AVG, OP_LP, OP_MAX, OP_MEDIAN, OP_MIN, finish

NAME = "numpy"


def cells(x: np.ndarray, plan, with_index: bool = False):
    """For each cell offset (jd, jh, jw) of the windows, in window order, yield
    ``(offset, values, valid)``: the input value at that cell of every window,
    shape (Do, Ho, Wo, C), and whether that cell counts: it lies inside the input (not in
    the padding, and inside the window) and, with ``plan.nodata``, is not V (not NaN for
    nodata "nan"), shape (Do, Ho, Wo, 1) or (Do, Ho, Wo, C) with nodata.
    ``with_index``: also yield the cell's flat index in its channel's input plane (h*W + w,
    or d*H*W + h*W + w for a 3-D window, ``plan.pools_frames``), shape (Do, Ho, Wo, 1)."""
    index, inside, offsets = [], [], []
    for axis in plan.axes:
        start, lo, hi = (np.asarray(t) for t in (axis.start, axis.lo, axis.hi))
        offsets.append(range(int(lo.min()), int(hi.max())))
        index.append(lambda j, start=start, axis=axis:
                     np.clip(start + j * axis.step, 0, axis.n - 1))
        inside.append(lambda j, lo=lo, hi=hi: (lo <= j) & (j < hi))
    _, h, w, _ = plan.in_shape
    for jd, jh, jw in product(*offsets):
        iz, iy, ix = index[0](jd), index[1](jh), index[2](jw)
        values = x[np.ix_(iz, iy, ix)]
        valid = (inside[0](jd)[:, None, None] & inside[1](jh)[None, :, None]
                 & inside[2](jw)[None, None, :])[..., None]
        if plan.nodata is not None:
            valid = valid & present(values, plan)
        if not with_index:
            yield (jd, jh, jw), values, valid
            continue
        frames = iz if plan.pools_frames else np.zeros_like(iz)
        flat = (frames[:, None, None] * h + iy[None, :, None]) * w + ix[None, None, :]
        yield (jd, jh, jw), values, valid, flat[..., None].astype(np.int64)


def present(values: np.ndarray, plan) -> np.ndarray:
    """Which values are data (not nodata): != V, or not NaN for nodata "nan"."""
    if plan.nodata_nan:
        return ~np.isnan(values)
    return values != plan.special()[0]  # V in the array's dtype (exact for 64-bit integers)


def valid_counts(x, plan) -> np.ndarray:
    """The number of valid cells of every window and channel, (Do, Ho, Wo, C) int64."""
    count = np.zeros(plan.out_shape, dtype=np.int64)
    for _, _, valid in cells(x, plan):
        count = count + valid
    return count


def kept(x, plan) -> np.ndarray:
    """Which windows (per channel) have enough valid cells: at least one, and with
    ``min_valid`` F at least F * (cells inside the image) (DECISIONS: times 1 - 1e-12)."""
    count = valid_counts(x, plan)
    inside = _inside(plan)[..., None]
    return (count >= 1) & (count >= plan.keep_threshold() * inside)


def _inside(plan) -> np.ndarray:
    rows = [np.asarray(a.valid, dtype=np.float64) for a in plan.axes]
    return rows[0][:, None, None] * rows[1][None, :, None] * rows[2][None, None, :]


def with_nodata(values: np.ndarray, x, plan) -> np.ndarray:
    """Windows with too few valid cells -> V (values in any dtype; V cast to it)."""
    if plan.nodata is None:
        return values
    fill = plan.special()[0] if values.dtype == plan.dtype else plan.nodata
    return np.where(kept(x, plan), values, fill)


def _extreme(x, plan, op) -> tuple[np.ndarray, np.ndarray]:
    """max or min, exact in the input dtype, and the flat index of the chosen cell.

    Values: NaN wins (propagates), padding and nodata never do. Index: PyTorch's CPU rule
    (DECISIONS): start from the first valid cell; move on a strictly better value or on a
    NaN, so ties keep the first cell and NaN gives the LAST NaN. A window with no valid cell
    gives 0 (then V, ``with_nodata``) and index -1.
    """
    better = np.maximum if op == OP_MAX else np.minimum  # propagate NaN
    out = np.zeros(plan.out_shape, dtype=x.dtype)
    idx = np.full(plan.out_shape, -1, dtype=np.int64)
    has = np.zeros(plan.out_shape, dtype=bool)
    for _, v, valid, flat in cells(x, plan, with_index=True):
        wins = ((v > out) if op == OP_MAX else (v < out)) | (v != v)
        idx = np.where(valid & (~has | wins), flat, idx)
        out = np.where(valid, np.where(has, better(out, v), v), out)
        has = has | valid
    return out, idx


def window_max(x, plan) -> np.ndarray:
    return _extreme(x, plan, OP_MAX)[0]


def window_min(x, plan) -> np.ndarray:
    return _extreme(x, plan, OP_MIN)[0]


def window_sum(x, plan, transform=lambda v: v) -> np.ndarray:
    """Sum over the valid cells of transform(value) in float64, in window order."""
    total = 0.0
    for _, v, valid in cells(x, plan):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            total = total + np.where(valid, transform(v.astype(np.float64)), 0.0)
    return total


def divisors(x, plan) -> np.ndarray:
    """The averaging divisor of every window and channel: the plan's (cells inside, or the
    whole window with count_include_pad), less the nodata cells."""
    div = plan.divisors()[..., None]
    if plan.nodata is None:
        return div
    return div - (_inside(plan)[..., None] - valid_counts(x, plan))


def window_mean(x, plan) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return window_sum(x, plan) / divisors(x, plan)


def abs_max(x, plan) -> np.ndarray:
    """max |x| over the valid cells in float64 (NaN propagates; 0 with no valid cell)."""
    m = np.zeros(plan.out_shape)
    for _, v, valid in cells(x, plan):
        m = np.where(valid, np.maximum(m, np.abs(v.astype(np.float64))), m)
    return m


def lp_scale(m, p, n):
    """The factor m taken out of a window's lp sum: 1.0 when the plain sum is safe (and
    for m = 0 or inf, where factoring gives 0/0 or inf/inf), else m (NaN stays NaN)."""
    t = m * m if p == 2.0 else m**p
    safe = (m == 0) | np.isinf(m) | ((t >= LP_TINY) & (t * n <= LP_HUGE))
    return np.where(safe, 1.0, m)


def power_mean(x, plan) -> np.ndarray:
    """(mean |x|^p)^(1/p), or (sum |x|^p)^(1/p) when not normalized (PyTorch's lp_pool);
    p = inf: max |x|. The largest |x| is factored out when the plain sum would overflow or
    underflow (``lp_scale``)."""
    p = plan.p
    m = abs_max(x, plan)
    if np.isinf(p):
        return m
    with np.errstate(over="ignore", under="ignore"):
        scale = lp_scale(m, p, valid_counts(x, plan) if plan.nodata is not None
                         else _inside(plan)[..., None])

        def term(v):
            v = v / scale
            return v * v if p == 2.0 else np.abs(v) ** p

        return scale * lp_finish(window_sum(x, plan, term), plan, divisors(x, plan))


def lp_finish(s: np.ndarray, plan, div=None) -> np.ndarray:
    """The sums of |x|^p -> the power mean (or the plain norm when not normalized)."""
    p = plan.p
    if plan.normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            s = s / (plan.divisors()[..., None] if div is None else div)
    return np.sqrt(s) if p == 2.0 else s ** (1.0 / p)


def _pick(x, plan, op):
    """max or min with nodata applied; (values, indices) when the plan asks for indices."""
    out, idx = _extreme(x, plan, op)
    out = with_nodata(out, x, plan)
    if plan.return_indices:
        return out, idx if plan.nodata is None else np.where(kept(x, plan), idx, -1)
    return out


def pool_max(x, plan):
    return _pick(x, plan, OP_MAX)


def pool_min(x, plan):
    return _pick(x, plan, OP_MIN)


def pool_avg(x, plan) -> np.ndarray:
    return finish(with_nodata(window_mean(x, plan), x, plan), plan.dtype)


def pool_lp(x, plan) -> np.ndarray:
    return finish(with_nodata(power_mean(x, plan), x, plan), plan.dtype)


def pool_mixed(x, plan) -> np.ndarray:
    """alpha*max + (1 - alpha)*avg, alpha per window (constant, or 0/1 drawn with the seed).

    alpha 1 is exactly the max and alpha 0 exactly the average, also when the other one is
    infinite (0 * inf would be NaN); for finite values this is the same arithmetic.
    """
    a = plan.alpha[..., None]
    top, mean = window_max(x, plan).astype(np.float64), window_mean(x, plan)
    with np.errstate(invalid="ignore"):
        mixed = np.where(a == 1.0, top, np.where(a == 0.0, mean, a * top + (1.0 - a) * mean))
    return finish(with_nodata(mixed, x, plan), plan.dtype)


def pool_softpool(x, plan) -> np.ndarray:
    """sum(w*x)/sum(w), w = exp((s*x - max(s*x))/T); s scales integers into [0, 1].

    Subtracting the window's maximum leaves the weights' ratios unchanged and keeps exp finite.
    Infinities: a cell equal to the maximum weighs exactly 1 (so +inf gives +inf, not
    inf - inf = NaN), and a cell of weight 0 adds nothing (so -inf does not give 0 * -inf =
    NaN); for finite values this is the same arithmetic.
    """
    scale, t = plan.value_scale, plan.temperature
    top = window_max(x, plan).astype(np.float64) * scale
    wsum = wxsum = 0.0
    for _, v, valid in cells(x, plan):
        v = v.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):  # cells outside the window are discarded
            w = np.where(valid, np.exp(np.where(v * scale == top, 0.0, (v * scale - top) / t)), 0.0)
            wsum = wsum + w
            wxsum = wxsum + np.where(valid & (w != 0.0), w * v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return finish(with_nodata(wxsum / wsum, x, plan), plan.dtype)


def pool_stochastic(x, plan) -> np.ndarray:
    """Pick one cell per window, with probability proportional to its positive part summed
    over the channels, and take every channel from it (colours stay aligned); with
    ``per_channel`` (``plan.uniform`` of shape (Do, Ho, Wo, C)) each channel draws its own
    cell, with probability proportional to that channel's positive value.

    With u from ``plan.uniform`` (one per window, or per window and channel): the first
    cell (in window order) whose running sum exceeds u * total. A window with no positive
    value gives its maximum (per channel). NaN counts as 0.
    """
    per_channel = plan.uniform.ndim == 4

    def positive(v):  # the cell's weight: its positive parts, channel after channel
        if per_channel:
            return np.where(v > 0, v, 0.0)
        weight = 0.0
        for c in range(v.shape[-1]):
            weight = weight + np.where(v[..., c] > 0, v[..., c], 0.0)
        return weight[..., None]

    total = window_sum(x, plan, positive)
    target = (plan.uniform if per_channel else plan.uniform[..., None]) * total
    running = 0.0
    picked = np.zeros(plan.out_shape if per_channel else plan.out_shape[:3] + (1,), dtype=bool)
    out = window_max(x, plan).astype(np.float64)
    for _, v, valid in cells(x, plan):
        v = v.astype(np.float64)
        running = running + np.where(valid, positive(v), 0.0)
        take = valid & ~picked & (running > target)
        out = np.where(take, v, out)
        picked |= take
    return finish(out, plan.dtype)


def pool_weighted(x, plan) -> np.ndarray:
    """sum of w*x over each window (w indexed by the cell's place in the window, padding
    included); with ``normalize``, divided by the sum of the weights of the valid cells."""
    w = plan.weights  # (KD, KH, KW, 1 or C)
    total = wsum = 0.0
    for (jd, jh, jw), v, valid in cells(x, plan):
        wj = w[jd, jh, jw]
        total = total + np.where(valid, wj * v.astype(np.float64), 0.0)
        wsum = wsum + np.where(valid, wj, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return finish(with_nodata(total / wsum if plan.normalize else total, x, plan),
                      plan.dtype)


# --------------------------------------------------------------------------------------------
# selection: mode, median, quantile (windows stacked along a new first axis, then sorted)


def _stacked(x, plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window's cells stacked: (values (K, Do, Ho, Wo, C) in x's dtype, inside (K, Do,
    Ho, Wo, 1) bool: the cell lies in the image and the window, cells inside per window)."""
    vals, inside = [], []
    # the geometry alone: ``cells`` with nodata also drops V cells (per channel), but the
    # callers apply nodata themselves (per channel, or whole pixels for mode) and min_valid
    # counts the cells inside the image
    geometric = dataclasses.replace(plan, nodata=None) if plan.nodata is not None else plan
    for _, v, valid in cells(x, geometric):
        vals.append(v)
        inside.append(valid)
    inside_a = np.stack(inside)
    return np.stack(vals), inside_a, inside_a.sum(axis=0)


def _enough(valid, inside, plan) -> np.ndarray:
    """The min_valid rule (DECISIONS.md): at least one valid cell, and with ``min_valid=F``
    at least F x the window's cells inside the image (with a 1e-12 relative tolerance)."""
    ok = valid >= 1
    if plan.min_valid:
        ok &= valid >= plan.min_valid * inside * (1.0 - 1e-12)
    return ok


def _sorted_first(vals, keep) -> np.ndarray:
    """The permutation along axis 0 that sorts ``vals`` ascending with the kept cells first
    (two stable sorts: by value, then by 'not kept')."""
    order = np.argsort(vals, axis=0, kind="stable")
    dropped = np.take_along_axis(~keep, order, axis=0)
    return np.take_along_axis(order, np.argsort(dropped, axis=0, kind="stable"), axis=0)


def _nodata(plan):
    """V in the array's dtype: compared and filled exactly (a Python float would send 64-bit
    integers through float64: 2**63 - 1 became -2**63)."""
    return plan.special()[0] if plan.is_int else plan.nodata


def _per_channel(x, plan) -> tuple:
    """(sorted values with the valid ones first, valid counts, NaN present, window valid)."""
    vals, inside, n_in = _stacked(x, plan)
    isnan = vals != vals
    absent = ~inside
    if plan.nodata is not None:
        absent = absent | (isnan if np.isnan(plan.nodata) else (vals == _nodata(plan)))
    nan = (isnan & ~absent).any(axis=0)
    keep = ~absent & ~isnan
    order = _sorted_first(vals, keep)
    valid = keep.sum(axis=0) + (isnan & ~absent).sum(axis=0)
    ok = _enough(valid, n_in, plan) if plan.nodata is not None else np.ones(valid.shape, bool)
    return np.take_along_axis(vals, order, axis=0), keep.sum(axis=0), nan, ok


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy.quantile's linear interpolation for finite values (from b when t >= 0.5), the
    mathematical value at infinities (DECISIONS.md): an infinite end wins, -inf..+inf is NaN."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = b - a
        r = np.where(t >= 0.5, b - d * (1.0 - t), a + d * t)
        ia, ib = np.isinf(a), np.isinf(b)
        r = np.where(ia | ib, np.where(ia & ib, np.nan, np.where(ia, a, b)), r)
    return r


def _select(x, plan, q: float, mean: bool) -> np.ndarray:
    """median (q = 0.5: the lower middle, or with ``mean`` the mean of the two middles) and
    quantile q (numpy's linear method) per channel; picks are exact in x's dtype."""
    srt, n, nan, ok = _per_channel(x, plan)
    n1 = np.maximum(n, 1)  # windows without a valid cell are replaced below
    if mean:  # even counts: (a + b) / 2 of the two middles; odd: the middle
        i = np.where(n1 % 2 == 0, n1 // 2 - 1, (n1 - 1) // 2)
        t = np.where(n1 % 2 == 0, 0.5, 0.0)
    elif plan.op == OP_MEDIAN:
        i, t = (n1 - 1) // 2, np.zeros(n1.shape)
    else:
        h = (n1 - 1) * q
        i = np.floor(h).astype(np.int64)
        t = h - i
    j = np.minimum(i + 1, n1 - 1)
    a = np.take_along_axis(srt, i[None], axis=0)[0]
    b = np.take_along_axis(srt, j[None], axis=0)[0]
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        mixed = (fa + fb) / 2.0 if mean else _lerp(fa, fb, t)
    pick = (t == 0.0) | (a == b)
    out = np.where(pick, a, finish(np.where(pick, 0.0, mixed), plan.dtype))
    out = np.where(nan, np.nan, out) if plan.dtype.kind == "f" else out
    if plan.nodata is not None:
        out = np.where(ok, out, _nodata(plan))
    return out.astype(plan.dtype)


def pool_median(x, plan) -> np.ndarray:
    return _select(x, plan, 0.5, plan.even_mean)


def pool_quantile(x, plan) -> np.ndarray:
    return _select(x, plan, plan.q, False)


def pool_mode(x, plan) -> np.ndarray:
    """The most frequent whole pixel of each window; ties to the smallest (channel 0 first).

    Pixels with a NaN channel never vote, nor (``plan.nodata``) those whose every channel is
    nodata; those whose every channel equals ``plan.ignore`` vote only when nothing else
    does. Counting: each kept pixel against every other, after sorting the window's pixels
    lexicographically, so the first pixel with the top count is the smallest of them.
    """
    vals, inside, n_in = _stacked(x, plan)
    nan = (vals != vals).any(axis=-1, keepdims=True)
    keep = inside & ~nan
    if plan.nodata is not None and not np.isnan(plan.nodata):
        keep &= ~(vals == _nodata(plan)).all(axis=-1, keepdims=True)
    valid = keep.sum(axis=0)  # before the ignored value is taken out: min_valid counts it
    ignored = np.zeros_like(keep)
    if plan.ignore is not None:
        ignored = keep & (vals == plan.ignore).all(axis=-1, keepdims=True)
        keep &= ~ignored
    # lexicographic sort of the pixels (last channel first, stable), voters first
    order = np.broadcast_to(np.arange(vals.shape[0]).reshape(-1, 1, 1, 1, 1), keep.shape)
    for c in reversed(range(vals.shape[-1])):
        key = np.take_along_axis(vals[..., c : c + 1], order, axis=0)
        order = np.take_along_axis(order, np.argsort(key, axis=0, kind="stable"), axis=0)
    kept = np.take_along_axis(keep, order, axis=0)
    order = np.take_along_axis(order, np.argsort(~kept, axis=0, kind="stable"), axis=0)
    srt = np.take_along_axis(vals, np.broadcast_to(order, vals.shape), axis=0)
    kept = np.take_along_axis(keep, order, axis=0)
    same = (srt[:, None] == srt[None, :]).all(axis=-1, keepdims=True)  # (K, K, ..., 1)
    counts = (same & kept[None, :] & kept[:, None]).sum(axis=1)
    first = np.argmax(counts == counts.max(axis=0, keepdims=True), axis=0)  # (Do, Ho, Wo, 1)
    out = np.take_along_axis(srt, np.broadcast_to(first[None], (1,) + srt.shape[1:]), 0)[0]
    none = kept.sum(axis=0) == 0  # no voter: the ignored value if present, else NaN
    if plan.ignore is not None:
        ign_any = ignored.any(axis=0)
        ign_first = np.argmax(ignored, axis=0)
        ign_px = np.take_along_axis(vals, np.broadcast_to(ign_first[None], (1,) + vals.shape[1:]),
                                    0)[0]
        out = np.where(none & ign_any, ign_px, out)
        none = none & ~ign_any
    if plan.dtype.kind == "f":
        out = np.where(none, np.nan, out)
    if plan.nodata is not None:
        out = np.where(_enough(valid, n_in, plan), out, _nodata(plan))
    return out.astype(plan.dtype)


def pool_blurpool(x, plan) -> np.ndarray:
    """Anti-aliased downsampling: the binomial filter (``plan.weights``) over the
    reflect-padded input (``plan.prepare``) at the stride: weighted pooling."""
    return pool_weighted(plan.prepare(x), plan)


def _by_op(x, plan) -> np.ndarray:
    """global and adaptive: the reduction named by the plan's op code."""
    by_op = {OP_MAX: pool_max, OP_MIN: pool_min, OP_AVG: pool_avg, OP_LP: pool_lp}
    return by_op[plan.op](x, plan)


pool_global = _by_op
pool_adaptive = _by_op
pool_fractional = pool_max


def pool(x, plan) -> np.ndarray:
    """The backend entry point: the ``pool_<mode>`` of ``plan.mode``."""
    return globals()["pool_" + plan.mode](x, plan)


def pool_timed(x, plan) -> tuple[np.ndarray, float]:
    """``pool`` and the seconds spent compiling: none, in NumPy."""
    return pool(x, plan), 0.0
