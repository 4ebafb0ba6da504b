"""Throughput of a batch of small images: a 2-thread pool in one process (like ``--jobs 2``)
versus ``run_dask(address="local:2")``; and the peak memory of pooling, strip by strip, an
image at least 4x larger than the strip budget.

    .venv/bin/python benchmarks/dask_batch.py [--files 600] [--size 256] [--big-mib 432]

Needs the ``dask`` extra (``dask[distributed]``). Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def make_images(folder: Path, n: int, size: int) -> list:
    from PIL import Image

    from poolcli.distributed import Job

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    (folder / "in").mkdir()
    jobs = []
    for i in range(n):
        path = folder / "in" / f"img{i:04d}.png"
        # smooth-ish content (compresses like a photo), different per file
        Image.fromarray(np.roll(base, i, axis=1) // 2 + np.uint8(i % 100)).save(path)
        jobs.append(Job(str(path), "", "avg", pool={"size": 2}))
    return jobs


def with_outputs(jobs: list, folder: Path) -> list:
    from dataclasses import replace

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    return [replace(j, output=str(folder / Path(j.input).name)) for j in jobs]


def bench_threads(jobs: list, workers: int = 2) -> float:
    from poolcli.distributed import process_job

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        records = list(pool.map(process_job, jobs))
    wall = time.perf_counter() - t0
    assert all(r["status"] == "ok" for r in records)
    return wall


def bench_dask(jobs: list, address: str) -> float:
    from poolcli.distributed import run_dask

    t0 = time.perf_counter()
    records = run_dask(jobs, address)
    wall = time.perf_counter() - t0
    assert all(r["status"] == "ok" for r in records), [r for r in records if r["status"] != "ok"][:1]
    return wall


def differing_outputs(a: list, b: list) -> int:
    return sum(Path(x.output).read_bytes() != Path(y.output).read_bytes() for x, y in zip(a, b))


STRIP_CHILD = r"""
import json, sys, time, tracemalloc
import numpy as np
from poolcli import strips


def status(field):  # kB figures of this process's memory (VmHWM: peak resident set)
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024


src, small, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
strips.pool_strips(small, "avg", budget_bytes=10**5, backend="cpu")  # import Numba, load the kernel
base = status("VmRSS")
try:  # reset the peak so that VmHWM measures the pooling alone
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
tracemalloc.start()
t0 = time.perf_counter()
y = strips.pool_strips(src, "avg", budget_bytes=budget, backend="cpu")
wall = time.perf_counter() - t0
_, heap_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps(dict(wall=wall, heap_peak=heap_peak, rss_base=base, rss_peak=status("VmHWM"),
                      out_bytes=y.nbytes, out_shape=list(y.shape))))
"""


def bench_strips(folder: Path, mib: int, budget: int) -> dict:
    """A (H, W, 3) uint8 .npy of about ``mib`` MiB written row block by row block, then
    pooled 2x2 avg in a fresh process; its peak memory measured there."""
    w = 8192
    h = (mib * 2**20) // (w * 3)
    path = folder / "big.npy"
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(h, w, 3))
    rng = np.random.default_rng(1)
    block = rng.integers(0, 256, size=(512, w, 3), dtype=np.uint8)
    for r in range(0, h, 512):
        arr[r : r + 512] = block[: h - r]
    arr.flush()
    del arr
    small = folder / "small.npy"
    np.save(small, block[:64, :256])
    res = subprocess.run([sys.executable, "-c", STRIP_CHILD, str(path), str(small), str(budget)],
                         capture_output=True, text=True, check=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out.update(in_bytes=h * w * 3, budget=budget, shape=[h, w, 3])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=600)
    ap.add_argument("--size", type=int, default=256, help="side of the square RGB PNGs")
    ap.add_argument("--big-mib", type=int, default=432, help="size of the strip-pooled image")
    ap.add_argument("--budget-mib", type=int, default=64, help="strip budget")
    args = ap.parse_args()
    mib = 2**20
    with tempfile.TemporaryDirectory(prefix="poolcli-bench-") as tmp:
        tmp = Path(tmp)
        jobs = make_images(tmp, args.files, args.size)
        print(f"batch: {args.files} PNG files, {args.size}x{args.size} RGB, avg 2x2, on {os.cpu_count()} cores")
        bench_threads(with_outputs(jobs[:20], tmp / "warm"))  # warm the page cache and imports
        threads_jobs = with_outputs(jobs, tmp / "threads")
        t_threads = bench_threads(threads_jobs)
        print(f"  thread pool of 2 (like --jobs 2)       {t_threads:6.2f} s  {args.files / t_threads:7.1f} files/s")
        dask_jobs = with_outputs(jobs, tmp / "dask")
        t_dask = bench_dask(dask_jobs, "local:2")
        print(f"  run_dask local:2 (cluster start incl.) {t_dask:6.2f} s  {args.files / t_dask:7.1f} files/s")
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, silence_logs=40) as cluster:
            bench_dask(with_outputs(jobs[:20], tmp / "warm"), cluster.scheduler_address)
            warm_jobs = with_outputs(jobs, tmp / "dask-warm")
            t_warm = bench_dask(warm_jobs, cluster.scheduler_address)
        print(f"  run_dask on a running 2-worker cluster {t_warm:6.2f} s  {args.files / t_warm:7.1f} files/s")
        diff = differing_outputs(threads_jobs, dask_jobs) + differing_outputs(threads_jobs, warm_jobs)
        print(f"  outputs differing from the thread pool's: {diff} (should be 0)")

        s = bench_strips(tmp, args.big_mib, args.budget_mib * mib)
        grow = s["rss_peak"] - s["rss_base"]
        print(f"strips: {s['shape']} uint8 .npy ({s['in_bytes'] / mib:.0f} MiB, "
              f"{s['in_bytes'] / s['budget']:.1f}x the {s['budget'] / mib:.0f} MiB budget), avg 2x2 -> "
              f"{s['out_shape']} ({s['out_bytes'] / mib:.0f} MiB) in {s['wall']:.2f} s")
        print(f"  peak traced heap {s['heap_peak'] / mib:.0f} MiB; peak RSS {s['rss_peak'] / mib:.0f} MiB "
              f"(+{grow / mib:.0f} MiB over the {s['rss_base'] / mib:.0f} MiB after importing Numba)")


if __name__ == "__main__":
    main()
