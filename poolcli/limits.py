"""Sizes that cannot be allocated are usage errors, found before anything is allocated.

Plain Python (the CLI's option checking imports it). Three bounds:

- every integer option fits int64 (``options.parse_ints``: the kernels' tables are int64,
  and NumPy's shapes are);
- the window tables (``geometry``: Python tuples, one entry per output index along each
  axis) fit in memory: checked from the output size alone, before a table is built;
- the output fits: its bytes within what a process can address (``make_plan``), and, for
  an array made in memory (``api.pool_dhwc``), within this machine's memory and the
  process's limits (``ulimit -v``, ``ulimit -d``).

Each raises ValueError with a one-line message naming the size (the CLI: exit 2 when the
options alone are absurd, else that file fails).
"""

from __future__ import annotations

import math
import os

#: refuse images larger than this many pixels per frame (from the header, before decoding):
#: Pillow's own decompression-bomb limit (~180 MP)
DEFAULT_MAX_PIXELS = 178_956_970
#: the largest integer option (and shape entry) accepted: int64's largest value
INT64_MAX = 2**63 - 1
#: the bytes a process can address on today's 64-bit machines (48-bit virtual addresses,
#: half of them for user space: x86-64 and arm64 Linux, macOS, Windows)
ADDRESS_SPACE = 2**47
#: bytes the window tables take per output index along one axis, with room to spare (about
#: 155 measured at the peak of building them in ``geometry``, plus the kernels' int64 copy)
TABLE_BYTES = 256


def memory_bytes() -> int:
    """What this process may allocate at most: physical memory, capped by its limits."""
    limit = ADDRESS_SPACE
    try:
        limit = min(limit, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass
    try:
        import resource

        for which in (resource.RLIMIT_AS, getattr(resource, "RLIMIT_DATA", None)):
            if which is None:
                continue
            soft = resource.getrlimit(which)[0]
            if soft != resource.RLIM_INFINITY and soft > 0:
                limit = min(limit, soft)
    except (ImportError, OSError, ValueError):  # pragma: no cover - Windows
        pass
    return limit


def human(n: int) -> str:
    """Bytes in binary units: ``human(3 * 2**30) == '3.0 GiB'``."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    i = 0 if n < 1024 else min(int(math.log(n, 1024)), len(units) - 1)
    return f"{n} bytes" if i == 0 else f"{n / 1024**i:.1f} {units[i]}"


def check_int(value: int, name: str) -> int:
    """An integer option fits int64."""
    if value > INT64_MAX:
        raise ValueError(f"{name} {value} is too large: at most 2**63 - 1")
    return value


def check_axis(out: int, axis: str = "axis") -> None:
    """The window tables of ``out`` output indices along one axis fit in memory (checked
    before they are built: building them for an absurd size would take all of it)."""
    need = out * TABLE_BYTES
    have = memory_bytes()
    if need > have:
        raise ValueError(f"output size {out} along {axis} is too large: its window tables "
                         f"alone would need {human(need)}, more than this machine's memory "
                         f"({human(have)})")


def check_output(shape: tuple[int, ...], itemsize: int, *, in_memory: bool = False) -> None:
    """An output of ``shape`` (items of ``itemsize`` bytes) can exist: its bytes fit what a
    process can address, and ``in_memory`` (an array, not a file written in strips) this
    machine's memory."""
    need = math.prod(shape) * itemsize
    have = memory_bytes() if in_memory else ADDRESS_SPACE
    if need > have:
        where = "this machine's memory" if in_memory else "what a process can address"
        dims = "x".join(str(n) for n in shape)
        raise ValueError(f"output shape {dims} is too large: it would need {human(need)}, "
                         f"more than {where} ({human(have)})")


def check_out_sizes(sizes: tuple[int, ...]) -> None:
    """Shape-free: output sizes (adaptive, fractional, spp levels) whose tables or output
    (one byte per cell at least) cannot exist, before any image is read."""
    for n, axis in zip(sizes, ("height", "width") if len(sizes) == 2 else ("axis",) * 3):
        check_axis(n, axis)
    check_output(tuple(sizes), 1)


__all__ = ["ADDRESS_SPACE", "INT64_MAX", "TABLE_BYTES", "check_axis", "check_int",
           "check_out_sizes", "check_output", "human", "memory_bytes"]
