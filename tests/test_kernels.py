"""Every fast backend (helpers.BACKENDS) against the NumPy reference.

One matrix: every mode case x dtype x layout, each over the window geometries; then the edge
cases (1x1 images, constant images, dtype extremes, negative floats, NaN and infinities).
Exact equality, except for the exp/pow modes (helpers.assert_pool_equal says why).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    BACKENDS,
    DTYPES,
    GEOMETRIES,
    LAYOUTS,
    MODE_CASES,
    check_backend,
    random_array,
)

from poolcli import modes

SLIDING = {name for name, m in modes.MODES.items() if m.windows == "sliding"}
CASE_IDS = [case[0] for case in MODE_CASES]


def geometries_for(mode):
    return GEOMETRIES if mode in SLIDING else [("-", {})]


def seed_of(*parts) -> int:
    return sum(ord(ch) * (i + 1) for i, ch in enumerate("/".join(map(str, parts)))) % 2**32


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MODE_CASES, ids=CASE_IDS)
def test_matrix(case, dtype, layout, backend):
    name, mode, options = case
    x = random_array(np.random.default_rng(seed_of(name, dtype, layout)), LAYOUTS[layout], dtype)
    for _, geometry in geometries_for(mode):
        check_backend(x, mode, backend, **geometry, **options)


def test_the_matrix_covers_every_mode():
    assert {mode for _, mode, _ in MODE_CASES} == set(modes.MODES) - {"learn"}


# --------------------------------------------------------------------------------------------
# edge cases


def one_pixel_calls(mode, options):
    """Geometries that are valid on a 1x1 image."""
    if mode == "blurpool":  # reflect padding needs n > pad
        return [{**options, "filter_size": 1}]
    if options.get("antialias"):  # max at stride 1 first: a 1x1 window keeps the pixel
        return [{**options, "filter_size": 1, "size": 1}]
    if mode not in SLIDING:
        if mode == "adaptive":
            return [{**options, "output_size": (2, 3)}]
        if mode == "fractional":
            return [{"size": 1, "output_size": 1, "samples": (0.5, 0.5)}]
        return [options]
    if mode == "weighted":
        return [{**options, "weights": np.array([[2.0]])}, {**options, "padding": 1}]
    return [{**options, "size": 1}, {**options, "size": 2, "padding": 1},
            {**options, "size": 2, "ceil_mode": True}, {**options, "size": 3, "padding": "same"}]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MODE_CASES, ids=CASE_IDS)
def test_one_pixel(case, dtype, backend):
    _, mode, options = case
    for shape in [(1, 1), (1, 1, 3), (1, 1, 1, 2)]:
        x = random_array(np.random.default_rng(5), shape, dtype)
        for kwargs in one_pixel_calls(mode, options):
            y = check_backend(x, mode, backend, **kwargs)
            picks_the_pixel = mode in ("max", "min", "mixed", "fractional", "stochastic") or (
                mode == "avg" and not options.get("count_include_pad")) or (
                mode in ("global", "adaptive", "spp") and options.get("op", "max") in ("max", "min", "avg"))
            if x.size == 1 and picks_the_pixel:
                assert np.all(y == x.reshape(-1)[0]), (mode, kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MODE_CASES, ids=CASE_IDS)
def test_constant_images(case, dtype, backend):
    _, mode, options = case
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else None
    values = [info.min, info.max, (int(info.max) + int(info.min)) // 3] if info else [0.0, -3.25, 1e30]
    for value in values:
        # three channels, as the matrix's HWC layout: the same kernel specialisations (each
        # new channel count is one more per dtype and mode: seconds of compiling each)
        x = np.full((6, 7, 3), value, dtype=dtype)
        for _, geometry in geometries_for(mode):
            check_backend(x, mode, backend, **geometry, **options)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32"])
@pytest.mark.parametrize("case", MODE_CASES, ids=CASE_IDS)
def test_dtype_extremes_checkerboard(case, dtype, backend):
    _, mode, options = case
    info = np.iinfo(dtype)
    board = np.indices((8, 9)).sum(axis=0) % 2
    x = np.where(board[..., None] == 1, info.max, info.min).astype(dtype) * np.ones((1, 1, 3), dtype)
    for _, geometry in geometries_for(mode):
        check_backend(x, mode, backend, **geometry, **options)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", MODE_CASES, ids=CASE_IDS)
def test_negative_floats(case, dtype, backend):
    _, mode, options = case
    x = -np.abs(random_array(np.random.default_rng(9), (7, 8, 2), dtype)) - np.asarray(0.5, dtype)
    for _, geometry in geometries_for(mode):
        check_backend(x, mode, backend, **geometry, **options)


def with_specials(dtype, specials, seed=3):
    rng = np.random.default_rng(seed)
    x = random_array(rng, (8, 9, 2), dtype)
    flat = x.reshape(-1)
    for value in specials:
        flat[rng.integers(0, flat.size, size=6)] = value
    return x


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("specials", [[np.nan], [np.inf], [-np.inf], [np.inf, -np.inf, np.nan]],
                         ids=["nan", "inf", "-inf", "all"])
@pytest.mark.parametrize("case", MODE_CASES, ids=CASE_IDS)
def test_nan_and_infinities(case, specials, dtype, backend):
    _, mode, options = case
    x = with_specials(dtype, specials)
    for _, geometry in geometries_for(mode):
        check_backend(x, mode, backend, **geometry, **options)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["max", "min"])
def test_nan_propagates_in_every_position(mode, dtype, backend):
    for pos in range(4):  # first, middle and last cell of a 2x2 window
        x = np.arange(16, dtype=dtype).reshape(4, 4)
        x[pos // 2, pos % 2] = np.nan
        y = check_backend(x, mode, backend)
        assert np.isnan(y[0, 0]) and not np.isnan(y).reshape(-1)[1:].any()
    x = np.array([[-np.inf, 1.0], [2.0, np.inf]], dtype=dtype)
    assert check_backend(x, mode, backend)[0, 0] == (np.inf if mode == "max" else -np.inf)


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_rows_and_channels(backend):
    """Enough rows that the parallel loop splits, and channels that do not fit one vector."""
    rng = np.random.default_rng(17)
    x = random_array(rng, (61, 83, 5), "uint8")
    for mode, kwargs in [("max", {}), ("avg", {"size": 3, "stride": 2, "padding": 1}),
                         ("stochastic", {"seed": 1}), ("softpool", {"size": 3, "ceil_mode": True})]:
        check_backend(x, mode, backend, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_and_reversed_input(backend):
    x = random_array(np.random.default_rng(2), (10, 12, 3), "float64")
    for view in (x[::-1], x[:, ::2], x.transpose(1, 0, 2), x[..., 1:]):
        check_backend(view, "avg", backend, size=3, padding=1)
        check_backend(view, "max", backend)
