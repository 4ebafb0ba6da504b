"""Per-value operations written once as plain Python.

``kernels.cpu`` compiles them with ``numba.njit`` and ``kernels.cuda`` with
``numba.cuda.jit(device=True)``; the NumPy reference states the same rules with
array operations (``api.finish``, ``reference.power_mean``).
"""

import math

# op codes: the same numbers as api.OP_* (checked by the tests)
MAX, MIN, AVG, LP, MIXED, SOFT, STOCH, WEIGHTED = 0, 1, 2, 3, 4, 5, 6, 7


def to_output(r, lo, hi, is_int):
    """float64 result -> the value to store: integers rounded half to even and clipped."""
    if is_int:
        r = min(max(r, lo), hi)
        f = math.floor(r)  # round half to even, like np.rint
        d = r - f
        odd = f - 2.0 * math.floor(f * 0.5) != 0.0
        # bitwise & and | and a conditional expression, no branches: the kernels' loops
        # vectorise (uint8 RGB 4096x4096 2x2 lp: 14 -> 8 ms against the if/elif form)
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
