"""PyTorch's window geometry, computed once in plain Python.

Every pooling mode is "reduce the cells of each window". A window along one
axis is ``start + j*step`` for ``j`` in ``range(k)``; the cells with
``lo <= j < hi`` lie inside the input, the others in the padding. These
per-axis tables (one entry per output index) are all a kernel needs, whatever
produced them: sliding windows (size, stride, padding, dilation, ceil mode),
adaptive bins, fractional starts, or one window over the whole axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from .limits import INT64_MAX, check_axis
from .options import parse_ints, parse_padding

AXIS_NAMES = ("frames", "height", "width")


@dataclass(frozen=True)
class AxisWindows:
    """The windows along one axis, one entry per output index."""

    n: int  #: input length
    start: tuple[int, ...]  #: raw position of cell j=0 (negative: in the left padding)
    lo: tuple[int, ...]  #: first cell index j inside the input
    hi: tuple[int, ...]  #: one past the last cell index j inside the input
    #: cells inside the padded extent (the divisor under count_include_pad)
    total: tuple[int, ...]
    step: int = 1  #: dilation
    left: int = 0  #: padding before the first input cell (sliding windows; else 0)
    right: int = 0  #: padding after the last input cell (sliding windows; else 0)
    #: start of the window PyTorch's ceil-mode rule dropped (it would start in the right
    #: padding), or None
    dropped: int | None = None

    def __hash__(self) -> int:
        # computed once: the tables of a 4096-wide image are tuples of thousands of ints, and
        # every lru_cache keyed on an axis hashes it again (~10 us each, per file)
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.n, self.start, self.lo, self.hi, self.total, self.step,
                      self.left, self.right, self.dropped))
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def out(self) -> int:
        return len(self.start)

    @cached_property  # computed once per (lru-cached) table: the cost model asks per file
    def valid(self) -> tuple[int, ...]:
        return tuple(h - lo for lo, h in zip(self.lo, self.hi))

    @cached_property  # computed once per table; every backend's fast path asks
    def regular(self) -> tuple[int, int, int] | None:
        """``(k, stride, first)`` when every window is whole -- its ``k`` cells all inside the
        input, none in the padding or past the edge -- and window ``i`` starts at
        ``first + i * stride`` (stride 1 for a single window); else None. Dilation is
        ``step``, not part of this answer."""
        if self.out < 1:
            return None
        k = self.hi[0]
        # ``total``: a window cut by the padding is not whole, even when every window of a
        # restricted table (a Dask block, a strip) is cut alike (its divisor is not k)
        if any(lo != 0 for lo in self.lo) or any(h != k for h in self.hi) \
                or any(t != k for t in self.total):
            return None
        first = self.start[0]
        s = self.start[1] - first if self.out > 1 else 1
        if s < 1 or any(st != first + i * s for i, st in enumerate(self.start)):
            return None
        return k, s, first


def pytorch_out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length as PyTorch's ``pooling_output_shape``, with its ceil-mode drop rule."""
    return _pytorch_out(n, k, s, p, d, ceil_mode)[0]


def _pytorch_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> tuple[int, int | None]:
    """(output length, start of the window the ceil-mode rule dropped or None)."""
    span = d * (k - 1) + 1
    numerator = n + 2 * p - span + ((s - 1) if ceil_mode else 0)
    out = numerator // s + 1  # floor division: PyTorch's div_rtn
    if ceil_mode and (out - 1) * s >= n + p:
        return out - 1, (out - 1) * s - p  # the last window would start in the right padding
    return out, None


def _windows(n: int, starts: list[int], k: int | list[int], d: int, right_edge: int,
             left: int = 0, dropped: int | None = None) -> AxisWindows:
    """Tables for windows of ``k`` cells spaced ``d`` apart starting at ``starts``.

    ``right_edge`` is the end of the padded extent (``n + right padding``), used for ``total``;
    ``left`` the padding before the input, ``dropped`` as ``AxisWindows.dropped``.
    """
    ks = [k] * len(starts) if isinstance(k, int) else list(k)
    lo, hi, total = [], [], []
    for s0, kk in zip(starts, ks):
        first = 0 if s0 >= 0 else (-s0 + d - 1) // d
        last = min(kk, (n - s0 + d - 1) // d)
        lo.append(first)
        hi.append(max(first, last))
        total.append(min(kk, (right_edge - s0 + d - 1) // d))
    return AxisWindows(n=n, start=tuple(starts), lo=tuple(lo), hi=tuple(hi), total=tuple(total),
                       step=d, left=left, right=right_edge - n, dropped=dropped)


def check_padding(k: int, p: int | str, ceil_mode: bool, axis: str = "axis") -> None:
    """The shape-free rules of one axis: SAME excludes ceil mode; padding at most k // 2."""
    if p == "same":
        if ceil_mode:
            raise ValueError("--ceil-mode cannot be combined with --padding same "
                             "(SAME already keeps every pixel)")
    elif p > k // 2:
        raise ValueError(
            f"padding {p} along {axis} is more than half the window: "
            f"size {k} allows padding 0..{k // 2}"
        )


def check_window(w: Window) -> None:
    """``check_padding`` for every pooled axis, in the order ``sliding`` meets them; and
    a window's cell count fits int64 (the kernels' divisor under count_include_pad)."""
    for i in range(0 if w.pools_frames else 1, 3):
        p = "same" if w.padding == "same" else w.padding[i]
        check_padding(w.size[i], p, w.ceil_mode, AXIS_NAMES[i])
    cells = w.size[0] * w.size[1] * w.size[2]
    if cells > INT64_MAX:
        dims = "x".join(map(str, w.size if w.pools_frames else w.size[1:]))
        raise ValueError(f"window {dims} has {cells} cells, "
                         "too many: at most 2**63 - 1")


@lru_cache(maxsize=256)  # a batch of same-sized images builds its tables once
def sliding_axis(n: int, k: int, s: int, p: int | str, d: int, ceil_mode: bool,
                 axis: str = "axis") -> AxisWindows:
    """Sliding windows along one axis: PyTorch's rules, or TensorFlow's SAME (``p == "same"``)."""
    check_padding(k, p, ceil_mode, axis)
    dropped = None
    if p == "same":
        out = -(-n // s)
        span = d * (k - 1) + 1
        pad_total = max((out - 1) * s + span - n, 0)
        left = pad_total // 2
        right = pad_total - left  # the odd pixel of padding goes right/bottom
    else:
        out, dropped = _pytorch_out(n, k, s, p, d, ceil_mode)
        left = right = p
    if out <= 0:
        span = d * (k - 1) + 1
        raise ValueError(
            f"output would be empty along {axis}: input {n} with window {k}"
            + (f" (dilation {d} spans {span})" if d > 1 else "")
            + (f" and padding {p}" if p else "")
            + " is smaller than one window; use a smaller size or add padding"
        )
    check_axis(out, axis)
    starts = [i * s - left for i in range(out)]
    win = _windows(n, starts, k, d, n + right, left, dropped)
    for i, (lo, hi) in enumerate(zip(win.lo, win.hi)):
        if hi <= lo:
            raise ValueError(f"window {i} along {axis} lies entirely in the padding; "
                             "reduce padding or dilation")
    return win


@lru_cache(maxsize=256)  # a batch of same-sized images builds its tables once
def adaptive_axis(n: int, out: int, axis: str = "axis") -> AxisWindows:
    """PyTorch's adaptive bins: bin i spans [floor(i*n/out), ceil((i+1)*n/out))."""
    if out < 1:
        raise ValueError(f"output size along {axis} must be at least 1, got {out}")
    check_axis(out, axis)  # before the tables: one Python int per output index
    starts = [(i * n) // out for i in range(out)]
    ends = [-((-(i + 1) * n) // out) for i in range(out)]
    return _windows(n, starts, [e - s for s, e in zip(starts, ends)], 1, n)


def fractional_starts(n: int, k: int, out: int, u: float) -> list[int]:
    """Graham's pseudo-random window starts, exactly as PyTorch's ``generate_intervals``."""
    if out == 1:
        return [n - k]
    alpha = (n - k) / (out - 1)
    starts = [int((i + u) * alpha) - int(u * alpha) for i in range(out - 1)]
    return starts + [n - k]


def fractional_axis(n: int, k: int, out: int, u: float, axis: str = "axis") -> AxisWindows:
    if out < 1:
        raise ValueError(f"fractional output size along {axis} must be at least 1, got {out}")
    if out + k - 1 > n:
        raise ValueError(
            f"fractional pooling along {axis}: output {out} with window {k} needs at least "
            f"{out + k - 1} input pixels, the input has {n}; use a smaller output or window"
        )
    if not 0.0 <= u < 1.0:
        raise ValueError(f"fractional samples must be in [0, 1), got {u}")
    check_axis(out, axis)
    return _windows(n, fractional_starts(n, k, out, u), k, 1, n)


@lru_cache(maxsize=256)  # a batch of same-sized images builds its tables once
def global_axis(n: int) -> AxisWindows:
    return _windows(n, [0], n, 1, n)


@lru_cache(maxsize=256)  # a batch of same-sized images builds its tables once
def identity_axis(n: int) -> AxisWindows:
    """No pooling along this axis (each index is its own window)."""
    return _windows(n, list(range(n)), 1, 1, n)


@dataclass(frozen=True)
class Window:
    """Validated sliding-window parameters for the (frames, height, width) axes."""

    size: tuple[int, int, int]
    stride: tuple[int, int, int]
    padding: tuple[int, int, int] | str
    dilation: tuple[int, int, int]
    ceil_mode: bool
    pools_frames: bool


def _per_axis(values: tuple[int, ...], name: str, naxes: int, fill: int) -> tuple[int, int, int]:
    if len(values) == 1:
        values = values * naxes
    elif len(values) != naxes:
        raise ValueError(
            f"{name} has {len(values)} numbers but the window has {naxes} axes; give 1 or {naxes}"
        )
    return (fill,) + values if naxes == 2 else values  # type: ignore[return-value]


def window(size=2, stride=None, padding=0, dilation=1, ceil_mode=False) -> Window:
    """Parse and check size/stride/padding/dilation (ints, tuples or ``"2x3"`` strings)."""
    size_t = parse_ints(size, "size")
    stride_t = parse_ints(stride, "stride") if stride is not None else None
    pad = parse_padding(padding)
    dil_t = parse_ints(dilation, "dilation")
    lengths = (len(size_t), len(stride_t or ()), len(dil_t), 0 if pad == "same" else len(pad))
    naxes = 3 if 3 in lengths else 2
    ks = _per_axis(size_t, "size", naxes, 1)
    ss = _per_axis(stride_t, "stride", naxes, 1) if stride_t is not None else ks
    ds = _per_axis(dil_t, "dilation", naxes, 1)
    ps = pad if pad == "same" else _per_axis(pad, "padding", naxes, 0)
    return Window(ks, ss, ps, ds, bool(ceil_mode), naxes == 3)


def sliding(shape_dhw: tuple[int, int, int], w: Window) -> tuple[AxisWindows, ...]:
    """The three axes' tables for an input of (frames, height, width)."""
    axes = []
    for i, n in enumerate(shape_dhw):
        if i == 0 and not w.pools_frames:
            axes.append(identity_axis(n))
            continue
        p = "same" if w.padding == "same" else w.padding[i]
        axes.append(sliding_axis(n, w.size[i], w.stride[i], p, w.dilation[i], w.ceil_mode,
                                 AXIS_NAMES[i]))
    return tuple(axes)  # type: ignore[return-value]


def describe(win: AxisWindows) -> str:
    """One line per axis for `poolcli explain`."""
    parts = []
    for i in range(win.out):
        cells = [win.start[i] + j * win.step for j in range(win.lo[i], win.hi[i])]
        parts.append(f"{i}:[{cells[0]}..{cells[-1]}]" if cells else f"{i}:[]")
    return " ".join(parts)


def out_size_ratio(n: int, ratio: float) -> int:
    """PyTorch's output size from ``output_ratio``: int(n * ratio)."""
    return int(n * ratio)


__all__ = [
    "AxisWindows",
    "Window",
    "adaptive_axis",
    "check_padding",
    "check_window",
    "fractional_axis",
    "fractional_starts",
    "global_axis",
    "identity_axis",
    "pytorch_out_size",
    "sliding",
    "sliding_axis",
    "window",
]
