"""Make sample_images/ from the photos that scikit-image ships (CC0 / public domain).

Run once (the output is committed); it is deterministic:

    pip download --no-deps scikit-image -d /tmp/skw
    cd /tmp/skw && unzip -o -q scikit_image-*.whl 'skimage/data/*'
    python sample_images/make_samples.py /tmp/skw/skimage/data

Only Pillow and NumPy are used. See README.md in this folder for what each file is.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent


def soft_ellipse(h: int, w: int, edge: float = 0.15) -> np.ndarray:
    """uint8 alpha: 255 inside an ellipse, falling smoothly to 0 over ``edge`` of the radius."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - (h - 1) / 2) / (h / 2), (xx - (w - 1) / 2) / (w / 2))
    a = np.clip((1.0 - r) / edge, 0.0, 1.0)
    a = a * a * (3 - 2 * a)  # smoothstep
    return np.rint(a * 255).astype(np.uint8)


def main(data: Path) -> None:
    chelsea = Image.open(data / "chelsea.png")
    icc = chelsea.info["icc_profile"]
    coffee = Image.open(data / "coffee.png").convert("RGB")
    camera = Image.open(data / "camera.png")

    # 1. the originals, unchanged
    shutil.copyfile(data / "chelsea.png", OUT / "chelsea.png")  # RGB, ICC profile, 72 dpi
    shutil.copyfile(data / "camera.png", OUT / "camera.png")  # L, 512 x 512

    # 2. JPEG made from coffee.png
    coffee.save(OUT / "coffee.jpg", quality=85, dpi=(96, 96), optimize=True)

    # 3. JPEG whose pixels are stored turned; EXIF orientation 6 says "rotate 90 degrees
    #    clockwise to display", so a correct reader shows it upright as 451 wide x 300 high
    stored = chelsea.convert("RGB").transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(OUT / "chelsea_exif6.jpg", quality=85, exif=exif.tobytes(), icc_profile=icc,
                dpi=(72, 72))

    # 4. RGBA cut-out with a soft (feathered) alpha edge; colours under alpha 0 are kept
    #    as they were in the photo (straight alpha, as editors write it)
    face = np.asarray(chelsea.convert("RGB").crop((120, 20, 330, 230)))
    rgba = np.dstack([face, soft_ellipse(*face.shape[:2])])
    Image.fromarray(rgba, "RGBA").save(OUT / "chelsea_cutout.png", optimize=True)

    # 5. LA: the camera man, half size, with a left-to-right alpha ramp
    cam = camera.resize((128, 128), Image.Resampling.BOX)
    ramp = np.tile(np.linspace(0, 255, 128).round().astype(np.uint8), (128, 1))
    Image.fromarray(np.dstack([np.asarray(cam), ramp]), "LA").save(OUT / "camera_la.png")

    # 6. palette PNG (P) with a transparent index: coffee, 64 colours, transparent outside an oval
    small = coffee.resize((200, 133), Image.Resampling.LANCZOS)
    pal = small.quantize(colors=63, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    idx = np.asarray(pal).copy()
    idx[soft_ellipse(133, 200) < 128] = 63
    p = Image.fromarray(idx, "P")
    palette = pal.getpalette()[: 63 * 3] + [0, 0, 0]
    p.putpalette(palette)
    p.save(OUT / "coffee_palette.png", transparency=63, optimize=True)

    # 7. 16-bit grayscale (I;16) with real 16-bit values (not multiples of 257): the camera
    #    image halved by area averaging in float, scaled to 0..65535
    f = np.asarray(camera.convert("F").resize((256, 256), Image.Resampling.BOX), dtype=np.float64)
    g16 = np.rint(f * 257.0).astype(np.uint16)
    Image.fromarray(g16).save(OUT / "camera16.png")  # Pillow picks mode I;16 for uint16

    # 8. float32 (F) TIFF with negative values: camera / 255 - 0.25, 128 x 128
    f32 = (np.asarray(cam, dtype=np.float32) / 255.0 - 0.25).astype(np.float32)
    Image.fromarray(f32, "F").save(OUT / "camera_float.tif", compression="tiff_adobe_deflate",
                                   dpi=(150, 150))

    # 9. int32 (I) TIFF with negative and large values, 64 x 64
    i32 = (np.asarray(camera.resize((64, 64), Image.Resampling.BOX), dtype=np.int32) - 128) * 1000
    Image.fromarray(i32, "I").save(OUT / "camera_int32.tif", compression="tiff_adobe_deflate")

    # 10. bilevel ("1"): the camera man dithered, 128 x 128
    cam.convert("1").save(OUT / "camera_bilevel.png", optimize=True)

    # 11. CMYK JPEG (Pillow's plain RGB -> CMYK), 150 x 100
    coffee.resize((150, 100), Image.Resampling.LANCZOS).convert("CMYK").save(
        OUT / "coffee_cmyk.jpg", quality=90)

    # 12. animated GIF: 4 frames panning across chelsea, 120 x 80, durations 80..200 ms, loops
    base = chelsea.convert("RGB").resize((225, 150), Image.Resampling.LANCZOS)
    frames = [base.crop((x, 30, x + 120, 110)) for x in (0, 30, 60, 90)]
    frames[0].save(OUT / "chelsea_anim.gif", save_all=True, append_images=frames[1:],
                   duration=[80, 120, 160, 200], loop=0, optimize=False)

    # 13. APNG: 3 RGBA frames of the cut-out, 96 x 96, shrinking alpha, durations 100/200/300
    cut = Image.fromarray(rgba, "RGBA").resize((96, 96), Image.Resampling.LANCZOS)
    aframes = []
    for edge in (0.6, 0.3, 0.1):
        arr = np.asarray(cut).copy()
        arr[..., 3] = soft_ellipse(96, 96, edge)
        aframes.append(Image.fromarray(arr, "RGBA"))
    aframes[0].save(OUT / "chelsea_anim.png", save_all=True, append_images=aframes[1:],
                    duration=[100, 200, 300], loop=0, default_image=False)

    # 14. animated WebP (lossless): 3 frames of coffee, 96 x 64
    csmall = coffee.resize((192, 128), Image.Resampling.LANCZOS)
    wframes = [csmall.crop((x, 32, x + 96, 96)) for x in (0, 48, 96)]
    wframes[0].save(OUT / "coffee_anim.webp", save_all=True, append_images=wframes[1:],
                    duration=[150, 150, 300], loop=0, lossless=True)

    # 15. multi-page TIFF: 3 RGB pages of coffee, 96 x 64, 300 dpi
    wframes[0].save(OUT / "coffee_pages.tif", save_all=True, append_images=wframes[1:],
                    compression="tiff_adobe_deflate", dpi=(300, 300))

    # 16. small still files in the other formats
    c80 = coffee.resize((80, 53), Image.Resampling.LANCZOS)
    c80.save(OUT / "coffee.ppm")  # binary PPM (P6)
    c80.save(OUT / "coffee.bmp")
    camera.resize((64, 64), Image.Resampling.BOX).save(OUT / "camera.pgm")  # binary PGM (P5)
    chelsea.convert("RGB").resize((150, 100), Image.Resampling.LANCZOS).save(
        OUT / "chelsea.webp", quality=80, icc_profile=icc)

    # 17. a raw array: a float32 crop of chelsea in [0, 1], (48, 64, 3)
    crop = np.asarray(chelsea.convert("RGB").crop((150, 60, 214, 108)), dtype=np.float32) / 255
    np.save(OUT / "chelsea_crop.npy", crop.astype(np.float32), allow_pickle=False)

    # 18. broken/: files that must fail cleanly (kept apart so a plain folder run succeeds)
    broken = OUT / "broken"
    broken.mkdir(exist_ok=True)
    png = io.BytesIO()
    cam.save(png, "PNG")
    (broken / "truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    jpg = io.BytesIO()
    cam.save(jpg, "JPEG", quality=85)
    (broken / "truncated.jpg").write_bytes(jpg.getvalue()[: len(jpg.getvalue()) // 2])
    (broken / "empty.png").write_bytes(b"")
    (broken / "not_an_image.jpg").write_text("This is a text file with an image's name.\n")
    corrupt = bytearray(png.getvalue())
    at = corrupt.find(b"IDAT") + 200
    corrupt[at:at + 16] = bytes(b ^ 0x5A for b in corrupt[at:at + 16])  # damaged zlib data
    (broken / "corrupt_data.png").write_bytes(bytes(corrupt))
    np.save(broken / "pickled.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(broken / "one_dim.npy", np.arange(10, dtype=np.uint8), allow_pickle=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
