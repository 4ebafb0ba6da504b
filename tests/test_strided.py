"""The numpy backend's shortcut (strided views) against the reference oracle.

The shortcut applies when every window lies wholly inside the input; it must give the
reference's numbers bit for bit (max/min exact, integer sums exact, float sums in the
reference's order), and hand everything else to the reference unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolcli import api, modes, reference
from poolcli.kernels import strided

DTYPES = ["uint8", "uint16", "int8", "int16", "int32", "int64", "float32", "float64"]


@st.composite
def full_window_cases(draw):
    """A geometry whose windows all lie inside the input (no padding, floor mode)."""
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h = draw(st.integers(d[0] * (k[0] - 1) + 1, 14))
    w = draw(st.integers(d[1] * (k[1] - 1) + 1, 14))
    c = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(DTYPES))
    mode, opts = draw(st.sampled_from([("max", {}), ("min", {}), ("avg", {}), ("lp", {}),
                                       ("lp", {"p": 3.0, "normalize": False}),
                                       ("avg", {"count_include_pad": True})]))
    frames = draw(st.integers(1, 3))
    return dict(size=k, stride=s, dilation=d), (frames, h, w, c), np.dtype(dtype), mode, opts


def _data(rng, shape, dtype):
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=np.int64).astype(dtype)
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.integers(0, flat.size, size=max(1, flat.size // 10))] = np.nan
    flat[rng.integers(0, flat.size, size=max(1, flat.size // 20))] = -np.inf
    return x


@given(full_window_cases(), st.integers(0, 2**32 - 1))
def test_strided_equals_reference(case, seed):
    geometry, shape, dtype, mode, opts = case
    x = _data(np.random.default_rng(seed), shape, dtype)
    plan = api.make_plan(modes.MODES[mode], shape, dtype, **geometry, opts=opts)
    # lp with p != 2 goes to the reference (its largest |x| may need factoring out)
    assert strided.applies(plan) or (mode == "lp" and plan.p != 2.0)
    want = reference.pool(x, plan)
    got = strided.pool(x, plan)
    np.testing.assert_array_equal(got, want, strict=True)


@pytest.mark.parametrize("geometry", [
    {"size": 3, "stride": 2, "padding": 1},
    {"size": 3, "stride": 2, "ceil_mode": True},
    {"size": 3, "stride": 2, "padding": "same"},
])
def test_partial_windows_go_to_the_reference(geometry):
    x = np.arange(2 * 9 * 10 * 3, dtype=np.uint8).reshape(2, 9, 10, 3)
    plan = api.make_plan(modes.MODES["avg"], x.shape, x.dtype, **geometry)
    assert not strided.applies(plan)
    np.testing.assert_array_equal(strided.pool(x, plan), reference.pool(x, plan), strict=True)


def test_other_modes_go_to_the_reference():
    x = np.arange(8 * 8 * 3, dtype=np.float64).reshape(1, 8, 8, 3)
    plan = api.make_plan(modes.MODES["softpool"], x.shape, x.dtype)
    assert not strided.applies(plan)
    np.testing.assert_array_equal(strided.pool(x, plan), reference.pool(x, plan), strict=True)


def test_auto_uses_the_shortcut_for_a_photo_sized_block_average(monkeypatch):
    from poolcli import dispatch

    # a fresh process: Numba not started yet (other tests may have started it in this one)
    monkeypatch.setattr(dispatch, "startup_left", lambda: dispatch.NUMBA_STARTUP_S)
    plan = api.make_plan(modes.MODES["avg"], (1, 3000, 4000, 3), np.uint8)
    assert strided.applies(plan)
    assert dispatch.choose("auto", plan) == "numpy"


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("shape", [(1, 2 * (2 * strided.BAND + 5) + 1, 37, 3),
                                   (2, 2 * strided.BAND, 20, 1), (1, 2 * strided.BAND + 3, 9, 4)])
def test_the_2x2_mean_in_bands_equals_the_reference(dtype, shape):
    """Several bands of ``_mean_2x2`` (and a last, shorter one), odd sizes, 1-4 channels."""
    x = _data(np.random.default_rng(sum(shape)), shape, np.dtype(dtype))
    x[0, :4, :4] = np.arange(16).reshape(4, 4, 1) * 2 + 1  # halves: ties both ways
    plan = api.make_plan(modes.MODES["avg"], shape, x.dtype, size=2, stride=2)
    assert strided._is_2x2(plan)
    np.testing.assert_array_equal(strided.pool(x, plan), reference.pool(x, plan), strict=True)
