"""The picture and tool commands: compare, pyramid, explain, learn, bench (``register(app)``).

Like the rest of the ``cli`` package, this module imports only Typer and the standard
library at module level. Each command parses, calls the library
(``pictures``, ``explain``, ``learn``, ``bench``) and reports; library ValueErrors are
usage errors (exit 2), unreadable files fail with exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..modes import MODES
from .common import PROG, Backend, Overwrite, Size, Stride, add_command, fail, usage_error

TOOLS = "Pictures and tools"


def register() -> None:
    """Add compare, pyramid, explain, learn and bench to the commands."""
    for name, command in (("compare", compare_command), ("pyramid", pyramid_command),
                          ("explain", explain_command), ("learn", learn_command),
                          ("bench", bench_command)):
        add_command(name, TOOLS, command)


def _load(path: str):
    from ..errors import ImageError
    from ..io.read import load_image

    try:
        return load_image(path)
    except ImageError as exc:
        print(f"{PROG}: {path}: {exc}", file=sys.stderr, flush=True)
        raise typer.Exit(1) from None


def _check_outputs(paths, inputs, overwrite: bool) -> None:
    """Nothing lost: never an input, never an existing file without --overwrite."""
    import os

    real_inputs = {os.path.realpath(p) for p in inputs if p != "-"}
    for p in paths:
        if str(p) == "-":
            continue
        if os.path.realpath(p) in real_inputs:
            raise usage_error(f"{p}: is an input; inputs are never overwritten")
        if os.path.exists(p) and not overwrite:
            raise fail(f"{p}: exists (use --overwrite to replace it)")


def _save(path, array, like=None, **kw) -> int:
    from ..errors import ImageError
    from ..io.write import save_image

    try:
        return save_image(path, array, like, **kw)
    except (ImageError, OSError) as exc:
        raise fail(f"{path}: {exc}") from None


def compare_command(
    image: Annotated[str, typer.Argument(
        metavar="IMAGE", help="the image to pool with every mode")],
    size: Size = "2",
    stride: Stride = None,
    modes: Annotated[str | None, typer.Option(
        "--modes", metavar="max,avg,...",
        help="the modes to show (default: every image mode)")] = None,
    scale_to: Annotated[int | None, typer.Option(
        "--scale-to", min=16, metavar="PX", help="longest side of each tile in pixels")] = None,
    weights: Annotated[str | None, typer.Option(
        "--weights", metavar="FILE",
        help="kernel for weighted (default: a normalised box)")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="seed of the random modes")] = 0,
    columns: Annotated[int | None, typer.Option("--columns", min=1, help="tiles per row")] = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", metavar="OUT",
        help="the contact sheet (default <stem>_compare.png)")] = None,
    backend: Backend = "auto",
    overwrite: Overwrite = False,
) -> None:
    """One labelled contact sheet: the input and every mode side by side at the same scale."""
    from .. import pictures

    img = _load(image)
    default = str(Path(image).with_name(Path(image).stem + "_compare.png"))
    out = output if output or image == "-" else default
    if out is None:
        raise usage_error("compare of standard input needs -o")
    _check_outputs([out], [image], overwrite)
    try:
        sheet = pictures.compare(img, size=size, stride=stride, backend=backend, seed=seed,
                                 columns=columns,
                                 modes=[m.strip() for m in modes.split(",")] if modes else None,
                                 scale_to=scale_to, weights=weights)
    except (ValueError, TypeError) as exc:
        raise usage_error(exc) from None
    n = _save(out, sheet, format=None if out != "-" else "PNG")
    if out != "-":
        print(f"{out}: {sheet.shape[1]}x{sheet.shape[0]} contact sheet, {n:,} bytes",
              file=sys.stderr)


def pyramid_command(
    image: Annotated[str, typer.Argument(metavar="IMAGE")],
    levels: Annotated[int, typer.Option(
        "--levels", "-n", min=1, metavar="N", help="number of levels")] = 3,
    mode: Annotated[str, typer.Option(
        "--mode", "-m", metavar="MODE",
        help="the pooling of every level: " + ", ".join(
            n for n, m in MODES.items() if m.windows == "sliding" and n != "weighted")
        + " (default: avg)")] = "avg",
    size: Size = "2",
    stride: Stride = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", metavar="DIR|OUT.ome.zarr|OUT.tif",
        help="folder of the levels (default: beside the input), or one file holding every "
        "level: an OME-Zarr store (.ome.zarr) or a pyramidal TIFF (.tif; a GeoTIFF input "
        "gets a tiled GeoTIFF with overviews)")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", metavar="FMT",
        help="output format: png|jpeg|tiff|bmp|gif|webp|ppm|pgm|npy "
             "(default: the input's)")] = None,
    backend: Backend = "auto",
    overwrite: Overwrite = False,
    json_: Annotated[bool, typer.Option("--json", help="one JSON object per level")] = False,
) -> None:
    """Repeated pooling: one file per level, <stem>_pyr1, <stem>_pyr2, ...; or every level
    in one OME-Zarr store or pyramidal TIFF (-o out.ome.zarr | -o out.tif)."""
    import json

    from .. import pictures

    if output and _one_file(output):
        _one_file_pyramid(image, output, levels, mode, size, stride, backend, overwrite, json_)
        return
    img = _load(image)
    try:
        paths = pictures.pyramid_paths(image, levels, out_dir=output, ext=fmt)
        results = pictures.pyramid_results(img, levels, mode, size, stride, backend=backend)
    except (ValueError, TypeError) as exc:
        raise usage_error(exc) from None
    _check_outputs(paths, [image], overwrite)
    if output:
        Path(output).mkdir(parents=True, exist_ok=True)
    for level, (path, res) in enumerate(zip(paths, results), start=1):
        n = _save(path, res.array, img, scale=_dpi_scale(img, res))
        row = {"level": level, "output": str(path), "shape": list(res.array.shape), "bytes": n,
               "pool_ms": round(res.pool_seconds * 1e3, 3), "backend": res.backend}
        if json_:
            print(json.dumps(row), flush=True)
        else:
            shape = "x".join(map(str, res.array.shape))
            print(f"level {level}: {path}  {shape}  {n:,} bytes", file=sys.stderr)


def _one_file(output: str) -> bool:
    import os
    import re

    return bool(re.search(r"\.zarr/?$|\.tiff?$", output, re.I)) and not (
        os.path.isdir(output) and not output.rstrip("/").lower().endswith(".zarr"))


def _one_file_pyramid(image, output, levels, mode, size, stride, backend, overwrite,
                      json_) -> None:
    """``-o out.ome.zarr`` / ``-o out.tif``: every level in one store or file."""
    import json
    import os

    from .. import batch, pyramids
    from ..errors import PoolcliError

    _check_outputs([output], [image], overwrite)
    if os.path.isdir(output) and not overwrite:
        raise fail(f"{output}: exists (use --overwrite to replace it)")
    try:
        shapes = pyramids.one_file_pyramid(image, output, levels, mode, size, stride, backend)
    except (PoolcliError, ValueError, TypeError, OSError) as exc:
        raise fail(f"{image}: {batch.reason(exc, image)}") from None
    for level, shape in enumerate(shapes):
        if json_:
            print(json.dumps({"level": level, "output": output, "shape": list(shape)}),
                  flush=True)
        else:
            print(f"level {level}: {output}  {'x'.join(map(str, shape))}", file=sys.stderr)


def _dpi_scale(img, res) -> tuple[float, float]:
    """DPI divisor of a level: the input's size over the level's."""
    a, b = img.array.shape, res.array.shape
    h = 1 if len(a) == 4 else 0
    return a[h] / b[h], a[h + 1] / b[h + 1]


def explain_command(
    shape: Annotated[str, typer.Option(
        "--shape", metavar="HxW", help="input height x width (or DxHxW)")] = "7x9",
    size: Size = "2",
    stride: Stride = None,
    padding: Annotated[str, typer.Option(
        "-p", "--padding", metavar="P", help="N, HxW or same")] = "0",
    dilation: Annotated[str, typer.Option("-d", "--dilation", metavar="D")] = "1",
    ceil_mode: Annotated[bool, typer.Option("--ceil-mode")] = False,
) -> None:
    """Draw the windows and the output shape in the terminal, without reading pixels."""
    from rich.console import Console

    from .. import explain

    try:
        text = explain.renderable(shape=shape, size=size, stride=stride, padding=padding,
                                  dilation=dilation, ceil_mode=ceil_mode)
    except (ValueError, TypeError) as exc:
        raise usage_error(exc) from None
    Console(highlight=False, soft_wrap=True).print(text)


def learn_command(
    originals: Annotated[str, typer.Argument(
        metavar="ORIGINALS", help="folder of original images")],
    targets: Annotated[str, typer.Argument(
        metavar="TARGETS", help="folder of pooled targets (same names)")],
    output: Annotated[str, typer.Option(
        "-o", "--output", metavar="W.npy|W.json",
        help="where to write the fitted weights")] = "weights.npy",
    size: Annotated[str | None, typer.Option(
        "-k", "--size", metavar="K", help="window (default: inferred)")] = None,
    stride: Stride = None,
    per_channel: Annotated[bool, typer.Option(
        "--per-channel", help="one kernel per channel")] = False,
    overwrite: Overwrite = False,
) -> None:
    """Fit a weight kernel by least squares from pairs of images, for `poolcli weighted`."""
    from .. import learn

    _check_outputs([output], [], overwrite)
    try:
        fit = learn.fit_folders(originals, targets, size=size, stride=stride,
                                per_channel=per_channel)
    except (ValueError, TypeError) as exc:
        raise usage_error(exc) from None
    learn.save_weights(output, fit.weights)
    for p in fit.missing_targets:
        print(f"{PROG}: {p}: no target with the same name", file=sys.stderr)
    for p in fit.missing_originals:
        print(f"{PROG}: {p}: no original with the same name", file=sys.stderr)
    kh, kw = fit.size
    sh, sw = fit.stride
    print(f"fitted {kh}x{kw} kernel (stride {sh}x{sw}) from {len(fit.pairs)} pair(s), "
          f"{fit.windows:,} windows; rms error {fit.rms_error:.4g}")
    print(f"wrote {output}; use: poolcli weighted IMAGE --weights {output} -s {sh}x{sw}")


def bench_command(
    cases: Annotated[str, typer.Option(
        "--cases", metavar="kernels|e2e|all", help="what to time")] = "kernels",
    backend: Annotated[str, typer.Option(
        "--backend", metavar="cpu|cuda", help="poolcli backend timed")] = "cpu",
    quick: Annotated[bool, typer.Option("--quick", help="small sizes, few repeats")] = False,
    out_json: Annotated[str | None, typer.Option(
        "--json-out", metavar="FILE", help="write the rows as JSON")] = None,
    out_md: Annotated[str | None, typer.Option(
        "--markdown-out", metavar="FILE", help="write the tables")] = None,
) -> None:
    """Kernel throughput per mode, dtype and backend against the NumPy reference and installed peers."""  # noqa: E501 - one line: the command's help
    from .. import bench

    try:
        bench.run_bench(cases=cases, backend=backend, quick=quick, out_json=out_json,
                        out_md=out_md)
    except ValueError as exc:
        raise usage_error(exc) from None
