"""explain: the drawn window geometry agrees with geometry's tables and PyTorch's formula."""

from __future__ import annotations

import re

import pytest

from poolcli import explain as ex
from poolcli import geometry


def _rows(text: str, axis: str) -> list[str]:
    """The 'out i' rows of one axis' table."""
    block = text.split(f"{axis}: n =", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines() if line.strip().startswith("out ") and "=" not in line]


def test_default_case_shape_formula_and_windows():
    text = ex.explain((7, 9), size=3, stride=2, padding=1)
    assert "output 4x5" in text
    assert "floor((7 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = floor(6 / 2) + 1 = 4" in text
    assert "floor((9 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = floor(8 / 2) + 1 = 5" in text
    rows = _rows(text, "width")
    assert len(rows) == 5
    # window 0 covers the left padding (lower case) and pixels 0..1
    assert rows[0].split()[2:5] == ["a", "A", "A"]
    assert rows[0].endswith("pixels 0..1 (2 of 3)")
    assert rows[4].endswith("pixels 7..8 (2 of 3)")


@pytest.mark.parametrize("shape,size,stride,padding,dilation,ceil", [
    ((7, 9), 3, 2, 1, 1, False),
    ((5, 6), 2, 2, 1, 1, True),
    ((7, 7), 2, 2, 0, 1, True),
    ((10, 12), 3, 1, 0, 2, False),
    ((9, 8), 3, 2, "same", 1, False),
    ((8, 7), "2x3", "1x2", "1x0", "2x1", False),
])
def test_pixels_listed_match_geometry(shape, size, stride, padding, dilation, ceil):
    text = ex.explain(shape, size, stride, padding, dilation, ceil)
    win = geometry.window(size, stride, padding, dilation, ceil)
    axes = geometry.sliding((1,) + shape, win)
    assert f"output {axes[1].out}x{axes[2].out}" in text
    for name, ax in zip(("height", "width"), axes[1:]):
        rows = [r for r in _rows(text, name) if "dropped" not in r]
        assert len(rows) == ax.out
        for i, row in enumerate(rows):
            pixels = [ax.start[i] + j * ax.step for j in range(ax.lo[i], ax.hi[i])]
            listed = re.search(r"pixels (\S+) \((\d+) of", row)
            first_last = listed.group(1).replace("..", ",").split(",")
            assert int(first_last[0]) == pixels[0] and int(first_last[-1]) == pixels[-1]
            assert int(listed.group(2)) == len(pixels)
            # one letter per cell of the window (upper case inside, lower case in the padding)
            letter = chr(ord("A") + i % 26)
            assert sum(tok in (letter, letter.lower()) for tok in row.split()) == win.size[1 if name == "height" else 2]


def test_ceil_mode_marks_the_dropped_window():
    text = ex.explain((5, 6), size=2, stride=2, padding=1, ceil_mode=True)
    assert "output 3x4" in text
    assert "ceil(5 / 2) + 1 = 4" in text
    assert "would start at (4 - 1)*2 - 1 = 5" in text and "dropped, out = 3" in text
    height = text.split("height: n =", 1)[1].split("\n\n", 1)[0]
    dropped = [line for line in height.splitlines() if "dropped: starts past the input" in line]
    assert len(dropped) == 1 and dropped[0].split()[:2] == ["out", "3"] and "x" in dropped[0].split()
    # the width axis keeps its partial last window
    assert "dropped: starts" not in text.split("width: n =", 1)[1]


def test_ceil_mode_kept_partial_window():
    text = ex.explain((7, 7), size=2, stride=2, padding=0, ceil_mode=True)
    assert "output 4x4" in text
    assert "kept, out = 4" in text
    assert "pixels 6..6 (1 of 2)" in text


def test_same_padding_shows_tensorflows_rule():
    text = ex.explain((8, 7), size=3, stride=2, padding="same")
    assert "output 4x4" in text
    assert "out = ceil(n / s) = ceil(8 / 2) = 4" in text
    assert "= 1: 0 before, 1 after" in text  # the odd pixel of padding goes after
    assert "out = ceil(n / s) = ceil(7 / 2) = 4" in text


def test_dilation_lists_spaced_pixels():
    text = ex.explain((10, 12), size=3, stride=1, padding=0, dilation=2)
    assert "output 6x8" in text
    assert "floor((10 + 2*0 - 2*(3 - 1) - 1) / 1) + 1 = floor(5 / 1) + 1 = 6" in text
    assert "pixels 0,2,4 (3 of 3)" in text


def test_large_shapes_are_elided_not_huge():
    text = ex.explain((1000, 3000), size=4, stride=3, padding=1)
    assert "output 333x1000" in text
    assert "…" in text
    assert max(len(line) for line in text.splitlines()) < 200
    assert "grid is too large" in text


def test_frames_axis():
    text = ex.explain("4x6x6", size="2x2x2", stride=2, padding=0)
    assert "output 2x3x3" in text and "frames: n = 4" in text
    text2 = ex.explain("4x6x6", size=2, stride=2, padding=0)
    assert "output 4x3x3" in text2 and "frames are not pooled" in text2
    with pytest.raises(ValueError, match="3-number --shape"):
        ex.explain((6, 6), size="2x2x2")


def test_invalid_geometry_raises_the_cli_message():
    with pytest.raises(ValueError, match="more than half the window"):
        ex.explain((7, 9), size=3, stride=2, padding=2)
    with pytest.raises(ValueError, match="output would be empty"):
        ex.explain((2, 2), size=3, stride=1, padding=0)


def test_renderable_is_the_same_text_in_colour():
    from rich.text import Text

    r = ex.renderable((7, 9), 3, 2, 1)
    assert isinstance(r, Text)
    assert [line.rstrip() for line in r.plain.splitlines()] == ex.explain((7, 9), 3, 2, 1).splitlines()
    assert any("red" in str(span.style) for span in r.spans)
