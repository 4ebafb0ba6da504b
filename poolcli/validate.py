"""Shape-free checking of a pooling's options: everything ``make_plan`` can know before it
sees an array.

``check_options(mode, *, size, stride, padding, dilation, ceil_mode, **opts)`` checks the
mode's options (names, with a "did you mean" for a near miss), ``--op``, the ranges of p,
temperature, alpha, q, filter size, nodata and min_valid, the seed, the weights file, the
window syntax and the padding rule, and which modes take no stride; it returns a
``CheckedOptions`` (the options normalised, the op code, the parsed window). The CLI calls
it once before reading any file; ``plan.make_plan`` calls it, then does what needs the
shape. Every error is a ValueError/TypeError with the CLI's words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import geometry, limits, modes
from .opcodes import OP_CODES, OP_MAX, OP_MIN
from .options import (
    API_KEYWORDS,
    did_you_mean,
    parse_floats,
    parse_ints,
    parse_levels,
    parse_padding,
    parse_size2,
)


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
