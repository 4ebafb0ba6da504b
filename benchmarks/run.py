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
    ap.add_argument("--readme", action="store_true",
                    help="also put the Markdown tables into README.md's speed section")
    a = ap.parse_args(argv)
    stem = a.cases + ("-quick" if a.quick else "")
    run_bench(a.cases, a.backend, a.quick, a.out / f"{stem}.json", a.out / f"{stem}.md")
    if a.readme:
        update_readme((a.out / f"{stem}.md").read_text())
    return 0


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
