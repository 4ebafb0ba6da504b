"""``pool()``: validate, normalise to one (D, H, W, C) layout, build the plan, run a backend.

Integer rounding and clipping rule (one rule, stated once): max and min are
exact in the input dtype; every other mode is computed in float64 and, for
integer outputs, rounded to nearest with ties to even, then clipped to the
dtype's range (``kernels._ops.to_output`` in the kernels, ``finish`` here for
the reference). Floating-point arrays keep their dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import geometry, modes
from .options import parse_floats, parse_ints, parse_levels, parse_padding, parse_size2

#: op codes shared by every backend's window-reduction kernel
OP_MAX, OP_MIN, OP_AVG, OP_LP, OP_MIXED, OP_SOFT, OP_STOCH, OP_WEIGHTED = range(8)
_OP_CODES = {"max": OP_MAX, "fractional": OP_MAX, "min": OP_MIN, "avg": OP_AVG, "lp": OP_LP, "mixed": OP_MIXED,
             "softpool": OP_SOFT, "stochastic": OP_STOCH, "weighted": OP_WEIGHTED}

#: dtypes the kernels compute in; others are converted to these and back
KERNEL_DTYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "int64", "float32", "float64")


@dataclass
class Plan:
    """Everything a backend needs to pool one (D, H, W, C) array; backends only read it."""

    mode: str
    op: int  #: OP_* code of the window reduction
    axes: tuple[geometry.AxisWindows, geometry.AxisWindows, geometry.AxisWindows]
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

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(3, 4, M) int64 rows start/lo/hi/total per axis, and the (3,) steps: the kernels' input."""
        m = max(a.out for a in self.axes)
        tab = np.zeros((3, 4, m), dtype=np.int64)
        for i, a in enumerate(self.axes):
            for j, row in enumerate((a.start, a.lo, a.hi, a.total)):
                tab[i, j, : a.out] = row
        steps = np.array([a.step for a in self.axes], dtype=np.int64)
        return tab, steps

    def kernel_args(self) -> tuple:
        """The window kernels' arguments after (x, out), the same for the CPU and CUDA backends:
        tab, steps, op, fparams (p, temperature, value_scale, lo, hi), alpha, uniform, weights,
        flags (include_pad, normalize, is_int). Absent arrays are passed as tiny dummies."""
        tab, steps = self.tables()
        lo, hi = self.limits
        fparams = np.array([self.p, self.temperature, self.value_scale, lo, hi], dtype=np.float64)
        flags = np.array([self.count_include_pad, self.normalize, self.is_int], dtype=np.int64)
        dummy3, dummy4 = np.zeros((1, 1, 1)), np.zeros((1, 1, 1, 1))
        return (tab, steps, np.int64(self.op), fparams,
                dummy3 if self.alpha is None else self.alpha,
                dummy3 if self.uniform is None else self.uniform,
                dummy4 if self.weights is None else self.weights, flags)

    def divisors(self) -> np.ndarray:
        """Per-window divisor of averaging modes, shape (Do, Ho, Wo) float64."""
        rows = [np.asarray(a.total if self.count_include_pad else a.valid, dtype=np.float64) for a in self.axes]
        return rows[0][:, None, None] * rows[1][None, :, None] * rows[2][None, None, :]


@dataclass
class Result:
    """What ``run`` returns: the array (in the caller's layout) and the plan that made it."""

    array: np.ndarray
    plan: Plan
    backend: str
    pool_seconds: float = 0.0
    compile_seconds: float = 0.0


def float_limits(dtype) -> tuple[float, float]:
    """An integer dtype's range as the float64 values that convert back into it
    (2**63 - 1 is not a float64: int64 clips to the largest float64 below 2**63)."""
    info = np.iinfo(dtype)
    lo, hi = float(info.min), float(info.max)
    if int(hi) > info.max:
        hi = float(np.nextafter(hi, -np.inf))
    return lo, hi


def finish(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float64 results -> the output dtype: integers rounded half to even, then clipped."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        lo, hi = float_limits(dtype)
        return np.clip(np.rint(values), lo, hi).astype(dtype)
    return values.astype(dtype)


# --------------------------------------------------------------------------------------------
# argument checking


def _check_dtype(arr: np.ndarray) -> tuple[np.ndarray, np.dtype]:
    """-> (array in a kernel dtype, the dtype to give back)."""
    if arr.dtype == np.bool_:
        raise TypeError("boolean arrays are not supported; convert with x.astype(np.uint8)")
    if arr.dtype.kind not in "uif":
        raise TypeError(f"arrays of dtype {arr.dtype} cannot be pooled; use an integer or floating dtype")
    if not arr.dtype.isnative:  # big-endian .npy files: the kernels take the native byte order
        native = arr.astype(arr.dtype.newbyteorder("="))
        return _check_dtype(native)[0], arr.dtype
    if arr.dtype.name in KERNEL_DTYPES:
        return arr, arr.dtype
    if arr.dtype.kind == "f":  # float16, longdouble
        return arr.astype(np.float64 if arr.dtype.itemsize > 8 else np.float32), arr.dtype
    return arr.astype(np.int64 if arr.dtype.kind == "i" else np.uint64), arr.dtype  # pragma: no cover


def dhwc_view(arr: np.ndarray) -> np.ndarray:
    """(H, W) / (H, W, C) / (D, H, W, C) -> a (D, H, W, C) view (a memmap stays a memmap)."""
    if arr.ndim == 2:
        return arr[None, :, :, None]
    if arr.ndim == 3:
        return arr[None]
    if arr.ndim != 4:
        raise ValueError(
            f"arrays must be (H, W), (H, W, C) or (D, H, W, C) channels-last; got {arr.ndim} dimensions {arr.shape}"
        )
    return arr


def as_dhwc(arr: np.ndarray) -> np.ndarray:
    """(H, W) / (H, W, C) / (D, H, W, C) -> a C-contiguous (D, H, W, C) view or copy."""
    arr = dhwc_view(arr)
    if 0 in arr.shape:
        raise ValueError(f"cannot pool an empty array of shape {arr.shape}")
    return np.ascontiguousarray(arr)


def restore(y: np.ndarray, ndim: int) -> np.ndarray:
    """(D, H, W, C) -> the caller's layout."""
    if ndim == 2:
        return y[0, :, :, 0]
    if ndim == 3:
        return y[0]
    return y


def _options(spec: modes.Mode, given: dict) -> dict:
    unknown = sorted(set(given) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise TypeError(f"mode {spec.name!r} does not take option(s) {', '.join(unknown)}; it takes: {allowed}")
    opts = {k: modes.OPTION_DEFAULTS[k] for k in spec.options}
    opts.update({k: v for k, v in given.items() if v is not None})
    return opts


def _positive(value, name: str, *, allow_zero=False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def _seed(seed) -> int:
    if seed is None:
        import secrets  # here: it imports hashlib (~5 ms of every run otherwise)

        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def _op_for(spec: modes.Mode, opts: dict) -> str:
    """The window reduction a mode uses (its --op for global/adaptive/spp)."""
    if spec.name not in modes.OPS:
        return spec.name
    op = opts.get("op") or modes.OPS[spec.name][0]
    if op not in modes.OPS[spec.name]:
        raise ValueError(f"--op {op!r} is not available for {spec.name}; choose one of: {', '.join(modes.OPS[spec.name])}")
    return op


def _load_weights(weights, channels: int) -> np.ndarray:
    if weights is None:
        raise ValueError("weighted pooling needs weights (--weights FILE.npy|.json, or weights=array)")
    if isinstance(weights, (str, bytes)) or hasattr(weights, "__fspath__"):
        from .learn import load_weights

        weights = load_weights(weights)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2:
        w = w[:, :, None]
    if w.ndim != 3 or 0 in w.shape:
        raise ValueError(f"weights must have shape KHxKW or KHxKWxC, got {w.shape}")
    if w.shape[2] not in (1, channels):
        raise ValueError(f"weights have {w.shape[2]} channels but the image has {channels}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite numbers")
    return np.ascontiguousarray(w[None])


def _geometry_given(stride, padding, dilation, ceil_mode) -> bool:
    """Whether stride/padding/dilation/ceil_mode differ from their neutral values (padding
    ``(0, 0)`` or dilation ``"1x1"`` given explicitly is no geometry)."""
    if stride is not None or ceil_mode:
        return True
    pad = parse_padding(padding)
    return pad == "same" or any(pad) or any(v != 1 for v in parse_ints(dilation, "dilation"))


def make_plan(spec: modes.Mode, x4_shape, dtype, *, size=2, stride=None, padding=0, dilation=1,
              ceil_mode=False, opts: dict | None = None) -> Plan:
    """Check every argument and lay out the windows; raises ValueError/TypeError with the CLI's words."""
    opts = dict(opts or {})
    d, h, w, c = x4_shape
    dtype = np.dtype(dtype)
    op_name = _op_for(spec, opts)
    geometry_given = _geometry_given(stride, padding, dilation, ceil_mode)
    plan_kw: dict = {}

    if spec.windows == "sliding":
        if spec.name == "weighted":
            wts = _load_weights(opts.get("weights"), c)
            size = wts.shape[1:3]
            plan_kw["weights"] = wts
        win = geometry.window(size, stride, padding, dilation, ceil_mode)
        axes = geometry.sliding(x4_shape[:3], win)
    else:
        if geometry_given and spec.windows != "fractional":
            raise ValueError(f"{spec.name} takes no --stride/--padding/--dilation/--ceil-mode")
        if spec.windows == "global":
            axes = (geometry.identity_axis(d), geometry.global_axis(h), geometry.global_axis(w))
        elif spec.windows == "adaptive":
            if opts.get("output_size") is None:
                raise ValueError(f"{spec.name} needs --output-size HxW")
            oh, ow = parse_size2(opts["output_size"], "output size")
            axes = (geometry.identity_axis(d), geometry.adaptive_axis(h, oh, "height"), geometry.adaptive_axis(w, ow, "width"))
        else:  # fractional
            if geometry_given:
                raise ValueError("fractional takes a --size and --output-size or --ratio, not --stride/--padding/--dilation/--ceil-mode")
            kh, kw = parse_size2(size, "size")
            if opts.get("output_size") is not None and opts.get("ratio") is not None:
                raise ValueError("give --output-size or --ratio, not both")
            if opts.get("output_size") is not None:
                oh, ow = parse_size2(opts["output_size"], "output size")
            elif opts.get("ratio") is not None:
                rh, rw = (parse_floats(opts["ratio"], "ratio") * 2)[:2] if not isinstance(opts["ratio"], (int, float)) else (float(opts["ratio"]),) * 2
                for r in (rh, rw):
                    if not 0 < r < 1:
                        raise ValueError(f"ratio must be in (0, 1), got {r}")
                oh, ow = geometry.out_size_ratio(h, rh), geometry.out_size_ratio(w, rw)
            else:
                raise ValueError("fractional needs --output-size HxW or --ratio R")
            if opts.get("samples") is not None:
                uh, uw = parse_floats(opts["samples"], "samples", count=2)
                plan_kw["seed"] = None
            else:
                plan_kw["seed"] = _seed(opts.get("seed"))
                uh, uw = (float(v) for v in np.random.default_rng(plan_kw["seed"]).random(2))
            plan_kw["samples"] = (uh, uw)
            axes = (geometry.identity_axis(d), geometry.fractional_axis(h, kh, oh, uh, "height"),
                    geometry.fractional_axis(w, kw, ow, uw, "width"))

    plan = Plan(mode=spec.name, op=_OP_CODES[op_name], axes=axes, in_shape=tuple(x4_shape), dtype=dtype, **plan_kw)
    plan.count_include_pad = bool(opts.get("count_include_pad", False))
    if op_name == "lp" or spec.name == "lp":
        plan.p = _positive(opts.get("p", 2.0), "p")
    norm = opts.get("normalize")
    plan.normalize = (spec.name != "weighted") if norm is None else bool(norm)
    if spec.name == "weighted" and plan.normalize and abs(float(plan.weights.sum())) == 0.0:
        raise ValueError("--normalize needs weights whose sum is not zero")
    if spec.name == "softpool":
        plan.temperature = _positive(opts.get("temperature", 1.0), "temperature")
        plan.value_scale = 1.0 / float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0
    out3 = (axes[0].out, axes[1].out, axes[2].out)
    if spec.name == "mixed":
        alpha = opts.get("alpha", 0.5)
        try:
            a = float(alpha)
        except (TypeError, ValueError):
            a = float("nan")
        if not 0.0 <= a <= 1.0:  # also NaN
            raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
        if opts.get("random"):
            plan.seed = _seed(opts.get("seed"))
            plan.alpha = np.random.default_rng(plan.seed).integers(0, 2, size=out3).astype(np.float64)
        else:
            plan.alpha = np.full(out3, a, dtype=np.float64)
    if spec.name == "stochastic":
        plan.seed = _seed(opts.get("seed"))
        plan.uniform = np.random.default_rng(plan.seed).random(out3)  # one draw per window
    return plan


# --------------------------------------------------------------------------------------------
# sRGB linear light


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light (IEC 61966-2-1)."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def _value_range(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0


# --------------------------------------------------------------------------------------------
# the entry points


def run(x, mode: str, size=2, stride=None, padding=0, dilation=1, ceil_mode=False,
        backend="auto", alpha_channel: int | None = None, **options) -> Result:
    """Pool ``x`` and return the array with the plan and timings (the CLI's entry point).

    ``alpha_channel``: index of an alpha channel (images only). Averaging modes
    then weight colour by alpha (premultiplied) so transparent pixels do not bleed.
    """
    import time

    spec = modes.get(mode)
    opts = _options(spec, options)
    arr = np.asarray(x)
    arr, caller_dtype = _check_dtype(arr)
    ndim = arr.ndim
    x4 = as_dhwc(arr)
    linear = bool(opts.get("linear_light"))

    if spec.name == "spp":
        if _geometry_given(stride, padding, dilation, ceil_mode):
            raise ValueError("spp takes no --stride/--padding/--dilation/--ceil-mode")
        return _run_spp(x4, ndim, caller_dtype, spec, opts, backend, alpha_channel)

    plan = make_plan(spec, x4.shape, x4.dtype, size=size, stride=stride, padding=padding,
                     dilation=dilation, ceil_mode=ceil_mode, opts=opts)
    from . import dispatch

    be = dispatch.backend_for(backend, plan)
    t0 = time.perf_counter()
    premultiply = spec.averaging and plan.op not in (OP_MAX, OP_MIN) and alpha_channel is not None
    if linear or premultiply:
        y4 = _pool_image(x4, plan, be, linear, alpha_channel if premultiply else None)
    else:
        y4 = be.pool(x4, plan)
    elapsed = time.perf_counter() - t0
    y = restore(y4, ndim)
    if spec.returns == "vector":
        y = y4.reshape(y4.shape[0], y4.shape[3])
        if ndim < 4:
            y = y[0]
    if y.dtype != caller_dtype:
        y = y.astype(caller_dtype)
    return Result(array=y, plan=plan, backend=be.NAME, pool_seconds=elapsed)


def _pool_image(x4, plan: Plan, be, linear: bool, alpha_channel: int | None) -> np.ndarray:
    """Averaging modes on images: colour in linear light and/or premultiplied by alpha.

    Colour is carried in float64 (values in [0, 1]); the result is put back into the
    image's dtype with the single rounding rule.
    """
    dtype = plan.dtype
    scale = _value_range(dtype)
    v = x4.astype(np.float64) / scale
    colour = [i for i in range(x4.shape[3]) if i != alpha_channel]
    if linear:
        v[..., colour] = srgb_to_linear(v[..., colour])
    fplan = _replace(plan, dtype=np.dtype(np.float64), value_scale=1.0)
    if alpha_channel is not None:
        a = v[..., alpha_channel : alpha_channel + 1]
        v[..., colour] *= a
        y = be.pool(np.ascontiguousarray(v), fplan)
        pa = y[..., alpha_channel : alpha_channel + 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            y[..., colour] = np.where(pa > 0, y[..., colour] / np.where(pa > 0, pa, 1.0), 0.0)
    else:
        y = be.pool(np.ascontiguousarray(v), fplan)
    if linear:
        y[..., colour] = linear_to_srgb(y[..., colour])
    return finish(y * scale, dtype)


def _replace(plan: Plan, **changes) -> Plan:
    import dataclasses

    return dataclasses.replace(plan, **changes)


def _run_spp(x4, ndim, caller_dtype, spec, opts, backend, alpha_channel) -> Result:
    """Spatial pyramid pooling: adaptive pooling per level, each flattened channel-major."""
    import time

    from . import dispatch

    levels = parse_levels(opts.get("levels") or (1, 2, 4))
    feats, plan, be, elapsed = [], None, None, 0.0
    for level in levels:
        lopts = {k: v for k, v in opts.items() if k != "levels"}
        lopts["output_size"] = (level, level)
        plan = make_plan(modes.MODES["adaptive"], x4.shape, x4.dtype, opts=lopts)
        be = be or dispatch.backend_for(backend, plan)
        t0 = time.perf_counter()
        y4 = be.pool(x4, plan) if not opts.get("linear_light") else _pool_image(x4, plan, be, True, alpha_channel)
        elapsed += time.perf_counter() - t0
        feats.append(np.transpose(y4, (0, 3, 1, 2)).reshape(y4.shape[0], -1))  # (D, C*L*L)
    y = np.concatenate(feats, axis=1)
    if ndim < 4:
        y = y[0]
    plan = _replace(plan, mode="spp", extra={"levels": list(levels)})
    return Result(array=y.astype(caller_dtype), plan=plan, backend=be.NAME, pool_seconds=elapsed)


def pool(x, mode: str, size=2, stride=None, padding=0, dilation=1, ceil_mode=False,
         backend="auto", **options) -> np.ndarray:
    """Pool a channels-last array: (H, W), (H, W, C) or (D, H, W, C).

    ``mode`` is one of ``poolcli.modes.MODES``; the window follows PyTorch
    (``size``/``stride``/``padding``/``dilation``/``ceil_mode``, each an int or
    one per axis; ``padding="same"`` is TensorFlow's SAME). Mode options are
    keyword arguments named as the CLI's options in snake case. Integer dtypes
    come back in the input dtype, floating dtypes keep theirs; ``global``
    returns one value per channel and ``spp`` the 1-D feature vector.
    """
    return run(x, mode, size, stride, padding, dilation, ceil_mode, backend, **options).array
