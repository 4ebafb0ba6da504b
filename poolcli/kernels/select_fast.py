"""The CPU backend's fast paths for issue 14's modes (mode, median, quantile) on full windows.

``kernels.cpu.pool_timed`` asks ``fast_args(x, out, plan)`` first, as it asks its own
``fast_args`` for max/avg: a plan whose windows are full kh x kw windows at stride sh x sw
(no padding, no dilation, frames not pooled, at most ``MAX_CELLS`` cells, 1 to 4 channels)
gets a kernel here, any other plan the general ``select_windows`` (gather, sort, pick). The
numbers are the same (``reference.pool_mode`` / ``pool_median`` / ``pool_quantile``; the
hypothesis tests in tests/test_select_fast.py compare them).

Both kernels work one output row at a time in "structure of arrays" form: the k-th cell of
every window of the row goes to row k of a small scratch array, then every step is a plain
loop over the row, which LLVM vectorises (no per-window sort, no branches on the data):

- ``median_rows``: a sorting network (Batcher's odd-even merge sort, pruned to the
  comparators that reach the wanted ranks) as compare-exchange passes over the rows; the
  pick, the mean of the two middles or numpy's linear interpolation at the end. NaN in a
  window gives NaN (a flag row), as in the reference.
- ``mode_rows``: each pixel becomes a key (its channels' bits packed, most significant
  first, sign-flipped so that unsigned key order is the channels' lexicographic order; a
  float's bits mapped to an order-preserving integer, -0.0 as 0.0), in one to four 64-bit
  words. Each pair of cells adds its equality to both counts (K*(K-1)/2 passes), then one
  pass per cell keeps the largest count, ties to the smallest key, the first cell of equal
  ones. NaN pixels, nodata pixels and ignored pixels follow DECISIONS.md (as ``_ops.gather``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import _ops, can_cache

_CACHE = can_cache()

_to_output = njit(inline="always")(_ops.to_output)
_lerp = njit(inline="always")(_ops.lerp)
_enough = njit(inline="always")(_ops.enough)

#: the most cells of a window the fast paths take (the scratch rows stay in cache; mode's
#: pair passes grow as K**2)
MAX_CELLS = 25
MODE_MAX_CELLS = 16
MAX_CHANNELS = 4


# --------------------------------------------------------------------------------------------
# sorting networks (plain Python, once per plan)


def batcher_pairs(n: int) -> list[tuple[int, int]]:
    """Batcher's odd-even merge sort comparators for n inputs (a power of two network with the
    comparators touching an index >= n dropped: those inputs act as +inf, never moving)."""
    pairs = []
    size = 1
    while size < n:
        size *= 2
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if (a // (2 * p)) == (b // (2 * p)) and b < n:
                        pairs.append((a, b))
            k //= 2
        p *= 2
    return pairs


def network(n: int, ranks) -> np.ndarray:
    """The comparators of an n-input sorting network that the outputs at ``ranks`` depend on,
    as an (m, 2) int64 array (lower index first: after a pass, row a <= row b)."""
    need = set(ranks)
    kept = []
    for a, b in reversed(batcher_pairs(n)):
        if a in need or b in need:
            kept.append((a, b))
            need.update((a, b))
    kept.reverse()
    return np.array(kept, dtype=np.int64).reshape(-1, 2)


def _tag(n: int) -> tuple:
    """A tuple of length n: a value Numba sees as a compile-time constant (as in ``cpu``)."""
    return (0,) * n


def _full(a, k_max: int):
    """(k, s) when the axis is full windows of k cells at stride s from 0, else None."""
    if a.step != 1 or a.regular is None:
        return None
    k, s, first = a.regular
    return (k, s) if first == 0 and 1 <= k <= k_max and s >= 1 else None


# --------------------------------------------------------------------------------------------
# median and quantile


@njit(parallel=True, cache=_CACHE)
def median_rows(x, out, rows_in, rows_out, kh, kw, sh, sw, chans, net, pick, fparams):
    """out = the order statistic of each full kh x kw window of x, per channel.

    x: (D*H, W*C), out: (D*Ho, Wo*C) (frames stacked); rows_in = H, rows_out = Ho; kh, kw, sh
    int; sw and chans tuples whose lengths are the values (compile-time constants). net: the
    (m, 2) comparators; pick: i, kind (0 the value at rank i, 1 the mean of ranks i and i+1,
    2 lerp with t), as ``_ops.order_stat`` gives for n = kh*kw; fparams: t, lo, hi, is_int.
    """
    K = kh * kw
    L = out.shape[1]
    i0, kind = pick[0], pick[1]
    t, lim_lo, lim_hi, is_int = fparams[0], fparams[1], fparams[2], fparams[3] != 0.0
    for r in prange(out.shape[0]):
        SW, C = len(sw), len(chans)
        d = r // rows_out
        y0 = d * rows_in + (r - d * rows_out) * sh
        s = np.empty((K, L), dtype=x.dtype)
        nan = np.zeros(L, dtype=np.bool_)
        for k in range(K):
            row = x[y0 + k // kw]
            off = (k % kw) * C
            sk = s[k]
            for ow in range(L // C):
                for c in range(C):
                    sk[ow * C + c] = row[SW * C * ow + off + c]
            for j in range(L):
                nan[j] |= sk[j] != sk[j]
        for m in range(net.shape[0]):
            sa, sb = s[net[m, 0]], s[net[m, 1]]
            for j in range(L):
                a, b = sa[j], sb[j]
                lt = b < a
                sa[j] = b if lt else a
                sb[j] = a if lt else b
        o = out[r]
        sa = s[i0]
        if kind == 0:
            for j in range(L):
                o[j] = sa[j]
        else:
            sb = s[i0 + 1]
            for j in range(L):
                a, b = sa[j], sb[j]
                if a == b:
                    o[j] = a
                else:
                    fa, fb = np.float64(a), np.float64(b)
                    res = (fa + fb) / 2.0 if kind == 1 else _lerp(fa, fb, t)
                    o[j] = _to_output(res, lim_lo, lim_hi, is_int)
        for j in range(L):
            if nan[j]:
                o[j] = np.nan


def _frame_windows(plan, max_cells: int):
    """((kh, sh), (kw, sw)) when each frame is pooled on its own by full windows of 2 to
    ``max_cells`` cells, at a column stride of at most 8; else None (a window of one cell has
    nothing to select: the generic kernel, already compiled for the dtype, copies it, where a
    specialisation of these kernels would cost seconds of compiling)."""
    ad, ah, aw = plan.axes
    if ad.step != 1 or ad.regular != (1, 1, 0) or ad.out != plan.in_shape[0]:
        return None
    hh, ww = _full(ah, max_cells), _full(aw, max_cells)
    if hh is None or ww is None or not 2 <= hh[0] * ww[0] <= max_cells or ww[1] > 8:
        return None
    return hh, ww


def median_args(x, out, plan):
    """(median_rows, arguments) for a median/quantile plan on full windows, else None."""
    d, h, w, c = plan.in_shape
    if plan.nodata is not None or c > MAX_CHANNELS or plan.dtype.kind not in "uif":
        return None
    windows = _frame_windows(plan, MAX_CELLS)
    if windows is None:
        return None
    hh, ww = windows
    n = hh[0] * ww[0]
    i, kind, t = _ops.order_stat(n, plan.op, plan.q, plan.even_mean)
    ranks = (i,) if kind == 0 else (i, i + 1)
    lo, hi = plan.limits
    do, ho, wo, _ = out.shape
    return median_rows, (x.reshape(d * h, w * c), out.reshape(do * ho, wo * c), np.int64(h),
                         np.int64(ho), np.int64(hh[0]), np.int64(ww[0]), np.int64(hh[1]),
                         _tag(ww[1]), _tag(c), network(n, ranks),
                         np.array([i, kind], dtype=np.int64),
                         np.array([t, lo, hi, float(plan.is_int)], dtype=np.float64))


# --------------------------------------------------------------------------------------------
# mode


@njit(inline="always")
def _bits(u, fl, sign, mask):
    """A channel's raw bits (u, as uint64) -> an unsigned key with the value's order: signed
    integers get their sign bit flipped; floats become order-preserving (negative: all bits
    flipped; positive: the sign bit set), -0.0 first made +0.0."""
    if fl == 1:
        if u == sign:
            u = np.uint64(0)
        return (u ^ mask) if (u & sign) != np.uint64(0) else (u | sign)
    if fl == 2:
        return u ^ sign
    return u


@njit(parallel=True, cache=_CACHE)
def mode_rows(xu, xv, out, rows_in, rows_out, kh, kw, sh, sw, chans, layout, consts, fparams,
              flags):
    """out = the most frequent pixel of each full kh x kw window (ties: the smallest pixel).

    xu: x's bits as unsigned integers of its itemsize, (D*H, W*C); xv: x itself (NaN tests,
    the copied winners), same shape; out: (D*Ho, Wo*C). layout: per channel its key word and
    shift. consts (uint64): sign bit, value mask, then the nodata and ignored pixels' keys
    (nwords each). fparams: nodata, min_valid (0: at least one). flags: kind (0 unsigned,
    1 float, 2 signed), has_nodata, nodata_nan, has_ignore, nwords.
    """
    K = kh * kw
    Wo = out.shape[1] // len(chans)
    fl, has_nd, nd_nan, has_ign, nw = flags[0], flags[1] != 0, flags[2] != 0, flags[3] != 0, \
        flags[4]
    sign, mask = consts[0], consts[1]
    nodata, min_valid = fparams[0], fparams[1]
    for r in prange(out.shape[0]):
        SW, C = len(sw), len(chans)
        d = r // rows_out
        y0 = d * rows_in + (r - d * rows_out) * sh
        keys = np.zeros((nw, K, Wo), dtype=np.uint64)
        voter = np.ones((K, Wo), dtype=np.int32)  # votes (not NaN, nodata or ignored)
        ign = np.zeros((K, Wo), dtype=np.int32)
        cnt = np.zeros((K, Wo), dtype=np.int32)
        for k in range(K):
            rowu, rowv = xu[y0 + k // kw], xv[y0 + k // kw]
            off = (k % kw) * C
            for c in range(C):
                kw_, sh_ = layout[c, 0], np.uint64(layout[c, 1])
                kk = keys[kw_, k]
                for ow in range(Wo):
                    u = np.uint64(rowu[SW * C * ow + off + c])
                    kk[ow] |= _bits(u, fl, sign, mask) << sh_
            if fl == 1:
                vk = voter[k]
                for c in range(C):
                    for ow in range(Wo):
                        v = rowv[SW * C * ow + off + c]
                        if v != v:
                            vk[ow] = 0
            if has_nd and not nd_nan:
                vk = voter[k]
                for ow in range(Wo):
                    same = True
                    for w in range(nw):
                        same &= keys[w, k, ow] == consts[2 + w]
                    if same:
                        vk[ow] = 0
            if has_ign:
                vk, ik = voter[k], ign[k]
                for ow in range(Wo):
                    same = vk[ow] != 0
                    for w in range(nw):
                        same &= keys[w, k, ow] == consts[2 + nw + w]
                    if same:
                        ik[ow] = 1
        nvalid = np.zeros(Wo, dtype=np.int32)
        for k in range(K):
            vk, ik, ck = voter[k], ign[k], cnt[k]
            for ow in range(Wo):
                nvalid[ow] += vk[ow]
                vk[ow] &= 1 - ik[ow]
                ck[ow] = vk[ow]
        eq = np.empty(Wo, dtype=np.int32)
        for a in range(K):
            for b in range(a + 1, K):
                va, vb = voter[a], voter[b]
                for ow in range(Wo):
                    eq[ow] = va[ow] & vb[ow]
                for w in range(nw):
                    ka, kb = keys[w, a], keys[w, b]
                    for ow in range(Wo):
                        eq[ow] &= np.int32(ka[ow] == kb[ow])
                ca, cb = cnt[a], cnt[b]
                for ow in range(Wo):
                    ca[ow] += eq[ow]
                    cb[ow] += eq[ow]
        # the winner: the largest count, then the smallest key; the first cell of equal keys
        best = np.zeros(Wo, dtype=np.int32)  # its count (0: no voter yet)
        win = np.full(Wo, -1, dtype=np.int32)
        bkey = np.zeros((nw, Wo), dtype=np.uint64)
        lt = np.empty(Wo, dtype=np.int32)
        eqs = np.empty(Wo, dtype=np.int32)
        for k in range(K):
            ck = cnt[k]
            for ow in range(Wo):
                lt[ow] = 0
                eqs[ow] = 1
            for w in range(nw):
                kk, bw = keys[w, k], bkey[w]
                for ow in range(Wo):
                    lt[ow] |= eqs[ow] & np.int32(kk[ow] < bw[ow])
                    eqs[ow] &= np.int32(kk[ow] == bw[ow])
            for ow in range(Wo):
                take = (ck[ow] > best[ow]) | ((ck[ow] == best[ow]) & (ck[ow] > 0) & (lt[ow] != 0))
                lt[ow] = take
                best[ow] = ck[ow] if take else best[ow]
                win[ow] = k if take else win[ow]
            for w in range(nw):
                kk, bw = keys[w, k], bkey[w]
                for ow in range(Wo):
                    bw[ow] = kk[ow] if lt[ow] != 0 else bw[ow]
        o = out[r]
        for ow in range(Wo):
            k = win[ow]
            if has_nd and not _enough(nvalid[ow], K, min_valid):
                for c in range(C):
                    o[ow * C + c] = nodata
                continue
            if k < 0:  # no voter: the first ignored pixel, else NaN
                for kk_ in range(K):
                    if ign[kk_, ow] != 0:
                        k = kk_
                        break
            if k < 0:
                for c in range(C):
                    o[ow * C + c] = np.nan
                continue
            rowv = xv[y0 + k // kw]
            base = SW * C * ow + (k % kw) * C
            for c in range(C):
                o[ow * C + c] = rowv[base + c]


@njit(inline="always")
def _ch(row, i, c, C):
    """Channel c of the pixel at column i (the last channel again past C: never used)."""
    return row[i + (c if c < C else C - 1)]


@njit(inline="always")
def _same(a0, a1, a2, a3, b0, b1, b2, b3, C):
    """Whether pixels a and b (the first C channels) are equal."""
    e = a0 == b0
    if C > 1:
        e = e & (a1 == b1)
    if C > 2:
        e = e & (a2 == b2)
    if C > 3:
        e = e & (a3 == b3)
    return e


@njit(inline="always")
def _less(a0, a1, a2, a3, b0, b1, b2, b3, C):
    """Whether pixel a comes before pixel b (channel 0 first)."""
    lt = a0 < b0
    eq = a0 == b0
    if C > 1:
        lt = lt | (eq & (a1 < b1))
        eq = eq & (a1 == b1)
    if C > 2:
        lt = lt | (eq & (a2 < b2))
        eq = eq & (a2 == b2)
    if C > 3:
        lt = lt | (eq & (a3 < b3))
    return lt


@njit(inline="always")
def _min(a, b):
    return a if a < b else b


@njit(inline="always")
def _max(a, b):
    return b if a < b else a


@njit(parallel=True, cache=_CACHE)
def mode_2x2(x, out, rows_in, rows_out, sh, sw, chans):
    """The plain 2x2 mode of integer pixels (no nodata, no ignored value): each window's four
    pixels a, b, c, d counted against each other (six comparisons), then a tournament in
    scan order (a larger count wins, an equal count goes to the smaller pixel). x: (D*H,
    W*C), out: (D*Ho, Wo*C); sw and chans tuples whose lengths are the values. Written out
    in scalars (tuples of channels in the parallel loop trip Numba's array analysis)."""
    for r in prange(out.shape[0]):
        SW, C = len(sw), len(chans)
        fr = r // rows_out
        y0 = fr * rows_in + (r - fr * rows_out) * sh
        r0, r1, o = x[y0], x[y0 + 1], out[r]
        if C == 1:
            # one channel: the smallest value that appears twice (a pair; with two pairs the
            # smaller; a triple's value is its pairs'), else the smallest of the four; all in
            # the input dtype, branch-free, so the row vectorises
            for ow in range(out.shape[1]):
                i = SW * ow
                a, b, c, e = r0[i], r0[i + 1], r1[i], r1[i + 1]
                m = _min(_min(a, b), _min(c, e))
                top = _max(_max(a, b), _max(c, e))
                pair = _min(_min(a if a == b else top, a if a == c else top),
                            _min(a if a == e else top, b if b == c else top))
                pair = _min(pair, _min(b if b == e else top, c if c == e else top))
                anyp = (a == b) | (a == c) | (a == e) | (b == c) | (b == e) | (c == e)
                o[ow] = pair if anyp else m
            continue
        for ow in range(out.shape[1] // C):
            i = SW * C * ow
            j = i + C
            a0, a1, a2, a3 = _ch(r0, i, 0, C), _ch(r0, i, 1, C), _ch(r0, i, 2, C), _ch(r0, i, 3, C)
            b0, b1, b2, b3 = _ch(r0, j, 0, C), _ch(r0, j, 1, C), _ch(r0, j, 2, C), _ch(r0, j, 3, C)
            c0, c1, c2, c3 = _ch(r1, i, 0, C), _ch(r1, i, 1, C), _ch(r1, i, 2, C), _ch(r1, i, 3, C)
            d0, d1, d2, d3 = _ch(r1, j, 0, C), _ch(r1, j, 1, C), _ch(r1, j, 2, C), _ch(r1, j, 3, C)
            ab = np.int32(_same(a0, a1, a2, a3, b0, b1, b2, b3, C))
            ac = np.int32(_same(a0, a1, a2, a3, c0, c1, c2, c3, C))
            ad = np.int32(_same(a0, a1, a2, a3, d0, d1, d2, d3, C))
            bc = np.int32(_same(b0, b1, b2, b3, c0, c1, c2, c3, C))
            bd = np.int32(_same(b0, b1, b2, b3, d0, d1, d2, d3, C))
            cd = np.int32(_same(c0, c1, c2, c3, d0, d1, d2, d3, C))
            wn = ab + ac + ad
            w0, w1, w2, w3 = a0, a1, a2, a3
            n = ab + bc + bd
            t = (n > wn) | ((n == wn) & _less(b0, b1, b2, b3, w0, w1, w2, w3, C))
            w0, w1, w2, w3 = (b0 if t else w0), (b1 if t else w1), (b2 if t else w2), \
                (b3 if t else w3)
            wn = n if t else wn
            n = ac + bc + cd
            t = (n > wn) | ((n == wn) & _less(c0, c1, c2, c3, w0, w1, w2, w3, C))
            w0, w1, w2, w3 = (c0 if t else w0), (c1 if t else w1), (c2 if t else w2), \
                (c3 if t else w3)
            wn = n if t else wn
            n = ad + bd + cd
            t = (n > wn) | ((n == wn) & _less(d0, d1, d2, d3, w0, w1, w2, w3, C))
            w0, w1, w2, w3 = (d0 if t else w0), (d1 if t else w1), (d2 if t else w2), \
                (d3 if t else w3)
            o[ow * C] = w0
            if C > 1:
                o[ow * C + 1] = w1
            if C > 2:
                o[ow * C + 2] = w2
            if C > 3:
                o[ow * C + 3] = w3


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _pixel_key(values, dtype: np.dtype, layout, nwords: int) -> list[int]:
    """The key words of a pixel whose every channel is ``values`` (nodata, ignore), computed
    as the kernel does (``_bits``) but in Python."""
    bits = np.array([values], dtype=dtype).view(_UNSIGNED[dtype.itemsize])[0]
    u = int(bits)
    nb = 8 * dtype.itemsize
    sign, mask = 1 << (nb - 1), (1 << nb) - 1
    if dtype.kind == "f":
        u = 0 if u == sign else u
        u = (u ^ mask) if u & sign else (u | sign)
    elif dtype.kind == "i":
        u ^= sign
    words = [0] * nwords
    for c in range(layout.shape[0]):
        words[layout[c, 0]] |= u << int(layout[c, 1])
    return words


def mode_args(x, out, plan):
    """(mode_rows, arguments) for a mode plan on full windows, else None."""
    d, h, w, c = plan.in_shape
    dt = plan.dtype
    if c > MAX_CHANNELS or dt.kind not in "uif" or dt.itemsize not in _UNSIGNED:
        return None
    windows = _frame_windows(plan, MODE_MAX_CELLS)
    if windows is None:
        return None
    hh, ww = windows
    do, ho, wo, _ = out.shape
    x2, out2 = x.reshape(d * h, w * c), out.reshape(do * ho, wo * c)
    if (dt.kind in "ui" and hh[0] == 2 and ww[0] == 2 and plan.nodata is None
            and plan.ignore is None):
        return mode_2x2, (x2, out2, np.int64(h), np.int64(ho), np.int64(hh[1]), _tag(ww[1]),
                          _tag(c))
    b = dt.itemsize
    per = 8 // b  # channels per 64-bit word, the first channel in the most significant bits
    nwords = -(-c // per)
    layout = np.array([(ch // per, 8 * b * (per - 1 - ch % per)) for ch in range(c)],
                      dtype=np.int64)
    nb = 8 * b
    kind = 1 if dt.kind == "f" else 2 if dt.kind == "i" else 0
    nd = plan.nodata
    from ..plan import _in_dtype

    ign = _in_dtype(plan.ignore, dt)
    nd_key = _pixel_key(nd, dt, layout, nwords) if nd is not None and nd == nd else [0] * nwords
    ign_key = _pixel_key(ign, dt, layout, nwords) if ign is not None else [0] * nwords
    consts = np.array([1 << (nb - 1), (1 << nb) - 1, *nd_key, *ign_key], dtype=np.uint64)
    flags = np.array([kind, nd is not None, nd is not None and nd != nd, ign is not None,
                      nwords], dtype=np.int64)
    fparams = np.array([0.0 if nd is None else float(nd), plan.min_valid or 0.0])
    return mode_rows, (x2.view(_UNSIGNED[b]), x2, out2, np.int64(h),
                       np.int64(ho), np.int64(hh[0]), np.int64(ww[0]), np.int64(hh[1]),
                       _tag(ww[1]), _tag(c), layout, consts, fparams, flags)


def fast_args(x, out, plan):
    """(kernel, arguments, None) for a selection plan (mode, median, quantile) on full
    windows, or None (then ``select_windows`` does it)."""
    from ..plan import OP_MODE, SELECT_OPS

    if x.shape != tuple(plan.in_shape) or not x.flags.c_contiguous:
        return None
    if plan.op == OP_MODE:
        found = mode_args(x, out, plan)
    elif plan.op in SELECT_OPS:
        found = median_args(x, out, plan)
    else:
        return None
    return None if found is None else (*found, None)
