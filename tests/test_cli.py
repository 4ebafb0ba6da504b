"""The command line, in process: real files in tmp_path, CliRunner and main()."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import poolcli
from poolcli import api, batch, cli, modes, report
from poolcli.cli import app, common, tools

runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    """Keep rich from wrapping tables and lines."""
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("POOLCLI_BACKEND", raising=False)


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, input=input)


def main(capsys, *args) -> tuple[int, str, str]:
    """Run the real entry point (one-line errors, exit codes); -> (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def rgb(h=7, w=9, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def files(tmp_path) -> Path:
    """A folder of small images: RGB PNG, grey PNG, RGBA PNG, float .npy, a JPEG, a subfolder."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(rgb()).save(d / "a.png")
    Image.fromarray(rgb(8, 10, 1)[..., 0]).save(d / "grey.png")
    rgba = np.dstack([rgb(6, 6, 2), np.random.default_rng(3).integers(0, 256, (6, 6), dtype=np.uint8)])
    Image.fromarray(rgba, "RGBA").save(d / "alpha.png")
    np.save(d / "f.npy", np.random.default_rng(4).random((6, 8, 2)).astype(np.float32))
    Image.fromarray(rgb(16, 16, 5)).save(d / "photo.jpg", quality=95)
    Image.fromarray(rgb(5, 5, 6)).save(d / "sub" / "deep.png")
    return d


def pixels(path) -> np.ndarray:
    path = str(path)
    if path.endswith(".npy"):
        return np.load(path)
    return np.asarray(Image.open(path))


# --------------------------------------------------------------------------------------------
# results are the library's numbers


@pytest.mark.parametrize("args, kw", [
    ([], {}),
    (["-k", "3", "-s", "2"], {"size": 3, "stride": 2}),
    (["-k", "2x3", "-s", "1x2", "-p", "1", "--ceil-mode"], {"size": "2x3", "stride": "1x2", "padding": 1,
                                                            "ceil_mode": True}),
    (["-k", "3", "-d", "2"], {"size": 3, "dilation": 2}),
    (["-k", "3", "-s", "2", "-p", "same"], {"size": 3, "stride": 2, "padding": "same"}),
])
def test_max_png_equals_api(files, tmp_path, args, kw):
    out = tmp_path / "out.png"
    r = invoke("max", files / "a.png", "-o", out, *args)
    assert r.exit_code == 0, r.stderr
    expected = poolcli.pool(pixels(files / "a.png"), "max", **kw)
    np.testing.assert_array_equal(pixels(out), expected)


IMAGE_MODES = [
    ("avg", [], {}),
    ("avg", ["--count-include-pad", "-p", "1", "-k", "3"], {"count_include_pad": True, "padding": 1, "size": 3}),
    ("min", ["-k", "3", "-s", "1"], {"size": 3, "stride": 1}),
    ("lp", ["--p", "3"], {"p": 3.0}),
    ("lp", ["--no-normalize"], {"normalize": False}),
    ("adaptive", ["--output-size", "3x4", "--op", "avg"], {"output_size": "3x4", "op": "avg"}),
    ("fractional", ["--output-size", "4x5", "--samples", "0.3,0.8"], {"output_size": "4x5", "samples": (0.3, 0.8)}),
    ("fractional", ["--ratio", "0.7", "--seed", "3"], {"ratio": "0.7", "seed": 3}),
    ("mixed", ["--alpha", "0.3"], {"alpha": 0.3}),
    ("mixed", ["--random", "--seed", "5"], {"random": True, "seed": 5}),
    ("stochastic", ["--seed", "11"], {"seed": 11}),
    ("softpool", ["--temperature", "0.5"], {"temperature": 0.5}),
    ("avg", ["--linear-light"], {"linear_light": True}),
    ("mode", ["-k", "3", "-s", "2", "-p", "1"], {"size": 3, "stride": 2, "padding": 1}),
    ("mode", ["--ignore", "0"], {"ignore": 0}),
    ("median", ["-k", "3", "-s", "2"], {"size": 3, "stride": 2}),
    ("median", ["--even", "mean"], {"even": "mean"}),
    ("quantile", ["--q", "0.25", "-k", "3"], {"q": 0.25, "size": 3}),
    ("blurpool", [], {}),
    ("blurpool", ["--filter-size", "5", "-s", "3"], {"filter_size": 5, "stride": 3}),
    ("max", ["--antialias", "-k", "3", "--filter-size", "4"], {"antialias": True, "size": 3,
                                                               "filter_size": 4}),
]


@pytest.mark.parametrize("mode, args, kw", IMAGE_MODES, ids=lambda v: str(v) if isinstance(v, str) else None)
def test_every_image_mode_equals_api(files, tmp_path, mode, args, kw):
    out = tmp_path / f"out_{mode}.png"
    r = invoke(mode, files / "a.png", "-o", out, "--backend", "numpy", *args)
    assert r.exit_code == 0, r.stderr
    expected = poolcli.pool(pixels(files / "a.png"), mode, backend="numpy", **kw)
    np.testing.assert_array_equal(pixels(out), expected)


def test_weighted_reads_weights_file(files, tmp_path):
    w = np.array([[1.0, 2.0], [0.5, 0.25]])
    np.save(tmp_path / "w.npy", w)
    out = tmp_path / "w.npy.out.npy"
    r = invoke("weighted", files / "f.npy", "--weights", tmp_path / "w.npy", "--normalize", "-o", out)
    assert r.exit_code == 0, r.stderr
    expected = poolcli.pool(np.load(files / "f.npy"), "weighted", weights=w, normalize=True)
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)


def test_float_npy_keeps_dtype_and_values(files, tmp_path):
    out = tmp_path / "f_avg.npy"
    r = invoke("avg", files / "f.npy", "-o", out, "-k", "3", "-s", "2", "-p", "1")
    assert r.exit_code == 0, r.stderr
    y = np.load(out)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, poolcli.pool(np.load(files / "f.npy"), "avg", size=3, stride=2, padding=1))


def test_alpha_is_premultiplied_like_the_api(files, tmp_path):
    out = tmp_path / "alpha_avg.png"
    assert invoke("avg", files / "alpha.png", "-o", out).exit_code == 0
    x = pixels(files / "alpha.png")
    expected = api.run(x, "avg", alpha_channel=3).array
    np.testing.assert_array_equal(pixels(out), expected)


def test_cpu_and_numpy_backends_agree(files, tmp_path):
    for be in ("cpu", "numpy"):
        assert invoke("avg", files / "a.png", "-o", tmp_path / f"{be}.png", "--backend", be).exit_code == 0
    np.testing.assert_array_equal(pixels(tmp_path / "cpu.png"), pixels(tmp_path / "numpy.png"))


def test_frames_pool_separately_or_together(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (4, 6, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "stack.npy", x)
    assert invoke("max", tmp_path / "stack.npy", "-o", tmp_path / "two.npy").exit_code == 0
    assert np.load(tmp_path / "two.npy").shape == (4, 3, 4, 3)
    assert invoke("max", tmp_path / "stack.npy", "-k", "2x2x2", "-o", tmp_path / "three.npy").exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "three.npy"), poolcli.pool(x, "max", size=(2, 2, 2)))


def test_animated_gif_keeps_frames(samples, tmp_path):
    out = tmp_path / "anim.gif"
    r = invoke("max", samples / "chelsea_anim.gif", "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout.splitlines()[0])
    assert rec["input_shape"][0] == rec["output_shape"][0] > 1
    with Image.open(out) as im:
        assert im.n_frames == rec["input_shape"][0]


def test_jobs_give_the_same_files(files, tmp_path):
    import poolcli.kernels.cpu  # noqa: F401  (Numba loaded: --threads never touches the environment)

    assert invoke("avg", files, "-r", "-o", tmp_path / "one", "--jobs", "1").exit_code == 0
    assert invoke("avg", files, "-r", "-o", tmp_path / "many", "--jobs", "3", "--threads", "1",
                  "--backend", "cpu").exit_code == 0
    import numba

    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS  # restored
    names = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(tmp_path / "many") for p in (tmp_path / "many").rglob("*") if p.is_file())
    assert len(names) == 6
    for n in names:
        if n.suffix in (".png", ".npy"):
            np.testing.assert_array_equal(pixels(tmp_path / "one" / n), pixels(tmp_path / "many" / n))


def test_sample_folder_batch(samples, tmp_path):
    """Every shipped sample is pooled; every broken one fails with its own line; exit 1."""
    r = invoke("avg", samples, "-r", "-o", tmp_path / "out", "--json", "--jobs", "2")
    assert r.exit_code == 1
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    recs, summary = lines[:-1], lines[-1]
    broken = sorted(str(p) for p in (samples / "broken").iterdir())
    assert sorted(x["input"] for x in recs if x["status"] == "failed") == broken
    assert summary["failed"] == len(broken) and summary["ok"] == len(recs) - len(broken)
    err_lines = [line for line in r.stderr.splitlines() if line.startswith("poolcli: ")]
    assert len(err_lines) == len(broken)
    assert "Traceback" not in r.stderr


# --------------------------------------------------------------------------------------------
# reports


def test_json_lines(files, tmp_path):
    r = invoke("max", files / "a.png", files / "grey.png", "-o", tmp_path / "o", "--json")
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == 3
    a = next(x for x in lines[:2] if x["input"].endswith("a.png"))
    assert set(a) == set(report.FIELDS)
    assert a["status"] == "ok" and a["input_shape"] == [7, 9, 3] and a["output_shape"] == [3, 4, 3]
    assert a["dtype"] == "uint8" and a["reduction"] == pytest.approx(63 / 12)
    assert a["input_bytes"] == os.path.getsize(files / "a.png")
    assert a["output_bytes"] == os.path.getsize(tmp_path / "o" / "a.png")
    assert lines[-1]["summary"] is True and lines[-1]["ok"] == 2 and lines[-1]["failed"] == 0


def test_json_shows_seed_of_random_modes(files, tmp_path):
    r = invoke("stochastic", files / "a.png", "-o", tmp_path / "s.png", "--json", "--seed", "42")
    assert json.loads(r.stdout.splitlines()[0])["seed"] == 42
    r = invoke("fractional", files / "a.png", "-o", tmp_path / "f.png", "--json", "--ratio", "0.6")
    rec = json.loads(r.stdout.splitlines()[0])
    assert isinstance(rec["seed"], int) and len(rec["samples"]) == 2
    # the reported seed reproduces the run
    x = pixels(files / "a.png")
    np.testing.assert_array_equal(pixels(tmp_path / "f.png"),
                                  poolcli.pool(x, "fractional", ratio=0.6, seed=rec["seed"]))


@pytest.mark.parametrize("ext", ["json", "jsonl", "csv"])
def test_report_file(files, tmp_path, ext):
    rep = tmp_path / f"rep.{ext}"
    (files / "bad.png").write_bytes(b"not a png")
    r = invoke("avg", files, "-o", tmp_path / "o", "--report", rep, "--quiet")
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines() == [f"poolcli: {files / 'bad.png'}: " + r.stderr.split(": ", 2)[2].strip()]
    if ext == "csv":
        with open(rep, newline="") as f:
            rows = list(csv.DictReader(f))
        assert tuple(rows[0]) == report.FIELDS
        by_name = {Path(row["input"]).name: row for row in rows}
        assert by_name["a.png"]["input_shape"] == "7x9x3" and by_name["a.png"]["status"] == "ok"
        assert by_name["bad.png"]["status"] == "failed" and by_name["bad.png"]["error"]
    else:
        text = rep.read_text()
        if ext == "json":
            doc = json.loads(text)
            recs, summary = doc["files"], doc["summary"]
        else:
            lines = [json.loads(line) for line in text.splitlines()]
            recs, summary = lines[:-1], lines[-1]
        assert len(recs) == 6 and summary["failed"] == 1 and summary["ok"] == 5
        assert all(set(x) == set(report.FIELDS) for x in recs)


def test_table_on_stderr_and_quiet(files, tmp_path):
    r = invoke("max", files / "a.png", "-o", tmp_path / "x.png")
    assert r.stdout == ""
    assert "7x9x3 -> 3x4x3" in r.stderr and "1 ok" in r.stderr
    r = invoke("max", files / "a.png", "-o", tmp_path / "y.png", "--quiet")
    assert r.stdout == "" and r.stderr == ""


# --------------------------------------------------------------------------------------------
# naming, overwriting, folders


def test_default_name_next_to_input(files):
    assert invoke("min", files / "a.png").exit_code == 0
    assert (files / "a_min.png").is_file()
    assert invoke("min", files / "a.png", "--format", "npy").exit_code == 0
    assert np.load(files / "a_min.npy").shape == (3, 4, 3)
    assert invoke("avg", files / "photo.jpg").exit_code == 0
    assert (files / "photo_avg.jpg").is_file()


def test_folder_without_recursive_skips_subfolders(files):
    r = invoke("max", files, "--json")
    assert r.exit_code == 0, r.stderr
    inputs = [json.loads(x)["input"] for x in r.stdout.splitlines()[:-1]]
    assert sorted(Path(i).name for i in inputs) == ["a.png", "alpha.png", "f.npy", "grey.png", "photo.jpg"]
    assert not (files / "sub" / "deep_max.png").exists()


def test_output_dir_mirrors_tree(files, tmp_path):
    out = tmp_path / "small"
    r = invoke("avg", files, "-r", "-o", out, "--format", "png")
    assert r.exit_code == 0, r.stderr
    got = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert got == ["a.png", "alpha.png", "f.png", "grey.png", "photo.png", "sub/deep.png"]
    assert pixels(out / "sub" / "deep.png").shape == (2, 2, 3)


def test_output_dir_with_trailing_slash_for_one_input(files, tmp_path):
    r = invoke("max", files / "a.png", "-o", f"{tmp_path / 'new'}/")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "new" / "a.png").is_file()


def test_existing_output_fails_then_skip_or_overwrite(files, tmp_path):
    out = tmp_path / "o.png"
    assert invoke("max", files / "a.png", "-o", out).exit_code == 0
    before = out.read_bytes()
    r = invoke("avg", files / "a.png", "-o", out)
    assert r.exit_code == 1
    assert "exists" in r.stderr and "--overwrite" in r.stderr
    assert out.read_bytes() == before
    r = invoke("avg", files / "a.png", "-o", out, "--skip-existing", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout.splitlines()[0])["status"] == "skipped"
    assert json.loads(r.stdout.splitlines()[-1])["skipped"] == 1
    assert out.read_bytes() == before
    assert invoke("avg", files / "a.png", "-o", out, "--overwrite").exit_code == 0
    np.testing.assert_array_equal(pixels(out), poolcli.pool(pixels(files / "a.png"), "avg"))


def test_input_never_overwritten(files, tmp_path):
    a = files / "a.png"
    before = a.read_bytes()
    for extra in ([], ["--overwrite"]):
        r = invoke("max", a, "-o", a, *extra)
        assert r.exit_code == 1 and "input" in r.stderr
    link = tmp_path / "link.png"
    link.symlink_to(a)
    r = invoke("max", a, "-o", link, "--overwrite")
    assert r.exit_code == 1
    hard = tmp_path / "hard.png"
    os.link(a, hard)
    r = invoke("max", a, "-o", hard, "--overwrite")
    assert r.exit_code == 1
    # -o DIR that is the input folder: every output would be its own input
    r = invoke("max", files, "-o", files, "--overwrite", "--json")
    assert r.exit_code == 1
    assert {json.loads(x)["status"] for x in r.stdout.splitlines()[:-1]} == {"failed"}
    assert a.read_bytes() == before and link.is_symlink()


def test_two_inputs_one_output_is_a_failure(files, tmp_path):
    Image.fromarray(rgb(4, 4, 9)).save(files / "a.bmp")
    r = invoke("max", files / "a.png", files / "a.bmp", "-o", tmp_path / "o", "--format", "png", "--json")
    assert r.exit_code == 1
    # records come in completion order (several files are in flight by default)
    recs = sorted((json.loads(x) for x in r.stdout.splitlines()[:-1]), key=lambda x: x["input"])
    assert [(Path(x["input"]).name, x["status"]) for x in recs] == [("a.bmp", "failed"), ("a.png", "ok")]
    assert "also the output of" in recs[0]["error"]
    np.testing.assert_array_equal(pixels(tmp_path / "o" / "a.png"), poolcli.pool(pixels(files / "a.png"), "max"))


def test_rerun_on_a_folder_does_not_pool_its_outputs(files):
    assert invoke("max", files).exit_code == 0
    r = invoke("max", files, "--skip-existing", "--json")
    assert r.exit_code == 0
    recs = [json.loads(x) for x in r.stdout.splitlines()[:-1]]
    assert {x["status"] for x in recs} == {"skipped"} and len(recs) == 5
    assert not list(files.glob("*_max_max*"))


def test_symlinks_skipped_unless_followed_and_loops_end(files, tmp_path):
    (files / "sub" / "loop").symlink_to(files, target_is_directory=True)
    (files / "linked.png").symlink_to(files / "a.png")
    r = invoke("max", files, "-r", "-o", tmp_path / "plain", "--json")
    assert r.exit_code == 0
    names = sorted(Path(json.loads(x)["input"]).name for x in r.stdout.splitlines()[:-1])
    assert "linked.png" not in names and len(names) == 6
    r = invoke("max", files, "-r", "-o", tmp_path / "follow", "--json", "--follow-symlinks")
    assert r.exit_code == 0, r.stderr
    names = sorted(Path(json.loads(x)["input"]).name for x in r.stdout.splitlines()[:-1])
    assert names.count("a.png") == 1 and "linked.png" in names and len(names) == 7


def test_output_dir_never_escaped(files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    r = invoke("max", files, "-r", "-o", out, "--json")
    assert r.exit_code == 1
    assert "outside" in r.stderr
    assert not list((tmp_path / "elsewhere").iterdir())


def test_stdin_to_stdout(files):
    data = (files / "a.png").read_bytes()
    r = runner.invoke(app, ["max", "-", "-o", "-", "--format", "png", "-q"], input=data, catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    import io

    got = np.asarray(Image.open(io.BytesIO(r.stdout_bytes)))
    np.testing.assert_array_equal(got, poolcli.pool(pixels(files / "a.png"), "max"))


# --------------------------------------------------------------------------------------------
# failures: one line each, the right exit code, no traceback


def test_missing_and_corrupt_inputs_fail_alone(files, tmp_path, capsys):
    (files / "corrupt.png").write_bytes((files / "a.png").read_bytes()[:40])
    code, out, err = main(capsys, "max", files / "nope.png", files / "corrupt.png", files / "a.png",
                          "-o", tmp_path / "o", "--quiet")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"poolcli: {files / 'nope.png'}: ")
    assert lines[1].startswith(f"poolcli: {files / 'corrupt.png'}: ")
    assert (tmp_path / "o" / "a.png").is_file()
    assert not (tmp_path / "o" / "corrupt.png").exists()


def test_fail_fast_stops(files, tmp_path):
    # one file in flight: with more, a.png may start (and finish) before nope.png's failure
    r = invoke("max", files / "nope.png", files / "a.png", "-o", tmp_path / "o", "--fail-fast", "--json",
               "--jobs", "1")
    assert r.exit_code == 1
    assert json.loads(r.stdout.splitlines()[-1])["cancelled"] == 1
    assert not (tmp_path / "o" / "a.png").exists()


def test_empty_output_is_a_per_file_error(tmp_path):
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "dot.png")
    r = invoke("max", tmp_path / "dot.png", "-k", "2", "-q")
    assert r.exit_code == 1
    assert "empty" in r.stderr
    assert not (tmp_path / "dot_max.png").exists()


USAGE_ERRORS = [
    (["max", "{a}", "--size", "0"], "size must be at least 1"),
    (["max", "{a}", "-k", "2x"], "size must be"),
    (["max", "{a}", "--stride", "-1"], "stride must be at least 1"),
    (["max", "{a}", "-k", "2", "-p", "2"], "padding 2"),
    (["max", "{a}", "-k", "2x2x2x2"], "size takes"),
    (["max", "{a}", "-d", "0"], "dilation"),
    (["max", "{a}", "--backend", "gpu"], "unknown backend 'gpu'"),
    (["max", "{a}", "--format", "xyz"], "unknown --format"),
    (["max", "{a}", "-o", "{tmp}/x.xyz"], "unknown output format"),
    (["max", "{a}", "--jobs", "0"], "--jobs"),
    (["max", "{a}", "--overwrite", "--skip-existing"], "not both"),
    (["max", "{a}", "--report", "{tmp}/r.txt"], ".json, .jsonl or .csv"),
    (["max", "{a}", "--json", "-o", "-"], "standard output"),
    (["max", "{a}", "{a}", "-o", "-"], "takes one input"),
    (["max", "-"], "standard input needs -o"),
    (["max", "{a}", "--p", "3"], "No such option"),
    (["lp", "{a}", "--p", "-1"], "p must be"),
    (["adaptive", "{a}"], "needs --output-size"),
    (["adaptive", "{a}", "--output-size", "3", "--op", "min"], "--op 'min'"),
    (["fractional", "{a}", "--ratio", "1.5"], "ratio must be in (0, 1)"),
    (["fractional", "{a}"], "--output-size HxW or --ratio"),
    (["mixed", "{a}", "--alpha", "2"], "alpha must be a number in [0, 1]"),
    (["softpool", "{a}", "--temperature", "0"], "temperature"),
    (["weighted", "{a}"], "needs weights"),
    (["weighted", "{a}", "--weights", "{tmp}/none.npy"], "cannot read --weights"),
    (["spp", "{a}", "--levels", "1,x"], "levels"),
    (["global", "{a}", "--op", "median"], "--op 'median'"),
    (["global", "{a}", "-o", "{tmp}/v.png"], ".npy or .json"),
    (["max", "{empty}"], "no image files found"),
    (["frobnicate", "{a}"], "No such command"),
]


@pytest.mark.parametrize("argv, words", USAGE_ERRORS, ids=[" ".join(a[::-1][:3][::-1]) for a, _ in USAGE_ERRORS])
def test_usage_errors_are_one_line_exit_2(files, tmp_path, capsys, argv, words):
    (tmp_path / "empty").mkdir()
    fill = {"a": files / "a.png", "tmp": tmp_path, "empty": tmp_path / "empty"}
    code, out, err = main(capsys, *[a.format(**fill) for a in argv])
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("poolcli: error: ")
    assert words in lines[0]
    assert "Traceback" not in err and out == ""
    assert sorted(p.name for p in files.iterdir()) == ["a.png", "alpha.png", "f.npy", "grey.png", "photo.jpg", "sub"]


def test_usage_error_before_any_file_is_read(files, tmp_path, capsys):
    code, _, err = main(capsys, "max", files, "-r", "-k", "0", "-o", tmp_path / "o")
    assert code == 2 and not (tmp_path / "o").exists()


def test_internal_errors_have_no_traceback(files, capsys, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(batch, "execute", boom)
    code, _, err = main(capsys, "max", files / "a.png")
    assert code == 1
    assert err.strip() == "poolcli: internal error: RuntimeError: kaboom (POOLCLI_DEBUG=1 shows the traceback)"


def test_keyboard_interrupt_exits_130(files, capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "execute", interrupted)
    code, _, err = main(capsys, "max", files / "a.png")
    assert code == 130 and "Traceback" not in err


# --------------------------------------------------------------------------------------------
# global and spp print values


def test_global_prints_and_writes(files, tmp_path):
    r = invoke("global", files / "a.png", "--op", "max")
    assert r.exit_code == 0, r.stderr
    want = poolcli.pool(pixels(files / "a.png"), "global", op="max")
    assert r.stdout.split()[:8] == ["input", "c0", "c1", "c2", str(files / "a.png"), *map(str, want)]
    r = invoke("global", files / "a.png", "--json")
    rec = json.loads(r.stdout.splitlines()[0])
    np.testing.assert_allclose(rec["values"], poolcli.pool(pixels(files / "a.png"), "global"))
    assert invoke("global", files / "a.png", "-o", tmp_path / "g.npy").exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), poolcli.pool(pixels(files / "a.png"), "global"))


def test_spp_json_file(files, tmp_path):
    out = tmp_path / "feat.json"
    r = invoke("spp", files / "f.npy", "--levels", "1,2", "-o", out, "--op", "avg")
    assert r.exit_code == 0, r.stderr
    want = poolcli.pool(np.load(files / "f.npy"), "spp", levels=(1, 2), op="avg")
    np.testing.assert_allclose(json.loads(out.read_text()), want, rtol=1e-6)
    assert "level" in r.stdout


def test_vectors_into_a_folder(files, tmp_path):
    r = invoke("global", files / "a.png", files / "grey.png", "-o", tmp_path / "v")
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["a.npy", "grey.npy"]


# --------------------------------------------------------------------------------------------
# the other commands


def test_info(files):
    r = invoke("info", files / "a.png", files / "f.npy", "--json")
    assert r.exit_code == 0, r.stderr
    a, f = (json.loads(x) for x in r.stdout.splitlines())
    assert a["shape"] == [7, 9, 3] and a["mode"] == "RGB" and a["format"] == "PNG" and a["frames"] == 1
    assert a["file_bytes"] == os.path.getsize(files / "a.png")
    assert f["dtype"] == "float32" and f["format"] == "NPY"
    r = invoke("info", files / "a.png", files / "missing.png")
    assert r.exit_code == 1 and "7x9x3" in r.stdout and "missing.png" in r.stderr


def test_modes_lists_the_registry():
    r = invoke("modes", "--json")
    assert [m["name"] for m in json.loads(r.stdout)] == list(modes.MODES)
    r = invoke("modes")
    assert r.exit_code == 0 and all(name in r.stdout for name in modes.MODES)


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"poolcli {poolcli.__version__}"


def test_doctor_json():
    r = invoke("doctor", "--json")
    assert r.exit_code == 0, r.stderr
    facts = json.loads(r.stdout)
    assert facts["poolcli"] == poolcli.__version__
    for key in ("python", "numpy", "numba", "pillow", "typer", "rich", "cache_dir", "threading_layer", "threads",
                "cuda"):
        assert key in facts


def test_warmup_reports_every_dtype():
    r = invoke("warmup", "--json")
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["dtype"] for x in rows[1:]] == list(tools.WARMUP_DTYPES)


def test_every_command_has_help():
    import typer.main

    group = typer.main.get_command(app)
    assert set(modes.MODES) <= set(group.commands)
    for name, cmd in group.commands.items():
        assert (cmd.help or "").strip(), name
        r = invoke(name, "--help")
        assert r.exit_code == 0 and "Usage" in r.stdout


def test_each_mode_exposes_only_its_options():
    import typer.main

    group = typer.main.get_command(app)
    every = {o for m in modes.MODES.values() for o in m.options}
    for name, spec in modes.MODES.items():
        params = {p.name for p in group.commands[name].params}
        assert set(spec.options) <= params
        assert not (every - set(spec.options)) & params, name
    assert "size" not in {p.name for p in group.commands["adaptive"].params}
    assert "stride" not in {p.name for p in group.commands["fractional"].params}


def test_progress_bar_never_pollutes_stdout(files, tmp_path, monkeypatch):
    from rich.console import Console

    monkeypatch.setattr(common, "stderr_is_terminal", lambda: True)
    monkeypatch.setattr(common, "stderr_console", lambda: Console(stderr=True, force_terminal=True, width=200))
    r = invoke("max", files, "-r", "-o", tmp_path / "o", "--json")
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 7 and lines[-1]["ok"] == 6


def test_vector_to_stdout_is_only_the_array(files):
    r = runner.invoke(app, ["global", str(files / "a.png"), "-o", "-"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    import io

    got = np.load(io.BytesIO(r.stdout_bytes))
    np.testing.assert_array_equal(got, poolcli.pool(pixels(files / "a.png"), "global"))


def test_commands_are_built_when_first_used():
    """The root group knows every name from the start and builds only the command that runs
    (issue 17: Typer built all of them at every start); its help lists them by panel."""
    import typer.main

    group = typer.main.get_command(app)
    assert list(group.commands)[:3] == ["max", "avg", "min"] and "bench" in group.commands
    assert not group.commands._built  # nothing built by listing the names
    assert group.commands["max"].name == "max"
    assert set(group.commands._built) == {"max"}
    assert "nope" not in group.commands and group.commands.get("nope") is None
    r = invoke("--help")
    assert r.exit_code == 0
    for panel in ("Pooling:", "Pooling (values):", "Tools:", "Pictures and tools:"):
        assert panel in r.stdout
    assert r.stdout.index("Pooling:") < r.stdout.index("  max ") < r.stdout.index("Tools:")


def test_bare_poolcli_prints_the_help_and_exits_2(capsys):
    code, out, err = main(capsys)
    assert code == 2 and out.startswith("Usage: poolcli [OPTIONS] COMMAND") and not err
    assert "Pooling:" in out and "Tools:" in out
