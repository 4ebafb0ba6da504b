"""The arrays people hold, around ``api.run``: named layouts, array-likes, xarray, Dask.

``api.pool`` hands every call here first. Whatever comes in is brought to the one layout
``api.run`` pools -- a channels-last (D, H, W, C) array -- and the result is put back:

- ``layout=`` names the axes: ``HW``, ``HWC``, ``DHWC`` (the default, inferred from ndim),
  ``CHW``, ``NCHW``, ``NHWC``, ``NCDHW``, ``NDHWC``. N is a batch of independent items,
  C the channels. Sizes, strides, paddings and dilations refer to the spatial axes only
  (``(H, W)``, or ``(D, H, W)`` with three numbers), never to N or C. With a 2-D window the
  batch is folded into the frame axis (``(N*D, H, W, C)``: one kernel call for the whole
  batch, and a random mode's draws differ per item); with a 3-D window each item is pooled
  on its own with the same plan (the same draws for every item).
- Array-likes (PyTorch CPU tensors, CuPy arrays, anything with ``__dlpack__`` or
  ``__array__``) are converted with ``np.from_dlpack`` / ``np.asarray``; a NumPy array
  comes back.
- An ``xarray.DataArray`` is pooled along the dims named in ``size`` (a dict); its other
  dims are channels (windows are shared across them). Dims, name, attrs and the
  coordinates not on a pooled dim are kept; a pooled dim's 1-D coordinates are
  interpolated at each window's centre (the centre of its cells inside the input, so
  ``coarsen(...).mean()`` for whole windows). A Dask-backed DataArray stays lazy.
- A Dask array is pooled block by block: the plan is made once for the whole array, the
  output is cut into blocks along D, H and W, and each block reads exactly the input
  cells its windows cover (overlap included), with the plan restricted to it -- the same
  windows, divisors and random draws (sliced from the whole output's) -- so the result is
  bit-identical to the in-memory one whatever the chunking.

This module does not import ``api`` (which calls it): ``api`` passes its entry points in
an ``Engine``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import numpy as np

from . import dispatch, geometry, modes
from .plan import Plan, Result, make_plan, mode_options

#: layout name -> whether it has a batch axis N and a depth axis D (the rest: H, W, C)
LAYOUTS = ("HW", "HWC", "DHWC", "CHW", "NCHW", "NHWC", "NCDHW", "NDHWC")
_CANON = "NDHWC"


class Engine(NamedTuple):
    """``api``'s entry points, handed in so that this module need not import ``api``."""

    run: Callable[..., Result]
    kernel_dtype: Callable[[Any], np.dtype]
    pool_dhwc: Callable[..., tuple[np.ndarray, float]]


# --------------------------------------------------------------------------------------------
# the entry point


def pool(engine: Engine, x: Any, mode: str, *, size: Any = 2, stride: Any = None,
         padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False, backend: str = "auto",
         layout: str | None = None, **options: Any) -> Result:
    """``api.pool``'s work: dispatch on what ``x`` is; -> a ``Result`` whose ``array`` is in
    the caller's layout (a DataArray, a Dask array, or an ndarray)."""
    geo = dict(size=size, stride=stride, padding=padding, dilation=dilation,
               ceil_mode=ceil_mode)
    if options.get("return_indices") and (_is_dataarray(x) or _is_dask(x)):
        raise ValueError("return_indices takes NumPy arrays and array-likes (any layout=), "
                         "not xarray DataArrays or Dask arrays")
    if _is_dataarray(x):
        return _pool_dataarray(engine, x, mode, geo, backend, layout, options)
    if not _is_dask(x):
        x = as_numpy(x)
    layout = check_layout(layout, x.shape)
    return _pool_layout(engine, x, mode, geo, backend, layout, options)


def as_numpy(x: Any) -> np.ndarray:
    """An ndarray (returned as is), or an array-like converted: ``__dlpack__`` without a copy
    where NumPy can read it (PyTorch CPU tensors), CuPy through ``.get()``, else
    ``np.asarray``."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (BufferError, RuntimeError, TypeError, ValueError):
            pass  # a device array, or a tensor that needs grad: the routes below
    if type(x).__module__.split(".")[0] == "cupy":
        return x.get()
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a PyTorch tensor that requires grad
        return x.detach().cpu().numpy()
    return np.asarray(x)


def check_layout(layout: str | None, shape: tuple[int, ...]) -> str:
    """The layout name (inferred from ndim when None, with a warning for a 4-D array that
    looks like NCHW); a ValueError when it does not fit the shape."""
    ndim = len(shape)
    if layout is None:
        if ndim == 4 and 1 <= shape[1] <= 4 and shape[-1] > 4:
            warnings.warn(
                f"a 4-D array of shape {tuple(shape)} is pooled as (D, H, W, C) channels-last, "
                f"but it looks like (N, C, H, W); pass layout='NCHW' (or layout='DHWC' to "
                "silence this warning)", UserWarning, stacklevel=4)
        inferred = {2: "HW", 3: "HWC", 4: "DHWC"}.get(ndim)
        if inferred is None:
            raise ValueError(
                "arrays must be (H, W), (H, W, C) or (D, H, W, C) channels-last; got "
                f"{ndim} dimensions {tuple(shape)}; name other axes with layout= (one of "
                f"{', '.join(LAYOUTS)})")
        return inferred
    if not isinstance(layout, str) or layout.upper() not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of: {', '.join(LAYOUTS)}")
    layout = layout.upper()
    if len(layout) != ndim:
        raise ValueError(f"layout {layout} has {len(layout)} axes but the array has {ndim} "
                         f"dimensions {tuple(shape)}")
    return layout


# --------------------------------------------------------------------------------------------
# layouts


def _pools_frames(spec: modes.Mode, geo: dict) -> bool:
    """Whether the window spans three axes (D too): sliding modes given 3-number sizes."""
    if spec.windows != "sliding" or spec.name == "weighted":
        return False
    try:
        return geometry.window(**geo).pools_frames
    except ValueError:
        return False  # api.run raises the same error with the CLI's words


def _pool_layout(engine: Engine, x: Any, mode: str, geo: dict, backend: str, layout: str,
                 options: dict) -> Result:
    """Any layout -> (N*D, H, W, C) or per-item (D, H, W, C) -> ``run`` -> back."""
    spec = modes.get(mode)
    frames = _pools_frames(spec, geo)
    if frames and "D" not in layout and layout in ("CHW", "NCHW", "NHWC"):
        raise ValueError(f"layout {layout} has 2 spatial axes (H, W); give size, stride, "
                         "padding and dilation 1 or 2 numbers")
    dask = _is_dask(x)
    if layout in ("HW", "HWC", "DHWC") and not dask:
        return engine.run(x, mode, backend=backend, **geo, **options)  # today's path, as is
    # to (N, D, H, W, C): missing axes inserted with length 1
    present = [a for a in _CANON if a in layout]
    x5 = x.transpose([layout.index(a) for a in present])
    x5 = x5.reshape(tuple(x5.shape[present.index(a)] if a in present else 1 for a in _CANON))
    n, d, h, w, c = x5.shape

    def back(y: Any) -> Any:
        """(N*Do, Ho, Wo, C) -> the caller's layout."""
        y5 = y.reshape((n, y.shape[0] // n) + tuple(y.shape[1:]))
        if y.ndim != 4:  # vector modes: (N*D, F) -> (N, D, F) -> drop the inserted axes
            keep = [i for i, a in enumerate("ND") if a in layout] + [2]
            return y5.reshape(tuple(y5.shape[i] for i in keep))
        y5 = y5.reshape(tuple(y5.shape[i] for i, a in enumerate(_CANON) if a in layout))
        return y5.transpose([present.index(a) for a in layout])

    if frames and n > 1:  # a 3-D window: each item alone, with the same plan
        items = [_run4(engine, x5[i], mode, geo, backend, options) for i in range(n)]
        stack = _stack(dask)
        res = dataclasses.replace(items[-1], array=stack([r.array for r in items]))
        res.array = res.array.reshape((n * res.array.shape[1],) + res.array.shape[2:])
        if items[-1].indices is not None:  # each item's indices are into its own volume
            idx = stack([r.indices for r in items])
            res.indices = idx.reshape((n * idx.shape[1],) + idx.shape[2:])
    else:
        res = _run4(engine, x5.reshape((n * d, h, w, c)), mode, geo, backend, options)
    # the indices (return_indices) follow the array into the caller's layout; each is the
    # flat index in its own (H, W) plane (or (D, H, W) volume), so folding N into D is exact
    indices = None if res.indices is None else back(res.indices)
    return dataclasses.replace(res, array=back(res.array), indices=indices)


def _stack(dask: bool) -> Callable[[list[Any]], Any]:
    if dask:
        import dask.array as da

        return da.stack
    return np.stack


def _run4(engine: Engine, x4: Any, mode: str, geo: dict, backend: str,
          options: dict) -> Result:
    """One (D, H, W, C) array, in memory or Dask."""
    if _is_dask(x4):
        return pool_dask(engine, x4, mode, geo, backend, options)
    return engine.run(x4, mode, backend=backend, **geo, **options)


# --------------------------------------------------------------------------------------------
# Dask arrays


def _is_dask(x: Any) -> bool:
    return type(x).__module__.startswith("dask.") and hasattr(x, "chunks")


def restrict_axis(axis: geometry.AxisWindows, o0: int, o1: int, r0: int,
                  r1: int) -> geometry.AxisWindows:
    """Windows o0..o1-1 of ``axis`` seen from input cells [r0, r1): only the starts move (the
    same cells, divisors and order), as ``strips.restrict_axis`` does for rows."""
    return geometry.AxisWindows(
        n=r1 - r0, start=tuple(s - r0 for s in axis.start[o0:o1]), lo=axis.lo[o0:o1],
        hi=axis.hi[o0:o1], total=axis.total[o0:o1], step=axis.step)


def _cells(axis: geometry.AxisWindows, o0: int, o1: int) -> tuple[int, int]:
    """The input cells [r0, r1) that windows o0..o1-1 read."""
    r0 = min(s + lo * axis.step for s, lo in zip(axis.start[o0:o1], axis.lo[o0:o1]))
    r1 = max(s + (hi - 1) * axis.step + 1 for s, hi in zip(axis.start[o0:o1], axis.hi[o0:o1]))
    return r0, r1


def _groups(axis: geometry.AxisWindows, target: int) -> list[tuple[int, int, int, int]]:
    """Output blocks (o0, o1, r0, r1) along one axis whose input span is about ``target``
    cells (at least one window each)."""
    out, o0 = [], 0
    while o0 < axis.out:
        o1 = o0 + 1
        r0, r1 = _cells(axis, o0, o1)
        while o1 < axis.out:  # the span grown window by window (linear, not quadratic)
            a, b = _cells(axis, o1, o1 + 1)
            if max(r1, b) - min(r0, a) > target:
                break
            r0, r1, o1 = min(r0, a), max(r1, b), o1 + 1
        out.append((o0, o1, r0, r1))
        o0 = o1
    return out


def _restrict(plan: Plan, blk: tuple[tuple[int, int, int, int], ...]) -> Plan:
    """``plan`` for the output block ``blk`` (per axis (o0, o1, r0, r1)) read from its input
    cells alone; the per-window arrays (mixed's alpha, stochastic's draws) are sliced."""
    axes = tuple(restrict_axis(a, *b) for a, b in zip(plan.axes, blk))
    sl = tuple(slice(b[0], b[1]) for b in blk)
    alpha = None if plan.alpha is None else np.ascontiguousarray(plan.alpha[sl])
    uniform = None if plan.uniform is None else np.ascontiguousarray(plan.uniform[sl])
    shape = tuple(b[3] - b[2] for b in blk) + (plan.in_shape[3],)
    return dataclasses.replace(plan, axes=axes, in_shape=shape, alpha=alpha, uniform=uniform)


def _block(engine: Engine, x: np.ndarray, plan: Plan, backend: str, linear: bool,
           dtype: np.dtype) -> np.ndarray:
    """Pool one block (a task of the Dask graph)."""
    x = np.ascontiguousarray(x, dtype=plan.dtype)
    y, _ = engine.pool_dhwc(x, plan, dispatch.load(backend), linear=linear)
    return y if y.dtype == dtype else y.astype(dtype)


def _whole(engine: Engine, x: np.ndarray, mode: str, geo: dict, backend: str,
           options: dict) -> np.ndarray:
    return engine.run(x, mode, backend=backend, **geo, **options).array


def pool_dask(engine: Engine, x4: Any, mode: str, geo: dict, backend: str,
              options: dict) -> Result:
    """A lazy (D, H, W, C) Dask array -> a lazy Result, block by block (see the module)."""
    import dask
    import dask.array as da

    spec = modes.get(mode)
    opts = mode_options(spec, options)
    if 0 in x4.shape:
        raise ValueError(f"cannot pool an empty array of shape {x4.shape}")
    kdtype = engine.kernel_dtype(x4.dtype)
    if spec.returns == "vector" or spec.windows == "global":
        # one window (or pyramid) over the whole image: one task over the whole array
        small = engine.run(np.zeros((1, 2, 2, x4.shape[3]), x4.dtype), mode, backend="numpy",
                           **geo, **options)
        shape = (x4.shape[0],) + small.array.shape[1:]
        task = dask.delayed(_whole)(engine, x4, mode, geo, backend, options)
        return dataclasses.replace(small, array=da.from_delayed(task, shape, small.array.dtype))
    plan = make_plan(spec, x4.shape, kdtype, opts=opts, **geo)
    be = dispatch.backend_for(backend, plan).NAME
    linear = bool(opts.get("linear_light"))
    per_axis = [_groups(a, max(max(ch), 1)) for a, ch in zip(plan.axes, x4.chunks[:3])]
    blocks: list = []
    for bd in per_axis[0]:
        rows: list = []
        for bh in per_axis[1]:
            cols = []
            for bw in per_axis[2]:
                blk = (bd, bh, bw)
                sub = _restrict(plan, blk)
                part = x4[bd[2]:bd[3], bh[2]:bh[3], bw[2]:bw[3], :]
                # the plan as one opaque literal: Dask would walk its tables item by item
                plan_d = dask.delayed(sub, traverse=False)
                task = dask.delayed(_block, pure=True)(engine, part, plan_d, be, linear, x4.dtype)
                shape = (bd[1] - bd[0], bh[1] - bh[0], bw[1] - bw[0], x4.shape[3])
                cols.append([da.from_delayed(task, shape, dtype=x4.dtype)])  # [C]
            rows.append(cols)
        blocks.append(rows)
    y = da.block(blocks)
    return Result(array=y, plan=plan, backend=be)


# --------------------------------------------------------------------------------------------
# xarray


def _is_dataarray(x: Any) -> bool:
    return type(x).__name__ == "DataArray" and type(x).__module__.startswith("xarray.")


def _by_dim(value: Any, dims: list[Hashable], name: str, default: Any) -> Any:
    """A per-dim dict (or one value for every dim) -> a tuple in ``dims`` order."""
    if isinstance(value, Mapping):
        extra = [k for k in value if k not in dims]
        if extra:
            raise ValueError(f"{name} names dim(s) {extra} that are not pooled; the pooled "
                             f"dims are {dims} (the keys of size)")
        return tuple(value.get(k, default(k) if callable(default) else default) for k in dims)
    if value is None or isinstance(value, (int, np.integer, str)):
        return value
    raise ValueError(f"{name} for a DataArray is one value or a dict by dim name, got {value!r}")


def _pool_dataarray(engine: Engine, arr: Any, mode: str, geo: dict, backend: str,
                    layout: str | None, options: dict) -> Result:
    import xarray as xr

    if layout is not None:
        raise ValueError("a DataArray names its own axes: give size={dim: k, ...} instead of "
                         "layout=")
    spec = modes.get(mode)
    keyed = next((v for v in (geo["size"], options.get("output_size")) if isinstance(v, Mapping)),
                 None)
    if keyed is None:
        if spec.windows == "sliding" and spec.name != "weighted":
            raise ValueError("pooling a DataArray needs the dims by name: size={'y': 2, "
                             f"'x': 2}} (its dims are {list(arr.dims)})")
        pooled = list(arr.dims[-2:])
    else:
        pooled = [d for d in arr.dims if d in keyed]
        missing = [k for k in keyed if k not in arr.dims]
        if missing or not 1 <= len(pooled) <= 3:
            raise ValueError(f"size names {list(keyed)}; the DataArray has dims "
                             f"{list(arr.dims)} (pool 1 to 3 of them)")
    size = _by_dim(geo["size"], pooled, "size", 2)
    geo = dict(geo, size=size,
               stride=_by_dim(geo["stride"], pooled, "stride",
                              lambda k: size[pooled.index(k)] if isinstance(size, tuple)
                              else size),
               padding=_by_dim(geo["padding"], pooled, "padding", 0),
               dilation=_by_dim(geo["dilation"], pooled, "dilation", 1))
    if isinstance(options.get("output_size"), Mapping):
        options = dict(options, output_size=_by_dim(options["output_size"], pooled,
                                                    "output_size", None))
    if len(pooled) == 1:  # one pooled dim: it is H, with a width of 1
        geo = {k: (v + (0 if k == "padding" else 1,)) if isinstance(v, tuple) else v
               for k, v in geo.items()}
    others = [d for d in arr.dims if d not in pooled]
    data = arr.transpose(*pooled, *others).data
    other_shape = data.shape[len(pooled):]
    shape = data.shape[:len(pooled)] + ((1,) if len(pooled) == 1 else ()) \
        + (math.prod(other_shape),)
    res = _pool_layout(engine, data.reshape(shape), mode, geo, backend,
                       "DHWC" if len(pooled) == 3 else "HWC", options)
    y = res.array
    if y.ndim != len(shape):
        raise ValueError(f"{spec.name} returns a vector, not a DataArray; pool arr.data")
    out_pooled = y.shape[:len(pooled)]
    y = y.reshape(out_pooled + tuple(other_shape))
    order = [(pooled + others).index(d) for d in arr.dims]
    y = y.transpose(order)
    axes = res.plan.axes[3 - len(pooled):] if len(pooled) > 1 else res.plan.axes[1:2]
    centre = {dim: window_centres(ax) for dim, ax in zip(pooled, axes)}
    coords = {}
    for name, c in arr.coords.items():
        hit = [d for d in c.dims if d in centre]
        if not hit:
            coords[name] = c.variable
        elif c.ndim == 1:
            coords[name] = xr.Variable(c.dims, interpolate(c.values, centre[hit[0]]), c.attrs)
        # coordinates over a pooled dim and another one (2-D lat/lon) are dropped
    out = xr.DataArray(y, dims=arr.dims, coords=coords, name=arr.name, attrs=arr.attrs)
    return dataclasses.replace(res, array=out)


def window_centres(axis: geometry.AxisWindows) -> np.ndarray:
    """Each window's centre in index space: the middle of its cells inside the input."""
    return np.array([s + axis.step * (lo + hi - 1) / 2
                     for s, lo, hi in zip(axis.start, axis.lo, axis.hi)], dtype=np.float64)


def interpolate(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A 1-D coordinate read at fractional indices ``at``: linear for numbers and datetimes,
    the cell at the left otherwise (labels)."""
    idx = np.arange(len(values), dtype=np.float64)
    if values.dtype.kind in "iuf":
        return np.interp(at, idx, values.astype(np.float64))
    if values.dtype.kind in "mM":
        ints = values.view(np.int64).astype(np.float64)
        return np.rint(np.interp(at, idx, ints)).astype(np.int64).view(values.dtype)
    return values[np.floor(at).astype(np.int64)]


__all__ = ["LAYOUTS", "Engine", "as_numpy", "check_layout", "interpolate", "pool", "pool_dask",
           "restrict_axis", "window_centres"]
