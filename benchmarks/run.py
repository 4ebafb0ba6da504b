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


def readme_tables(result: dict) -> str:
    """The README's compact view of a run: per kernel case poolcli against the best peer;
    the whole-command table as it is (the full kernel table is in benchmarks/results/)."""
    m, bw = result["machine"], result.get("copy_bandwidth") or {}
    out = [f"{m['date'][:10]}: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, "
           f"NumPy {m['numpy']}, Numba {m.get('numba', '-')}. Copy bandwidth (np.copyto, read + write, all "
           f"cores): {bw.get('all_cores_gbs', float('nan')):.1f} GB/s. Medians; every row of every peer is in "
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
    e2e = [r for r in result["rows"] if r["kind"] == "e2e" and r.get("seconds")]
    if e2e:
        out += ["#### Whole commands (wall seconds, start to exit, warm cache; PNG level 1, JPEG quality 90)", "",
                "| case | mode | tool | files | seconds | output MiB |", "|---|---|---|---:|---:|---:|"]
        out += [f"| {r['case']} | {r['mode']} | {r['tool']} | {r['files']} | {r['seconds']:.3f} | {r['out_mib']:.1f} |"
                for r in e2e]
    return "\n".join(out) + "\n"


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
