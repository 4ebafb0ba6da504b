"""Where a folder run spends its time, per file: ``python benchmarks/profile_folder.py [FOLDER]``.

Runs ``poolcli avg FOLDER -k 2 -o OUT -j 1`` in this process (once to warm every cache, then
under cProfile) and a five-line Pillow script over the same files (``open``, ``reduce(2)``,
``save``, also under cProfile), and prints one table: the milliseconds of each part of a
file's path, per file, side by side. Without FOLDER it makes ``--files`` JPEGs of 1024x768
(the benchmark's noise-plus-gradient pictures, quality 90) in a temporary folder.

cProfile adds a little to each Python call (the rows of Python code more than those of C
code: decode, pool and encode); the last rows are the wall times per file of both runs
without the profiler (the best of ``--reps``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

#: the rows: (label, file suffix, function name) whose cumulative time is counted
POOLCLI_PARTS = [
    ("open + header (Image.open)", "PIL/Image.py", "open"),
    ("decode (ImageFile.load)", "PIL/ImageFile.py", "load"),
    ("copy out of Pillow", "poolcli/io/read.py", "_as_array"),
    ("EXIF orientation, ICC, metadata", "poolcli/io/read.py", ("_orientation", "read_metadata",
                                                               "_frame_info")),
    ("pool (api.run)", "poolcli/api.py", "run"),
    ("encode (Image.save)", "PIL/Image.py", "save"),
]
PILLOW_PARTS = [
    ("open + header (Image.open)", "PIL/Image.py", "open"),
    ("decode (ImageFile.load)", "PIL/ImageFile.py", "load"),
    ("pool (Image.reduce)", "PIL/Image.py", "reduce"),
    ("encode (Image.save)", "PIL/Image.py", "save"),
]


def make_folder(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    from poolcli.bench import _test_array

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(_test_array((768, 1024, 3), "uint8", seed=10 + i)).save(
            folder / f"img{i:03}.jpg", quality=90)
    return sorted(folder.glob("*.jpg"))


def _cum(stats: pstats.Stats, suffix: str, names) -> float:
    """Seconds: the cumulative time of the functions ``names`` defined in a file ending
    with ``suffix`` (recursion counted once, as pstats does)."""
    names = (names,) if isinstance(names, str) else names
    total = 0.0
    for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if func in names and file.replace(os.sep, "/").endswith(suffix):
            total += ct
    return total


def _tottime(stats: pstats.Stats, part: str) -> float:
    """Seconds spent in the functions of files whose path contains ``part``."""
    return sum(tt for (file, _l, _f), (_cc, _nc, tt, _ct, _c) in stats.stats.items()
               if part in file.replace(os.sep, "/"))


def _poolcli_args(folder: Path, out: Path, mode: str, extra: list[str]) -> list[str]:
    return [mode, str(folder), "-k", "2", "-o", str(out), "--overwrite", "-q", "-j", "1",
            *extra]


def run_poolcli(folder: Path, out: Path, mode: str, extra: list[str]) -> None:
    from poolcli.cli import main

    try:
        main(_poolcli_args(folder, out, mode, extra))
    except SystemExit as exc:
        if exc.code:
            raise RuntimeError(f"poolcli exited with {exc.code}") from None


def run_pillow(files: list[Path], out: Path) -> None:
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    for src in files:
        im = Image.open(src)
        im.reduce(2).save(out / src.name, quality=90)


def _profiled(fn) -> tuple[pstats.Stats, float]:
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(fn)
    wall = time.perf_counter() - t0
    return pstats.Stats(prof), wall


def _best(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def profile(folder: Path, files: list[Path], mode: str, reps: int, extra: list[str]):
    with tempfile.TemporaryDirectory(prefix="poolcli-profile-") as tmp:
        out_p, out_q = Path(tmp) / "poolcli", Path(tmp) / "pillow"
        run_poolcli(folder, out_p, mode, extra)  # warm: kernels, caches, imports
        run_pillow(files, out_q)
        p_stats, p_wall = _profiled(lambda: run_poolcli(folder, out_p, mode, extra))
        q_stats, q_wall = _profiled(lambda: run_pillow(files, out_q))
        p_best = _best(lambda: run_poolcli(folder, out_p, mode, extra), reps)
        q_best = _best(lambda: run_pillow(files, out_q), reps)
    n = len(files)
    rows: dict[str, list[float | None]] = {}
    for label, suffix, names in POOLCLI_PARTS:
        rows.setdefault(label, [None, None])[0] = _cum(p_stats, suffix, names) / n * 1e3
    for label, suffix, names in PILLOW_PARTS:
        rows.setdefault(label, [None, None])[1] = _cum(q_stats, suffix, names) / n * 1e3
    # reduce() starts with load(): the decode is its own row
    rows["pool (Image.reduce)"][1] -= rows["decode (ImageFile.load)"][1]
    # what the atomic write adds around the encoder: temporary file, chmod, rename
    atomic = _cum(p_stats, "poolcli/io/fsio.py", "atomic_write") - _cum(p_stats, "PIL/Image.py",
                                                                       "save")
    rows["atomic write (temp file, chmod, rename)"] = [atomic / n * 1e3, None]
    rows["report (poolcli/report.py)"] = [_tottime(p_stats, "poolcli/report.py") / n * 1e3,
                                          None]
    p_parts = sum(v[0] or 0.0 for v in rows.values())
    q_parts = sum(v[1] or 0.0 for v in rows.values())
    rows["the rest (Python around the parts)"] = [p_wall / n * 1e3 - p_parts,
                                                  q_wall / n * 1e3 - q_parts]
    rows["total under cProfile"] = [p_wall / n * 1e3, q_wall / n * 1e3]
    rows[f"wall without cProfile (best of {reps})"] = [p_best / n * 1e3, q_best / n * 1e3]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, nargs="?", help="a folder of images (default: made)")
    ap.add_argument("--files", type=int, default=100, help="JPEGs to make (default: 100)")
    ap.add_argument("--mode", default="avg")
    ap.add_argument("--reps", type=int, default=3)
    args, extra = ap.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="poolcli-folder-") as tmp:
        folder = args.folder or Path(tmp) / "jpegs"
        files = (sorted(p for p in folder.iterdir() if p.is_file()) if args.folder
                 else make_folder(folder, args.files))
        rows = profile(folder, files, args.mode, args.reps, extra)
    print(f"| {len(files)} files, per file (ms), `-j 1` | poolcli {args.mode} -k 2 | "
          "Pillow script |\n|---|---:|---:|")
    for label, (p, q) in rows.items():
        cells = ["" if v is None else f"{v:.2f}" for v in (p, q)]
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
