"""The command line: a Typer app with one small function per command.

Commands parse their options, then call the library (``batch`` over ``api.run``) and
``report``. Start-up is kept cheap: this module imports only Typer, rich, the standard
library, ``options`` and ``modes``; NumPy and Numba load inside the commands that need
them, so ``poolcli --help``, ``poolcli modes`` and ``--version`` never start them.

The pooling commands are generated from the registry ``modes.MODES``: each exposes the
window options its geometry takes and the mode options listed in ``MODES[name].options``,
all defined once in ``OPTIONS`` below. To add a command, write a function with
``Annotated`` parameters (reuse ``option(name)`` for shared ones via ``with_options``)
and register it with ``@app.command()``.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from typing import Annotated

import typer

from . import modes

try:  # recent Typer vendors Click
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - older Typer on top of Click
    from click.exceptions import ClickException as _ClickException

PROG = "poolcli"

app = typer.Typer(
    name=PROG,
    help="Apply the pooling operations of CNNs (max, avg, min, Lp, adaptive, fractional, mixed, "
    "stochastic, SoftPool, learned ...) to images and arrays, fast.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

WINDOW, MODE_OPTIONS, OUTPUT, RUN = "Window", "Mode options", "Output", "Run"


# --------------------------------------------------------------------------------------------
# errors and consoles


def usage_error(message) -> typer.Exit:
    """Print ``poolcli: error: <message>`` (one line) and return the Exit(2) to raise."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else "invalid usage"
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)
    return typer.Exit(2)


def warn(message: str) -> None:
    """The library's warnings (``on_warning``): ``poolcli: <message>`` on standard error."""
    print(f"{PROG}: {message}", file=sys.stderr)


def stderr_is_terminal() -> bool:
    """Progress bars only for people: never into a pipe or a log file."""
    return sys.stderr.isatty()


def _stderr_console():
    from rich.console import Console

    if sys.stderr.isatty():
        return Console(stderr=True)
    return Console(stderr=True, width=int(os.environ.get("COLUMNS") or 200), soft_wrap=False)


def _stdout_console():
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=int(os.environ.get("COLUMNS") or 200))


# --------------------------------------------------------------------------------------------
# option definitions, written once


def _param(name: str, type_, default, *decls: str, help: str, panel: str, **kw) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default,
        annotation=Annotated[type_, typer.Option(*decls, help=help, rich_help_panel=panel, **kw)],
    )


def _common_options(vector: bool) -> dict[str, inspect.Parameter]:
    fmt_choices = "npy|json" if vector else "png|jpeg|tiff|bmp|gif|webp|ppm|pgm|npy"
    opts = [
        # the window
        _param("size", str | None, None, "-k", "--size", metavar="K",
               help="window size: N, HxW, or DxHxW to pool across frames too (default 2)", panel=WINDOW),
        _param("stride", str | None, None, "-s", "--stride", metavar="S",
               help="step between windows: N, HxW or DxHxW (default: the size)", panel=WINDOW),
        _param("padding", str | None, None, "-p", "--padding", metavar="P",
               help="padding: N or HxW, at most half the window, or 'same' (TensorFlow's SAME) (default 0)",
               panel=WINDOW),
        _param("dilation", str | None, None, "-d", "--dilation", metavar="D",
               help="spacing of a window's cells: N or HxW (default 1)", panel=WINDOW),
        _param("ceil_mode", bool, False, "--ceil-mode",
               help="round the output size up (PyTorch's ceil_mode)", panel=WINDOW),
        # output
        _param("output", str | None, None, "-o", "--output", metavar="OUT",
               help="output file (one input), folder (many; the input tree is mirrored), or - for "
               "standard output" + (" (default: print only)" if vector else
                                    " (default: <stem>_<mode><ext> next to each input)"),
               panel=OUTPUT),
        _param("format", str | None, None, "--format", metavar="FMT",
               help=f"output format: {fmt_choices} (default: from the output's extension, else the input's)",
               panel=OUTPUT),
        _param("overwrite", bool, False, "--overwrite",
               help="replace existing outputs (inputs are never overwritten)", panel=OUTPUT),
        _param("skip_existing", bool, False, "--skip-existing",
               help="skip inputs whose output exists (counted as done)", panel=OUTPUT),
        _param("png_compress_level", int | None, None, "--png-compress-level", min=0, max=9,
               metavar="0-9", help="PNG compression level (default 1: fast)", panel=OUTPUT),
        _param("jpeg_quality", int | None, None, "--jpeg-quality", min=1, max=100, metavar="1-100",
               help="JPEG quality (default 90)", panel=OUTPUT),
        _param("strip", bool, False, "--strip",
               help="write no metadata (EXIF, XMP, text chunks, ICC profile, DPI)", panel=OUTPUT),
        # running
        _param("recursive", bool, False, "-r", "--recursive",
               help="descend into subfolders of folder inputs", panel=RUN),
        _param("follow_symlinks", bool, False, "--follow-symlinks",
               help="follow symbolic links inside folders (never loops)", panel=RUN),
        _param("jobs", int | None, None, "-j", "--jobs", min=1, metavar="N",
               help="files in flight at a time: decoding and encoding overlap (default: the number "
               "of cores)", panel=RUN),
        _param("threads", int | None, None, "--threads", min=1, metavar="N",
               help="threads of the CPU kernels (default: all cores)", panel=RUN),
        _param("backend", str, "auto", "--backend", metavar="auto|cpu|cuda|numpy",
               help="where to pool: auto picks NumPy for small work, the GPU for large work when "
               "one is usable, else the Numba CPU kernels", panel=RUN),
        _param("max_pixels", int | None, None, "--max-pixels", min=0, metavar="N",
               help="refuse images with more pixels per frame, from the header (default ~180 M; 0: no limit)",
               panel=RUN),
        _param("fail_fast", bool, False, "--fail-fast",
               help="stop at the first failed input", panel=RUN),
        _param("quiet", bool, False, "-q", "--quiet",
               help="no table and no progress bar on standard error (errors still show)", panel=RUN),
        _param("json", bool, False, "--json",
               help="print JSON Lines on standard output: one object per file, then a summary", panel=RUN),
        _param("report", str | None, None, "--report", metavar="FILE",
               help="write the per-file records to FILE.json, FILE.jsonl or FILE.csv", panel=RUN),
        _param("dask", str | None, None, "--dask", metavar="ADDRESS",
               help="run the batch on a Dask cluster: local, local:N (N worker processes here) or "
               "tcp://HOST:PORT; paths must be reachable from the workers (pip install 'poolcli[dask]')",
               panel=RUN),
    ]
    if vector:
        opts = [p for p in opts if p.name not in ("png_compress_level", "jpeg_quality", "dask",
                                                  "strip")]
    return {p.name: p for p in opts}


def _mode_option(name: str, spec: modes.Mode) -> inspect.Parameter:
    """The CLI option for mode option ``name`` (snake case), with help written for ``spec``."""
    P = MODE_OPTIONS
    if name == "count_include_pad":
        return _param(name, bool, False, "--count-include-pad",
                      help="count padded cells in the divisor (PyTorch's default; off: edges do not darken)",
                      panel=P)
    if name == "p":
        return _param(name, float | None, None, "--p", metavar="P",
                      help="the power of the Lp mean (default 2)", panel=P)
    if name == "normalize":
        what = ("divide the sum of the weights into the result" if spec.name == "weighted"
                else "the power mean (mean of |x|^p)^(1/p); --no-normalize: the plain norm as lp_pool2d")
        default = "--no-normalize" if spec.name == "weighted" else "--normalize"
        return _param(name, bool | None, None, "--normalize/--no-normalize",
                      help=f"{what} (default {default})", panel=P, show_default=False)
    if name == "op":
        ops = modes.OPS.get(spec.name, ("max",))
        return _param(name, str | None, None, "--op", metavar="|".join(ops),
                      help=f"the reduction (default {ops[0]})", panel=P)
    if name == "output_size":
        return _param(name, str | None, None, "--output-size", metavar="HxW",
                      help="output height x width (one number: a square)", panel=P)
    if name == "levels":
        return _param(name, str | None, None, "--levels", metavar="1,2,4",
                      help="pyramid levels, each pooled to LxL, in this order (default 1,2,4)", panel=P)
    if name == "ratio":
        return _param(name, str | None, None, "--ratio", metavar="R",
                      help="output size as a fraction of the input: R or RH,RW, each in (0, 1)", panel=P)
    if name == "samples":
        return _param(name, str | None, None, "--samples", metavar="UH,UW",
                      help="the pseudo-random window offsets u, each in [0, 1) (instead of --seed)", panel=P)
    if name == "seed":
        return _param(name, int | None, None, "--seed", min=0, metavar="N",
                      help="seed of the random draws (default: a fresh one, shown in the report)", panel=P)
    if name == "alpha":
        return _param(name, float | None, None, "--alpha", metavar="A",
                      help="weight of max in alpha*max + (1-alpha)*avg, in [0, 1] (default 0.5)", panel=P)
    if name == "random":
        return _param(name, bool, False, "--random",
                      help="pick max or avg at random per window (with --seed)", panel=P)
    if name == "temperature":
        return _param(name, float | None, None, "--temperature", metavar="T",
                      help="softmax temperature T > 0 of the weights exp(x/T) (default 1)", panel=P)
    if name == "weights":
        return _param(name, str | None, None, "--weights", metavar="FILE",
                      help="the weight kernel: .npy or .json, shape KHxKW or KHxKWxC (required)", panel=P)
    if name == "linear_light":
        return _param(name, bool, False, "--linear-light",
                      help="pool sRGB colour in linear light (a fine checkerboard averages to ~188, not 128)",
                      panel=P)
    raise KeyError(name)  # pragma: no cover - a registry option without a CLI definition


def _geometry_names(spec: modes.Mode) -> tuple[str, ...]:
    """The window options a mode takes."""
    if spec.windows == "sliding":
        full = ("size", "stride", "padding", "dilation", "ceil_mode")
        return full[1:] if spec.name == "weighted" else full  # weighted: the size is the weights'
    if spec.windows == "fractional":
        return ("size",)
    return ()


def _inputs_param() -> inspect.Parameter:
    return inspect.Parameter(
        "inputs", inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[list[str], typer.Argument(
            metavar="INPUT", show_default=False,
            help="image files (png, jpeg, tiff, bmp, gif, webp, ppm/pgm, npy), folders, or - for standard input")],
    )


def mode_parameters(spec: modes.Mode) -> list[inspect.Parameter]:
    """INPUT..., the window options the mode takes, its mode options, then the common ones."""
    common = _common_options(spec.returns == "vector")
    params = [_inputs_param()]
    params += [common[n] for n in _geometry_names(spec)]
    params += [_mode_option(n, spec) for n in spec.options]
    params += [p for n, p in common.items() if n not in ("size", "stride", "padding", "dilation", "ceil_mode")]
    return params


GEOMETRY_KEYS = ("size", "stride", "padding", "dilation", "ceil_mode")


def _register_mode(name: str) -> None:
    spec = modes.MODES[name]

    def command(**kw) -> None:
        run_mode(name, kw)

    command.__name__ = f"{name}_command"
    command.__doc__ = f"{spec.summary[0].upper()}{spec.summary[1:]}.\n\n{spec.reference}"
    command.__signature__ = inspect.Signature(mode_parameters(spec))  # type: ignore[attr-defined]
    panel = "Pooling (values)" if spec.returns == "vector" else "Pooling"
    app.command(name, rich_help_panel=panel)(command)


# --------------------------------------------------------------------------------------------
# running a pooling mode


def _split(mode: str, kw: dict):
    """kw of a generated command -> (geometry, mode options) as the API takes them."""
    spec = modes.MODES[mode]
    geometry = {k: kw[k] for k in GEOMETRY_KEYS if kw.get(k) not in (None, False)}
    opts = {k: kw[k] for k in spec.options if kw.get(k) is not None}
    return geometry, opts


def prepare(mode: str, kw: dict):
    """Check every option once, before any file is read; -> (Settings, jobs).

    Raises ValueError/TypeError (usage errors, exit 2) with the library's messages.
    """
    from . import batch, dispatch, inputs
    from .errors import ImageError
    from .io.read import DEFAULT_MAX_PIXELS
    from .io.write import output_format
    from .learn import load_weights

    spec = modes.MODES[mode]
    vector = spec.returns == "vector"
    geometry, opts = _split(mode, kw)
    if opts.get("op") is not None and opts["op"] not in modes.OPS.get(mode, ()):  # '' too
        raise ValueError(f"--op {opts['op']!r} is not available for {mode}; choose one of: "
                         f"{', '.join(modes.OPS.get(mode, ()))}")
    if opts.get("levels") is not None:  # --levels '' is an error, not the default
        from .options import parse_levels

        parse_levels(opts["levels"])
    if kw["backend"] not in dispatch.BACKENDS:
        raise ValueError(f"unknown backend {kw['backend']!r}; choose one of: {', '.join(dispatch.BACKENDS)}")
    if kw["json"] and kw["output"] == "-":
        raise ValueError("--json and -o - both write to standard output; give -o FILE or drop --json")
    if kw["report"] is not None:
        from .report import report_kind

        report_kind(kw["report"])
    fmt = inputs.parse_format(kw["format"], vector=vector)
    if kw.get("dask") is not None:
        from .distributed import parse_address

        parse_address(kw["dask"])
    if "weights" in opts:
        try:
            opts["weights"] = load_weights(opts["weights"])
        except (OSError, ValueError, ImageError) as exc:
            raise ValueError(f"cannot read --weights {kw['weights']}: {batch.reason(exc)}") from None
    scale = check_plan(spec, geometry, opts)

    sources = inputs.find_inputs(kw["inputs"], recursive=kw["recursive"],
                                 follow_symlinks=kw["follow_symlinks"], on_warning=warn)
    out = kw["output"]
    if out is not None and out != "-" and fmt is None and not inputs.output_is_dir(out, sources):
        if vector:
            if not out.lower().endswith((".npy", ".json")):
                raise ValueError(f"-o {out}: global and spp write .npy or .json files")
        else:
            output_format(out)  # ImageError for an unknown extension
    jobs = inputs.plan_jobs(
        sources, mode=mode, output=out, ext=inputs.format_extension(fmt, vector=vector) if fmt else None,
        overwrite=kw["overwrite"], skip_existing=kw["skip_existing"], vector=vector)
    settings = batch.Settings(
        mode=mode, geometry=geometry, options=opts, backend=kw["backend"],
        max_pixels=kw["max_pixels"] if kw["max_pixels"] is not None else DEFAULT_MAX_PIXELS,
        format=fmt, png_compress_level=kw.get("png_compress_level"),
        jpeg_quality=kw.get("jpeg_quality"), scale=scale, vector=vector, threads=kw["threads"],
        strip=bool(kw.get("strip")))
    if settings.max_pixels == 0:
        settings.max_pixels = None
    return settings, jobs


def check_plan(spec: modes.Mode, geometry: dict, opts: dict):
    """Validate geometry and mode options on a stand-in shape big enough for them.

    Returns the DPI divisor (height and width strides) for sliding windows, else None.
    Errors that depend on the real image (an output that would be empty, weights with the
    wrong number of channels) are reported per file later.
    """
    import math

    import numpy as np

    from . import api
    from . import geometry as geo
    from .options import parse_floats, parse_size2

    dims = [64, 64, 64]
    channels = 1
    scale = None
    if spec.windows == "sliding":
        if spec.name == "weighted":
            if opts.get("weights") is None:
                raise ValueError("weighted pooling needs weights: --weights FILE.npy|.json")
            w = np.asarray(opts["weights"])
            channels = w.shape[2] if w.ndim == 3 else 1
            win = geo.window(w.shape[:2] if w.ndim >= 2 else 1, **{k: v for k, v in geometry.items() if k != "size"})
        else:
            win = geo.window(**geometry)
        dims = [max(64, win.dilation[i] * (win.size[i] - 1) + 1 + win.stride[i]) for i in range(3)]
        if not win.pools_frames:
            dims[0] = 1
        scale = (float(win.stride[1]), float(win.stride[2]))
    elif spec.windows == "fractional":
        kh, kw = parse_size2(geometry.get("size", 2), "size")
        k = max(kh, kw)
        if opts.get("output_size") is not None:
            oh, ow = parse_size2(opts["output_size"], "output size")
            dims = [1, max(64, oh + k), max(64, ow + k)]
        elif opts.get("ratio") is not None:
            r = max(parse_floats(opts["ratio"], "ratio"))
            n = math.ceil((k - 1) / (1 - r)) + 2 if 0 < r < 1 else 64
            dims = [1, min(max(64, n), 10**6), min(max(64, n), 10**6)]
    elif opts.get("output_size") is not None:
        oh, ow = parse_size2(opts["output_size"], "output size")
        dims = [1, max(64, oh), max(64, ow)]
    if spec.windows != "sliding":
        dims[0] = 1
    shape = (dims[0], dims[1], dims[2], channels)
    if spec.name == "spp":  # adaptive pooling per level
        from .options import parse_levels

        level_opts = {k: v for k, v in opts.items() if k != "levels"}
        for level in parse_levels(opts.get("levels") or (1, 2, 4)):
            level_opts["output_size"] = (level, level)
            api.make_plan(modes.MODES["adaptive"], shape, np.uint8, opts=level_opts)
    else:
        api.make_plan(spec, shape, np.uint8, **geometry, opts=opts)
    return scale


def _maybe_prewarm(mode: str, backend: str, settings, jobs) -> None:
    """Start Numba in the background while the first image decodes, when the work will
    need it: always for --backend cpu; for auto when the cost model says so for the first
    input's size (read from its header). Never for the numpy or cuda backends."""
    from . import dispatch

    if backend == "cpu":
        dispatch.prewarm()
        return
    if backend != "auto" or not jobs:
        return
    from . import api
    from .io.read import header

    try:
        first = next(j for j in jobs if not j.skip and not j.error)
        h = header(first.source.path)
        channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4, "I;16": 1, "I": 1, "F": 1}.get(h.mode, 3)
        plan = api.make_plan(modes.MODES[mode], (h.frames, h.height, h.width, channels), "uint8",
                             **settings.geometry, opts=settings.options)
    except Exception:  # noqa: BLE001 - a file that cannot be read fails later, with its reason
        return
    if dispatch.worth_prewarming(plan, files=len(jobs)):
        dispatch.prewarm()


def run_mode(mode: str, kw: dict) -> None:
    """Pool every input with ``mode``; report; exit 0, 1 (some inputs failed) or 2 (usage)."""
    from . import batch, report
    from .errors import ImageError

    t_start = time.perf_counter()
    try:
        settings, jobs = prepare(mode, kw)
    except (ValueError, TypeError, ImageError) as exc:
        raise usage_error(exc) from None
    batch.configure_threads(kw["threads"], kw["backend"])
    _maybe_prewarm(mode, kw["backend"], settings, jobs)

    show_progress = not kw["quiet"] and stderr_is_terminal() and len(jobs) > 3
    console = _stderr_console() if stderr_is_terminal() else None  # None: plain text, no rich
    progress = None
    if show_progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), console=console, transient=True,
                            redirect_stdout=False, redirect_stderr=False)  # stdout is for data
        task = progress.add_task(mode, total=len(jobs))

    def on_record(rec) -> None:
        if rec.status == report.FAILED:
            # one line, whatever the file name holds (newlines, undecodable bytes)
            line = report.printable(f"{PROG}: {rec.input}: {rec.error}")
            if progress is not None:
                progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                print(line, file=sys.stderr, flush=True)
        if kw["json"]:
            d = rec.as_dict()
            if settings.vector:
                d["values"] = batch.finite(rec.values) if rec.values is not None else None
            print(report.json_line(d), flush=True)
        if progress is not None:
            progress.advance(task)

    def work(job, cancel):
        return batch.pool_file(job, settings, cancel)

    if progress is not None:
        progress.start()
    try:
        if kw.get("dask") is not None:
            try:
                from .distributed import execute_dask

                records, cancelled = execute_dask(jobs, settings, kw["dask"], on_record=on_record)
            except ValueError as exc:  # a bad address, or Dask not installed
                raise usage_error(exc) from None
            except OSError as exc:  # the scheduler cannot be reached
                print(f"{PROG}: --dask {kw['dask']}: {exc}", file=sys.stderr, flush=True)
                raise typer.Exit(1) from None
        else:
            records, cancelled = batch.execute(jobs, work, workers=kw["jobs"] or os.cpu_count() or 1,
                                               fail_fast=kw["fail_fast"],
                                               on_record=on_record)
    finally:
        if progress is not None:
            progress.stop()
    summary = report.summarize(records, time.perf_counter() - t_start, cancelled)
    for line in report.warning_lines(records):  # once per run, grouped (records hold them all)
        print(report.printable(f"{PROG} warning: {line}"), file=sys.stderr, flush=True)
    if kw["json"]:
        print(report.json_line(summary), flush=True)
    if settings.vector and not kw["json"] and kw["output"] != "-":
        _print_values(records, settings)
    elif not kw["quiet"] and not settings.vector:
        report.print_table(console, records, summary)
    if kw["report"] is not None:
        try:
            report.write_report(kw["report"], records, summary)
        except (OSError, ImageError) as exc:
            print(f"{PROG}: {kw['report']}: cannot write the report: {batch.reason(exc)}", file=sys.stderr)
            raise typer.Exit(1) from None
    if summary["failed"]:
        raise typer.Exit(1)


def _fmt(v) -> str:
    if v is None:
        return "nan"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _print_values(records, settings) -> None:
    """global / spp values as a table on standard output."""
    from rich.table import Table
    from rich.text import Text

    from .options import parse_levels

    ok = [r for r in records if r.values is not None]
    if not ok:
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("input", overflow="fold")
    if settings.mode == "global":
        width = max(len(r.output_shape and r.values[0] if r.output_shape and len(r.output_shape) == 2
                        else r.values) for r in ok)
        for c in range(width):
            table.add_column(f"c{c}", justify="right")
        for r in ok:
            rows = r.values if len(r.output_shape) == 2 else [r.values]
            for f, row in enumerate(rows):
                name = r.input if len(rows) == 1 else f"{r.input} [frame {f}]"
                table.add_row(Text(name), *[_fmt(v) for v in row])
    else:
        levels = parse_levels(settings.options.get("levels") or (1, 2, 4))
        for col in ("level", "channel", "values"):
            table.add_column(col, justify="right" if col != "values" else "left", overflow="fold")
        for r in ok:
            rows = r.values if len(r.output_shape) == 2 else [r.values]
            channels = len(rows[0]) // sum(level * level for level in levels)
            for f, row in enumerate(rows):
                name = r.input if len(rows) == 1 else f"{r.input} [frame {f}]"
                at = 0
                for level in levels:
                    for c in range(channels):
                        cells = row[at:at + level * level]
                        at += level * level
                        table.add_row(Text(name), str(level), str(c), " ".join(_fmt(v) for v in cells))
    _stdout_console().print(table)


for _name, _spec in modes.MODES.items():
    _register_mode(_name)


# --------------------------------------------------------------------------------------------
# the other commands


@app.command("info", rich_help_panel="Tools")
def info_command(
    inputs: Annotated[list[str], typer.Argument(metavar="FILE", show_default=False,
                                                help="image files, .npy arrays, folders, or -")],
    recursive: Annotated[bool, typer.Option("-r", "--recursive", help="descend into subfolders")] = False,
    json_: Annotated[bool, typer.Option("--json", help="one JSON object per file")] = False,
    max_pixels: Annotated[int | None, typer.Option("--max-pixels", min=0, metavar="N",
                                                   help="refuse larger images (0: no limit)")] = None,
) -> None:
    """Shape, dtype, mode, frames, format and file size of each file."""
    from . import batch
    from .inputs import find_inputs
    from .io.read import DEFAULT_MAX_PIXELS, load_image

    try:
        sources = find_inputs(inputs, recursive=recursive, on_warning=warn)
    except ValueError as exc:
        raise usage_error(exc) from None
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else (max_pixels or None)
    rows, failed = [], 0
    for s in sources:
        try:
            img = load_image(s.path, max_pixels=limit, pages=True)
        except Exception as exc:  # noqa: BLE001 - one line per unreadable file
            print(f"{PROG}: {s.path}: {batch.reason(exc)}", file=sys.stderr, flush=True)
            failed += 1
            continue
        row = {"input": s.path, "format": img.format, "mode": img.mode,
               "shape": [int(n) for n in img.array.shape], "dtype": str(img.array.dtype),
               "frames": int(img.frames), "alpha_channel": img.alpha_channel,
               "bits": _bits(img), "file_bytes": int(img.file_bytes)}
        if img.pages is not None:
            row["page_shapes"] = [[int(n) for n in p.shape] for p in img.pages]
        if json_:
            import json

            print(json.dumps(row), flush=True)
        rows.append(row)
    if rows and not json_:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("file", "format", "mode", "bits", "shape", "dtype", "frames", "bytes"):
            table.add_column(col, justify="right" if col in ("bits", "frames", "bytes") else "left",
                             overflow="fold")
        for r in rows:
            table.add_row(Text(r["input"]), r["format"], r["mode"], str(r["bits"]),
                          "x".join(map(str, r["shape"])), r["dtype"], str(r["frames"]),
                          f"{r['file_bytes']:,}")
        _stdout_console().print(table)
    if failed:
        raise typer.Exit(1)


def _bits(img) -> int:
    """Bits per sample as stored in the file (1 for bilevel images; a .npy's dtype size)."""
    if img.file_mode == "1":
        return 1
    return 1 if img.array.dtype.kind == "b" else int(img.array.dtype.itemsize * 8)


@app.command("modes", rich_help_panel="Tools")
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
        table.add_row(m.name, _plain(m.summary),
                      _plain(" ".join("--" + o.replace("_", "-") for o in m.options)), _plain(m.reference))
    _stdout_console().print(table)


def _plain(text: str):
    from rich.text import Text

    return Text(text)


def _version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "not installed"


@app.command("doctor", rich_help_panel="Tools")
def doctor_command(
    json_: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Versions, kernel cache folder, threading layer, threads and GPU status."""
    import platform

    from . import __version__

    facts: dict = {"poolcli": __version__, "python": platform.python_version(),
                   "platform": platform.platform()}
    for dist in ("numpy", "numba", "pillow", "typer", "rich", "numba-cuda"):
        facts[dist] = _version(dist)
    from . import kernels

    facts["cache_dir"] = kernels.cache_dir()
    facts["cache_writable"] = _writable(facts["cache_dir"])
    facts["cpu_count"] = os.cpu_count()
    try:
        import numpy as np

        from . import api

        t0 = time.perf_counter()
        api.run(np.zeros((4, 4), np.uint8), "max", backend="cpu")
        facts["cpu_kernel_ready_s"] = round(time.perf_counter() - t0, 3)
        import numba

        facts["threading_layer"] = numba.threading_layer()
        facts["threads"] = numba.get_num_threads()
    except Exception as exc:  # noqa: BLE001 - doctor reports, it does not fail
        facts["cpu_backend"] = f"unusable: {type(exc).__name__}: {exc}"
    try:
        from . import dispatch

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
        table.add_row(k, _plain(str(v)))
    _stdout_console().print(table)


def _writable(path: str) -> bool:
    probe = path
    while probe and not os.path.exists(probe):
        probe = os.path.dirname(probe)
    return bool(probe) and os.path.isdir(probe) and os.access(probe, os.W_OK)


#: the dtypes `poolcli warmup` compiles kernels for
WARMUP_DTYPES = ("uint8", "uint16", "int32", "float32", "float64")


@app.command("warmup", rich_help_panel="Tools")
def warmup_command(
    backend: Annotated[str, typer.Option("--backend", metavar="cpu|cuda",
                                         help="the backend to compile for")] = "cpu",
    json_: Annotated[bool, typer.Option("--json", help="one JSON object per dtype")] = False,
) -> None:
    """Compile (and cache) every kernel for uint8, uint16, int32, float32 and float64 now."""
    if backend not in ("cpu", "cuda"):
        raise usage_error(f"warmup compiles the cpu or cuda backend, got {backend!r}")
    import numpy as np

    from . import api, dispatch

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
        rows.append({"dtype": dt, "backend": backend, "seconds": round(time.perf_counter() - t0, 3)})
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
    _stdout_console().print(table)
    print(f"total {sum(r['seconds'] for r in rows):.2f} s; kernels cached for later runs", file=sys.stderr)


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


def _version_callback(value: bool) -> None:
    if value:
        from . import __version__

        print(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool | None, typer.Option("--version", "-V", callback=_version_callback,
                                                 is_eager=True, help="print the version and exit")] = None,
) -> None:
    """Apply the pooling operations of CNNs to images and arrays, fast.

    Example: poolcli max photo.png -k 2  (writes photo_max.png). Exit codes: 0 all done,
    1 some inputs failed, 2 usage error, 130 interrupted.
    """


from . import cli_tools  # noqa: E402,F401  (registers compare, pyramid, explain, learn, bench)

# --------------------------------------------------------------------------------------------
# the entry point


def main(argv: list[str] | None = None) -> None:
    """``poolcli``: run the app; no traceback ever reaches the user (POOLCLI_DEBUG=1 shows them)."""
    import warnings

    code = 0
    try:
        with warnings.catch_warnings():
            if not os.environ.get("POOLCLI_DEBUG") and not sys.warnoptions:
                # Pillow warns (two lines, a source path) about the corrupt files whose
                # failure poolcli already reports in one line
                warnings.simplefilter("ignore")
            rv = app(args=argv, prog_name=PROG, standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except KeyboardInterrupt:
        code = 130
    except _ClickException as exc:
        message = exc.format_message().strip()
        if message:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            print(f"{PROG}: error: {message.splitlines()[0]}{hint}", file=sys.stderr)
        code = exc.exit_code
    except typer.Abort:
        print(f"{PROG}: aborted", file=sys.stderr)
        code = 1
    except BrokenPipeError:
        _silence_stdout()
        code = 1
    except Exception as exc:  # noqa: BLE001 - no tracebacks for users
        if os.environ.get("POOLCLI_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} (POOLCLI_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        code = 1
    if argv is None and "numba" in sys.modules:
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown, which costs ~0.1 s once Numba is loaded (its
    threading layer and LLVM finalisers; measured: 0.43 s against 0.33 s for a process that
    only warms a kernel). Every output file is closed by now; the standard streams are
    flushed here."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _silence_stdout() -> None:
    """After a broken pipe, keep the interpreter from failing again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
