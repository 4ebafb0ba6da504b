"""Make the example pictures shown in the README: one per mode, by running the CLI.

    python sample_images/make_examples.py

Each picture is the real output of the command printed beside it in the README (run
from the repository's root). Outputs go to sample_images/examples/.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EX = Path("sample_images/examples")
PHOTO = "sample_images/chelsea.png"

COMMANDS = [
    f"max {PHOTO} -k 4 -o {EX}/max.png",
    f"avg {PHOTO} -k 4 -o {EX}/avg.png",
    f"min {PHOTO} -k 4 -o {EX}/min.png",
    f"lp {PHOTO} -k 4 --p 4 -o {EX}/lp.png",
    f"adaptive {PHOTO} --output-size 30x45 --op avg -o {EX}/adaptive.png",
    f"fractional {PHOTO} --ratio 0.3 --seed 0 -o {EX}/fractional.png",
    f"mixed {PHOTO} -k 4 --alpha 0.5 -o {EX}/mixed.png",
    f"stochastic {PHOTO} -k 4 --seed 0 -o {EX}/stochastic.png",
    f"softpool {PHOTO} -k 4 --temperature 0.1 -o {EX}/softpool.png",
    f"weighted {PHOTO} --weights {EX}/gauss4.json -s 4 --normalize -o {EX}/weighted.png",
    f"avg sample_images/chelsea_cutout.png -k 4 -o {EX}/cutout_avg.png",
    f"avg {PHOTO} -k 4 --linear-light -o {EX}/avg_linear.png",
    f"compare {PHOTO} -k 4 -o {EX}/compare.png",
    f"pyramid {PHOTO} --levels 3 -o {EX}",
]


def main() -> int:
    (ROOT / EX).mkdir(parents=True, exist_ok=True)
    g = [1.0, 3.0, 3.0, 1.0]
    (ROOT / EX / "gauss4.json").write_text(json.dumps([[a * b for b in g] for a in g]) + "\n")
    for cmd in COMMANDS:
        argv = [sys.executable, "-m", "poolcli", *shlex.split(cmd), "--overwrite", "-q"]
        if cmd.startswith(("compare", "pyramid")):
            argv.remove("-q")
        print("poolcli", cmd, flush=True)
        subprocess.run(argv, cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
