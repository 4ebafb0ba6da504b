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
    f"avg {EX}/nan_field.npy -k 4 -o {EX}/nan_field_avg.npy",
    f"avg {EX}/nan_field.npy -k 4 --nodata nan -o {EX}/nan_field_nodata.npy",
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


def make_nan_field() -> None:
    """A smooth float32 field (64x96) with NaN holes: round ones and scattered cells."""
    import numpy as np

    yy, xx = np.mgrid[0:64, 0:96].astype(np.float32)
    field = np.sin(xx / 11.0) * np.cos(yy / 9.0) + 0.02 * xx
    holes = ((yy - 20) ** 2 + (xx - 30) ** 2 < 60) | ((yy - 44) ** 2 + (xx - 70) ** 2 < 30)
    holes |= np.random.default_rng(0).random(field.shape) < 0.08
    field[holes] = np.nan
    np.save(ROOT / EX / "nan_field.npy", field.astype(np.float32))


def render_nan_field() -> None:
    """nan_nodata.png: the input, avg -k 4, avg -k 4 --nodata nan side by side, one colour
    scale (blue to yellow), NaN in magenta, each panel shown at the same size."""
    import numpy as np
    from PIL import Image, ImageDraw

    names = [("nan_field.npy", "input (NaN holes)"), ("nan_field_avg.npy", "avg -k 4"),
             ("nan_field_nodata.npy", "avg -k 4 --nodata nan")]
    arrays = [np.load(ROOT / EX / n) for n, _ in names]
    lo, hi = np.nanmin(arrays[0]), np.nanmax(arrays[0])
    scale, pad, top = 3, 8, 18
    h, w = arrays[0].shape[0] * scale, arrays[0].shape[1] * scale
    sheet = Image.new("RGB", (3 * w + 4 * pad, h + top + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (a, (_, label)) in enumerate(zip(arrays, names)):
        t = np.clip((a - lo) / (hi - lo), 0, 1)
        rgb = np.stack([t * 250, 40 + t * 180, 200 - t * 170], axis=-1)
        rgb[np.isnan(a)] = (255, 0, 255)
        rep = h // a.shape[0]
        rgb = rgb.repeat(rep, axis=0).repeat(rep, axis=1)
        x0 = pad + i * (w + pad)
        sheet.paste(Image.fromarray(rgb.astype(np.uint8)), (x0, top))
        draw.text((x0, 3), label, fill="black")
    sheet.save(ROOT / EX / "nan_nodata.png", optimize=True)


def main() -> int:
    (ROOT / EX).mkdir(parents=True, exist_ok=True)
    make_labels()
    make_nan_field()
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
    if not only or any(name in "nan_field nan_nodata" for name in only):
        render_nan_field()
    return 0


if __name__ == "__main__":
    sys.exit(main())
