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
from ..plan import OP_MIN as MIN
from ..plan import OP_MIXED as MIXED
from ..plan import OP_SOFT as SOFT
from ..plan import OP_STOCH as STOCH
from ..plan import OP_WEIGHTED as WEIGHTED

__all__ = ["AVG", "LP", "MAX", "MIN", "MIXED", "SOFT", "STOCH", "WEIGHTED", "lp_scale",
           "positive", "power_root", "power_term", "to_output"]


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
