"""The backend contract: ``Plan``, ``Result``, ``check_options``, ``make_plan``, ``finish``.

Backends (``reference``, ``kernels.strided``, ``kernels.cpu``, ``kernels.cuda``) import
this module, never ``api``. The op codes of the window reduction are declared here once;
``kernels._ops`` re-exports them as plain module-level ints, which Numba freezes into the
compiled kernels (so the kernel cache is keyed on this file too: ``kernels._sources_key``).

Option checking comes in two steps. ``check_options`` needs no array: mode options,
``--op``, the ranges of p, temperature and alpha, the window syntax and the padding rule,
and which modes take no stride. ``make_plan`` calls it, then does what needs the shape:
the windows' tables, weights against the channels, the random draws.

Integer rounding and clipping rule (one rule, stated once): max and min are exact in the
input dtype; every other mode is computed in float64 and, for integer outputs, rounded to
nearest with ties to even, then clipped to the dtype's range (``kernels._ops.to_output``
in the kernels, ``finish`` here for the reference). Floating-point arrays keep their dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import geometry, limits, modes
from .options import (
    API_KEYWORDS,
    did_you_mean,
    parse_floats,
    parse_ints,
    parse_levels,
    parse_padding,
    parse_size2,
)

#: op codes shared by every backend's window-reduction kernel (declared once, here)
OP_MAX, OP_MIN, OP_AVG, OP_LP, OP_MIXED, OP_SOFT, OP_STOCH, OP_WEIGHTED = range(8)
#: the selection kernels' op codes (``select_windows``): majority pixel, median, quantile
OP_MODE, OP_MEDIAN, OP_QUANTILE = 8, 9, 10
#: the op code of each reduction name (a mode's name, or an ``--op`` value); blurpool is
#: weighted pooling of the reflect-padded input with the binomial filter
OP_CODES = {"max": OP_MAX, "fractional": OP_MAX, "min": OP_MIN, "avg": OP_AVG, "lp": OP_LP,
            "mixed": OP_MIXED, "softpool": OP_SOFT, "stochastic": OP_STOCH,
            "weighted": OP_WEIGHTED, "blurpool": OP_WEIGHTED}
OP_CODES.update({"mode": OP_MODE, "median": OP_MEDIAN, "quantile": OP_QUANTILE})
#: the op codes computed by ``select_windows`` (gather each window's cells, sort, pick)
SELECT_OPS = (OP_MODE, OP_MEDIAN, OP_QUANTILE)
#: the most cells of one window the CUDA selection kernel holds (a per-thread buffer)
SELECT_MAX_CELLS = 256

#: lp sums |x|^p as it is when the largest term m^p is in [LP_TINY, LP_HUGE / cells] (no
#: overflow, no loss to underflow, and the plain formula's numbers to the bit); otherwise
#: with the window's largest |x| factored out: m * (mean (|x|/m)^p)^(1/p)
LP_TINY, LP_HUGE = 2.0**-900, 2.0**900

#: dtypes the kernels compute in; others are converted to these and back
KERNEL_DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "int64", "float32",
                 "float64")


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
        """Whether the windows span frames (a 3-D window): indices are then d*H*W + h*W + w."""
        ad = self.axes[0]
        return not (ad.step == 1 and ad.regular == (1, 1, 0) and ad.out == self.in_shape[0])

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
# shape-free checking


@dataclass(frozen=True)
class CheckedOptions:
    """What ``check_options`` found valid, normalised."""

    spec: modes.Mode
    #: every option of the mode, defaults filled in (weights loaded as a (KH, KW, C) array);
    #: what ``api.run(..., **opts)`` and ``make_plan(..., opts=opts)`` take
    opts: dict
    op: int  #: OP_* code of the window reduction (``--op`` resolved)
    window: geometry.Window | None = None  #: sliding modes: the parsed window
    levels: tuple[int, ...] | None = None  #: spp: the pyramid levels


def mode_options(spec: modes.Mode, given: dict) -> dict:
    """The mode's options, defaults filled in and ``None`` meaning the default; a TypeError
    names options the mode does not take."""
    unknown = sorted(set(given) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        hint = did_you_mean(unknown[0], spec.options + API_KEYWORDS)
        raise TypeError(f"mode {spec.name!r} does not take option(s) {', '.join(unknown)}"
                        f"{hint}; it takes: {allowed}")
    opts = {k: modes.OPTION_DEFAULTS[k] for k in spec.options}
    opts.update({k: v for k, v in given.items() if v is not None})
    return opts


def check_options(mode: str | modes.Mode, *, size=2, stride=None, padding=0, dilation=1,
                  ceil_mode=False, **opts) -> CheckedOptions:
    """Check everything about a pooling that does not need the array: the mode, its options
    (names, ``--op``, ranges of p, temperature and alpha, seed, weights), the window syntax
    and padding rule, and the modes that take no stride. Raises ValueError/TypeError with
    the CLI's words (those of ``api.run``); returns the options normalised."""
    spec = mode if isinstance(mode, modes.Mode) else modes.get(mode)
    opts = mode_options(spec, opts)
    if spec.name == "spp":
        op = OP_CODES[_op_for(spec, opts, strict=True)]
        levels = parse_levels(opts["levels"])  # levels '' is an error, not the default
        for level in levels:
            limits.check_out_sizes((level, level))
        if geometry_given(stride, padding, dilation, ceil_mode):
            raise ValueError("spp takes no --stride/--padding/--dilation/--ceil-mode")
        return CheckedOptions(spec, opts, op, levels=levels)
    return _check(spec, opts, size, stride, padding, dilation, ceil_mode, strict=True)


def geometry_given(stride, padding, dilation, ceil_mode) -> bool:
    """Whether stride/padding/dilation/ceil_mode differ from their neutral values (padding
    ``(0, 0)`` or dilation ``"1x1"`` given explicitly is no geometry)."""
    if stride is not None or ceil_mode:
        return True
    pad = parse_padding(padding)
    return pad == "same" or any(pad) or any(v != 1 for v in parse_ints(dilation, "dilation"))


def _check(spec: modes.Mode, opts: dict, size, stride, padding, dilation, ceil_mode, *,
           strict: bool = False) -> CheckedOptions:
    """check_options after the option names: ``opts`` may lack defaults (make_plan's callers).
    ``strict``: an empty ``op`` is an error, not the default."""
    opts = dict(opts)
    op_name = _op_for(spec, opts, strict=strict)
    given = geometry_given(stride, padding, dilation, ceil_mode)
    win = None
    if spec.windows == "blur":
        win = _blur_window(opts, stride, padding, dilation, ceil_mode)
    elif spec.windows == "sliding":
        if spec.name == "weighted":
            wts = _load_weights(opts.get("weights"))
            opts["weights"] = wts
            size = wts.shape[:2]
        win = geometry.window(size, stride, padding, dilation, ceil_mode)
        geometry.check_window(win)
    elif given and spec.windows != "fractional":
        raise ValueError(f"{spec.name} takes no --stride/--padding/--dilation/--ceil-mode")
    elif spec.windows == "adaptive":
        if opts.get("output_size") is None:
            raise ValueError(f"{spec.name} needs --output-size HxW")
        limits.check_out_sizes(parse_size2(opts["output_size"], "output size"))
    elif spec.windows == "fractional":
        _check_fractional(opts, given, size)
    if op_name == "lp" or spec.name == "lp":
        _power(opts.get("p", 2.0))
    if opts.get("min_valid") is not None:
        _min_valid(opts["min_valid"])
    if opts.get("nodata") is not None:
        _nodata(opts["nodata"])
    if opts.get("return_indices") and OP_CODES[op_name] not in (OP_MAX, OP_MIN):
        raise ValueError(f"return_indices needs a max or min reduction, not {op_name}")
    if spec.name == "weighted" and _normalize(spec, opts) and abs(float(wts.sum())) == 0.0:
        raise ValueError("--normalize needs weights whose sum is not zero")
    if spec.name == "softpool":
        _positive(opts.get("temperature", 1.0), "temperature")
    if spec.name == "mixed":
        _alpha(opts.get("alpha", 0.5))
        if opts.get("random"):
            _check_seed(opts.get("seed"))
    if spec.name == "stochastic":
        _check_seed(opts.get("seed"))
    _check_select(spec, opts, win)
    return CheckedOptions(spec, opts, OP_CODES[op_name], window=win)


#: the binomial filters' sizes blurpool takes (antialiased_cnns: 1..7)
FILTER_SIZES = range(1, 8)


def _filter_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, str)):
        raise ValueError(f"filter size must be a whole number from 1 to 7, got {value!r}")
    try:
        f = int(value)
    except ValueError:
        raise ValueError(f"filter size must be a whole number from 1 to 7, got {value!r}") from None
    if f not in FILTER_SIZES:
        raise ValueError(f"filter size must be a whole number from 1 to 7, got {value!r}")
    return f


def _blur_window(opts: dict, stride, padding, dilation, ceil_mode) -> geometry.Window:
    """blurpool's window: the F x F binomial filter at the stride (default 2), on the
    reflect-padded input (so no padding, dilation or ceil mode of its own)."""
    if geometry_given(None, padding, dilation, ceil_mode):
        raise ValueError("blurpool takes --filter-size and --stride only "
                         "(it pads by reflection itself)")
    f = _filter_size(opts.get("filter_size", 3))
    s = parse_ints(2 if stride is None else stride, "stride", lengths=(1, 2))
    return geometry.window((f, f), s)


def _number(value, name: str) -> int | float:
    """A number option (``--ignore V``): ints stay ints (exact for 64-bit data)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _quantile_q(q) -> float:
    try:
        v = float(q)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(q, bool) or not 0.0 <= v <= 1.0:  # also NaN
        raise ValueError(f"q must be a number in [0, 1], got {q!r}")
    return v


def _check_select(spec: modes.Mode, opts: dict, win) -> None:
    """The options of mode, median, quantile, blurpool and max --antialias."""
    if spec.name == "mode" and opts.get("ignore") is not None:
        opts["ignore"] = _number(opts["ignore"], "ignore")
    if spec.name == "median" and opts.get("even", "lower") not in ("lower", "mean"):
        raise ValueError(f"even must be 'lower' or 'mean', got {opts.get('even')!r}")
    if spec.name == "quantile":
        _quantile_q(opts.get("q", 0.5))
    if opts.get("antialias"):
        _filter_size(opts.get("filter_size", 3))
        if win is not None and win.pools_frames:
            raise ValueError("--antialias blurs images: give a 1- or 2-number window")


def _check_fractional(opts: dict, given: bool, size) -> None:
    if given:
        raise ValueError("fractional takes a --size and --output-size or --ratio, "
                         "not --stride/--padding/--dilation/--ceil-mode")
    parse_size2(size, "size")
    if opts.get("output_size") is not None and opts.get("ratio") is not None:
        raise ValueError("give --output-size or --ratio, not both")
    if opts.get("output_size") is not None:
        limits.check_out_sizes(parse_size2(opts["output_size"], "output size"))
    elif opts.get("ratio") is not None:
        _ratios(opts["ratio"])
    else:
        raise ValueError("fractional needs --output-size HxW or --ratio R")
    if opts.get("samples") is not None:
        for u in parse_floats(opts["samples"], "samples", count=2):
            if not 0.0 <= u < 1.0:  # the same words as geometry.fractional_axis
                raise ValueError(f"fractional samples must be in [0, 1), got {u}")
    else:
        _check_seed(opts.get("seed"))


def _ratios(ratio) -> tuple[float, float]:
    if isinstance(ratio, (int, float)):
        rh, rw = float(ratio), float(ratio)
    else:
        rh, rw = (parse_floats(ratio, "ratio") * 2)[:2]
    for r in (rh, rw):
        if not 0 < r < 1:
            raise ValueError(f"ratio must be in (0, 1), got {r}")
    return rh, rw


def _positive(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _power(value) -> float:
    """lp's p: a number > 0, or infinity (the max of |x|)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"p must be a number, got {value!r}") from None
    if not v > 0:  # also NaN
        raise ValueError(f"p must be a number > 0 or inf, got {value!r}")
    return v


def _min_valid(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not 0.0 < v <= 1.0:
        raise ValueError(f"min_valid must be a fraction in (0, 1], got {value!r}")
    return v


def _nodata(value, dtype=None) -> float:
    """nodata V (a number, or "nan") -> float; checked against an integer ``dtype``."""
    if isinstance(value, str) and value.strip().lower() == "nan":
        v = float("nan")
    else:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"nodata must be a number or 'nan', got {value!r}") from None
    if dtype is not None and np.dtype(dtype).kind in "ui":
        if v != v:
            raise ValueError(f"nodata='nan' needs a floating-point array; this one is {dtype} "
                             "(give an integer nodata value)")
        info = np.iinfo(dtype)
        if v != int(v) or not info.min <= int(v) <= info.max:
            raise ValueError(f"nodata {value!r} is not a value of {np.dtype(dtype)} "
                             f"({info.min}..{info.max})")
    return v


def _alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        a = float("nan")
    if not 0.0 <= a <= 1.0:  # also NaN
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    return a


def _normalize(spec: modes.Mode, opts: dict) -> bool:
    norm = opts.get("normalize")
    return (spec.name != "weighted") if norm is None else bool(norm)


def _check_seed(seed) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def _seed(seed) -> int:
    """The given seed (checked), or a fresh random one."""
    if seed is None:
        import secrets  # here: it imports hashlib (~5 ms of every run otherwise)

        return secrets.randbits(53)  # [0, 2**53): exact in JSON readers (float64)
    return _check_seed(seed)


def _op_for(spec: modes.Mode, opts: dict, *, strict: bool = False) -> str:
    """The window reduction a mode uses (its --op for global/adaptive/spp; a false value is
    the default unless ``strict``, where only ``None`` is)."""
    if spec.name not in modes.OPS:
        return spec.name
    op = opts.get("op")
    if op is None or (not op and not strict):
        op = modes.OPS[spec.name][0]
    if op not in modes.OPS[spec.name]:
        raise ValueError(f"--op {op!r} is not available for {spec.name}; "
                         f"choose one of: {', '.join(modes.OPS[spec.name])}")
    return op


def _load_weights(weights) -> np.ndarray:
    """Weights (a path, or array-like) -> a finite (KH, KW, C) float64 array."""
    if weights is None:
        raise ValueError("weighted pooling needs weights "
                         "(--weights FILE.npy|.json, or weights=array)")
    if isinstance(weights, (str, bytes)) or hasattr(weights, "__fspath__"):
        from .learn import load_weights

        weights = load_weights(weights)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2:
        w = w[:, :, None]
    if w.ndim != 3 or 0 in w.shape:
        raise ValueError(f"weights must have shape KHxKW or KHxKWxC, got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite numbers")
    return w


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
    "binomial_filter", "CheckedOptions", "Plan", "Result", "check_options", "finish",
    "float_limits", "geometry_given", "make_plan", "mode_options",
]
