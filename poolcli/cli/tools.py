"""The tool commands: info, modes, doctor, warmup, unpool (``register(app)``).

Typer and the standard library at import; NumPy, Numba and Pillow inside the commands.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer

from .. import modes
from .common import PROG, add_command, fail, plain, stdout_console, usage_error, warn

TOOLS = "Tools"


def register() -> None:
    """Add info, modes, doctor, warmup and unpool to the commands."""
    for name, command in (("info", info_command), ("modes", modes_command),
                          ("doctor", doctor_command), ("warmup", warmup_command),
                          ("unpool", unpool_command)):
        add_command(name, TOOLS, command)


def unpool_command(
    pooled: Annotated[str, typer.Argument(metavar="POOLED", show_default=False,
                                          help="the pooled image or .npy array")],
    indices: Annotated[str, typer.Option("--indices", metavar="IDX.npy", show_default=False,
                                         help="the index array written by --indices")],
    output_size: Annotated[str, typer.Option(
        "--output-size", metavar="HxW", show_default=False,
        help="the size of the image that was pooled (DxHxW for 3-D windows)")],
    output: Annotated[str, typer.Option("-o", "--output", metavar="OUT", show_default=False,
                                        help="the unpooled image or .npy file")],
    overwrite: Annotated[bool, typer.Option("--overwrite",
                                            help="replace an existing OUT")] = False,
) -> None:
    """Undo max pooling (torch's max_unpool2d): zeros of the input's size, each pooled value
    put back where --indices says it came from."""
    import numpy as np

    from .. import api, batch
    from ..io.npyfile import NPY_MAGIC
    from ..io.read import load_image
    from ..io.write import output_format, save_image

    if output != "-":
        if os.path.exists(output) and not overwrite:
            raise usage_error(f"-o {output} exists (use --overwrite to replace it)")
        for src in (pooled, indices):
            if src != "-" and os.path.exists(src) and os.path.exists(output) and \
                    os.path.samefile(src, output):
                raise usage_error(f"-o {output} would replace an input")
        try:
            output_format(output)
        except Exception as exc:  # noqa: BLE001 - an unknown extension: usage
            raise usage_error(f"-o {output}: {batch.reason(exc)}") from None
    try:
        img = load_image(pooled, max_pixels=None)
    except Exception as exc:  # noqa: BLE001 - one line per unreadable file
        raise fail(f"{pooled}: {batch.reason(exc, pooled)}") from None
    try:
        with open(indices, "rb") as f:
            if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise ValueError("not a .npy file (the --indices of a pooling command)")
        idx = np.load(indices, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - one line per unreadable file
        raise fail(f"{indices}: {batch.reason(exc, indices)}") from None
    try:
        out = api.unpool(img.array, idx, output_size)
    except ValueError as exc:
        raise usage_error(exc) from None
    h_axis = 1 if out.ndim == 4 else 0
    scale = (img.array.shape[h_axis] / out.shape[h_axis],
             img.array.shape[h_axis + 1] / out.shape[h_axis + 1])
    try:
        save_image(output, out, img, scale=scale)
    except Exception as exc:  # noqa: BLE001 - one line
        raise fail(f"{output}: {batch.reason(exc)}") from None


def info_command(
    inputs: Annotated[list[str], typer.Argument(metavar="FILE", show_default=False,
                                                help="image files, .npy arrays, folders, or -")],
    recursive: Annotated[bool, typer.Option("-r", "--recursive",
                                            help="descend into subfolders")] = False,
    json_: Annotated[bool, typer.Option("--json", help="one JSON object per file")] = False,
    max_pixels: Annotated[int | None, typer.Option(
        "--max-pixels", min=0, metavar="N", help="refuse larger images (0: no limit)")] = None,
) -> None:
    """Shape, dtype, mode, frames, format and file size of each file; a video's frame rate,
    codec and duration, a NIfTI's affine and voxel size, a stack's physical sizes, a
    GeoTIFF's transform and nodata."""
    from .. import batch, formats
    from ..inputs import find_inputs
    from ..io.read import DEFAULT_MAX_PIXELS, load_image

    try:
        sources = find_inputs(inputs, recursive=recursive, on_warning=warn)
    except ValueError as exc:
        raise usage_error(exc) from None
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else (max_pixels or None)
    rows, failed = [], 0
    for s in sources:
        try:
            kind = formats.kind(s.path) if s.path != "-" else None
            if kind is not None:  # video, NIfTI, stack, GeoTIFF: their own facts too
                row = formats.describe(s.path, kind)
            else:
                img = load_image(s.path, max_pixels=limit, pages=True)
        except Exception as exc:  # noqa: BLE001 - one line per unreadable file
            print(f"{PROG}: {s.path}: {batch.reason(exc)}", file=sys.stderr, flush=True)
            failed += 1
            continue
        if kind is None:
            row = {"input": s.path, "format": img.format, "mode": img.mode,
                   "shape": [int(n) for n in img.array.shape], "dtype": str(img.array.dtype),
                   "frames": int(img.frames), "alpha_channel": img.alpha_channel,
                   "bits": _bits(img), "file_bytes": int(img.file_bytes)}
            if img.pages is not None:
                row["page_shapes"] = [[int(n) for n in p.shape] for p in img.pages]
        if json_:
            import json

            print(json.dumps({k: v for k, v in row.items() if k != "details"}), flush=True)
        rows.append(row)
    if rows and not json_:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, header_style="bold")
        details = any("details" in r for r in rows)
        for col in ("file", "format", "mode", "bits", "shape", "dtype", "frames", "bytes",
                    *(("details",) if details else ())):
            table.add_column(col, justify="right" if col in ("bits", "frames", "bytes") else "left",
                             overflow="fold")
        for r in rows:
            table.add_row(Text(r["input"]), r["format"], r["mode"], str(r.get("bits", "")),
                          "x".join(map(str, r["shape"])), r["dtype"], str(r["frames"]),
                          f"{r['file_bytes']:,}",
                          *((Text(r.get("details", "")),) if details else ()))
        stdout_console().print(table)
    if failed:
        raise typer.Exit(1)


def _bits(img) -> int:
    """Bits per sample as stored in the file (1 for bilevel images; a .npy's dtype size)."""
    if img.file_mode == "1" or img.array.dtype.kind == "b":
        return 1
    return int(img.array.dtype.itemsize * 8)


def modes_command(
    json_: Annotated[bool, typer.Option("--json", help="the registry as JSON")] = False,
) -> None:
    """What each pooling mode does, its options and where it comes from."""
    if json_:
        import json

        print(json.dumps([{"name": m.name, "summary": m.summary, "options": list(m.options),
                           "windows": m.windows, "returns": m.returns, "random": m.random,
                           "reference": m.reference} for m in modes.MODES.values()], indent=2))
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("mode", "what it does", "options", "reference"):
        table.add_column(col, overflow="fold")
    for m in modes.MODES.values():
        flags = " ".join("--" + o.replace("_", "-") for o in m.options)
        table.add_row(m.name, plain(m.summary), plain(flags), plain(m.reference))
    stdout_console().print(table)



def _version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "not installed"


def doctor_command(
    json_: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Versions, kernel cache folder, threading layer, threads and GPU status."""
    import platform

    from .. import __version__

    facts: dict = {"poolcli": __version__, "python": platform.python_version(),
                   "platform": platform.platform()}
    for dist in ("numpy", "numba", "pillow", "typer", "rich", "numba-cuda"):
        facts[dist] = _version(dist)
    from .. import kernels

    facts["cache_dir"] = kernels.cache_dir()
    facts["cache_writable"] = _writable(facts["cache_dir"])
    facts["cpu_count"] = os.cpu_count()
    try:
        import numpy as np

        from .. import api

        t0 = time.perf_counter()
        api.run(np.zeros((4, 4), np.uint8), "max", backend="cpu")
        facts["cpu_kernel_ready_s"] = round(time.perf_counter() - t0, 3)
        # the folder Numba really caches in, found when the backend was imported
        facts["cache_dir"] = kernels.cache_path or NO_CACHE
        facts["cache_writable"] = kernels.cache_path is not None
        import numba

        facts["threading_layer"] = numba.threading_layer()
        facts["threads"] = numba.get_num_threads()
    except Exception as exc:  # noqa: BLE001 - doctor reports, it does not fail
        facts["cpu_backend"] = f"unusable: {type(exc).__name__}: {exc}"
    try:
        from .. import dispatch

        ok, why = dispatch.cuda_status()
        facts["cuda"] = "usable" if ok else f"not usable: {why}"
    except Exception as exc:  # noqa: BLE001
        facts["cuda"] = f"not usable: {type(exc).__name__}: {exc}"
    if json_:
        import json

        print(json.dumps(facts, default=str))
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in facts.items():
        table.add_row(k, plain(str(v)))
    stdout_console().print(table)


#: what `poolcli doctor` shows where no cache folder is writable (a read-only install)
NO_CACHE = "none writable (kernels compile in memory each run)"


def _writable(path: str) -> bool:
    probe = path
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    return bool(probe) and os.path.isdir(probe) and os.access(probe, os.W_OK)


#: the dtypes `poolcli warmup` compiles kernels for
WARMUP_DTYPES = ("uint8", "uint16", "int32", "float32", "float64")


def warmup_command(
    backend: Annotated[str, typer.Option("--backend", metavar="cpu|cuda",
                                         help="the backend to compile for")] = "cpu",
    json_: Annotated[bool, typer.Option("--json", help="one JSON object per dtype")] = False,
) -> None:
    """Compile (and cache) every kernel for uint8, uint16, int32, float32 and float64 now."""
    if backend not in ("cpu", "cuda"):
        raise usage_error(f"warmup compiles the cpu or cuda backend, got {backend!r}")
    import numpy as np

    from .. import api, dispatch

    try:
        t0 = time.perf_counter()
        dispatch.load(backend)
        startup = time.perf_counter() - t0
    except ValueError as exc:
        raise usage_error(exc) from None
    rows = [{"dtype": "(start-up)", "backend": backend, "seconds": round(startup, 3)}]
    for dt in WARMUP_DTYPES:
        t0 = time.perf_counter()
        x = np.arange(6 * 6 * 3).reshape(6, 6, 3).astype(dt)
        for name, spec in modes.MODES.items():
            api.run(x, name, backend=backend, **_warmup_options(spec))
        rows.append({"dtype": dt, "backend": backend,
                     "seconds": round(time.perf_counter() - t0, 3)})
    if json_:
        import json

        for r in rows:
            print(json.dumps(r))
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("dtype", "backend", "seconds"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for r in rows:
        table.add_row(r["dtype"], r["backend"], f"{r['seconds']:.2f}")
    stdout_console().print(table)
    from .. import kernels

    where = "kernels cached for later runs" if kernels.cache_path else NO_CACHE
    print(f"total {sum(r['seconds'] for r in rows):.2f} s; {where}", file=sys.stderr)


def _warmup_options(spec: modes.Mode) -> dict:
    """Small valid options for every mode (so each code path's kernel gets compiled)."""
    if spec.name in ("adaptive",):
        return {"output_size": (2, 2)}
    if spec.name == "fractional":
        return {"output_size": (3, 3), "seed": 0}
    if spec.name == "weighted":
        return {"weights": [[1.0, 2.0], [3.0, 4.0]]}
    if spec.random:
        return {"seed": 0}
    return {}
