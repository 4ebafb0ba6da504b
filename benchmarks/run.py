"""Run poolcli's benchmarks: ``python benchmarks/run.py [kernels|e2e|all] [--quick] [--backend cpu]``.

Prints the tables and writes benchmarks/results/<cases>.json and .md (see benchmarks/README.md).
The library behind it is ``poolcli.bench`` (also ``poolcli bench``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from poolcli.bench import run_bench

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="?", default="all", choices=("kernels", "e2e", "all"))
    ap.add_argument("--quick", action="store_true", help="fewer cases and repetitions")
    ap.add_argument("--backend", default="cpu", help="poolcli backend timed in the kernel cases")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the .json and .md results")
    a = ap.parse_args(argv)
    stem = a.cases + ("-quick" if a.quick else "")
    run_bench(a.cases, a.backend, a.quick, a.out / f"{stem}.json", a.out / f"{stem}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
