"""Shared test helpers: the backends under test, the mode matrix, seeded data, and the
one comparison rule (``assert_pool_equal``) with its single, documented tolerance.

Every backend is compared with the NumPy reference alone (``backend="reference"``: the
oracle, without the ``numpy`` backend's strided shortcut).
The CUDA helper adds ``"cuda"`` to ``BACKENDS`` (one line) and the whole matrix runs on it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from poolcli import api, reference

#: the backends compared with the reference; add "cuda" here to run the matrix on it
#: ("numpy" is the reference plus its strided shortcut for windows inside the input)
BACKENDS = ["numpy", "cpu"]

DTYPES = ["uint8", "uint16", "int32", "float32", "float64"]

#: the three layouts the API takes, as small odd-sized shapes (odd sizes find edge bugs); 1 and
#: 3 channels (the CPU fast kernels specialise per channel count, seconds of compiling per
#: dtype and mode: 2 and 4 channels are in test_cpu_fast.py and the property tests)
LAYOUTS = {"HW": (7, 9), "HWC": (7, 9, 3), "DHWC": (3, 7, 9, 3)}

#: (id, mode, options) -- every mode, and the options that change the arithmetic
WEIGHTS_2X3 = np.array([[1.0, -0.5, 2.0], [0.25, 3.0, -1.0]])
MODE_CASES = [
    ("max", "max", {}),
    ("min", "min", {}),
    ("avg", "avg", {}),
    ("avg-include-pad", "avg", {"count_include_pad": True}),
    ("lp2", "lp", {}),
    ("lp3", "lp", {"p": 3.0}),
    ("lp2-plain", "lp", {"normalize": False}),
    ("lp1.5-plain-pad", "lp", {"p": 1.5, "normalize": False, "count_include_pad": True}),
    ("mixed", "mixed", {"alpha": 0.3}),
    ("mixed-random", "mixed", {"random": True, "seed": 7}),
    ("softpool", "softpool", {}),
    ("softpool-t0.25", "softpool", {"temperature": 0.25}),
    ("stochastic", "stochastic", {"seed": 11}),
    ("weighted", "weighted", {"weights": WEIGHTS_2X3}),
    ("weighted-norm", "weighted", {"weights": WEIGHTS_2X3 + 1.0, "normalize": True}),
    ("global-avg", "global", {"op": "avg"}),
    ("global-max", "global", {"op": "max"}),
    ("global-min", "global", {"op": "min"}),
    ("global-lp3", "global", {"op": "lp", "p": 3.0}),
    ("adaptive-max", "adaptive", {"output_size": (3, 4), "op": "max"}),
    ("adaptive-avg", "adaptive", {"output_size": (5, 7), "op": "avg"}),
    ("fractional", "fractional", {"output_size": (4, 5), "samples": (0.3, 0.8)}),
    ("fractional-seed", "fractional", {"ratio": 0.7, "seed": 3}),
    ("spp-max", "spp", {"levels": (1, 2, 3)}),
    ("spp-avg", "spp", {"levels": (2, 1), "op": "avg"}),
    # issue 14: selection (select_windows) and anti-aliasing (weighted pooling, reflect-padded)
    ("mode", "mode", {}),
    ("mode-ignore0", "mode", {"ignore": 0}),
    ("median", "median", {}),
    ("median-mean", "median", {"even": "mean"}),
    ("quantile0.3", "quantile", {"q": 0.3}),
    ("quantile0.9", "quantile", {"q": 0.9}),
    ("blurpool", "blurpool", {}),
    ("blurpool4-s3", "blurpool", {"filter_size": 4, "stride": 3}),
    ("maxblur", "max", {"antialias": True, "filter_size": 2}),
]

#: window geometries for the sliding modes: (id, keyword arguments of pool())
GEOMETRIES = [
    ("2x2", {}),
    ("3s2p1-ceil", {"size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("2x3-d2-p1", {"size": (2, 3), "stride": (1, 2), "padding": (1, 1), "dilation": 2}),
    ("same-3s2", {"size": 3, "stride": 2, "padding": "same"}),
]


def is_transcendental(mode: str, options: dict) -> bool:
    """Whether the result goes through exp or pow (not sqrt), whose last bit is library-dependent."""
    if mode == "softpool":
        return True
    uses_lp = mode == "lp" or options.get("op") == "lp"
    return uses_lp and float(options.get("p", 2.0)) != 2.0


def random_array(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Seeded data that covers a dtype: its extremes for integers, negatives for floats."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        x = rng.integers(int(info.min), int(info.max), size=shape, endpoint=True, dtype=np.int64)
        flat = x.reshape(-1)  # a view: put the extremes in on purpose
        flat[rng.integers(0, flat.size, size=max(1, flat.size // 8))] = info.max
        flat[rng.integers(0, flat.size, size=max(1, flat.size // 8))] = info.min
        return x.astype(dtype)
    return (rng.standard_normal(shape) * 50.0).astype(dtype)


def pool_pair(x, mode, backend, **kwargs) -> tuple[np.ndarray, np.ndarray, api.Result]:
    """(backend's array, reference's array, reference's Result) for the same call."""
    expected = api.run(x, mode, backend="reference", **kwargs)
    actual = api.pool(x, mode, backend=backend, **kwargs)
    return actual, expected.array, expected


def unrounded(x, result: api.Result) -> np.ndarray | None:
    """The reference's float64 value before rounding to an integer dtype (None for spp)."""
    if result.plan.mode == "spp" or result.plan.dtype.kind not in "ui":
        return None
    plan = dataclasses.replace(result.plan, dtype=np.dtype(np.float64))
    y4 = reference.pool(api.as_dhwc(np.asarray(x)), plan)
    ndim = np.asarray(x).ndim
    if result.plan.mode == "global":
        y = y4.reshape(y4.shape[0], y4.shape[3])
        return y[0] if ndim < 4 else y
    return api.restore(y4, ndim)


# The single tolerance of the suite, used only for modes that call exp or pow (softpool;
# lp with p != 2): NumPy's vectorised exp/pow and the libm (or CUDA) ones that Numba
# calls may differ in the last bit, and the sums of the weighted terms carry that over.
# Floats: a few units in the last place of the output dtype, measured at the magnitude of
# the largest input (a softmax-weighted mean of mixed signs can cancel, so the error is
# relative to the inputs, not the result). Integers: the float64 values agree to ~1e-15,
# so a rounded result can only differ by one where the exact value is a .5 tie.
ULPS = 4
TIE_SLACK = 1e-9


def assert_pool_equal(actual, expected, *, tolerant: bool = False, unrounded_expected=None,
                      scale: float = 0.0, context: str = "") -> None:
    """Same dtype, same shape, same values (NaN where NaN, same infinities).

    ``tolerant`` allows the tolerance above; ``unrounded_expected`` (the reference's float64
    values, for integer dtypes) lets an integer differ by one only at a .5 tie.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    msg = f" ({context})" if context else ""
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}{msg}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}{msg}"
    if not tolerant:
        np.testing.assert_array_equal(actual, expected, err_msg=context, strict=True)
        return
    if actual.dtype.kind in "ui":
        diff = np.abs(actual.astype(np.int64) - expected.astype(np.int64))
        bad = diff > 1
        if unrounded_expected is not None:
            frac = np.abs(np.asarray(unrounded_expected) - np.floor(unrounded_expected) - 0.5)
            at_tie = frac <= TIE_SLACK * np.maximum(1.0, np.abs(unrounded_expected))
            bad |= (diff == 1) & ~at_tie
        assert not bad.any(), (
            f"integers differ beyond a tie at {np.argwhere(bad)[:5].tolist()}: "
            f"{actual[bad][:5]} vs {expected[bad][:5]}{msg}")
        return
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e), err_msg="NaN positions" + msg)
    finite = np.isfinite(a) & np.isfinite(e)
    np.testing.assert_array_equal(a[~finite & ~np.isnan(a)], e[~finite & ~np.isnan(e)],
                                  err_msg="infinities" + msg)
    mag = np.maximum(np.maximum(np.abs(a), np.abs(e)), scale)[finite]
    allowed = ULPS * np.spacing(mag.astype(actual.dtype)).astype(np.float64)
    err = np.abs(a[finite] - e[finite])
    assert np.all(err <= allowed), (
        f"max error {err.max()} exceeds {ULPS} ulps (worst allowed {allowed[np.argmax(err)]}){msg}")


def check_backend(x, mode, backend, **kwargs) -> np.ndarray:
    """Pool with ``backend`` and with the reference, and assert they agree; the array."""
    actual, expected, result = pool_pair(x, mode, backend, **kwargs)
    options = {k: v for k, v in kwargs.items()
               if k not in ("size", "stride", "padding", "dilation", "ceil_mode")}
    tolerant = is_transcendental(mode, options)
    xf = np.asarray(x, dtype=np.float64)
    finite = xf[np.isfinite(xf)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    assert_pool_equal(actual, expected, tolerant=tolerant,
                      unrounded_expected=unrounded(x, result) if tolerant else None,
                      scale=scale, context=f"{mode} {kwargs} on {backend}, {np.asarray(x).dtype}")
    return actual
