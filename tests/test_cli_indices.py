"""The command line's --indices, poolcli unpool, --nodata and --min-valid on real files.

Oracles are plain NumPy, written here independently of the package: argmax/argmin of each
window's cells in scan order (torch's first-tie rule), a scatter into zeros (torch's
max_unpool2d), numpy.nanmean / numpy.nanmedian of the windows with nodata cells set to NaN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import poolcli
from poolcli import cli
from poolcli.cli import app

runner = CliRunner()
WORKTREE = Path(poolcli.__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("POOLCLI_BACKEND", raising=False)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def main(capsys, *args) -> tuple[int, str, str]:
    """The real entry point (one-line errors, exit codes) -> (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def windows(x: np.ndarray, k: int) -> np.ndarray:
    """(H, W[, C]) -> (H//k, W//k, [C,] k*k): each k x k window's cells in scan order."""
    h, w = x.shape[0] // k, x.shape[1] // k
    x = x[:h * k, :w * k]
    c = x.shape[2:]
    v = x.reshape(h, k, w, k, *c).swapaxes(1, 2)  # (h, w, k, k, [C])
    v = v.reshape(h, w, k * k, *c)
    return np.moveaxis(v, 2, -1)


def arg_oracle(x: np.ndarray, k: int, pick=np.argmax) -> tuple[np.ndarray, np.ndarray]:
    """-> (pooled, flat indices h*W + w) of k x k / stride k windows, first tie wins."""
    width = x.shape[1]
    win = windows(x, k)
    j = pick(win, axis=-1)  # numpy: the first occurrence, as torch on the CPU
    y = np.take_along_axis(win, j[..., None], axis=-1)[..., 0]
    oh, ow = y.shape[:2]
    hh = np.arange(oh).reshape(oh, 1, *([1] * (y.ndim - 2))) * k + j // k
    ww = np.arange(ow).reshape(1, ow, *([1] * (y.ndim - 2))) * k + j % k
    return y, (hh * width + ww).astype(np.int64)


def scatter(y: np.ndarray, idx: np.ndarray, h: int, w: int) -> np.ndarray:
    """max_unpool2d: zeros of (h, w[, C]), each y put at its index in its channel's plane."""
    c = y.shape[2] if y.ndim == 3 else 1
    out = np.zeros((h * w, c), dtype=y.dtype)
    yy, ii = y.reshape(-1, c), idx.reshape(-1, c)
    for ch in range(c):
        out[ii[:, ch], ch] = yy[:, ch]
    return out.reshape((h, w, c) if y.ndim == 3 else (h, w))


def test_max_indices_then_unpool_png(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 8, (6, 10, 3), dtype=np.uint8)  # small range: many ties
    Image.fromarray(x).save(tmp_path / "img.png")
    os.chdir(tmp_path)
    r = invoke("max", "img.png", "--indices", "idx.npy", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout.splitlines()[0])
    assert rec["indices"] == "idx.npy" and rec["status"] == "ok"
    y_ref, i_ref = arg_oracle(x, 2)
    idx = np.load(tmp_path / "idx.npy")
    assert idx.dtype == np.int64 and idx.shape == (3, 5, 3)
    np.testing.assert_array_equal(idx, i_ref)
    np.testing.assert_array_equal(np.asarray(Image.open("img_max.png")), y_ref)

    r = invoke("unpool", "img_max.png", "--indices", "idx.npy", "--output-size", "6x10",
               "-o", "back.png")
    assert r.exit_code == 0, r.output
    back = np.asarray(Image.open("back.png"))
    np.testing.assert_array_equal(back, scatter(y_ref, i_ref, 6, 10))
    # zeros everywhere but at the chosen cells, which hold the input's values
    chosen = back != 0
    np.testing.assert_array_equal(back[chosen], x[chosen])
    assert chosen.sum() <= 3 * 5 * 3


def test_min_and_adaptive_indices_npy(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 6)).astype(np.float32)
    np.save(tmp_path / "a.npy", x)
    os.chdir(tmp_path)
    assert invoke("min", "a.npy", "--indices", "imin.npy").exit_code == 0
    y_ref, i_ref = arg_oracle(x, 2, np.argmin)
    np.testing.assert_array_equal(np.load("imin.npy"), i_ref)
    np.testing.assert_array_equal(np.load("a_min.npy"), y_ref)
    # adaptive 8x6 -> 4x3 is 2x2 windows with stride 2
    assert invoke("adaptive", "a.npy", "--output-size", "4x3", "--indices", "iad.npy",
                  "-o", "ad.npy").exit_code == 0
    y_ref, i_ref = arg_oracle(x, 2)
    np.testing.assert_array_equal(np.load("iad.npy"), i_ref)
    assert invoke("unpool", "ad.npy", "--indices", "iad.npy", "--output-size", "8x6",
                  "-o", "back.npy").exit_code == 0
    np.testing.assert_array_equal(np.load("back.npy"), scatter(y_ref, i_ref, 8, 6))


def test_fractional_indices_point_at_the_pooled_values(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.permutation(11 * 13).reshape(11, 13).astype(np.int32)  # distinct values
    np.save(tmp_path / "f.npy", x)
    os.chdir(tmp_path)
    r = invoke("fractional", "f.npy", "--output-size", "5x6", "--seed", "4", "-k", "3",
               "--indices", "fi.npy")
    assert r.exit_code == 0, r.output
    y, idx = np.load("f_fractional.npy"), np.load("fi.npy")
    assert idx.shape == y.shape == (5, 6)
    np.testing.assert_array_equal(x.reshape(-1)[idx], y)


def test_indices_rules(tmp_path, capsys):
    x = np.arange(24, dtype=np.uint8).reshape(4, 6)
    for name in ("a", "b"):
        Image.fromarray(x).save(tmp_path / f"{name}.png")
    os.chdir(tmp_path)
    code, _, err = main(capsys, "max", "a.png", "b.png", "--indices", "idx.npy", "-o", "out/")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "existing folder" in err
    os.mkdir("ix")
    code, _, err = main(capsys, "max", "a.png", "b.png", "--indices", "ix", "-o", "out/")
    assert code == 0, err
    for name in ("a", "b"):
        np.testing.assert_array_equal(np.load(f"ix/{name}_idx.npy"), arg_oracle(x, 2)[1])
    # an existing index file is kept unless --overwrite
    code, _, err = main(capsys, "max", "a.png", "--indices", "ix/a_idx.npy", "-o", "c.png")
    assert code == 1 and "exists" in err and not os.path.exists("c.png")
    code, _, err = main(capsys, "max", "a.png", "--indices", "a.png", "-o", "d.png")
    assert code == 2 and "replace an input" in err


def test_unpool_errors(tmp_path, capsys):
    x = np.arange(24, dtype=np.uint8).reshape(4, 6)
    Image.fromarray(x).save(tmp_path / "a.png")
    os.chdir(tmp_path)
    assert invoke("max", "a.png", "--indices", "i.npy").exit_code == 0
    cases = [
        (("a.png", "--indices", "i.npy", "--output-size", "4x6"), 2, "shape"),  # 4x6 vs 2x3
        (("a_max.png", "--indices", "i.npy", "--output-size", "2x2"), 2, "outside"),
        (("nope.png", "--indices", "i.npy", "--output-size", "4x6"), 1, "nope.png"),
        (("a_max.png", "--indices", "a.png", "--output-size", "4x6"), 1, "not a .npy"),
        (("a_max.png", "--indices", "i.npy", "--output-size", "4"), 2, "output size"),
    ]
    for args, want, text in cases:
        code, _, err = main(capsys, "unpool", *args, "-o", "o.png")
        assert code == want, (args, err)
        assert len(err.strip().splitlines()) == 1 and text in err, err
        assert "Traceback" not in err and not os.path.exists("o.png")


def nodata_field(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A smooth float32 8x12 field with holes; -> (array with the holes' value, valid mask)."""
    yy, xx = np.mgrid[0:8, 0:12]
    x = (np.sin(yy / 3.0) + np.cos(xx / 4.0) + 2.5).astype(np.float32)
    rng = np.random.default_rng(5)
    hole = rng.random((8, 12)) < 0.35
    hole[0:2, 0:2] = True  # one window without a valid cell
    x[hole] = np.nan if kind == "nan" else 0.0
    return x, ~hole


def _nan_windows(x, valid, k):
    return windows(np.where(valid, x, np.nan).astype(np.float64), k)


@pytest.mark.parametrize("nodata", ["0", "nan"])
@pytest.mark.parametrize("suffix", [".npy", ".tif"])
def test_nodata_avg_and_median(tmp_path, nodata, suffix):
    x, valid = nodata_field(nodata)
    src = tmp_path / f"f{suffix}"
    if suffix == ".npy":
        np.save(src, x)
    else:
        Image.fromarray(x, mode="F").save(src)
    os.chdir(tmp_path)
    fill = np.float32(np.nan if nodata == "nan" else 0.0)
    win = _nan_windows(x, valid, 2)
    empty = np.isnan(win).all(axis=-1)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        mean = np.nanmean(win, axis=-1)
        med_mean = np.nanmedian(win, axis=-1)

    def load(path):
        return np.load(path) if suffix == ".npy" else np.asarray(Image.open(path))

    # the lower middle (torch.median), from the sorted valid cells
    lower = np.full(empty.shape, np.nan)
    for i, j in np.ndindex(empty.shape):
        cells = np.sort(win[i, j][~np.isnan(win[i, j])])
        if cells.size:
            lower[i, j] = cells[(cells.size - 1) // 2]
    for mode, extra, ref in (("avg", (), mean), ("median", (), lower),
                             ("median", ("--even", "mean"), med_mean)):
        out = f"o_{mode}{len(extra)}{suffix}"
        r = invoke(mode, src.name, "--nodata", nodata, *extra, "-o", out)
        assert r.exit_code == 0, r.output
        y = load(out)
        assert y.dtype == np.float32 and y.shape == (4, 6)
        expected = np.where(empty, fill, ref).astype(np.float32)
        np.testing.assert_allclose(y, expected, rtol=1e-6, equal_nan=True)
        assert (np.isnan(y) == np.isnan(expected)).all()
    # without --nodata the holes count: NaN spreads through avg, zeros darken it
    assert invoke("avg", src.name, "-o", f"plain{suffix}").exit_code == 0
    plain = load(f"plain{suffix}")
    if nodata == "nan":
        assert np.isnan(plain).sum() > empty.sum()
    else:
        np.testing.assert_allclose(plain, windows(x, 2).astype(np.float64).mean(-1),
                                   rtol=1e-6)


def test_min_valid_half(tmp_path):
    x, valid = nodata_field("nan")
    np.save(tmp_path / "f.npy", x)
    os.chdir(tmp_path)
    r = invoke("avg", "f.npy", "--nodata", "nan", "--min-valid", "0.5", "-k", "2", "-o", "m.npy")
    assert r.exit_code == 0, r.output
    win = _nan_windows(x, valid, 2)
    count = (~np.isnan(win)).sum(axis=-1)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.where(count >= 2, np.nanmean(win, axis=-1), np.nan)
    assert (count == 1).any() and (count >= 2).any()  # the rule is exercised both ways
    np.testing.assert_allclose(np.load("m.npy"), expected.astype(np.float32), rtol=1e-6,
                               equal_nan=True)


def test_nodata_nan_on_integers_is_usage(tmp_path, capsys):
    Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4)).save(tmp_path / "i.png")
    np.save(tmp_path / "j.npy", np.arange(16, dtype=np.int16).reshape(4, 4))
    os.chdir(tmp_path)
    for name, out in (("i.png", "i_avg.png"), ("j.npy", "j_avg.npy")):
        code, _, err = main(capsys, "avg", name, "--nodata", "nan")
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert name in err and "--nodata nan" in err and "Traceback" not in err
        assert not os.path.exists(out)
    # an integer nodata value is fine on integers
    code, _, err = main(capsys, "avg", "j.npy", "--nodata", "0", "-k", "2")
    assert code == 0, err
    x = np.arange(16, dtype=np.float64).reshape(4, 4)
    win = windows(np.where(x == 0, np.nan, x), 2)
    expected = np.round(np.nanmean(win, axis=-1)).astype(np.int16)  # half to even
    np.testing.assert_array_equal(np.load("j_avg.npy"), expected)


def test_subprocess_indices_and_unpool(tmp_path):
    """The installed entry point, end to end, on this worktree's code."""
    rng = np.random.default_rng(6)
    x = rng.integers(0, 256, (6, 8), dtype=np.uint8)
    Image.fromarray(x).save(tmp_path / "img.png")
    exe = Path(sys.executable).parent / "poolcli"
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), COLUMNS="300")
    env.pop("POOLCLI_BACKEND", None)
    for args in (["max", "img.png", "--indices", "idx.npy"],
                 ["unpool", "img_max.png", "--indices", "idx.npy", "--output-size", "6x8",
                  "-o", "back.png"]):
        p = subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
    y_ref, i_ref = arg_oracle(x, 2)
    np.testing.assert_array_equal(np.load(tmp_path / "idx.npy"), i_ref)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "back.png")),
                                  scatter(y_ref, i_ref, 6, 8))
