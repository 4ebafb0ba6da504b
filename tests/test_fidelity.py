"""Issue 12, items 3-7: nothing lost silently on the way through ``poolcli``.

16-bit colour kept (PNG, TIFF), lossy conversions reported as warnings, EXIF/XMP/PNG text
kept (orientation reset, dimensions updated; ``--strip`` drops them), decompression bombs
refused from the header with bounded memory, multi-page TIFFs with pages of different sizes.
Real files in tmp_path, written and read back by independent libraries (imagecodecs'
libpng, tifffile, Pillow's getexif) where poolcli's own code could hide a mistake.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from poolcli import cli
from poolcli.io.read import load_image

imagecodecs = pytest.importorskip("imagecodecs")
tifffile = pytest.importorskip("tifffile")

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


def avg2(a: np.ndarray) -> np.ndarray:
    """2x2 average of an (H, W, C) integer array, rounded half to even (the oracle)."""
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    blocks = a[:h, :w].astype(np.float64).reshape(h // 2, 2, w // 2, 2, -1)
    return np.rint(blocks.mean(axis=(1, 3))).astype(a.dtype)


def png_ihdr(path) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) read from the PNG's IHDR, by hand."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
    return w, h, depth, ctype


def png_chunk_types(path) -> list[bytes]:
    data, at, kinds = Path(path).read_bytes(), 8, []
    while at < len(data):
        n = struct.unpack(">I", data[at:at + 4])[0]
        kinds.append(data[at + 4:at + 8])
        at += 12 + n
    return kinds


@pytest.fixture
def deep_rgb() -> np.ndarray:
    """16-bit RGB whose values an 8-bit round trip cannot keep (none is a multiple of 257)."""
    rng = np.random.default_rng(12)
    a = rng.integers(0, 65536, (30, 42, 3), dtype=np.uint16)
    return a | np.uint16(1)  # odd: never v * 257 for even v, and not all multiples


# --------------------------------------------------------------------------------------------
# 3. 16-bit colour stays 16-bit


def test_16_bit_rgb_png_round_trips_at_full_depth(tmp_path, deep_rgb):
    src = tmp_path / "deep.png"
    src.write_bytes(imagecodecs.png_encode(deep_rgb))  # libpng, not poolcli's writer
    assert png_ihdr(src)[2:] == (16, 2)
    result = invoke("avg", src, "-k", "2", "-o", tmp_path / "out.png", "--backend", "numpy",
                    "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert record["dtype"] == "uint16" and record["warnings"] == []
    assert png_ihdr(tmp_path / "out.png") == (21, 15, 16, 2)
    back = imagecodecs.png_decode((tmp_path / "out.png").read_bytes())
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, avg2(deep_rgb))


def test_16_bit_rgba_tiff_round_trips_at_full_depth(tmp_path, deep_rgb):
    rgba = np.dstack([deep_rgb, np.full(deep_rgb.shape[:2], 65535, np.uint16)])
    src = tmp_path / "deep.tif"
    tifffile.imwrite(src, rgba, photometric="rgb", extrasamples=["unassalpha"])
    with Image.open(src) as im:  # what went wrong before: Pillow reads it as 8-bit
        assert im.mode in ("RGBA", "RGB")
    # max: the exact mode (averages with alpha go through premultiplied float64)
    result = invoke("max", src, "-k", "2", "-o", tmp_path / "out.tif", "--backend", "numpy")
    assert result.exit_code == 0, result.output
    with tifffile.TiffFile(tmp_path / "out.tif") as tf:
        page = tf.pages[0]
        assert page.bitspersample == 16 and page.samplesperpixel == 4
        back = page.asarray()
    np.testing.assert_array_equal(back, rgba[:30, :42].reshape(15, 2, 21, 2, 4).max(axis=(1, 3)))


def test_16_bit_rgb_tiff_to_png_keeps_depth(tmp_path, deep_rgb):
    src = tmp_path / "deep.tif"
    tifffile.imwrite(src, deep_rgb, photometric="rgb")
    assert invoke("max", src, "-o", tmp_path / "out.png", "--backend", "numpy").exit_code == 0
    back = imagecodecs.png_decode((tmp_path / "out.png").read_bytes())
    expected = deep_rgb[:30, :42].reshape(15, 2, 21, 2, 3).max(axis=(1, 3))
    np.testing.assert_array_equal(back, expected)


def test_16_bit_png_through_the_installed_command(tmp_path, deep_rgb):
    """The real entry point in a process, as a user runs it."""
    src = tmp_path / "deep.png"
    src.write_bytes(imagecodecs.png_encode(deep_rgb))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    exe = Path(sys.executable).with_name("poolcli")
    proc = subprocess.run([str(exe), "avg", str(src), "-o", str(tmp_path / "o.png"),
                           "--backend", "numpy", "-q"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert png_ihdr(tmp_path / "o.png")[2:] == (16, 2)
    back = imagecodecs.png_decode((tmp_path / "o.png").read_bytes())
    np.testing.assert_array_equal(back, avg2(deep_rgb))


def test_info_reports_the_true_bit_depth(tmp_path, deep_rgb):
    (tmp_path / "deep.png").write_bytes(imagecodecs.png_encode(deep_rgb))
    Image.fromarray(deep_rgb[..., 0].astype(np.uint8)).save(tmp_path / "grey.png")
    result = invoke("info", tmp_path / "deep.png", tmp_path / "grey.png", "--json")
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(r["mode"], r["bits"], r["dtype"]) for r in rows] == [
        ("RGB;16", 16, "uint16"), ("L", 8, "uint8")]


# --------------------------------------------------------------------------------------------
# 4. every lossy conversion said


def test_warnings_in_json_and_once_on_the_terminal(tmp_path, deep_rgb):
    rgba = np.random.default_rng(4).integers(0, 256, (20, 24, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a1.png")
    Image.fromarray(rgba[::-1].copy(), "RGBA").save(tmp_path / "a2.png")
    (tmp_path / "deep.png").write_bytes(imagecodecs.png_encode(deep_rgb))
    Image.fromarray(rgba[..., :3].copy()).save(tmp_path / "plain.png")
    result = invoke("avg", tmp_path / "a1.png", tmp_path / "a2.png", tmp_path / "deep.png",
                    tmp_path / "plain.png", "-o", tmp_path / "out", "--format", "jpg",
                    "--backend", "numpy", "--json", "--report", tmp_path / "r.csv")
    assert result.exit_code == 0, result.output
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())
               if not r.get("summary")}
    alpha = "alpha dropped, composited onto white (JPEG has no alpha)"
    depth = "16-bit colour reduced to 8 bits (JPEG holds 8)"
    assert records["a1.png"]["warnings"] == [alpha]
    assert records["a2.png"]["warnings"] == [alpha]
    assert records["deep.png"]["warnings"] == [depth]
    assert records["plain.png"]["warnings"] == []
    lines = [x for x in result.stderr.splitlines() if x.startswith("poolcli warning:")]
    assert lines == [f"poolcli warning: {alpha}: 2 files", f"poolcli warning: {depth}: 1 file"]
    csv_text = (tmp_path / "r.csv").read_text()
    assert "warnings" in csv_text.splitlines()[0] and depth in csv_text


def test_float_into_png_is_said(tmp_path):
    np.save(tmp_path / "f.npy", np.linspace(0, 1, 48, dtype=np.float32).reshape(4, 4, 3))
    result = invoke("avg", tmp_path / "f.npy", "-o", tmp_path / "f.png", "--backend", "numpy",
                    "--json")
    record = json.loads(result.stdout.splitlines()[0])
    assert record["warnings"] == [
        "float colour rounded to 8 bits, taken as 0..1 (images hold no float colour)"]


# --------------------------------------------------------------------------------------------
# 5. metadata kept


XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
       b'22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
       b'dc:creator="Ann Example"/></rdf:RDF></x:xmpmeta>')


@pytest.fixture
def phone_jpeg(tmp_path) -> Path:
    """A 60 x 40 (stored) JPEG as a phone writes it: EXIF orientation 6, camera tags, XMP."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneCo"
    exif[0x0110] = "Model X"
    sub = exif.get_ifd(0x8769)
    sub[0xA002], sub[0xA003] = 60, 40
    sub[0x9003] = "2024:05:06 07:08:09"
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:, :30] = 255  # left half white: after rotating 90 degrees clockwise, the top half
    path = tmp_path / "phone.jpg"
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), xmp=XMP, quality=95)
    return path


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "tif"])
def test_exif_and_xmp_kept_orientation_reset_dimensions_updated(tmp_path, phone_jpeg, ext):
    out = tmp_path / f"out.{ext}"
    result = invoke("avg", phone_jpeg, "-o", out, "--backend", "numpy", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0])["warnings"] == []
    with Image.open(out) as im:
        assert im.size == (20, 30)  # rotated (40 x 60 shown), then pooled 2x2
        exif = im.getexif()
        assert exif[0x0112] == 1
        assert exif[0x010F] == "PhoneCo" and exif[0x0110] == "Model X"
        sub = exif.get_ifd(0x8769)
        assert (sub[0xA002], sub[0xA003]) == (20, 30)
        assert sub[0x9003] == "2024:05:06 07:08:09"
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
        xmp = xmp.encode() if isinstance(xmp, str) else xmp
        assert b"Ann Example" in xmp
        top = np.asarray(im.convert("L"))
    assert top[:10].mean() > 200 and top[-10:].mean() < 50  # the rotation was applied once


def test_png_text_chunks_kept_and_strip_drops_everything(tmp_path, phone_jpeg):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Ann")
    info.add_itxt("Title", "Caf\u00e9 \u2615")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    src = tmp_path / "text.png"
    Image.new("RGB", (8, 6), (10, 20, 30)).save(src, pnginfo=info, dpi=(300, 300),
                                                 exif=Image.open(phone_jpeg).getexif())
    assert invoke("avg", src, "-o", tmp_path / "kept.png", "--backend", "numpy").exit_code == 0
    with Image.open(tmp_path / "kept.png") as im:
        assert im.text["Author"] == "Ann" and im.text["Title"] == "Caf\u00e9 \u2615"
        assert "Ann Example" in im.text["XML:com.adobe.xmp"]
        assert im.getexif()[0x0110] == "Model X"
        assert round(im.info["dpi"][0]) == 150
    assert b"eXIf" in png_chunk_types(tmp_path / "kept.png")
    for name in ("stripped.png", "stripped.jpg"):
        result = invoke("avg", src, "-o", tmp_path / name, "--backend", "numpy", "--strip")
        assert result.exit_code == 0, result.output
    assert png_chunk_types(tmp_path / "stripped.png") == [b"IHDR", b"IDAT", b"IEND"]
    with Image.open(tmp_path / "stripped.jpg") as im:
        assert not im.getexif() and "xmp" not in im.info and "icc_profile" not in im.info


def test_metadata_into_a_format_without_it_is_said(tmp_path, phone_jpeg):
    result = invoke("avg", phone_jpeg, "-o", tmp_path / "o.bmp", "--backend", "numpy",
                    "--json")
    assert json.loads(result.stdout.splitlines()[0])["warnings"] == [
        "metadata not kept: EXIF, XMP (BMP cannot hold it)"]


# --------------------------------------------------------------------------------------------
# 6. decompression bombs refused from the header


def bmp_claiming(width: int, height: int) -> bytes:
    """A 70-byte BMP whose header claims width x height 24-bit pixels (Pillow's
    Tests/images/bmp/b/badwidth.bmp is this with a width of -127, read as 2**32 - 127)."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + info + bytes(16)


def test_bmp_bomb_refused_from_its_header_with_bounded_memory(tmp_path):
    bomb = tmp_path / "badwidth.bmp"
    bomb.write_bytes(bmp_claiming(-127, 64))
    script = textwrap.dedent(f"""
        import resource, time
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))  # 1 GiB: the image is 800 GB
        from poolcli.io.read import load_image
        from poolcli.errors import ImageError
        t = time.perf_counter()
        try:
            load_image({str(bomb)!r})
        except ImageError as exc:
            print(exc)
        print(f"{{time.perf_counter() - t:.3f}}")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    message, seconds = proc.stdout.splitlines()
    assert message == ("image is 4294967169 x 64 = 274877898816 pixels, over the limit of "
                       "178956970 (--max-pixels)")
    print(f"BMP bomb refused in {float(seconds) * 1e3:.1f} ms")  # measured, not asserted


def test_bmp_bomb_refused_by_the_cli_under_max_pixels(tmp_path):
    bomb = tmp_path / "wide.bmp"
    bomb.write_bytes(bmp_claiming(100_000, 100_000))
    result = invoke("avg", bomb, "-o", tmp_path / "o.png", "--max-pixels", "1000000",
                    "--backend", "numpy", "-q")
    assert result.exit_code == 1
    assert "image is 100000 x 100000 = 10000000000 pixels, over the limit of 1000000" in \
        result.stderr
    assert not (tmp_path / "o.png").exists()


def test_pillow_limit_stays_in_force_for_other_threads(tmp_path):
    """While poolcli reads in one thread, Pillow still refuses a bomb in another: the limit
    is never lifted for the process (``MAX_IMAGE_PIXELS`` is untouched)."""
    from PIL import Image as PILImage

    from poolcli.io import read

    bomb = tmp_path / "bomb.bmp"
    bomb.write_bytes(bmp_claiming(100_000, 100_000))
    limit = PILImage.MAX_IMAGE_PIXELS
    seen = []

    def other():
        try:
            PILImage.open(bomb)
        except PILImage.DecompressionBombError as exc:
            seen.append(exc)

    with read._reading():
        assert limit == PILImage.MAX_IMAGE_PIXELS
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert len(seen) == 1
    assert limit == PILImage.MAX_IMAGE_PIXELS


# --------------------------------------------------------------------------------------------
# 7. multi-page TIFFs as they are


@pytest.fixture
def pages_tiff(tmp_path) -> tuple[Path, list[np.ndarray]]:
    rng = np.random.default_rng(7)
    pages = [rng.integers(0, 256, (10, 8, 3), dtype=np.uint8),
             rng.integers(0, 256, (6, 12, 3), dtype=np.uint8)]
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tw:
        for p in pages:
            tw.write(p, photometric="rgb")
    return path, pages


def test_pages_of_different_sizes_pooled_page_by_page(tmp_path, pages_tiff):
    src, pages = pages_tiff
    result = invoke("avg", src, "-k", "2", "-o", tmp_path / "out.tif", "--backend", "numpy",
                    "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert record["pages"] == [[[10, 8, 3], [5, 4, 3]], [[6, 12, 3], [3, 6, 3]]]
    with tifffile.TiffFile(tmp_path / "out.tif") as tf:
        back = [p.asarray() for p in tf.pages]
    assert len(back) == 2
    for got, page in zip(back, pages):
        np.testing.assert_array_equal(got, avg2(page))


def test_window_across_pages_of_different_sizes_is_an_error(tmp_path, pages_tiff):
    src, _ = pages_tiff
    result = invoke("avg", src, "-k", "2x2x2", "-o", tmp_path / "out.tif", "--backend",
                    "numpy", "-q")
    assert result.exit_code == 1
    assert ("a window across pages (size 2x2x2) needs pages of one size; this TIFF's pages "
            "are 8x10, 12x6 (WxH)") in result.stderr
    assert not (tmp_path / "out.tif").exists()


def test_tiff_pillow_cannot_identify_is_read_by_tifffile(tmp_path):
    """Like scikit-image's data/multipage_rgb.tif: two pages of float64 RGB, planes apart."""
    rng = np.random.default_rng(3)
    planes = rng.random((2, 3, 10, 10))
    src = tmp_path / "multipage_rgb.tif"
    tifffile.imwrite(src, planes, photometric="rgb", planarconfig="separate")
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(src)
    img = load_image(src)
    assert img.array.shape == (2, 10, 10, 3) and img.array.dtype == np.float64
    result = invoke("avg", src, "-k", "2", "-o", tmp_path / "out.tif", "--backend", "numpy")
    assert result.exit_code == 0, result.output
    back = tifffile.imread(tmp_path / "out.tif")
    expected = np.moveaxis(planes, 1, -1).reshape(2, 5, 2, 5, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(back, expected, rtol=1e-12)


def test_pillow_reads_what_poolcli_writes_for_8_bit(tmp_path):
    """The 16-bit work leaves 8-bit PNG untouched: written by pngwrite, read by Pillow."""
    a = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    assert invoke("max", tmp_path / "a.png", "-k", "1", "-o", tmp_path / "b.png",
                  "--backend", "numpy").exit_code == 0
    assert png_ihdr(tmp_path / "b.png")[2:] == (8, 2)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), a)


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_opaque_alpha_averages_exactly_as_without_alpha(dtype, backend):
    """Alpha weights colour (premultiplied), so a fully opaque image must give the plain
    average bit for bit: no scaling round trip may move a .5 tie (16-bit RGBA was off by one)."""
    from poolcli import api

    top = np.iinfo(dtype).max
    x = np.random.default_rng(1).integers(0, top + 1, (33, 47, 4)).astype(dtype)
    x[..., 3] = top
    weighted = api.run(x, "avg", size=2, backend=backend, alpha_channel=3).array
    np.testing.assert_array_equal(weighted, api.pool(x, "avg", size=2, backend="numpy"))
