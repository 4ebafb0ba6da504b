"""imageio: reading and writing every mode and format, on the shipped samples and on files
made in tmp_path; metadata, frames, limits, broken files, stdin/stdout, atomic writes."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from poolcli.errors import ImageError
from poolcli.io.fsio import atomic_write
from poolcli.io.read import header, load_bytes, load_image
from poolcli.io.write import output_format, save_image
from poolcli.learn import load_weights

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"

# name: (array shape, dtype, mode, file mode, format, frames, alpha channel)
EXPECTED = {
    "chelsea.png": ((300, 451, 3), "uint8", "RGB", "RGB", "PNG", 1, None),
    "camera.png": ((512, 512), "uint8", "L", "L", "PNG", 1, None),
    "coffee.jpg": ((400, 600, 3), "uint8", "RGB", "RGB", "JPEG", 1, None),
    "chelsea_exif6.jpg": ((300, 451, 3), "uint8", "RGB", "RGB", "JPEG", 1, None),
    "chelsea_cutout.png": ((210, 210, 4), "uint8", "RGBA", "RGBA", "PNG", 1, 3),
    "camera_la.png": ((128, 128, 2), "uint8", "LA", "LA", "PNG", 1, 1),
    "coffee_palette.png": ((133, 200, 4), "uint8", "RGBA", "P", "PNG", 1, 3),
    "camera16.png": ((256, 256), "uint16", "I;16", "I;16", "PNG", 1, None),
    "camera_float.tif": ((128, 128), "float32", "F", "F", "TIFF", 1, None),
    "camera_int32.tif": ((64, 64), "int32", "I", "I", "TIFF", 1, None),
    "camera_bilevel.png": ((128, 128), "uint8", "L", "1", "PNG", 1, None),
    "coffee_cmyk.jpg": ((100, 150, 4), "uint8", "CMYK", "CMYK", "JPEG", 1, None),
    "chelsea_anim.gif": ((4, 80, 120, 3), "uint8", "RGB", "P", "GIF", 4, None),
    "chelsea_anim.png": ((3, 96, 96, 4), "uint8", "RGBA", "RGBA", "PNG", 3, 3),
    "coffee_anim.webp": ((3, 64, 96, 3), "uint8", "RGB", "RGB", "WEBP", 3, None),
    "coffee_pages.tif": ((3, 64, 96, 3), "uint8", "RGB", "RGB", "TIFF", 3, None),
    "coffee.ppm": ((53, 80, 3), "uint8", "RGB", "RGB", "PPM", 1, None),
    "coffee.bmp": ((53, 80, 3), "uint8", "RGB", "RGB", "BMP", 1, None),
    "camera.pgm": ((64, 64), "uint8", "L", "L", "PPM", 1, None),
    "chelsea.webp": ((100, 150, 3), "uint8", "RGB", "RGB", "WEBP", 1, None),
    "chelsea_crop.npy": ((48, 64, 3), "float32", "npy", "npy", "NPY", 1, None),
}
BROKEN = ["truncated.png", "truncated.jpg", "empty.png", "not_an_image.jpg", "corrupt_data.png",
          "pickled.npy", "one_dim.npy"]


def rng(seed=0):
    return np.random.default_rng(seed)


def png_header_only(width: int, height: int, colour_type: int = 2) -> bytes:
    """A PNG whose IHDR claims width x height, with a tiny IDAT: no pixel data to speak of."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8))
            + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- the samples


def test_every_sample_is_listed():
    shipped = {p.name for p in SAMPLES.iterdir() if p.is_file() and p.suffix not in (".py", ".md")}
    assert shipped == set(EXPECTED)
    assert {p.name for p in (SAMPLES / "broken").iterdir()} == set(BROKEN)
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 3_000_000


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_loads_as_expected(samples, name):
    shape, dtype, mode, file_mode, fmt, frames, alpha = EXPECTED[name]
    img = load_image(samples / name)
    assert img.array.shape == shape
    assert img.array.dtype == np.dtype(dtype)
    assert img.array.dtype.isnative and img.array.flags.c_contiguous
    assert (img.mode, img.file_mode, img.format, img.frames, img.alpha_channel) == (
        mode, file_mode, fmt, frames, alpha)
    assert img.file_bytes == (samples / name).stat().st_size
    assert img.source == str(samples / name)
    # header() tells the same without decoding
    h = header(samples / name)
    width, height = (shape[2], shape[1]) if frames > 1 else (shape[1], shape[0])
    assert tuple(h) == (width, height, frames, mode, fmt)


@pytest.mark.parametrize("name", ["chelsea.png", "camera.png", "chelsea_cutout.png", "camera_la.png",
                                  "coffee.ppm", "coffee.bmp", "camera.pgm", "coffee_cmyk.jpg",
                                  "camera_float.tif", "camera_int32.tif", "camera16.png"])
def test_sample_pixels_are_pillows(samples, name):
    """Modes that need no conversion come out exactly as Pillow decodes them."""
    with PILImage.open(samples / name) as im:
        expected = np.asarray(im)
    np.testing.assert_array_equal(load_image(samples / name).array, expected)


def test_bilevel_becomes_l_0_255(samples):
    arr = load_image(samples / "camera_bilevel.png").array
    assert set(np.unique(arr)) == {0, 255}
    with PILImage.open(samples / "camera_bilevel.png") as im:
        np.testing.assert_array_equal(arr, np.asarray(im.convert("L")))


def test_palette_with_transparency_becomes_rgba(samples):
    img = load_image(samples / "coffee_palette.png")
    with PILImage.open(samples / "coffee_palette.png") as im:
        assert im.mode == "P"
        expected = np.asarray(im.convert("RGBA"))
    np.testing.assert_array_equal(img.array, expected)
    alpha = img.array[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255  # both transparent and opaque pixels


def test_palette_without_transparency_becomes_rgb(tmp_path):
    idx = rng().integers(0, 16, (9, 11), dtype=np.uint8)
    im = PILImage.fromarray(idx, "L").convert("P")
    palette = rng(1).integers(0, 256, 16 * 3).tolist()
    im.putpalette(palette)
    im.save(tmp_path / "p.png")
    img = load_image(tmp_path / "p.png")
    assert img.mode == "RGB" and img.alpha_channel is None and img.file_mode == "P"
    lut = np.array(palette, np.uint8).reshape(16, 3)
    np.testing.assert_array_equal(img.array, lut[idx])


def test_pa_becomes_rgba(tmp_path):
    idx = rng().integers(0, 4, (5, 6), dtype=np.uint8)
    a = rng(2).integers(0, 256, (5, 6), dtype=np.uint8)
    im = PILImage.frombytes("PA", (6, 5), np.dstack([idx, a]).tobytes())
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    buf = io.BytesIO()
    im.save(buf, "TIFF")
    buf.seek(0)
    img = load_bytes(buf.getvalue())
    assert img.mode == "RGBA" and img.file_mode == "PA" and img.alpha_channel == 3
    lut = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    np.testing.assert_array_equal(img.array[..., :3], lut[idx])
    np.testing.assert_array_equal(img.array[..., 3], a)


def test_sixteen_bit_sample_has_real_16_bit_values(samples):
    arr = load_image(samples / "camera16.png").array
    assert arr.dtype == np.uint16 and arr.max() > 255
    assert np.any(arr % 257 != 0)


def test_float_sample_keeps_negative_values(samples):
    arr = load_image(samples / "camera_float.tif").array
    assert arr.dtype == np.float32 and arr.min() < 0 < arr.max()


def test_big_endian_16_bit_reads_native(tmp_path):
    data = rng().integers(0, 65536, (5, 7), dtype=np.uint16)
    im = PILImage.frombytes("I;16B", (7, 5), data.astype(">u2").tobytes())
    im.save(tmp_path / "b.tif")
    img = load_image(tmp_path / "b.tif")
    assert img.mode == "I;16" and img.array.dtype == np.dtype("=u2")
    np.testing.assert_array_equal(img.array, data)


def test_16_bit_pgm_reads_as_uint16(tmp_path):
    data = rng().integers(0, 65536, (6, 5), dtype=np.uint16)
    body = b"P5\n5 6\n65535\n" + data.astype(">u2").tobytes()
    (tmp_path / "x.pgm").write_bytes(body)
    img = load_image(tmp_path / "x.pgm")
    assert img.mode == "I;16" and img.array.dtype == np.uint16
    np.testing.assert_array_equal(img.array, data)


# --------------------------------------------------------------------------- EXIF orientation


def test_exif6_sample_comes_out_upright(samples):
    img = load_image(samples / "chelsea_exif6.jpg")
    with PILImage.open(samples / "chelsea_exif6.jpg") as im:
        assert im.size == (300, 451)  # stored turned
    assert img.array.shape == (300, 451, 3)
    assert img.info["orientation"] == 6
    upright = load_image(samples / "chelsea.png").array.astype(int)
    assert np.abs(img.array.astype(int) - upright).mean() < 4  # JPEG-close to the original


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow(tmp_path, orientation):
    arr = rng(orientation).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    PILImage.fromarray(arr).save(tmp_path / "o.png", exif=exif.tobytes(), dpi=(100, 300))
    img = load_image(tmp_path / "o.png")
    with PILImage.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(img.array, expected)
    # DPI follows the rotation (x and y swap for the four transposing orientations)
    dx, dy = img.info["dpi"]
    assert (round(dx), round(dy)) == ((300, 100) if orientation >= 5 else (100, 300))
    assert header(tmp_path / "o.png")[:2] == expected.shape[1::-1]


# --------------------------------------------------------------------------- round trips

MODE_ARRAYS = {
    "L": lambda: rng(1).integers(0, 256, (7, 9), dtype=np.uint8),
    "LA": lambda: rng(2).integers(0, 256, (7, 9, 2), dtype=np.uint8),
    "RGB": lambda: rng(3).integers(0, 256, (7, 9, 3), dtype=np.uint8),
    "RGBA": lambda: rng(4).integers(0, 256, (7, 9, 4), dtype=np.uint8),
    "I;16": lambda: rng(5).integers(0, 65536, (7, 9), dtype=np.uint16),
    "I": lambda: rng(6).integers(-2**31, 2**31 - 1, (7, 9), dtype=np.int32),
    "F": lambda: rng(7).normal(0, 1000, (7, 9)).astype(np.float32),
}
LOSSLESS = [(m, f) for m, formats in {
    "L": ["png", "tif", "bmp", "ppm", "pgm"],
    "LA": ["png", "tif"],
    "RGB": ["png", "tif", "bmp", "ppm"],
    "RGBA": ["png", "tif"],
    "I;16": ["png", "tif", "pgm"],
    "I": ["tif"],
    "F": ["tif"],
}.items() for f in formats]


@pytest.mark.parametrize(("mode", "ext"), LOSSLESS)
def test_lossless_round_trip(tmp_path, mode, ext):
    arr = MODE_ARRAYS[mode]()
    out = tmp_path / f"x.{ext}"
    n = save_image(out, arr)
    assert n == out.stat().st_size > 0
    img = load_image(out)
    assert img.mode == mode and img.array.dtype == arr.dtype
    np.testing.assert_array_equal(img.array, arr)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "int32", "int64",
                                   "float16", "float32", "float64", "bool"])
@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 1), (5, 6, 7), (2, 5, 6, 3)])
def test_npy_round_trip_is_exact(tmp_path, dtype, shape):
    arr = (rng().normal(0, 50, shape)).astype(dtype)
    save_image(tmp_path / "x.npy", arr)
    img = load_image(tmp_path / "x.npy")
    assert (img.mode, img.format, img.alpha_channel) == ("npy", "NPY", None)
    assert img.frames == (shape[0] if len(shape) == 4 else 1)
    assert img.array.dtype == arr.dtype
    np.testing.assert_array_equal(img.array, arr)


def test_npy_fortran_order_and_other_extension(tmp_path):
    arr = np.asfortranarray(rng().integers(0, 256, (6, 4, 3), dtype=np.uint8))
    np.save(tmp_path / "a.npy", arr)
    os.replace(tmp_path / "a.npy", tmp_path / "a.data")  # recognised by its magic bytes
    np.testing.assert_array_equal(load_image(tmp_path / "a.data").array, arr)


@pytest.mark.parametrize("ext", ["jpg", "webp"])
def test_lossy_round_trip_is_close(tmp_path, ext):
    arr = np.asarray(PILImage.open(SAMPLES / "coffee.ppm"))
    save_image(tmp_path / f"x.{ext}", arr, jpeg_quality=95)
    back = load_image(tmp_path / f"x.{ext}").array
    assert back.shape == arr.shape
    assert np.abs(back.astype(int) - arr).mean() < 6  # a small photo, chroma subsampled


def test_grey_gif_is_exact(tmp_path):
    """A GIF stores a palette: grey comes back exactly, as L or as grey RGB (P -> RGB)."""
    arr = MODE_ARRAYS["L"]()
    save_image(tmp_path / "g.gif", arr)
    back = load_image(tmp_path / "g.gif").array
    if back.ndim == 3:
        assert back.shape[2] == 3 and (back == back[..., :1]).all()
        back = back[..., 0]
    np.testing.assert_array_equal(back, arr)


def test_jpeg_quality_changes_size(tmp_path):
    arr = load_image(SAMPLES / "coffee.jpg").array
    small = save_image(tmp_path / "a.jpg", arr, jpeg_quality=30)
    big = save_image(tmp_path / "b.jpg", arr, jpeg_quality=95)
    assert small < big


def test_png_compress_level_changes_size_not_pixels(tmp_path):
    arr = load_image(SAMPLES / "camera.png").array
    fast = save_image(tmp_path / "a.png", arr, png_compress_level=0)
    best = save_image(tmp_path / "b.png", arr, png_compress_level=9)
    assert best < fast
    np.testing.assert_array_equal(load_image(tmp_path / "a.png").array, load_image(tmp_path / "b.png").array)


def test_cmyk_round_trip(samples, tmp_path):
    img = load_image(samples / "coffee_cmyk.jpg")
    save_image(tmp_path / "c.tif", img.array, like=img)
    back = load_image(tmp_path / "c.tif")
    assert back.mode == "CMYK"
    np.testing.assert_array_equal(back.array, img.array)
    save_image(tmp_path / "c.jpg", img.array, like=img, jpeg_quality=95)
    back = load_image(tmp_path / "c.jpg")
    assert back.mode == "CMYK" and np.abs(back.array.astype(int) - img.array).mean() < 3
    # without like, four uint8 channels are RGBA
    save_image(tmp_path / "c.png", img.array)
    assert load_image(tmp_path / "c.png").mode == "RGBA"


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if not n.endswith(".npy")))
def test_samples_survive_every_format(samples, tmp_path, name):
    """Every sample written to every format reads back with the right size, or fails
    with ImageError for a multi-frame image in a one-frame format."""
    img = load_image(samples / name)
    for ext in ["png", "jpg", "tif", "bmp", "gif", "webp", "ppm", "npy"]:
        out = tmp_path / f"out.{ext}"
        if img.frames > 1 and ext in ("jpg", "bmp", "ppm"):
            with pytest.raises(ImageError, match="holds one frame"):
                save_image(out, img.array, like=img)
            assert not out.exists()
            continue
        save_image(out, img.array, like=img, scale=(2, 2))
        back = load_image(out)
        assert back.frames == img.frames
        spatial = img.array.shape[1:3] if img.frames > 1 else img.array.shape[:2]
        assert (back.array.shape[1:3] if back.frames > 1 else back.array.shape[:2]) == spatial
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "samples") == sorted(
        f"out.{e}" for e in ["png", "jpg", "tif", "bmp", "gif", "webp", "ppm", "npy"]
        if not (img.frames > 1 and e in ("jpg", "bmp", "ppm")))


# --------------------------------------------------------------------------- conversion rules


def test_alpha_is_composited_onto_white_without_alpha(tmp_path):
    rgba = np.array([[[200, 100, 0, 0], [200, 100, 0, 255], [200, 100, 0, 128]]], np.uint8)
    for ext in ["ppm", "bmp"]:
        save_image(tmp_path / f"x.{ext}", rgba)
        back = load_image(tmp_path / f"x.{ext}").array
        expected = np.rint(255 - (255 - rgba[..., :3].astype(float)) * rgba[..., 3:] / 255)
        np.testing.assert_array_equal(back, expected.astype(np.uint8))
        np.testing.assert_array_equal(back[0, 0], [255, 255, 255])
        np.testing.assert_array_equal(back[0, 1], [200, 100, 0])
    la = np.array([[[10, 0], [10, 255]]], np.uint8)
    save_image(tmp_path / "g.pgm", la)
    np.testing.assert_array_equal(load_image(tmp_path / "g.pgm").array, [[255, 10]])


def test_jpeg_of_rgba_drops_alpha(samples, tmp_path):
    img = load_image(samples / "chelsea_cutout.png")
    save_image(tmp_path / "c.jpg", img.array, like=img)
    back = load_image(tmp_path / "c.jpg")
    assert back.mode == "RGB" and back.array.shape == (210, 210, 3)
    assert back.array[0, 0].min() > 240  # the transparent corner is white


def test_la_in_webp_keeps_alpha(tmp_path):
    la = np.dstack([np.full((8, 8), 90, np.uint8), np.tile(np.arange(0, 256, 32, dtype=np.uint8), (8, 1))])
    save_image(tmp_path / "x.webp", la, jpeg_quality=100)
    back = load_image(tmp_path / "x.webp")
    assert back.mode == "RGBA"
    assert np.abs(back.array[..., 3].astype(int) - la[..., 1]).max() <= 2


def test_l_in_webp_is_grey_rgb(tmp_path):
    arr = np.full((8, 8), 77, np.uint8)
    save_image(tmp_path / "x.webp", arr)
    back = load_image(tmp_path / "x.webp").array
    assert back.shape == (8, 8, 3) and np.abs(back.astype(int) - 77).max() <= 2


def test_16_bit_to_8_bit_rounds_v_over_257(tmp_path):
    v = np.array([[0, 128, 129, 385, 386, 65535, 32767, 32768]], np.uint16)
    expected = np.rint(v / 257).astype(np.uint8)
    save_image(tmp_path / "x.bmp", v)
    np.testing.assert_array_equal(load_image(tmp_path / "x.bmp").array, expected)
    rgb16 = np.dstack([v, v, v])  # 16-bit colour: 8-bit in the 8-bit formats, and said so
    warnings: list = []
    save_image(tmp_path / "x.bmp", rgb16, warnings=warnings)
    assert warnings == ["16-bit colour reduced to 8 bits (BMP holds 8)"]
    back = load_image(tmp_path / "x.bmp")
    assert back.mode == "RGB"
    np.testing.assert_array_equal(back.array, np.dstack([expected] * 3))
    save_image(tmp_path / "x.png", rgb16)  # PNG holds it whole
    back = load_image(tmp_path / "x.png")
    assert back.mode == "RGB;16"
    np.testing.assert_array_equal(back.array, rgb16)


def test_float_to_8_bit_takes_0_1(tmp_path):
    v = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, np.nan, np.inf, 0.2]], np.float32)
    save_image(tmp_path / "x.png", v)
    back = load_image(tmp_path / "x.png")
    assert back.mode == "L"
    np.testing.assert_array_equal(back.array, [[0, 0, 128, 255, 255, 0, 255, 51]])
    rgb = np.dstack([v, v, v]).astype(np.float64)
    warnings: list = []
    save_image(tmp_path / "y.png", rgb, warnings=warnings)  # float colour: 8-bit in PNG, said
    np.testing.assert_array_equal(load_image(tmp_path / "y.png").array[..., 1], back.array)
    assert warnings == ["float colour rounded to 8 bits, taken as 0..1 (images hold no float "
                        "colour)"]
    save_image(tmp_path / "y.tif", rgb)  # TIFF keeps it as it is (tifffile)
    np.testing.assert_array_equal(load_image(tmp_path / "y.tif").array, rgb)


def test_float_tiff_sample_kept_in_tiff_converted_in_png(samples, tmp_path):
    img = load_image(samples / "camera_float.tif")
    save_image(tmp_path / "f.tif", img.array, like=img)
    np.testing.assert_array_equal(load_image(tmp_path / "f.tif").array, img.array)
    save_image(tmp_path / "f.png", img.array, like=img)
    expected = np.rint(np.clip(img.array.astype(np.float64), 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(load_image(tmp_path / "f.png").array, expected)


def test_int32_rules(tmp_path):
    v = np.array([[-5, 0, 200, 300, 70000, 2**31 - 1]], np.int32)
    save_image(tmp_path / "x.png", v)
    back = load_image(tmp_path / "x.png")
    assert back.mode == "I;16"
    np.testing.assert_array_equal(back.array, np.clip(v, 0, 65535))
    save_image(tmp_path / "x.jpg", v, jpeg_quality=100)
    assert load_image(tmp_path / "x.jpg").mode == "L"
    big = np.array([[2**40, -(2**40)]], np.int64)  # other ints: clipped into int32
    save_image(tmp_path / "big.tif", big)
    np.testing.assert_array_equal(load_image(tmp_path / "big.tif").array, [[2**31 - 1, -(2**31)]])
    save_image(tmp_path / "rgb.png", np.array([[[-3, 128, 999]]], np.int32))
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png").array, [[[0, 128, 255]]])


def test_bool_array_is_0_255(tmp_path):
    save_image(tmp_path / "b.png", np.array([[True, False]]))
    np.testing.assert_array_equal(load_image(tmp_path / "b.png").array, [[255, 0]])


def test_cmyk_into_png_is_pillows_rgb(samples, tmp_path):
    img = load_image(samples / "coffee_cmyk.jpg")
    save_image(tmp_path / "c.png", img.array, like=img)
    expected = np.asarray(PILImage.fromarray(img.array, "CMYK").convert("RGB"))
    np.testing.assert_array_equal(load_image(tmp_path / "c.png").array, expected)


# --------------------------------------------------------------------------- frames


def test_gif_sample_frames_and_durations(samples):
    img = load_image(samples / "chelsea_anim.gif")
    assert img.info["duration"] == [80, 120, 160, 200] and img.info["loop"] == 0
    assert not np.array_equal(img.array[0], img.array[1])  # the frames differ (it pans)


@pytest.mark.parametrize("name", ["chelsea_anim.gif", "chelsea_anim.png", "coffee_anim.webp"])
@pytest.mark.parametrize("ext", ["gif", "png", "webp"])
def test_animation_keeps_frames_durations_loop(samples, tmp_path, name, ext):
    img = load_image(samples / name)
    save_image(tmp_path / f"a.{ext}", img.array, like=img)
    back = load_image(tmp_path / f"a.{ext}")
    assert back.array.shape[:3] == img.array.shape[:3]
    assert back.info["duration"] == img.info["duration"]
    assert back.info.get("loop", 0) == img.info["loop"]
    if ext == "png" and name.endswith((".png", ".gif")):  # APNG is lossless
        np.testing.assert_array_equal(back.array, img.array)


def test_tiff_pages_round_trip_exactly(samples, tmp_path):
    img = load_image(samples / "coffee_pages.tif")
    save_image(tmp_path / "p.tif", img.array, like=img)
    back = load_image(tmp_path / "p.tif")
    np.testing.assert_array_equal(back.array, img.array)
    assert back.info["compression"] == "tiff_adobe_deflate"
    with PILImage.open(tmp_path / "p.tif") as im:
        assert im.n_frames == 3


def test_pooled_frames_spread_the_total_time(samples, tmp_path):
    img = load_image(samples / "chelsea_anim.gif")  # 80 + 120 + 160 + 200 ms
    half = img.array[::2]
    save_image(tmp_path / "h.png", half, like=img)
    assert load_image(tmp_path / "h.png").info["duration"] == [280, 280]


def test_new_animation_without_like(tmp_path):
    frames = rng().integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
    save_image(tmp_path / "n.png", frames)
    back = load_image(tmp_path / "n.png")
    np.testing.assert_array_equal(back.array, frames)
    assert back.info["duration"] == [100, 100, 100] and back.info["loop"] == 0


def test_gif_without_loop_still_plays_once(tmp_path):
    frames = [PILImage.new("L", (4, 4), v) for v in (0, 100, 200)]
    frames[0].save(tmp_path / "once.gif", save_all=True, append_images=frames[1:], duration=50)
    img = load_image(tmp_path / "once.gif")
    assert "loop" not in img.info
    save_image(tmp_path / "out.gif", img.array, like=img)
    assert "loop" not in load_image(tmp_path / "out.gif").info


def test_single_frame_of_four_d_array_is_a_still(tmp_path):
    arr = rng().integers(0, 256, (1, 4, 5, 3), dtype=np.uint8)
    save_image(tmp_path / "s.jpg", arr)
    assert load_image(tmp_path / "s.jpg").array.shape == (4, 5, 3)


def test_frames_of_mixed_modes_get_one_mode(tmp_path):
    grey = rng(1).integers(0, 256, (4, 5), dtype=np.uint8)
    rgba = rng(2).integers(0, 256, (4, 5, 4), dtype=np.uint8)
    PILImage.fromarray(grey).save(tmp_path / "m.tif", save_all=True,
                                  append_images=[PILImage.fromarray(rgba)])
    img = load_image(tmp_path / "m.tif")
    assert img.mode == "RGBA" and img.array.shape == (2, 4, 5, 4) and img.alpha_channel == 3
    np.testing.assert_array_equal(img.array[0, ..., :3], np.dstack([grey] * 3))
    assert (img.array[0, ..., 3] == 255).all()
    np.testing.assert_array_equal(img.array[1], rgba)


def test_frames_of_different_sizes_are_an_error(tmp_path):
    PILImage.new("L", (4, 5)).save(tmp_path / "d.tif", save_all=True,
                                   append_images=[PILImage.new("L", (6, 5))])
    with pytest.raises(ImageError, match="frame 2 is 6 x 5 but frame 1 is 4 x 5"):
        load_image(tmp_path / "d.tif")


# --------------------------------------------------------------------------- ICC and DPI


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "webp"])
def test_icc_profile_kept(samples, tmp_path, ext):
    img = load_image(samples / "chelsea.png")
    icc = img.info["icc_profile"]
    save_image(tmp_path / f"c.{ext}", img.array[::2, ::2], like=img)
    assert load_image(tmp_path / f"c.{ext}").info["icc_profile"] == icc


def test_icc_profile_not_put_on_a_grey_image(samples, tmp_path):
    img = load_image(samples / "chelsea.png")
    save_image(tmp_path / "g.png", img.array[..., 0], like=img)  # an RGB profile, one channel
    assert "icc_profile" not in load_image(tmp_path / "g.png").info
    save_image(tmp_path / "c.gif", img.array, like=img)  # GIF holds no profile: no error
    assert "icc_profile" not in load_image(tmp_path / "c.gif").info


@pytest.mark.parametrize(("ext", "tol"), [("png", 0.02), ("jpg", 0.5), ("tif", 1e-6), ("bmp", 0.02)])
def test_dpi_divided_by_stride(samples, tmp_path, ext, tol):
    img = load_image(samples / "chelsea.png")
    dx, dy = img.info["dpi"]
    save_image(tmp_path / f"d.{ext}", img.array[::2, ::3], like=img, scale=(2, 3))
    got = load_image(tmp_path / f"d.{ext}").info["dpi"]
    assert got == pytest.approx((dx / 3, dy / 2), abs=tol)


def test_no_dpi_invented_for_tiff(tmp_path):
    save_image(tmp_path / "x.tif", np.zeros((3, 3), np.uint8))
    assert "dpi" not in load_image(tmp_path / "x.tif").info


# --------------------------------------------------------------------------- stdin / stdout


class _Pipe(io.TextIOWrapper):
    def isatty(self):
        return False


def test_stdin_and_stdout_in_process(samples, monkeypatch):
    data = (samples / "chelsea_cutout.png").read_bytes()
    monkeypatch.setattr(sys, "stdin", _Pipe(io.BytesIO(data)))
    img = load_image("-")
    assert img.source == "-" and img.file_bytes == len(data) and img.format == "PNG"
    out = _Pipe(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", out)
    n = save_image("-", img.array, like=img)  # format from like
    written = out.buffer.getvalue()
    assert n == len(written) > 0
    back = load_bytes(written)
    np.testing.assert_array_equal(back.array, img.array)


def test_stdin_npy_and_stdout_format(monkeypatch):
    arr = rng().normal(size=(3, 4, 2)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, arr)
    monkeypatch.setattr(sys, "stdin", _Pipe(io.BytesIO(buf.getvalue())))
    img = load_image("-")
    np.testing.assert_array_equal(img.array, arr)
    out = _Pipe(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", out)
    save_image("-", (img.array[..., 0] * 0 + 0.5), format="jpg")
    assert out.buffer.getvalue()[:2] == b"\xff\xd8"


def test_stdin_empty_and_stdout_without_format(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Pipe(io.BytesIO(b"")))
    with pytest.raises(ImageError, match="empty input"):
        load_image("-")
    with pytest.raises(ImageError, match="format"):
        save_image("-", np.zeros((2, 2), np.uint8))


def test_binary_pipe_through_a_process(samples):
    code = ("import sys; from poolcli.io.read import load_image; "
            "from poolcli.io.write import save_image; "
            "im = load_image('-'); save_image('-', im.array[::2, ::2], like=im, format='png'); "
            "print('numba' in sys.modules, 'PIL' in sys.modules, file=sys.stderr)")
    data = (samples / "coffee_palette.png").read_bytes()
    res = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True)
    assert res.stderr.split() == [b"False", b"True"]  # never Numba
    back = load_bytes(res.stdout)
    np.testing.assert_array_equal(back.array, load_image(samples / "coffee_palette.png").array[::2, ::2])


def test_import_is_light():
    code = ("import sys, poolcli.io.read, poolcli.io.write, poolcli.io.fsio, poolcli.io.pngwrite; "
            "print(sorted(m for m in ('numba', 'PIL') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


# --------------------------------------------------------------------------- --max-pixels


def test_max_pixels_refused_from_the_png_header(tmp_path):
    (tmp_path / "huge.png").write_bytes(png_header_only(100_000, 90_000))  # 9e9 pixels, 27 GB
    msg = "image is 100000 x 90000 = 9000000000 pixels, over the limit of 178956970 (--max-pixels)"
    with pytest.raises(ImageError) as err:
        load_image(tmp_path / "huge.png")
    assert str(err.value) == msg
    with pytest.raises(ImageError, match="over the limit of 1000 "):
        load_image(tmp_path / "huge.png", max_pixels=1000)
    assert header(tmp_path / "huge.png") == (100_000, 90_000, 1, "RGB", "PNG")


def test_max_pixels_limit_is_inclusive_and_zero_is_none(samples):
    load_image(samples / "camera.png", max_pixels=512 * 512)
    with pytest.raises(ImageError, match="512 x 512 = 262144 pixels"):
        load_image(samples / "camera.png", max_pixels=512 * 512 - 1)
    assert load_image(samples / "camera.png", max_pixels=0).array.shape == (512, 512)
    assert load_image(samples / "camera.png", max_pixels=None).array.shape == (512, 512)
    with pytest.raises(ImageError, match="96 x 96"):  # the per-frame size, not x frames
        load_image(samples / "chelsea_anim.png", max_pixels=96 * 96 - 1)
    load_image(samples / "chelsea_anim.png", max_pixels=96 * 96)


def test_max_pixels_refused_from_the_npy_header(tmp_path):
    with open(tmp_path / "huge.npy", "wb") as f:  # a header only: the data is not there
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (3, 200_000, 100_000, 3)})
    with pytest.raises(ImageError, match=r"^image is 100000 x 200000 = 20000000000 pixels"):
        load_image(tmp_path / "huge.npy")
    assert header(tmp_path / "huge.npy") == (100_000, 200_000, 3, "npy", "NPY")
    with pytest.raises(ImageError, match="cannot read the .npy data"):
        load_image(tmp_path / "huge.npy", max_pixels=0)  # no limit: then it is truncated


def test_pillow_bomb_limit_never_escapes(samples, monkeypatch):
    """Pillow's own limit (here made tiny) neither raises nor warns: ours replaces it."""
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ["camera.png", "chelsea_anim.gif", "coffee_pages.tif", "coffee.jpg"]:
            load_image(samples / name, max_pixels=0)
            header(samples / name)
    assert PILImage.MAX_IMAGE_PIXELS == 100  # restored


# --------------------------------------------------------------------------- broken input


@pytest.mark.parametrize("name", BROKEN)
def test_broken_samples_raise_image_error(samples, name):
    with pytest.raises(ImageError) as err:
        load_image(samples / "broken" / name)
    assert str(err.value) and "\n" not in str(err.value)
    assert str(samples) not in str(err.value)  # the reason, without the path


@pytest.mark.parametrize(("name", "words"), [
    ("empty.png", "empty file"),
    ("not_an_image.jpg", "not an image file"),
    ("truncated.png", "truncated"),
    ("corrupt_data.png", "cannot decode this PNG file"),
    ("pickled.npy", "Python objects"),
    ("one_dim.npy", "2 to 4 dimensions"),
])
def test_broken_reasons(samples, name, words):
    with pytest.raises(ImageError, match=words):
        load_image(samples / "broken" / name)


def test_missing_file_folder_and_bad_npy(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)
    (tmp_path / "x.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ImageError, match="not a .npy file"):
        load_image(tmp_path / "x.npy")
    np.save(tmp_path / "c.npy", np.zeros((2, 2), np.complex64))
    with pytest.raises(ImageError, match="complex64"):
        load_image(tmp_path / "c.npy")
    np.save(tmp_path / "s.npy", np.zeros((2, 2), [("a", "u1")]))
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "s.npy")
    np.save(tmp_path / "five.npy", np.zeros((1, 1, 2, 2, 1), np.uint8))
    with pytest.raises(ImageError, match="shape \\(1, 1, 2, 2, 1\\)"):
        load_image(tmp_path / "five.npy")


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's "Corrupt EXIF data" and the like
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_truncation_and_corruption_is_an_image_error(samples, name):
    """Cut every sample at several places and flip bytes: it loads, or raises ImageError."""
    data = (samples / name).read_bytes()
    variants = [data[:n] for n in (1, 7, 16, 40, 100, len(data) // 3, len(data) // 2, len(data) - 2)]
    r = rng(len(data))
    for _ in range(6):
        bad = bytearray(data)
        at = r.integers(0, len(data), 8)
        bad[at[0]:at[0] + 1] = b""  # one byte gone
        for i in at[1:]:
            if i < len(bad):
                bad[i] ^= int(r.integers(1, 256))
        variants.append(bytes(bad))
    for blob in variants:
        try:
            img = load_bytes(blob, source=name)
        except ImageError as exc:
            assert "\n" not in str(exc)
        else:
            assert img.array.size > 0


# --------------------------------------------------------------------------- writing errors


def test_output_format_names():
    cases = {("x.png", None): "PNG", ("x.JPG", None): "JPEG", ("x.jpeg", None): "JPEG",
             ("x.tif", None): "TIFF", ("x.pgm", None): "PPM", ("x.apng", None): "PNG",
             ("x.webp", None): "WEBP", ("x.npy", None): "NPY", ("-", "jpg"): "JPEG",
             ("x", "tif"): "TIFF", ("x.png", "npy"): "NPY", ("x", ".gif"): "GIF",
             ("x", "PNG"): "PNG", ("x", "bmp"): "BMP"}
    for (path, fmt), want in cases.items():
        assert output_format(path, fmt) == want
    for path, fmt, words in [("x.xyz", None, "extension '.xyz'"), ("x", None, "no extension"),
                             ("-", None, "standard output"), ("x.png", "nope", "unknown output format")]:
        with pytest.raises(ImageError, match=words):
            output_format(path, fmt)


@pytest.mark.parametrize(("array", "path", "words"), [
    (np.zeros((2, 3, 5), np.uint8), "x.png", "5 channels"),
    (np.zeros((2, 2, 2, 2, 2), np.uint8), "x.png", "not an image"),
    (np.zeros((0, 3), np.uint8), "x.png", "empty"),
    (np.zeros((2, 2), np.complex64), "x.png", "complex64"),
    (np.array([[None]], dtype=object), "x.npy", "Python objects"),
    (np.zeros((2, 3, 4, 3), np.uint8), "x.jpg", "JPEG holds one frame and this image has 2"),
    (np.zeros((3, 3), np.uint8), "x.unknown", "unknown output format"),
])
def test_write_errors_leave_nothing(tmp_path, array, path, words):
    with pytest.raises(ImageError, match=words):
        save_image(tmp_path / path, array)
    assert list(tmp_path.iterdir()) == []


def test_write_into_missing_folder_is_an_image_error(tmp_path):
    with pytest.raises(ImageError, match="cannot write PNG"):
        save_image(tmp_path / "no" / "x.png", np.zeros((2, 2), np.uint8))


# --------------------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path, exc):
    target = tmp_path / "out.png"
    target.write_bytes(b"old contents")

    def write(f):
        f.write(b"half a new fi")
        raise exc

    with pytest.raises(type(exc)):
        atomic_write(target, write)
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


@pytest.mark.parametrize("name", ["out.png", "out.bmp"])  # poolcli's PNG writer, Pillow's
def test_save_image_interrupted_in_the_encoder(tmp_path, monkeypatch, name):
    from poolcli.io import pngwrite

    target = tmp_path / name
    target.write_bytes(b"old")

    def interrupted(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise KeyboardInterrupt

    def deflate_interrupted(data, level):
        raise KeyboardInterrupt

    monkeypatch.setattr(PILImage.Image, "save", interrupted)
    monkeypatch.setattr(pngwrite, "deflate", deflate_interrupted)  # after IHDR was written
    with pytest.raises(KeyboardInterrupt):
        save_image(target, np.zeros((4, 4), np.uint8))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_atomic_write_success_and_permissions(tmp_path):
    new = tmp_path / "new.bin"
    assert atomic_write(new, lambda f: f.write(b"12345")) == 5
    assert new.read_bytes() == b"12345"
    umask = os.umask(0o022)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    old = tmp_path / "old.bin"
    old.write_bytes(b"x")
    old.chmod(0o640)
    atomic_write(old, lambda f: f.write(b"y"))
    assert old.stat().st_mode & 0o777 == 0o640 and old.read_bytes() == b"y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.bin", "old.bin"]


# --------------------------------------------------------------------------- weights, misc


def test_load_weights(tmp_path):
    (tmp_path / "w.json").write_text("[[1, 2], [3, 4.5]]")
    np.testing.assert_array_equal(load_weights(tmp_path / "w.json"), [[1, 2], [3, 4.5]])
    np.save(tmp_path / "w.npy", np.eye(3))
    np.testing.assert_array_equal(load_weights(tmp_path / "w.npy"), np.eye(3))
    np.save(tmp_path / "p.npy", np.array([{}], dtype=object), allow_pickle=True)
    with pytest.raises(ImageError, match="Python objects"):
        load_weights(tmp_path / "p.npy")
    (tmp_path / "bad.json").write_text("[[1, 'a']]")
    with pytest.raises(ImageError, match="numbers"):
        load_weights(tmp_path / "bad.json")
    with pytest.raises(ImageError, match="no such file"):
        load_weights(tmp_path / "none.npy")


def test_image_is_array_like(samples):
    img = load_image(samples / "camera.png")
    assert np.asarray(img) is img.array
    assert np.asarray(img, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("mode", ["1", "L", "LA", "RGB", "RGBA", "CMYK", "I;16", "I;16B", "I", "F", "P"])
def test_pixels_come_out_in_one_raw_copy(mode):
    from poolcli.io.read import _as_array, _raw_array

    rgb = PILImage.open(SAMPLES / "coffee.bmp").convert("RGB").crop((0, 0, 37, 23))
    im = rgb.convert(mode) if mode != "I;16B" else rgb.convert("I;16").convert("I;16B")
    raw = _raw_array(im)
    want = np.asarray(im)
    if mode == "1":  # bits: np.asarray's own widening to bytes
        assert raw is None
    else:
        assert raw is not None  # the fast path, not np.asarray's fallback
        assert raw.dtype == want.dtype and raw.shape == want.shape
        np.testing.assert_array_equal(raw, want)
    got = _as_array(im)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
