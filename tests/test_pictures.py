"""pictures: the compare contact sheet and the pyramid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from poolcli import api, modes, pictures
from poolcli.io.read import load_image
from poolcli.io.types import Image
from poolcli.io.write import save_image


def _synthetic(h=64, w=96) -> np.ndarray:
    """Gradients plus a checkerboard: every mode gives a visibly different, non-flat tile."""
    yy, xx = np.mgrid[0:h, 0:w]
    checker = ((yy // 3 + xx // 5) % 2) * 60
    return np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), 100 + checker], axis=-1).astype(np.uint8)


def _region(sheet: pictures.Sheet, box) -> np.ndarray:
    top, left, bottom, right = box
    return sheet.array[top:bottom, left:right]


def _white(region: np.ndarray) -> int:
    return int(np.all(region[..., :3] >= 200, axis=-1).sum())  # text, anti-aliased


def test_sheet_has_every_image_mode_in_a_grid():
    x = _synthetic()
    sheet = pictures.compare_sheet(x, size=2)
    names = [t.name for t in sheet.tiles]
    assert names[0] == "input"
    assert set(names[1:]) == {m.name for m in modes.MODES.values() if m.returns == "image"}
    assert {"max", "avg", "weighted", "stochastic", "fractional", "adaptive"} <= set(names)
    assert not [t.error for t in sheet.tiles if t.error]
    # 15 tiles (the input and 14 image modes) -> 4 columns, 4 rows; tiles of 64x96 are
    # shown 3x larger (at least 256 long)
    n = len(sheet.tiles)
    rows = -(-n // 4)
    th, tw = pictures.tile_size(x.shape, None)
    assert (th, tw) == (192, 288)
    lefts = sorted({box[1][1] for box in sheet.boxes})
    tops = sorted({box[1][0] for box in sheet.boxes})
    assert len(lefts) == 4 and len(tops) == rows
    assert sheet.array.dtype == np.uint8 and sheet.array.shape[2] == 3
    assert sheet.array.shape[1] > 4 * tw and sheet.array.shape[0] > rows * th
    for tile, (band, pic) in zip(sheet.tiles, sheet.boxes):
        assert (pic[2] - pic[0], pic[3] - pic[1]) == (th, tw)
        picture = _region(sheet, pic)
        assert picture.std() > 10, f"{tile.name} tile is blank"
        label = _region(sheet, band)
        assert _white(label) > 30, f"{tile.name} has no label text"
        assert (label[..., :3] == pictures.BAND).all(axis=-1).mean() > 0.5  # a dark band
    # the labels say the output shape
    assert [t.detail.split()[0] for t in sheet.tiles] == ["64x96"] + ["32x48"] * (n - 1)


def test_tiles_are_pixel_exact_block_enlargements():
    x = _synthetic()
    sheet = pictures.compare_sheet(x, size=2, modes=["max", "avg"])
    by_name = dict(zip([t.name for t in sheet.tiles], sheet.boxes))
    f = 3  # the display factor for a 64x96 input
    np.testing.assert_array_equal(_region(sheet, by_name["input"][1]), np.kron(x, np.ones((f, f, 1), np.uint8)))
    y = api.pool(x, "max", size=2, backend="numpy")
    np.testing.assert_array_equal(_region(sheet, by_name["max"][1]), np.kron(y, np.ones((2 * f, 2 * f, 1), np.uint8)))
    # 8x8 pooling: blocks of 24x24 display pixels
    sheet8 = pictures.compare_sheet(x, size=8, modes=["avg"])
    y8 = api.pool(x, "avg", size=8, backend="numpy")
    np.testing.assert_array_equal(_region(sheet8, sheet8.boxes[1][1]), np.kron(y8, np.ones((24, 24, 1), np.uint8)))


def test_compare_returns_the_array_and_it_saves_as_png(tmp_path):
    x = _synthetic()
    a = pictures.compare(x, size=4, modes=["max", "min"], title="")
    assert a.shape[2] == 3 and a.dtype == np.uint8
    out = tmp_path / "sheet.png"
    save_image(out, a)
    with PILImage.open(out) as im:
        assert im.size == (a.shape[1], a.shape[0]) and im.mode == "RGB"


def test_grayscale_alpha_16bit_and_float_inputs():
    gray = _synthetic()[..., 0]
    assert pictures.compare(gray, modes=["max"]).shape[2] == 3
    rgba = np.dstack([_synthetic(), np.full((64, 96), 255, np.uint8)])
    rgba[:, :20, 3] = 0
    img = Image(rgba, "RGBA", 3, "PNG")
    sheet = pictures.compare_sheet(img, modes=["avg"])
    assert sheet.array.shape[2] == 4
    assert (_region(sheet, sheet.boxes[1][1])[:, :10, 3] == 0).all()  # transparency kept
    sixteen = gray.astype(np.uint16) * 257
    s16 = pictures.compare_sheet(sixteen, modes=["max"])
    s8 = pictures.compare_sheet(gray, modes=["max"])
    np.testing.assert_array_equal(_region(s16, s16.boxes[1][1]), _region(s8, s8.boxes[1][1]))
    floats = gray.astype(np.float32) * 10.0 - 300.0  # outside 0..1: shown min..max
    sf = pictures.compare_sheet(floats, modes=["avg"])
    pic = _region(sf, sf.boxes[0][1])
    assert pic.min() == 0 and pic.max() == 255


def test_a_mode_that_cannot_run_gets_a_tile_saying_why():
    x = _synthetic()
    sheet = pictures.compare_sheet(x, modes=["max", "weighted"], weights=np.ones((2, 2, 2)))
    tile = sheet.tiles[2]
    assert tile.array is None and "channels" in tile.error
    assert _white(_region(sheet, sheet.boxes[2][1])) > 30  # the message is drawn


def test_compare_rejects_vector_modes_and_frame_windows():
    with pytest.raises(ValueError, match="returns values"):
        pictures.compare(_synthetic(), modes=["global"])
    with pytest.raises(ValueError, match="single pictures"):
        pictures.compare(_synthetic(), size="2x2x2")


def test_scale_to_sets_the_tile_size():
    assert pictures.tile_size((300, 451), 200) == (133, 200)
    assert pictures.tile_size((3000, 4000), None) == (768, 1024)
    assert pictures.tile_size((512, 512), None) == (512, 512)
    sheet = pictures.compare_sheet(_synthetic(), modes=["max"], scale_to=400)
    pic = sheet.boxes[0][1]
    assert (pic[2] - pic[0], pic[3] - pic[1]) == (267, 400)


def test_compare_on_a_real_photo(samples: Path):
    img = load_image(samples / "chelsea.png")
    sheet = pictures.compare_sheet(img, size=8)
    assert len(sheet.tiles) == 1 + len(pictures.image_modes())
    for tile, (band, pic) in zip(sheet.tiles, sheet.boxes):
        assert not tile.error
        assert _region(sheet, pic).std() > 10
        assert _white(_region(sheet, band)) > 30


# --------------------------------------------------------------------------------------------
# pyramid


def test_pyramid_levels_and_shapes():
    x = _synthetic(64, 48)
    levels = pictures.pyramid(x, 3, "avg")
    assert [lv.shape for lv in levels] == [(32, 24, 3), (16, 12, 3), (8, 6, 3)]
    np.testing.assert_array_equal(levels[1], api.pool(levels[0], "avg", backend="numpy"))
    assert all(lv.dtype == np.uint8 for lv in levels)
    odd = pictures.pyramid(np.zeros((27, 27), np.float32), 2, "max", size=3)
    assert [lv.shape for lv in odd] == [(9, 9), (3, 3)]


def test_pyramid_that_runs_out_of_pixels_says_how_many_levels_fit():
    with pytest.raises(ValueError, match="at most 3 level"):
        pictures.pyramid(np.zeros((8, 8)), 4)
    with pytest.raises(ValueError, match="levels must be"):
        pictures.pyramid(np.zeros((8, 8)), 0)
    with pytest.raises(ValueError, match="fixed output size"):
        pictures.pyramid(np.zeros((8, 8)), 2, "adaptive", output_size=4)


def test_pyramid_takes_an_image_with_alpha():
    rgba = np.dstack([_synthetic(32, 32), np.zeros((32, 32), np.uint8)])
    rgba[..., 3] = 255
    levels = pictures.pyramid(Image(rgba, "RGBA", 3, "PNG"), 2, "avg")
    assert levels[-1].shape == (8, 8, 4)


def test_pyramid_paths():
    assert pictures.pyramid_paths("shots/cat.png", 2) == [Path("shots/cat_pyr1.png"), Path("shots/cat_pyr2.png")]
    assert pictures.pyramid_paths("cat.png", 1, out_dir="out", ext="webp") == [Path("out/cat_pyr1.webp")]
    with pytest.raises(ValueError, match="extension"):
        pictures.pyramid_paths("-", 1)
