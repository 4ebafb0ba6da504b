"""The pooling commands, one per mode of the registry ``modes.MODES``: ``register(app)``.

Each command takes INPUT..., the window options its geometry takes, the mode options of
``MODES[name].options`` and the output and run options, all built from the option specs
``options.SPECS``. ``run_mode`` checks every option once (``prepare``), pools the inputs
through ``batch`` and reports (``report``). NumPy, Numba and Pillow load inside
``run_mode``, never at import.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import time
from typing import Annotated

import typer

from .. import modes
from ..limits import DEFAULT_MAX_PIXELS
from ..options import ModeOptions, Window, command_options, window_names
from . import checks, common
from .common import PROG, usage_error


def _inputs_param() -> inspect.Parameter:
    return inspect.Parameter(
        "inputs", inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[list[str], typer.Argument(
            metavar="INPUT", show_default=False,
            help="image files (png, jpeg, tiff, bmp, gif, webp, ppm/pgm, npy), folders, or - "
            "for standard input")],
    )


def mode_parameters(spec: modes.Mode) -> list[inspect.Parameter]:
    """INPUT..., the window options the mode takes, its mode options, then the common ones."""
    return [_inputs_param()] + [common.parameter(o, spec) for o in command_options(spec)]


def _command(name: str):
    spec = modes.MODES[name]

    def command(**kw) -> None:
        run_mode(name, kw)

    command.__name__ = f"{name}_command"
    command.__doc__ = f"{spec.summary[0].upper()}{spec.summary[1:]}.\n\n{spec.reference}"
    command.__signature__ = inspect.Signature(mode_parameters(spec))  # type: ignore[attr-defined]
    return command


def register() -> None:
    """Add one command per pooling mode to the commands (each built when first used)."""
    for name, spec in modes.MODES.items():
        panel = "Pooling (values)" if spec.returns == "vector" else "Pooling"
        summary = f"{spec.summary[0].upper()}{spec.summary[1:]}."
        common.add_command(name, panel, functools.partial(_command, name), summary)


# --------------------------------------------------------------------------------------------
# running a pooling mode


def parse(mode: str, kw: dict) -> tuple[Window, ModeOptions]:
    """kw of a generated command -> the typed window and mode options (checked once)."""
    spec = modes.MODES[mode]
    window = Window(**{k: kw[k] for k in window_names(spec)})
    return window, ModeOptions(mode, **{k: kw[k] for k in spec.options})


def prepare(mode: str, kw: dict):
    """Check every option once, before any file is read; -> (Settings, jobs).

    Raises ValueError/TypeError (usage errors, exit 2) with the library's messages.
    """
    from .. import batch, dispatch, inputs
    from ..errors import ImageError
    from ..formats import OUTPUT_EXTENSIONS
    from ..io.write import output_format

    spec = modes.MODES[mode]
    vector = spec.returns == "vector"
    window, opts = parse(mode, kw)
    if kw["backend"] not in dispatch.BACKENDS:
        raise ValueError(f"unknown backend {kw['backend']!r}; "
                         f"choose one of: {', '.join(dispatch.BACKENDS)}")
    if kw["json"] and kw["output"] == "-":
        raise ValueError("--json and -o - both write to standard output; "
                         "give -o FILE or drop --json")
    if kw["report"] is not None:
        from ..report import report_kind

        report_kind(kw["report"])
    fmt = inputs.parse_format(kw["format"], vector=vector)
    if kw.get("dask") is not None:
        from ..distributed import parse_address

        parse_address(kw["dask"])
    if opts.weights is not None:
        from ..learn import load_weights  # weighted only

        try:
            opts = opts.replace(weights=load_weights(opts.weights))
        except (OSError, ValueError, ImageError) as exc:
            raise ValueError(f"cannot read --weights {kw['weights']}: "
                             f"{batch.reason(exc)}") from None
    geometry, given = window.given(), opts.given()
    checked = checks.validate(spec, geometry, given)

    sources = inputs.find_inputs(kw["inputs"], recursive=kw["recursive"],
                                 follow_symlinks=kw["follow_symlinks"], on_warning=common.warn)
    out = kw["output"]
    if out is not None and out != "-" and fmt is None and not inputs.output_is_dir(out, sources):
        if vector:
            if not out.lower().endswith((".npy", ".json")):
                raise ValueError(f"-o {out}: global and spp write .npy or .json files")
        elif not out.lower().endswith(OUTPUT_EXTENSIONS):  # video, NIfTI: ``formats``
            output_format(out)  # ImageError for an unknown extension
    jobs = inputs.plan_jobs(
        sources, mode=mode, output=out,
        ext=inputs.format_extension(fmt, vector=vector) if fmt else None,
        overwrite=kw["overwrite"], skip_existing=kw["skip_existing"], vector=vector)
    if str(given.get("nodata", "")).strip().lower() == "nan":
        _check_nan_nodata(jobs)
    if given.get("return_indices"):
        _check_indices(given["return_indices"], jobs, overwrite=kw["overwrite"])
    settings = batch.Settings(
        mode=mode, geometry=geometry, options=given, backend=kw["backend"],
        max_pixels=kw["max_pixels"] if kw["max_pixels"] is not None else DEFAULT_MAX_PIXELS,
        format=fmt, png_compress_level=kw.get("png_compress_level"),
        jpeg_quality=kw.get("jpeg_quality"), scale=checks.dpi_scale(checked),
        vector=vector, threads=kw["threads"], codec=kw.get("codec"), crf=kw.get("crf"),
        strip=bool(kw.get("strip")))
    if settings.codec is not None and settings.codec not in ("h264", "ffv1", "vp9"):
        raise ValueError(f"unknown --codec {settings.codec!r}; choose h264 or ffv1 "
                         "(vp9: WebM's default)")
    if settings.max_pixels == 0:
        settings.max_pixels = None
    return settings, jobs


def _check_nan_nodata(jobs) -> None:
    """``--nodata nan`` on an integer input is a usage error (exit 2), told from the file's
    header before anything is pooled; a header that cannot be read fails later, per file."""
    import numpy as np

    from ..io import npyfile
    from ..io.read import header

    for j in jobs:
        if j.skip or j.error or j.source.path == "-":
            continue
        try:
            with open(j.source.path, "rb") as f:
                if f.read(len(npyfile.NPY_MAGIC)) == npyfile.NPY_MAGIC:
                    f.seek(0)
                    dt = np.dtype(npyfile.npy_header(f)[2])
                    dtype = str(dt) if dt.kind in "uib" else None
                else:
                    mode = header(j.source.path).mode
                    dtype = None if mode in ("F", "raw") else f"mode {mode}"
        except Exception:  # noqa: BLE001 - unreadable: that file fails with its reason
            continue
        if dtype is not None:
            raise ValueError(f"{j.source.path}: --nodata nan needs floating-point data; this "
                             f"file is {dtype} (give an integer nodata value)")


def _check_indices(target: str, jobs, *, overwrite: bool) -> None:
    """``--indices``: one input -> TARGET (a file, or ``<stem>_idx.npy`` in an existing
    folder); several inputs -> TARGET must be an existing folder (usage error otherwise).
    An index file that would replace an input, an output or another input's index file is a
    usage error; an existing one fails its input unless ``--overwrite``."""
    from .. import batch

    if target == "-":
        raise ValueError("--indices -: the indices go to a .npy file, not standard output")
    if len(jobs) > 1 and not os.path.isdir(target):
        raise ValueError(f"--indices {target}: with several inputs, give an existing folder "
                         f"(each input's indices go to <stem>{batch.INDICES_SUFFIX} inside it)")

    def real(p):
        return os.path.normcase(os.path.realpath(p))

    taken = {real(j.source.path) for j in jobs if j.source.path != "-"}
    taken |= {real(j.output) for j in jobs if j.output not in (None, "-")}
    seen: set[str] = set()
    for j in jobs:
        path = batch.indices_path(target, j.source.path)
        key = real(path)
        if key in taken:
            raise ValueError(f"--indices {path} would replace an input or an output")
        if key in seen:
            raise ValueError(f"--indices {target}: two inputs named {os.path.basename(path)} "
                             "would share one index file")
        seen.add(key)
        if not (j.skip or j.error) and os.path.exists(path) and not overwrite:
            j.error = f"indices file {path} exists (use --overwrite to replace it)"


def _maybe_prewarm(mode: str, backend: str, settings, jobs) -> None:
    """Start Numba in the background while the first image decodes, when the work will
    need it: always for --backend cpu; for auto when the cost model says so for the first
    input's size (read from its header). Never for the numpy or cuda backends."""
    from .. import dispatch

    if backend == "cpu":
        dispatch.prewarm()
        return
    if backend != "auto" or not jobs:
        return
    from .. import api
    from ..io.read import header

    try:
        first = next(j for j in jobs if not j.skip and not j.error)
        h = header(first.source.path)
        channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4, "I;16": 1, "I": 1,
                    "F": 1}.get(h.mode, 3)
        plan = api.make_plan(modes.MODES[mode], (h.frames, h.height, h.width, channels), "uint8",
                             **settings.geometry, opts=settings.options)
    except Exception:  # noqa: BLE001 - a file that cannot be read fails later, with its reason
        return
    if dispatch.worth_prewarming(plan, files=len(jobs)):
        dispatch.prewarm()


def _progress(console, mode: str, total: int):
    """A transient progress bar on standard error (standard output is for data)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=console, transient=True,
                        redirect_stdout=False, redirect_stderr=False)
    return progress, progress.add_task(mode, total=total)


#: batches above this many files show the summary and the failures, not the table
#: (``--verbose``: the table too; ``--json`` and ``--report`` always have every file)
TABLE_ROWS = 20


def _output_folders(jobs) -> list[str]:
    """The existing folders this run writes into."""
    seen: dict[str, None] = {}
    for j in jobs:
        if j.output not in (None, "-") and not j.error and not j.skip:
            folder = os.path.dirname(j.output) or "."
            if folder not in seen and os.path.isdir(folder):
                seen[folder] = None
    return list(seen)


def run_mode(mode: str, kw: dict) -> None:
    """Pool every input with ``mode``; report; exit 0, 1 (some inputs failed) or 2 (usage)."""
    from ..io import prefetch

    t_start = time.perf_counter()
    if len(kw["inputs"]) == 1 and kw.get("dask") is None:  # one file: decode it meanwhile
        limit = kw["max_pixels"]
        prefetch.start(kw["inputs"][0], DEFAULT_MAX_PIXELS if limit is None else limit)
    try:
        _run_mode(mode, kw, t_start)
    finally:
        prefetch.drop()


def _run_mode(mode: str, kw: dict, t_start: float) -> None:
    from .. import batch, inputs, report
    from ..errors import ImageError

    try:
        settings, jobs = prepare(mode, kw)
    except (ValueError, TypeError, ImageError) as exc:
        raise usage_error(exc) from None
    batch.configure_threads(kw["threads"], kw["backend"])
    if len(jobs) > 1:
        batch.keep_freed_memory()  # no page faults for every buffer of every file
    from ..io.fsio import remove_stale_temporaries

    for folder in _output_folders(jobs):  # what a killed run (kill -9) left
        remove_stale_temporaries(folder)
    _maybe_prewarm(mode, kw["backend"], settings, jobs)

    terminal = common.stderr_is_terminal()
    show_progress = not kw["quiet"] and terminal and len(jobs) > 3
    console = common.stderr_console() if terminal else None  # None: plain text, no rich
    progress = task = None
    if show_progress:
        progress, task = _progress(console, mode, len(jobs))

    # "the output exists" is said once for all (a re-run), with the fix
    exists = {j.source.path for j in jobs if j.exists}
    grouped = len(exists) > 1
    existing: list[str] = []

    def on_record(rec) -> None:
        if rec.status == report.FAILED and grouped and rec.input in exists:
            existing.append(rec.output)
        elif rec.status == report.FAILED:
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
                from ..distributed import execute_dask

                records, cancelled = execute_dask(jobs, settings, kw["dask"],
                                                  on_record=on_record)
            except ValueError as exc:  # a bad address, or Dask not installed
                raise usage_error(exc) from None
            except OSError as exc:  # the scheduler cannot be reached
                raise common.fail(f"--dask {kw['dask']}: {exc}") from None
        else:
            workers = kw["jobs"] or os.cpu_count() or 1

            def on_cap(n: int) -> None:
                line = (f"{PROG}: --jobs {workers}: only {n} worker thread(s) can start here "
                        f"(memory or thread limit); running {n} file(s) at a time")
                if progress is not None:
                    progress.console.print(line, markup=False, highlight=False)
                else:
                    print(line, file=sys.stderr, flush=True)

            records, cancelled = batch.execute(jobs, work, workers=workers,
                                               fail_fast=kw["fail_fast"], on_record=on_record,
                                               on_cap=on_cap)
    finally:
        if progress is not None:
            progress.stop()
    if existing:
        try:
            where = os.path.commonpath([os.path.dirname(o) or "." for o in existing])
        except ValueError:  # absolute and relative paths mixed
            where = ""
        where = f" in {where}/" if where and where != "." else ""
        print(report.printable(
            f"{PROG}: {len(existing)} outputs exist already{where} (use --overwrite to "
            "replace them or --skip-existing)"), file=sys.stderr, flush=True)
    summary = report.summarize(records, common.wall_seconds(t_start), cancelled)
    folders = sorted({inputs.sibling_folder(j.source.folder, mode) for j in jobs
                      if kw["output"] is None and j.source.folder is not None
                      and j.output is not None})
    if folders:
        summary["output_folders"] = folders
    for line in report.warning_lines(records):  # once per run, grouped (records hold them all)
        print(report.printable(f"{common.PROG} warning: {line}"), file=sys.stderr, flush=True)
    if kw["json"]:
        print(report.json_line(summary), flush=True)
    if settings.vector and not kw["json"] and kw["output"] != "-":
        report.print_values(common.stdout_console(), records, settings.mode,
                            settings.options.get("levels") or (1, 2, 4))
    elif not kw["quiet"] and not settings.vector:
        # above TABLE_ROWS files: the summary alone (the failures were said), unless --verbose
        full = kw["verbose"] or len(records) <= TABLE_ROWS
        if full:
            report.print_table(console, records, summary)
        elif console is not None:
            console.print(report.summary_line(summary))
        else:
            print(report.summary_line(summary, markup=False), file=sys.stderr, flush=True)
    if kw["report"] is not None:
        try:
            report.write_report(kw["report"], records, summary)
        except (OSError, ImageError) as exc:
            raise common.fail(f"{kw['report']}: cannot write the report: "
                              f"{batch.reason(exc)}") from None
    if summary["failed"]:
        raise typer.Exit(1)
