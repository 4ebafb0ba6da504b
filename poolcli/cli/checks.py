"""Checking a pooling command's window and mode options once, before any file is read.

``validate`` is the one seam to the library's shape-free checker: on this branch it still
plans on a stand-in shape big enough for the options (``_plan_on_stand_in``); once
``plan.check_options`` exists its body becomes that one call. Errors that depend on the
real image (an output that would be empty, weights with the wrong number of channels) are
reported per file later. NumPy is imported inside the functions, never at start-up.
"""

from __future__ import annotations

from .. import modes


def validate(spec: modes.Mode, geometry: dict, opts: dict) -> None:
    """Raise ValueError/TypeError (a usage error, exit 2) for options ``spec`` cannot take.

    ``geometry``: the window keywords given (``Window.given()``); ``opts``: the mode
    options given (``ModeOptions.given()``, weights loaded).
    """
    _plan_on_stand_in(spec, geometry, opts)


def dpi_scale(spec: modes.Mode, geometry: dict, opts: dict) -> tuple[float, float] | None:
    """The DPI divisor (height and width strides) of sliding windows, else None (the
    output's DPI then follows input size / output size). Call after ``validate``."""
    if spec.windows != "sliding":
        return None
    win = _window(spec, geometry, opts)
    return float(win.stride[1]), float(win.stride[2])


def _window(spec: modes.Mode, geometry: dict, opts: dict):
    import numpy as np

    from .. import geometry as geo

    if spec.name == "weighted":
        w = np.asarray(opts["weights"])
        size = w.shape[:2] if w.ndim >= 2 else 1
        return geo.window(size, **{k: v for k, v in geometry.items() if k != "size"})
    return geo.window(**geometry)


def _plan_on_stand_in(spec: modes.Mode, geometry: dict, opts: dict) -> None:
    """Today's check: ``api.make_plan`` on a 64^3 stand-in shape (bigger where the options
    need it). Goes away with ``plan.check_options``."""
    import math

    import numpy as np

    from .. import api
    from ..options import parse_floats, parse_levels, parse_size2

    dims = [64, 64, 64]
    channels = 1
    if spec.windows == "sliding":
        if spec.name == "weighted":
            if opts.get("weights") is None:
                raise ValueError("weighted pooling needs weights: --weights FILE.npy|.json")
            w = np.asarray(opts["weights"])
            channels = w.shape[2] if w.ndim == 3 else 1
        win = _window(spec, geometry, opts)
        dims = [max(64, win.dilation[i] * (win.size[i] - 1) + 1 + win.stride[i])
                for i in range(3)]
        if not win.pools_frames:
            dims[0] = 1
    elif spec.windows == "fractional":
        kh, kw = parse_size2(geometry.get("size", 2), "size")
        k = max(kh, kw)
        if opts.get("output_size") is not None:
            oh, ow = parse_size2(opts["output_size"], "output size")
            dims = [1, max(64, oh + k), max(64, ow + k)]
        elif opts.get("ratio") is not None:
            r = max(parse_floats(opts["ratio"], "ratio"))
            n = math.ceil((k - 1) / (1 - r)) + 2 if 0 < r < 1 else 64
            dims = [1, min(max(64, n), 10**6), min(max(64, n), 10**6)]
    elif opts.get("output_size") is not None:
        oh, ow = parse_size2(opts["output_size"], "output size")
        dims = [1, max(64, oh), max(64, ow)]
    if spec.windows != "sliding":
        dims[0] = 1
    shape = (dims[0], dims[1], dims[2], channels)
    if spec.name == "spp":  # adaptive pooling per level
        level_opts = {k: v for k, v in opts.items() if k != "levels"}
        for level in parse_levels(opts.get("levels") or (1, 2, 4)):
            level_opts["output_size"] = (level, level)
            api.make_plan(modes.MODES["adaptive"], shape, np.uint8, opts=level_opts)
    else:
        api.make_plan(spec, shape, np.uint8, **geometry, opts=opts)
