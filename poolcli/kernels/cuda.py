"""The Numba CUDA backend: module-level ``@cuda.jit`` kernels from the ``numba-cuda`` package.

The same design as ``kernels.cpu``: one kernel, ``reduce_windows``, serves every
mode. It runs one thread per output value (od, oh, ow, c) in a grid-stride loop;
consecutive threads take consecutive channels, then columns, so reads and writes
are coalesced along the contiguous axes. Each thread walks its window's valid
cells (from the geometry's tables) and reduces them with the operation named by
an integer op code; the per-value operations are ``kernels._ops`` compiled as
device functions. Randomness arrives as arrays in the plan (drawn on the host),
so the GPU gives the CPU's output for the same seed.

One hot case has its own kernel, chosen by the measurements in ``benchmarks/gpu.py``:
2x2 windows with stride 2 where every window is whole (no padding, no dilation),
for max, min and avg: ``pool2x2`` has each thread produce ``UNROLL`` values with
32-bit index arithmetic, issuing all its loads before its stores.

Compilation is lazy (no signature lists) and cached on disk (``cache=True``).
Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before Numba is
imported) the same kernels run as Python, for tests on machines without a GPU.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
from numba import config, cuda

from ..plan import SELECT_MAX_CELLS as SELECT_MAX
from ..plan import SELECT_OPS
from . import _ops, can_cache

NAME = "cuda"

#: threads per block (tests patch it down small so several blocks and the edge guards run)
TPB = 256
#: upper bound on blocks of the grid-stride kernel; 0 = 32 per multiprocessor (tests patch it small)
MAX_BLOCKS = 0
#: output values per thread in the 2x2 fast path (written out in ``pool2x2``; not a setting)
UNROLL = 4
#: use the 2x2 stride-2 fast path where it applies (the benchmark turns it off to compare)
FAST_PATHS = True

#: seconds of the last ``pool`` call, for the benchmark's breakdown: upload, compile (0 when
#: cached), kernel, download (``pool_timed`` returns the compile seconds with the result)
last_timings: dict[str, float] = {"upload": 0.0, "compile": 0.0, "kernel": 0.0, "download": 0.0}

SIMULATOR = bool(config.ENABLE_CUDASIM)

to_output = cuda.jit(device=True)(_ops.to_output)
power_root = cuda.jit(device=True)(_ops.power_root)
positive = cuda.jit(device=True)(_ops.positive)
lp_scale = cuda.jit(device=True)(_ops.lp_scale)

# NVVM fuses a product and a following sum into one fma by default (there is no switch for
# it in numba-cuda), and an fma rounds once where the reference rounds twice. Every product
# that feeds a sum goes through ``mul``: libdevice's __dmul_rn is "never merged into a
# multiply-add", so the GPU's float64 arithmetic is the reference's, to the last bit.
if SIMULATOR:
    mul = cuda.jit(device=True)(lambda a, b: a * b)
else:
    from numba.cuda import libdevice

    @cuda.jit(device=True)
    def mul(a, b):
        return libdevice.dmul_rn(a, b)


@cuda.jit(device=True)
def power_term(v, p):
    """|v|^p, as ``_ops.power_term`` (v*v for p = 2) but with an unfused product."""
    if p == 2.0:
        return mul(v, v)
    return abs(v) ** p

#: False where no folder is writable (a read-only install): kernels compile in memory each run
_CACHE = can_cache()

MAX, MIN, AVG, LP, MIXED, SOFT, STOCH, WEIGHTED = (
    _ops.MAX, _ops.MIN, _ops.AVG, _ops.LP, _ops.MIXED, _ops.SOFT, _ops.STOCH, _ops.WEIGHTED)


@cuda.jit(cache=_CACHE)
def reduce_windows(x, out, idx, tab, steps, op, fparams, alpha, uniform, weights, flags,
                   special):
    """out[od, oh, ow, c] = reduction over the valid cells of window (od, oh, ow) of x[..., c].

    The arguments are those of ``kernels.cpu.reduce_windows`` (``Plan.kernel_args``):
    tab[axis] rows start, lo, hi, total; steps: dilation per axis; fparams: p,
    temperature, value_scale, lo, hi, keep; flags: include_pad, normalize, is_int,
    has_nodata, nodata_nan, want_indices, pools_frames; special: V, int min, int max.
    """
    H, W, C = x.shape[1], x.shape[2], x.shape[3]
    Do, Ho, Wo = out.shape[0], out.shape[1], out.shape[2]
    n = Do * Ho * Wo * C
    p, temp, scale, lim_lo, lim_hi = fparams[0], fparams[1], fparams[2], fparams[3], fparams[4]
    keep = fparams[5]
    include_pad, normalize, is_int = flags[0] != 0, flags[1] != 0, flags[2] != 0
    has_nd, nd_nan, want_idx, frames3 = flags[3] != 0, flags[4] != 0, flags[5] != 0, flags[6] != 0
    ndv, imax = special[0], special[2]
    step_d, step_h, step_w = steps[0], steps[1], steps[2]
    lp_inf = op == LP and p == math.inf
    npass = 2 if (op == SOFT or op == STOCH or (op == LP and not lp_inf)) else 1
    wc = weights.shape[3]
    per_channel = uniform.shape[3] > 1
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        c = i % C
        r = i // C
        ow = r % Wo
        r = r // Wo
        oh = r % Ho
        od = r // Ho
        sd, lod, hid, tod = tab[0, 0, od], tab[0, 1, od], tab[0, 2, od], tab[0, 3, od]
        sh, loh, hih, toh = tab[1, 0, oh], tab[1, 1, oh], tab[1, 2, oh], tab[1, 3, oh]
        sw, low, hiw, tow = tab[2, 0, ow], tab[2, 1, ow], tab[2, 2, ow], tab[2, 3, ow]
        inside = (hid - lod) * (hih - loh) * (hiw - low)
        div = float(tod * toh * tow) if include_pad else float(inside)
        # max/min in the input dtype
        ext = x[sd + lod * step_d, sh + loh * step_h, sw + low * step_w, c]
        acc = 0.0
        acc2 = 0.0  # lp: the factor taken out (_ops.lp_scale)
        top = 0.0  # lp: max |x|
        cnt = 0
        best = -1
        running = 0.0  # stochastic: one cell per window, every channel taken from it
        chosen = False
        cz, cy, cx = sd + lod * step_d, sh + loh * step_h, sw + low * step_w
        for ps in range(npass):
            if op == LP and ps == 1:
                acc2 = lp_scale(top, p, cnt)
            for jd in range(lod, hid):
                z = sd + jd * step_d
                for jh in range(loh, hih):
                    y = sh + jh * step_h
                    for jw in range(low, hiw):
                        xx = sw + jw * step_w
                        v = x[z, y, xx, c]
                        if has_nd:
                            if (v != v) if nd_nan else (v == ndv):
                                continue  # absent, like padding
                        flat = ((z if frames3 else 0) * H + y) * W + xx
                        if ps == 0:
                            if op == MIN:
                                if cnt == 0:
                                    ext = v
                                    best = flat
                                elif v < ext or v != v:
                                    best = flat  # torch: the last NaN
                                    if ext == ext:  # NaN, once in, stays
                                        ext = v
                            elif op != AVG and op != LP and op != WEIGHTED:
                                if cnt == 0:
                                    ext = v
                                    best = flat
                                elif v > ext or v != v:
                                    best = flat
                                    if ext == ext:
                                        ext = v
                            elif op == LP:
                                a = abs(np.float64(v))
                                if a > top or a != a:
                                    if top == top:
                                        top = a
                            cnt += 1
                        fv = np.float64(v)
                        if op == AVG or op == MIXED:
                            acc += fv
                        elif op == LP and ps == 1:
                            acc += power_term(fv / acc2, p)
                        elif op == SOFT and ps == 1:
                            top_s = mul(np.float64(ext), scale)
                            # the maximum weighs exactly 1 (+inf: not inf - inf), and a
                            # weight of 0 adds nothing (-inf: not 0 * -inf)
                            sv = mul(fv, scale)
                            w = 1.0 if sv == top_s else math.exp((sv - top_s) / temp)
                            acc += w
                            if w != 0.0:
                                acc2 += mul(w, fv)
                        elif op == STOCH and per_channel:
                            if ps == 0:
                                acc += positive(fv)
                            elif not chosen:
                                running += positive(fv)
                                if running > uniform[od, oh, ow, c] * acc:
                                    chosen = True
                                    cz, cy, cx = z, y, xx
                        elif op == STOCH:
                            cell = 0.0  # the cell's weight: its positive parts, all channels
                            for cc in range(C):
                                cell += positive(np.float64(x[z, y, xx, cc]))
                            if ps == 0:
                                acc += cell
                            elif not chosen:
                                running += cell
                                if running > uniform[od, oh, ow, 0] * acc:
                                    chosen = True
                                    cz, cy, cx = z, y, xx
                        elif op == WEIGHTED:
                            wt = weights[jd, jh, jw, c if wc > 1 else 0]
                            acc += mul(wt, fv)
                            acc2 += wt
        if has_nd and (cnt == 0 or cnt < keep * inside):
            out[od, oh, ow, c] = ndv  # too few valid cells
            if want_idx:
                idx[od, oh, ow, c] = -1
            continue
        if want_idx:
            idx[od, oh, ow, c] = best
        if op == MAX or op == MIN:
            out[od, oh, ow, c] = ext
            continue
        if has_nd:  # nodata cells leave the divisor (padding stays with include_pad)
            div = float(cnt + (tod * toh * tow - inside if include_pad else 0))
        if op == AVG:
            res = acc / div
        elif op == LP:
            if lp_inf:
                res = top
            else:
                res = mul(acc2, power_root(acc / div if normalize else acc, p))
        elif op == MIXED:
            a = alpha[od, oh, ow]
            if a == 1.0:  # exactly max or avg, also when the other is infinite
                res = np.float64(ext)
            elif a == 0.0:
                res = acc / div
            else:
                res = mul(a, np.float64(ext)) + mul(1.0 - a, acc / div)
        elif op == SOFT:
            res = acc2 / acc
        elif op == STOCH:
            res = np.float64(x[cz, cy, cx, c]) if chosen else np.float64(ext)
        else:  # WEIGHTED
            res = acc / acc2 if normalize else acc
        res = to_output(res, lim_lo, lim_hi, is_int)
        if is_int and res >= lim_hi:  # saturate: 2**63 does not convert to int64
            out[od, oh, ow, c] = imax
        else:
            out[od, oh, ow, c] = res



gather = cuda.jit(device=True)(_ops.gather)
enough = cuda.jit(device=True)(_ops.enough)
sort_rows = cuda.jit(device=True)(_ops.sort_rows)
mode_row = cuda.jit(device=True)(_ops.mode_row)
order_stat = cuda.jit(device=True)(_ops.order_stat)
lerp = cuda.jit(device=True)(_ops.lerp)
MODE = _ops.MODE
#: the most cells of one window ``select_windows`` holds (its per-thread buffer)
SELECT_MAX_CELLS = SELECT_MAX


@cuda.jit(cache=_CACHE)
def select_windows(x2, out, dims, tab, steps, op, fparams, ignv, flags):
    """mode, median and quantile, as ``kernels.cpu.select_windows`` (same arguments): one
    thread per output pixel (od, oh, ow), in a grid-stride loop; it gathers the window's
    valid cells (row indices of x2) into a per-thread buffer, sorts and picks, channel by
    channel (mode: whole pixels, once)."""
    C = x2.shape[1]
    Do, Ho, Wo = out.shape[0], out.shape[1], out.shape[2]
    q, nodata, min_valid = fparams[0], fparams[1], fparams[2]
    lim_lo, lim_hi = fparams[3], fparams[4]
    is_int, even_mean, has_nodata = flags[0] != 0, flags[1] != 0, flags[3] != 0
    buf = cuda.local.array(SELECT_MAX_CELLS, np.int64)
    for i in range(cuda.grid(1), Do * Ho * Wo, cuda.gridsize(1)):
        ow = i % Wo
        r = i // Wo
        oh = r % Ho
        od = r // Ho
        if op == MODE:
            n, nans, ign_row, ign_n, inside = gather(x2, buf, dims, tab, steps, od, oh, ow, -1,
                                                     fparams, ignv, flags)
            if has_nodata and not enough(n + ign_n, inside, min_valid):
                for c in range(C):
                    out[od, oh, ow, c] = nodata
            elif n == 0 and ign_row < 0:  # only NaN pixels
                for c in range(C):
                    out[od, oh, ow, c] = math.nan
            else:
                row = ign_row
                if n > 0:
                    sort_rows(x2, buf, n, -1)
                    row = mode_row(x2, buf, n)
                for c in range(C):
                    out[od, oh, ow, c] = x2[row, c]
            continue
        for c in range(C):
            n, nans, ign_row, ign_n, inside = gather(x2, buf, dims, tab, steps, od, oh, ow, c,
                                                     fparams, ignv, flags)
            if has_nodata and not enough(n + nans, inside, min_valid):
                out[od, oh, ow, c] = nodata
                continue
            if nans > 0:
                out[od, oh, ow, c] = math.nan
                continue
            sort_rows(x2, buf, n, c)
            k, kind, t = order_stat(n, op, q, even_mean)
            a = x2[buf[k], c]
            if kind == 0:
                out[od, oh, ow, c] = a
                continue
            b = x2[buf[k + 1], c]
            if a == b:
                out[od, oh, ow, c] = a
                continue
            fa, fb = np.float64(a), np.float64(b)
            res = (fa + fb) / 2.0 if kind == 1 else lerp(fa, fb, t)
            out[od, oh, ow, c] = to_output(res, lim_lo, lim_hi, is_int)


@cuda.jit(device=True)
def _pick(m, v, op):
    """One step of max (op == MAX) or min in window order, as ``reduce_windows``: NaN, once
    in, stays; a NaN cell wins; ties keep the earlier cell."""
    if m == m:
        if v != v:
            return v
        if op == MAX:
            if v > m:
                return v
        elif v < m:
            return v
    return m


@cuda.jit(device=True)
def _store2x2(out2, row, j, a, b, c, d, op, lim_lo, lim_hi, is_int, small_int):
    if op == AVG and small_int:
        # 8- and 16-bit integers: the exact sum, and s / 4 rounded half to even by shifts
        # (as kernels.cpu.mean_int_fixed; >> floors, so negative sums round alike), in
        # place of float64 arithmetic, which many GPUs run at a fraction of their int rate
        s = np.int32(a) + np.int32(b) + np.int32(c) + np.int32(d)
        out2[row, j] = (s + 1 + ((s >> 2) & 1)) >> 2
    elif op == AVG:
        s = np.float64(a) + np.float64(b) + np.float64(c) + np.float64(d)  # the reference's order
        out2[row, j] = to_output(s / 4.0, lim_lo, lim_hi, is_int)
    else:
        out2[row, j] = _pick(_pick(_pick(a, b, op), c, op), d, op)


@cuda.jit(cache=_CACHE)
def pool2x2(x2, out2, C, cstep, op, lim_lo, lim_hi, is_int, small_int):
    """2x2 windows, stride 2, all whole, max/min/avg. ``x2`` is x as (D*H, W*C) with output
    row r reading input rows 2r and 2r+1; ``out2`` is out as (D*Ho, Wo*C). ``small_int``:
    the data are 8- or 16-bit integers, averaged in integer arithmetic.

    Grid: x covers the output columns (the host launches enough blocks), y the output rows
    (grid-stride). Each thread makes UNROLL = 4 values one block-width apart (so each
    warp's accesses stay coalesced) and issues all 16 loads before its stores. Output
    column j = ow*C + c reads input columns 2*ow*C + c = 2*j - c and that + C; the thread
    finds c with one division, then steps it by ``cstep`` = blockDim.x % C.
    """
    rows, ncols = out2.shape[0], out2.shape[1]
    bw = cuda.blockDim.x
    j0 = cuda.blockIdx.x * 4 * bw + cuda.threadIdx.x
    if j0 >= ncols:
        return
    j1 = j0 + bw
    j2 = j1 + bw
    j3 = j2 + bw
    c0 = j0 % C
    c1 = c0 + cstep
    if c1 >= C:
        c1 -= C
    c2 = c1 + cstep
    if c2 >= C:
        c2 -= C
    c3 = c2 + cstep
    if c3 >= C:
        c3 -= C
    i0 = 2 * j0 - c0
    i1 = 2 * j1 - c1 if j1 < ncols else i0  # past the edge: reload a valid cell, store nothing
    i2 = 2 * j2 - c2 if j2 < ncols else i0
    i3 = 2 * j3 - c3 if j3 < ncols else i0
    for row in range(cuda.blockIdx.y, rows, cuda.gridDim.y):
        r0 = 2 * row
        r1 = r0 + 1
        a0, b0, e0, d0 = x2[r0, i0], x2[r0, i0 + C], x2[r1, i0], x2[r1, i0 + C]
        a1, b1, e1, d1 = x2[r0, i1], x2[r0, i1 + C], x2[r1, i1], x2[r1, i1 + C]
        a2, b2, e2, d2 = x2[r0, i2], x2[r0, i2 + C], x2[r1, i2], x2[r1, i2 + C]
        a3, b3, e3, d3 = x2[r0, i3], x2[r0, i3 + C], x2[r1, i3], x2[r1, i3 + C]
        _store2x2(out2, row, j0, a0, b0, e0, d0, op, lim_lo, lim_hi, is_int, small_int)
        if j1 < ncols:
            _store2x2(out2, row, j1, a1, b1, e1, d1, op, lim_lo, lim_hi, is_int, small_int)
        if j2 < ncols:
            _store2x2(out2, row, j2, a2, b2, e2, d2, op, lim_lo, lim_hi, is_int, small_int)
        if j3 < ncols:
            _store2x2(out2, row, j3, a3, b3, e3, d3, op, lim_lo, lim_hi, is_int, small_int)


# --------------------------------------------------------------------------------------------
# host side


def fast_path(plan) -> str | None:
    """The name of the specialised kernel that computes this plan, or None (the generic one).

    ``pool2x2``: max/min/avg, every window 2x2 with stride 2 and wholly inside the input
    (no padding, no dilation), one frame deep; with several frames the height must be even
    so that output row r reads input rows 2r and 2r+1 of the (D*H, W*C) view.
    """
    if not FAST_PATHS or plan.op not in (MAX, MIN, AVG):
        return None
    if plan.nodata is not None or plan.return_indices:
        return None  # the generic kernel does those
    if plan.op == AVG and plan.is_int and plan.dtype.itemsize == 8:
        return None  # the generic kernel saturates its 64-bit stores
    ad, ah, aw = plan.axes
    d, h = plan.in_shape[0], plan.in_shape[1]
    if ad.regular != (1, 1, 0) or ad.out != d:  # frames are not pooled
        return None
    if d > 1 and h % 2:
        return None
    for a in (ah, aw):
        # whole 2-cell windows from 0 at stride 2 (a single window: any stride)
        if a.step != 1 or a.regular is None:
            return None
        k, s, first = a.regular
        if k != 2 or first != 0 or (s != 2 and a.out > 1):
            return None
    return "pool2x2"


_lock = threading.Lock()  # one pool at a time: the device buffers below are shared
_buffers: dict[str, object] = {}  # "x" / "out" -> the flat device array of the last call


def _device_buffer(role: str, shape, dtype):
    """A device array of this shape and dtype, a view of the last call's buffer when that
    has the same size and dtype. Buffers are kept flat (the simulator cannot copy into
    arrays with axes of length 1)."""
    size = int(np.prod(shape))
    buf = _buffers.get(role)
    if buf is None or buf.shape != (size,) or buf.dtype != np.dtype(dtype):
        _buffers.pop(role, None)  # free the old one first
        buf = cuda.device_array(size, dtype=dtype)
        _buffers[role] = buf
    return buf


def _max_blocks() -> int:
    if MAX_BLOCKS:
        return MAX_BLOCKS
    if SIMULATOR:
        return 1 << 30
    return 32 * cuda.get_current_device().MULTIPROCESSOR_COUNT


def pool2x2_args(plan, x, out) -> tuple:
    """``pool2x2``'s arguments for (D, H, W, C) arrays ``x`` and ``out`` (host or device)."""
    d, h, w, c = plan.in_shape
    do, ho, wo, _ = plan.out_shape
    lo, hi = plan.limits
    return (x.reshape(d * h, w * c), out.reshape(do * ho, wo * c), np.int64(c), np.int64(TPB % c),
            np.int64(plan.op), np.float64(lo), np.float64(hi), np.bool_(plan.is_int),
            np.bool_(plan.is_int and plan.dtype.itemsize <= 2))


def reduce_args(plan, x, out, to_device=False, idx=None) -> tuple:
    """``reduce_windows``' arguments: (x, out, idx) and ``Plan.kernel_args()``, uploaded if
    asked. ``idx``: the indices' output (a dummy when None)."""
    rest = plan.kernel_args()
    if idx is None:
        idx = np.zeros((1, 1, 1, 1), dtype=np.int64)
        if to_device:
            idx = cuda.to_device(idx)
    if to_device:
        rest = tuple(a if np.isscalar(a) else cuda.to_device(np.ascontiguousarray(a)) for a in rest)
    return (x, out, idx) + tuple(rest)


class Launch:
    """One kernel launch for a plan on device arrays: ``Launch(plan, d_x, d_out)()`` runs it.

    Built once, called many times (the benchmark times the call alone). Small arguments
    (tables, parameters, random draws) are uploaded when it is built.
    """

    def __init__(self, plan, d_x, d_out, d_idx=None):
        self.kernel_name = fast_path(plan) or "reduce_windows"
        if plan.op in SELECT_OPS:
            self.kernel_name = "select_windows"
            self.kernel = select_windows
            rest = tuple(a if np.isscalar(a) else cuda.to_device(a) for a in plan.select_args())
            self.args = (d_x.reshape(-1, d_x.shape[3]), d_out) + rest
            n = int(np.prod(plan.out_shape[:3]))
            self.grid = max(1, min(-(-n // TPB), _max_blocks()))
            self.block = TPB
        elif self.kernel_name == "pool2x2":
            self.kernel = pool2x2
            self.args = pool2x2_args(plan, d_x, d_out)
            rows, cols = self.args[1].shape
            gx = -(-cols // (UNROLL * TPB))
            self.grid = (gx, max(1, min(rows, 65535, _max_blocks() // gx)))
            self.block = (TPB, 1)
        else:
            self.kernel = reduce_windows
            self.args = reduce_args(plan, d_x, d_out, to_device=True, idx=d_idx)
            n = int(np.prod(plan.out_shape))
            self.grid = max(1, min(-(-n // TPB), _max_blocks()))
            self.block = TPB

    def compile(self) -> float:
        """Compile (or load from the disk cache) this launch's specialisation; its seconds."""
        if SIMULATOR:
            return 0.0
        sig = tuple(self.kernel.typeof_pyval(a) for a in self.args)
        if sig in self.kernel.overloads:
            return 0.0
        t0 = time.perf_counter()
        self.kernel.compile(sig)
        return time.perf_counter() - t0

    def __call__(self):
        self.kernel[self.grid, self.block](*self.args)


def pool_timed(x, plan) -> tuple[np.ndarray, float]:
    """Pool a C-contiguous (D, H, W, C) array on the GPU -> (result, seconds spent compiling
    or loading the kernel from the disk cache)."""
    x = plan.prepare(x)  # blurpool: the reflect-padded input
    if plan.op in SELECT_OPS and int(plan.select_args()[-1][5]) > SELECT_MAX_CELLS:
        raise ValueError(f"the CUDA backend selects among at most {SELECT_MAX_CELLS} cells per "
                         f"window; this window has more (use --backend cpu)")
    with _lock:
        t0 = time.perf_counter()
        flat_x = _device_buffer("x", x.shape, x.dtype)
        flat_x.copy_to_device(np.ascontiguousarray(x).reshape(-1))
        flat_out = _device_buffer("out", plan.out_shape, plan.dtype)
        d_idx = (cuda.device_array(plan.out_shape, dtype=np.int64) if plan.return_indices
                 else None)
        launch = Launch(plan, flat_x.reshape(x.shape), flat_out.reshape(plan.out_shape), d_idx)
        t1 = time.perf_counter()
        compile_s = launch.compile()
        t2 = time.perf_counter()
        launch()
        cuda.synchronize()
        t3 = time.perf_counter()
        out = flat_out.copy_to_host().reshape(plan.out_shape)
        if d_idx is not None:
            out = (out, d_idx.copy_to_host())
        t4 = time.perf_counter()
    last_timings.update(upload=t1 - t0, compile=compile_s, kernel=t3 - t2, download=t4 - t3)
    return out, compile_s


def pool(x, plan) -> np.ndarray:
    """The backend entry point: pool a C-contiguous (D, H, W, C) array on the GPU."""
    return pool_timed(x, plan)[0]


def status() -> tuple[bool, str]:
    """(usable, reason): whether this backend can run here, and why (never raises)."""
    try:
        if getattr(cuda, "implementation", "") != "NVIDIA":
            return False, ("numba-cuda is not installed (only Numba's deprecated built-in "
                           "numba.cuda is); pip install 'poolcli[cuda]'")
        if SIMULATOR:
            return True, ("Numba's CUDA simulator is active (NUMBA_ENABLE_CUDASIM=1): "
                          "right answers, very slowly")
        if not cuda.is_available():
            from numba.cuda.cudadrv import nvvm

            err = None
            try:
                err = cuda.cuda_error()
            except Exception:  # pragma: no cover
                pass
            if err is not None:
                return False, f"no usable CUDA driver or GPU ({str(err).strip().splitlines()[0]})"
            if not nvvm.is_available():
                return False, ("the CUDA toolkit's NVVM library is missing "
                               "(pip install 'numba-cuda[cu12]' or [cu13])")
            return False, "no CUDA GPU found"
        dev = cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        major, minor = dev.compute_capability
        return True, f"{name} (compute capability {major}.{minor})"
    except Exception as exc:  # a broken driver or toolkit must not crash `doctor` or `auto`
        return False, f"CUDA is not usable: {type(exc).__name__}: {str(exc).strip()[:200]}"


# one name per mode, as in every backend
pool_max = pool_min = pool_avg = pool_lp = pool_global = pool_adaptive = pool
pool_fractional = pool_mixed = pool_stochastic = pool_softpool = pool_weighted = pool
pool_mode = pool_median = pool_quantile = pool_blurpool = pool
