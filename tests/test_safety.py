"""Issue 4, nothing lost and nobody surprised: bad files, bad options, faults, paths, races.

Every test runs the command line on real files in ``tmp_path`` (in process through
``cli.main``, which maps exceptions to exit codes exactly as the installed entry point, or
as real processes where two must run at once). The invariants checked again and again:

- a bad input fails that file alone, with one line ``poolcli: <file>: <reason>`` on
  standard error and no traceback; the batch goes on and exits 1 (2 for usage errors);
- no input file changes (hashed before and after), no temporary file stays behind, and
  every output that exists opens and verifies with Pillow.

What test_imageio.py and test_cli.py already cover is not repeated (loader-level
truncation and bit flips of every sample, ``--max-pixels`` from PNG/.npy headers, the
usage errors listed there, Ctrl-C in a real process, links to an input).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from poolcli import cli
from poolcli.io import fsio

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
TMP_SUFFIX = ".poolcli-tmp"


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("POOLCLI_BACKEND", raising=False)
    monkeypatch.delenv("POOLCLI_DEBUG", raising=False)


def main(capsys, *args) -> tuple[int, str, str]:
    """The real entry point in process -> (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


# --------------------------------------------------------------------------------------------
# invariants


def hashes(*roots) -> dict[str, str]:
    """Every file under ``roots`` (links not followed) -> sha256, or the link's target."""
    found = {}
    for root in roots:
        root = Path(root)
        if root.is_file() and not root.is_symlink():
            found[str(root)] = hashlib.sha256(root.read_bytes()).hexdigest()
            continue
        for folder, dirs, files in os.walk(root, followlinks=False):
            for name in dirs + files:
                p = os.path.join(folder, name)
                if os.path.islink(p):
                    found[p] = "link -> " + os.readlink(p)
                elif name in files:
                    with open(p, "rb") as f:
                        found[p] = hashlib.sha256(f.read()).hexdigest()
    return found


def temp_files(*roots) -> list[str]:
    return [os.path.join(folder, n) for root in roots for folder, _, files in os.walk(root) for n in files
            if n.endswith(TMP_SUFFIX)]


def assert_whole(path) -> None:
    """The file is a complete, valid image (or .npy / .json)."""
    path = Path(path)
    if path.suffix == ".npy":
        np.load(path, allow_pickle=False)
        return
    if path.suffix == ".json":
        json.loads(path.read_text())
        return
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            im.load()


def outputs(root) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and not p.name.endswith(TMP_SUFFIX))


def failure_lines(err: str) -> list[str]:
    return [x for x in err.splitlines() if x.startswith("poolcli: ")]


def assert_one_line_per_failure(err: str, failed: list, folder=None) -> None:
    """Exactly one ``poolcli: <path>: <reason>`` line per failed file; no traceback."""
    assert "Traceback" not in err and "internal error" not in err, err
    lines = failure_lines(err)
    named = {}
    for line in lines:
        path = line[len("poolcli: "):].split(": ", 1)[0]
        named[Path(path).name] = line
    assert sorted(named) == sorted(failed), err
    assert len(lines) == len(failed), err


# --------------------------------------------------------------------------------------------
# hostile files, made from the real samples


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def png_claiming(width: int, height: int) -> bytes:
    """camera.png with its IHDR edited to claim width x height (CRC fixed, data unchanged)."""
    data = bytearray(sample("camera.png"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    """chelsea_anim.gif with its logical screen edited (the first frame's size in Pillow)."""
    data = bytearray(sample("chelsea_anim.gif"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """coffee.jpg with its SOF0 frame header edited."""
    data = bytearray(sample("coffee.jpg"))
    at = data.index(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff_claiming(width: int, height: int) -> bytes:
    """A real uncompressed grey TIFF with ImageWidth/ImageLength rewritten as LONGs."""
    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    assert data[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", data, 4)[0]
    n = struct.unpack_from("<H", data, ifd)[0]
    for i in range(n):
        at = ifd + 2 + 12 * i
        tag = struct.unpack_from("<H", data, at)[0]
        if tag in (256, 257):
            struct.pack_into("<HHII", data, at, tag, 4, 1, width if tag == 256 else height)
    return bytes(data)


def npy_header_only(shape, descr="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def pickled_npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": "payload"}, None], dtype=object), allow_pickle=True)
    return buf.getvalue()


BOMBS = {
    "bomb.png": lambda: png_claiming(100_000, 100_000),
    "bomb.gif": lambda: gif_claiming(65_535, 65_535),
    "bomb.jpg": lambda: jpeg_claiming(65_000, 65_000),
    "bomb.tif": lambda: tiff_claiming(100_000, 100_000),
    "bomb.npy": lambda: npy_header_only((100_000, 100_000, 3), "|u1"),
}

#: file name -> (bytes, words of the reason)
BAD_FILES = {
    "empty.png": (lambda: b"", "empty file"),
    "text.png": (lambda: b"hello, this is not a picture\n", "not an image file"),
    "html.gif": (lambda: b"<!doctype html><title>404</title>", "not an image file"),
    "zeros.tif": (lambda: bytes(4096), "not an image file"),
    "random.webp": (lambda: np.random.default_rng(1).bytes(3000), "not an image file"),
    "text.npy": (lambda: b"1 2 3\n4 5 6\n", "not a .npy file"),
    "pickled.npy": (pickled_npy, "Python objects"),
    "absurd.npy": (lambda: npy_header_only((10, 10, 10**10)), "truncated"),
    "absurd_frames.npy": (lambda: npy_header_only((10**7, 100, 100, 1)), "truncated"),
    "complex.npy": (lambda: _npy(np.zeros((4, 4), np.complex64)), "complex64"),
    "cut.png": (lambda: sample("camera.png")[:5000], "truncated"),
    "cut.jpg": (lambda: sample("coffee.jpg")[:3000], "cannot decode"),
    "cut.gif": (lambda: sample("chelsea_anim.gif")[:20000], "cannot decode"),
    "cut.tif": (lambda: sample("camera_float.tif")[:-3], "truncated"),
    **{name: (make, "over the limit") for name, make in BOMBS.items()},
}


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


GOOD = ["camera.png", "coffee.jpg", "chelsea_anim.gif", "coffee_pages.tif", "chelsea_crop.npy",
        "camera16.png", "coffee.bmp"]


@pytest.fixture
def mixed(tmp_path) -> Path:
    """A folder as a new user has it: good samples, broken, huge-header and non-image files."""
    d = tmp_path / "mixed"
    d.mkdir()
    for name in GOOD:
        shutil.copy(SAMPLES / name, d / name)
    for name, (make, _) in BAD_FILES.items():
        (d / name).write_bytes(make())
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(d / "dot.png")  # pools to nothing
    return d


# --------------------------------------------------------------------------------------------
# 1. bad files


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_mixed_folder_fails_each_bad_file_alone(mixed, tmp_path, capsys, jobs):
    before = hashes(mixed)
    out = tmp_path / "out"
    code, stdout, err = main(capsys, "avg", mixed, "-o", out, "--backend", "numpy", "--jobs", jobs, "--json")
    assert code == 1
    failed = sorted([*BAD_FILES, "dot.png"])
    assert_one_line_per_failure(err, failed)
    for line in failure_lines(err):
        name = Path(line.split(": ")[1]).name
        words = BAD_FILES[name][1] if name in BAD_FILES else "empty"
        assert words in line, line
    records = [json.loads(x) for x in stdout.splitlines()]
    summary = records.pop()
    assert summary["summary"] and summary["failed"] == len(failed) and summary["ok"] == len(GOOD)
    assert sorted(r["input"] for r in records) == sorted(str(p) for p in mixed.iterdir())
    # every good file was pooled, whole; nothing else was written; inputs untouched
    assert sorted(p.name for p in outputs(out)) == sorted(GOOD)
    for p in outputs(out):
        assert_whole(p)
    assert hashes(mixed) == before
    assert not temp_files(mixed, out)


def test_mixed_folder_table_names_every_failure(mixed, tmp_path, capsys):
    code, _, err = main(capsys, "max", mixed, "-o", tmp_path / "o", "--backend", "numpy")
    assert code == 1
    assert f"{len(GOOD)} ok, {len(BAD_FILES) + 1} failed of {len(GOOD) + len(BAD_FILES) + 1} files" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_fail_fast_stops_at_the_first_bad_file(tmp_path, capsys, jobs):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a_bad.png").write_bytes(b"not a png")
    for i in range(6):
        shutil.copy(SAMPLES / "coffee.bmp", d / f"b{i}.bmp")
    code, out, err = main(capsys, "max", d, "-o", tmp_path / "o", "--fail-fast", "--json", "--jobs", jobs,
                          "--backend", "numpy")
    assert code == 1
    summary = json.loads(out.splitlines()[-1])
    assert summary["failed"] == 1 and summary["ok"] + summary["cancelled"] == 6
    # one worker: nothing after the bad file runs. Two: the other worker goes on with the
    # files it takes until the failure is seen (how many depends on the scheduler: a loaded
    # machine let it finish 3 of the 6), so only "not all of them" holds every time
    assert summary["cancelled"] == 6 if jobs == "1" else summary["cancelled"] >= 1
    assert len(failure_lines(err)) == 1 and "a_bad.png" in err
    for p in outputs(tmp_path / "o"):  # files that were in flight finished whole
        assert_whole(p)


CUT_SAMPLES = ["camera.png", "camera16.png", "coffee.jpg", "chelsea_anim.gif", "coffee_pages.tif",
               "camera_float.tif", "chelsea_anim.png", "chelsea.webp"]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", CUT_SAMPLES)
def test_truncated_at_every_cut_point(tmp_path, capsys, name):
    """A sweep of cut offsets (header, early data, every tenth, the last bytes): each cut file
    fails alone with one line, or -- cut after its last pixel -- gives the very same pixels."""
    data = sample(name)
    n = len(data)
    cuts = sorted({1, 2, 4, 8, 12, 16, 24, 33, 50, 64, 100, 200, 500}
                  | {n * k // 10 for k in range(1, 10)} | {n - 40, n - 12, n - 4, n - 1})
    d = tmp_path / "cuts"
    d.mkdir()
    stem, ext = os.path.splitext(name)
    for c in cuts:
        (d / f"{stem}_{c:07d}{ext}").write_bytes(data[:c])
    shutil.copy(SAMPLES / name, d / name)
    code, out, err = main(capsys, "max", d, "-o", tmp_path / "o", "--format", "npy", "--backend", "numpy",
                          "--json")
    assert code == 1
    records = {Path(r["input"]).name: r for r in map(json.loads, out.splitlines()[:-1])}
    assert len(records) == len(cuts) + 1
    assert records[name]["status"] == "ok"
    full = np.load(tmp_path / "o" / f"{stem}.npy")
    failed = []
    for c in cuts:
        rec = records[f"{stem}_{c:07d}{ext}"]
        if rec["status"] == "failed":
            failed.append(f"{stem}_{c:07d}{ext}")
            continue
        assert c >= n - 40, f"{name} cut at {c} of {n} bytes was accepted"
        np.testing.assert_array_equal(np.load(tmp_path / "o" / f"{stem}_{c:07d}.npy"), full)
    assert_one_line_per_failure(err, failed)
    assert len(failed) >= len(cuts) - 4


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bomb_headers_refused_before_any_allocation(tmp_path, capsys, monkeypatch, name):
    """A header claiming ~10**10 pixels is refused from the header: no decoder runs and the
    run's peak traced memory stays under 8 MB (the image would be 12-30 GB)."""
    path = tmp_path / name
    path.write_bytes(BOMBS[name]())
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: decoded.append(im) or real_load(im))
    main(capsys, "avg", path, "-o", tmp_path / "out.png", "--backend", "numpy", "-q")  # imports, untraced
    for limit in ([], ["--max-pixels", "1000000"]):
        tracemalloc.start()
        try:
            code, _, err = main(capsys, "avg", path, "-o", tmp_path / "out.png", "--backend", "numpy", "-q",
                                *limit)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert code == 1
        assert err.startswith(f"poolcli: {path}: image is ") and "over the limit" in err, err
        assert err.count("\n") == 1
        assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB"
        assert not decoded
        assert not (tmp_path / "out.png").exists()


def test_bomb_header_rss_stays_small(tmp_path):
    """The same in a real process, by its maximum resident size (all five bombs in one batch)."""
    d = tmp_path / "bombs"
    d.mkdir()
    for name, make in BOMBS.items():
        (d / name).write_bytes(make())
    # VmHWM, the peak of this process's own memory map: ru_maxrss would also count the
    # parent's pages that the forked child held before exec (a big pytest process)
    code = ("import sys\nfrom poolcli.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "    print(e.code, hwm)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "POOLCLI_"))}
    r = subprocess.run([sys.executable, "-c", code, "avg", str(d), "-o", str(tmp_path / "o"), "--backend",
                        "numpy", "-q"], capture_output=True, text=True, timeout=120, env=env)
    status, rss_kb = r.stdout.split()
    assert status == "1", r.stderr
    assert r.stderr.count("over the limit") == len(BOMBS)
    assert int(rss_kb) < 200 * 1024, f"{int(rss_kb) / 1024:.0f} MB resident"


def test_pillow_warnings_do_not_reach_the_user(tmp_path):
    """A real process on corrupt TIFFs (Pillow warns "Truncated File Read", "Corrupt EXIF
    data"): standard error holds exactly one line per file, nothing else."""
    data = sample("camera_float.tif")
    (tmp_path / "a.tif").write_bytes(data[:15000])
    (tmp_path / "b.tif").write_bytes(data[:-20])
    r = subprocess.run([sys.executable, "-m", "poolcli", "max", tmp_path / "a.tif", tmp_path / "b.tif", "-q",
                        "-o", tmp_path / "o"], capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and all(x.startswith(f"poolcli: {tmp_path}/") for x in lines), r.stderr
    assert "truncated" in lines[1]


def test_zero_sized_outputs_fail_and_write_nothing(tmp_path, capsys):
    Image.fromarray(np.zeros((3, 1), np.uint8)).save(tmp_path / "thin.png")
    np.save(tmp_path / "flat.npy", np.zeros((0, 5), np.uint8))
    np.save(tmp_path / "nochan.npy", np.zeros((5, 5, 0), np.uint8))
    code, _, err = main(capsys, "max", tmp_path / "thin.png", tmp_path / "flat.npy", tmp_path / "nochan.npy",
                        "-o", tmp_path / "o", "-k", "2", "-q", "--backend", "numpy")
    assert code == 1
    assert_one_line_per_failure(err, ["thin.png", "flat.npy", "nochan.npy"])
    assert "empty" in err and not outputs(tmp_path / "o")


def test_npy_read_from_stdin_is_checked_alike(monkeypatch, capsys, tmp_path):
    for blob, words in [(npy_header_only((10, 10, 10**10)), "truncated"), (pickled_npy(), "Python objects"),
                        (png_claiming(100_000, 100_000), "over the limit")]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(blob)))
        code, _, err = main(capsys, "max", "-", "-o", tmp_path / "x.npy", "-q")
        assert code == 1 and words in err and err.count("\n") == 1
        assert not (tmp_path / "x.npy").exists()


# --------------------------------------------------------------------------------------------
# 2. bad options: usage errors (exit 2), one line, with what is allowed

BAD_OPTIONS = [
    (["max", "--size", "0"], "at least 1"),
    (["max", "-k", "2x"], "N or HxW or DxHxW with whole numbers"),
    (["max", "-k", "2x2x0"], "at least 1"),
    (["max", "-k", ""], "N or HxW or DxHxW"),
    (["max", "--stride", "-1"], "at least 1"),
    (["max", "-s", "0"], "at least 1"),
    (["max", "-k", "3", "-p", "2"], "allows padding 0..1"),
    (["max", "-p", "-1"], "at least 0"),
    (["max", "-p", "foo"], "N or HxW or DxHxW"),
    (["max", "--dilation", "0"], "at least 1"),
    (["max", "--jobs", "0"], ("greater than or equal to 1", "x>=1")),
    (["max", "--threads", "0"], ("greater than or equal to 1", "x>=1")),
    (["max", "--max-pixels", "-1"], ("greater than or equal to 0", "x>=0")),
    (["max", "--png-compress-level", "10"], ("less than or equal to 9", "<=9")),
    (["max", "--jpeg-quality", "0"], ("greater than or equal to 1", "1<=x")),
    (["max", "--jpeg-quality", "101"], ("less than or equal to 100", "<=100")),
    (["max", "--format", "xyz"], "choose one of: png"),
    (["max", "--format", ""], "choose one of: png"),
    (["max", "--backend", ""], "choose one of: auto"),
    (["spp", "--levels", ""], "like 1,2,4"),
    (["spp", "--levels", "0"], ">= 1"),
    (["spp", "--levels", "1,,2"], "like 1,2,4"),
    (["mixed", "--alpha", "2"], "[0, 1]"),
    (["mixed", "--alpha", "-0.5"], "[0, 1]"),
    (["global", "--op", "median"], "choose one of: avg, max, min, lp"),
    (["global", "--op", ""], "choose one of: avg, max, min, lp"),
    (["adaptive", "--output-size", "3", "--op", ""], "choose one of: max, avg"),
    (["adaptive", "--output-size", "0x3"], "at least 1"),
    (["adaptive", "--output-size", "3x4x5"], "takes 1, 2 number(s)"),
    (["softpool", "--temperature", "0"], "> 0"),
    (["softpool", "--temperature", "nan"], "> 0"),
    (["lp", "--p", "-1"], "> 0"),
    (["lp", "--p", "nan"], "> 0 or inf"),  # inf is legal: the max of |x| (issue 12)
    (["fractional", "--ratio", "1.5"], "(0, 1)"),
    (["fractional", "--ratio", "0"], "(0, 1)"),
    (["fractional", "--ratio", "0.5,1.5"], "(0, 1)"),
    (["fractional", "--output-size", "4", "--samples", "1.2,0"], "[0, 1)"),
    (["fractional", "--output-size", "4", "--samples", "0.5"], "takes 2 numbers"),
    (["stochastic", "--seed", "-1"], ("greater than or equal to 0", "x>=0")),
]


@pytest.mark.parametrize("argv, words", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_is_a_one_line_usage_error(tmp_path, capsys, argv, words):
    shutil.copy(SAMPLES / "coffee.bmp", tmp_path / "in.bmp")
    before = hashes(tmp_path)
    code, out, err = main(capsys, argv[0], tmp_path / "in.bmp", *argv[1:])
    assert code == 2, err
    assert err.startswith("poolcli: error: ") and err.count("\n") == 1, err
    # the range messages are Click's ("0 is not in the range x>=1") or, with Typer >= 0.29,
    # pydantic's ("greater than or equal to 1")
    assert any(w in err for w in ((words,) if isinstance(words, str) else words)), err
    assert out == "" and "Traceback" not in err
    assert hashes(tmp_path) == before  # nothing read, nothing written


# --------------------------------------------------------------------------------------------
# 3. nothing lost


@pytest.fixture
def inputs(tmp_path) -> Path:
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    for name in ("camera.png", "coffee.bmp", "chelsea_crop.npy"):
        shutil.copy(SAMPLES / name, d / name)
    shutil.copy(SAMPLES / "coffee_pages.tif", d / "sub" / "pages.tif")
    return d


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"], ["--skip-existing"]])
def test_inputs_never_replaced_whatever_o_names(inputs, tmp_path, capsys, overwrite):
    before = hashes(inputs)
    cam = inputs / "camera.png"
    (tmp_path / "link_to_in").symlink_to(inputs, target_is_directory=True)
    (tmp_path / "cam_link.png").symlink_to(cam)
    cases = [
        ["max", cam, "-o", cam],                                   # -o the input itself
        ["max", cam, "-o", tmp_path / "cam_link.png"],              # a link to the input
        ["max", cam, "-o", inputs / "sub" / ".." / "camera.png"],  # another spelling of it
        ["max", inputs, "-r", "-o", inputs],                        # the folder of the inputs
        ["max", inputs, "-r", "-o", tmp_path / "link_to_in"],       # ... through a link
        ["max", cam, inputs / "coffee.bmp", "-o", f"{inputs}/"],    # two files into their folder
        ["max", inputs / "sub" / "pages.tif", "-o", inputs / "sub"],
    ]
    for argv in cases:
        code, _, err = main(capsys, *argv, *overwrite, "-q", "--backend", "numpy")
        assert code in (0, 1), err
        if not overwrite or overwrite == ["--overwrite"]:
            assert code == 1 and "inputs are never overwritten" in err, (argv, err)
        assert "Traceback" not in err
        assert hashes(inputs) == before, argv
        assert (tmp_path / "cam_link.png").is_symlink()
    assert not temp_files(tmp_path)


def test_output_folder_inside_the_input_folder(inputs, capsys):
    """-o in/out while walking in/ recursively: outputs written, inputs intact; a rerun does
    not take the outputs for inputs."""
    before = hashes(inputs)
    code, out, err = main(capsys, "avg", inputs, "-r", "-o", inputs / "out", "--json", "--backend", "numpy")
    assert code == 0, err
    assert len(out.splitlines()) == 5
    got = sorted(str(p.relative_to(inputs / "out")) for p in outputs(inputs / "out"))
    assert got == ["camera.png", "chelsea_crop.npy", "coffee.bmp", "sub/pages.tif"]
    after = hashes(inputs)
    assert {k: v for k, v in after.items() if "/out/" not in k and not k.endswith("/out")} == before
    code, out, err = main(capsys, "avg", inputs, "-r", "-o", inputs / "out", "--json", "--skip-existing")
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["files"] == 4  # not 8: out/ is not an input


def test_existing_outputs_kept_unless_overwrite(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    for rel in ("camera.png", "coffee.bmp", "chelsea_crop.npy", "sub/pages.tif"):
        (out / rel).write_bytes(b"precious " + rel.encode())
    precious = hashes(out)
    code, _, err = main(capsys, "max", inputs, "-r", "-o", out, "-q")
    # one grouped line with the count and the fix (issue 13 item 7), not one per file
    assert code == 1 and len(failure_lines(err)) == 1 and "4 outputs exist" in err
    assert "--overwrite" in err and "--skip-existing" in err
    assert hashes(out) == precious
    code, out_json, _ = main(capsys, "max", inputs, "-r", "-o", out, "--skip-existing", "--json")
    assert code == 0 and json.loads(out_json.splitlines()[-1])["skipped"] == 4
    assert hashes(out) == precious
    code, _, err = main(capsys, "max", inputs, "-r", "-o", out, "--overwrite", "-q")
    assert code == 0, err
    for p in outputs(out):
        assert_whole(p)


class FullDisk(io.RawIOBase):
    """A file object that takes ``room`` bytes, then fails with ENOSPC as a full disk does.

    ``fileno`` is refused so that Pillow writes through ``write`` (and not straight to the
    descriptor)."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def write(self, b) -> int:
        if self.room < len(b):
            self.f.write(bytes(b)[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(b)
        return self.f.write(b)

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, *a):
        return self.f.seek(*a)

    def tell(self):
        return self.f.tell()

    def read(self, *a):
        return self.f.read(*a)

    def flush(self):
        return self.f.flush()


@pytest.mark.parametrize("fmt", ["png", "tiff", "npy", "jpeg"])
def test_full_disk_fails_the_file_and_leaves_no_temporary(inputs, tmp_path, capsys, monkeypatch, fmt):
    """The write fails after 100 bytes with ENOSPC: that file fails with 'No space left on
    device', the previous output stays, no temporary file stays, the batch goes on."""
    real = fsio.atomic_write
    calls = []

    def atomic_write(path, write):
        calls.append(path)
        room = 100 if len(calls) == 2 else 10**9  # only the second file meets a full disk
        return real(path, lambda f: write(FullDisk(f, room)))

    monkeypatch.setattr(fsio, "atomic_write", atomic_write)
    out = tmp_path / "out"
    out.mkdir()
    code, js, err = main(capsys, "avg", inputs, "-o", out, "--format", fmt, "--json", "--backend", "numpy",
                         "--jobs", "1")  # the second file written is the second input
    assert code == 1
    recs = [json.loads(x) for x in js.splitlines()[:-1]]
    assert [r["status"] for r in recs] == ["ok", "failed", "ok"]
    assert "No space left on device" in recs[1]["error"]
    assert_one_line_per_failure(err, [Path(recs[1]["input"]).name])
    assert not temp_files(out)
    assert len(outputs(out)) == 2
    for p in outputs(out):
        assert_whole(p)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A folder where the operating system refuses writes past 64 KiB: (folder, the OS's
    reason, a context manager to pool in). A real 64 KiB tmpfs where it can be mounted
    (root with CAP_SYS_ADMIN): "No space left on device"; elsewhere a 64 KiB file-size limit
    (RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails): "File too large"."""
    import contextlib
    import resource

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True,
                       text=True) if shutil.which("mount") else None
    if r is not None and r.returncode == 0:
        yield mnt, "No space left on device", contextlib.nullcontext
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        return

    @contextlib.contextmanager
    def file_size_limit():
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    yield mnt, "File too large", file_size_limit


def test_real_full_disk_on_a_tiny_tmpfs(tmp_path, tiny_tmpfs, capsys):
    tiny_tmpfs, reason, limited = tiny_tmpfs
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    src.mkdir()
    np.save(src / "a_small.npy", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    np.save(src / "b_big.npy", rng.integers(0, 256, (400, 400, 3), dtype=np.uint8))  # 120 KB pooled
    np.save(src / "c_small.npy", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    with limited():
        code, js, err = main(capsys, "max", src, "-o", tiny_tmpfs, "-k", "1", "--json", "--backend",
                             "numpy", "--jobs", "1")  # one temporary file at a time on the tiny disk
    assert code == 1
    recs = {Path(r["input"]).name: r for r in map(json.loads, js.splitlines()[:-1])}
    assert recs["b_big.npy"]["status"] == "failed"
    assert reason in recs["b_big.npy"]["error"]
    assert recs["a_small.npy"]["status"] == recs["c_small.npy"]["status"] == "ok"
    assert sorted(os.listdir(tiny_tmpfs)) == ["a_small.npy", "c_small.npy"]  # no temporary file
    assert "Traceback" not in err


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch):
    """A folder nobody can write into. Root ignores permission bits, so as root it is a
    read-only bind mount; where that cannot be made, creating files in it is refused by
    patching ``tempfile.mkstemp`` (EROFS), which is where atomic_write creates its file."""
    d = tmp_path / "ro"
    d.mkdir()
    (d / "old.png").write_bytes(sample("coffee.bmp"))
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d, "permission bits"
        d.chmod(0o755)
        return
    ok = (subprocess.run(["mount", "--bind", str(d), str(d)], capture_output=True).returncode == 0
          and subprocess.run(["mount", "-o", "remount,bind,ro", str(d)], capture_output=True).returncode == 0)
    if ok:
        yield d, "read-only bind mount"
        subprocess.run(["umount", "-l", str(d)], check=False)
        return
    subprocess.run(["umount", "-l", str(d)], check=False, capture_output=True)
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*a, dir=None, **k):
        if dir is not None and Path(dir).resolve() == d.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    yield d, "patched mkstemp"


def test_read_only_output_folder(inputs, read_only_folder, capsys):
    ro, how = read_only_folder
    before = hashes(ro)
    code, _, err = main(capsys, "max", inputs, "-o", ro, "--format", "png", "--overwrite", "-q")
    assert code == 1, how
    assert len(failure_lines(err)) == 3 and "Traceback" not in err
    assert "read-only" in err.lower() or "permission denied" in err.lower(), err
    assert hashes(ro) == before


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_in_process_keeps_finished_outputs(tmp_path, capsys, monkeypatch, jobs):
    """Ctrl-C arrives while the third file is being written: exit 130, the files done before
    are whole, no temporary file stays, the inputs are unchanged."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        shutil.copy(SAMPLES / "coffee.bmp", src / f"f{i}.bmp")
    before = hashes(src)
    real = fsio.atomic_write
    calls = []

    def atomic_write(path, write):
        calls.append(path)
        if len(calls) == 3:
            def interrupted(f):
                f.write(b"half a file")
                raise KeyboardInterrupt
            return real(path, interrupted)
        return real(path, write)

    monkeypatch.setattr(fsio, "atomic_write", atomic_write)
    out = tmp_path / "out"
    code, _, err = main(capsys, "max", src, "-o", out, "--jobs", jobs, "--backend", "numpy", "-q")
    assert code == 130 and "Traceback" not in err
    done = outputs(out)
    assert 2 <= len(done) < 6
    for p in done:
        assert_whole(p)
    assert not temp_files(out) and hashes(src) == before


# --------------------------------------------------------------------------------------------
# 4. paths

ODD_NAMES = ["sp ace.png", "ünïcødé 猫.png", "new\nline.png", "tab\t.png", "a..b.png", "-dash.png",
             "..png.png", "semi;colon$(x).png", "quote'\".png"]


def test_odd_names_mirrored_inside_the_output_folder(tmp_path, capsys):
    src = tmp_path / "src"
    (src / "dir with space" / "ünï").mkdir(parents=True)
    for name in ODD_NAMES:
        shutil.copy(SAMPLES / "coffee.bmp", src / "dir with space" / "ünï" / name)
    bad = os.fsencode(src) + b"/bad\xff\xfename.png"  # not UTF-8
    with open(bad, "wb") as f:
        f.write(sample("coffee.bmp"))
    (src / "broken\nname.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    code, js, err = main(capsys, "max", src, "-r", "-o", out, "--json", "--backend", "numpy", "-q",
                         "--report", tmp_path / "report.csv")
    assert code == 1
    # the failure is one line even though the name holds a newline
    assert_one_line_per_failure(err, ["broken\\nname.png"])
    summary = json.loads(js.splitlines()[-1])
    visible = [n for n in ODD_NAMES if not n.startswith(".")]
    assert summary["ok"] == len(visible) + 1
    root = os.path.realpath(out)
    for p in outputs(out):
        assert os.path.commonpath([root, os.path.realpath(p)]) == root
        assert_whole(p)
    assert sorted(p.name for p in (out / "dir with space" / "ünï").iterdir()) == sorted(visible)
    assert os.path.exists(os.fsencode(out) + b"/bad\xff\xfename.png")
    assert sorted(os.listdir(tmp_path)) == ["out", "report.csv", "src"]  # nothing landed beside it
    assert b"bad\xff\xfename.png" in (tmp_path / "report.csv").read_bytes()  # the name's own bytes


def test_dotdot_and_absolute_inputs_land_inside(tmp_path, capsys, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(SAMPLES / "coffee.bmp", tmp_path / "a" / "b" / "x.bmp")
    shutil.copy(SAMPLES / "camera.png", tmp_path / "a" / "y.png")
    monkeypatch.chdir(tmp_path / "a" / "b")
    out = tmp_path / "a" / "b" / "out"
    code, _, err = main(capsys, "max", "../y.png", str(tmp_path / "a" / "b" / "x.bmp"), "../b/../../a/b",
                        "-o", "out", "-q", "--backend", "numpy", "--format", "png")
    assert code == 1  # x.bmp twice: given directly and found in ../b/../../a/b
    assert "also the output of" in err and len(failure_lines(err)) == 1
    assert sorted(p.name for p in outputs(out)) == ["x.png", "y.png"]
    assert sorted(os.listdir(tmp_path / "a")) == ["b", "y.png"]


def test_symlink_loops_end_and_are_not_followed_unless_asked(tmp_path, capsys):
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    shutil.copy(SAMPLES / "coffee.bmp", src / "deep" / "x.bmp")
    (src / "deep" / "self").symlink_to(".", target_is_directory=True)
    (src / "deep" / "up").symlink_to("..", target_is_directory=True)
    (src / "loop_a.png").symlink_to("loop_b.png")
    (src / "loop_b.png").symlink_to("loop_a.png")
    (src / "dangling.png").symlink_to("nowhere.png")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(SAMPLES / "camera.png", outside / "secret.png")
    (src / "escape").symlink_to(outside, target_is_directory=True)
    code, js, err = main(capsys, "max", src, "-r", "-o", tmp_path / "o1", "--json", "--backend", "numpy")
    assert code == 0, err
    assert [Path(json.loads(x)["input"]).name for x in js.splitlines()[:-1]] == ["x.bmp"]
    code, js, err = main(capsys, "max", src, "-r", "-o", tmp_path / "o2", "--json", "--follow-symlinks",
                         "--backend", "numpy")
    recs = [json.loads(x) for x in js.splitlines()[:-1]]
    names = sorted(Path(r["input"]).name for r in recs)
    # each real folder listed once; the file loop and the dangling link fail alone
    assert names.count("x.bmp") == 1 and "secret.png" in names
    assert {Path(r["input"]).name for r in recs if r["status"] == "failed"} <= {"loop_a.png", "loop_b.png",
                                                                               "dangling.png"}
    assert code in (0, 1) and "Traceback" not in err
    for p in outputs(tmp_path / "o2"):
        assert os.path.commonpath([str(tmp_path / "o2"), str(p)]) == str(tmp_path / "o2")


def test_two_inputs_one_output_reported_in_a_tree(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SAMPLES / "coffee.bmp", src / "x.bmp")
    shutil.copy(SAMPLES / "coffee.jpg", src / "x.jpg")
    shutil.copy(SAMPLES / "camera.png", src / "x.png")
    code, js, err = main(capsys, "max", src, "-o", tmp_path / "o", "--format", "png", "--json", "-q",
                         "--overwrite")
    assert code == 1
    recs = [json.loads(x) for x in js.splitlines()[:-1]]
    assert [r["status"] for r in recs] == ["ok", "failed", "failed"]
    assert all("also the output of" in r["error"] for r in recs[1:])
    import poolcli

    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o" / "x.png")),
                                  poolcli.pool(np.asarray(Image.open(SAMPLES / "coffee.bmp")), "max"))


# --------------------------------------------------------------------------------------------
# 5. concurrency


def _env(**extra) -> dict:
    e = dict(os.environ, COLUMNS="300", **extra)
    e.pop("POOLCLI_DEBUG", None)
    e.pop("POOLCLI_BACKEND", None)
    return e


def _poolcli(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "poolcli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env or _env())


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_two_processes_into_one_folder(tmp_path, overwrite):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray(rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)).save(src / f"f{i:02d}.png")
    before = hashes(src)
    out = tmp_path / "out"
    args = ["avg", src, "-o", out, "--backend", "numpy", "--json", "--png-compress-level", "6", *overwrite]
    procs = [_poolcli(*args), _poolcli(*args, "--jobs", "2")]
    results = [p.communicate(timeout=300) for p in procs]
    ok = set()
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode in (0, 1), stderr
        assert b"Traceback" not in stderr and b"internal error" not in stderr
        for line in stdout.decode().splitlines()[:-1]:
            rec = json.loads(line)
            if rec["status"] == "ok":
                ok.add(Path(rec["input"]).name)
            else:
                assert "exists" in rec["error"], rec
    assert len(ok) == 30  # each file written by one process or the other (or both)
    assert sorted(p.name for p in outputs(out)) == sorted(ok)
    for p in outputs(out):
        assert_whole(p)
        with Image.open(p) as im:
            assert im.size == (100, 80)
    assert not temp_files(out) and hashes(src) == before


def test_damaged_kernel_cache_costs_time_not_files(tmp_path):
    """--jobs 2 on the cpu backend with every cached kernel file truncated: the cache is
    rebuilt (or skipped) and every output is whole."""
    cache = tmp_path / "cache"
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        shutil.copy(SAMPLES / "coffee.bmp", src / f"f{i}.bmp")
    env = _env(NUMBA_CACHE_DIR=str(cache))
    first = _poolcli("max", src / "f0.bmp", "-o", tmp_path / "warm.png", "--backend", "cpu", "-q", env=env)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    cached = [p for p in cache.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert cached
    for p in cached:
        p.write_bytes(p.read_bytes()[: max(1, p.stat().st_size // 3)])
    proc = _poolcli("max", src, "-o", tmp_path / "out", "--backend", "cpu", "--jobs", "2", "--json", env=env)
    out, err = proc.communicate(timeout=300)
    assert b"Traceback" not in err
    assert proc.returncode == 0, err.decode()
    assert len(outputs(tmp_path / "out")) == 4
    for p in outputs(tmp_path / "out"):
        assert_whole(p)


def test_unwritable_kernel_cache_folder(tmp_path):
    """NUMBA_CACHE_DIR below a regular file (so not creatable even by root): pools anyway."""
    (tmp_path / "file").write_bytes(b"")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        shutil.copy(SAMPLES / "coffee.bmp", src / f"f{i}.bmp")
    proc = _poolcli("max", src, "-o", tmp_path / "out", "--backend", "cpu", "--jobs", "2", "-q",
                    env=_env(NUMBA_CACHE_DIR=str(tmp_path / "file" / "cache")))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert len(outputs(tmp_path / "out")) == 3
    for p in outputs(tmp_path / "out"):
        assert_whole(p)
