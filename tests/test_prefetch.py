"""The first file of a one-file run, decoded while the command line starts (io/prefetch.py).

The read that follows must give exactly what it gives without it, use it only for the very
file it was made from (unchanged since), and keep every check of the read (the pixel limit,
16-bit colour, animation) as before.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image as PILImage

from poolcli import api
from poolcli.errors import ImageError
from poolcli.io import prefetch, read


@pytest.fixture(autouse=True)
def _no_leftover():
    prefetch.drop()
    yield
    prefetch.drop()


@pytest.fixture
def opens(monkeypatch):
    """The calls of the read's own ``PIL.Image.open`` (none when the early decoding is used)."""
    calls = []
    real = read._open

    def spy(f):
        calls.append(f)
        return real(f)

    monkeypatch.setattr(read, "_open", spy)
    return calls


def _photo(path, seed=0, size=(96, 64), **save):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    PILImage.fromarray(arr).save(path, **save)
    return path


def _started_job():
    job = prefetch._job
    assert job is not None
    assert job.done.wait(30)
    return job


@pytest.mark.parametrize("name", ["a.jpg", "b.JPEG", "c.png"])
def test_the_read_takes_the_early_decoding_and_gets_the_same_pixels(tmp_path, opens, name):
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotated: the orientation is applied after the early decoding too
    path = _photo(tmp_path / name, exif=exif)
    plain = read.load_image(path)
    assert len(opens) == 1
    prefetch.start(str(path))
    assert _started_job().image is not None
    early = read.load_image(path)
    assert len(opens) == 1  # the read did not open the file with Pillow again
    assert prefetch._job is None  # taken once
    np.testing.assert_array_equal(early.array, plain.array, strict=True)
    assert early.array.shape[:2] == (96, 64)
    assert (early.mode, early.format, early.info.get("orientation")) == (
        plain.mode, plain.format, plain.info.get("orientation"))


def test_a_file_changed_since_is_read_again(tmp_path, opens):
    path = _photo(tmp_path / "a.png", seed=1)
    prefetch.start(str(path))
    _started_job()
    _photo(path, seed=2, size=(90, 60))  # another picture under the same name
    img = read.load_image(path)
    assert len(opens) == 1
    assert img.array.shape[:2] == (60, 90)


def test_another_file_does_not_take_it(tmp_path, opens):
    a, b = _photo(tmp_path / "a.jpg", seed=1), _photo(tmp_path / "b.jpg", seed=2)
    prefetch.start(str(a))
    _started_job()
    want = np.asarray(PILImage.open(b))
    np.testing.assert_array_equal(read.load_image(b).array, want)
    assert len(opens) == 1 and prefetch._job is not None  # still waiting for a.jpg's read


def test_the_pixel_limit_is_checked_before_decoding_early(tmp_path):
    path = _photo(tmp_path / "a.jpg")
    prefetch.start(str(path), max_pixels=96 * 64 - 1)
    assert _started_job().image is None
    with pytest.raises(ImageError, match=r"over the limit of 6143 \(--max-pixels\)"):
        read.load_image(path, max_pixels=96 * 64 - 1)


def test_what_the_read_decodes_otherwise_is_not_decoded_early(tmp_path):
    pytest.importorskip("imagecodecs")
    deep = tmp_path / "deep.png"  # 16-bit colour: imagecodecs reads it at full depth
    import imagecodecs

    deep.write_bytes(imagecodecs.png_encode(np.full((8, 8, 3), 40000, np.uint16)))
    anim = tmp_path / "anim.png"
    frames = [PILImage.new("RGB", (8, 8), c) for c in ("red", "blue")]
    frames[0].save(anim, save_all=True, append_images=frames[1:])
    gif = _photo(tmp_path / "x.gif")
    for path, image in ((deep, None), (anim, None), (gif, "no job")):
        prefetch.start(str(path))
        if image == "no job":  # not a JPEG or PNG name: nothing started
            assert prefetch._job is None
            continue
        assert _started_job().image is None
        got = read.load_image(path)
        prefetch.drop()
        assert got.array.dtype == (np.uint16 if path == deep else np.uint8)
        assert got.frames == (2 if path == anim else 1)


@pytest.mark.parametrize("what", ["-", "folder", "missing.jpg", "empty.jpg"])
def test_nothing_starts_for_what_is_not_a_file(tmp_path, what):
    (tmp_path / "folder.jpg").mkdir()
    (tmp_path / "empty.jpg").write_bytes(b"")
    path = "-" if what == "-" else str(tmp_path / ("folder.jpg" if what == "folder" else what))
    prefetch.start(path)
    assert prefetch._job is None


def test_a_corrupt_file_fails_as_before(tmp_path):
    path = tmp_path / "bad.jpg"
    data = _photo(tmp_path / "ok.jpg").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    prefetch.start(str(path))
    assert _started_job().image is None
    with pytest.raises(ImageError, match="cannot decode this JPEG file"):
        read.load_image(path)


def test_one_file_runs_of_the_command_give_the_librarys_numbers(tmp_path):
    """The installed command (the early decoding on) against the library (off)."""
    for name in ("p.jpg", "p.png"):
        src = _photo(tmp_path / name, seed=3, size=(401, 303))
        out = tmp_path / f"out-{name}.png"
        exe = [sys.executable, "-m", "poolcli"]
        r = subprocess.run([*exe, "avg", str(src), "-o", str(out), "-q"], capture_output=True,
                           text=True, env={**os.environ, "PYTHONWARNINGS": "error"})
        assert r.returncode == 0, r.stderr
        want = api.pool(read.load_image(src).array, "avg", 2)
        np.testing.assert_array_equal(np.asarray(PILImage.open(out)), want)


def _chunks(data: bytes) -> list[bytes]:
    import struct

    pos, kinds = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + n
    return kinds


def test_a_png_of_many_image_chunks_is_decoded_in_one(tmp_path, opens):
    path = _photo(tmp_path / "big.png", seed=5, size=(400, 300), compress_level=0)
    data = path.read_bytes()
    assert _chunks(data).count(b"IDAT") >= 3  # Pillow writes 64 KiB chunks
    merged = prefetch.one_idat(data)
    assert _chunks(merged) == [b"IHDR", b"IDAT", b"IEND"]
    import io

    np.testing.assert_array_equal(np.asarray(PILImage.open(io.BytesIO(merged))),
                                  np.asarray(PILImage.open(path)))
    prefetch.start(str(path))
    assert _started_job().image is not None
    np.testing.assert_array_equal(read.load_image(path).array, np.asarray(PILImage.open(path)))
    assert not opens
    # chunks between image chunks (not allowed by the PNG standard), a cut file: left as they are
    cut = data[: len(data) - 70000]
    assert prefetch.one_idat(cut) is cut
    first = _chunks(data).index(b"IDAT")
    import struct

    pos = 8
    for _ in range(first + 1):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        pos += 12 + n
    odd = data[:pos] + b"\0\0\0\0tEXt\0\0\0\0" + data[pos:]
    assert prefetch.one_idat(odd) is odd
