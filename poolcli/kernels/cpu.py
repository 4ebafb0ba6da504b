"""The Numba CPU backend: module-level ``@njit(parallel=True, cache=True)`` kernels.

One kernel, ``reduce_windows``, serves every mode: it walks each window's valid
cells (from the geometry's tables) and reduces them with the operation named
by an integer op code. Compilation is lazy (no signature lists): the first run
compiles only the dtype it needs, later runs load it from the cache.
"""

from __future__ import annotations

import time

import numba
import numpy as np
from numba import njit, prange

from . import _ops

NAME = "cpu"

to_output = njit(cache=True)(_ops.to_output)
power_term = njit(cache=True)(_ops.power_term)
power_root = njit(cache=True)(_ops.power_root)
positive = njit(cache=True)(_ops.positive)

MAX, MIN, AVG, LP, MIXED, SOFT, STOCH, WEIGHTED = (
    _ops.MAX, _ops.MIN, _ops.AVG, _ops.LP, _ops.MIXED, _ops.SOFT, _ops.STOCH, _ops.WEIGHTED)


@njit(parallel=True, cache=True)
def reduce_windows(x, out, tab, steps, op, fparams, alpha, uniform, weights, flags):
    """out[od, oh, ow, c] = reduction over the valid cells of window (od, oh, ow) of x[..., c].

    tab[axis] rows: start, lo, hi, total (see geometry.AxisWindows); steps: dilation per axis.
    fparams: p, temperature, value_scale, lo, hi. flags: include_pad, normalize, is_int.
    """
    _, _, _, C = x.shape
    Do, Ho, Wo, _ = out.shape
    p, temp, scale, lim_lo, lim_hi = fparams[0], fparams[1], fparams[2], fparams[3], fparams[4]
    include_pad, normalize, is_int = flags[0] != 0, flags[1] != 0, flags[2] != 0
    step_d, step_h, step_w = steps[0], steps[1], steps[2]
    npass = 2 if (op == SOFT or op == STOCH) else 1
    wc = weights.shape[3]
    for r in prange(Do * Ho):
        od = r // Ho
        oh = r - od * Ho
        sd, lod, hid, tod = tab[0, 0, od], tab[0, 1, od], tab[0, 2, od], tab[0, 3, od]
        sh, loh, hih, toh = tab[1, 0, oh], tab[1, 1, oh], tab[1, 2, oh], tab[1, 3, oh]
        ext = np.empty(C, dtype=x.dtype)  # max (or min) in the input dtype
        acc = np.empty(C, dtype=np.float64)
        acc2 = np.empty(C, dtype=np.float64)
        pick = np.empty(C, dtype=np.float64)
        picked = np.empty(C, dtype=np.bool_)
        for ow in range(Wo):
            sw, low, hiw, tow = tab[2, 0, ow], tab[2, 1, ow], tab[2, 2, ow], tab[2, 3, ow]
            if include_pad:
                div = float(tod * toh * tow)
            else:
                div = float((hid - lod) * (hih - loh) * (hiw - low))
            z0, y0, x0 = sd + lod * step_d, sh + loh * step_h, sw + low * step_w
            for c in range(C):
                ext[c] = x[z0, y0, x0, c]
                acc[c] = 0.0
                acc2[c] = 0.0
                picked[c] = False
            for ps in range(npass):
                for jd in range(lod, hid):
                    z = sd + jd * step_d
                    for jh in range(loh, hih):
                        y = sh + jh * step_h
                        for jw in range(low, hiw):
                            xx = sw + jw * step_w
                            for c in range(C):
                                v = x[z, y, xx, c]
                                if op == MAX or op == MIXED or ((op == SOFT or op == STOCH) and ps == 0):
                                    if v > ext[c] or v != v:
                                        if ext[c] == ext[c]:  # NaN, once in, stays
                                            ext[c] = v
                                elif op == MIN:
                                    if v < ext[c] or v != v:
                                        if ext[c] == ext[c]:
                                            ext[c] = v
                                fv = np.float64(v)
                                if op == AVG or op == MIXED:
                                    acc[c] += fv
                                elif op == LP:
                                    acc[c] += power_term(fv, p)
                                elif op == SOFT and ps == 1:
                                    w = np.exp((fv * scale - np.float64(ext[c]) * scale) / temp)
                                    acc[c] += w
                                    acc2[c] += w * fv
                                elif op == STOCH:
                                    if ps == 0:
                                        acc[c] += positive(fv)
                                    else:
                                        acc2[c] += positive(fv)
                                        if not picked[c] and acc2[c] > uniform[od, oh, ow, c] * acc[c]:
                                            pick[c] = fv
                                            picked[c] = True
                                elif op == WEIGHTED:
                                    wt = weights[jd, jh, jw, c if wc > 1 else 0]
                                    acc[c] += wt * fv
                                    acc2[c] += wt
            for c in range(C):
                if op == MAX or op == MIN:
                    out[od, oh, ow, c] = ext[c]
                    continue
                if op == AVG:
                    res = acc[c] / div
                elif op == LP:
                    res = power_root(acc[c] / div if normalize else acc[c], p)
                elif op == MIXED:
                    a = alpha[od, oh, ow]
                    res = a * np.float64(ext[c]) + (1.0 - a) * (acc[c] / div)
                elif op == SOFT:
                    res = acc2[c] / acc[c]
                elif op == STOCH:
                    res = pick[c] if picked[c] else np.float64(ext[c])
                else:  # WEIGHTED
                    res = acc[c] / acc2[c] if normalize else acc[c]
                out[od, oh, ow, c] = to_output(res, lim_lo, lim_hi, is_int)


#: seconds spent compiling (or loading from the cache) in the last ``pool`` call
last_compile_seconds = 0.0


def _ensure_compiled(args) -> float:
    """Compile (or load from the cache) the specialisation these args need; its seconds."""
    sig = tuple(numba.typeof(a) for a in args)
    if sig in reduce_windows.overloads:
        return 0.0
    t0 = time.perf_counter()
    reduce_windows.compile(sig)
    return time.perf_counter() - t0


def pool(x, plan) -> np.ndarray:
    """The backend entry point: pool a C-contiguous (D, H, W, C) array."""
    global last_compile_seconds
    out = np.empty(plan.out_shape, dtype=plan.dtype)
    args = (x, out) + plan.kernel_args()
    last_compile_seconds = _ensure_compiled(args)
    reduce_windows(*args)
    return out


# one name per mode, as in every backend
pool_max = pool_min = pool_avg = pool_lp = pool_global = pool_adaptive = pool
pool_fractional = pool_mixed = pool_stochastic = pool_softpool = pool_weighted = pool
