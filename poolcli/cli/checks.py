"""Checking a pooling command's window and mode options once, before any file is read.

``validate`` is the CLI's one call to the library's shape-free checker,
``plan.check_options``: the mode's options, ``--op``, value ranges and the window syntax are
checked without any image. Errors that depend on the real image (an output that would be
empty, weights with the wrong number of channels) are reported per file later. NumPy is
imported inside the functions, never at start-up.
"""

from __future__ import annotations

from .. import modes


def validate(spec: modes.Mode, geometry: dict, opts: dict):
    """Raise ValueError/TypeError (a usage error, exit 2) for options ``spec`` cannot take;
    return ``plan.CheckedOptions``.

    ``geometry``: the window keywords given (``Window.given()``); ``opts``: the mode
    options given (``ModeOptions.given()``, weights loaded).
    """
    from ..plan import check_options

    if spec.name == "weighted" and opts.get("weights") is None:
        raise ValueError("weighted pooling needs weights: --weights FILE.npy|.json")
    return check_options(spec, **geometry, **opts)


def dpi_scale(checked) -> tuple[float, float] | None:
    """The DPI divisor (height and width strides) of sliding windows, else None (the
    output's DPI then follows input size / output size)."""
    if checked.window is None:
        return None
    return float(checked.window.stride[1]), float(checked.window.stride[2])
