"""poolcli against PyTorch: the committed golden files, and a live comparison when torch is there.

The golden files (tests/golden/*.npz) are made by tests/golden/make_golden.py, run once in a
scratch environment with torch; torch is never a poolcli dependency.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import BACKENDS

import poolcli
from poolcli import api

GOLDEN = Path(__file__).resolve().parent / "golden"
FAMILIES = ["max_pool2d", "avg_pool2d", "lp_pool2d", "adaptive_max_pool2d", "adaptive_avg_pool2d",
            "fractional_max_pool2d", "max_pool3d", "avg_pool3d"]
ALL_BACKENDS = ["reference"] + BACKENDS


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def golden_cases():
    for family in FAMILIES:
        with np.load(GOLDEN / f"{family}.npz", allow_pickle=False) as data:
            count = sum(1 for key in data.files if key.endswith("_call"))
            for i in range(count):
                call = json.loads(str(data[f"{i}_call"]))
                yield pytest.param(data[f"{i}_x"], data[f"{i}_y"], call, id=f"{family}-{i}")


def compare(x, torch_y, call, backend):
    """poolcli.pool(x, **call) on ``backend`` against PyTorch's ``torch_y``.

    exact: the same operations, so float64 agrees to the last bit (max, fractional, adaptive
    max; avg_pool2d/3d too: the window summed in the same order, divided once); float32 maxima
    too, since the maximum is one of the inputs, but float32 averages only closely: PyTorch
    accumulates them in float32, poolcli in float64.
    close: the same value reached in another order (PyTorch's adaptive average divides by the
    bin height and then the width; lp_pool2d is an average multiplied back by kh*kw).
    lp_rescaled: PyTorch's lp_pool2d in ceil mode rescales a partial window by kh*kw / (cells
    inside): avg_pool2d divides by the clipped window and lp_pool2d multiplies by the full one.
    poolcli's plain norm is the sum over the cells inside, so poolcli^p == torch^p * inside /
    (kh*kw); full windows agree directly.
    """
    kwargs = {k: v for k, v in call.items() if k != "compare"}
    for key in ("size", "stride", "padding", "dilation", "output_size", "samples"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    result = api.run(x, backend=backend, **kwargs)
    got = result.array
    assert got.dtype == x.dtype and got.shape == torch_y.shape
    how = call["compare"]
    if how == "lp_rescaled":
        p = call["p"]
        inside = result.plan.divisors()  # cells inside each window (count_include_pad is off)
        full = float(np.prod(call["size"]))
        inside = inside[0] if got.ndim == 3 else inside
        want = (torch_y.astype(np.float64) ** p * (inside[..., None] / full)) ** (1 / p)
        assert (inside < full).any(), "the case must have partial windows"
        np.testing.assert_allclose(got, want.astype(x.dtype), rtol=1e-12 if x.dtype == np.float64 else 2e-6)
        return
    picks_an_input = call["mode"] in ("max", "fractional") or call.get("op") == "max"
    if how == "exact" and (x.dtype == np.float64 or picks_an_input):
        np.testing.assert_array_equal(got, torch_y, strict=True)
    elif x.dtype == np.float64:
        np.testing.assert_allclose(got, torch_y, rtol=1e-13, atol=1e-13, strict=True)
    else:
        np.testing.assert_allclose(got, torch_y, rtol=2e-6, atol=1e-5, strict=True)


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("x, torch_y, call", list(golden_cases()))
def test_golden(x, torch_y, call, backend):
    compare(x, torch_y, call, backend)


def test_golden_files_cover_every_family():
    maker = _load_maker()
    made = {family for family, *_ in maker.cases()}
    assert made == set(FAMILIES)
    for family in FAMILIES:
        with np.load(GOLDEN / f"{family}.npz", allow_pickle=False) as data:
            count = sum(1 for key in data.files if key.endswith("_call"))
            assert count == sum(1 for f, *_ in maker.cases() if f == family)
            assert any(data[f"{i}_x"].dtype == np.float64 for i in range(count))


@pytest.mark.parametrize("seed", [1, 2])
def test_live_against_torch(seed):
    torch = pytest.importorskip("torch", reason="torch is not installed (it is never a poolcli "
                                "dependency); tests/golden/*.npz hold its answers instead")
    maker = _load_maker()
    for family, x_nc, torch_call, call in maker.cases(seed):
        y = maker.channels_last(maker.torch_result(torch, x_nc, torch_call))
        x = maker.channels_last(x_nc)
        for backend in ALL_BACKENDS:
            try:
                compare(x, y, call, backend)
            except AssertionError as exc:
                raise AssertionError(f"{family} {call} on {backend}: {exc}") from None


def test_pool_matches_golden_through_public_api():
    with np.load(GOLDEN / "max_pool2d.npz", allow_pickle=False) as data:
        x, y = data["0_x"], data["0_y"]
    np.testing.assert_array_equal(poolcli.pool(x, "max", size=2), y)
