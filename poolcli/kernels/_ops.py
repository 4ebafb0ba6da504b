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
        if r < lo:
            r = lo
        elif r > hi:
            r = hi
        f = math.floor(r)  # round half to even, like np.rint
        d = r - f
        if d > 0.5 or (d == 0.5 and f % 2.0 != 0.0):
            f += 1.0
        r = f
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
