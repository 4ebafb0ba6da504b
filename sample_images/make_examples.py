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
    f"median {PHOTO} -k 4 -o {EX}/median.png",
    f"quantile {PHOTO} -k 4 --q 0.9 -o {EX}/quantile.png",
    f"blurpool {PHOTO} --filter-size 5 -s 4 -o {EX}/blurpool.png",
    f"avg {EX}/labels.png -k 4 -o {EX}/labels_avg.png",
    f"mode {EX}/labels.png -k 4 -o {EX}/labels_mode.png",
    f"compare {PHOTO} -k 4 -o {EX}/compare.png",
    f"pyramid {PHOTO} --levels 3 -o {EX}",
]


def make_labels() -> None:
    """A colour-coded label map (the kind segmentation tools write): chelsea.png quantised
    to six colours without dithering, so every pixel is one of six labels."""
    from PIL import Image

    im = Image.open(ROOT / PHOTO).convert("RGB")
    im.quantize(colors=6, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert(
        "RGB").save(ROOT / EX / "labels.png")


def main() -> int:
    (ROOT / EX).mkdir(parents=True, exist_ok=True)
    make_labels()
    only = sys.argv[1:]  # a few output names, to remake just those
    g = [1.0, 3.0, 3.0, 1.0]
    (ROOT / EX / "gauss4.json").write_text(json.dumps([[a * b for b in g] for a in g]) + "\n")
    for cmd in COMMANDS:
        if only and not any(name in cmd for name in only):
            continue
        argv = [sys.executable, "-m", "poolcli", *shlex.split(cmd), "--overwrite", "-q"]
        if cmd.startswith(("compare", "pyramid")):
            argv.remove("-q")
        print("poolcli", cmd, flush=True)
        subprocess.run(argv, cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
