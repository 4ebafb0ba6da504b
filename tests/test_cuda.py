"""The CUDA backend against the NumPy reference, on a real GPU or on Numba's CUDA simulator.

The simulator must be chosen before Numba is imported, so it runs as its own pytest
process (no GPU needed):

    NUMBA_ENABLE_CUDASIM=1 .venv/bin/pytest tests/test_cuda.py

In a plain run the tests that launch kernels run on a GPU when one is usable and
skip (saying why) when there is none; the compile-only check runs wherever the CUDA
toolkit's compiler libraries are present, GPU or not.
"""

from __future__ import annotations

import os
import types

import numpy as np
import pytest
import test_golden_modes as golden
import test_properties as props
from helpers import DTYPES, GEOMETRIES, LAYOUTS, MODE_CASES, check_backend, random_array
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolcli import api, dispatch, modes

pytestmark = pytest.mark.cuda

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
USABLE, WHY = dispatch.cuda_status()
needs_device = pytest.mark.skipif(
    not USABLE,
    reason=f"no usable GPU and the CUDA simulator is off ({WHY}); "
           "run NUMBA_ENABLE_CUDASIM=1 pytest tests/test_cuda.py",
)

#: threads per block and grid-stride cap for the tests: several blocks, partial blocks,
#: threads that loop, and the fast path's clamped columns all execute on tiny arrays
SMALL_TPB, SMALL_BLOCKS = 4, 3


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    if USABLE:
        from poolcli.kernels import cuda as kcuda

        monkeypatch.setattr(kcuda, "TPB", SMALL_TPB)
        monkeypatch.setattr(kcuda, "MAX_BLOCKS", SMALL_BLOCKS)


def _data(layout: str, dtype: str, seed: int = 0) -> np.ndarray:
    return random_array(np.random.default_rng(seed), LAYOUTS[layout], dtype)


# -------------------------------------------------------------------------------------------
# the matrix: every mode x dtype x layout, as for the CPU kernels


@needs_device
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("case", "mode", "options"), MODE_CASES, ids=[c[0] for c in MODE_CASES])
def test_modes_match_reference(case, mode, options, dtype, layout):
    check_backend(_data(layout, dtype), mode, "cuda", **options)


SLIDING = [c for c in MODE_CASES if modes.MODES[c[1]].windows == "sliding" and c[1] != "weighted"]


@needs_device
@pytest.mark.parametrize(("gid", "geometry"), GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
@pytest.mark.parametrize(("case", "mode", "options"), SLIDING, ids=[c[0] for c in SLIDING])
def test_geometries_match_reference(case, mode, options, gid, geometry):
    for dtype, layout in (("uint8", "HWC"), ("float64", "DHWC")):
        check_backend(_data(layout, dtype, seed=1), mode, "cuda", **geometry, **options)


# -------------------------------------------------------------------------------------------
# the 2x2 stride-2 fast path and its edges


@needs_device
@pytest.mark.parametrize("mode", ["max", "min", "avg"])
@pytest.mark.parametrize("shape", [(2, 2), (2, 3, 1), (5, 14, 3), (8, 23), (4, 6, 11, 2), (2, 5, 7, 3)],
                         ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_2x2_fast_path(mode, shape, dtype):
    """Widths past UNROLL * TPB output columns (clamped loads, partial blocks), odd sizes,
    several frames (even height: the fast path; odd height: the generic kernel)."""
    x = random_array(np.random.default_rng(2), shape, dtype)
    check_backend(x, mode, "cuda")


def test_fast_path_chosen_only_for_whole_2x2_windows():
    from poolcli.kernels import cuda as kcuda

    def plan(shape, mode="max", **kw):
        return api.make_plan(modes.MODES[mode], shape, np.uint8, opts={}, **kw)

    assert kcuda.fast_path(plan((1, 8, 10, 3))) == "pool2x2"
    assert kcuda.fast_path(plan((1, 7, 9, 3), "avg")) == "pool2x2"  # floor mode drops the edge
    assert kcuda.fast_path(plan((2, 8, 10, 1), "min")) == "pool2x2"
    assert kcuda.fast_path(plan((2, 7, 10, 1))) is None  # frames with an odd height
    assert kcuda.fast_path(plan((1, 7, 9, 3), ceil_mode=True)) is None  # partial windows
    assert kcuda.fast_path(plan((1, 8, 10, 3), padding=1)) is None
    assert kcuda.fast_path(plan((1, 8, 10, 3), stride=1)) is None
    assert kcuda.fast_path(plan((3, 8, 10, 3), size=(2, 2, 2), stride=(1, 2, 2))) is None  # across frames
    assert kcuda.fast_path(plan((1, 8, 10, 3), "lp")) is None
    assert kcuda.fast_path(plan((1, 8, 10, 3), size=3)) is None


# -------------------------------------------------------------------------------------------
# special values, randomness, reuse


@needs_device
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["max", "min", "avg", "lp", "mixed"])
@pytest.mark.parametrize("geometry", [{}, {"size": 3, "stride": 2, "padding": 1}], ids=["2x2", "3s2p1"])
def test_nan_and_infinities(mode, dtype, geometry):
    x = random_array(np.random.default_rng(3), (6, 10, 2), dtype)
    x[0, 0, 0] = np.nan
    x[2, 5, 1] = np.inf
    x[3, 3, 0] = -np.inf
    x[5, 9, 1] = np.nan
    with np.errstate(invalid="ignore", over="ignore"):
        check_backend(x, mode, "cuda", **geometry)


@needs_device
@pytest.mark.parametrize("mode", ["max", "avg", "softpool", "lp"])
def test_constant_and_extreme_images(mode):
    for value in (0, 255):
        x = np.full((5, 7, 3), value, dtype=np.uint8)
        y = check_backend(x, mode, "cuda", size=3, stride=2, padding=1)
        assert np.all(y == value)


@needs_device
@pytest.mark.parametrize(("mode", "options"), [("stochastic", {"seed": 5}), ("mixed", {"random": True, "seed": 9}),
                                               ("fractional", {"ratio": 0.6, "seed": 4})])
def test_same_seed_same_output_as_cpu(mode, options):
    x = _data("HWC", "uint8", seed=6)
    np.testing.assert_array_equal(api.pool(x, mode, backend="cuda", **options),
                                  api.pool(x, mode, backend="cpu", **options))


@needs_device
def test_buffers_reused_and_timings_reported():
    from poolcli.kernels import cuda as kcuda

    x = _data("HWC", "float32")
    check_backend(x, "avg", "cuda")
    first = kcuda._buffers["x"]
    check_backend(x + 1, "max", "cuda")
    assert kcuda._buffers["x"] is first  # same shape and dtype: the device array is reused
    check_backend(x.astype(np.float64), "max", "cuda")
    assert kcuda._buffers["x"] is not first
    assert set(kcuda.last_timings) == {"upload", "compile", "kernel", "download"}
    assert all(v >= 0 for v in kcuda.last_timings.values())


@needs_device
@pytest.mark.skipif(SIMULATOR, reason="the simulator runs one Python thread per GPU thread: too slow for this size")
@pytest.mark.parametrize("mode", ["max", "avg", "lp"])
@pytest.mark.parametrize("geometry", [{}, {"size": 3, "stride": 2}], ids=["2x2", "3s2"])
def test_larger_image_default_blocks(mode, geometry, monkeypatch):
    """The default launch configuration (256 threads, many blocks) on a real GPU."""
    from poolcli.kernels import cuda as kcuda

    monkeypatch.setattr(kcuda, "TPB", 256)
    monkeypatch.setattr(kcuda, "MAX_BLOCKS", 0)
    for dtype in ("uint8", "float32"):
        check_backend(random_array(np.random.default_rng(7), (301, 517, 3), dtype), mode, "cuda", **geometry)


def test_status_never_raises_and_explains():
    from poolcli.kernels import cuda as kcuda

    ok, why = kcuda.status()
    assert isinstance(ok, bool) and isinstance(why, str) and why
    if SIMULATOR:
        assert ok and "simulator" in why


def test_every_mode_has_a_cuda_function():
    from poolcli import reference
    from poolcli.kernels import cuda as kcuda

    assert kcuda.NAME == "cuda"
    for name in modes.MODES:
        if hasattr(reference, f"pool_{name}"):
            assert callable(getattr(kcuda, f"pool_{name}")), name


# -------------------------------------------------------------------------------------------
# compile-only: device code the simulator cannot see (typing, NVVM), for every kernel dtype


#: the compute capability the compile-only check targets: given explicitly, compile_ptx needs
#: no driver (NVVM and NVRTC come from the test extras' cuda-toolkit wheels)
PTX_CC = (8, 0)


def _toolkit_missing() -> str | None:
    if SIMULATOR:
        return "the CUDA simulator is active: it compiles nothing (run without NUMBA_ENABLE_CUDASIM)"
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover
        return f"numba.cuda cannot be imported: {exc}"
    if getattr(cuda, "implementation", "") != "NVIDIA":
        return "numba-cuda is not installed (pip install 'poolcli[cuda]')"
    try:
        cuda.compile_ptx(lambda a: None, "void(float32[:])", cc=PTX_CC)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"the CUDA toolkit's compiler libraries (NVVM/NVRTC) are missing (the test extras "
                f"install them on Linux; no wheels elsewhere): {first}")
    return None


@pytest.mark.parametrize("dtype", api.KERNEL_DTYPES)
def test_kernels_compile_to_ptx(dtype, monkeypatch):
    missing = _toolkit_missing()
    if missing:
        pytest.skip(missing)
    import numba
    import numba.cuda.dispatcher as cuda_dispatcher
    from numba import cuda

    if not cuda.is_available():
        # numba-cuda compiles the device functions a kernel calls for the *current* device,
        # even under compile_ptx: without a GPU, that device is one of compute capability PTX_CC
        monkeypatch.setattr(cuda_dispatcher, "get_current_device",
                            lambda: types.SimpleNamespace(compute_capability=PTX_CC))

    from poolcli.kernels import cuda as kcuda

    x = np.zeros((1, 4, 6, 3), dtype=dtype)
    plan = api.make_plan(modes.MODES["avg"], x.shape, x.dtype, opts={})
    out = np.zeros(plan.out_shape, dtype=dtype)
    # one signature per dtype covers every mode: the op code and the tables are arguments
    median = api.make_plan(modes.MODES["median"], x.shape, x.dtype, opts={})
    select = (x.reshape(-1, 3), out) + median.select_args()
    for kernel, args in ((kcuda.reduce_windows, kcuda.reduce_args(plan, x, out)),
                         (kcuda.pool2x2, kcuda.pool2x2_args(plan, x, out)),
                         (kcuda.select_windows, select)):
        ptx, _ = cuda.compile_ptx(kernel.py_func, tuple(numba.typeof(a) for a in args), cc=PTX_CC)
        assert ".entry" in ptx


# -------------------------------------------------------------------------------------------
# issue 12 / 14: the golden oracles (int64, nodata, indices) and the properties, on cuda

GOLDEN_CUDA = [c for fam in ("int64", "nodata", "indices") for c in golden.golden_cases(fam)
               if fam != "nodata" or c.values[2]["mode"] in ("max", "min", "avg")]


@needs_device
@pytest.mark.parametrize(("family", "i", "call", "arrays"), GOLDEN_CUDA)
def test_golden_int64_nodata_indices(family, i, call, arrays):
    golden.run_case(call, arrays, "cuda")


#: the simulator runs a Python thread per GPU thread: a few examples (the small blocks
#: fixture stays for the whole test, hence the health check)
CUDA_FEW = settings(settings.default, max_examples=8,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@needs_device
@CUDA_FEW
@given(data=st.data(), geometry=props.geometries(), dtype=st.sampled_from(["int64", "uint64"]))
def test_64bit_extremes_property(data, geometry, dtype):
    props.test_64bit_extremes_exact_max_min_and_avg_never_wraps.hypothesis.inner_test(
        data, geometry, dtype, "cuda")


@needs_device
@CUDA_FEW
@given(data=st.data(), geometry=props.geometries(), dtype=st.sampled_from(DTYPES),
       p=st.just(float("inf")) | st.floats(1.0, 3000.0), normalize=st.booleans())
def test_lp_large_p_property(data, geometry, dtype, p, normalize):
    props.test_lp_large_p_equals_reference_and_never_overflows.hypothesis.inner_test(
        data, geometry, dtype, p, normalize, "cuda")


@needs_device
@CUDA_FEW
@given(data=st.data(), geometry=props.geometries(), dtype=st.sampled_from(DTYPES),
       mode=st.sampled_from(["max", "min", "avg", "median"]),
       min_valid=st.none() | st.floats(0.05, 1.0))
def test_nodata_property(data, geometry, dtype, mode, min_valid):
    props.test_nodata_backend_equals_reference.hypothesis.inner_test(
        data, geometry, dtype, mode, min_valid, "cuda")


@needs_device
@CUDA_FEW
@given(data=st.data(), geometry=props.geometries(), dtype=st.sampled_from(DTYPES),
       mode=st.sampled_from(["max", "min", "adaptive"]))
def test_indices_property(data, geometry, dtype, mode):
    props.test_indices_backend_equals_reference_and_unpool.hypothesis.inner_test(
        data, geometry, dtype, mode, "cuda")
