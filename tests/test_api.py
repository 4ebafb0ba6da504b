"""pool() / run(): argument errors, dtypes and layouts in and out."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import BACKENDS

import poolcli
from poolcli import api, dispatch

ALL_BACKENDS = ["reference"] + BACKENDS
X = np.arange(48, dtype=np.uint8).reshape(6, 8)


def raises(exc, words, *args, **kwargs):
    with pytest.raises(exc) as info:
        poolcli.pool(*args, **kwargs)
    for w in [words] if isinstance(words, str) else words:
        assert w in str(info.value), str(info.value)


# --------------------------------------------------------------------------------------------
# argument errors


def test_unknown_mode_lists_the_modes():
    raises(ValueError, ["unknown mode 'medoid'", "max", "avg", "fractional"], X, "medoid")


def test_unknown_option_names_the_allowed_ones():
    raises(TypeError, ["mode 'max' does not take option(s) p", "it takes: nodata, min_valid, return_indices"], X,
           "max", p=3)
    raises(TypeError, ["does not take option(s) temprature", "temperature"], X, "softpool", temprature=2)


@pytest.mark.parametrize(
    "array, exc, words",
    [
        (np.zeros((4, 4), dtype=bool), TypeError, "boolean arrays are not supported; convert with x.astype(np.uint8)"),
        (np.zeros((4, 4), dtype=complex), TypeError, "dtype complex128 cannot be pooled"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "cannot be pooled"),
        (np.zeros((4, 4), dtype=object), TypeError, "dtype object cannot be pooled"),
        (np.zeros((2, 2, 4, 4, 3)), ValueError, "(H, W), (H, W, C) or (D, H, W, C) channels-last; got 5 dimensions"),
        (np.zeros(8), ValueError, "got 1 dimensions"),
        (np.float64(3.0), ValueError, "got 0 dimensions"),
        (np.zeros((0, 5)), ValueError, "cannot pool an empty array of shape (1, 0, 5, 1)"),
        (np.zeros((4, 4, 0)), ValueError, "empty array"),
        (np.zeros((0, 4, 4, 3)), ValueError, "empty array"),
    ],
)
def test_bad_arrays(array, exc, words):
    raises(exc, words, array, "max")


@pytest.mark.parametrize(
    "mode, kwargs, exc, words",
    [
        ("max", {"size": 0}, ValueError, "size must be at least 1, got 0"),
        ("max", {"size": 7}, ValueError, "output would be empty along height: input 6 with window 7"),
        ("max", {"size": 3, "padding": 2}, ValueError, "padding 2 along height is more than half the window"),
        ("max", {"padding": "same", "ceil_mode": True}, ValueError, "cannot be combined with --padding same"),
        ("max", {"size": (2, 2, 2)}, ValueError, "empty along frames"),
        ("max", {"size": (2, 2, 2), "stride": (1, 1)}, ValueError, "stride has 2 numbers but the window has 3 axes"),
        ("lp", {"p": 0}, ValueError, "p must be a number > 0 or inf, got 0"),
        ("lp", {"p": -1}, ValueError, "p must be a number > 0 or inf"),
        ("lp", {"p": float("nan")}, ValueError, "p must be a number > 0 or inf"),
        ("lp", {"p": "two"}, ValueError, "p must be a number, got 'two'"),
        ("softpool", {"temperature": 0}, ValueError, "temperature must be a finite number > 0"),
        ("mixed", {"alpha": 1.5}, ValueError, "alpha must be a number in [0, 1], got 1.5"),
        ("mixed", {"alpha": -0.1}, ValueError, "alpha must be a number in [0, 1], got -0.1"),
        ("mixed", {"alpha": "half"}, ValueError, "alpha must be a number in [0, 1], got 'half'"),
        ("mixed", {"random": True, "seed": -1}, ValueError, "seed must be a whole number >= 0, got -1"),
        ("stochastic", {"seed": True}, ValueError, "seed must be a whole number >= 0, got True"),
        ("stochastic", {"seed": 1.5}, ValueError, "seed must be a whole number"),
        ("global", {"op": "median"}, ValueError,
         "--op 'median' is not available for global; choose one of: avg, max, min, lp"),
        ("adaptive", {"op": "min", "output_size": 2}, ValueError, "choose one of: max, avg"),
        ("adaptive", {}, ValueError, "adaptive needs --output-size HxW"),
        ("adaptive", {"output_size": 0}, ValueError, "output size must be at least 1"),
        ("adaptive", {"output_size": "2x2x2"}, ValueError, "output size takes 1, 2 number(s)"),
        ("adaptive", {"output_size": 2, "stride": 2}, ValueError, "adaptive takes no --stride/--padding"),
        ("adaptive", {"output_size": 2, "ceil_mode": True}, ValueError, "adaptive takes no"),
        ("global", {"padding": 1}, ValueError, "global takes no --stride/--padding"),
        ("spp", {"stride": 3}, ValueError, "spp takes no --stride/--padding"),
        ("spp", {"levels": "1,0"}, ValueError, "levels must be whole numbers >= 1"),
        ("spp", {"levels": "a"}, ValueError, "levels must be a comma-separated list"),
        ("fractional", {}, ValueError, "fractional needs --output-size HxW or --ratio R"),
        ("fractional", {"output_size": 3, "ratio": 0.5}, ValueError, "give --output-size or --ratio, not both"),
        ("fractional", {"ratio": 1.5}, ValueError, "ratio must be in (0, 1), got 1.5"),
        ("fractional", {"ratio": 0}, ValueError, "ratio must be in (0, 1)"),
        ("fractional", {"output_size": 6}, ValueError, "output 6 with window 2 needs at least 7 input pixels"),
        ("fractional", {"output_size": 3, "samples": (0.1, 0.2, 0.3)}, ValueError, "samples takes 2 numbers, got 3"),
        ("fractional", {"output_size": 3, "samples": (0.1, 1.0)}, ValueError, "samples must be in [0, 1)"),
        ("fractional", {"output_size": 3, "stride": 1}, ValueError, "not --stride/--padding/--dilation/--ceil-mode"),
        ("weighted", {}, ValueError, "weighted pooling needs weights"),
        ("weighted", {"weights": np.ones(3)}, ValueError, "weights must have shape KHxKW or KHxKWxC, got (3,)"),
        ("weighted", {"weights": np.ones((2, 2, 3))}, ValueError, "weights have 3 channels but the image has 1"),
        ("weighted", {"weights": np.array([[1.0, np.nan]])}, ValueError, "weights must be finite numbers"),
        ("weighted", {"weights": np.array([[1.0, -1.0]]), "normalize": True}, ValueError,
         "--normalize needs weights whose sum is not zero"),
    ],
)
def test_bad_options(mode, kwargs, exc, words):
    raises(exc, words, X, mode, **kwargs)


def test_unknown_backend():
    with pytest.raises(dispatch.BackendError, match="unknown backend 'gpu'; choose one of"):
        poolcli.pool(X, "max", backend="gpu")
    assert issubclass(dispatch.BackendError, ValueError)


# --------------------------------------------------------------------------------------------
# dtypes and layouts


ALL_DTYPES = ["uint8", "uint16", "uint32", "int8", "int16", "int32", "int64", "float32", "float64"]


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("mode, kwargs", [("max", {}), ("avg", {}), ("lp", {"p": 3}), ("global", {}),
                                          ("spp", {"levels": (1, 2)}), ("stochastic", {"seed": 1})])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_dtype_preserved(dtype, mode, kwargs, backend):
    x = (np.arange(6 * 8 * 3) % 100).reshape(6, 8, 3).astype(dtype)
    if mode in ("avg", "lp"):
        # padded windows: the generic kernel (one specialisation per dtype for every op); the
        # fast kernels' dtypes are in test_cpu_fast.py and test_kernels.py, each 2x2 average
        # of another dtype would be seconds more of compiling here
        kwargs = {**kwargs, "size": 3, "stride": 2, "padding": 1}
    y = poolcli.pool(x, mode, backend=backend, **kwargs)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, poolcli.pool(x, mode, backend="numpy", **kwargs))


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_float16_in_float16_out(backend):
    x = (np.random.default_rng(0).standard_normal((6, 8, 3)) * 100).astype(np.float16)
    for mode, kwargs in [("max", {}), ("avg", {"size": 3, "padding": 1}), ("softpool", {}), ("global", {})]:
        y = poolcli.pool(x, mode, backend=backend, **kwargs)
        assert y.dtype == np.float16
        want = poolcli.pool(x.astype(np.float32), mode, backend="numpy", **kwargs).astype(np.float16)
        np.testing.assert_array_equal(y, want)
    assert poolcli.pool(np.array([[np.nan, 1]], dtype=np.float16), "max", size=(1, 2), backend=backend)[0, 0] != 0


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", [">f8", ">u2", ">i4", "<f4"])
def test_byte_order(dtype, backend):
    """Arrays from .npy files written elsewhere may be big-endian: same values, dtype kept."""
    x = (np.arange(6 * 8) % 50).reshape(6, 8).astype(dtype)
    for mode in ("max", "avg"):
        y = poolcli.pool(x, mode, backend=backend)
        assert y.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(y, poolcli.pool(x.astype(np.dtype(dtype).newbyteorder("=")), mode,
                                                      backend="numpy"))


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_layouts_round_trip(backend):
    x = np.random.default_rng(1).integers(0, 255, (2, 6, 8, 3)).astype(np.uint8)
    assert poolcli.pool(x[0, :, :, 0], "max", backend=backend).shape == (3, 4)
    assert poolcli.pool(x[0], "max", backend=backend).shape == (3, 4, 3)
    assert poolcli.pool(x, "max", backend=backend).shape == (2, 3, 4, 3)
    assert poolcli.pool(x, "max", size=(2, 2, 2), backend=backend).shape == (1, 3, 4, 3)
    np.testing.assert_array_equal(poolcli.pool(x[0, :, :, 0], "max", backend=backend),
                                  poolcli.pool(x, "max", backend=backend)[0, :, :, 0])
    # vectors: global -> one value per channel (per frame for volumes), spp -> 1-D features
    assert poolcli.pool(x[0, :, :, 0], "global", backend=backend).shape == (1,)
    assert poolcli.pool(x[0], "global", backend=backend).shape == (3,)
    assert poolcli.pool(x, "global", backend=backend).shape == (2, 3)
    assert poolcli.pool(x[0], "spp", levels=(1, 2), backend=backend).shape == (3 * 5,)
    assert poolcli.pool(x, "spp", levels=(1, 2), backend=backend).shape == (2, 3 * 5)


def test_input_is_not_modified_and_output_is_new():
    x = np.random.default_rng(2).random((6, 8, 3))
    before = x.copy()
    for backend in ALL_BACKENDS:
        y = poolcli.pool(x, "avg", backend=backend)
        assert not np.shares_memory(x, y)
    np.testing.assert_array_equal(x, before)


def test_lists_are_accepted():
    np.testing.assert_array_equal(poolcli.pool([[1, 2], [3, 4]], "max"), [[4]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": "2x2"}, {"size": (2, 2)}, {"size": [2, 2]}, {"size": np.int64(2)},
        {"size": (np.int64(2), np.int64(2))}, {"size": tuple(np.array([2, 2]))},
        {"stride": (np.int32(2), 2)}, {"padding": "0x0"}, {"padding": (0, 0)},
    ],
)
def test_geometry_spellings(kwargs):
    np.testing.assert_array_equal(poolcli.pool(X, "max", backend="numpy", **kwargs), poolcli.pool(X, "max"))


@pytest.mark.parametrize("kwargs", [{"padding": (0, 0)}, {"dilation": (1, 1)}, {"padding": "0"}])
def test_neutral_geometry_is_no_geometry(kwargs):
    """Explicitly giving the neutral padding/dilation is not giving a geometry."""
    want = poolcli.pool(X, "adaptive", output_size=(2, 3))
    np.testing.assert_array_equal(poolcli.pool(X, "adaptive", output_size=(2, 3), **kwargs), want)


def test_run_reports_plan_and_backend():
    result = api.run(X, "avg", backend="numpy")
    assert result.backend == "numpy" and result.plan.mode == "avg"
    assert result.plan.out_shape == (1, 3, 4, 1) and result.pool_seconds >= 0
    for backend in BACKENDS:
        assert api.run(X, "avg", backend=backend).backend == backend


def test_seeded_modes_are_reproducible_and_seed_dependent():
    x = np.random.default_rng(3).random((16, 16))
    for mode, kwargs in [("stochastic", {}), ("mixed", {"random": True}), ("fractional", {"output_size": 10})]:
        a = poolcli.pool(x, mode, seed=1, **kwargs)
        np.testing.assert_array_equal(a, poolcli.pool(x, mode, seed=1, **kwargs))
        assert not np.array_equal(a, poolcli.pool(x, mode, seed=2, **kwargs))
        for backend in ALL_BACKENDS:
            np.testing.assert_array_equal(a, poolcli.pool(x, mode, seed=1, backend=backend, **kwargs))


@pytest.mark.parametrize("backend", ["reference", "numpy", "cpu"])
def test_a_3d_window_one_frame_deep_counts_frames_in_its_indices(backend):
    """Indices of a 3-D window are d*H*W + h*W + w (PyTorch's max_pool3d), also when the
    window is one frame deep; a 2-D window's are h*W + w in each frame (max_pool2d per frame).
    Hand-computed: frames [[0], [1]] and [[2], [3]] (D=2, H=2, W=1)."""
    x = np.arange(4, dtype=np.uint8).reshape(2, 2, 1, 1)
    cases = [((1, 1, 1), [0, 1, 2, 3]), ((1, 2, 1), [1, 3]), ((2, 1, 1), [2, 3]),
             ((1, 1), [0, 1, 0, 1]), ((2, 1), [1, 1])]
    for size, want in cases:
        y, idx = poolcli.pool(x, "max", size=size, stride=1, backend=backend,
                              return_indices=True)
        assert idx.ravel().tolist() == want, size
        if len(size) == 3:  # one plane per channel: the whole volume
            np.testing.assert_array_equal(x.ravel()[want], y.ravel())
        else:  # one plane per frame
            for d in range(2):
                np.testing.assert_array_equal(x[d].ravel()[idx[d].ravel()], y[d].ravel())
        back = poolcli.unpool(y, idx, output_size=(2, 2, 1) if len(size) == 3 else (2, 1))
        assert back.shape == x.shape and back.sum() == y.sum()
