"""Inputs -> outputs plan, skip/overwrite rules, the ``--jobs`` pipeline, per-file errors.

Three steps, each usable alone:

1. ``find_inputs``: command-line inputs (files, folders, ``-``) -> ``Source`` list.
   Folders list their image files (``--recursive``: and their subfolders'); symbolic links
   inside folders are skipped unless ``follow_symlinks``, and a real directory is never
   visited twice, so a link loop cannot loop. Hidden entries (``.name``) are skipped.
   Paths named on the command line are always followed.
2. ``plan_jobs``: sources -> ``Job`` list (input, output, skip or planned failure), by the
   naming rules: ``-o FILE`` (one input), ``-o DIR`` (the tree under each folder input is
   mirrored under DIR, never escaping it), ``-o -`` (standard output), or next to the input
   as ``<stem>_<mode><ext>``. An input is never overwritten (real paths are compared, so
   also through symbolic and hard links, even with ``--overwrite``); an existing output
   fails that input unless ``--overwrite`` (replace) or ``--skip-existing`` (skip, counted
   as done); two inputs with one output: the later ones fail.
3. ``execute``: run ``pool_file`` (or ``vector_file``) over the jobs, ``workers`` files
   in flight on a thread pool (Pillow releases the GIL while decoding and encoding), the
   pooling itself one file at a time with Numba's threads. Per-file errors become failed
   records; Ctrl-C stops handing out files, lets the files being written finish (writes
   are atomic) and re-raises ``KeyboardInterrupt``.

Usage errors (nothing to do, ``-o`` that cannot work) raise ``UsageError`` (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import time
from dataclasses import dataclass, field

from .errors import PoolcliError, UsageError
from .report import FAILED, OK, SKIPPED, Record, fill_rates

#: file extensions a folder is searched for (any file named on the command line is tried)
IMAGE_EXTENSIONS = frozenset(
    (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp",
     ".ppm", ".pgm", ".pbm", ".pnm", ".npy")
)

#: ``--format`` value -> (Pillow format name, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "png": ("PNG", ".png"),
    "jpeg": ("JPEG", ".jpg"),
    "jpg": ("JPEG", ".jpg"),
    "tiff": ("TIFF", ".tif"),
    "tif": ("TIFF", ".tif"),
    "bmp": ("BMP", ".bmp"),
    "gif": ("GIF", ".gif"),
    "webp": ("WEBP", ".webp"),
    "ppm": ("PPM", ".ppm"),
    "pgm": ("PPM", ".pgm"),
    "pnm": ("PPM", ".pnm"),
    "npy": ("NPY", ".npy"),
}
#: formats of the vector modes' files (global, spp)
VECTOR_FORMATS = {"npy": ".npy", "json": ".json"}

STDIO = "-"


def parse_format(text: str | None, *, vector: bool = False) -> str | None:
    """``--format`` -> its canonical name (``png``, ``jpeg``, ..., ``npy``, ``json``)."""
    if text is None:
        return None
    key = text.strip().lower().lstrip(".")
    table = VECTOR_FORMATS if vector else FORMATS
    if key not in table:
        raise UsageError(f"unknown --format {text!r}; choose one of: {', '.join(table)}")
    return "jpeg" if key == "jpg" else "tiff" if key == "tif" else key


def format_extension(fmt: str, *, vector: bool = False) -> str:
    return VECTOR_FORMATS[fmt] if vector else FORMATS[fmt][1]


# --------------------------------------------------------------------------------------------
# 1. inputs


@dataclass(frozen=True)
class Source:
    """One input file: its path (as given or as found), and where it sits under its folder."""

    path: str
    #: path relative to the folder it was found in (its name for a file given directly)
    rel: str
    #: True when found by listing a folder (not named on the command line)
    listed: bool = False


def find_inputs(inputs: list[str], *, recursive: bool = False, follow_symlinks: bool = False) -> list[Source]:
    """Expand the command line's inputs; UsageError when there is nothing to do."""
    if not inputs:
        raise UsageError("no input given; name image files, folders, or - for standard input")
    sources: list[Source] = []
    empty_folders = []
    for given in inputs:
        if given == STDIO:
            sources.append(Source(STDIO, "stdin"))
        elif os.path.isdir(given):
            found = list(_walk(given, recursive, follow_symlinks))
            if not found:
                empty_folders.append(given)
            sources.extend(found)
        else:  # a file, or something missing: loading it reports why
            sources.append(Source(given, os.path.basename(given.rstrip("/\\")) or given))
    if not sources:
        where = ", ".join(empty_folders)
        hint = "" if recursive else " (add --recursive to search subfolders)"
        raise UsageError(f"no image files found in {where}{hint}")
    if STDIO in (s.path for s in sources) and len(sources) > 1:
        raise UsageError("- (standard input) must be the only input")
    return sources


def _walk(top: str, recursive: bool, follow_symlinks: bool):
    """Image files under ``top`` in sorted order; each real directory is listed at most once."""
    visited: set[tuple[int, int]] = set()

    def visit(folder: str, rel: str):
        try:
            st = os.stat(folder)
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        if key in visited:
            return  # a link back to a folder already listed
        visited.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            print(f"poolcli: {folder}: cannot list: {exc.strerror or exc}", file=sys.stderr)
            return
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_symlink() and not follow_symlinks:
                continue
            try:
                is_dir = e.is_dir()
                is_file = e.is_file()
            except OSError:
                continue
            child_rel = f"{rel}/{e.name}" if rel else e.name
            path = child_rel if top in (".", "./") else e.path
            if is_dir:
                subdirs.append((path, child_rel))
            elif is_file and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS:
                yield Source(path, child_rel, listed=True)
        if recursive:
            for path, child_rel in subdirs:
                yield from visit(path, child_rel)

    yield from visit(top, "")


# --------------------------------------------------------------------------------------------
# 2. outputs


@dataclass
class Job:
    source: Source
    #: the output path, ``-`` for standard output, None when nothing is written
    output: str | None
    skip: bool = False
    #: why this input fails before it is read (output exists, would overwrite an input, ...)
    error: str | None = None
    #: create the output's folder (outputs mirrored under -o DIR)
    make_dirs: bool = False


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _inode(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def output_is_dir(output: str, sources: list[Source]) -> bool:
    """Whether ``-o OUTPUT`` names a folder: it is one, ends with a slash, or there are many inputs."""
    return (os.path.isdir(output) or output.endswith(("/", os.sep))
            or len(sources) > 1 or any(s.listed for s in sources))


def plan_jobs(sources: list[Source], *, mode: str, output: str | None = None, ext: str | None = None,
              overwrite: bool = False, skip_existing: bool = False, vector: bool = False) -> list[Job]:
    """Decide every output path and which inputs fail or are skipped before any work.

    ``ext``: the output extension (from ``--format``); by default the input's for images,
    ``.npy`` for vectors. ``vector``: global/spp, which write nothing without ``-o``.
    """
    if overwrite and skip_existing:
        raise UsageError("give --overwrite or --skip-existing, not both")
    if output == STDIO:
        if len(sources) != 1:
            raise UsageError(f"-o - (standard output) takes one input, got {len(sources)}")
        return [Job(sources[0], STDIO)]

    default_ext = ext or (".npy" if vector else None)
    jobs: list[Job] = []
    if output is None:
        for s in sources:
            if vector:
                jobs.append(Job(s, None))
            elif s.path == STDIO:
                raise UsageError("standard input needs -o FILE, -o DIR/ or -o - for the result")
            else:
                stem, in_ext = os.path.splitext(s.path)
                jobs.append(Job(s, f"{stem}_{mode}{default_ext or in_ext}"))
    elif output_is_dir(output, sources):
        if os.path.exists(output) and not os.path.isdir(output):
            raise UsageError(f"-o {output} is a file, but {len(sources)} inputs need a folder")
        root = _real(output)
        for s in sources:
            rel = "stdin" if s.path == STDIO else s.rel
            stem, in_ext = os.path.splitext(rel)
            new_ext = default_ext or in_ext
            if s.path == STDIO and not new_ext:
                raise UsageError("standard input into a folder needs --format to name the file")
            out = os.path.join(output, (stem + new_ext) if new_ext != in_ext else rel)
            job = Job(s, out, make_dirs=True)
            if os.path.commonpath([root, _real(out)]) != root:
                job.error = f"output {out} would be outside {output} (a link leads out); not written"
            jobs.append(job)
    else:
        jobs.append(Job(sources[0], output))

    # a file that another input of this run writes is a previous run's output: not an input
    planned = {_real(j.output): i for i, j in enumerate(jobs) if j.output not in (None, STDIO)}
    jobs = [j for i, j in enumerate(jobs)
            if not (j.source.listed and planned.get(_real(j.source.path), i) != i)]

    input_reals = {_real(j.source.path) for j in jobs if j.source.path != STDIO}
    input_inodes = {i for j in jobs if j.source.path != STDIO and (i := _inode(j.source.path))}
    first_with: dict[str, str] = {}
    for j in jobs:
        if j.output in (None, STDIO) or j.error:
            continue
        real = _real(j.output)
        exists = os.path.lexists(j.output)
        if exists and skip_existing:
            j.skip = True
        elif real in input_reals or (exists and _inode(j.output) in input_inodes):
            j.error = f"output {j.output} is an input file; inputs are never overwritten"
        elif real in first_with:
            j.error = f"output {j.output} is also the output of {first_with[real]}; not overwritten"
        elif exists and not overwrite:
            j.error = f"output {j.output} exists (use --overwrite to replace it or --skip-existing)"
        first_with.setdefault(real, j.source.path)
    return jobs


# --------------------------------------------------------------------------------------------
# 3. the work


@dataclass
class Settings:
    """How to pool each file (the parsed command line)."""

    mode: str
    #: size/stride/padding/dilation/ceil_mode as given (absent: the API's defaults)
    geometry: dict = field(default_factory=dict)
    #: mode options, snake case, only those given
    options: dict = field(default_factory=dict)
    backend: str = "auto"
    max_pixels: int | None = None
    #: canonical --format name, or None (from the output's extension)
    format: str | None = None
    png_compress_level: int | None = None
    jpeg_quality: int | None = None
    #: DPI divisor (the stride); None: input size / output size
    scale: tuple[float, float] | None = None
    vector: bool = False
    #: --threads: Numba threads of the CPU kernels (None: all cores)
    threads: int | None = None


class Cancelled(Exception):
    """Ctrl-C arrived while this file was waiting for its next step."""


#: pooling runs one file at a time: Numba's own threads share the cores, and a parallel
#: kernel must not be launched from several threads at once (the workqueue layer forbids it)
_POOL_LOCK = threading.Lock()


def _pool(img, s: Settings):
    """api.run under the lock; -> (Result, compile seconds)."""
    from . import api

    with _POOL_LOCK, numba_threads(s.threads, s.backend):
        res = api.run(img.array, s.mode, backend=s.backend, alpha_channel=img.alpha_channel,
                      **s.geometry, **s.options)
    return res, res.compile_seconds


def _describe_plan(rec: Record, res) -> None:
    plan = res.plan
    rec.backend = res.backend
    rec.output_shape = tuple(int(n) for n in res.array.shape)
    seed = getattr(plan, "seed", None)
    rec.seed = int(seed) if seed is not None else None
    samples = getattr(plan, "samples", None)
    rec.samples = tuple(float(u) for u in samples) if samples is not None else None


def _scale(s: Settings, in_shape, out_shape) -> tuple[float, float]:
    if s.scale is not None:
        return s.scale
    # (H, W[, C]) or (D, H, W, C): the height and width axes
    h_axis = 1 if len(in_shape) == 4 else 0
    return (in_shape[h_axis] / out_shape[h_axis], in_shape[h_axis + 1] / out_shape[h_axis + 1])


def pool_file(job: Job, s: Settings, cancel: threading.Event | None = None) -> Record:
    """Load, pool and save one file; every expected error becomes a failed record."""
    from . import imageio

    rec = Record(input=job.source.path, output=job.output, mode=s.mode)
    if job.skip:
        rec.status = SKIPPED
        return rec
    if job.error:
        return _failed(rec, job.error)
    try:
        if _strip_sized(job, s):
            return _pool_strips(job, s, rec)
        t0 = time.perf_counter()
        img = imageio.load_image(job.source.path, max_pixels=s.max_pixels)
        rec.load_ms = (time.perf_counter() - t0) * 1e3
        rec.input_shape = tuple(int(n) for n in img.array.shape)
        rec.dtype = str(img.array.dtype)
        rec.input_bytes = int(img.file_bytes) if img.file_bytes else None
        _check(cancel)
        res, compile_s = _pool(img, s)
        rec.compile_ms = compile_s * 1e3
        rec.pool_ms = max(res.pool_seconds - compile_s, 0.0) * 1e3
        _describe_plan(rec, res)
        _check(cancel)
        t0 = time.perf_counter()
        if s.vector:
            rec.values = res.array.tolist()
            if job.output is None:
                return fill_rates(rec)
            rec.output_bytes = _write_vector(job, res.array, s.format)
        else:
            if job.make_dirs:
                os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
            fmt = FORMATS[s.format][0] if s.format else None
            if fmt is None and job.output == STDIO:
                fmt = img.format or "PNG"
            kw = {}
            if s.png_compress_level is not None:
                kw["png_compress_level"] = s.png_compress_level
            if s.jpeg_quality is not None:
                kw["jpeg_quality"] = s.jpeg_quality
            rec.output_bytes = int(imageio.save_image(
                job.output, res.array, img, format=fmt,
                scale=_scale(s, rec.input_shape, rec.output_shape), **kw))
        rec.save_ms = (time.perf_counter() - t0) * 1e3
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - every per-file error fails that file alone
        return _failed(rec, reason(exc, job.source.path))
    return fill_rates(rec)


#: .npy and TIFF inputs whose pixels take more than this are pooled strip by strip
#: (``strips.pool_strips``: memory near one strip plus the output) when the output is .npy/TIFF
STRIP_THRESHOLD_BYTES = 1 << 30
STRIP_SUFFIXES = (".npy", ".tif", ".tiff")


def _strip_sized(job: Job, s: Settings) -> bool:
    """Is this a huge .npy/TIFF whose result can be written strip by strip?"""
    from . import imageio

    src, out = job.source.path, job.output
    if s.vector or src == STDIO or out in (None, STDIO) or s.format not in (None, "npy", "tiff", "tif"):
        return False
    if not src.lower().endswith(STRIP_SUFFIXES) or not out.lower().endswith(STRIP_SUFFIXES):
        return False
    try:  # the file's size first: most files are far smaller, and need no second open
        if os.path.getsize(src) <= STRIP_THRESHOLD_BYTES // 4:
            return False
        h = imageio.header(src)
    except Exception:  # noqa: BLE001 - load_image will say what is wrong with it
        return False
    if s.max_pixels and h.width * h.height > s.max_pixels:
        return False  # refused by load_image, with the usual message
    return h.frames * h.width * h.height * 4 > STRIP_THRESHOLD_BYTES


def _pool_strips(job: Job, s: Settings, rec: Record) -> Record:
    """A huge .npy/TIFF: pooled strip by strip straight into the output file (atomic)."""
    import numpy as np

    from . import strips

    if job.make_dirs:
        os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
    t0 = time.perf_counter()
    with _POOL_LOCK, numba_threads(s.threads, s.backend):
        strips.pool_strips(job.source.path, s.mode, backend=s.backend, out=job.output, **s.geometry, **s.options)
    rec.pool_ms = (time.perf_counter() - t0) * 1e3
    rec.backend = s.backend
    rec.input_bytes = os.path.getsize(job.source.path)
    rec.output_bytes = os.path.getsize(job.output)
    if job.output.lower().endswith(".npy"):
        rec.output_shape = tuple(int(n) for n in np.load(job.output, mmap_mode="r").shape)
        rec.input_shape = tuple(int(n) for n in np.load(job.source.path, mmap_mode="r").shape)
        rec.dtype = str(np.load(job.source.path, mmap_mode="r").dtype)
    return fill_rates(rec)


def _write_vector(job: Job, values, fmt: str | None) -> int:
    """global/spp results: .npy (the array) or .json (nested lists; NaN/inf as null)."""
    from . import imageio

    fmt = fmt or ("json" if job.output.lower().endswith(".json") else "npy")
    if job.make_dirs:
        os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
    if fmt == "npy":
        return int(imageio.save_image(job.output, values, None, format="NPY"))
    import json

    data = (json.dumps(finite(values.tolist())) + "\n").encode()
    return int(imageio.atomic_write(job.output, lambda f: f.write(data)))


def finite(values):
    """Nested lists with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(values, list):
        return [finite(v) for v in values]
    if isinstance(values, float) and (values != values or values in (float("inf"), float("-inf"))):
        return None
    return values


def reason(exc: BaseException, path: str | None = None) -> str:
    """The one-line reason of a per-file error (``path``: the file the line is about)."""
    if isinstance(exc, OSError) and exc.strerror:
        named = exc.filename if exc.filename not in (None, STDIO, path) else None
        return f"{exc.strerror} ({named})" if named else exc.strerror
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    # poolcli's own errors, and the ValueError/TypeError of argument checks, say it in words;
    # Pillow's "cannot identify" too. Anything else is named by its class.
    if text and (isinstance(exc, (PoolcliError, ValueError, TypeError))
                 or type(exc).__name__ == "UnidentifiedImageError"):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failed(rec: Record, why: str) -> Record:
    rec.status = FAILED
    rec.error = why
    return rec


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled


def execute(jobs: list[Job], work, *, workers: int = 1, fail_fast: bool = False,
            on_record=None) -> tuple[list[Record], int]:
    """Run ``work(job, cancel)`` over the jobs; -> (records in job order, files not run).

    ``on_record(record)`` is called in the main thread in job order (a record waits for
    those before it), so reports and error lines read the same with any ``--jobs``. With ``fail_fast`` the first failure stops handing out files. Ctrl-C
    (KeyboardInterrupt) does the same, waits for the files being written, and re-raises.
    """
    cancel = threading.Event()
    results: list[Record | None] = [None] * len(jobs)
    emitted = 0  # records are handed to on_record in job order, whatever the completion order

    def emit(upto_gaps: bool = False) -> None:
        nonlocal emitted
        while emitted < len(jobs) and (results[emitted] is not None or upto_gaps):
            if results[emitted] is not None and on_record is not None:
                on_record(results[emitted])
            emitted += 1

    def finished(i: int, rec: Record) -> bool:
        results[i] = rec
        emit()
        return fail_fast and rec.status == FAILED

    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            if finished(i, work(job, None)):
                break
    else:
        try:
            _execute_threads(jobs, work, workers, cancel, finished)
        finally:
            emit(upto_gaps=True)  # fail-fast or Ctrl-C: what did finish is still reported
    done = [r for r in results if r is not None]
    return done, len(jobs) - len(done)


def _execute_threads(jobs, work, workers, cancel, finished) -> None:
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poolcli")
    pending: dict = {}
    queue = iter(enumerate(jobs))
    try:
        # keep at most ``workers`` files in flight (decoded images are big)
        for i, job in queue:
            pending[pool.submit(work, job, cancel)] = i
            if len(pending) >= workers:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            stop = False
            for fut in done:
                i = pending.pop(fut)
                try:
                    rec = fut.result()
                except Cancelled:
                    continue
                stop = finished(i, rec) or stop
            if stop:
                cancel.set()
                break
            for i, job in queue:
                pending[pool.submit(work, job, cancel)] = i
                if len(pending) >= workers:
                    break
        # fail-fast: let the files in flight finish (their records are kept)
        for fut in list(pending):
            try:
                rec = fut.result()
            except Cancelled:
                continue
            finished(pending.pop(fut), rec)
    except BaseException:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)  # files being written finish, atomically
        raise
    pool.shutdown(wait=True)


def configure_threads(threads: int | None, backend: str) -> None:
    """``--threads`` before any work: with ``auto`` and Numba not imported yet, set
    ``NUMBA_NUM_THREADS`` so that Numba is not started just to be configured (the NumPy
    backend may finish the job alone). ``numba_threads`` does the rest per call."""
    if threads is not None and backend == "auto" and "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)


@contextlib.contextmanager
def numba_threads(threads: int | None, backend: str):
    """Run the block with ``threads`` Numba threads, where the CPU backend may run.

    Numba's thread count is per launching thread, so it is set in the thread that pools
    (a ``--jobs`` worker) and restored afterwards; Numba is never imported just for this.
    """
    if threads is None or backend in ("numpy", "cuda") or (backend == "auto" and "numba" not in sys.modules):
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


@dataclass(frozen=True)
class DaskItem:
    """One file of a ``--dask`` batch: the same job and settings as a local run, so the
    worker runs the very same ``pool_file`` and writes the same bytes."""

    job: Job
    settings: Settings

    @property
    def input(self) -> str:
        return self.job.source.path

    @property
    def output(self) -> str | None:
        return self.job.output

    @property
    def mode(self) -> str:
        return self.settings.mode


def dask_task(item: DaskItem) -> dict:
    """The per-file task on a Dask worker: ``pool_file`` -> the record as a plain dict."""
    rec = pool_file(item.job, item.settings)
    d = rec.as_dict()
    d["values"] = rec.values
    return d


def execute_dask(jobs: list[Job], settings: Settings, address: str, *, on_record=None) -> tuple[list[Record], int]:
    """``execute`` on a Dask cluster (``--dask ADDRESS``): skipped and pre-failed jobs are
    settled here; the rest run as ``dask_task`` on the workers. Records in job order."""
    from .distributed import run_dask

    results: list[Record | None] = [None] * len(jobs)
    remote = []
    for i, job in enumerate(jobs):
        if job.skip or job.error or job.output == STDIO:
            if job.output == STDIO and not (job.skip or job.error):
                rec = _failed(Record(input=job.source.path, mode=settings.mode), "--dask cannot write to standard output")
            else:
                rec = pool_file(job, settings)
            results[i] = rec
            if on_record is not None:
                on_record(rec)
        else:
            if job.make_dirs:
                os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
            remote.append(i)

    def to_record(d: dict) -> Record:
        d = {k: v for k, v in d.items() if k in FIELD_NAMES}
        for key in ("input_shape", "output_shape", "samples"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return Record(**d)

    def received(d: dict) -> None:  # completion order: the progress bar and error lines
        if on_record is not None:
            on_record(to_record(d))

    dicts = run_dask([DaskItem(jobs[i], settings) for i in remote], address, task=dask_task,
                     on_result=received)
    for i, d in zip(remote, dicts):
        results[i] = to_record(d)
    return [r for r in results if r is not None], 0


FIELD_NAMES = frozenset(f for f in Record.__dataclass_fields__ if f != "values")


__all__ = [
    "FORMATS",
    "IMAGE_EXTENSIONS",
    "Job",
    "Settings",
    "Source",
    "UsageError",
    "configure_threads",
    "execute",
    "find_inputs",
    "plan_jobs",
    "pool_file",
]

# the states a record can have, re-exported for callers
STATUSES = (OK, SKIPPED, FAILED)
