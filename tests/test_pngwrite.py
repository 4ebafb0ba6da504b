"""The fast PNG writer: Pillow reads back every pixel, the metadata chunks are Pillow's own."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from poolcli.io import pngwrite
from poolcli.io.write import save_image

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images"

MODES = {"L": (np.uint8, 1), "LA": (np.uint8, 2), "RGB": (np.uint8, 3), "RGBA": (np.uint8, 4),
         "I;16": (np.uint16, 1)}


def _chunks(data: bytes) -> dict:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body), kind
        out.setdefault(kind, []).append(body)
        pos += 12 + n
    return out


def _image(dtype, c, h, w, seed=0):
    rng = np.random.default_rng(seed)
    top = 65536 if dtype == np.uint16 else 256
    x = rng.integers(0, top, (h, w, c), dtype=np.int64)
    x[: h // 2] = (np.arange(w)[None, :, None] * 7) % top  # smooth rows: sub and up get picked
    return x.astype(dtype)


def _write(frame, mode, level=1, **kw) -> bytes:
    buf = io.BytesIO()
    pngwrite.write_png(buf, frame, mode, level, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("hw", [(1, 1), (2, 3), (37, 53)])
def test_pillow_reads_back_every_pixel(mode, level, hw):
    dtype, c = MODES[mode]
    x = _image(dtype, c, *hw)
    back = Image.open(io.BytesIO(_write(x, mode, level)))
    assert back.size == (hw[1], hw[0])
    got = np.asarray(back)
    np.testing.assert_array_equal(got.reshape(x.shape), x)
    assert back.mode == ("I;16" if mode == "I;16" else mode) or (mode == "I;16" and back.mode == "I")


@pytest.mark.parametrize("mode", ["RGB", "I;16"])
def test_deflated_in_parts_is_one_valid_stream(monkeypatch, mode):
    monkeypatch.setattr(pngwrite, "PART_BYTES", 1000)  # many parts on a small image
    monkeypatch.setattr(pngwrite.os, "cpu_count", lambda: 4)
    dtype, c = MODES[mode]
    x = _image(dtype, c, 120, 90, seed=3)
    data = _write(x, mode, 6)
    idat = b"".join(_chunks(data)[b"IDAT"])
    assert (idat[0] * 256 + idat[1]) % 31 == 0 and idat[0] == 0x78  # a proper zlib header
    raw = zlib.decompress(idat)  # checks the adler32 of the whole too
    bpp = c * np.dtype(dtype).itemsize
    assert len(raw) == 120 * (90 * bpp + 1)
    assert set(raw[:: 90 * bpp + 1]) <= {0, 1, 2}  # the filter byte of every row
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))).reshape(x.shape), x)


def test_rows_get_the_filter_that_suits_them():
    flat = np.zeros((4, 64, 3), np.uint8)
    ramp = np.tile((np.arange(64, dtype=np.uint8) * 3)[None, :, None], (4, 1, 3))  # sub: zeros
    x = np.concatenate([flat, ramp, ramp])  # repeated rows: up gives zeros
    raw = zlib.decompress(b"".join(_chunks(_write(x, "RGB"))[b"IDAT"]))
    filters = list(raw[:: 64 * 3 + 1])
    assert filters[:4] == [0, 0, 0, 0]
    assert filters[4] == 1 and filters[9:] == [2, 2, 2]


def test_metadata_chunks_are_byte_for_byte_pillows():
    icc = (SAMPLES / "coffee.bmp").read_bytes()[:300]  # any bytes: the chunk stores them
    x = _image(np.uint8, 3, 9, 7)
    ours = _chunks(_write(x, "RGB", 1, icc_profile=icc, dpi=(72.0, 300.5)))
    buf = io.BytesIO()
    Image.fromarray(x).save(buf, "PNG", compress_level=1, icc_profile=icc, dpi=(72.0, 300.5))
    theirs = _chunks(buf.getvalue())
    for kind in (b"IHDR", b"iCCP", b"pHYs"):
        assert ours[kind] == theirs[kind], kind
    assert sorted(ours) == sorted(theirs)
    back = Image.open(io.BytesIO(_write(x, "RGB", 1, icc_profile=icc, dpi=(72.0, 300.5))))
    assert back.info["icc_profile"] == icc
    assert back.info["dpi"] == pytest.approx((72.0, 300.5), abs=0.02)


def test_save_image_uses_it_and_keeps_the_rest_on_pillow(tmp_path, monkeypatch):
    calls = []
    real = pngwrite.write_png
    monkeypatch.setattr(pngwrite, "write_png", lambda *a, **k: (calls.append(a[2]), real(*a, **k)))
    x = _image(np.uint8, 3, 20, 30)
    save_image(tmp_path / "a.png", x)
    assert calls == ["RGB"]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), x)
    frames = np.stack([x, x[::-1]])
    save_image(tmp_path / "b.png", frames)  # APNG: Pillow's writer
    assert calls == ["RGB"]
    assert Image.open(tmp_path / "b.png").n_frames == 2
    save_image(tmp_path / "c.png", np.arange(12, dtype=np.int32).reshape(3, 4) * 9000)
    assert calls == ["RGB", "I;16"]  # int32 into PNG: clipped to 16 bits, then written here
