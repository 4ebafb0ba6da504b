"""The backend contract: ``Plan``, ``Result``, ``check_options``, ``make_plan``, ``finish``.

Backends (``reference``, ``kernels.strided``, ``kernels.cpu``, ``kernels.cuda``) import
this module, never ``api``. The op codes are declared once in ``opcodes`` and re-exported
here.

Option checking comes in two steps. ``check_options`` (in ``validate``, re-exported here)
needs no array: mode options, ``--op``, value ranges, the window syntax and the padding
rule, and which modes take no stride. ``make_plan`` calls it, then does what needs the
shape: the windows' tables, weights against the channels, the random draws.

Integer rounding and clipping rule (one rule, stated once): max and min are exact in the
input dtype; every other mode is computed in float64 and, for integer outputs, rounded to
nearest with ties to even, then clipped to the dtype's range (``kernels._ops.to_output``
in the kernels, ``finish`` here for the reference). Floating-point arrays keep their dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import geometry, limits, modes
from .opcodes import (  # re-exported: backends and tests import the op codes from the contract
    KERNEL_DTYPES,
    LP_HUGE,
    LP_TINY,
    OP_AVG,
    OP_CODES,
    OP_LP,
    OP_MAX,
    OP_MEDIAN,
    OP_MIN,
    OP_MIXED,
    OP_MODE,
    OP_QUANTILE,
    OP_SOFT,
    OP_STOCH,
    OP_WEIGHTED,
    SELECT_MAX_CELLS,
    SELECT_OPS,
)
from .options import parse_floats, parse_size2
from .validate import (  # check_options and friends are part of the contract's API
    CheckedOptions,
    _alpha,
    _check,
    _min_valid,
    _nodata,
    _normalize,
    _number,
    _positive,
    _power,
    _quantile_q,
    _ratios,
    _seed,
    check_options,
    geometry_given,
    mode_options,
)


@dataclass
class Plan:
    """Everything a backend needs to pool one (D, H, W, C) array.

    ``make_plan`` builds it in one go; backends only read it (``dataclasses.replace``
    derives a changed copy, as ``strips.restrict_plan`` does).
    """

    mode: str
    op: int  #: OP_* code of the window reduction
    axes: tuple[geometry.AxisWindows, ...]  #: (frames, height, width)
    in_shape: tuple[int, int, int, int]
    dtype: np.dtype  #: output dtype (== the kernel input dtype)
    count_include_pad: bool = False
    p: float = 2.0
    normalize: bool = True
    temperature: float = 1.0
    #: multiplies integer values into [0, 1] for softpool's weights (1.0 for floats)
    value_scale: float = 1.0
    #: per-window weight of max in mixed pooling, shape (Do, Ho, Wo) float64
    alpha: np.ndarray | None = None
    #: uniform draws in [0, 1) for stochastic pooling, one per window: (Do, Ho, Wo) float64
    uniform: np.ndarray | None = None
    #: weight kernel (KD, KH, KW, 1 or C) float64 for weighted pooling
    weights: np.ndarray | None = None
    seed: int | None = None
    samples: tuple[float, float] | None = None
    extra: dict = field(default_factory=dict)
    nodata: float | None = None     # the value V that is absent; float("nan") for nodata="nan"
    min_valid: float | None = None  # fraction in (0, 1]; None = at least one valid cell
    #: quantile's q in [0, 1] (median: 0.5 with ``even_mean`` or the lower middle)
    q: float = 0.5
    #: median of an even count: the mean of the two middles (else the lower one)
    even_mean: bool = False
    #: mode: pixels whose every channel equals this value do not vote (None: all vote)
    ignore: int | float | None = None
    #: blurpool: reflect padding (top, bottom, left, right) the kernels' input gets first
    #: (``prepare``); ``in_shape`` is the caller's array, the axes are the padded one's
    reflect: tuple[int, int, int, int] | None = None
    #: max/min reductions also give the flat index of the chosen cell (``return_indices``)
    return_indices: bool = False
    #: the caller gave a 3-D window (three numbers): indices count the frames too
    #: (d*H*W + h*W + w, as PyTorch's max_pool3d), even for a window one frame deep
    frames_window: bool = False

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return (self.axes[0].out, self.axes[1].out, self.axes[2].out, self.in_shape[3])

    @property
    def is_int(self) -> bool:
        return self.dtype.kind in "ui"

    @property
    def limits(self) -> tuple[float, float]:
        """The output dtype's range (for clipping integers)."""
        if self.is_int:
            return float_limits(self.dtype)
        return -np.inf, np.inf

    @property
    def nodata_nan(self) -> bool:
        return self.nodata is not None and self.nodata != self.nodata

    @property
    def pools_frames(self) -> bool:
        """Whether the windows span frames (a 3-D window, or frames pooled): indices are then
        d*H*W + h*W + w."""
        ad = self.axes[0]
        return self.frames_window or not (
            ad.step == 1 and ad.regular == (1, 1, 0) and ad.out == self.in_shape[0])

    def keep_threshold(self) -> float:
        """min_valid's factor: a window is kept when valid >= this * inside (and valid >= 1)."""
        return 0.0 if self.min_valid is None else self.min_valid * (1.0 - 1e-12)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(3, 4, M) int64 rows start/lo/hi/total per axis, and the (3,) steps: the kernels'
        input."""
        m = max(a.out for a in self.axes)
        tab = np.zeros((3, 4, m), dtype=np.int64)
        for i, a in enumerate(self.axes):
            for j, row in enumerate((a.start, a.lo, a.hi, a.total)):
                tab[i, j, : a.out] = row
        steps = np.array([a.step for a in self.axes], dtype=np.int64)
        return tab, steps

    def kernel_args(self) -> tuple:
        """The window kernels' arguments after (x, out, idx), the same for the CPU and CUDA
        backends: tab, steps, op, fparams (p, temperature, value_scale, lo, hi, keep_threshold),
        alpha, uniform (Do, Ho, Wo, 1 or C), weights, flags (include_pad, normalize, is_int,
        has_nodata, nodata_nan, want_indices, pools_frames), special (the dtype's values:
        nodata V, the integer minimum and maximum, for exact stores).
        Absent arrays are passed as tiny dummies."""
        tab, steps = self.tables()
        lo, hi = self.limits
        fparams = np.array([self.p, self.temperature, self.value_scale, lo, hi,
                            self.keep_threshold()], dtype=np.float64)
        has_nd = self.nodata is not None
        flags = np.array([self.count_include_pad, self.normalize, self.is_int, has_nd,
                          self.nodata_nan, self.return_indices, self.pools_frames],
                         dtype=np.int64)
        dummy3, dummy4 = np.zeros((1, 1, 1)), np.zeros((1, 1, 1, 1))
        uniform = dummy4
        if self.uniform is not None:
            uniform = self.uniform if self.uniform.ndim == 4 else self.uniform[..., None]
        return (tab, steps, np.int64(self.op), fparams,
                dummy3 if self.alpha is None else self.alpha,
                np.ascontiguousarray(uniform),
                dummy4 if self.weights is None else self.weights, flags, self.special())

    def special(self) -> np.ndarray:
        """[nodata V (0 when none or NaN), the dtype's min, its max] in the output dtype."""
        if self.is_int:
            info = np.iinfo(self.dtype)
            v = 0 if self.nodata is None else int(self.nodata)
            return np.array([v, info.min, info.max], dtype=self.dtype)
        v = 0.0 if self.nodata is None else self.nodata
        return np.array([v, -np.inf, np.inf], dtype=self.dtype)

    def select_args(self) -> tuple:
        """``select_windows``' arguments after (x2, out), the same for the CPU and CUDA
        backends (x2 is x as (D*H*W, C) rows): dims (D, H, W), tab, steps, op, fparams (q,
        nodata, min_valid, lo, hi), ignore (the value in x's dtype, shape (1,)), flags
        (is_int, even_mean, has_ignore, has_nodata, nodata_is_nan, cap = the most cells of
        one window)."""
        tab, steps = self.tables()
        lo, hi = self.limits
        nodata = 0.0 if self.nodata is None else float(self.nodata)
        fparams = np.array([self.q, nodata, self.min_valid or 0.0, lo, hi], dtype=np.float64)
        ign = _in_dtype(self.ignore, self.dtype)
        cap = 1
        for a in self.axes:
            cap *= max(a.valid)
        flags = np.array([self.is_int, self.even_mean, ign is not None, self.nodata is not None,
                          self.nodata is not None and np.isnan(self.nodata), cap],
                         dtype=np.int64)
        dims = np.array(self.in_shape[:3], dtype=np.int64)
        ignv = np.array([0 if ign is None else ign], dtype=self.dtype)
        return dims, tab, steps, np.int64(self.op), fparams, ignv, flags

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """The array the kernels read: ``x`` itself, or for blurpool ``x`` reflect-padded
        (numpy's "reflect": mirrored without repeating the edge, as nn.ReflectionPad2d)."""
        if self.reflect is None or x.shape != tuple(self.in_shape):
            return x
        t, b, left, r = self.reflect
        return np.ascontiguousarray(np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), mode="reflect"))

    def divisors(self) -> np.ndarray:
        """Per-window divisor of averaging modes, shape (Do, Ho, Wo) float64."""
        rows = [np.asarray(a.total if self.count_include_pad else a.valid, dtype=np.float64)
                for a in self.axes]
        return rows[0][:, None, None] * rows[1][None, :, None] * rows[2][None, None, :]


@dataclass
class Result:
    """What ``api.run`` returns: the array (in the caller's layout), the plan that made it,
    the backend's name, and the seconds spent pooling and, within them, compiling (or
    loading compiled kernels from the cache)."""

    array: np.ndarray
    plan: Plan
    backend: str
    pool_seconds: float = 0.0
    compile_seconds: float = 0.0
    #: with ``return_indices``: the flat index of each chosen cell, int64 of the array's shape
    indices: np.ndarray | None = None


def float_limits(dtype) -> tuple[float, float]:
    """An integer dtype's range as float64 values: the minimum, and the maximum rounded to
    the nearest float64 (2**63 - 1 and 2**64 - 1 round up to 2**63 and 2**64, which do not
    convert back: every store saturates instead, ``store_int``, so a clipped 64-bit value is
    the dtype's maximum, never a wrapped one)."""
    info = np.iinfo(dtype)
    return float(info.min), float(info.max)


def _in_dtype(value, dtype: np.dtype):
    """``value`` as a scalar of ``dtype``, or None when no element of that dtype can equal it
    (a fraction or an out-of-range number for an integer dtype, None)."""
    if value is None:
        return None
    if dtype.kind in "ui":
        if isinstance(value, float) and not value.is_integer():
            return None
        v = int(value)
        info = np.iinfo(dtype)
        return dtype.type(v) if info.min <= v <= info.max else None
    return dtype.type(value)


def finish(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float64 results -> the output dtype: integers rounded half to even, then clipped
    (saturating: a value at or above the float64 of the maximum stores the maximum)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        lo, hi = float_limits(dtype)
        r = np.clip(np.rint(values), lo, hi)
        top = r >= hi
        with np.errstate(invalid="ignore"):
            out = np.where(top, 0, r).astype(dtype)
        out[top] = np.iinfo(dtype).max
        return out
    return values.astype(dtype)


# --------------------------------------------------------------------------------------------
# the plan


def make_plan(spec: modes.Mode, x4_shape, dtype, *, size=2, stride=None, padding=0, dilation=1,
              ceil_mode=False, opts: dict | None = None) -> Plan:
    """Check every argument and lay out the windows; raises ValueError/TypeError with the
    CLI's words. ``opts``: the mode's options (``check_options(...).opts``, or a subset)."""
    checked = _check(spec, dict(opts or {}), size, stride, padding, dilation, ceil_mode)
    opts = checked.opts
    d, h, w, c = x4_shape
    dtype = np.dtype(dtype)
    kw: dict = {}

    if spec.windows == "blur":
        kw.update(_blur(checked.window, x4_shape))
        axes = geometry.sliding((d, h + sum(kw["reflect"][:2]), w + sum(kw["reflect"][2:])),
                                checked.window)
    elif spec.windows == "sliding":
        if spec.name == "weighted":
            wts = opts["weights"]
            if wts.shape[2] not in (1, c):
                raise ValueError(f"weights have {wts.shape[2]} channels but the image has {c}")
            kw["weights"] = np.ascontiguousarray(wts[None])
        axes = geometry.sliding(x4_shape[:3], checked.window)
        kw["frames_window"] = checked.window.pools_frames
    elif spec.windows == "global":
        axes = (geometry.identity_axis(d), geometry.global_axis(h), geometry.global_axis(w))
    elif spec.windows == "adaptive":
        oh, ow = parse_size2(opts["output_size"], "output size")
        axes = (geometry.identity_axis(d), geometry.adaptive_axis(h, oh, "height"),
                geometry.adaptive_axis(w, ow, "width"))
    else:  # fractional
        axes, kw["seed"], kw["samples"] = _fractional_axes(x4_shape, size, opts)

    out3 = (axes[0].out, axes[1].out, axes[2].out)
    limits.check_output(out3 + (c,), dtype.itemsize)  # before the per-window draws below
    if checked.op == OP_LP:
        kw["p"] = _power(opts.get("p", 2.0))
    if opts.get("nodata") is not None:
        kw["nodata"] = _nodata(opts["nodata"], dtype)
        if opts.get("min_valid") is not None:
            kw["min_valid"] = _min_valid(opts["min_valid"])
    elif opts.get("min_valid") is not None:
        raise ValueError("min_valid needs nodata (or a masked array)")
    if opts.get("return_indices"):
        kw["return_indices"] = True
    if spec.name == "softpool":
        kw["temperature"] = _positive(opts.get("temperature", 1.0), "temperature")
        kw["value_scale"] = 1.0 / float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0
    if spec.name == "mixed":
        if opts.get("random"):
            kw["seed"] = _seed(opts.get("seed"))
            draws = np.random.default_rng(kw["seed"]).integers(0, 2, size=out3)
            kw["alpha"] = draws.astype(np.float64)
        else:
            kw["alpha"] = np.full(out3, _alpha(opts.get("alpha", 0.5)), dtype=np.float64)
    if spec.name == "stochastic":
        kw["seed"] = _seed(opts.get("seed"))
        rng = np.random.default_rng(kw["seed"])
        # one draw per window (colour-aligned), or one per window and channel
        kw["uniform"] = rng.random(out3 + (c,)) if opts.get("per_channel") else rng.random(out3)
    if spec.name == "mode" and opts.get("ignore") is not None:
        kw["ignore"] = _number(opts["ignore"], "ignore")
    if spec.name == "median":
        kw["even_mean"] = opts.get("even", "lower") == "mean"
    if spec.name == "quantile":
        kw["q"] = _quantile_q(opts.get("q", 0.5))
    return Plan(mode=spec.name, op=checked.op, axes=axes, in_shape=tuple(x4_shape), dtype=dtype,
                count_include_pad=bool(opts.get("count_include_pad", False)),
                normalize=_normalize(spec, opts) and spec.name != "blurpool", **kw)


def binomial_filter(f: int) -> np.ndarray:
    """The F x F binomial filter a (x) a / sum(a)**2, a = C(F-1, j): dyadic, so exact."""
    from math import comb

    a = np.array([comb(f - 1, j) for j in range(f)], dtype=np.float64)
    return np.outer(a, a) / a.sum() ** 2


def _blur(win: geometry.Window, x4_shape) -> dict:
    """blurpool's plan fields: the reflect padding of each side (antialiased_cnns': (F-1)//2
    before, the rest after) and the filter as weights (1, F, F, 1)."""
    _, h, w, _ = x4_shape
    f = win.size[1]
    before, after = (f - 1) // 2, f // 2
    for n, axis in ((h, "height"), (w, "width")):
        if after and n <= after:
            raise ValueError(f"blurpool with filter size {f} needs more than {after} pixels "
                             f"along {axis} (reflect padding), got {n}")
    return {"reflect": (before, after, before, after),
            "weights": np.ascontiguousarray(binomial_filter(f)[None, :, :, None])}


def _fractional_axes(x4_shape, size, opts: dict):
    """-> (axes, seed, samples) of fractional max pooling."""
    d, h, w, _ = x4_shape
    kh, kw = parse_size2(size, "size")
    if opts.get("output_size") is not None:
        oh, ow = parse_size2(opts["output_size"], "output size")
    else:
        rh, rw = _ratios(opts["ratio"])
        oh, ow = geometry.out_size_ratio(h, rh), geometry.out_size_ratio(w, rw)
    if opts.get("samples") is not None:
        uh, uw = parse_floats(opts["samples"], "samples", count=2)
        seed = None
    else:
        seed = _seed(opts.get("seed"))
        uh, uw = (float(v) for v in np.random.default_rng(seed).random(2))
    axes = (geometry.identity_axis(d), geometry.fractional_axis(h, kh, oh, uh, "height"),
            geometry.fractional_axis(w, kw, ow, uw, "width"))
    return axes, seed, (uh, uw)


__all__ = [
    "KERNEL_DTYPES", "OP_AVG", "OP_CODES", "OP_LP", "OP_MAX", "OP_MEDIAN", "OP_MIN", "OP_MIXED",
    "OP_MODE", "OP_QUANTILE", "OP_SOFT", "OP_STOCH", "OP_WEIGHTED", "SELECT_OPS",
    "LP_HUGE", "LP_TINY", "SELECT_MAX_CELLS", "binomial_filter", "CheckedOptions", "Plan",
    "Result", "check_options", "finish",
    "float_limits", "geometry_given", "make_plan", "mode_options",
]
