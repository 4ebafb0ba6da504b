"""poolcli against the oracles of issue 12 items 1-2 and issue 14 items 3-4 (tests/golden/
{int64,nodata,indices}.npz, made by tests/golden/make_golden_modes.py; definitions in
tests/golden/MODES_ORACLES.md): Python ints, mpmath, numpy.nan* and torch's
max_pool2d(return_indices=True) / max_unpool2d, on the numpy and cpu backends (the CUDA
simulator: tests/test_cuda.py). Cases of the modes another helper adds (mode, median,
quantile) are skipped here until those modes exist."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import poolcli

GOLDEN = Path(__file__).parent / "golden"


def golden_cases(family: str):
    with np.load(GOLDEN / f"{family}.npz", allow_pickle=False) as data:
        n = sum(k.endswith("_call") for k in data.files)
        for i in range(n):
            call = json.loads(str(data[f"{i}_call"]))
            arrays = {k.split("_", 1)[1]: data[k] for k in data.files
                      if k.split("_", 1)[0] == str(i) and not k.endswith("_call")}
            yield pytest.param(family, i, call, arrays, id=f"{family}-{i}-{call['mode']}")


CASES = [c for fam in ("int64", "nodata", "indices") for c in golden_cases(fam)]


def run_case(call: dict, arrays: dict, backend: str):
    """Call poolcli.pool as the golden case says; check y (and idx, unpool)."""
    call = dict(call)
    compare, rtol = call.pop("compare"), call.pop("rtol", None)
    call.pop("oracle", None)
    call.pop("note", None)
    if call.get("p") == "inf":
        call["p"] = float("inf")
    got = poolcli.pool(arrays["x"], backend=backend, **call)
    y = got[0] if call.get("return_indices") else got
    assert y.dtype == arrays["y"].dtype and y.shape == arrays["y"].shape
    if compare == "exact":
        np.testing.assert_array_equal(y, arrays["y"])
    else:
        np.testing.assert_allclose(y, arrays["y"], rtol=rtol)
    if call.get("return_indices"):
        idx = got[1]
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(idx, arrays["idx"])
        size = tuple(int(v) for v in arrays["unpool_size"])
        np.testing.assert_array_equal(poolcli.unpool(y, idx, output_size=size), arrays["unpool"])
    return y


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
@pytest.mark.parametrize(("family", "i", "call", "arrays"), CASES)
def test_golden_modes(family, i, call, arrays, backend):
    run_case(call, arrays, backend)


@pytest.mark.parametrize(("family", "i", "call", "arrays"),
                         [c for c in CASES if c.values[0] == "nodata"])
def test_masked_array_means_nodata(family, i, call, arrays):
    """The same cases as masked arrays (mask = the nodata cells, nodata not given): the same
    values where valid, and the result masked exactly where {i}_valid is False."""
    call = dict(call)
    for key in ("compare", "rtol", "oracle", "note"):
        call.pop(key, None)
    x = arrays["x"]
    nd = call.pop("nodata")
    mask = np.isnan(x) if nd == "nan" else x == np.asarray(nd).astype(x.dtype)
    y = poolcli.pool(np.ma.masked_array(x, mask=mask), backend="numpy", **call)
    assert isinstance(y, np.ma.MaskedArray)
    np.testing.assert_array_equal(~np.ma.getmaskarray(y), arrays["valid"])
    ok = arrays["valid"]
    np.testing.assert_allclose(np.asarray(y)[ok].astype(np.float64),
                               arrays["y"][ok].astype(np.float64), rtol=1e-6)


def test_issue12_examples():
    x = np.array([[2**63 - 1, -(2**63)], [0, 1]], np.int64)
    for backend in ("numpy", "cpu"):
        assert poolcli.pool(x, "max", backend=backend).tolist() == [[2**63 - 1]]
        assert poolcli.pool(x, "min", backend=backend).tolist() == [[-(2**63)]]
        u = np.array([[2**64 - 5, 3], [0, 1]], np.uint64)
        assert poolcli.pool(u, "max", backend=backend).tolist() == [[2**64 - 5]]
        big = np.full((2, 2), 2**63 - 1, np.int64)
        assert poolcli.pool(big, "avg", backend=backend).tolist() == [[2**63 - 1]]
        lp = np.array([[10, 20], [30, 200]], np.uint8)
        assert poolcli.pool(lp, "lp", p=200, backend=backend).tolist() == [[199]]
        assert poolcli.pool(lp, "lp", p=float("inf"), backend=backend).tolist() == [[200]]


def test_nodata_nan_on_integers_is_a_usage_error():
    with pytest.raises(ValueError, match="nan"):
        poolcli.pool(np.zeros((4, 4), np.uint8), "max", nodata="nan")
    with pytest.raises(ValueError, match="min_valid"):
        poolcli.pool(np.zeros((4, 4)), "avg", nodata=0, min_valid=0)


def test_masked_issue_example():
    x = np.ma.masked_array(np.array([[1, 2], [3, 250]], np.uint8), mask=[[0, 0], [0, 1]])
    y = poolcli.pool(x, "max", backend="numpy")
    assert isinstance(y, np.ma.MaskedArray) and y.tolist() == [[3]]
    everything = np.ma.masked_array(np.arange(4, dtype=np.uint8).reshape(2, 2), mask=True)
    assert poolcli.pool(everything, "avg").mask.tolist() == [[True]]


def test_min_valid_rule_tolerates_the_float_product():
    # 3 valid cells of 10: 0.3 * 10 = 3.0000000000000004, kept (DECISIONS: * (1 - 1e-12))
    x = np.zeros((1, 10))
    x[0, 3:] = -1.0
    y = poolcli.pool(x, "avg", size=(1, 10), nodata=-1.0, min_valid=0.3, backend="numpy")
    assert y.tolist() == [[0.0]]


def test_unpool_shapes():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    y, idx = poolcli.pool(x, "max", return_indices=True)
    assert idx.tolist() == [[5, 7], [13, 15]]
    u = poolcli.unpool(y, idx, output_size=(4, 4))
    assert u[1, 1] == 5 and u[3, 3] == 15 and u.sum() == 5 + 7 + 13 + 15
    with pytest.raises(ValueError):
        poolcli.unpool(y, idx, output_size=(2, 2))


def test_per_channel_stochastic():
    """Each channel draws its own cell: a channel whose only positive cell differs from the
    others' picks that cell; the same seed gives the same result on every backend; over
    many seeds the frequencies follow the values."""
    x = np.zeros((2, 2, 2), np.float64)
    x[0, 0, 0] = 1.0  # channel 0: only the top-left is positive
    x[1, 1, 1] = 1.0  # channel 1: only the bottom-right
    y = poolcli.pool(x, "stochastic", seed=3, per_channel=True, backend="numpy")
    assert y.tolist() == [[[1.0, 1.0]]]
    # colour-aligned draws pick one cell for both: one channel then gets 0
    aligned = poolcli.pool(x, "stochastic", seed=3, backend="numpy")
    assert sorted(aligned[0, 0].tolist()) == [0.0, 1.0]
    z = np.random.default_rng(0).random((6, 8, 3))
    a = poolcli.pool(z, "stochastic", seed=11, per_channel=True, backend="numpy")
    b = poolcli.pool(z, "stochastic", seed=11, per_channel=True, backend="cpu")
    np.testing.assert_array_equal(a, b)
    # frequencies: channel 0 of a window [1, 3] picks 3 about 3/4 of the time
    w = np.array([[[1.0], [3.0]]])
    picks = [poolcli.pool(w, "stochastic", size=(1, 2), seed=s, per_channel=True,
                          backend="numpy")[0, 0, 0] for s in range(400)]
    share = np.mean(np.array(picks) == 3.0)
    assert 0.68 < share < 0.82
