"""Peak memory of whole poolcli commands (issue 4, item 7).

1. One 8000 x 8000 RGB PNG (noise on gradients, so it neither compresses to nothing nor is
   pure noise) pooled with ``poolcli avg`` and ``poolcli max`` (2x2, stride 2), end to end:
   the maximum resident size of the process (``ru_maxrss`` from ``os.wait4``) and the peak
   of the allocations traced by ``tracemalloc`` (NumPy arrays are traced; Pillow's own
   image memory is not, which is why both are shown), next to the sizes of the input and
   output arrays and the resident size of a run on a 16 x 16 image (interpreter, NumPy,
   Pillow, Numba loaded: the fixed cost).
2. A batch of N 1000 x 1000 RGB PNGs with ``--jobs 2``, N = 10 and N = 40: the peak must
   not grow with N (at most ``jobs`` decoded images are in flight).

Measured (2 cores, Python 3.11, Pillow 13, NumPy 2.4; auto = the cpu backend here):
8000 x 8000 avg and max both peak at 770 MB resident, 716 MB above the 54 MB fixed cost,
3.1 x (input + output arrays = 229 MB); traced 419 MB = 1.8 x. The peak is while decoding:
Pillow's own image (183 MB) + ``np.asarray(im)``, which goes through ``im.tobytes()``
(chunks, then the joined bytes) before the array exists. Batch of 1000 x 1000 files, --jobs 2:
74 MB resident at N = 10 and at N = 40 (traced 35.8 MB both).

    .venv/bin/python benchmarks/memory.py [--size 8000] [--backend auto] [--keep DIR] [--json]

Prints a table (and ``--json``: one object). Takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

MB = 2**20

#: runs poolcli's entry point with tracemalloc on; writes the traced peak to fd $POOLCLI_MEM_FD
TRACED = """
import os, sys, tracemalloc
tracemalloc.start()
from poolcli.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
peak = tracemalloc.get_traced_memory()[1]
os.write(int(os.environ["POOLCLI_MEM_FD"]), f"{code} {peak}".encode())
"""


def make_image(path: Path, h: int, w: int, seed: int = 0) -> None:
    """Gradients plus noise, written as PNG (compress level 1)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    img = np.empty((h, w, 3), np.uint8)
    for c, base in enumerate((y + 0 * x, x + 0 * y, (x + y) / 2)):
        noise = rng.integers(-24, 25, (h, w), dtype=np.int16)
        img[..., c] = np.clip(base + noise, 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path, compress_level=1)


def run(args: list[str], traced: bool = False) -> dict:
    """Run ``poolcli ARGS`` (python -m poolcli, or the tracemalloc wrapper) in a fresh process."""
    r, w = os.pipe()
    env = dict(os.environ, COLUMNS="200", POOLCLI_MEM_FD=str(w))
    cmd = [sys.executable, "-c", TRACED, *args] if traced else [sys.executable, "-m", "poolcli", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            pass_fds=(w,) if traced else ())
    os.close(w)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    extra = os.read(r, 100).decode().split()
    os.close(r)
    if proc.returncode != 0:
        raise SystemExit(f"poolcli {' '.join(args)} failed ({proc.returncode}): {err.decode()}")
    out = {"maxrss_mb": usage.ru_maxrss * 1024 / MB, "wall_s": wall}
    if traced:
        out["traced_peak_mb"] = int(extra[1]) / MB
    return out


def one_image(work: Path, size: int, backend: str) -> dict:
    src = work / f"big{size}.png"
    if not src.exists():
        t0 = time.perf_counter()
        make_image(src, size, size)
        print(f"made {src.name} ({src.stat().st_size / MB:.0f} MB) in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    tiny = work / "tiny.png"
    make_image(tiny, 16, 16)
    in_mb = size * size * 3 / MB
    out_mb = (size // 2) * (size // 2) * 3 / MB
    result = {"image": f"{size}x{size}x3 uint8", "input_array_mb": in_mb, "output_array_mb": out_mb,
              "png_mb": src.stat().st_size / MB, "backend": backend}
    # warm the kernel cache first, so compilation is not in the figures
    for mode in ("avg", "max"):
        run([mode, str(tiny), "-o", str(work / f"tiny_{mode}.png"), "--backend", backend, "--overwrite", "-q"])
    result["baseline_rss_mb"] = max(
        run([m, str(tiny), "-o", str(work / f"tiny_{m}.png"), "--backend", backend, "--overwrite", "-q"])["maxrss_mb"]
        for m in ("avg", "max"))
    for mode in ("avg", "max"):
        args = [mode, str(src), "-o", str(work / f"big_{mode}.png"), "--backend", backend, "--overwrite", "-q"]
        rss = run(args)
        traced = run(args, traced=True)
        result[mode] = {"maxrss_mb": rss["maxrss_mb"], "wall_s": rss["wall_s"],
                        "traced_peak_mb": traced["traced_peak_mb"],
                        "rss_over_baseline_mb": rss["maxrss_mb"] - result["baseline_rss_mb"],
                        "rss_over_baseline_per_in_plus_out": (rss["maxrss_mb"] - result["baseline_rss_mb"])
                        / (in_mb + out_mb),
                        "traced_per_in_plus_out": traced["traced_peak_mb"] / (in_mb + out_mb)}
    return result


def batch(work: Path, counts=(10, 40), side: int = 1000, jobs: int = 2, backend: str = "auto") -> dict:
    folder = work / "batch"
    folder.mkdir(exist_ok=True)
    for i in range(max(counts)):
        p = folder / f"img{i:03d}.png"
        if not p.exists():
            make_image(p, side, side, seed=i)
    rows = {}
    for n in counts:
        sub = work / f"batch{n}"
        sub.mkdir(exist_ok=True)
        for i in range(n):
            link = sub / f"img{i:03d}.png"
            if not link.exists():
                os.link(folder / f"img{i:03d}.png", link)
        args = ["avg", str(sub), "-o", str(work / f"out{n}"), "--jobs", str(jobs), "--backend", backend,
                "--overwrite", "-q"]
        rss = run(args)
        traced = run(args, traced=True)
        rows[n] = {"maxrss_mb": rss["maxrss_mb"], "traced_peak_mb": traced["traced_peak_mb"],
                   "wall_s": rss["wall_s"]}
    return {"image": f"{side}x{side}x3 uint8 PNG", "input_array_mb": side * side * 3 / MB, "jobs": jobs,
            "backend": backend, "runs": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=8000)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--keep", help="work in this folder (kept) instead of a temporary one")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="poolcli-mem-") as tmp:
        work = Path(a.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        big = one_image(work, a.size, a.backend)
        many = batch(work, backend=a.backend)
    if a.json:
        print(json.dumps({"one_image": big, "batch": many}, indent=2))
        return
    print(f"one {big['image']} PNG ({big['png_mb']:.0f} MB file), 2x2 stride 2, backend {big['backend']}:")
    print(f"  input array {big['input_array_mb']:.0f} MB + output array {big['output_array_mb']:.0f} MB = "
          f"{big['input_array_mb'] + big['output_array_mb']:.0f} MB; "
          f"fixed cost (16x16 run) {big['baseline_rss_mb']:.0f} MB resident")
    print(f"  {'mode':<5} {'peak RSS MB':>12} {'RSS - fixed':>12} {'x (in+out)':>11} {'traced MB':>10} "
          f"{'x (in+out)':>11} {'wall s':>7}")
    for mode in ("avg", "max"):
        r = big[mode]
        print(f"  {mode:<5} {r['maxrss_mb']:>12.0f} {r['rss_over_baseline_mb']:>12.0f} "
              f"{r['rss_over_baseline_per_in_plus_out']:>11.2f} {r['traced_peak_mb']:>10.0f} "
              f"{r['traced_per_in_plus_out']:>11.2f} {r['wall_s']:>7.2f}")
    print(f"batch of {many['image']} files ({many['input_array_mb']:.1f} MB each), avg, --jobs {many['jobs']}:")
    for n, r in many["runs"].items():
        print(f"  N={n:<3} peak RSS {r['maxrss_mb']:6.0f} MB   traced peak {r['traced_peak_mb']:6.1f} MB   "
              f"wall {r['wall_s']:.2f} s")


if __name__ == "__main__":
    main()
