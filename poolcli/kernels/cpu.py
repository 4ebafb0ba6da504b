"""The Numba CPU backend: module-level ``@njit(parallel=True, cache=_CACHE)`` kernels.

One job over 600 lines: the CPU backend's kernels and their dispatch. They stay in one file
because the inlined helpers they share and the kernel cache's key (``kernels._sources_key``)
are per file.

One kernel, ``reduce_windows``, serves every mode: it walks each window's valid
cells (from the geometry's tables) and reduces them with the operation named
by an integer op code. Compilation is lazy (no signature lists): the first run
compiles only the dtype it needs, later runs load it from the cache.

The hot cases (small full windows without padding or dilation: 2x2/s2, 3x3/s2, ..., also
2x2x2 ... across frames; 1 to 4 channels; max, min, avg, lp) go to a second kernel,
``reduce_fixed`` (max and min: ``extreme_fixed``; lp with p = 2 of 8/16-bit integers:
``squares_fixed``), which gives exactly the same numbers.
It walks rows flattened to (W*C,) and gets the window, stride, channel count and op as
*compile-time constants*: each is passed as a tuple whose length is the value
(``_tag(3) == (0, 0, 0)``), so Numba specialises per (window, stride, C, op) lazily and
caches each specialisation, LLVM unrolls the window and channel loops and vectorises the
row with interleaved loads: an order of magnitude faster than the same loops taking those
values at run time (the figures are in benchmarks/README.md).
The unsigned 8- and 16-bit averages of 2, 3, 4, 8, 9 or 27 cells have their own kernel,
``mean_int_fixed``, all in integer lanes (same numbers).

Each backend's ``pool_timed`` returns the seconds it spent compiling (or loading from the
cache) with the result; ``api.run`` puts them in ``Result.compile_seconds``.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
from numba import njit, prange

from ..plan import LP_HUGE, SELECT_OPS
from . import _ops, can_cache, compile_lock, select_fast, window_fast

# the fast paths' kernels as names here too, so that ``_repair_cache`` finds them
from .select_fast import median_rows, mode_2x2, mode_rows  # noqa: F401
from .window_fast import argext_rows, blur_rows, nodata_rows  # noqa: F401

NAME = "cpu"

#: False where no folder is writable (a read-only install): kernels compile in memory each run
_CACHE = can_cache()

# the per-value operations, inlined into the kernels' loop bodies (Numba IR inlining): called
# as separate functions they kept the loops scalar (several times slower: benchmarks/README.md)
_to_output = njit(inline="always")(_ops.to_output)
_power_term = njit(inline="always")(_ops.power_term)
_power_root = njit(inline="always")(_ops.power_root)
_positive = njit(inline="always")(_ops.positive)
_lp_scale = njit(inline="always")(_ops.lp_scale)


@njit(inline="always")
def _to_output_fixed(r, lo, hi, is_int):
    """``_ops.to_output`` for reduce_fixed: the same numbers (clip, then round half to even),
    with np.rint, one instruction on the CPU, for the rounding that ``to_output`` spells out
    in float arithmetic for the CUDA kernels: its ``%`` kept the loop scalar (uint8 RGB
    4096^2 lp 2x2 24.3 -> 10.9 ms, 3x3/s2 215 -> 24 ms on a 2-core EPYC)."""
    if is_int:
        return np.rint(min(max(r, lo), hi))
    return r

MAX, MIN, AVG, LP, MIXED, SOFT, STOCH, WEIGHTED = (
    _ops.MAX, _ops.MIN, _ops.AVG, _ops.LP, _ops.MIXED, _ops.SOFT, _ops.STOCH, _ops.WEIGHTED)


@njit(parallel=True, cache=_CACHE)
def reduce_windows(x, out, idx, tab, steps, op, fparams, alpha, uniform, weights, flags,
                   special):
    """out[od, oh, ow, c] = reduction over the valid cells of window (od, oh, ow) of x[..., c].

    tab[axis] rows: start, lo, hi, total (see geometry.AxisWindows); steps: dilation per axis.
    fparams: p, temperature, value_scale, lo, hi, keep (min_valid's factor). flags:
    include_pad, normalize, is_int, has_nodata, nodata_nan, want_indices, pools_frames.
    special: nodata V, the integer min and max, in out's dtype (``Plan.kernel_args``).
    idx: the chosen cells' flat indices (max/min with want_indices; else a dummy).
    uniform: (Do, Ho, Wo, 1) colour-aligned draws, or (Do, Ho, Wo, C) per channel.
    """
    _, H, W, C = x.shape
    Do, Ho, Wo, _ = out.shape
    p, temp, scale, lim_lo, lim_hi = fparams[0], fparams[1], fparams[2], fparams[3], fparams[4]
    keep = fparams[5]
    include_pad, normalize, is_int = flags[0] != 0, flags[1] != 0, flags[2] != 0
    has_nd, nd_nan, want_idx, frames3 = flags[3] != 0, flags[4] != 0, flags[5] != 0, flags[6] != 0
    ndv, imax = special[0], special[2]
    step_d, step_h, step_w = steps[0], steps[1], steps[2]
    lp_inf = op == LP and p == np.inf
    npass = 2 if (op == SOFT or op == STOCH or (op == LP and not lp_inf)) else 1
    wc = weights.shape[3]
    per_channel = uniform.shape[3] > 1
    for r in prange(Do * Ho):
        od = r // Ho
        oh = r - od * Ho
        sd, lod, hid, tod = tab[0, 0, od], tab[0, 1, od], tab[0, 2, od], tab[0, 3, od]
        sh, loh, hih, toh = tab[1, 0, oh], tab[1, 1, oh], tab[1, 2, oh], tab[1, 3, oh]
        ext = np.empty(C, dtype=x.dtype)  # max (or min) in the input dtype
        acc = np.empty(C, dtype=np.float64)
        acc2 = np.empty(C, dtype=np.float64)  # lp: the factor taken out (_ops.lp_scale)
        top = np.empty(C, dtype=np.float64)  # lp: max |x|
        cnt = np.empty(C, dtype=np.int64)  # valid cells
        best = np.empty(C, dtype=np.int64)  # the chosen cell's flat index (or x's, stochastic)
        for ow in range(Wo):
            sw, low, hiw, tow = tab[2, 0, ow], tab[2, 1, ow], tab[2, 2, ow], tab[2, 3, ow]
            inside = (hid - lod) * (hih - loh) * (hiw - low)
            div = float(tod * toh * tow) if include_pad else float(inside)
            for c in range(C):
                acc[c] = 0.0
                acc2[c] = 0.0
                top[c] = 0.0
                cnt[c] = 0
                best[c] = -1
            total = 0.0
            running = 0.0
            chosen = False
            cz, cy, cx = 0, 0, 0
            for ps in range(npass):
                if op == LP and ps == 1:
                    for c in range(C):
                        acc2[c] = _lp_scale(top[c], p, cnt[c])
                if op == STOCH and per_channel and ps == 1:
                    for c in range(C):
                        best[c] = -1  # the first pass tracked the max there; now: the draw
                for jd in range(lod, hid):
                    z = sd + jd * step_d
                    for jh in range(loh, hih):
                        y = sh + jh * step_h
                        for jw in range(low, hiw):
                            xx = sw + jw * step_w
                            flat = ((z if frames3 else 0) * H + y) * W + xx
                            cell = 0.0  # stochastic: the cell's positive parts, all channels
                            for c in range(C):
                                v = x[z, y, xx, c]
                                if has_nd:
                                    if (v != v) if nd_nan else (v == ndv):
                                        continue  # absent, like padding
                                fv = np.float64(v)
                                if ps == 0:
                                    if op == MIN:
                                        if cnt[c] == 0:
                                            ext[c] = v
                                            best[c] = flat
                                        elif v < ext[c] or v != v:
                                            best[c] = flat  # torch: the last NaN
                                            if ext[c] == ext[c]:  # NaN, once in, stays
                                                ext[c] = v
                                    elif op != AVG and op != LP and op != WEIGHTED:
                                        if cnt[c] == 0:
                                            ext[c] = v
                                            best[c] = flat
                                        elif v > ext[c] or v != v:
                                            best[c] = flat
                                            if ext[c] == ext[c]:
                                                ext[c] = v
                                    elif op == LP:
                                        a = abs(fv)
                                        if a > top[c] or a != a:
                                            if top[c] == top[c]:
                                                top[c] = a
                                    cnt[c] += 1
                                if op == AVG or op == MIXED:
                                    acc[c] += fv
                                elif op == LP and ps == 1:
                                    acc[c] += _power_term(fv / acc2[c], p)
                                elif op == SOFT and ps == 1:
                                    top_s = np.float64(ext[c]) * scale
                                    # the maximum weighs exactly 1 (+inf: not inf - inf), and a
                                    # weight of 0 adds nothing (-inf: not 0 * -inf)
                                    sv = fv * scale
                                    w = 1.0 if sv == top_s else np.exp((sv - top_s) / temp)
                                    acc[c] += w
                                    if w != 0.0:
                                        acc2[c] += w * fv
                                elif op == STOCH and per_channel:
                                    if ps == 0:
                                        acc[c] += _positive(fv)
                                    elif best[c] < 0:
                                        acc2[c] += _positive(fv)
                                        if acc2[c] > uniform[od, oh, ow, c] * acc[c]:
                                            best[c] = (z * H + y) * W + xx
                                elif op == STOCH:
                                    cell += _positive(fv)
                                elif op == WEIGHTED:
                                    wt = weights[jd, jh, jw, c if wc > 1 else 0]
                                    acc[c] += wt * fv
                                    acc2[c] += wt
                            if op == STOCH and not per_channel:  # one cell, all channels
                                if ps == 0:
                                    total += cell
                                else:
                                    running += cell
                                    target = uniform[od, oh, ow, 0] * total
                                    if not chosen and running > target:
                                        chosen = True
                                        cz, cy, cx = z, y, xx
            for c in range(C):
                if has_nd and (cnt[c] == 0 or cnt[c] < keep * inside):
                    out[od, oh, ow, c] = ndv  # too few valid cells
                    if want_idx:
                        idx[od, oh, ow, c] = -1
                    continue
                if want_idx:
                    idx[od, oh, ow, c] = best[c]
                if op == MAX or op == MIN:
                    out[od, oh, ow, c] = ext[c]
                    continue
                if has_nd:  # nodata cells leave the divisor (padding stays with include_pad)
                    div = float(cnt[c] + (tod * toh * tow - inside if include_pad else 0))
                if op == AVG:
                    res = acc[c] / div
                elif op == LP:
                    if lp_inf:
                        res = top[c]
                    else:
                        res = acc2[c] * _power_root(acc[c] / div if normalize else acc[c], p)
                elif op == MIXED:
                    a = alpha[od, oh, ow]
                    if a == 1.0:  # exactly max or avg, also when the other is infinite
                        res = np.float64(ext[c])
                    elif a == 0.0:
                        res = acc[c] / div
                    else:
                        res = a * np.float64(ext[c]) + (1.0 - a) * (acc[c] / div)
                elif op == SOFT:
                    res = acc2[c] / acc[c]
                elif op == STOCH:
                    if per_channel:
                        b = best[c]
                        res = (np.float64(x[b // (H * W), (b // W) % H, b % W, c]) if b >= 0
                               else np.float64(ext[c]))
                    else:
                        res = np.float64(x[cz, cy, cx, c]) if chosen else np.float64(ext[c])
                else:  # WEIGHTED
                    res = acc[c] / acc2[c] if normalize else acc[c]
                res = _to_output(res, lim_lo, lim_hi, is_int)
                if is_int and res >= lim_hi:  # saturate: 2**63 does not convert to int64
                    out[od, oh, ow, c] = imax
                else:
                    out[od, oh, ow, c] = res


_gather = njit(_ops.gather)
_enough = njit(inline="always")(_ops.enough)
_sort_rows = njit(_ops.sort_rows)
_mode_row = njit(_ops.mode_row)
_order_stat = njit(inline="always")(_ops.order_stat)
_lerp = njit(inline="always")(_ops.lerp)
MODE, MEDIAN = _ops.MODE, _ops.MEDIAN


@njit(parallel=True, cache=_CACHE)
def select_windows(x2, out, dims, tab, steps, op, fparams, ignv, flags):
    """mode, median and quantile: gather each window's valid cells, sort them, pick.

    x2: the input as (D*H*W, C) rows; out: (Do, Ho, Wo, C). The arguments after them are
    ``Plan.select_args()``: dims (D, H, W), tab, steps as reduce_windows; fparams: q, nodata,
    min_valid (0: at least one cell), lo, hi; ignv: mode's ignored value in x's dtype;
    flags: is_int, even_mean, has_ignore, has_nodata, nodata_is_nan, cap (the most cells
    of one window). Picks are exact in the input dtype; means and interpolations are float64,
    rounded half to even and clipped for integers.
    """
    C = x2.shape[1]
    Do, Ho, Wo, _ = out.shape
    q, nodata, min_valid = fparams[0], fparams[1], fparams[2]
    lim_lo, lim_hi = fparams[3], fparams[4]
    is_int, even_mean, has_nodata = flags[0] != 0, flags[1] != 0, flags[3] != 0
    for r in prange(Do * Ho):
        od = r // Ho
        oh = r - od * Ho
        buf = np.empty(flags[5], dtype=np.int64)
        for ow in range(Wo):
            if op == MODE:
                n, nans, ign_row, ign_n, inside = _gather(x2, buf, dims, tab, steps, od, oh, ow,
                                                          -1, fparams, ignv, flags)
                if has_nodata and not _enough(n + ign_n, inside, min_valid):
                    for c in range(C):
                        out[od, oh, ow, c] = nodata
                elif n == 0 and ign_row < 0:  # only NaN pixels
                    for c in range(C):
                        out[od, oh, ow, c] = np.nan
                else:
                    if n == 0:
                        row = ign_row
                    else:
                        _sort_rows(x2, buf, n, -1)
                        row = _mode_row(x2, buf, n)
                    for c in range(C):
                        out[od, oh, ow, c] = x2[row, c]
                continue
            for c in range(C):
                n, nans, ign_row, ign_n, inside = _gather(x2, buf, dims, tab, steps, od, oh, ow,
                                                          c, fparams, ignv, flags)
                if has_nodata and not _enough(n + nans, inside, min_valid):
                    out[od, oh, ow, c] = nodata
                    continue
                if nans > 0:
                    out[od, oh, ow, c] = np.nan
                    continue
                _sort_rows(x2, buf, n, c)
                i, kind, t = _order_stat(n, op, q, even_mean)
                a = x2[buf[i], c]
                if kind == 0:
                    out[od, oh, ow, c] = a
                    continue
                b = x2[buf[i + 1], c]
                if a == b:
                    out[od, oh, ow, c] = a
                    continue
                fa, fb = np.float64(a), np.float64(b)
                res = (fa + fb) / 2.0 if kind == 1 else _lerp(fa, fb, t)
                out[od, oh, ow, c] = _to_output(res, lim_lo, lim_hi, is_int)


@njit(inline="always")
def _better(op, e, v):
    """max (MAX) or min (MIN) of the window so far and v, NaN winning (reduce_windows' rule)."""
    # bitwise & and | (not `and`/`or`): no short-circuit branches, so the loop vectorises
    if op == MAX:
        take = ((v > e) | (v != v)) & (e == e)
    else:
        take = ((v < e) | (v != v)) & (e == e)
    return v if take else e


@njit(inline="always")
def _first_row(r, rows_in, rows_out, sd, sh):
    """The first input row of output row r of the (D*H, W*C) views (frames stacked; output
    frame od starts at input frame od * sd)."""
    d = r // rows_out
    return d * sd * rows_in + (r - d * rows_out) * sh


@njit(inline="always")
def _rint_ratio(s, div):
    """round(s / div) half to even for an integer sum s: equal to np.rint(s / div) because s and
    div are exact and s/div is a tie only when it is one exactly."""
    q = s // div
    r2 = 2 * (s - q * div)
    if r2 > div or (r2 == div and q % 2 != 0):
        q += 1
    return q


@njit(inline="always")
def _row_buffer(out, C, SW):
    """The windows at every input column of one output row (the every-column form of the
    fixed-window kernels: contiguous loops that vectorise, then ``_every_sw``)."""
    return np.empty((out.shape[1] // C - 1) * SW * C + C, dtype=out.dtype)


@njit(inline="always")
def _every_sw(o, t, C, SW):
    """o[ow*C + c] = t[SW*C*ow + c]: every SW-th pixel of the windows at every column."""
    for ow in range(o.shape[0] // C):
        for c in range(C):
            o[ow * C + c] = t[SW * C * ow + c]


@njit(parallel=True, cache=_CACHE)
def reduce_fixed(x, out, rows_in, rows_out, kd, kh, kw, sd, sh, sw, chans, optag, inttag, acc0,
                 fparams):
    """The hot windows: full kd x kh x kw windows at stride sd x sh x sw, no padding, no
    dilation (kd = sd = 1: each frame on its own).

    x: (D*H, W*C) and out: (Do*Ho, Wo*C) rows (frames stacked); rows_in = H, rows_out = Ho.
    kd, kh, kw, sd, sh, sw, chans, optag (op + 1), inttag are tuples whose LENGTHS are the
    values, so they are compile-time constants. inttag: 1 float, 2 integer, 3 integer summed
    in float32, 4 integer whose plain lp sum can neither overflow nor underflow (no factoring).
    acc0: the accumulator's zero: float32 for the average of 8- and 16-bit integers (their
    sums of at most 9 cells are below 2**24, so exact, and s/div is within 1/18 of a tie
    only when it is one exactly, so np.rint gives np.rint(s / div) of the reference; 4x
    the SIMD lanes of int64), int64 for wider integers, float64 otherwise.
    fparams: p, normalize, lo, hi (as reduce_windows).
    Sums run over frames, then rows, then columns, in float64 (or exactly in int64), like the
    reference.
    """
    for r in prange(out.shape[0]):
        # the constants are taken inside the loop body: values computed outside a prange
        # reach its body as run-time arguments, and the row would not vectorise
        KD, KH, KW, SD, SH, SW = len(kd), len(kh), len(kw), len(sd), len(sh), len(sw)
        C = len(chans)
        op, is_int, f32sum = len(optag) - 1, len(inttag) >= 2, len(inttag) == 3
        plain = len(inttag) == 4
        y0 = _first_row(r, rows_in, rows_out, SD, SH)
        win = (KD, KH, KW, rows_in)
        o = out[r]
        if not is_int and (C == 4 or (op == AVG and C >= 2 and KH * KW >= 9)):
            # float windows at every input column of the row first (contiguous, so the loop
            # vectorises), then every SW-th pixel of them: measured faster for four channels
            # and for the averages of 3x3 (and larger) windows of 2 or 3 channels (float32
            # RGB 4096^2 3x3/s2 36 -> 19 ms), while the interleaved loop below is the faster
            # one for 2x2 windows, one channel and lp (benchmarks/README.md)
            t = _row_buffer(out, C, SW)
            for k in range(t.shape[0]):
                t[k] = _fixed_value(x, y0, k, win, C, op, is_int, f32sum, plain, acc0, fparams)
            _every_sw(o, t, C, SW)
        else:
            for ow in range(out.shape[1] // C):
                for c in range(C):
                    o[ow * C + c] = _fixed_value(x, y0, SW * C * ow + c, win, C, op, is_int,
                                                 f32sum, plain, acc0, fparams)


@njit(parallel=True, cache=_CACHE)
def extreme_fixed(x, out, rows_in, rows_out, kd, kh, kw, sd, sh, sw, chans, optag, inttag, acc0,
                  fparams):
    """reduce_fixed's max and min (its arguments; inttag, acc0, fparams unused), a kernel of their
    own so that each specialisation compiles only the code it runs (about half the time of
    one kernel for the four ops). Exact in x's dtype."""
    for r in prange(out.shape[0]):
        KD, KH, KW, SD, SH, SW = len(kd), len(kh), len(kw), len(sd), len(sh), len(sw)
        C = len(chans)
        op = len(optag) - 1
        y0 = _first_row(r, rows_in, rows_out, SD, SH)
        win = (KD, KH, KW, rows_in)
        o = out[r]
        if C >= 2 and SW >= 2:
            # as in reduce_fixed: every input column first, then every SW-th pixel (4096^2,
            # 2-core EPYC: float32 RGB 3x3/s2 44 -> 18 ms; uint8 RGB 2x2 ~5 -> ~3 ms, 3x3/s2
            # ~7 -> ~3.4 ms; uint8 RGBA 3x3/s2 25-32 -> 5 ms; uint16 RGBA 3x3/s2 47 -> 8 ms)
            t = _row_buffer(out, C, SW)
            for k in range(t.shape[0]):
                t[k] = _fixed_extreme(x, y0, k, win, C, op)
            _every_sw(o, t, C, SW)
        else:
            for ow in range(out.shape[1] // C):
                for c in range(C):
                    o[ow * C + c] = _fixed_extreme(x, y0, SW * C * ow + c, win, C, op)


@njit(parallel=True, cache=_CACHE)
def squares_fixed(x, out, rows_in, rows_out, kd, kh, kw, sd, sh, sw, chans, optag, inttag, acc0,
                  fparams):
    """reduce_fixed's lp with p = 2 of 8/16-bit integers (its arguments; optag and inttag
    unused): the squares summed exactly in acc0's integer type (int32 for 8 bits, int64 for
    16; the reference's float64 sum is exact for them too: the same number), at every input
    column first where the stride allows, then the root at every SW-th pixel only (uint8 RGB
    4096^2 2x2: 12.5 -> ~8 ms, 3x3/s2 26 -> ~13 ms). A kernel of its own: inside reduce_fixed
    the branch slowed the float32 2x2 average 15 -> 110 ms (measured)."""
    for r in prange(out.shape[0]):
        KD, KH, KW, SD, SH, SW = len(kd), len(kh), len(kw), len(sd), len(sh), len(sw)
        C = len(chans)
        N = KD * KH * KW
        y0 = _first_row(r, rows_in, rows_out, SD, SH)
        win = (KD, KH, KW, rows_in)
        o = out[r]
        if C >= 2 and SW >= 2:
            t = np.empty((out.shape[1] // C - 1) * SW * C + C, dtype=type(acc0))
            for k in range(t.shape[0]):
                t[k] = _fixed_squares(x, y0, k, win, C, acc0)
            for ow in range(out.shape[1] // C):
                for c in range(C):
                    o[ow * C + c] = _squares_out(t[SW * C * ow + c], N, fparams)
        else:
            for ow in range(out.shape[1] // C):
                for c in range(C):
                    o[ow * C + c] = _squares_out(
                        _fixed_squares(x, y0, SW * C * ow + c, win, C, acc0), N, fparams)


@njit(inline="always")
def _fixed_extreme(x, y0, i, win, C, op):
    """max or min of the window whose first cell is column i of row y0, in x's dtype (apart
    from ``_fixed_value``, whose float returns would make Numba unify this one to float64:
    int64 and uint64 beyond 2**53 lost their low bits). win: (KD, KH, KW, rows per frame)."""
    KD, KH, KW, H = win
    e = x[y0, i]
    for jd in range(KD):
        for jh in range(KH):
            row = x[y0 + jd * H + jh]
            for jw in range(KW):
                e = _better(op, e, row[i + jw * C])
    return e


@njit(inline="always")
def _fixed_squares(x, y0, i, win, C, acc0):
    """The sum of the squares of the window whose first cell is column i of row y0, exact in
    acc0's integer type (reduce_fixed's lp of 8/16-bit integers with p = 2)."""
    KD, KH, KW, H = win
    s = acc0
    for jd in range(KD):
        for jh in range(KH):
            row = x[y0 + jd * H + jh]
            for jw in range(KW):
                v = type(acc0)(row[i + jw * C])
                s += v * v
    return s


@njit(inline="always")
def _squares_out(s, N, fparams):
    """An exact integer sum of squares -> lp's output, as ``_fixed_value`` finishes it."""
    f = np.float64(s)
    res = np.sqrt(f / N if fparams[1] != 0.0 else f)
    return _to_output_fixed(res, fparams[2], fparams[3], True)


@njit(inline="always")
def _fixed_value(x, y0, i, win, C, op, is_int, f32sum, plain, acc0, fparams):
    """reduce_fixed's value of the window whose first cell is column i of row y0 (a float64
    for max and min too: the callers take ``_fixed_extreme`` for those, exact in x's dtype)."""
    KD, KH, KW, H = win
    N = KD * KH * KW
    s = acc0
    for jd in range(KD):
        for jh in range(KH):
            row = x[y0 + jd * H + jh]
            for jw in range(KW):
                if op == AVG:
                    s += row[i + jw * C]
                else:
                    s += _power_term(np.float64(row[i + jw * C]), fparams[0])
    if op == AVG and f32sum:
        return np.rint(s / np.float32(N))
    if op == AVG and is_int:
        return _rint_ratio(s, N)
    if op == AVG:
        return s / N
    # lp: the plain sum where it is safe (_ops.lp_scale), else the largest |x| factored out;
    # ``plain``: safe for every window of this dtype (decided once in fast_args), so the
    # loop stays branch-free and vectorises (uint8 RGB 4096^2 2x2: ~10x faster than checking)
    if plain:
        res = _power_root(s / N if fparams[1] != 0.0 else s, fparams[0])
        return _to_output_fixed(res, fparams[2], fparams[3], is_int)
    m = 0.0
    for jd in range(KD):
        for jh in range(KH):
            row = x[y0 + jd * H + jh]
            for jw in range(KW):
                a = abs(np.float64(row[i + jw * C]))
                m = a if (a > m) | (a != a) | (m != m) else m
    f = _lp_scale(m, fparams[0], N)
    if f != 1.0:
        s = 0.0
        for jd in range(KD):
            for jh in range(KH):
                row = x[y0 + jd * H + jh]
                for jw in range(KW):
                    s += _power_term(np.float64(row[i + jw * C]) / f, fparams[0])
    res = f * _power_root(s / N if fparams[1] != 0.0 else s, fparams[0])
    return _to_output_fixed(res, fparams[2], fparams[3], is_int)


@njit(inline="always")
def _log2(n):
    """floor(log2(n)) for n >= 1: the shift of a division by a power of two (a constant in
    mean_int_fixed, where n is a window's cell count, so it folds away)."""
    m = 0
    while n > 1:
        n >>= 1
        m += 1
    return m


def _lp_always_plain(plan, cells: int) -> bool:
    """Whether lp's plain sum is safe for every window of an integer plan: a non-zero |x| is
    at least 1 (so m^p >= LP_TINY) and at most the dtype's largest magnitude M, and
    M^p * cells <= LP_HUGE; then the factoring of _ops.lp_scale never applies."""
    if plan.op != LP or not plan.is_int or not np.isfinite(plan.p):
        return False
    info = np.iinfo(plan.dtype)
    big = float(max(abs(int(info.min)), int(info.max)))
    return plan.p * math.log2(big) + math.log2(cells) <= math.log2(LP_HUGE)


@njit(parallel=True, cache=_CACHE)
def mean_int_fixed(x, out, rows_in, rows_out, kd, kh, kw, sd, sh, sw, chans):
    """reduce_fixed's average for unsigned 8- and 16-bit data over N = kh*kw cells, N a
    power of two (1x2, 2x1, 2x2) or odd (1x3, 3x1, 3x3), in integer lanes only.

    The sum s is exact in uint32. N = 2**m: s / N rounded half to even is
    (s + 2**(m-1) - 1 + ((s >> m) & 1)) >> m. N odd: s / N is never a tie, so it is
    (s + N // 2) // N, a division by a constant that LLVM turns into a multiply: several
    times faster than summing in float32 (benchmarks/README.md). The explicit uint32 casts
    matter: with Numba's default int64 arithmetic the loop is about twice as slow.
    """
    for r in prange(out.shape[0]):
        KD, KH, KW, SD, SH, SW = len(kd), len(kh), len(kw), len(sd), len(sh), len(sw)
        C = len(chans)
        y0 = _first_row(r, rows_in, rows_out, SD, SH)
        win = (KD, KH, KW, rows_in)
        o = out[r]
        if C >= 2 and SW >= 2:
            # the window at every input column first (contiguous, so the loop vectorises
            # without de-interleaving the channels), then every SW-th pixel of them: uint8
            # RGB 4096^2 2x2 ~4.1 -> ~2.8 ms
            t = _row_buffer(out, C, SW)
            for k in range(t.shape[0]):
                t[k] = _mean_int_at(x, y0, k, win, C)
            _every_sw(o, t, C, SW)
        else:
            for ow in range(out.shape[1] // C):
                for c in range(C):
                    o[ow * C + c] = _mean_int_at(x, y0, SW * C * ow + c, win, C)


@njit(inline="always")
def _mean_int_at(x, y0, i, win, C):
    """mean_int_fixed's rounded mean of the window whose first cell is column i of row y0."""
    KD, KH, KW, H = win
    N = KD * KH * KW
    M = _log2(N)  # used only when N is a power of two
    s = np.uint32(0)
    for jd in range(KD):
        for jh in range(KH):
            row = x[y0 + jd * H + jh]
            for jw in range(KW):
                s += np.uint32(row[i + jw * C])
    if N & (N - 1) == 0:
        half = np.uint32((1 << (M - 1)) - 1)
        odd = (s >> np.uint32(M)) & np.uint32(1)
        return (s + half + odd) >> np.uint32(M)
    return (s + np.uint32(N // 2)) // np.uint32(N)


#: the fast path's limits: window and stride per axis up to these, channels up to FAST_MAX_C
FAST_MAX_K, FAST_MAX_S, FAST_MAX_C = 3, 3, 4
FAST_OPS = (MAX, MIN, AVG, LP)


def _tag(n: int) -> tuple:
    """A tuple of length n: a value Numba sees as a compile-time constant (its type)."""
    return (0,) * n


def _full_windows(a, k_max: int, s_max: int):
    """(k, s) when the axis is full windows of k cells at stride s from 0 (no padding,
    no dilation, no partial windows: ``AxisWindows.regular``), within the fast path's
    limits; else None."""
    if a.step != 1 or a.regular is None:
        return None
    k, s, first = a.regular
    if first != 0 or not (1 <= k <= k_max and 1 <= s <= s_max):
        return None
    return k, s


def fast_args(x, out, plan):
    """(kernel, arguments) when the plan is a hot case (reduce_fixed, or mean_int_fixed for
    the unsigned 8- and 16-bit averages of 2, 3, 4, 8, 9 or 27 cells), else None."""
    d, h, w, c = plan.in_shape
    if plan.op not in FAST_OPS or c > FAST_MAX_C or plan.dtype.kind not in "uif":
        return None
    if plan.nodata is not None or plan.return_indices:
        return None  # the generic kernel does those
    if plan.op in (AVG, LP) and plan.is_int and plan.dtype.itemsize == 8:
        return None  # 64-bit sums overflow int64; the generic kernel saturates its stores
    if plan.op == LP and not np.isfinite(plan.p):
        return None
    dd, hh, ww = (_full_windows(a, FAST_MAX_K, FAST_MAX_S) for a in plan.axes)
    if dd is None or hh is None or ww is None or dd == hh == ww == (1, 1):
        return None
    is_int = plan.is_int
    do, ho, wo, _ = out.shape
    rows = (x.reshape(d * h, w * c), out.reshape(do * ho, wo * c), np.int64(h), np.int64(ho),
            _tag(dd[0]), _tag(hh[0]), _tag(ww[0]), _tag(dd[1]), _tag(hh[1]), _tag(ww[1]),
            _tag(c))
    cells = dd[0] * hh[0] * ww[0]
    small_unsigned = plan.dtype.kind == "u" and plan.dtype.itemsize <= 2
    # a power of two or odd (rounding by shift or by a constant divisor); 27 * 65535 < 2**32
    if plan.op == AVG and small_unsigned and cells in (2, 3, 4, 8, 9, 27):
        return mean_int_fixed, rows
    # other 8- and 16-bit averages (signed, or 6 cells) summed in float32 (exact, see
    # reduce_fixed): faster than int64 sums with a general integer rounding
    f32sum = plan.op == AVG and is_int and plan.dtype.itemsize <= 2 and cells <= 9
    # lp with p = 2 of 8/16-bit integers: squares summed in int32 (27 * 128**2 at most for 8
    # bits) or int64 (16 bits), exact
    squares = plan.op == LP and is_int and plan.dtype.itemsize <= 2 and plan.p == 2.0
    if f32sum:
        acc0 = np.float32(0)
    elif squares:
        acc0 = np.int32(0) if plan.dtype.itemsize == 1 else np.int64(0)
    else:
        acc0 = np.int64(0) if (plan.op == AVG and is_int) else np.float64(0.0)
    lo, hi = plan.limits
    fparams = np.array([plan.p, 1.0 if plan.normalize else 0.0, lo, hi], dtype=np.float64)
    tags = (_tag(plan.op + 1), _tag(4 if _lp_always_plain(plan, cells) else
                                   3 if f32sum else 1 + is_int))
    kernel = (extreme_fixed if plan.op in (MAX, MIN) else squares_fixed if squares
              else reduce_fixed)
    return kernel, rows + tags + (acc0, fparams)


@njit(parallel=True, cache=_CACHE)
def _touch(a):
    """A trivial parallel kernel: its first call pays Numba's runtime and thread-pool start."""
    for i in prange(a.shape[0]):
        a[i] += 1


#: whether ``warm`` has run in this process
warmed = False


def warm() -> None:
    """Pay Numba's one-off start-up now (``dispatch.prewarm`` calls it in a background thread)."""
    global warmed
    _touch(np.zeros(2, dtype=np.int64))
    warmed = True


#: argument kinds whose specialisation is known to be compiled (see _ensure_compiled)
_compiled: set = set()


def _kind(a):
    """What Numba's type of ``a`` depends on, cheaply (numba.typeof costs ~3 us an argument)."""
    if isinstance(a, np.ndarray):
        f = a.flags
        return (a.dtype.str, a.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned)
    if isinstance(a, tuple):
        return (tuple, len(a))
    return type(a)


def _ensure_compiled(kernel, args) -> float:
    """Compile (or load from the cache) the specialisation these args need; its seconds."""
    key = (kernel, *map(_kind, args))
    if key in _compiled:
        return 0.0
    sig = tuple(numba.typeof(a) for a in args)
    if sig in kernel.overloads:
        _compiled.add(key)
        return 0.0
    t0 = time.perf_counter()
    try:
        with compile_lock(kernel.py_func.__qualname__, sig):
            kernel.compile(sig)  # after a wait: loaded from the cache another process wrote
    except numba.core.errors.TypingError:
        raise
    except Exception:  # noqa: BLE001 - a damaged cache file (truncated pickle, bad index, ...)
        _repair_cache(flush=True)  # drop the damaged index files; compiling writes them anew
        try:
            kernel.compile(sig)
        except numba.core.errors.TypingError:
            raise
        except Exception:  # noqa: BLE001 - still unreadable or unwritable: compile in memory
            _repair_cache(flush=False)
            kernel.compile(sig)
    _compiled.add(key)
    return time.perf_counter() - t0


def _repair_cache(flush: bool) -> None:
    """The kernel cache is damaged: empty it (``flush``), or stop using it in this process.

    A missing or broken cache costs compile time, never a failed file.
    """
    from numba.core.caching import NullCache

    for obj in list(globals().values()):
        if isinstance(obj, numba.core.dispatcher.Dispatcher):
            if flush:
                try:
                    obj._cache.flush()
                except Exception:  # noqa: BLE001
                    obj._cache = NullCache()
            else:
                obj._cache = NullCache()


def pool_timed(x, plan, *, fast: bool = True) -> tuple[np.ndarray, float]:
    """Pool a C-contiguous (D, H, W, C) array -> (result, seconds spent compiling or loading
    the kernel from the cache; 0 when it was already loaded).

    ``fast=False`` forces the generic kernel (the tests compare the two).
    """
    out = np.empty(plan.out_shape, dtype=plan.dtype)
    idx = None
    # issue 14's fast paths, on the caller's array (blurpool's reflection read in place)
    found = (select_fast.fast_args(x, out, plan) or window_fast.fast_args(x, out, plan)
             if fast else None)
    if found is not None:
        kernel, args, idx = found
    else:
        x = plan.prepare(x)  # blurpool: the reflect-padded input
        chosen = fast_args(x, out, plan) if fast else None
        if chosen is None and plan.op in SELECT_OPS:
            chosen = select_windows, (x.reshape(-1, x.shape[3]), out) + plan.select_args()
        elif chosen is None:
            idx = np.empty(plan.out_shape if plan.return_indices else (1, 1, 1, 1),
                           dtype=np.int64)
            chosen = reduce_windows, (x, out, idx) + plan.kernel_args()
        kernel, args = chosen
    compile_s = _ensure_compiled(kernel, args)
    kernel(*args)
    if plan.return_indices:
        return (out, idx), compile_s
    return out, compile_s


def pool(x, plan, *, fast: bool = True) -> np.ndarray:
    """The backend entry point: pool a C-contiguous (D, H, W, C) array (and the indices,
    ``(out, idx)``, when the plan asks for them)."""
    return pool_timed(x, plan, fast=fast)[0]


# one name per mode, as in every backend
pool_max = pool_min = pool_avg = pool_lp = pool_global = pool_adaptive = pool
pool_fractional = pool_mixed = pool_stochastic = pool_softpool = pool_weighted = pool
pool_mode = pool_median = pool_quantile = pool_blurpool = pool
