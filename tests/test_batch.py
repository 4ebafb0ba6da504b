"""The library side of a batch, without the CLI: inputs (find_inputs, plan_jobs), the one
per-file pipeline (batch.pool_file), the runner (batch.execute), batch.reason, and the
Dask task run in this process (distributed.process_job / process_task)."""

from __future__ import annotations

import errno
import os
import pickle
import sys

import numpy as np
import pytest
from PIL import Image

from poolcli import api, batch, distributed, inputs
from poolcli.errors import ImageError, UsageError
from poolcli.inputs import Job, Source, find_inputs, plan_jobs
from poolcli.io import pngwrite


def png(path, h=4, w=6, seed=0) -> np.ndarray:
    """A real RGB PNG; returns its pixels."""
    a = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return a


def max2x2(a: np.ndarray) -> np.ndarray:
    """The independent oracle: 2x2 stride-2 max by reshaping (even sizes only)."""
    h, w, c = a.shape
    return a.reshape(h // 2, 2, w // 2, 2, c).max(axis=(1, 3))


def names(sources) -> list[tuple[str, bool]]:
    return [(s.rel, s.listed) for s in sources]


# --------------------------------------------------------------------------------------------
# inputs.find_inputs


@pytest.fixture
def tree(tmp_path):
    """in/ with a.png, b.JPG, notes.txt, .hidden.png and sub/c.npy, sub/deeper/d.tif"""
    top = tmp_path / "in"
    (top / "sub" / "deeper").mkdir(parents=True)
    for p in ("a.png", "b.JPG", "notes.txt", ".hidden.png", "sub/c.npy", "sub/deeper/d.tif"):
        (top / p).write_bytes(b"x")
    return top


def test_find_inputs_lists_image_files_sorted(tree):
    assert names(find_inputs([str(tree)])) == [("a.png", True), ("b.JPG", True)]
    found = find_inputs([str(tree)], recursive=True)
    assert names(found) == [("a.png", True), ("b.JPG", True), ("sub/c.npy", True),
                            ("sub/deeper/d.tif", True)]
    assert found[2].path == os.path.join(str(tree), "sub", "c.npy")


def test_find_inputs_named_files_are_always_tried(tree):
    # a file named on the command line is taken whatever its extension (loading says why not)
    got = find_inputs([str(tree / "notes.txt"), str(tree / "missing.png")])
    assert names(got) == [("notes.txt", False), ("missing.png", False)]


def test_find_inputs_usage_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no input given"):
        find_inputs([])
    with pytest.raises(UsageError, match=r"no image files found in .*empty \(add --recursive"):
        find_inputs([str(empty)])
    with pytest.raises(UsageError, match="must be the only input"):
        find_inputs(["-", str(tmp_path / "a.png")])
    assert find_inputs(["-"]) == [Source("-", "stdin")]


def test_find_inputs_symlinks_skipped_unless_followed_and_never_loop(tree):
    os.symlink(tree, tree / "sub" / "loop")  # a link back to the top
    os.symlink(tree / "a.png", tree / "link.png")
    plain = names(find_inputs([str(tree)], recursive=True))
    assert ("link.png", True) not in plain and not any("loop" in rel for rel, _ in plain)
    followed = [s.rel for s in find_inputs([str(tree)], recursive=True, follow_symlinks=True)]
    assert "link.png" in followed
    assert followed.count("a.png") == 1 and not any("loop" in rel for rel in followed)


def test_find_inputs_reports_unlistable_folder_through_on_warning(tree, monkeypatch, capsys):
    real_scandir = os.scandir
    locked = os.path.join(str(tree), "sub")

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    heard = []
    got = find_inputs([str(tree)], recursive=True, on_warning=heard.append)
    assert names(got) == [("a.png", True), ("b.JPG", True)]
    assert heard == [f"{locked}: cannot list: Permission denied"]
    find_inputs([str(tree)], recursive=True)  # no callback: nothing heard, nothing printed
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------------------------
# inputs.plan_jobs


def test_plan_jobs_names_next_to_the_input(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    jobs = plan_jobs(find_inputs([str(tmp_path / "a.png")]), mode="max")
    assert [j.output for j in jobs] == [str(tmp_path / "a_max.png")]
    jobs = plan_jobs(find_inputs([str(tmp_path / "a.png")]), mode="avg", ext=".webp")
    assert jobs[0].output == str(tmp_path / "a_avg.webp")
    # vectors write nothing without -o
    vector = plan_jobs(find_inputs([str(tmp_path / "a.png")]), mode="global", vector=True)
    assert vector[0].output is None


def test_plan_jobs_mirrors_the_tree_under_output_dir(tree, tmp_path):
    out = tmp_path / "out"
    jobs = plan_jobs(find_inputs([str(tree)], recursive=True), mode="max", output=str(out))
    assert [os.path.relpath(j.output, out) for j in jobs] == [
        "a.png", "b.JPG", os.path.join("sub", "c.npy"), os.path.join("sub", "deeper", "d.tif")]
    assert all(j.make_dirs and not j.error and not j.skip for j in jobs)
    assert not out.exists()  # planning writes nothing
    jobs = plan_jobs(find_inputs([str(tree)]), mode="max", output=str(out), ext=".png")
    assert [os.path.basename(j.output) for j in jobs] == ["a.png", "b.png"]


def test_plan_jobs_collisions_and_existing_outputs(tmp_path):
    for name in ("a.png", "a.jpg", "b.png"):
        (tmp_path / name).write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").write_bytes(b"old")
    srcs = find_inputs([str(tmp_path)])
    jobs = plan_jobs(srcs, mode="max", output=str(out), ext=".png")
    by = {j.source.rel: j for j in jobs}
    assert by["a.jpg"].error is None  # the first of two inputs with one output wins
    assert by["a.png"].error == (f"output {out / 'a.png'} is also the output of "
                                 f"{tmp_path / 'a.jpg'}; not overwritten")
    assert "exists (use --overwrite" in by["b.png"].error
    by = {j.source.rel: j for j in plan_jobs(srcs, mode="max", output=str(out), ext=".png",
                                               overwrite=True)}
    assert by["b.png"].error is None and not by["b.png"].skip
    by = {j.source.rel: j for j in plan_jobs(srcs, mode="max", output=str(out), ext=".png",
                                               skip_existing=True)}
    assert by["b.png"].skip and by["b.png"].error is None
    with pytest.raises(UsageError, match="not both"):
        plan_jobs(srcs, mode="max", output=str(out), overwrite=True, skip_existing=True)


def test_plan_jobs_never_overwrites_an_input(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    png(folder / "a.png")
    os.link(folder / "a.png", tmp_path / "hard.png")
    # -o the input folder itself: every output is its input, even with --overwrite
    jobs = plan_jobs(find_inputs([str(folder)]), mode="max", output=str(folder), overwrite=True)
    assert jobs[0].error == (f"output {folder / 'a.png'} is an input file; "
                             "inputs are never overwritten")
    # the same file under another name (a hard link) is recognised too
    jobs = plan_jobs(find_inputs([str(folder / "a.png")]), mode="max",
                     output=str(tmp_path / "hard.png"), overwrite=True)
    assert "is an input file" in jobs[0].error


def test_plan_jobs_drops_a_previous_runs_output_and_links_out(tmp_path):
    folder = tmp_path / "in"
    (folder / "out").mkdir(parents=True)
    png(folder / "a.png")
    png(folder / "out" / "a.png")  # what `-o in/out/` wrote last time
    jobs = plan_jobs(find_inputs([str(folder)], recursive=True), mode="max",
                     output=str(folder / "out"), overwrite=True)
    assert [j.source.rel for j in jobs] == ["a.png"]  # out/a.png is this run's output, not an input
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(elsewhere, dest / "out")  # dest/out leads out of dest
    jobs = plan_jobs([Source(str(folder / "a.png"), "out/a.png", listed=True)], mode="max",
                     output=str(dest))
    assert "would be outside" in jobs[0].error


def test_plan_jobs_standard_streams():
    with pytest.raises(UsageError, match="standard input needs -o"):
        plan_jobs([Source("-", "stdin")], mode="max")
    assert plan_jobs([Source("-", "stdin")], mode="max", output="-")[0].output == "-"
    with pytest.raises(UsageError, match="takes one input, got 2"):
        plan_jobs([Source("a", "a"), Source("b", "b")], mode="max", output="-")


def test_parse_format():
    assert inputs.parse_format(".JPG") == "jpeg" and inputs.parse_format("tif") == "tiff"
    assert inputs.format_extension("jpeg") == ".jpg"
    assert inputs.parse_format("json", vector=True) == "json"
    with pytest.raises(UsageError, match="unknown --format 'json'"):
        inputs.parse_format("json")


# --------------------------------------------------------------------------------------------
# batch.pool_file


def test_pool_file_on_a_real_png(tmp_path):
    a = png(tmp_path / "in.png")
    out = tmp_path / "out.png"
    rec = batch.pool_file(Job(Source(str(tmp_path / "in.png"), "in.png"), str(out)),
                          batch.Settings(mode="max", backend="numpy"))
    assert rec.status == "ok" and rec.error is None, rec.error
    assert (rec.input, rec.output, rec.mode, rec.backend) == (str(tmp_path / "in.png"), str(out),
                                                             "max", "numpy")
    assert rec.input_shape == (4, 6, 3) and rec.output_shape == (2, 3, 3) and rec.dtype == "uint8"
    assert rec.input_bytes == (tmp_path / "in.png").stat().st_size
    assert rec.output_bytes == out.stat().st_size
    assert rec.reduction == 4.0
    assert all(v is not None and v >= 0 for v in (rec.load_ms, rec.pool_ms, rec.save_ms))
    assert rec.compile_ms == 0.0 and rec.seed is None and rec.values is None
    np.testing.assert_array_equal(np.asarray(Image.open(out)), max2x2(a))
    assert sorted(os.listdir(tmp_path)) == ["in.png", "out.png"]  # no temporary left


def test_pool_file_failed_save_leaves_the_old_output(tmp_path, monkeypatch):
    png(tmp_path / "in.png")
    out = tmp_path / "out.png"
    out.write_bytes(b"previous run")

    def full_disk(f, *args, **kwargs):  # the disk fills up in the middle of the PNG
        f.write(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pngwrite, "write_png", full_disk)
    rec = batch.pool_file(Job(Source(str(tmp_path / "in.png"), "in.png"), str(out)),
                          batch.Settings(mode="max", backend="numpy"))
    assert rec.status == "failed" and rec.error == "cannot write PNG: No space left on device"
    assert out.read_bytes() == b"previous run"  # replaced only by a complete file
    assert sorted(os.listdir(tmp_path)) == ["in.png", "out.png"]


def test_pool_file_skip_planned_failure_and_vector(tmp_path):
    a = png(tmp_path / "in.png")
    src = Source(str(tmp_path / "in.png"), "in.png")
    s = batch.Settings(mode="max", backend="numpy")
    assert batch.pool_file(Job(src, "x.png", skip=True), s).status == "skipped"
    rec = batch.pool_file(Job(src, "x.png", error="planned"), s)
    assert (rec.status, rec.error) == ("failed", "planned")
    assert not (tmp_path / "x.png").exists()
    rec = batch.pool_file(Job(src, None), batch.Settings(mode="global", backend="numpy",
                                                         options={"op": "max"}, vector=True))
    assert rec.status == "ok" and rec.values == a.reshape(-1, 3).max(axis=0).tolist()


def test_pool_file_reports_compile_time_from_the_result(tmp_path, monkeypatch):
    png(tmp_path / "in.png")
    real_run = api.run

    def run(*args, **kwargs):
        res = real_run(*args, **kwargs)
        res.pool_seconds, res.compile_seconds = 1.0, 0.25
        return res

    monkeypatch.setattr(api, "run", run)
    job = Job(Source(str(tmp_path / "in.png"), "in.png"), str(tmp_path / "o.png"))
    rec = batch.pool_file(job, batch.Settings(mode="max", backend="numpy"))
    assert rec.compile_ms == pytest.approx(250.0) and rec.pool_ms == pytest.approx(750.0)
    # the Dask task is the same pipeline, so it reports compile time too
    (tmp_path / "o.png").unlink()
    d = distributed.process_job(distributed.Job(str(tmp_path / "in.png"), str(tmp_path / "o.png"),
                                                "max", pool={"backend": "numpy"}))
    assert d["status"] == "ok" and d["compile_ms"] == 250.0 and d["pool_ms"] == 750.0


# --------------------------------------------------------------------------------------------
# batch.execute


@pytest.mark.parametrize("workers", [1, 3])
def test_execute_a_failing_file_fails_alone(tmp_path, workers):
    for name in ("a", "c", "d"):
        png(tmp_path / f"{name}.png", seed=ord(name))
    (tmp_path / "b.png").write_bytes(b"not an image")
    srcs = find_inputs([str(tmp_path)])
    jobs = plan_jobs(srcs, mode="max", output=str(tmp_path / "out"))
    settings = batch.Settings(mode="max", backend="numpy")
    heard = []
    def work(job, cancel):
        return batch.pool_file(job, settings, cancel)

    records, not_run = batch.execute(jobs, work, workers=workers, on_record=heard.append)
    assert not_run == 0 and heard == records  # handed over in job order
    assert [(os.path.basename(r.input), r.status) for r in records] == [
        ("a.png", "ok"), ("b.png", "failed"), ("c.png", "ok"), ("d.png", "ok")]
    assert records[1].error and "\n" not in records[1].error
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "c.png", "d.png"]


def test_execute_fail_fast_stops_handing_out_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"broken")
    png(tmp_path / "b.png")
    jobs = plan_jobs(find_inputs([str(tmp_path)]), mode="max", output=str(tmp_path / "out"))
    settings = batch.Settings(mode="max", backend="numpy")
    records, not_run = batch.execute(jobs, lambda job, cancel: batch.pool_file(job, settings),
                                     fail_fast=True)
    assert [r.status for r in records] == ["failed"] and not_run == 1
    assert not (tmp_path / "out" / "b.png").exists()


# --------------------------------------------------------------------------------------------
# batch.reason


def test_reason_one_line_by_class():
    missing = FileNotFoundError(errno.ENOENT, "No such file or directory", "a.png")
    assert batch.reason(missing, "a.png") == "No such file or directory"  # the line names a.png
    assert batch.reason(missing, "b.png") == "No such file or directory (a.png)"
    assert batch.reason(UsageError("bad --size\nmore")) == "bad --size"
    assert batch.reason(ImageError("cannot identify image file")) == "cannot identify image file"
    assert batch.reason(ValueError("output would be empty")) == "output would be empty"
    assert batch.reason(KeyError("x")) == "KeyError: 'x'"
    assert batch.reason(RuntimeError()) == "RuntimeError"


# --------------------------------------------------------------------------------------------
# the Dask side, run in this process


def test_file_task_is_picklable_and_runs_pool_file(tmp_path):
    a = png(tmp_path / "in.png")
    task = distributed.as_task(distributed.Job(str(tmp_path / "in.png"), str(tmp_path / "o.png"),
                                               "max", pool={"backend": "numpy", "size": 2},
                                               save={"format": "PNG"}))
    assert isinstance(task, batch.FileTask)
    assert task.settings.geometry == {"size": 2} and task.settings.format == "png"
    d = distributed.process_task(pickle.loads(pickle.dumps(task)))
    assert d["status"] == "ok" and d["output_shape"] == [2, 3, 3] and d["values"] is None
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o.png")), max2x2(a))
    bad = distributed.as_task({"input": str(tmp_path / "in.png"), "output": str(tmp_path / "p.png"),
                               "mode": "max", "save": {"colour": 1}})
    rec = distributed.process_job(bad)
    assert rec["status"] == "failed" and "unknown save option(s) colour" in rec["error"]
    assert rec["output"] is None and not (tmp_path / "p.png").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_applies_once_and_a_batch_stays_exact(tmp_path):
    """Issue 17: the CLI keeps freed buffers for the next file (no page faults per file); the
    setting is the allocator's, never the pixels': a batch after it gives the exact 2x2 mean
    (half to even, as np.round)."""
    import ctypes

    from poolcli.cli import main

    if not hasattr(ctypes.CDLL(None), "mallopt"):
        pytest.skip("not glibc")
    assert batch.keep_freed_memory() is True
    assert batch.keep_freed_memory() is True  # idempotent
    rng = np.random.default_rng(3)
    arrays = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(3)]
    (tmp_path / "in").mkdir()
    for i, a in enumerate(arrays):
        np.save(tmp_path / "in" / f"a{i}.npy", a)
    with pytest.raises(SystemExit) as done:
        main(["avg", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q"])
    assert done.value.code == 0
    for i, a in enumerate(arrays):
        want = (a.reshape(3, 2, 4, 2, 3).sum(axis=(1, 3)) / 4).round().astype(np.uint8)
        np.testing.assert_array_equal(np.load(tmp_path / "out" / f"a{i}.npy"), want)
