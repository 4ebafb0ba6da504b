"""``poolcli explain``: the window geometry and the output shape, drawn in the terminal.

Nothing is read or pooled: the numbers come from ``geometry.sliding_axis`` (the same
tables the kernels use), so what is drawn is what a run would do. For each axis it
prints PyTorch's output-size formula with the numbers filled in (or TensorFlow's SAME
rule), then one row per output index showing which cells its window covers, with
padding (and, in ceil mode, the cells past the padded edge) and the windows that
PyTorch's drop rule removed; then the first windows on the 2-D grid.

``explain()`` returns plain text (for pipes and tests); ``renderable()`` the same text
as a ``rich.text.Text`` with one colour per window.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import geometry
from .options import parse_ints

#: the most cells drawn along one axis before the middle is elided
MAX_CELLS = 36
#: windows drawn at the start and at the end of an axis when it is elided
HEAD, TAIL = 3, 2
COLOURS = ("bold red", "bold green", "bold blue", "bold magenta", "bold cyan", "bold yellow")
INPUT_CELL, PAD_CELL, BEYOND_CELL, DROPPED_CELL = "·", "-", " ", "x"

Segment = tuple[str, str]  # (text, rich style)


@dataclass
class Axis:
    """One axis: the parameters, the windows geometry made, and the one it dropped."""

    name: str
    n: int
    k: int
    s: int
    p: int | str
    d: int
    ceil_mode: bool
    windows: geometry.AxisWindows
    left: int  #: padding before the first pixel
    right: int  #: padding after the last pixel
    dropped: int | None = None  #: start of the window PyTorch's ceil-mode rule removed

    @property
    def span(self) -> int:
        return self.d * (self.k - 1) + 1

    def cells(self, start: int) -> list[int]:
        return [start + j * self.d for j in range(self.k)]

    def kind(self, pos: int) -> str:
        if 0 <= pos < self.n:
            return "in"
        if -self.left <= pos < self.n + self.right:
            return "pad"
        return "beyond"


def _axis(name: str, n: int, k: int, s: int, p, d: int, ceil_mode: bool) -> Axis:
    """The geometry's own tables, padding and dropped window (not a copy of its rules)."""
    win = geometry.sliding_axis(n, k, s, p, d, ceil_mode, name)
    return Axis(name, n, k, s, p, d, ceil_mode, win, win.left, win.right, win.dropped)


def formula(ax: Axis) -> list[str]:
    """PyTorch's (or SAME's) output-size rule for one axis, with the numbers filled in."""
    n, k, s, p, d = ax.n, ax.k, ax.s, ax.p, ax.d
    out = ax.windows.out
    if p == "same":
        total = ax.left + ax.right
        return [
            f"out = ceil(n / s) = ceil({n} / {s}) = {out}   (TensorFlow's SAME)",
            "padding = max((out - 1)*s + d*(k - 1) + 1 - n, 0)"
            f" = max({out - 1}*{s} + {d}*{k - 1} + 1 - {n}, 0)"
            f" = {total}: {ax.left} before, {ax.right} after",
        ]
    num = n + 2 * p - d * (k - 1) - 1
    rnd = "ceil" if ax.ceil_mode else "floor"
    raw = out + (ax.dropped is not None)  # before the drop rule
    lines = [
        f"out = {rnd}((n + 2*p - d*(k - 1) - 1) / s) + 1"
        f" = {rnd}(({n} + 2*{p} - {d}*({k} - 1) - 1) / {s}) + 1"
        f" = {rnd}({num} / {s}) + 1 = {raw}"
    ]
    if ax.dropped is not None:
        lines.append(
            f"the last window would start at ({raw} - 1)*{s} - {p} = {ax.dropped}, past the input "
            f"(>= n = {n}): dropped, out = {out}   (PyTorch's ceil-mode rule)"
        )
    elif ax.ceil_mode and raw == out and num % s:
        lines.append(f"the last window starts inside the input and runs past it: kept, out = {out}")
    return lines


def _shown(ax: Axis) -> tuple[list[int], list[int | None]]:
    """(window indices to draw, cell positions to draw; None marks an elided gap)."""
    w = ax.windows
    starts = list(w.start) + ([ax.dropped] if ax.dropped is not None else [])
    first = min(-ax.left, min(starts))
    last = max(ax.n + ax.right, max(s + ax.span for s in starts))  # one past
    if last - first <= MAX_CELLS:
        return list(range(len(starts))), list(range(first, last))
    if ax.span > MAX_CELLS // 2:
        return [], []
    head = list(range(min(HEAD, len(starts))))
    tail = [i for i in range(max(len(starts) - TAIL, 0), len(starts)) if i not in head]
    cut1 = starts[head[-1]] + ax.span
    cut2 = starts[tail[0]] if tail else last
    cut2 = min(cut2, last)
    positions: list[int | None] = list(range(first, max(cut1, first + 1)))
    if cut2 > cut1:
        positions.append(None)
        positions += list(range(cut2, last))
    else:
        positions += list(range(cut1, last))
    return head + tail, positions


def _cell_width(ax: Axis, positions) -> int:
    return max(2, max((len(str(p)) for p in positions if p is not None), default=1) + 1)


def _header(ax: Axis, positions, cw: int) -> list[Segment]:
    segs: list[Segment] = []
    for pos in positions:
        if pos is None:
            segs.append(("…".rjust(cw), "dim"))
        elif ax.kind(pos) == "in":
            segs.append((str(pos).rjust(cw), ""))
        else:
            segs.append(("p".rjust(cw) if ax.kind(pos) == "pad" else "+".rjust(cw), "dim"))
    return segs


def _axis_rows(ax: Axis, indent: str) -> list[list[Segment]]:
    rows: list[list[Segment]] = []
    w = ax.windows
    pad = f"{ax.left} before, {ax.right} after" if ax.left != ax.right else str(ax.left)
    rows.append([(f"{ax.name}: n = {ax.n}, size k = {ax.k}, stride s = {ax.s}, padding p = {pad}, "
                  f"dilation d = {ax.d}", "bold")])
    for line in formula(ax):
        rows.append([(indent + line, "")])
    which, positions = _shown(ax)
    if not positions:
        rows.append([(indent + f"(windows of {ax.span} cells are too wide to draw; "
                      f"{w.out} windows: {geometry.describe(w)[:200]})", "dim")])
        return rows
    cw = _cell_width(ax, positions)
    label_w = len(f"out {max(which)}") + 2
    rows.append([(indent + " " * label_w, "")] + _header(ax, positions, cw))
    shown_set = set(which)
    for i in which:
        is_dropped = i >= w.out
        start = ax.dropped if is_dropped else w.start[i]
        cells = set(ax.cells(start))
        letter = chr(ord("A") + i % 26)
        style = "dim strike" if is_dropped else COLOURS[i % len(COLOURS)]
        seg: list[Segment] = [(indent + f"out {i}".ljust(label_w), "dim" if is_dropped else "")]
        for pos in positions:
            if pos is None:
                seg.append(("…".rjust(cw), "dim"))
            elif pos in cells:
                kind = ax.kind(pos)
                mark = DROPPED_CELL if is_dropped else (letter if kind == "in" else letter.lower())
                seg.append((mark.rjust(cw), style))
            else:
                kind = ax.kind(pos)
                blank = {"in": INPUT_CELL, "pad": PAD_CELL, "beyond": BEYOND_CELL}[kind]
                seg.append((blank.rjust(cw), "dim"))
        if is_dropped:
            seg.append(("   dropped: starts past the input", "dim"))
        else:
            inside = [c for c in sorted(cells) if 0 <= c < ax.n]
            span = f"{inside[0]}..{inside[-1]}" if ax.d == 1 else ",".join(map(str, inside))
            seg.append((f"   pixels {span} ({len(inside)} of {ax.k})", ""))
        rows.append(seg)
        if i + 1 not in shown_set and i + 1 < w.out + (ax.dropped is not None) and i != max(which):
            rows.append([(indent + "…", "dim")])
    return rows


def _grid_rows(axes: tuple[Axis, Axis], indent: str) -> list[list[Segment]]:
    """The padded 2-D grid with the windows of outputs (0,0), (0,1), (1,0), (1,1)."""
    ah, aw = axes
    wh, ww = ah.windows, aw.windows
    ranges = []
    for ax in axes:
        hi = max(ax.n + ax.right, max(ax.windows.start[: 2]) + ax.span)
        ranges.append(range(min(-ax.left, ax.windows.start[0]), hi))
    if len(ranges[0]) > 24 or len(ranges[1]) > MAX_CELLS:
        note = "(the grid is too large to draw; the rows above show each axis)"
        return [[(indent + note, "dim")]]
    picks = [(i, j) for i in range(min(2, wh.out)) for j in range(min(2, ww.out))]
    owner: dict[tuple[int, int], list[int]] = {}
    for n_win, (i, j) in enumerate(picks):
        for r in ah.cells(wh.start[i]):
            for c in aw.cells(ww.start[j]):
                owner.setdefault((r, c), []).append(n_win)
    names = ["A", "B", "C", "D"][: len(picks)]
    legend = ", ".join(f"{names[n]} = output ({i},{j})" for n, (i, j) in enumerate(picks))
    rows: list[list[Segment]] = [
        [(f"the first windows on the {ah.n}x{aw.n} grid: {legend}", "bold")],
        [(indent + f"{PAD_CELL} padding, {INPUT_CELL} pixel, lower case: a window cell in the "
          "padding, * in more than one of these windows", "dim")],
    ]
    cw = _cell_width(aw, list(ranges[1]))
    lw = max(len(str(r)) for r in ranges[0]) + 2
    rows.append([(indent + " " * lw, "")] + _header(aw, list(ranges[1]), cw))
    for r in ranges[0]:
        kind_r = ah.kind(r)
        label = str(r) if kind_r == "in" else ("p" if kind_r == "pad" else "+")
        seg: list[Segment] = [(indent + label.rjust(lw - 2) + "  ",
                               "" if kind_r == "in" else "dim")]
        for c in ranges[1]:
            inside = kind_r == "in" and aw.kind(c) == "in"
            who = owner.get((r, c), [])
            if len(who) > 1:
                seg.append(("*".rjust(cw), "bold"))
            elif who:
                letter = names[who[0]]
                seg.append(((letter if inside else letter.lower()).rjust(cw), COLOURS[who[0]]))
            else:
                beyond = "beyond" in (kind_r, aw.kind(c))
                blank = INPUT_CELL if inside else (BEYOND_CELL if beyond else PAD_CELL)
                seg.append((blank.rjust(cw), "dim"))
        rows.append(seg)
    return rows


def lines(shape=(7, 9), size=3, stride=2, padding=1, dilation=1,
          ceil_mode=False) -> list[list[Segment]]:
    """The explanation as lines of (text, style) segments."""
    dims = parse_ints(shape, "shape", lengths=(2, 3))
    win = geometry.window(size, stride, padding, dilation, ceil_mode)
    if win.pools_frames and len(dims) == 2:
        raise ValueError("a 3-number size pools across frames: give a 3-number --shape DxHxW")
    names = geometry.AXIS_NAMES[3 - len(dims):]
    first_axis = 3 - len(dims)
    axes = []
    for i, (name, n) in enumerate(zip(names, dims), start=first_axis):
        if i == 0 and not win.pools_frames:
            continue
        p = "same" if win.padding == "same" else win.padding[i]
        axes.append(_axis(name, n, win.size[i], win.stride[i], p, win.dilation[i], win.ceil_mode))
    out = [ax.windows.out for ax in axes]
    if len(dims) == 3 and not win.pools_frames:
        out = [dims[0]] + out
    x = "x"
    sel = slice(first_axis, 3) if win.pools_frames or len(dims) == 2 else slice(1, 3)
    pad = "same" if win.padding == "same" else x.join(map(str, win.padding[sel]))
    rows: list[list[Segment]] = [
        [("input ", ""), (x.join(map(str, dims)), "bold"),
         (f"   size {x.join(map(str, win.size[sel]))}, stride {x.join(map(str, win.stride[sel]))}, "
          f"padding {pad}, dilation {x.join(map(str, win.dilation[sel]))}, "
          f"{'ceil' if win.ceil_mode else 'floor'} mode", "")],
        [("output ", ""), (x.join(map(str, out)), "bold green"),
         ("" if len(dims) == 2 or win.pools_frames
          else "   (frames are not pooled with a 2-number size)", "dim")],
        [("cells: a letter marks output i's window (lower case where it lies in the padding),",
          "dim")],
        [(f"       {INPUT_CELL} pixel, {PAD_CELL} padding (column p), + past the padded edge "
          f"(ceil mode), {DROPPED_CELL} a window PyTorch drops", "dim")],
        [("", "")],
    ]
    indent = "  "
    for ax in axes:
        rows += _axis_rows(ax, indent)
        rows.append([("", "")])
    rows += _grid_rows((axes[-2], axes[-1]), indent)
    return rows


def explain(shape=(7, 9), size=3, stride=2, padding=1, dilation=1, ceil_mode=False) -> str:
    """The window geometry of one pooling, as plain text (see the module docstring).

    ``shape`` is ``HxW`` or ``DxHxW`` (a string, or a tuple); the window arguments are
    those of ``poolcli.pool``. Raises ValueError with the CLI's message for invalid ones.
    """
    return "\n".join("".join(t for t, _ in row).rstrip() for row in
                     lines(shape, size, stride, padding, dilation, ceil_mode)) + "\n"


def renderable(shape=(7, 9), size=3, stride=2, padding=1, dilation=1, ceil_mode=False):
    """The same as ``explain`` as a ``rich.text.Text``, one colour per window."""
    from rich.text import Text

    text = Text(no_wrap=True, overflow="ignore")
    for row in lines(shape, size, stride, padding, dilation, ceil_mode):
        for t, style in row:
            text.append(t, style=style or None)
        text.append("\n")
    return text
