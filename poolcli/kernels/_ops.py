"""Per-value operations written once as plain Python.

``kernels.cpu`` compiles them with ``numba.njit`` and ``kernels.cuda`` with
``numba.cuda.jit(device=True)``; the NumPy reference states the same rules with
array operations (``plan.finish``, ``reference.power_mean``).
"""

import math

from ..plan import LP_HUGE, LP_TINY

# the op codes, declared in ``plan``: plain module-level ints, which Numba freezes into the
# kernels (``kernels._sources_key`` includes plan.py, so a change there gets a fresh cache)
from ..plan import OP_AVG as AVG
from ..plan import OP_LP as LP
from ..plan import OP_MAX as MAX
from ..plan import OP_MEDIAN as MEDIAN
from ..plan import OP_MIN as MIN
from ..plan import OP_MIXED as MIXED
from ..plan import OP_MODE as MODE
from ..plan import OP_QUANTILE as QUANTILE
from ..plan import OP_SOFT as SOFT
from ..plan import OP_STOCH as STOCH
from ..plan import OP_WEIGHTED as WEIGHTED

__all__ = ["AVG", "LP", "MAX", "MEDIAN", "MIN", "MIXED", "MODE", "QUANTILE", "SOFT", "STOCH",
           "WEIGHTED", "enough", "gather", "lerp", "lp_scale", "mode_row", "order_stat",
           "positive", "power_root", "power_term", "sort_rows", "to_output"]


def to_output(r, lo, hi, is_int):
    """float64 result -> the value to store: integers rounded half to even and clipped."""
    if is_int:
        r = min(max(r, lo), hi)
        # round half to even, like np.rint; floor as r - r % 1.0, in float64: Numba's
        # math.floor returns an int64, which wraps at 2**63 (the int64 maximum's float)
        f = r - r % 1.0
        d = r - f
        half = f * 0.5
        odd = f - 2.0 * (half - half % 1.0) != 0.0
        # bitwise & and | and a conditional expression, no branches: the kernels' loops
        # vectorise (benchmarks/README.md has the figures against the if/elif form)
        r = f + 1.0 if (d > 0.5) | ((d == 0.5) & odd) else f
    return r


def power_term(v, p):
    """|v|^p (v*v for the common p = 2, exactly as the reference)."""
    if p == 2.0:
        return v * v
    return abs(v) ** p


def power_root(s, p):
    """s^(1/p) (sqrt for p = 2)."""
    if p == 2.0:
        return math.sqrt(s)
    return s ** (1.0 / p)


def positive(v):
    """The positive part used by stochastic pooling (NaN counts as 0)."""
    return v if v > 0 else 0.0


def lp_scale(m, p, n):
    """The factor taken out of a window's lp sum (``reference.lp_scale``): 1.0 when the plain
    sum of n terms |x|^p <= m^p is safe, or m = 0 or inf; else m (NaN stays NaN)."""
    if m == 0.0 or math.isinf(m):
        return 1.0
    t = m * m if p == 2.0 else m**p
    if t >= LP_TINY and t * n <= LP_HUGE:
        return 1.0
    return m


# --------------------------------------------------------------------------------------------
# the selection kernels' steps (mode, median, quantile): each self-contained (no calls to
# other helpers), so that both backends compile them as they are. ``x2`` is the input as
# (D*H*W, C) rows; ``buf`` holds row indices of one window's valid cells.


def gather(x2, buf, dims, tab, steps, od, oh, ow, c, fparams, ignv, flags):
    """Put the rows of window (od, oh, ow)'s valid cells into buf -> (n, nan_cells, ignored
    row or -1, ignored count, cells inside the image).

    c >= 0: channel c's values; a NaN is counted (not kept) unless nodata is NaN, and a value
    equal to nodata is absent. c < 0: whole pixels (mode): a pixel with a NaN channel never
    votes; one whose every channel equals nodata is absent, one whose every channel equals
    the ignored value is counted apart (it wins only a window that holds nothing else).
    """
    H, W = dims[1], dims[2]
    C = x2.shape[1]
    nodata = fparams[1]
    has_ignore, has_nodata, nodata_nan = flags[2] != 0, flags[3] != 0, flags[4] != 0
    sd, lod, hid = tab[0, 0, od], tab[0, 1, od], tab[0, 2, od]
    sh, loh, hih = tab[1, 0, oh], tab[1, 1, oh], tab[1, 2, oh]
    sw, low, hiw = tab[2, 0, ow], tab[2, 1, ow], tab[2, 2, ow]
    n = 0
    nans = 0
    ign_row = -1
    ign_n = 0
    for jd in range(lod, hid):
        z = sd + jd * steps[0]
        for jh in range(loh, hih):
            y = sh + jh * steps[1]
            for jw in range(low, hiw):
                row = (z * H + y) * W + sw + jw * steps[2]
                if c >= 0:
                    v = x2[row, c]
                    if v != v:
                        if not nodata_nan:
                            nans += 1
                        continue
                    if has_nodata and v == nodata:
                        continue
                else:
                    nan_px = False
                    all_nodata = has_nodata
                    all_ign = has_ignore
                    for k in range(C):
                        v = x2[row, k]
                        if v != v:
                            nan_px = True
                        if v != nodata:
                            all_nodata = False
                        if v != ignv[0]:
                            all_ign = False
                    if nan_px or all_nodata:
                        continue
                    if all_ign:
                        ign_row = row
                        ign_n += 1
                        continue
                buf[n] = row
                n += 1
    inside = (hid - lod) * (hih - loh) * (hiw - low)
    return n, nans, ign_row, ign_n, inside


def enough(valid, inside, min_valid):
    """Whether ``valid`` cells of ``inside`` pass ``min_valid`` (0: at least one), with the
    documented tolerance (3 of 10 pass 0.3 although 0.3 * 10 = 3.0000000000000004)."""
    if valid < 1:
        return False
    if min_valid == 0.0:
        return True
    return valid >= min_valid * inside * (1.0 - 1e-12)


def sort_rows(x2, buf, n, c):
    """Insertion sort (stable) of buf[:n] by x2[row, c], or (c < 0) by whole pixels compared
    channel by channel (lexicographic). Windows are small: a few to a few dozen cells."""
    C = x2.shape[1]
    for i in range(1, n):
        r = buf[i]
        j = i - 1
        while j >= 0:
            p = buf[j]
            greater = False
            if c >= 0:
                greater = x2[p, c] > x2[r, c]
            else:
                for k in range(C):
                    a = x2[p, k]
                    b = x2[r, k]
                    if a != b:
                        greater = a > b
                        break
            if not greater:
                break
            buf[j + 1] = p
            j -= 1
        buf[j + 1] = r


def mode_row(x2, buf, n):
    """The row of the most frequent pixel among the sorted buf[:n] (n >= 1): the first
    longest run, so ties go to the smallest pixel."""
    C = x2.shape[1]
    best = buf[0]
    best_len = 0
    start = 0
    for i in range(1, n + 1):
        same = False
        if i < n:
            same = True
            for k in range(C):
                if x2[buf[i], k] != x2[buf[i - 1], k]:
                    same = False
                    break
        if not same:
            if i - start > best_len:
                best_len = i - start
                best = buf[start]
            start = i
    return best


def order_stat(n, op, q, even_mean):
    """Where the answer lies among n sorted values -> (i, kind, t): kind 0 = the value at i
    (an exact pick), 1 = the mean of those at i and i + 1, 2 = lerp(sorted[i], sorted[i+1], t)
    (numpy.quantile's linear method: h = (n - 1) * q, i = floor(h), t = h - i)."""
    if op == MEDIAN:
        if even_mean and n % 2 == 0:
            return n // 2 - 1, 1, 0.0
        return (n - 1) // 2, 0, 0.0
    h = (n - 1) * q
    i = int(math.floor(h))
    t = h - i
    if t == 0.0 or i >= n - 1:
        return min(i, n - 1), 0, 0.0
    return i, 2, t


def lerp(a, b, t):
    """a + (b - a) * t for sorted a < b and 0 < t < 1, as numpy.quantile computes it for
    finite values (from b when t >= 0.5), and the mathematical value at infinities (numpy
    gives NaN there): an infinite end wins, -inf to +inf is NaN."""
    if math.isinf(a) or math.isinf(b):
        if math.isinf(a) and math.isinf(b):
            return math.nan
        return a if math.isinf(a) else b
    d = b - a
    if t >= 0.5:
        return b - d * (1.0 - t)
    return a + d * t
