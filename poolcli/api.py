"""``pool()``: validate, normalise to one (D, H, W, C) layout, build the plan, run a backend.

The backend contract (``Plan``, ``Result``, ``check_options``, ``make_plan``, ``finish``, the
op codes and the one rounding rule) lives in ``plan``; it is re-exported here for callers
that know it as ``api.Plan`` and so on. ``pool_dhwc`` is the public step below ``run`` that
pools one (D, H, W, C) array with a plan (``strips`` uses it block by block).
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from . import limits, modes
from .options import parse_levels
from .plan import (  # noqa: F401  (re-exported: api.Plan, api.finish, api.OP_MAX, ...)
    KERNEL_DTYPES,
    OP_AVG,
    OP_CODES,
    OP_LP,
    OP_MAX,
    OP_MIN,
    OP_MIXED,
    OP_SOFT,
    OP_STOCH,
    OP_WEIGHTED,
    CheckedOptions,
    Plan,
    Result,
    check_options,
    finish,
    float_limits,
    geometry_given,
    make_plan,
    mode_options,
)

if TYPE_CHECKING:
    import dask.array
    import numpy.typing as npt
    import xarray

# --------------------------------------------------------------------------------------------
# argument checking


def kernel_dtype(dtype) -> np.dtype:
    """The dtype an array of ``dtype`` is pooled in (its own, or the nearest kernel dtype);
    raises TypeError for dtypes that cannot be pooled."""
    return _check_dtype(np.empty(0, dtype=dtype))[0].dtype


def _check_dtype(arr: np.ndarray) -> tuple[np.ndarray, np.dtype]:
    """-> (array in a kernel dtype, the dtype to give back)."""
    if arr.dtype == np.bool_:
        raise TypeError("boolean arrays are not supported; convert with x.astype(np.uint8)")
    if arr.dtype.kind not in "uif":
        raise TypeError(f"arrays of dtype {arr.dtype} cannot be pooled; "
                        "use an integer or floating dtype")
    if not arr.dtype.isnative:  # big-endian .npy files: the kernels take the native byte order
        native = arr.astype(arr.dtype.newbyteorder("="))
        return _check_dtype(native)[0], arr.dtype
    if arr.dtype.name in KERNEL_DTYPES:
        return arr, arr.dtype
    if arr.dtype.kind == "f":  # float16, longdouble
        return arr.astype(np.float64 if arr.dtype.itemsize > 8 else np.float32), arr.dtype
    # every signed integer dtype is a kernel dtype; the one unsigned left is uint64, which no
    # kernel dtype holds: it is pooled in its own dtype (the kernels compile for it lazily)
    return arr, arr.dtype


def dhwc_view(arr: np.ndarray) -> np.ndarray:
    """(H, W) / (H, W, C) / (D, H, W, C) -> a (D, H, W, C) view (a memmap stays a memmap)."""
    if arr.ndim == 2:
        return arr[None, :, :, None]
    if arr.ndim == 3:
        return arr[None]
    if arr.ndim != 4:
        raise ValueError(
            "arrays must be (H, W), (H, W, C) or (D, H, W, C) channels-last; "
            f"got {arr.ndim} dimensions {arr.shape}"
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
    opts = mode_options(spec, options)
    # a masked array exists only once numpy.ma is imported: np.ma here would import it
    # (~20 ms) for every plain array (issue 17)
    if "numpy.ma" in sys.modules and isinstance(x, np.ma.MaskedArray):
        return _run_masked(x, mode, size, stride, padding, dilation, ceil_mode, backend,
                           alpha_channel, opts)
    if opts.get("antialias"):
        return _run_maxblur(x, size, stride, padding, dilation, ceil_mode, backend,
                            alpha_channel, opts)
    arr = np.asarray(x)
    arr, caller_dtype = _check_dtype(arr)
    ndim = arr.ndim
    x4 = as_dhwc(arr)

    if spec.name == "spp":
        if geometry_given(stride, padding, dilation, ceil_mode):
            raise ValueError("spp takes no --stride/--padding/--dilation/--ceil-mode")
        return _run_spp(x4, ndim, caller_dtype, spec, opts, backend, alpha_channel)

    plan = make_plan(spec, x4.shape, x4.dtype, size=size, stride=stride, padding=padding,
                     dilation=dilation, ceil_mode=ceil_mode, opts=opts)
    from . import dispatch

    be = dispatch.backend_for(backend, plan)
    t0 = time.perf_counter()
    y4, compile_s = pool_dhwc(x4, plan, be, linear=bool(opts.get("linear_light")),
                              alpha_channel=alpha_channel)
    elapsed = time.perf_counter() - t0
    idx = None
    if plan.return_indices:
        y4, idx4 = y4
        idx = restore(idx4, ndim)
    y = restore(y4, ndim)
    if spec.returns == "vector":
        y = y4.reshape(y4.shape[0], y4.shape[3])
        if ndim < 4:
            y = y[0]
    if y.dtype != caller_dtype:
        y = y.astype(caller_dtype)
    return Result(array=y, plan=plan, backend=be.NAME, pool_seconds=elapsed,
                  compile_seconds=compile_s, indices=idx)


def _run_masked(x, mode, size, stride, padding, dilation, ceil_mode, backend, alpha_channel,
                opts) -> Result:
    """A numpy.ma.MaskedArray: masked cells are absent, as nodata (``nodata`` given: they
    become V; else a value that no unmasked cell holds stands in for them); the result comes
    back masked where a window has too few valid cells."""
    from . import reference

    data = np.asarray(np.ma.getdata(x))
    mask = np.ma.getmaskarray(x)
    filled, nodata = _fill_masked(data, mask, opts.get("nodata"))
    opts = dict(opts, nodata=nodata)
    res = run(filled, mode, size, stride, padding, dilation, ceil_mode, backend, alpha_channel,
              **opts)
    if res.plan.mode == "spp" or "nodata" not in modes.MODES[mode].options:
        return res
    x4 = as_dhwc(filled)
    if x4.dtype != res.plan.dtype:
        x4 = x4.astype(res.plan.dtype)
    keep4 = reference.kept(x4, res.plan)
    invalid = ~(keep4.reshape(res.array.shape) if modes.MODES[mode].returns == "vector"
                else restore(keep4, data.ndim))
    y = res.array
    if y.dtype != data.dtype:  # a widened integer array: back to the caller's dtype
        y = np.where(invalid, 0, y).astype(data.dtype)
    res.array = np.ma.masked_array(y, mask=invalid)
    if res.indices is not None:
        res.indices = np.ma.masked_array(res.indices, mask=invalid)
    return res


def _fill_masked(data: np.ndarray, mask: np.ndarray, nodata):
    """-> (the data with masked cells set to the nodata value, that value)."""
    if nodata is not None or not mask.any():
        filled = data.copy()
        if mask.any():
            filled[mask] = np.nan if str(nodata).strip().lower() == "nan" else nodata
        return filled, nodata
    values = data[~mask]
    if data.dtype.kind == "f":
        if not np.isnan(values).any():
            return np.where(mask, np.nan, data).astype(data.dtype), "nan"
        for v in (-np.inf, np.inf):
            if not (values == v).any():
                return np.where(mask, v, data).astype(data.dtype), float(v)
        data = data.astype(np.float64)
        v = float(np.nextafter(np.nanmax(values[np.isfinite(values)]), np.inf)) \
            if np.isfinite(values).any() else 0.0
        return np.where(mask, v, data), v
    if data.dtype.kind in "ui":
        info = np.iinfo(data.dtype)
        used = np.unique(values)
        for v in (info.min, info.max):
            if not (used == v).any():
                return np.where(mask, data.dtype.type(v), data), int(v)
        gaps = np.nonzero(np.diff(used.astype(object) if data.dtype.itemsize == 8
                                  else used.astype(np.int64)) > 1)[0]
        if len(gaps):
            v = int(used[gaps[0]]) + 1
            return np.where(mask, data.dtype.type(v), data), v
        wider = np.int64 if data.dtype.itemsize >= 4 else np.int32
        v = int(info.min) - 1
        return np.where(mask, v, data.astype(wider)), v
    return data, nodata


def premultiplies(plan: Plan, alpha_channel: int | None) -> bool:
    """Whether ``pool_dhwc`` weights colour by the alpha channel: averaging modes (not a
    max or min reduction) of an image with an alpha channel."""
    return (alpha_channel is not None and modes.MODES[plan.mode].averaging
            and plan.op not in (OP_MAX, OP_MIN))


def pool_dhwc(x4: np.ndarray, plan: Plan, be, *, linear: bool = False,
              alpha_channel: int | None = None) -> tuple[np.ndarray, float]:
    """Pool one C-contiguous (D, H, W, C) array of ``plan.dtype`` with the backend module
    ``be`` (``dispatch.backend_for``): colour in linear light when ``linear``, and weighted
    by ``alpha_channel`` when ``premultiplies``. -> (the (Do, Ho, Wo, C) result, the
    seconds the backend spent compiling or loading its kernels)."""
    limits.check_output(plan.out_shape, plan.dtype.itemsize, in_memory=True)
    alpha = alpha_channel if premultiplies(plan, alpha_channel) else None
    if linear or alpha is not None:
        return _pool_image(x4, plan, be, linear, alpha)
    return be.pool_timed(x4, plan)


def _pool_image(x4, plan: Plan, be, linear: bool,
                alpha_channel: int | None) -> tuple[np.ndarray, float]:
    """Averaging modes on images: colour in linear light and/or premultiplied by alpha.

    Colour is carried in float64 in the image's own units (in [0, 1] only for the sRGB
    curve) and alpha as a weight in [0, 1], so a fully opaque image averages exactly as
    without alpha (no scaling round trip to move a .5 tie); the result is put back into the
    image's dtype with the single rounding rule. -> (result, compile seconds).
    """
    dtype = plan.dtype
    scale = _value_range(dtype)
    v = x4.astype(np.float64)
    colour = [i for i in range(x4.shape[3]) if i != alpha_channel]
    if linear:
        v[..., colour] = srgb_to_linear(v[..., colour] / scale)
    fplan = _replace(plan, dtype=np.dtype(np.float64), value_scale=1.0)
    if alpha_channel is not None:
        a = v[..., alpha_channel : alpha_channel + 1] / scale
        v[..., colour] *= a
        y, compile_s = be.pool_timed(np.ascontiguousarray(v), fplan)
        pa = y[..., alpha_channel : alpha_channel + 1] / scale
        with np.errstate(invalid="ignore", divide="ignore"):
            y[..., colour] = np.where(pa > 0, y[..., colour] / np.where(pa > 0, pa, 1.0), 0.0)
    else:
        y, compile_s = be.pool_timed(np.ascontiguousarray(v), fplan)
    if linear:
        y[..., colour] = linear_to_srgb(y[..., colour]) * scale
    return finish(y, dtype), compile_s


def _replace(plan: Plan, **changes) -> Plan:
    import dataclasses

    return dataclasses.replace(plan, **changes)


def _run_spp(x4, ndim, caller_dtype, spec, opts, backend, alpha_channel) -> Result:
    """Spatial pyramid pooling: adaptive pooling per level, each flattened channel-major."""
    import time

    from . import dispatch

    levels = parse_levels(opts.get("levels") or (1, 2, 4))
    feats, plan, be, elapsed, compile_s = [], None, None, 0.0, 0.0
    for level in levels:
        lopts = {k: v for k, v in opts.items() if k != "levels"}
        lopts["output_size"] = (level, level)
        plan = make_plan(modes.MODES["adaptive"], x4.shape, x4.dtype, opts=lopts)
        be = be or dispatch.backend_for(backend, plan)
        t0 = time.perf_counter()
        if opts.get("linear_light"):
            y4, seconds = _pool_image(x4, plan, be, True, alpha_channel)
        else:
            y4, seconds = be.pool_timed(x4, plan)
        elapsed += time.perf_counter() - t0
        compile_s += seconds
        feats.append(np.transpose(y4, (0, 3, 1, 2)).reshape(y4.shape[0], -1))  # (D, C*L*L)
    y = np.concatenate(feats, axis=1)
    if ndim < 4:
        y = y[0]
    plan = _replace(plan, mode="spp", extra={"levels": list(levels)})
    return Result(array=y.astype(caller_dtype), plan=plan, backend=be.NAME,
                  pool_seconds=elapsed, compile_seconds=compile_s)


def _run_maxblur(x, size, stride, padding, dilation, ceil_mode, backend, alpha_channel,
                 opts) -> Result:
    """MaxBlurPool (Zhang 2019): max pooling at stride 1 (same size, padding, dilation),
    then blurpool (``filter_size``) at the stride, as antialiased_cnns' models chain
    ``nn.MaxPool2d(k, 1)`` and ``BlurPool``."""
    from . import geometry
    from .validate import _check_select

    _check_select(modes.MODES["max"], dict(opts), None)
    win = geometry.window(size, stride, padding, dilation, ceil_mode)
    if win.pools_frames:
        raise ValueError("--antialias blurs images: give a 1- or 2-number window")
    first = run(x, "max", size, 1, padding, dilation, ceil_mode, backend, alpha_channel)
    second = run(first.array, "blurpool", stride=win.stride[1:], backend=backend,
                 alpha_channel=alpha_channel, filter_size=opts.get("filter_size", 3))
    plan = _replace(second.plan, extra={"antialias": True, "max_size": list(win.size[1:])})
    return Result(array=second.array, plan=plan, backend=second.backend,
                  pool_seconds=first.pool_seconds + second.pool_seconds,
                  compile_seconds=first.compile_seconds + second.compile_seconds)


Size = int | Sequence[int] | str
"""A window size, stride, padding or dilation: one int, one per axis, or ``"2x3"``; padding
also ``"same"``. For a DataArray, a dict by dim name."""


@overload
def pool(  # type: ignore[overload-overlap]
         x: xarray.DataArray, mode: str, size: Size | Mapping[Hashable, int] = 2,
         stride: Size | Mapping[Hashable, int] | None = None,
         padding: Size | Mapping[Hashable, int] = 0, dilation: Size | Mapping[Hashable, int] = 1,
         ceil_mode: bool = False, backend: str = "auto", layout: str | None = None,
         **options: Any) -> xarray.DataArray: ...
@overload
def pool(x: dask.array.Array, mode: str, size: Size = 2, stride: Size | None = None,
         padding: Size = 0, dilation: Size = 1, ceil_mode: bool = False, backend: str = "auto",
         layout: str | None = None, **options: Any) -> dask.array.Array: ...
@overload
def pool(x: npt.ArrayLike, mode: str, size: Size = 2, stride: Size | None = None,
         padding: Size = 0, dilation: Size = 1, ceil_mode: bool = False, backend: str = "auto",
         layout: str | None = None, **options: Any) -> npt.NDArray[Any]: ...


def pool(x: Any, mode: str, size: Any = 2, stride: Any = None, padding: Any = 0,
         dilation: Any = 1, ceil_mode: bool = False, backend: str = "auto",
         layout: str | None = None, **options: Any) -> Any:
    """Pool an array: NumPy (channels-last by default), any ``layout=``, an array-like
    (PyTorch CPU tensor, CuPy), an xarray DataArray or a Dask array.

    ``x``: ``(H, W)``, ``(H, W, C)`` or ``(D, H, W, C)`` channels-last, or the axes named by
    ``layout`` (``"HW"``, ``"HWC"``, ``"DHWC"``, ``"CHW"``, ``"NCHW"``, ``"NHWC"``,
    ``"NCDHW"``, ``"NDHWC"``; N a batch of items pooled alike, C channels); the result
    comes back in the same layout. Sizes, strides, paddings and dilations refer to the
    spatial axes only: ``(H, W)``, or ``(D, H, W)`` with three numbers.
    An xarray DataArray takes them by dim name (``size={"y": 2, "x": 2}``), keeps its
    dims, name, attrs and coordinates (pooled dims' at the window centres); a Dask array
    (or Dask-backed DataArray) comes back lazy, pooled block by block, equal bit for bit
    to the in-memory result.

    ``mode`` is one of ``poolcli.MODES``; the window follows PyTorch
    (``size``/``stride``/``padding``/``dilation``/``ceil_mode``, each an int or
    one per axis; ``padding="same"`` is TensorFlow's SAME). Mode options are
    keyword arguments named as the CLI's options in snake case (below). Integer dtypes
    come back in the input dtype, floating dtypes keep theirs; ``global``
    returns one value per channel and ``spp`` the 1-D feature vector.
    """
    from . import layouts

    engine = layouts.Engine(run, kernel_dtype, pool_dhwc)
    res = layouts.pool(engine, x, mode, size=size, stride=stride, padding=padding,
                       dilation=dilation, ceil_mode=ceil_mode, backend=backend, layout=layout,
                       **options)
    if options.get("return_indices"):
        return res.array, res.indices
    return res.array


def unpool(y, indices, output_size) -> np.ndarray:
    """Undo max pooling as ``torch.nn.functional.max_unpool2d``: zeros of the input's shape
    with each pooled value put back at its index (``pool(..., return_indices=True)``).

    ``y`` and ``indices`` (H, W), (H, W, C) or (D, H, W, C); ``output_size`` (H, W) of the
    input (per frame of a (D, H, W, C) stack), or (D, H, W) for indices of 3-D windows.
    Where windows overlap, the last value written wins (all are equal: the same cell).
    """
    from .options import parse_ints

    y = np.asarray(y)
    idx = np.asarray(indices)
    if y.shape != idx.shape:
        raise ValueError(f"the indices' shape {idx.shape} differs from the pooled array's "
                         f"{y.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be integers, got {idx.dtype}")
    size = parse_ints(tuple(output_size) if not isinstance(output_size, str) else output_size,
                      "output size", lengths=(2, 3))
    y4, i4 = dhwc_view(y), dhwc_view(idx)
    d, c = y4.shape[0], y4.shape[3]
    if len(size) == 3:
        if y.ndim != 4:
            raise ValueError("a DxHxW output size needs a (D, H, W, C) array")
        planes, plane = 1, size[0] * size[1] * size[2]
        out_shape = (*size, c)
        src, ind = y4.reshape(1, -1, c), i4.reshape(1, -1, c)
    else:
        planes, plane = d, size[0] * size[1]
        out_shape = (d, *size, c)
        src, ind = y4.reshape(d, -1, c), i4.reshape(d, -1, c)
    valid = ind >= 0  # -1: a window without a valid cell (nodata)
    if (ind >= plane).any():
        raise ValueError(f"an index ({int(ind.max())}) lies outside the output size "
                         f"{'x'.join(map(str, size))}")
    out = np.zeros((planes, plane, c), dtype=y.dtype)
    p_ix = np.broadcast_to(np.arange(planes)[:, None, None], ind.shape)
    c_ix = np.broadcast_to(np.arange(c)[None, None, :], ind.shape)
    out[p_ix[valid], ind[valid], c_ix[valid]] = src[valid]
    out = out.reshape(out_shape)
    return restore(out, y.ndim)


def _options_doc() -> str:
    """The docstring's section of mode options, from ``modes.OPTION_DEFAULTS``."""
    lines = ["", "    Mode options (keyword, default, the modes that take it):", ""]
    for name, default in modes.OPTION_DEFAULTS.items():
        users = [m.name for m in modes.MODES.values() if name in m.options]
        lines.append(f"    - ``{name}={default!r}``: {', '.join(users)}")
    return "\n".join(lines) + "\n"


pool.__doc__ = (pool.__doc__ or "") + _options_doc()
