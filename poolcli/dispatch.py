"""Backend name -> module (numpy | cpu | cuda), imported only when needed.

Every backend module has ``NAME``, ``pool(x, plan)`` and one ``pool_<mode>``
per mode. ``auto`` picks by a measured cost model (``estimate``): Numba's
start-up (import plus runtime initialisation, ~0.45 s per process, less what
``prewarm`` has already hidden behind decoding) is paid only when the work is
large enough to earn it back; the GPU only when it is usable and the work is
larger still.
"""

from __future__ import annotations

import importlib
import os

from .errors import BackendError

BACKENDS = ("auto", "cpu", "cuda", "numpy")

#: The cost model of ``auto`` (seconds = start-up + cell visits / rate). Measured on the
#: development machine (2-core Xeon, Python 3.11, Numba 0.68, warm cache) by
#: ``python -X importtime -c "import numba"`` and by timing ``import poolcli.kernels.cpu``
#: plus the first call of a cached kernel in a fresh process (0.20-0.24 s + 0.28-0.30 s),
#: and the reference's throughput by ``reference.pool`` on 1024x768x3 and 2000x1500x3
#: uint8 images, 2x2/s2 and 3x3/s2 (max/min ~180 M cell visits/s, avg/lp 50-140 M/s):
#: a 4000x3000 photo's 2x2 average (24 M visits) finishes sooner in NumPy than Numba starts.
NUMBA_STARTUP_S = 0.45
#: reference (NumPy) cell visits per second, by op code; unmeasured modes (several passes
#: per window) get the slowest rate
REF_RATE = {0: 170e6, 1: 170e6, 2: 100e6, 3: 100e6}
REF_RATE_OTHER = 30e6
#: the numpy backend's strided views (windows wholly inside the input): max/min/avg of a
#: 4000x3000x3 uint8 photo, 2x2/s2, ~40-60 ms on the development machine
STRIDED_RATE = 600e6
#: Python overhead of the reference per cell offset (a handful of NumPy calls)
REF_SECONDS_PER_OFFSET = 40e-6
#: the Numba CPU kernels' cell visits per second (the generic kernel; fast paths are faster)
CPU_RATE = 1.0e9
#: above this many input bytes, a usable GPU beats the CPU (transfers included)
AUTO_CUDA_MIN_BYTES = 64 * 2**20

_prewarm = {"thread": None, "started": None, "done": False}


def prewarm() -> None:
    """Start Numba in a background thread (import, runtime initialisation, thread pool)
    so that its ~0.45 s overlaps the decoding of the first image. Idempotent; never raises.
    The CLI calls it when the work may need the CPU backend, before decoding."""
    import threading
    import time

    if _prewarm["thread"] is not None:
        return

    def work():
        try:
            from .kernels import cpu

            cpu.warm()
            _prewarm["done"] = True
        except Exception:  # noqa: BLE001  a failed prewarm only costs the time it saves
            pass

    _prewarm["started"] = time.perf_counter()
    t = threading.Thread(target=work, name="poolcli-prewarm", daemon=True)
    _prewarm["thread"] = t
    t.start()


def worth_prewarming(plan, files: int = 1) -> bool:
    """Would ``auto`` pick the Numba CPU kernels for ``files`` images like this plan's,
    once Numba's start-up is hidden? Then start it now (``prewarm``), before decoding."""
    # only a clear win: importing Numba in a thread holds the GIL that decoding needs, so a
    # batch of small images loses more to that than the kernels save (measured: 100 JPEGs
    # of 1024x768, 2x2 avg, ~0.3 s saved by the kernels, more lost to the contention)
    cost = estimate(plan)
    return (cost["numpy"] * files > 2 * NUMBA_STARTUP_S
            and cost["numpy"] > cost["cpu"] - startup_left())


def startup_left() -> float:
    """Seconds of Numba start-up this process would still pay before a CPU kernel runs."""
    import sys
    import time

    if _prewarm["done"]:
        return 0.0
    if _prewarm["started"] is not None:
        return max(0.0, NUMBA_STARTUP_S - (time.perf_counter() - _prewarm["started"]))
    if "poolcli.kernels.cpu" in sys.modules:
        warmed = getattr(sys.modules["poolcli.kernels.cpu"], "warmed", False)
        return 0.0 if warmed else NUMBA_STARTUP_S / 2
    return NUMBA_STARTUP_S


def estimate(plan) -> dict:
    """The cost model's seconds for the numpy and cpu backends on this plan."""
    from .kernels import strided

    work = cell_visits(plan)
    if strided.applies(plan):
        numpy_s = work / STRIDED_RATE
    elif plan.mode in ("max", "min", "avg", "lp", "global", "adaptive"):
        numpy_s = work / REF_RATE.get(plan.op, REF_RATE_OTHER)
    else:
        numpy_s = work / REF_RATE_OTHER
    # the reference loops in Python over the cell offsets of the largest window
    offsets = 1
    for a in plan.axes:
        offsets *= max(a.hi) - min(a.lo)
    numpy_s += offsets * REF_SECONDS_PER_OFFSET
    return {"numpy": numpy_s, "cpu": startup_left() + work / CPU_RATE}


def cell_visits(plan) -> int:
    """Work of a plan: output values times cells per window (the cost model's unit)."""
    cells = 1
    for a in plan.axes:
        cells *= max(1, max(a.valid) if a.out else 1)
    do, ho, wo, c = plan.out_shape
    return do * ho * wo * c * cells


def cuda_status() -> tuple[bool, str]:
    """(usable, reason): whether the CUDA backend can run here, and why not."""
    try:
        from .kernels import cuda  # noqa: F401  (imports numba.cuda)
    except ImportError as exc:
        return False, f"numba-cuda is not installed ({exc}); pip install 'poolcli[cuda]'"
    from .kernels.cuda import status

    return status()


def load(name: str):
    """The backend module called ``name`` (``auto`` is resolved by ``backend_for``)."""
    if name == "reference":  # the oracle alone, without the numpy backend's shortcut (tests)
        return importlib.import_module("poolcli.reference")
    if name not in BACKENDS or name == "auto":
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    if name == "numpy":
        return importlib.import_module("poolcli.kernels.strided")
    if name == "cuda":
        ok, why = cuda_status()
        if not ok:
            raise BackendError(f"--backend cuda cannot run here: {why}")
        return importlib.import_module("poolcli.kernels.cuda")
    return importlib.import_module("poolcli.kernels.cpu")


def choose(name: str, plan) -> str:
    """Resolve ``auto`` for this plan."""
    if name != "auto":
        return name
    forced = os.environ.get("POOLCLI_BACKEND")
    if forced in BACKENDS and forced != "auto":
        return forced
    cost = estimate(plan)
    if cost["numpy"] <= cost["cpu"]:
        return "numpy"
    in_bytes = 1
    for n in plan.in_shape:
        in_bytes *= n
    in_bytes *= plan.dtype.itemsize
    if in_bytes >= AUTO_CUDA_MIN_BYTES and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        ok, _ = cuda_status()
        if ok:
            return "cuda"
    return "cpu"


def backend_for(name: str, plan):
    return load(choose(name, plan))
