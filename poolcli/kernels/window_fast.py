"""The CPU backend's fast paths for blurpool, nodata averages and max/min with indices.

``kernels.cpu.pool_timed`` asks ``fast_args(x, out, plan)`` before the generic
``reduce_windows`` (which walks the geometry's tables cell by cell, an order of magnitude
slower). Each kernel takes full windows only (no padding, no dilation, frames not pooled;
blurpool's reflect padding is read through index tables instead of a padded copy) and gives
the reference's numbers exactly (tests/test_fast_paths.py):

- ``blur_rows``: blurpool. Integers of at most 16 bits: the binomial taps as integers, the
  sum exact in int32 and divided by 2**(2(F-1)) rounded half to even with shifts (the
  reference's float64 sum is exact there too, so the same number). Floats: the float64 sum
  of w * v in the reference's order (rows, then columns).
- ``nodata_rows``: avg with nodata (a value, or NaN): the float64 sum and count of the valid
  cells, min_valid's rule, V where too few (DECISIONS.md).
- ``argext_rows``: max or min with return_indices: torch's CPU rule (ties to the first cell,
  NaN to the last NaN, ``_ops`` / DECISIONS.md), branch-free.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..plan import OP_AVG, OP_MAX, OP_MIN
from . import _ops, can_cache

_CACHE = can_cache()
_to_output = njit(inline="always")(_ops.to_output)

MAX_CELLS = 25
MAX_CHANNELS = 4


def _tag(n: int) -> tuple:
    """A tuple of length n: a compile-time constant for Numba (as in ``cpu``)."""
    return (0,) * n


def _plain_frames(plan) -> bool:
    ad = plan.axes[0]
    return ad.step == 1 and ad.regular == (1, 1, 0) and ad.out == plan.in_shape[0]


def _full(a, k_max: int = MAX_CELLS):
    if a.step != 1 or a.regular is None:
        return None
    k, s, first = a.regular
    return (k, s) if first == 0 and 1 <= k <= k_max and 1 <= s <= 8 else None


# --------------------------------------------------------------------------------------------
# blurpool


@njit(parallel=True, cache=_CACHE)
def blur_rows(x, out, rows, cols, lo, hi, ftag, sw, chans, taps, wts, shift, fparams):
    """out[r, ow*C + c] = sum over jh, jw of w[jh, jw] * x[rows[r, jh], cols[ow, jw]*C + c].

    x: (D*H, W*C) unpadded; rows: (D*Ho, F) input rows (reflected); cols: (Wo, F) input
    columns (reflected), used for ow < lo and ow >= hi; in between column SW*ow - B + jw
    (B = SW*lo - cols[lo, 0]). ftag, sw, chans: tuples whose lengths are F, the stride and
    the channels (compile-time constants: the taps unroll and the row vectorises). taps: the
    F integer binomial taps (int32) and shift = 2(F-1) when the integer path applies (shift
    >= 0), else -1 and wts (F*F float64, the reference's weights, summed in its order).
    fparams: lo, hi, is_int (``_ops.to_output``).
    """
    Wo = cols.shape[0]
    for r in prange(out.shape[0]):
        F, SW, C = len(ftag), len(sw), len(chans)
        o = out[r]
        base = cols[lo, 0] - SW * lo if lo < hi else 0
        y0 = rows[r, 0]
        # a row whose taps are F consecutive input rows (all but the reflected ones at the
        # ends): rows as y0 + jh and taps as constants, so nothing is reloaded per value
        # and the loop vectorises
        inner = rows[r, F - 1] - y0 == F - 1
        if inner and shift >= 0:
            for ow in range(lo, hi):
                for c in range(C):
                    i = (SW * ow + base) * C + c
                    s = np.int32(0)
                    for jh in range(F):
                        row = x[y0 + jh]
                        t = np.int32(0)
                        for jw in range(F):
                            t += np.int32(_binom(F - 1, jw)) * np.int32(row[i + jw * C])
                        s += np.int32(_binom(F - 1, jh)) * t
                    o[ow * C + c] = _shift_round(s, shift)
        elif inner:
            scale = 1.0 / np.float64(4 ** (F - 1))
            for ow in range(lo, hi):
                for c in range(C):
                    i = (SW * ow + base) * C + c
                    acc = 0.0
                    for jh in range(F):
                        row = x[y0 + jh]
                        for jw in range(F):
                            wt = np.float64(_binom(F - 1, jh) * _binom(F - 1, jw)) * scale
                            acc += wt * np.float64(row[i + jw * C])
                    o[ow * C + c] = _to_output(acc, fparams[0], fparams[1], fparams[2] != 0.0)
        for ow in range(Wo):  # the reflected columns at both ends (and reflected rows)
            if inner and lo <= ow < hi:
                continue
            for c in range(C):
                if shift >= 0:
                    s = np.int32(0)
                    for jh in range(F):
                        row = x[rows[r, jh]]
                        t = np.int32(0)
                        for jw in range(F):
                            t += taps[jw] * np.int32(row[cols[ow, jw] * C + c])
                        s += taps[jh] * t
                    o[ow * C + c] = _shift_round(s, shift)
                else:
                    acc = 0.0
                    for jh in range(F):
                        row = x[rows[r, jh]]
                        for jw in range(F):
                            acc += wts[jh * F + jw] * np.float64(row[cols[ow, jw] * C + c])
                    o[ow * C + c] = _to_output(acc, fparams[0], fparams[1], fparams[2] != 0.0)


@njit(inline="always")
def _binom(n, k):
    """C(n, k) (n <= 6): a constant once the taps' loops unroll."""
    r = 1
    for j in range(k):
        r = r * (n - j) // (j + 1)
    return r


@njit(inline="always")
def _shift_round(s, m):
    """s / 2**m rounded half to even (floor shifts, so negative sums too); m = 0: s."""
    if m == 0:
        return s
    half = np.int32((1 << (m - 1)) - 1)
    return (s + half + ((s >> np.int32(m)) & np.int32(1))) >> np.int32(m)


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    """numpy's "reflect" padding index (no edge repeat), for -n < i < 2n - 1."""
    i = np.abs(i)
    return np.where(i >= n, 2 * (n - 1) - i, i)


def blur_args(x, out, plan):
    if plan.reflect is None or plan.weights is None or not _plain_frames(plan):
        return None
    d, h, w, c = plan.in_shape
    if c > MAX_CHANNELS or plan.dtype.kind not in "uif" or plan.nodata is not None:
        return None
    _, ah, aw = plan.axes
    hh, ww = _full(ah, 7), _full(aw, 7)
    if hh is None or ww is None or hh[0] != ww[0] or hh[0] < 2:
        return None  # filter size 1 (a plain subsampling): the generic kernel
    f, sh, sw = hh[0], hh[1], ww[1]
    t, _, left, _ = plan.reflect
    if max(plan.reflect[:2]) >= h or max(plan.reflect[2:]) >= w:
        return None  # a reflection longer than the image: the generic path (numpy.pad)
    if plan.is_int and plan.dtype.itemsize == 8:
        return None  # the generic kernel's saturating stores
    do, ho, wo, _ = out.shape
    rows1 = _reflect(np.arange(ho)[:, None] * sh + np.arange(f)[None, :] - t, h)
    rows = (np.arange(d)[:, None, None] * h + rows1[None]).reshape(d * ho, f).astype(np.int64)
    cols = _reflect(np.arange(wo)[:, None] * sw + np.arange(f)[None, :] - left, w)
    inner = [o for o in range(wo) if o * sw - left >= 0 and o * sw - left + f - 1 < w]
    lo, hi = (inner[0], inner[-1] + 1) if inner else (0, 0)
    from math import comb

    taps = np.array([comb(f - 1, j) for j in range(f)], dtype=np.int32)
    small_int = plan.is_int and plan.dtype.itemsize <= 2
    shift = 2 * (f - 1) if small_int else -1
    lim = plan.limits
    return blur_rows, (x.reshape(d * h, w * c), out.reshape(do * ho, wo * c), rows,
                       cols.astype(np.int64), np.int64(lo), np.int64(hi), _tag(f), _tag(sw),
                       _tag(c),
                       taps, np.ascontiguousarray(plan.weights[0, :, :, 0]).reshape(-1),
                       np.int64(shift),
                       np.array([lim[0], lim[1], float(plan.is_int)], dtype=np.float64)), None


# --------------------------------------------------------------------------------------------
# avg with nodata


@njit(parallel=True, cache=_CACHE)
def nodata_rows(x, out, rows_in, rows_out, kh, kw, sh, sw, chans, fparams, special):
    """The average of the valid cells of each full kh x kw window, per channel.

    x: (D*H, W*C), out: (D*Ho, Wo*C); kh, kw, sw, chans tuples (compile-time constants).
    fparams: keep (min_valid's factor, 0: at least one), lo, hi, is_int, nodata_nan;
    special: [V] in out's dtype (the value stored where too few cells are valid).
    """
    keep, lim_lo, lim_hi = fparams[0], fparams[1], fparams[2]
    is_int, nd_nan = fparams[3] != 0.0, fparams[4] != 0.0
    ndv = special[0]
    for r in prange(out.shape[0]):
        KH, KW, SW, C = len(kh), len(kw), len(sw), len(chans)
        fr = r // rows_out
        y0 = fr * rows_in + (r - fr * rows_out) * sh
        o = out[r]
        for ow in range(out.shape[1] // C):
            for c in range(C):
                i = SW * C * ow + c
                s = 0.0
                n = 0
                for jh in range(KH):
                    row = x[y0 + jh]
                    for jw in range(KW):
                        v = row[i + jw * C]
                        ok = (v == v) if nd_nan else (v != ndv)
                        s += np.float64(v) if ok else 0.0
                        n += 1 if ok else 0
                good = (n > 0) & (n >= keep * (KH * KW))
                m = s / max(n, 1)
                # integers: the mean of in-range values needs no clipping, and np.rint (half
                # to even) vectorises where _to_output's float remainder does not
                res = np.rint(m) if is_int else _to_output(m, lim_lo, lim_hi, is_int)
                o[ow * C + c] = res if good else ndv


def nodata_args(x, out, plan):
    if (plan.op != OP_AVG or plan.mode not in ("avg",) or plan.nodata is None
            or plan.return_indices or not _plain_frames(plan)):
        return None
    d, h, w, c = plan.in_shape
    if c > MAX_CHANNELS or plan.dtype.kind not in "uif":
        return None
    if plan.is_int and plan.dtype.itemsize == 8:
        return None  # the generic kernel's saturating stores
    _, ah, aw = plan.axes
    hh, ww = _full(ah, 5), _full(aw, 5)
    if hh is None or ww is None:
        return None
    do, ho, wo, _ = out.shape
    lo, hi = plan.limits
    fparams = np.array([plan.keep_threshold(), lo, hi, float(plan.is_int),
                        float(plan.nodata_nan)], dtype=np.float64)
    return nodata_rows, (x.reshape(d * h, w * c), out.reshape(do * ho, wo * c), np.int64(h),
                         np.int64(ho), _tag(hh[0]), _tag(ww[0]), np.int64(hh[1]), _tag(ww[1]),
                         _tag(c), fparams, plan.special()[:1]), None


# --------------------------------------------------------------------------------------------
# max / min with indices


@njit(parallel=True, cache=_CACHE)
def argext_rows(x, out, idx, rows_in, rows_out, width, kh, kw, sh, sw, chans, optag):
    """max (optag length 1) or min (2) of each full window with the flat index h*W + w of the
    chosen cell in its channel's plane: ties to the first cell, NaN to the last NaN.

    x: (D*H, W*C), out and idx: (D*Ho, Wo*C); kh, kw, sw, chans tuples."""
    for r in prange(out.shape[0]):
        KH, KW, SW, C = len(kh), len(kw), len(sw), len(chans)
        is_min = len(optag) == 2
        fr = r // rows_out
        yy = (r - fr * rows_out) * sh  # the row within the frame
        y0 = fr * rows_in + yy
        o, ix = out[r], idx[r]
        for ow in range(out.shape[1] // C):
            for c in range(C):
                i = SW * C * ow + c
                e = x[y0, i]
                b = np.int64(yy * width + SW * ow)
                for jh in range(KH):
                    row = x[y0 + jh]
                    for jw in range(KW):
                        if jh + jw > 0:
                            v = row[i + jw * C]
                            better = (v < e) if is_min else (v > e)
                            take = better | (v != v)
                            b = np.int64((yy + jh) * width + SW * ow + jw) if take else b
                            # a NaN e stays: only a NaN v is taken then (v > NaN is False)
                            e = v if take else e
                o[ow * C + c] = e
                ix[ow * C + c] = b


def argext_args(x, out, plan):
    if (not plan.return_indices or plan.op not in (OP_MAX, OP_MIN) or plan.nodata is not None
            or plan.mode not in ("max", "min") or plan.pools_frames):
        return None
    d, h, w, c = plan.in_shape
    if c > MAX_CHANNELS or plan.dtype.kind not in "uif":
        return None
    _, ah, aw = plan.axes
    hh, ww = _full(ah, 5), _full(aw, 5)
    if hh is None or ww is None:
        return None
    do, ho, wo, _ = out.shape
    idx = np.empty(out.shape, dtype=np.int64)
    return argext_rows, (x.reshape(d * h, w * c), out.reshape(do * ho, wo * c),
                         idx.reshape(do * ho, wo * c), np.int64(h), np.int64(ho), np.int64(w),
                         _tag(hh[0]), _tag(ww[0]), np.int64(hh[1]), _tag(ww[1]), _tag(c),
                         _tag(1 if plan.op == OP_MAX else 2)), idx


def fast_args(x, out, plan):
    """(kernel, arguments, indices array or None) for a plan one of these kernels takes, on
    the caller's (unpadded) C-contiguous (D, H, W, C) array; else None."""
    if x.shape != tuple(plan.in_shape) or not x.flags.c_contiguous:
        return None
    if plan.reflect is not None:
        return blur_args(x, out, plan)
    if plan.return_indices:
        return argext_args(x, out, plan)
    if plan.nodata is not None:
        return nodata_args(x, out, plan)
    return None
