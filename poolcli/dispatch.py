"""Backend name -> module (numpy | cpu | cuda), imported only when needed.

Every backend module has ``NAME``, ``pool(x, plan)`` and one ``pool_<mode>``
per mode. ``auto`` picks by a cost model: Numba's start-up (import plus
runtime initialisation, ~0.45 s per process) is paid only when the work is
large enough to earn it back; the GPU only when it is usable and the work is
larger still.
"""

from __future__ import annotations

import importlib
import os

BACKENDS = ("auto", "cpu", "cuda", "numpy")

#: below this many window-cell visits, NumPy (no Numba start-up) finishes first.
#: Measured by benchmarks/startup.py: the reference runs ~40-80 M cell visits/s on 2 cores
#: and Numba costs ~0.45 s to start, so the break-even is a few tens of millions.
AUTO_NUMPY_MAX_CELLS = 20_000_000
#: above this many input bytes, a usable GPU beats the CPU (transfers included)
AUTO_CUDA_MIN_BYTES = 64 * 2**20


class BackendError(ValueError):
    """A backend that was asked for cannot run here (the message says why)."""


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
    if name not in BACKENDS or name == "auto":
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    if name == "numpy":
        return importlib.import_module("poolcli.reference")
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
    work = cell_visits(plan)
    if work < AUTO_NUMPY_MAX_CELLS:
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
