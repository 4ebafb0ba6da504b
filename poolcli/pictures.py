"""Pictures of pooling: ``poolcli compare`` (a labelled contact sheet) and ``poolcli pyramid``.

``compare`` pools one image with every image-returning mode and lays the results out on
one sheet, the input first, every tile at the same displayed size. Pooled outputs are
enlarged by pixel replication (nearest neighbour, whole blocks when the sizes divide), so
a 2x2 or 8x8 pooling shows its blocks; each tile has a dark band above it with the mode's
name and its output shape (and the options used) in white. Non-8-bit inputs are mapped
to 8 bits for display with one mapping for every tile (16-bit: /257; other integer and
float arrays: their min..max, or 0..1 for floats already in that range). Multi-frame
inputs show their first frame.

``pyramid`` pools an image again and again (level 1 = the first pooled copy, level N =
N poolings); the input itself is level 0 and is not returned. ``pyramid_paths`` names
the files ``<stem>_pyr<level><ext>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import api, geometry
from . import modes as registry

#: sheet colours (RGB): background between tiles, label bands, label text
BACKGROUND = (56, 56, 56)
BAND = (16, 16, 16)
TEXT = (255, 255, 255)
DETAIL = (190, 190, 190)
#: tiles shown smaller than this (longest side) are enlarged by a whole factor
MIN_TILE = 256
#: tiles shown larger than this (longest side) are reduced, unless ``scale_to`` says otherwise
MAX_TILE = 1024


@dataclass
class Tile:
    """One picture of the sheet: its label and its pixels (None when the mode failed)."""

    name: str
    detail: str
    array: np.ndarray | None  #: pooled values in the input's dtype, (h, w) or (h, w, C)
    error: str = ""


@dataclass
class Sheet:
    """A contact sheet and where each tile's label band and picture are on it."""

    array: np.ndarray  #: (H, W, 3) or (H, W, 4) uint8
    #: per tile: (band box, picture box), each (top, left, bottom, right) in sheet pixels
    boxes: list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = field(
        default_factory=list
    )
    tiles: list[Tile] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# which modes, with which options


def image_modes() -> list[str]:
    """Every mode that returns an image (the default set of ``compare``), registry order."""
    return [m.name for m in registry.MODES.values() if m.returns == "image"]


def _default_options(
    name: str, ksize, kstride, out_hw, seed: int, weights
) -> tuple[dict, dict, str]:
    """(geometry keywords, mode options, label detail) of one mode on the sheet."""
    geo = {"size": ksize, "stride": kstride}
    if name == "adaptive":
        return {}, {"output_size": out_hw}, "op max"
    if name == "fractional":
        # Graham's pseudo-random windows, at the same output size as the others
        return {"size": ksize}, {"output_size": out_hw, "seed": seed}, f"seed {seed}"
    if name == "mixed":
        return geo, {"alpha": 0.5}, "alpha 0.5"
    if name == "stochastic":
        return geo, {"seed": seed}, f"seed {seed}"
    if name == "softpool":
        return geo, {}, "T 1"
    if name == "lp":
        return geo, {}, "p 2"
    if name == "quantile":
        return geo, {"q": 0.75}, "q 0.75"
    if name == "blurpool":
        return {"stride": kstride}, {}, "filter 3"
    if name == "mode":
        return geo, {}, "majority"
    if name == "weighted":
        if weights is None:
            return {"stride": kstride}, {"weights": np.ones(ksize), "normalize": True}, "box kernel"
        w = np.asarray(weights)
        return {"stride": kstride}, {"weights": w}, f"kernel {w.shape[0]}x{w.shape[1]}"
    return geo, {}, ""


def _as_array(image) -> tuple[np.ndarray, int | None, str, str]:
    """-> (first frame (H, W[, C]), alpha channel index, Pillow mode, source name)."""
    alpha, mode, source = None, "", ""
    if hasattr(image, "array") and hasattr(image, "alpha_channel"):
        arr, alpha, mode, source = (
            np.asarray(image.array),
            image.alpha_channel,
            image.mode,
            image.source,
        )
        frames = getattr(image, "frames", 1)
        if arr.ndim == 4 or (
            frames > 1 and arr.ndim == 3 and arr.shape[0] == frames and mode != "npy"
        ):
            arr = arr[0]
    else:
        arr = np.asarray(image)
        if arr.ndim == 4:
            arr = arr[0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"compare needs an (H, W) or (H, W, C) image, got shape {arr.shape}")
    return arr, alpha, mode, source


def _shape_text(shape) -> str:
    return "x".join(str(int(v)) for v in shape[:2])


def compare_tiles(
    image, *, size=2, stride=None, modes=None, backend: str = "auto", weights=None, seed: int = 0
) -> list[Tile]:
    """The input and every mode's pooled output (not yet scaled or labelled on a sheet).

    ``modes``: mode names (default: ``image_modes()``), each with the sheet's defaults.
    """
    arr, alpha, _, _ = _as_array(image)
    win = geometry.window(size, stride)
    if win.pools_frames:
        raise ValueError("compare shows single pictures: give a 1- or 2-number size, not DxHxW")
    axes = geometry.sliding((1,) + arr.shape[:2], win)
    out_hw = (axes[1].out, axes[2].out)
    ksize, kstride = win.size[1:], win.stride[1:]
    names = image_modes() if modes is None else list(modes)
    dtype_note = "" if arr.dtype == np.uint8 else f" {arr.dtype}"
    tiles = [Tile("input", _shape_text(arr.shape) + dtype_note, arr)]
    for name in names:
        spec = registry.get(name)
        if spec.returns != "image":
            raise ValueError(f"compare shows pictures; {name!r} returns values, not an image")
        geo, opts, detail = _default_options(name, ksize, kstride, out_hw, seed, weights)
        try:
            y = api.run(arr, name, backend=backend, alpha_channel=alpha, **geo, **opts).array
        except (ValueError, TypeError) as exc:
            tiles.append(Tile(name, "", None, str(exc)))
            continue
        label = _shape_text(y.shape) + (f"  {detail}" if detail else "")
        tiles.append(Tile(name, label, y))
    return tiles


# --------------------------------------------------------------------------------------------
# display: 8-bit RGB(A), scaled to the tile size


def display_mapping(arr: np.ndarray) -> tuple[float, float]:
    """The value range shown as 0..255 (one mapping for the whole sheet)."""
    if arr.dtype == np.uint8:
        return 0.0, 255.0
    if arr.dtype == np.uint16:
        return 0.0, 65535.0
    finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if arr.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def to_display(arr: np.ndarray, value_range, alpha: int | None, mode: str = "") -> np.ndarray:
    """Values -> (h, w, 3) or (h, w, 4) uint8 for the sheet."""
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        lo, hi = value_range
        with np.errstate(invalid="ignore"):
            f = (np.nan_to_num(a.astype(np.float64), nan=lo) - lo) * (255.0 / (hi - lo))
        a = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    c = a.shape[2]
    if mode == "CMYK" and c == 4:
        from PIL import Image as PILImage

        return np.asarray(PILImage.fromarray(a, "CMYK").convert("RGB"))
    colour = [i for i in range(c) if i != alpha]
    rgb = a[:, :, colour[:3]] if len(colour) >= 3 else np.repeat(a[:, :, colour[:1]], 3, axis=2)
    if alpha is not None:
        return np.concatenate([rgb, a[:, :, alpha : alpha + 1]], axis=2)
    return np.ascontiguousarray(rgb)


def scale_tile(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour enlargement by pixel replication (exact blocks when the sizes
    divide); area averaging (Pillow's BOX) where the tile is smaller than the picture."""
    h, w = a.shape[:2]
    if (h, w) == (height, width):
        return a
    if h <= height and w <= width:
        rows = (np.arange(height) * h) // height
        cols = (np.arange(width) * w) // width
        return a[rows[:, None], cols[None, :]]
    from PIL import Image as PILImage

    return np.asarray(PILImage.fromarray(a).resize((width, height), PILImage.Resampling.BOX))


def tile_size(shape_hw, scale_to: int | None) -> tuple[int, int]:
    """The displayed (height, width) of every tile: the input's size, or its longest side
    set to ``scale_to``; by default small inputs are enlarged by a whole factor to at
    least MIN_TILE and large ones reduced to MAX_TILE."""
    h, w = int(shape_hw[0]), int(shape_hw[1])
    longest = max(h, w)
    if scale_to is not None:
        if int(scale_to) < 16:
            raise ValueError(f"scale_to must be at least 16 pixels, got {scale_to}")
        f = int(scale_to) / longest
    elif longest < MIN_TILE:
        f = math.ceil(MIN_TILE / longest)
    elif longest > MAX_TILE:
        f = MAX_TILE / longest
    else:
        f = 1
    return max(1, round(h * f)), max(1, round(w * f))


# --------------------------------------------------------------------------------------------
# the sheet


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed small bitmap font
        return ImageFont.load_default()


def _fit_text(draw, text: str, font_size: int, width: int):
    """The largest font (down from font_size) in which ``text`` fits ``width`` pixels."""
    size = font_size
    while True:
        font = _font(size)
        if draw.textlength(text, font=font) <= width or size <= 9:
            return font
        size -= 1


def contact_sheet(
    tiles: list[Tile],
    tile_hw: tuple[int, int],
    *,
    value_range,
    alpha: int | None = None,
    mode: str = "",
    columns: int | None = None,
    title: str | None = None,
    font_size: int | None = None,
) -> Sheet:
    """Lay ``tiles`` out in a grid, each scaled to ``tile_hw`` under a labelled band."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    th, tw = tile_hw
    n = len(tiles)
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    if cols < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fs = font_size or max(14, min(40, round(tw / 18)))
    band = round(fs * 1.7)
    gap = max(4, fs // 3)
    title_h = round(fs * 2.0) if title else 0
    width = cols * tw + (cols + 1) * gap
    height = title_h + rows * (band + th) + (rows + 1) * gap
    channels = 4 if alpha is not None else 3
    fill = BACKGROUND + ((255,) if channels == 4 else ())
    sheet = PILImage.new("RGBA" if channels == 4 else "RGB", (width, height), fill)
    draw = ImageDraw.Draw(sheet)
    if title:
        font = _fit_text(draw, title, fs, width - 2 * gap)
        draw.text((gap, title_h // 2 + gap // 2), title, font=font, fill=TEXT, anchor="lm")
    boxes = []
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        left = gap + c * (tw + gap)
        top = title_h + gap + r * (band + th + gap)
        band_box = (top, left, top + band, left + tw)
        pic_box = (top + band, left, top + band + th, left + tw)
        draw.rectangle((left, top, left + tw - 1, top + band - 1), fill=BAND)
        pad = max(4, fs // 3)
        name_font = _fit_text(draw, tile.name, fs, tw // 2)
        draw.text(
            (left + pad, top + band // 2),
            tile.name,
            font=name_font,
            fill=TEXT,
            anchor="lm",
            stroke_width=1 if fs >= 20 else 0,
            stroke_fill=TEXT,
        )
        name_w = draw.textlength(tile.name, font=name_font) + 2 * pad + fs // 2
        if tile.detail:
            detail_font = _fit_text(
                draw, tile.detail, round(fs * 0.8), max(1, tw - int(name_w) - pad)
            )
            draw.text(
                (left + tw - pad, top + band // 2),
                tile.detail,
                font=detail_font,
                fill=DETAIL,
                anchor="rm",
            )
        if tile.array is not None:
            pic = scale_tile(to_display(tile.array, value_range, alpha, mode), th, tw)
            sheet.paste(PILImage.fromarray(pic), (left, top + band))
        else:
            draw.rectangle((left, top + band, left + tw - 1, top + band + th - 1), fill=BAND)
            _wrap(draw, tile.error or "failed", (left + pad, top + band + pad), tw - 2 * pad, fs)
        boxes.append((band_box, pic_box))
    return Sheet(np.asarray(sheet), boxes, list(tiles))


def _wrap(draw, text: str, xy, width: int, fs: int) -> None:
    font = _font(max(10, round(fs * 0.7)))
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    lines.append(line)
    draw.multiline_text(xy, "\n".join(lines), font=font, fill=TEXT)


def compare(
    image,
    *,
    size=2,
    stride=None,
    modes=None,
    scale_to: int | None = None,
    backend: str = "auto",
    weights=None,
    seed: int = 0,
    columns: int | None = None,
    title: str | None = None,
    font_size: int | None = None,
) -> np.ndarray:
    """One labelled contact sheet: the input and every mode side by side at the same scale.

    ``image``: an ``io.types.Image`` (its alpha channel and mode are used) or an array
    (H, W), (H, W, C) or (D, H, W, C) (first frame shown). ``size``/``stride``: the window
    of every sliding mode; adaptive and fractional pool to the same output size (fractional
    with ``seed``), stochastic uses ``seed``, weighted a normalised box kernel unless
    ``weights`` (an array or a file) is given. ``modes``: a list of mode names (default:
    every image mode). ``scale_to``: the longest side of each tile in pixels (default: the
    input's size, small inputs enlarged to at least 256, large ones reduced to 1024).
    Returns (H, W, 3) uint8, or (H, W, 4) when the image has alpha; save it with
    ``io.write.save_image``.
    """
    return compare_sheet(
        image,
        size=size,
        stride=stride,
        modes=modes,
        scale_to=scale_to,
        backend=backend,
        weights=weights,
        seed=seed,
        columns=columns,
        title=title,
        font_size=font_size,
    ).array


def compare_sheet(
    image,
    *,
    size=2,
    stride=None,
    modes=None,
    scale_to=None,
    backend="auto",
    weights=None,
    seed=0,
    columns=None,
    title=None,
    font_size=None,
) -> Sheet:
    """``compare`` with the layout (tile boxes) kept, for tests and callers that annotate."""
    arr, alpha, mode, source = _as_array(image)
    if isinstance(weights, (str, Path)):
        from .learn import load_weights

        weights = load_weights(weights)
    tiles = compare_tiles(
        arr if not hasattr(image, "alpha_channel") else image,
        size=size,
        stride=stride,
        modes=modes,
        backend=backend,
        weights=weights,
        seed=seed,
    )
    win = geometry.window(size, stride)
    if title is None:
        name = Path(source).name if source and source != "-" else "input"
        frames = getattr(image, "frames", 1)
        first = f" (frame 1 of {frames})" if frames > 1 else ""
        title = (
            f"{name}  {_shape_text(arr.shape)} (HxW){first}  -  size {win.size[1]}x{win.size[2]}, "
            f"stride {win.stride[1]}x{win.stride[2]}"
        )
    return contact_sheet(
        tiles,
        tile_size(arr.shape, scale_to),
        value_range=display_mapping(arr),
        alpha=alpha,
        mode=mode,
        columns=columns,
        title=title or None,
        font_size=font_size,
    )


# --------------------------------------------------------------------------------------------
# pyramid


def pyramid_results(
    image,
    levels: int,
    mode: str = "avg",
    size=2,
    stride=None,
    *,
    backend: str = "auto",
    alpha_channel: int | None = None,
    **options,
) -> list[api.Result]:
    """``pyramid`` with each level's ``api.Result`` (plan, backend, timings) kept."""
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ValueError(f"levels must be a whole number >= 1, got {levels!r}")
    spec = registry.get(mode)
    if spec.returns != "image" or spec.windows in ("adaptive", "global"):
        raise ValueError(
            f"a pyramid repeats one pooling; {mode!r} has a fixed output size (use a sliding mode)"
        )
    if spec.windows == "fractional" and options.get("output_size") is not None:
        raise ValueError(
            "a fractional pyramid needs --ratio (each level a fraction of the last), "
            "not --output-size"
        )
    if hasattr(image, "alpha_channel") and hasattr(image, "array"):
        alpha_channel = image.alpha_channel if alpha_channel is None else alpha_channel
        image = image.array
    current = np.asarray(image)
    results: list[api.Result] = []
    for level in range(1, int(levels) + 1):
        try:
            res = api.run(
                current,
                mode,
                size=size,
                stride=stride,
                backend=backend,
                alpha_channel=alpha_channel,
                **options,
            )
        except ValueError as exc:
            if level == 1:
                raise
            shape = "x".join(map(str, current.shape))
            raise ValueError(
                f"level {level} cannot be made: level {level - 1} is {shape}, "
                "too small for another pooling "
                f"({exc}); at most {level - 1} level(s) fit"
            ) from None
        results.append(res)
        current = res.array
    return results


def pyramid(
    image,
    levels: int,
    mode: str = "avg",
    size=2,
    stride=None,
    *,
    backend: str = "auto",
    alpha_channel: int | None = None,
    **options,
) -> list[np.ndarray]:
    """Pool ``image`` ``levels`` times in a row: ``[level 1, ..., level N]``.

    Level 1 is the first pooled copy, level N the result of N poolings (the input is
    level 0 and is not in the list). ``mode``, ``size``, ``stride`` and ``options`` are
    those of ``poolcli.pool`` and apply at every level. Raises ValueError, before any
    file is written by the caller, when a level would be empty.
    """
    return [
        r.array
        for r in pyramid_results(
            image,
            levels,
            mode,
            size,
            stride,
            backend=backend,
            alpha_channel=alpha_channel,
            **options,
        )
    ]


def pyramid_paths(source, levels: int, *, out_dir=None, ext: str | None = None) -> list[Path]:
    """``<stem>_pyr<level><ext>`` for levels 1..N, beside ``source`` or in ``out_dir``.

    ``ext`` (with or without the dot) defaults to the source's extension.
    """
    src = Path(str(source))
    suffix = src.suffix if ext is None else ("" if not ext else ("." + ext.lstrip(".")))
    if not suffix:
        raise ValueError(f"cannot tell the output format of {source}: give an extension (--format)")
    folder = Path(out_dir) if out_dir is not None else src.parent
    stem = "stdin" if str(source) == "-" else src.stem
    return [folder / f"{stem}_pyr{level}{suffix}" for level in range(1, int(levels) + 1)]
