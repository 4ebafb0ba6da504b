"""Run poolcli's benchmarks: ``python benchmarks/run.py [kernels|e2e|all] [--quick] [--backend cpu]``.

Prints the tables and writes benchmarks/results/<cases>.json and .md (see benchmarks/README.md).
The library behind it is ``poolcli.bench`` (also ``poolcli bench``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from poolcli.bench import run_bench

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="?", default="all", choices=("kernels", "e2e", "all"))
    ap.add_argument("--quick", action="store_true", help="fewer cases and repetitions")
    ap.add_argument("--backend", default="cpu", help="poolcli backend timed in the kernel cases")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the .json and .md results")
    ap.add_argument("--readme", action="store_true",
                    help="also put the Markdown tables into README.md's speed section")
    a = ap.parse_args(argv)
    stem = a.cases + ("-quick" if a.quick else "")
    run_bench(a.cases, a.backend, a.quick, a.out / f"{stem}.json", a.out / f"{stem}.md")
    if a.readme:
        update_readme(readme_tables(json.loads((a.out / f"{stem}.json").read_text())))
    return 0


#: how the run's poolcli was installed, in the README's words (``bench.machine_info``)
INSTALLS = {"regular": "installed (pip install .)",
            "source": "run from a source checkout (pip install -e: ~20 ms more per command)"}


def readme_tables(result: dict) -> str:
    """The README's compact view of a run: per kernel case poolcli against the best peer;
    the whole-command table as it is (the full kernel table is in benchmarks/results/)."""
    m, bw = result["machine"], result.get("copy_bandwidth") or {}
    out = [f"{m['date'][:10]}: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, "
           f"NumPy {m['numpy']}, Numba {m.get('numba', '-')}; poolcli "
           f"{INSTALLS.get(m.get('poolcli_install'), 'installed as not recorded')}. "
           f"Copy bandwidth (np.copyto, read + write, all cores): "
           f"{bw.get('all_cores_gbs', float('nan')):.1f} GB/s. Medians; every row of every peer is in "
           "`benchmarks/results/all.md`.", ""]
    kernels = [r for r in result["rows"] if r["kind"] == "kernel" and r.get("ms")]
    if kernels:
        out += ["#### Kernels: poolcli's CPU backend against the fastest installed peer", "",
                "| shape | dtype | window | mode | poolcli ms | GB/s | of copy bw | best peer "
                "| peer ms | poolcli faster |",
                "|---|---|---|---|---:|---:|---:|---|---:|---:|"]
        cases: dict = {}
        for r in kernels:
            cases.setdefault((r["shape"], r["dtype"], r["size"], r["stride"], r["mode"]), []).append(r)
        for (shape, dtype, k, st, mode), rows in cases.items():
            ours = next((r for r in rows if r["impl"] == "poolcli cpu"), None)
            peers = [r for r in rows if not r["impl"].startswith("poolcli")]
            if ours is None:
                continue
            best = min(peers, key=lambda r: r["ms"]) if peers else None
            peer = f"{best['impl']} | {best['ms']:.2f} | {best['ms'] / ours['ms']:.1f}x" if best else "- | - | -"
            out.append(f"| {shape} | {dtype} | {k}x{k}/s{st} | {mode} | {ours['ms']:.2f} | {ours['gbs']:.1f} | "
                       f"{ours['copy_fraction']:.0%} | {peer} |")
        out.append("")
    goals = goal_rows(result)
    if goals:
        out += ["#### The goals of issues #14, #16 and #17, measured in this run", "",
                "| goal | measured | met |", "|---|---:|:---:|"]
        out += [f"| {what} | {got} | {'yes' if ok else '**no**'} |" for what, got, ok in goals]
        out.append("")
    e2e = [r for r in result["rows"] if r["kind"] == "e2e" and r.get("seconds")]
    if e2e:
        out += ["#### Whole commands (wall seconds, start to exit, warm cache; PNG level 1, JPEG quality 90)", "",
                "| case | mode | tool | files | seconds | output MiB |", "|---|---|---|---:|---:|---:|"]
        out += [f"| {r['case']} | {r['mode']} | {r['tool']} | {r['files']} | {r['seconds']:.3f} | {r['out_mib']:.1f} |"
                for r in e2e]
    return "\n".join(out) + "\n"


def _kernel(rows, shape, dtype, k, mode, impl="poolcli cpu"):
    """The ms of a kernel row (4096x4096x3 ... at stride 2), or None when it was not run."""
    for r in rows:
        if (r["kind"] == "kernel" and r["shape"] == shape and r["dtype"] == dtype and r["size"] == k
                and r["stride"] == 2 and r["mode"] == mode and r["impl"] == impl and r.get("ms")):
            return r
    return None


def _best_peer(rows, ours):
    peers = [r for r in rows if r["kind"] == "kernel" and not r["impl"].startswith("poolcli") and r.get("ms")
             and all(r[f] == ours[f] for f in ("shape", "dtype", "size", "stride", "mode"))]
    return min(peers, key=lambda r: r["ms"]) if peers else None


def _seconds(rows, case, tool, mode="avg"):
    return next((r["seconds"] for r in rows if r["kind"] == "e2e" and r["case"] == case and r["tool"] == tool
                 and r["mode"] == mode and r.get("seconds")), None)


BIG = "4096x4096x3"
#: (goal, shape, dtype, window, mode, smallest fraction of the copy bandwidth)
BANDWIDTH_GOALS = [("float32 RGB 2x2 avg at >= 70% of copy bandwidth", BIG, "float32", 2, "avg", 0.70),
                   ("float32 RGB 2x2 max at >= 70% of copy bandwidth", BIG, "float32", 2, "max", 0.70),
                   ("float32 RGB 3x3/s2 avg at >= 50% of copy bandwidth", BIG, "float32", 3, "avg", 0.50),
                   ("float32 RGB 3x3/s2 max at >= 50% of copy bandwidth", BIG, "float32", 3, "max", 0.50),
                   ("uint8 RGB 2x2 lp at >= 25% of copy bandwidth", BIG, "uint8", 2, "lp", 0.25),
                   ("uint8 RGB 3x3/s2 lp at >= 25% of copy bandwidth", BIG, "uint8", 3, "lp", 0.25)]
#: the new kernels (issue 14): at least 5x the fastest peer on 4096^2 uint8 RGB
NEW_KERNELS = [("mode", 2), ("median", 3), ("avg nodata", 2), ("max+indices", 2), ("blurpool", 3)]
#: (case, the most poolcli's whole command may take, as a multiple of the Pillow script's)
E2E_GOALS = [("jpeg folder", 1.0), ("jpeg", 2.0), ("png", 1.0)]


def goal_rows(result: dict) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for each goal of issues 14, 16 and 17 that this run measured."""
    rows, got = result["rows"], []
    ours = _kernel(rows, BIG, "uint8", 2, "avg")
    cv = _kernel(rows, BIG, "uint8", 2, "avg", "opencv")
    if ours and cv:
        ratio = ours["ms"] / cv["ms"]
        got.append(("uint8 RGB 4096² 2x2 avg at <= 0.6x OpenCV INTER_AREA's time",
                    f"{ratio:.2f}x ({ours['ms']:.2f} / {cv['ms']:.2f} ms)", ratio <= 0.6))
    for what, shape, dtype, k, mode, least in BANDWIDTH_GOALS:
        r = _kernel(rows, shape, dtype, k, mode)
        if r and r.get("copy_fraction"):
            got.append((what.replace("RGB", "RGB 4096²"), f"{r['copy_fraction']:.1%} ({r['ms']:.1f} ms)",
                        r["copy_fraction"] >= least))
    for mode, k in NEW_KERNELS:
        r = _kernel(rows, BIG, "uint8", k, mode)
        peer = _best_peer(rows, r) if r else None
        if r and peer:
            x = peer["ms"] / r["ms"]
            got.append((f"{mode} {k}x{k}/s2 uint8 RGB 4096² at >= 5x the fastest peer",
                        f"{x:.1f}x {peer['impl']} ({r['ms']:.1f} / {peer['ms']:.1f} ms)", x >= 5.0))
    for case, most in E2E_GOALS:
        a, b = _seconds(rows, case, "poolcli"), _seconds(rows, case, "pillow script")
        if a and b:
            got.append((f"`{case}` whole command at <= {most:.1f}x the Pillow script's time",
                        f"{a / b:.2f}x ({a:.2f} / {b:.2f} s)", a / b <= most))
    return got


BEGIN, END = "<!-- speed tables: made by benchmarks/run.py --readme -->", "<!-- end of speed tables -->"


def update_readme(tables: str, readme: Path = Path(__file__).resolve().parent.parent / "README.md") -> None:
    """Replace the text between the two markers of README.md with ``tables`` (never typed by hand)."""
    text = readme.read_text()
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"README.md has no speed markers ({BEGIN} ... {END})")
    body = tables.split("\n", 1)[1] if tables.startswith("# ") else tables  # drop the page title
    body = body.replace("\n## ", "\n#### ")
    readme.write_text(head + BEGIN + "\n" + body.strip() + "\n" + END + tail)


if __name__ == "__main__":
    raise SystemExit(main())
