"""Batches on Dask's distributed engine: one worker killed mid-batch, every output identical."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from poolcli import api
from poolcli.distributed import Job, parse_address, process_job, run_dask
from poolcli.io.read import load_image
from poolcli.io.write import save_image

distributed = pytest.importorskip(
    "distributed", reason="Dask's distributed engine is only in the optional 'dask' extra")

JOBS = 20


def make_batch(tmp_path, n=JOBS, size=(300, 260)):
    """n real PNG/JPEG/RGBA images, and the jobs that pool them (random modes seeded)."""
    rng = np.random.default_rng(3)
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    jobs = []
    for i in range(n):
        channels, ext = [(3, ".png"), (4, ".png"), (1, ".png"), (3, ".jpg")][i % 4]
        shape = size + ((channels,) if channels > 1 else ())
        path = src / f"img{i:02d}{ext}"
        Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8)).save(path)
        mode, opts = [("avg", {}), ("max", {"stride": 1, "size": 3}), ("stochastic", {"seed": i}),
                      ("lp", {"padding": 1, "size": 3, "stride": 2})][i % 4]
        # backend numpy: a few tens of ms per image, so the batch is still running when a worker dies
        jobs.append(Job(str(path), str(out / f"img{i:02d}.png"), mode, pool={"backend": "numpy", **opts}))
    return jobs


def local_bytes(job: Job, tmp_path) -> bytes:
    """The same job run in this process with api.run + io.write.save_image."""
    img = load_image(job.input)
    y = api.run(img.array, job.mode, alpha_channel=img.alpha_channel, **job.pool).array
    ref = tmp_path / "local.png"
    save_image(ref, y, like=img)
    return ref.read_bytes()


def test_parse_address():
    assert parse_address("local") == ("local", None)
    assert parse_address("local:3") == ("local", 3)
    assert parse_address("tcp://10.0.0.1:8786") == ("tcp://10.0.0.1:8786", None)
    for bad in ("local:0", "local:x", ""):
        with pytest.raises(ValueError, match="--dask"):
            parse_address(bad)


def test_process_job_turns_errors_into_records(tmp_path):
    rec = process_job({"input": str(tmp_path / "missing.png"), "output": str(tmp_path / "o.png"), "mode": "max"})
    assert rec["status"] == "failed" and rec["error"] and rec["output"] is None
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    rec = process_job(Job(str(tmp_path / "a.png"), str(tmp_path / "o.png"), "max", pool={"size": 9}))
    assert rec["status"] == "failed" and "output would be empty" in rec["error"]
    assert not (tmp_path / "o.png").exists()
    rec = process_job(Job(str(tmp_path / "a.png"), str(tmp_path / "o.png"), "max"))
    assert rec["status"] == "ok" and rec["output_shape"] == [2, 2, 3] and rec["output_bytes"] > 0


def test_worker_killed_mid_batch_outputs_identical(tmp_path):
    jobs = make_batch(tmp_path)
    expected = {job.output: local_bytes(job, tmp_path) for job in jobs}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=30)
        pids = client.run(os.getpid)  # worker address -> process id
        victim_address, victim = next(iter(pids.items()))
        victim_state = cluster.scheduler.workers[victim_address]  # the scheduler runs in this process
        seen, killed_at = [], []

        def on_result(rec):
            seen.append(rec)
            # in the middle of the batch, while the victim holds a task: that task is lost
            if len(seen) >= 3 and not killed_at and victim_state.processing:
                os.kill(victim, signal.SIGKILL)
                killed_at.append(len(seen))

        t0 = time.monotonic()
        records = run_dask(jobs, cluster.scheduler_address, on_result=on_result, chunk_size=1, timeout=45)
        assert time.monotonic() - t0 < 50
        assert killed_at and killed_at[0] < JOBS - 5
        # the tasks the dead worker held went back to the scheduler and ran again elsewhere
        log = cluster.scheduler.transition_log
        assert any(t[1] == "processing" and t[2] == "released" for t in log)
        client.wait_for_workers(2, timeout=30)  # the nanny restarted the killed worker
        assert victim not in client.run(os.getpid).values()

    assert len(records) == len(seen) == JOBS
    assert [r["input"] for r in records] == [j.input for j in jobs]  # records in job order
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records if r["error"]]
    for job in jobs:
        data = Path(job.output).read_bytes()
        assert data == expected[job.output], job.output
        with Image.open(job.output) as im:
            im.load()  # a complete, valid PNG
    assert sorted(os.listdir(tmp_path / "out")) == sorted(os.path.basename(j.output) for j in jobs)


def test_local_cluster_address_and_chunks(tmp_path):
    jobs = make_batch(tmp_path, n=6, size=(40, 30))
    jobs.append(Job(str(tmp_path / "in" / "missing.png"), str(tmp_path / "out" / "missing.png"), "max"))
    done = []
    records = run_dask(jobs, "local:1", on_result=done.append, chunk_size=4, timeout=45)
    assert len(done) == len(records) == 7
    assert [r["status"] for r in records] == ["ok"] * 6 + ["failed"]
    for job in jobs[:6]:
        assert Path(job.output).read_bytes() == local_bytes(job, tmp_path)


def test_no_temporary_is_left_after_a_failed_batch(tmp_path):
    """Temporaries that workers killed while writing leave behind -- fsio's names (shortened
    for a long output name) and replace_atomically's (the suffix kept, a file or a folder) --
    are removed once the batch is over, failures included; a live process's are kept, and so
    are other files."""
    import subprocess
    import sys

    from poolcli.distributed import is_temporary_of
    from poolcli.io import fsio

    jobs = make_batch(tmp_path, n=2, size=(20, 16))
    long_name = "x" * 230 + ".png"  # its temporaries' names are shortened to 255 bytes
    jobs[1] = Job(jobs[1].input, str(tmp_path / "out" / long_name), "avg")
    jobs.append(Job(str(tmp_path / "in" / "missing.png"), str(tmp_path / "out" / "m.nii.gz"),
                    "max"))  # fails: no input
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    out = tmp_path / "out"

    def fsio_name(name, pid):
        tail = f".{fsio.host_tag()}-{pid}-0123abcd{fsio.TMP_SUFFIX}"
        return "." + name[: fsio.NAME_MAX - 1 - len(tail)] + tail

    try:
        stale = [fsio_name(long_name, dead.pid), fsio_name("img00.png", dead.pid),
                 ".m.nii.gz.k2j_x9ab.poolcli-tmp.nii.gz"]
        assert fsio_name(long_name, dead.pid) != "." + long_name  # shortened indeed
        for name in stale:
            (out / name).write_bytes(b"partial")
        (out / ".img00.png.ab12cd34.poolcli-tmp.zarr").mkdir()  # a folder (an OME-Zarr store)
        (out / ".img00.png.ab12cd34.poolcli-tmp.zarr" / "0").write_bytes(b"chunk")
        keep = [fsio_name("img00.png", alive.pid), ".other.png.ab12cd34.poolcli-tmp", "note.txt"]
        for name in keep:
            (out / name).write_bytes(b"keep")
        assert is_temporary_of(stale[1], "img00.png") and is_temporary_of(stale[2], "m.nii.gz")
        assert is_temporary_of(stale[0], long_name) and not is_temporary_of(stale[0], "x.png")
        assert not is_temporary_of(".other.png.ab12cd34.poolcli-tmp", "img00.png")

        records = run_dask(jobs, "local:1", timeout=60)
        assert [r["status"] for r in records] == ["ok", "ok", "failed"]
        left = sorted(os.listdir(out))
        assert left == sorted(["img00.png", long_name] + keep), left
    finally:
        alive.kill()
        alive.wait()
