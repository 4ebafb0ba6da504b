"""Window geometry: output sizes (PyTorch's formula), hand-written window tables, and the errors."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from poolcli import geometry as g


def torch_doc_out(n, k, s, p, d, ceil_mode):
    """Output size as the docs of torch.nn.MaxPool2d state it, written independently:
    floor or ceil of (n + 2p - d(k-1) - 1)/s, plus 1; in ceil mode the last window must
    start inside the input or the left padding."""
    q = Fraction(n + 2 * p - d * (k - 1) - 1, s)
    out = (math.ceil(q) if ceil_mode else math.floor(q)) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def cells(win: g.AxisWindows, i: int) -> list[int]:
    """The input positions of window i that lie inside the input."""
    return [win.start[i] + j * win.step for j in range(win.lo[i], win.hi[i])]


# --------------------------------------------------------------------------------------------
# output sizes


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_output_size_matches_pytorch_formula(k, d, ceil_mode):
    checked = 0
    for n in range(1, 16):
        for s in range(1, 5):
            for p in range(0, k // 2 + 1):
                want = torch_doc_out(n, k, s, p, d, ceil_mode)
                assert g.pytorch_out_size(n, k, s, p, d, ceil_mode) == want
                if want < 1:
                    with pytest.raises(ValueError):
                        g.sliding_axis(n, k, s, p, d, ceil_mode)
                    continue
                try:
                    win = g.sliding_axis(n, k, s, p, d, ceil_mode)
                except ValueError as exc:  # only a window made of padding alone may be refused
                    assert "entirely in the padding" in str(exc)
                    continue
                assert win.out == want
                checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    "n, k, s, p, d, ceil_mode, out",
    [
        (5, 2, 2, 0, 1, False, 2),   # the odd last row is dropped
        (5, 2, 2, 0, 1, True, 3),    # ...and kept in ceil mode
        (4, 2, 3, 1, 1, True, 2),    # ceil would give 3, but window 2 would start at 5 (in the padding)
        (6, 3, 2, 1, 1, False, 3),
        (7, 3, 1, 0, 2, False, 3),   # dilation 2 spans 5
        (1, 1, 1, 0, 1, False, 1),
        (1, 2, 2, 1, 1, False, 1),   # one pixel, padded
        (1, 2, 2, 0, 1, True, 1),    # one pixel, ceil mode: a partial window
        (224, 3, 2, 1, 1, False, 112),
        (224, 3, 2, 1, 1, True, 113),
    ],
)
def test_output_size_table(n, k, s, p, d, ceil_mode, out):
    assert g.pytorch_out_size(n, k, s, p, d, ceil_mode) == out
    assert g.sliding_axis(n, k, s, p, d, ceil_mode).out == out


@pytest.mark.parametrize("n", range(1, 20))
@pytest.mark.parametrize("k, s", [(1, 1), (2, 2), (3, 2), (3, 1), (4, 3), (5, 2), (2, 5)])
def test_same_padding_keeps_every_pixel(n, k, s):
    win = g.sliding_axis(n, k, s, "same", 1, False)
    assert win.out == -(-n // s)
    covered = {c for i in range(win.out) for c in cells(win, i)}
    if s <= k:
        assert covered == set(range(n)), "SAME must not drop an edge pixel"
    left = -win.start[0]
    pad_total = max((win.out - 1) * s + k - n, 0)
    assert left == pad_total // 2  # the odd pixel of padding goes right
    assert max(win.start[-1] + k - n, 0) == pad_total - left


# --------------------------------------------------------------------------------------------
# hand-written tables: start, lo, hi, total


def table(win):
    return win.start, win.lo, win.hi, win.total


@pytest.mark.parametrize(
    "args, expected",
    [
        # n, k, s, p, d, ceil -> (start, lo, hi, total)
        ((5, 2, 2, 0, 1, False), ((0, 2), (0, 0), (2, 2), (2, 2))),
        ((5, 2, 2, 0, 1, True), ((0, 2, 4), (0, 0, 0), (2, 2, 1), (2, 2, 1))),
        ((5, 3, 2, 1, 1, False), ((-1, 1, 3), (1, 0, 0), (3, 3, 2), (3, 3, 3))),
        ((4, 2, 2, 1, 1, True), ((-1, 1, 3), (1, 0, 0), (2, 2, 1), (2, 2, 2))),
        ((4, 2, 3, 1, 1, True), ((-1, 2), (1, 0), (2, 2), (2, 2))),
        ((6, 3, 2, 0, 1, True), ((0, 2, 4), (0, 0, 0), (3, 3, 2), (3, 3, 2))),
        # dilation: cells start + 2j
        ((7, 3, 1, 0, 2, False), ((0, 1, 2), (0, 0, 0), (3, 3, 3), (3, 3, 3))),
        # dilation and padding: window 0 = cells -1, 1, 3; window 1 = 1, 3, 5 (5 is padding)
        ((5, 3, 2, 1, 2, False), ((-1, 1), (1, 0), (3, 2), (3, 3))),
        ((8, 2, 3, 1, 3, True), ((-1, 2, 5), (1, 0, 0), (2, 2, 1), (2, 2, 2))),
    ],
)
def test_sliding_tables(args, expected):
    win = g.sliding_axis(*args)
    assert table(win) == expected
    assert win.step == args[4]


@pytest.mark.parametrize(
    "n, k, s, expected",
    [
        # out = ceil(n/s); padding total = (out-1)*s + k - n, the odd one on the right
        (5, 2, 2, ((0, 2, 4), (0, 0, 0), (2, 2, 1), (2, 2, 2))),
        (4, 3, 1, ((-1, 0, 1, 2), (1, 0, 0, 0), (3, 3, 3, 2), (3, 3, 3, 3))),
        (5, 4, 1, ((-1, 0, 1, 2, 3), (1, 0, 0, 0, 0), (4, 4, 4, 3, 2), (4, 4, 4, 4, 4))),
        (6, 4, 2, ((-1, 1, 3), (1, 0, 0), (4, 4, 3), (4, 4, 4))),
        (6, 2, 2, ((0, 2, 4), (0, 0, 0), (2, 2, 2), (2, 2, 2))),  # no padding needed
        (7, 3, 3, ((-1, 2, 5), (1, 0, 0), (3, 3, 2), (3, 3, 3))),
    ],
)
def test_same_tables(n, k, s, expected):
    assert table(g.sliding_axis(n, k, s, "same", 1, False)) == expected


@pytest.mark.parametrize(
    "n, out, bins",
    [
        (5, 3, [(0, 2), (1, 4), (3, 5)]),
        (10, 4, [(0, 3), (2, 5), (5, 8), (7, 10)]),
        (6, 3, [(0, 2), (2, 4), (4, 6)]),  # divides: no overlap
        (3, 5, [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]),  # larger than the input
        (7, 4, [(0, 2), (1, 4), (3, 6), (5, 7)]),  # more than half the input
        (4, 1, [(0, 4)]),
        (1, 3, [(0, 1), (0, 1), (0, 1)]),
    ],
)
def test_adaptive_bins(n, out, bins):
    win = g.adaptive_axis(n, out)
    assert [(c[0], c[-1] + 1) for c in (cells(win, i) for i in range(out))] == bins
    for i, (a, b) in enumerate(bins):  # PyTorch's formula
        assert a == math.floor(i * n / out) and b == math.ceil((i + 1) * n / out)
    assert win.valid == tuple(b - a for a, b in bins)
    assert win.total == win.valid


def generate_intervals(u, n, out, k):
    """PyTorch's aten/src/ATen/native/FractionalMaxPool2d.cpp generate_intervals (float64)."""
    seq = [0] * out
    if out > 1:
        alpha = (n - k) / (out - 1)
        for i in range(out - 1):
            seq[i] = int((i + u) * alpha) - int(u * alpha)
    seq[out - 1] = n - k
    return seq


@pytest.mark.parametrize(
    "n, k, out, u, starts",
    [
        (10, 2, 5, 0.5, [0, 2, 4, 6, 8]),
        (7, 2, 4, 0.3, [0, 2, 3, 5]),
        (7, 2, 4, 0.0, [0, 1, 3, 5]),
        (9, 3, 1, 0.4, [6]),
        (5, 1, 5, 0.0, [0, 1, 2, 3, 4]),
    ],
)
def test_fractional_starts(n, k, out, u, starts):
    assert g.fractional_starts(n, k, out, u) == starts
    assert generate_intervals(u, n, out, k) == starts
    win = g.fractional_axis(n, k, out, u)
    assert win.start == tuple(starts)
    assert win.valid == (k,) * out


@pytest.mark.parametrize("n", [5, 8, 13, 32])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_fractional_starts_match_pytorch_formula(n, k):
    for out in range(1, n - k + 2):
        for u in (0.0, 0.1, 0.25, 0.5, 0.77, 0.999):
            starts = g.fractional_starts(n, k, out, u)
            assert starts == generate_intervals(u, n, out, k)
            assert starts[-1] == n - k and all(0 <= a <= n - k for a in starts)


def test_global_and_identity_axes():
    assert table(g.global_axis(5)) == ((0,), (0,), (5,), (5,))
    assert table(g.identity_axis(3)) == ((0, 1, 2), (0, 0, 0), (1, 1, 1), (1, 1, 1))


# --------------------------------------------------------------------------------------------
# window(): parsing per axis


def test_window_defaults_and_per_axis():
    w = g.window()
    assert (w.size, w.stride, w.padding, w.dilation, w.ceil_mode, w.pools_frames) == (
        (1, 2, 2), (1, 2, 2), (0, 0, 0), (1, 1, 1), False, False)
    w = g.window("2x3", stride=1, padding="1x0", dilation=(1, 2))
    assert (w.size, w.stride, w.padding, w.dilation) == ((1, 2, 3), (1, 1, 1), (0, 1, 0), (1, 1, 2))
    w = g.window((2, 3, 3), padding=1)
    assert w.pools_frames and w.size == (2, 3, 3) and w.stride == (2, 3, 3) and w.padding == (1, 1, 1)
    assert g.window(3, padding="same").padding == "same"


def test_sliding_three_axes():
    d, h, w = g.sliding((4, 5, 6), g.window((2, 3, 2), stride=(2, 1, 2)))
    assert (d.out, h.out, w.out) == (2, 3, 3)
    d, h, w = g.sliding((4, 5, 6), g.window(2))
    assert d == g.identity_axis(4) and (h.out, w.out) == (2, 3)


def test_describe():
    assert g.describe(g.sliding_axis(5, 3, 2, 1, 1, False)) == "0:[0..1] 1:[1..3] 2:[3..4]"


# --------------------------------------------------------------------------------------------
# errors: ValueError with a message that says what is wrong


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"size": 0}, "size must be at least 1"),
        ({"size": -2}, "size must be at least 1"),
        ({"stride": 0}, "stride must be at least 1"),
        ({"dilation": 0}, "dilation must be at least 1"),
        ({"padding": -1}, "padding must be at least 0"),
        ({"size": "2xa"}, "size must be"),
        ({"size": "2x2x2x2"}, "size takes 1, 2, 3 number(s), got 4"),
        ({"size": True}, "size must be an integer"),
        ({"size": (2, 2.5)}, "size must be whole numbers"),
        ({"size": (2, 2, 2), "stride": (2, 2)}, "stride has 2 numbers but the window has 3 axes"),
        ({"size": (2, 2), "padding": (1, 1, 1)}, "size has 2 numbers but the window has 3 axes"),
        ({"size": 2, "dilation": "1x1x2", "stride": "2x2"}, "stride has 2 numbers"),
        ({"padding": "valid"}, "padding must be"),
    ],
)
def test_window_errors(kwargs, words):
    with pytest.raises(ValueError) as info:
        g.window(**kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "args, words",
    [
        ((5, 2, 2, 2, 1, False), "padding 2 along height is more than half the window: size 2 allows padding 0..1"),
        ((9, 3, 1, 2, 3, False), "size 3 allows padding 0..1"),  # PyTorch's limit holds with dilation
        ((1, 2, 2, 0, 1, False), "output would be empty along height: input 1 with window 2"),
        ((2, 5, 1, 1, 1, True), "output would be empty along height: input 2 with window 5 and padding 1"),
        ((4, 3, 1, 0, 2, False), "dilation 2 spans 5"),
        ((2, 2, 1, 1, 3, False), "window 0 along height lies entirely in the padding"),
        ((5, 2, 2, "same", 1, True), "--ceil-mode cannot be combined with --padding same"),
    ],
)
def test_sliding_errors(args, words):
    with pytest.raises(ValueError) as info:
        g.sliding_axis(*args, axis="height")
    assert words in str(info.value)


def test_three_number_size_on_a_single_frame():
    with pytest.raises(ValueError, match="empty along frames: input 1 with window 2"):
        g.sliding((1, 8, 8), g.window((2, 2, 2)))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: g.adaptive_axis(5, 0, "width"), "output size along width must be at least 1"),
        (lambda: g.fractional_axis(5, 2, 0, 0.5, "width"), "at least 1, got 0"),
        (lambda: g.fractional_axis(5, 2, 5, 0.5, "width"), "output 5 with window 2 needs at least 6 input pixels"),
        (lambda: g.fractional_axis(5, 2, 3, 1.0, "width"), "samples must be in [0, 1)"),
        (lambda: g.fractional_axis(5, 2, 3, -0.1, "width"), "samples must be in [0, 1)"),
    ],
)
def test_other_axis_errors(call, words):
    with pytest.raises(ValueError) as info:
        call()
    assert words in str(info.value)
