"""Real processes: the installed entry point, python -m poolcli, start-up imports, binary
pipes, exit codes, and Ctrl-C (what CliRunner cannot see)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import poolcli

BIN = Path(sys.executable).parent


def poolcli_exe() -> str:
    """The installed console script (next to this Python, else on PATH)."""
    exe = BIN / "poolcli"
    if exe.exists():
        return str(exe)
    found = shutil.which("poolcli")
    assert found, "the poolcli entry point is not installed (pip install -e .)"
    return found


def env() -> dict:
    e = dict(os.environ)
    e["COLUMNS"] = "300"
    e.pop("POOLCLI_DEBUG", None)
    e.pop("POOLCLI_BACKEND", None)
    return e


def run(*args, input=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([poolcli_exe(), *map(str, args)], input=input, capture_output=True, env=env(),
                          timeout=timeout)


@pytest.fixture
def png(tmp_path) -> Path:
    x = np.random.default_rng(0).integers(0, 256, (31, 45, 3), dtype=np.uint8)
    Image.fromarray(x).save(tmp_path / "in.png")
    return tmp_path / "in.png"


CHECK_IMPORTS = """
import sys
from poolcli.cli import app
try:
    app({args!r}, prog_name="poolcli", standalone_mode=False)
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "numba", "PIL"))
print("HEAVY:", heavy)
"""


@pytest.mark.parametrize("args", [["--help"], ["max", "--help"], ["modes"], ["--version"]])
def test_startup_imports_no_numpy_or_numba(args):
    r = subprocess.run([sys.executable, "-c", CHECK_IMPORTS.format(args=args)], capture_output=True, text=True,
                       env=env(), timeout=60)
    assert r.returncode == 0, r.stderr
    assert "HEAVY: []" in r.stdout, r.stdout


def test_entry_point_and_module_agree():
    a = run("--version")
    b = subprocess.run([sys.executable, "-m", "poolcli", "--version"], capture_output=True, env=env(), timeout=60)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout == f"poolcli {poolcli.__version__}\n".encode()
    h = run("--help")
    assert h.returncode == 0 and b"max" in h.stdout and b"Traceback" not in h.stderr


def test_binary_pipe(png, tmp_path):
    """cat in.png | poolcli max - -o - --format png > out.png"""
    with open(png, "rb") as src, open(tmp_path / "out.png", "wb") as dst:
        r = subprocess.run([poolcli_exe(), "max", "-", "-o", "-", "--format", "png"], stdin=src, stdout=dst,
                           stderr=subprocess.PIPE, env=env(), timeout=120)
    assert r.returncode == 0, r.stderr
    got = np.asarray(Image.open(tmp_path / "out.png"))
    np.testing.assert_array_equal(got, poolcli.pool(np.asarray(Image.open(png)), "max"))
    # the report went to stderr, never into the image
    assert b"1 ok" in r.stderr


def test_json_on_stdout_table_on_stderr(png):
    r = run("avg", png, "-o", png.with_name("o.png"), "--json")
    assert r.returncode == 0
    import json

    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert lines[0]["status"] == "ok" and lines[-1]["summary"] is True
    assert b"31x45x3 -> 15x22x3" in r.stderr


def test_exit_codes(png, tmp_path):
    assert run("max", png, "-o", tmp_path / "a.png", "-q").returncode == 0
    failed = run("max", tmp_path / "missing.png", "-q")
    assert failed.returncode == 1
    line = failed.stderr.decode().strip()
    assert line.startswith(f"poolcli: {tmp_path / 'missing.png'}: ") and "\n" not in line
    assert "no such file" in line.lower()
    usage = run("max", png, "-k", "0")
    assert usage.returncode == 2
    assert usage.stderr.decode().strip() == "poolcli: error: size must be at least 1, got 0"
    unknown = run("max", png, "--bogus")
    assert unknown.returncode == 2
    assert unknown.stderr.decode().count("\n") == 1 and b"Traceback" not in unknown.stderr
    none = run()
    assert none.returncode == 2 and b"Usage" in none.stdout


def _slow_batch(folder: Path, n: int) -> None:
    """n .npy inputs that take a noticeable time each to encode as PNG at level 9."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        np.save(folder / f"img{i:02d}.npy", rng.integers(0, 256, (900, 900, 3), dtype=np.uint8))


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_ctrl_c_exits_130_and_leaves_no_partial_file(tmp_path, jobs):
    src, out = tmp_path / "src", tmp_path / "out"
    n = 24
    _slow_batch(src, n)
    proc = subprocess.Popen(
        [poolcli_exe(), "max", str(src), "-o", str(out), "--format", "png", "--png-compress-level", "9",
         "--backend", "numpy", "--jobs", jobs],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
        # a test run started in the background of a non-interactive shell inherits SIGINT
        # ignored, and Python then installs no KeyboardInterrupt handler: restore it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_dir() and any(p.suffix == ".png" for p in out.iterdir()):
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the batch finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    left = sorted(p.name for p in out.iterdir())
    assert not [name for name in left if name.endswith(".poolcli-tmp")]
    assert 0 < len(left) < n
    for name in left:  # every output that exists is whole
        with Image.open(out / name) as im:
            im.load()
            assert im.size == (450, 450)
