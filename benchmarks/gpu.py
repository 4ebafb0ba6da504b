"""GPU throughput of the CUDA backend: kernel-only and end to end, against the device's bandwidth.

    python benchmarks/gpu.py --out gpu.json            # on a machine with an NVIDIA GPU
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu.py --size 12 --repeat 1 --tpb 8  # smoke test, no GPU

Throughput counts the fewest bytes the pooling must move: the input read once plus the
output written once, over the time. The reference bandwidth is a device-to-device copy of
a large buffer (bytes read plus bytes written), measured first on the same card.

Kernel-only times use CUDA events around a run of launches that rotate among several
input buffers (together larger than the L2 cache), so repeated launches do not read a
warm cache; the launches are queued behind a short busy kernel, so Python's launch
overhead (reported apart) leaves no gaps between them; the median of ``--repeat`` runs. End to end is
``kernels.cuda.pool(x, plan)`` from a host array to a host array (upload, kernel,
download, as the CLI uses it), median of a few calls, with its parts from
``kernels.cuda.last_timings``. Where a fast path exists, the generic kernel is measured
too, so the table shows what the fast path gains.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from poolcli import api, modes  # noqa: E402
from poolcli.kernels import cuda as kcuda  # noqa: E402  (sets Numba's cache folder first)

cuda = kcuda.cuda

#: (label, mode, dtype, pool keyword arguments, mode options)
CASES = [
    ("max 2x2/s2", "max", "uint8", {"size": 2}, {}),
    ("avg 2x2/s2", "avg", "uint8", {"size": 2}, {}),
    ("max 3x3/s2", "max", "uint8", {"size": 3, "stride": 2}, {}),
    ("avg 3x3/s2", "avg", "uint8", {"size": 3, "stride": 2}, {}),
    ("max 2x2/s2", "max", "float32", {"size": 2}, {}),
    ("avg 2x2/s2", "avg", "float32", {"size": 2}, {}),
    ("max 3x3/s2", "max", "float32", {"size": 3, "stride": 2}, {}),
    ("avg 3x3/s2", "avg", "float32", {"size": 3, "stride": 2}, {}),
    ("min 2x2/s2", "min", "uint8", {"size": 2}, {}),
    ("avg 3x3/s2 p1", "avg", "uint8", {"size": 3, "stride": 2, "padding": 1}, {}),
    ("lp 2x2/s2", "lp", "uint8", {"size": 2}, {}),
    ("mixed 2x2/s2", "mixed", "uint8", {"size": 2}, {"alpha": 0.5}),
    ("softpool 2x2/s2", "softpool", "uint8", {"size": 2}, {}),
    ("stochastic 2x2/s2", "stochastic", "uint8", {"size": 2}, {"seed": 1}),
    ("adaptive avg to 1/8", "adaptive", "uint8", {}, {"output_size": "1/8", "op": "avg"}),
    ("avg 2x2/s2", "avg", "float64", {"size": 2}, {}),
]


@cuda.jit
def _spin(micros):
    """Keeps the GPU busy while the host queues the launches to be timed (so the host's
    launch overhead does not leave gaps between them)."""
    for _ in range(micros):
        cuda.nanosleep(1000)


def timed_events(fn, inner: int, lead_s: float = 0.0) -> float:
    """Seconds per call of ``fn`` (a launch), from CUDA events around ``inner`` calls queued
    behind a ``lead_s`` busy kernel."""
    start, end = cuda.event(), cuda.event()
    if lead_s and not kcuda.SIMULATOR:
        _spin[1, 1](int(lead_s * 1e6))
    start.record()
    for i in range(inner):
        fn(i)
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / inner


def copy_bandwidth(nbytes: int, repeat: int) -> float:
    """Bytes per second of a device-to-device copy (read + write counted)."""
    a = cuda.device_array(nbytes, dtype=np.uint8)
    b = cuda.device_array(nbytes, dtype=np.uint8)
    a.copy_to_device(np.random.default_rng(0).integers(0, 256, nbytes, dtype=np.uint8))
    b.copy_to_device(a)
    cuda.synchronize()
    times = [timed_events(lambda i: b.copy_to_device(a), 5) for _ in range(repeat)]
    return 2 * nbytes / statistics.median(times)


def bench_case(label, mode, dtype, kw, opts, shape, repeat, l2_bytes, fast: bool) -> dict:
    rng = np.random.default_rng(0)
    x4 = (1,) + shape
    dt = np.dtype(dtype)
    plan = api.make_plan(modes.MODES[mode], x4, dt, opts=opts, **kw)
    if dt.kind in "ui":
        host = rng.integers(0, np.iinfo(dt).max, size=x4, endpoint=True).astype(dt)
    else:
        host = rng.standard_normal(x4).astype(dt)
    nbytes = host.nbytes + int(np.prod(plan.out_shape)) * dt.itemsize
    kcuda.FAST_PATHS = fast
    # enough input buffers to overflow the L2 cache between two launches on the same one
    nbuf = max(2, -(-3 * l2_bytes // host.nbytes) + 1) if not kcuda.SIMULATOR else 1
    d_out = cuda.device_array(plan.out_shape, dtype=dt)
    launches = []
    for _ in range(nbuf):
        d_x = cuda.to_device(host)
        launches.append(kcuda.Launch(plan, d_x, d_out))
    compile_s = launches[0].compile()
    for launch in launches:
        launch()
    cuda.synchronize()
    inner = max(4 * nbuf, 20) if not kcuda.SIMULATOR else 1
    # host cost of one launch; the timed launches queue behind a busy kernel that lasts longer
    cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(inner):
        launches[i % nbuf]()
    host_launch_s = (time.perf_counter() - t0) / inner
    cuda.synchronize()
    lead = 2.0 * inner * host_launch_s + 1e-3
    kernel_s = statistics.median(timed_events(lambda i: launches[i % nbuf](), inner, lead) for _ in range(repeat))
    # without the lead: what back-to-back calls from Python achieve
    queued_s = statistics.median(timed_events(lambda i: launches[i % nbuf](), inner) for _ in range(3))
    # end to end, as the backend runs for the CLI: host array in, host array out
    e2e, parts = [], []
    expected = None
    for _ in range(max(3, repeat // 4)):
        t0 = time.perf_counter()
        y = kcuda.pool(host, plan)
        e2e.append(time.perf_counter() - t0)
        parts.append(dict(kcuda.last_timings))
        expected = y
    kcuda.FAST_PATHS = True
    mid = parts[len(parts) // 2]
    return {
        "case": label, "mode": mode, "dtype": dtype, "shape": list(shape), "out_shape": list(plan.out_shape[1:]),
        "kernel": launches[0].kernel_name, "bytes": nbytes, "compile_s": compile_s,
        "kernel_s": kernel_s, "kernel_gbps": nbytes / kernel_s / 1e9,
        "host_launch_s": host_launch_s, "launch_bound": host_launch_s > kernel_s,
        "back_to_back_s": queued_s,
        "e2e_s": statistics.median(e2e), "e2e_gbps": nbytes / statistics.median(e2e) / 1e9,
        "upload_s": mid["upload"], "kernel_in_e2e_s": mid["kernel"], "download_s": mid["download"],
        "checksum": float(np.asarray(expected, dtype=np.float64).sum()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096, help="image height and width (default 4096)")
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=15, help="timed runs per case (median reported)")
    ap.add_argument("--copy-mib", type=int, default=1024, help="size of the reference copy")
    ap.add_argument("--only", default="", help="run the cases whose label contains this text")
    ap.add_argument("--tpb", type=int, default=kcuda.TPB, help="threads per block (kernels.cuda.TPB)")
    ap.add_argument("--max-blocks", type=int, default=kcuda.MAX_BLOCKS,
                    help="cap on blocks (kernels.cuda.MAX_BLOCKS; 0 = 32 per multiprocessor)")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args(argv)
    kcuda.TPB = args.tpb
    kcuda.MAX_BLOCKS = args.max_blocks

    ok, why = kcuda.status()
    if not ok:
        print(f"CUDA backend not usable: {why}", file=sys.stderr)
        return 1
    dev = cuda.get_current_device()
    name = getattr(dev, "name", "CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else str(name)
    l2 = int(getattr(dev, "L2_CACHE_SIZE", 50 * 2**20) or 50 * 2**20) if not kcuda.SIMULATOR else 1024
    copy_bytes = args.copy_mib * 2**20 if not kcuda.SIMULATOR else 4096
    bw = copy_bandwidth(copy_bytes, args.repeat)
    print(f"device: {name}; {why}; L2 {l2 / 2**20:.0f} MiB; "
          f"device-to-device copy {bw / 1e9:.0f} GB/s (read + write)", flush=True)
    shape = (args.size, args.size, args.channels)
    rows = []
    for label, mode, dtype, kw, opts in CASES:
        if args.only and args.only not in label:
            continue
        if opts.get("output_size") == "1/8":
            opts = dict(opts, output_size=(max(1, args.size // 8),) * 2)
        variants = [True]
        plan = api.make_plan(modes.MODES[mode], (1,) + shape, np.dtype(dtype), opts=opts, **kw)
        if kcuda.fast_path(plan):
            variants.append(False)  # the generic kernel too, to show what the fast path gains
        for fast in variants:
            r = bench_case(label, mode, dtype, kw, opts, shape, args.repeat, l2, fast)
            r["kernel_fraction_of_copy"] = r["kernel_gbps"] * 1e9 / bw
            rows.append(r)
            print(f"  {label} {dtype} [{r['kernel']}]: kernel {r['kernel_s'] * 1e6:.1f} us "
                  f"{r['kernel_gbps']:.0f} GB/s ({r['kernel_fraction_of_copy']:.0%}), "
                  f"host launch {r['host_launch_s'] * 1e6:.0f} us, back-to-back {r['back_to_back_s'] * 1e6:.0f} us, "
                  f"e2e {r['e2e_s'] * 1e3:.2f} ms", flush=True)

    print()
    print(f"{name}, {args.size}x{args.size}x{args.channels}; bandwidth reference: device-to-device copy "
          f"{bw / 1e9:.0f} GB/s. GB/s = (input + output bytes) / time.")
    print()
    print("| case | dtype | kernel | kernel µs | kernel GB/s | % of copy | end-to-end ms | e2e GB/s "
          "| upload ms | download ms |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        flag = " (host launch slower)" if r["launch_bound"] else ""
        print(f"| {r['case']} | {r['dtype']} | {r['kernel']} | {r['kernel_s'] * 1e6:.1f}{flag} | "
              f"{r['kernel_gbps']:.0f} | {r['kernel_fraction_of_copy']:.0%} | {r['e2e_s'] * 1e3:.2f} | "
              f"{r['e2e_gbps']:.1f} | {r['upload_s'] * 1e3:.2f} | {r['download_s'] * 1e3:.2f} |")
    if args.out:
        args.out.write_text(json.dumps({"device": name, "status": why, "l2_bytes": l2,
                                        "copy_gbps": bw / 1e9, "shape": list(shape), "results": rows},
                                       indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
