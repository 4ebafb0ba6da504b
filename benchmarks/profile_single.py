"""Where a warm single-image run spends its time: ``python benchmarks/profile_single.py IMAGE``.

Runs ``poolcli avg IMAGE -o OUT`` once to warm every cache, then ``--reps`` more times under
``-X importtime`` and with the report's per-file timings (``--json``), and prints one table:
interpreter start, each import group, then decode, pool, encode and what is left (Typer's
parsing, planning, the report, exit). Medians over the runs, in milliseconds; ``-X importtime``
itself adds a little to the imports.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GROUPS = {  # top-level module -> the row it is counted in
    "numpy": "NumPy", "PIL": "Pillow", "typer": "Typer + Click", "click": "Typer + Click",
    "rich": "rich", "poolcli": "poolcli's modules", "numba": "Numba", "llvmlite": "Numba",
}
ORDER = ["Python interpreter (start and exit)", "NumPy", "Pillow", "Typer + Click", "rich",
         "poolcli's modules", "Numba", "other imports"]


def _imports(stderr: str) -> dict[str, float]:
    """Import ms per group: each module's own (self) time from ``-X importtime``, counted in
    the group of its top-level package (so NumPy imported by poolcli counts as NumPy)."""
    out: dict[str, float] = {}
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)$", line)
        if not m:
            continue
        group = GROUPS.get(m.group(2).split(".")[0], "other imports")
        out[group] = out.get(group, 0.0) + int(m.group(1)) / 1000
    return out


def profile(image: Path, mode: str, reps: int, extra: list[str]) -> list[tuple[str, float]]:
    exe = [sys.executable, "-X", "importtime", "-m", "poolcli"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    bare = subprocess.run([sys.executable, "-c", "pass"], env=env, capture_output=True)
    assert bare.returncode == 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / ("out" + image.suffix)
        cmd = [*exe, mode, str(image), "-o", str(out), "--overwrite", "--json", *extra]
        subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm caches
        runs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            total = (time.perf_counter() - t0) * 1000
            t1 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            interp = (time.perf_counter() - t1) * 1000
            rec = next(json.loads(line) for line in r.stdout.splitlines() if '"input"' in line)
            row = {"Python interpreter (start and exit)": interp, **_imports(r.stderr)}
            for key, label in (("load_ms", "decode + pixels out of Pillow"), ("pool_ms", "pool"),
                               ("compile_ms", "Numba compile or cache load"),
                               ("save_ms", "encode + atomic write")):
                row[label] = float(rec.get(key) or 0.0)
            row["the rest (parsing, planning, report)"] = total - sum(row.values())
            row["total (wall)"] = total
            runs.append(row)
    keys = [k for k in ORDER if any(k in r for r in runs)] + [k for k in runs[0] if k not in ORDER]
    return [(k, statistics.median(r.get(k, 0.0) for r in runs)) for k in keys]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", type=Path)
    ap.add_argument("--mode", default="avg")
    ap.add_argument("--reps", type=int, default=5)
    args, extra = ap.parse_known_args()
    rows = profile(args.image, args.mode, args.reps, extra)
    print(f"| poolcli {args.mode} {args.image.name}: part of the run | ms |\n|---|---:|")
    for k, v in rows:
        print(f"| {k} | {v:.0f} |")


if __name__ == "__main__":
    main()
