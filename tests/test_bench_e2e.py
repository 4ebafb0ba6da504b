"""The end-to-end benchmark's commands (``bench._commands``): real runs on small files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from poolcli import bench

BIN = Path(sys.executable).parent


def _jpegs(folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    for i in range(n):
        Image.fromarray(bench._test_array((24, 32, 3), "uint8", seed=i)).save(
            folder / f"im {i}.jpg", quality=90)  # a space: the loop must quote
    return sorted(folder.glob("*.jpg"))


def _env() -> dict:
    root = str(Path(bench.__file__).resolve().parent.parent)
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
                PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.mark.parametrize("tool", ["poolcli", "pillow script"])
def test_the_shell_loop_is_one_bash_process_calling_the_tool_once_per_file(tmp_path, tool):
    files = _jpegs(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    cmds = bench._commands(tool, "avg", files, out, 1, 90, bench.SHELL_LOOP)
    assert cmds is not None and len(cmds) == 1 and Path(cmds[0][0]).name == "bash"
    r = subprocess.run(cmds[0], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == [f.name for f in files]
    for f in files:
        with Image.open(out / f.name) as im:
            assert im.size == (16, 12) and im.format == "JPEG"
    if tool == "poolcli":  # one call per file: one report per file
        assert r.stderr.count("1 ok") == 3, r.stderr


def test_the_shell_loop_fails_at_the_first_failing_call(tmp_path):
    files = _jpegs(tmp_path / "in", 2)
    files[0].write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    out.mkdir()
    cmds = bench._commands("poolcli", "avg", files, out, 1, 90, bench.SHELL_LOOP)
    r = subprocess.run(cmds[0], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode != 0 and not list(out.iterdir())


def test_a_missing_tool_has_no_commands(tmp_path, monkeypatch):
    files = _jpegs(tmp_path / "in", 1)
    monkeypatch.setattr(bench, "_magick", lambda: None)
    assert bench._commands("imagemagick", "avg", files, tmp_path, 1, 90, bench.SHELL_LOOP) is None
    md = bench.e2e_markdown([{"case": bench.SHELL_LOOP, "mode": "avg", "tool": "imagemagick",
                              "error": bench.MISSING}])
    assert "| imagemagick | | not installed |" in md


def test_the_folder_case_is_one_poolcli_call_and_one_pillow_process(tmp_path):
    files = _jpegs(tmp_path / "in", 3)
    ours = bench._commands("poolcli", "avg", files, tmp_path / "o", 1, 90)
    theirs = bench._commands("pillow script", "avg", files, tmp_path / "p", 1, 90)
    assert len(ours) == 1 and ours[0][2] == str(files[0].parent)
    assert len(theirs) == 1 and theirs[0][0] == sys.executable
    assert np.all([str(f) in theirs[0] for f in files])


def test_the_tools_of_a_case_are_timed_in_turn(monkeypatch):
    """A B C A B C ...: one warm-up round (not counted), then the timed rounds; a failing tool
    is dropped at its failure, a very slow one after two timed runs."""
    order = []
    walls = {"fast": 1.0, "slow": 12.0, "bad": 1.0}

    def fake_run(cmd, env=None):
        tool = cmd[0]
        order.append(tool)
        fails = tool == "bad" and order.count("bad") == 2  # its first timed run fails
        return walls[tool], 50.0, (3 if fails else 0), ("boom" if fails else "")

    monkeypatch.setattr(bench, "_run_process", fake_run)
    got = bench._time_in_turn({t: [[t]] for t in walls}, reps=4, env=None)
    assert order[:6] == ["fast", "slow", "bad"] * 2
    assert order.count("fast") == 5 and order.count("slow") == 3 and order.count("bad") == 2
    assert got["fast"] == ([1.0] * 4, 50.0, None)
    assert got["slow"][0] == [12.0, 12.0] and got["slow"][2] is None
    assert got["bad"][2] == "exit 3: boom"
