"""The one per-file pipeline (load -> pool -> save) and the ``--jobs`` runner.

- ``pool_file(job, settings)``: one ``inputs.Job`` -> one ``report.Record``. The only place
  that loads, pools and saves a file: the local runner and the Dask workers
  (``distributed``) both call it. Every per-file error becomes a failed record (the
  one-line ``reason``); huge ``.npy``/TIFF files go strip by strip (``strips``).
- ``execute``: run ``pool_file`` (or any ``work(job, cancel)``) over the jobs, ``workers``
  files in flight on a thread pool (Pillow releases the GIL while decoding and encoding),
  the pooling itself one file at a time with Numba's threads. Ctrl-C stops handing out
  files, lets the files being written finish (writes are atomic) and re-raises
  ``KeyboardInterrupt``.
- ``FileTask``: one job with its settings, the unit a Dask worker receives (picklable).
- ``configure_threads`` / ``numba_threads``: ``--threads``.

Which files and which outputs (``find_inputs``, ``plan_jobs``) is ``inputs``' job.
The library never prints: what a caller should hear is in the records.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field

from .errors import PoolcliError
from .inputs import FORMATS, STDIO, Job
from .report import FAILED, OK, SKIPPED, Record, fill_rates


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
    #: video output: --codec (None: H.264, VP9 in WebM) and --crf (None: 18)
    codec: str | None = None
    crf: int | None = None
    #: --strip: write no metadata (ICC, DPI, EXIF, XMP, text chunks)
    strip: bool = False


class Cancelled(Exception):
    """Ctrl-C arrived while this file was waiting for its next step."""


#: pooling runs one file at a time: Numba's own threads share the cores, and a parallel
#: kernel must not be launched from several threads at once (the workqueue layer forbids it)
_POOL_LOCK = threading.Lock()


def _pool(img, s: Settings):
    """api.run under the lock; -> Result (its ``compile_seconds``: what the backend spent
    compiling or loading kernels, apart from ``pool_seconds``)."""
    from . import api

    with _POOL_LOCK, numba_threads(s.threads, s.backend):
        return api.run(img.array, s.mode, backend=s.backend, alpha_channel=img.alpha_channel,
                       **s.geometry, **s.options)


def _run(array, s: Settings, mode: str | None = None, **window):
    """api.run of a format's array (``formats``) under the lock: ``s``'s mode, window and
    options, ``window``/``mode`` overriding them (a video's temporal chunks)."""
    from . import api

    options = s.options if mode in (None, s.mode) else {}  # another mode: its defaults
    kwargs = {**s.geometry, **options, **window}  # the caller's keywords win (nodata too)
    with _POOL_LOCK, numba_threads(s.threads, s.backend):
        return api.run(array, mode or s.mode, backend=s.backend, **kwargs)


#: the file name ``--indices DIR`` gives each input inside DIR
INDICES_SUFFIX = "_idx.npy"


def indices_path(target: str | None, source: str) -> str | None:
    """Where ``--indices TARGET`` writes the index array of ``source``: TARGET itself, or
    ``<stem>_idx.npy`` inside it when TARGET is an existing folder (several inputs need a
    folder: ``cli.pooling.prepare`` checks that)."""
    if not target:
        return None
    if os.path.isdir(target):
        stem = "stdin" if source == STDIO else os.path.splitext(os.path.basename(source))[0]
        return os.path.join(target, stem + INDICES_SUFFIX)
    return target


def _write_indices(path: str, indices) -> None:
    """The int64 index array as .npy, atomically (a masked array: its data, -1 where
    masked)."""
    import numpy as np

    from .io.fsio import atomic_write

    idx = np.ma.filled(indices, -1) if np.ma.isMaskedArray(indices) else indices
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    atomic_write(path, lambda f: np.save(f, idx, allow_pickle=False))


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
    from . import formats
    from .io.read import load_image
    from .io.write import save_image

    rec = Record(input=job.source.path, output=job.output, mode=s.mode)
    if job.skip:
        rec.status = SKIPPED
        return rec
    if job.error:
        return _failed(rec, job.error)
    idx_path = indices_path(s.options.get("return_indices"), job.source.path)
    try:
        kind = formats.kind(job.source.path) if job.source.path != STDIO else None
        if idx_path is not None and kind is not None:
            return _failed(rec, f"--indices works on images and .npy arrays, not on {kind} "
                           "files")
        if _strip_sized(job, s):
            if idx_path is not None:
                return _failed(rec, "too large to pool whole in memory, as --indices needs")
            return _pool_strips(job, s, rec)
        if kind is not None:  # video, NIfTI, TIFF stack, GeoTIFF: metadata kept and updated
            _check(cancel)
            formats.pool_format(kind, job, s, rec, lambda a, **kw: _run(a, s, **kw))
            return fill_rates(rec)
        t0 = time.perf_counter()
        img = load_image(job.source.path, max_pixels=s.max_pixels, pages=not s.vector)
        rec.load_ms = (time.perf_counter() - t0) * 1e3
        if img.pages is not None:
            if idx_path is not None:
                return _failed(rec, "--indices needs TIFF pages of one size")
            return _pool_pages(job, s, rec, img, cancel)
        rec.input_shape = tuple(int(n) for n in img.array.shape)
        rec.dtype = str(img.array.dtype)
        rec.input_bytes = int(img.file_bytes) if img.file_bytes else None
        _check(cancel)
        res = _pool(img, s)
        compile_s = res.compile_seconds or 0.0
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
            rec.output_bytes = int(save_image(
                job.output, res.array, img, format=fmt,
                scale=_scale(s, rec.input_shape, rec.output_shape), strip=s.strip,
                warnings=rec.warnings, **kw))
        if idx_path is not None and res.indices is not None:
            _write_indices(idx_path, res.indices)
            rec.indices = idx_path
        rec.save_ms = (time.perf_counter() - t0) * 1e3
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - every per-file error fails that file alone
        return _failed(rec, reason(exc, job.source.path))
    return fill_rates(rec)


def _pool_pages(job: Job, s: Settings, rec: Record, img, cancel) -> Record:
    """A TIFF whose pages differ in size: each page pooled alone (a two-number window) and
    written as a multi-page TIFF. A window across pages is an error."""
    from dataclasses import replace

    from .io.write import save_image
    from .options import parse_ints

    shapes = ", ".join("x".join(str(n) for n in p.shape[:2][::-1]) for p in img.pages)
    for key in ("size", "stride", "dilation"):
        value = s.geometry.get(key)
        if value is not None and not isinstance(value, (int, float)) and \
                len(parse_ints(value, key)) == 3:
            why = (f"a window across pages ({key} {value}) needs pages of one size; "
                           f"this TIFF's pages are {shapes} (WxH): use a two-number window")
            return _failed(rec, why)
    rec.input_shape = tuple(int(n) for n in img.pages[0].shape)
    rec.dtype = str(img.pages[0].dtype)
    rec.input_bytes = int(img.file_bytes) if img.file_bytes else None
    outs, pages, compile_ms, pool_ms = [], [], 0.0, 0.0
    for page in img.pages:
        _check(cancel)
        res = _pool(replace(img, array=page, pages=None, frames=1), s)
        compile_s = res.compile_seconds or 0.0
        compile_ms += compile_s * 1e3
        pool_ms += max(res.pool_seconds - compile_s, 0.0) * 1e3
        outs.append(res.array)
        pages.append((tuple(int(n) for n in page.shape), tuple(int(n) for n in res.array.shape)))
    _describe_plan(rec, res)
    rec.output_shape = pages[0][1]
    rec.pages = pages
    rec.compile_ms, rec.pool_ms = compile_ms, pool_ms
    _check(cancel)
    t0 = time.perf_counter()
    if job.make_dirs:
        os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
    fmt = FORMATS[s.format][0] if s.format else ("TIFF" if job.output == STDIO else None)
    rec.output_bytes = int(save_image(job.output, outs, img, format=fmt,
                                      scale=_scale(s, rec.input_shape, rec.output_shape),
                                      strip=s.strip, warnings=rec.warnings))
    rec.save_ms = (time.perf_counter() - t0) * 1e3
    return fill_rates(rec)


#: .npy and TIFF inputs whose decoded pixels, times this, do not fit in the memory
#: available are pooled strip by strip (``strips.pool_strips``: memory near one strip plus
#: the output) when the output is .npy/TIFF: the whole array, the pooled result and the
#: work copies of a float mode must fit otherwise
STRIP_FACTOR = 3
STRIP_SUFFIXES = (".npy", ".tif", ".tiff")
#: bytes per pixel of the modes ``header`` reports for TIFF files
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 3, "PA": 4, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4,
                "I;16": 2, "I": 4, "F": 4, "YCbCr": 3, "LAB": 3}


def memory_available() -> int | None:
    """Bytes this process may still allocate: the smaller of the system's available memory
    (``MemAvailable`` in /proc/meminfo) and what the address-space limit (``ulimit -v``)
    leaves; None when neither is known."""
    known = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    known.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    limit, used = _address_space()
    if limit is not None and used is not None:
        known.append(max(limit - used, 0))
    return min(known) if known else None


def decoded_bytes(path: str) -> int | None:
    """The bytes a .npy or TIFF takes once decoded (frames x H x W x C x itemsize), from its
    header; None when the header cannot tell."""
    from .io.read import header

    if path.lower().endswith(".npy"):
        from .io.npyfile import NPY_MAGIC, npy_header

        with open(path, "rb") as f:
            if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
                return None
            f.seek(0)
            shape, _fortran, dtype = npy_header(f)
        n = 1
        for v in shape:
            n *= int(v)
        return n * dtype.itemsize
    h = header(path)
    per = _PIXEL_BYTES.get(h.mode)
    return None if per is None else h.frames * h.width * h.height * per


def _strip_sized(job: Job, s: Settings) -> bool:
    """Is this a .npy/TIFF too big to decode whole here, whose result can be written strip
    by strip? Decided from its decoded size against the memory available."""
    from .io.read import header

    src, out = job.source.path, job.output
    if s.vector or src == STDIO or out in (None, STDIO):
        return False
    if s.format not in (None, "npy", "tiff", "tif"):
        return False
    if not src.lower().endswith(STRIP_SUFFIXES) or not out.lower().endswith(STRIP_SUFFIXES):
        return False
    available = memory_available()
    if available is None:
        return False
    try:  # the file's size first: most files are far smaller, and need no second open
        # (a TIFF compresses, a .npy does not)
        ratio = 1 if src.lower().endswith(".npy") else 64
        if os.path.getsize(src) * ratio * STRIP_FACTOR < available:
            return False
        need = decoded_bytes(src)
        if need is None:
            return False
        if s.max_pixels:
            h = header(src)
            if h.width * h.height > s.max_pixels:
                return False  # refused by load_image, with the usual message
    except Exception:  # noqa: BLE001 - load_image will say what is wrong with it
        return False
    return need * STRIP_FACTOR > available


def _pool_strips(job: Job, s: Settings, rec: Record) -> Record:
    """A huge .npy/TIFF: pooled strip by strip straight into the output file (atomic)."""
    import numpy as np

    from . import strips

    if job.make_dirs:
        os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
    t0 = time.perf_counter()
    # the strip: an eighth of the memory available (at most the default, at least 16 MiB)
    available = memory_available() or strips.DEFAULT_BUDGET * 8
    budget = max(16 << 20, min(strips.DEFAULT_BUDGET, available // 8))
    with _POOL_LOCK, numba_threads(s.threads, s.backend):
        strips.pool_strips(job.source.path, s.mode, backend=s.backend, out=job.output,
                           budget_bytes=budget, **s.geometry, **s.options)
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
    from .io.fsio import atomic_write
    from .io.write import save_image

    fmt = fmt or ("json" if job.output.lower().endswith(".json") else "npy")
    if job.make_dirs:
        os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
    if fmt == "npy":
        return int(save_image(job.output, values, None, format="NPY"))
    import json

    data = (json.dumps(finite(values.tolist())) + "\n").encode()
    return int(atomic_write(job.output, lambda f: f.write(data)))


def finite(values):
    """Nested lists with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(values, list):
        return [finite(v) for v in values]
    if isinstance(values, float) and (values != values
                                      or values in (float("inf"), float("-inf"))):
        return None
    return values


def reason(exc: BaseException, path: str | None = None) -> str:
    """The one-line reason of a per-file error (``path``: the file the line is about)."""
    if isinstance(exc, OSError) and exc.strerror:
        named = exc.filename if exc.filename not in (None, STDIO, path) else None
        return f"{exc.strerror} ({named})" if named else exc.strerror
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    if path is not None:  # the caller names the file: never twice ("a.tif: a.tif: ...")
        for name in (str(path), os.path.basename(str(path))):
            if name and text.startswith(name + ": "):
                text = text[len(name) + 2:]
                break
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
            on_record=None, on_cap=None) -> tuple[list[Record], int]:
    """Run ``work(job, cancel)`` over the jobs; -> (records in job order, files not run).

    ``on_record(record)`` is called in the main thread in job order (a record waits for
    those before it), so reports and error lines read the same with any ``--jobs``. With
    ``fail_fast`` the first failure stops handing out files. Ctrl-C (KeyboardInterrupt) does
    the same, waits for the files being written, and re-raises.
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

    asked = workers = min(workers, len(jobs))
    workers = thread_room(workers)
    if workers < asked and on_cap is not None:
        on_cap(workers)
        on_cap = None  # said once
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            if finished(i, work(job, None)):
                break
    else:
        try:
            _execute_threads(jobs, work, workers, cancel, finished, on_cap, fail_fast)
        finally:
            emit(upto_gaps=True)  # fail-fast or Ctrl-C: what did finish is still reported
    done = [r for r in results if r is not None]
    return done, len(jobs) - len(done)


#: what a worker thread needs of the address space: its stack and a glibc malloc arena
_ARENA_BYTES = 64 << 20
#: address space kept free for Numba/LLVM, the decoded images and the results
_RESERVE_BYTES = 512 << 20


def _address_space() -> tuple[int | None, int | None]:
    """(RLIMIT_AS soft limit or None, this process's current virtual size or None)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None, None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None, None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return soft, int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return soft, None


def thread_room(asked: int) -> int:
    """How many worker threads (at most ``asked``, at least 1) fit under an address-space
    limit (``ulimit -v``): each takes a stack and a malloc arena, and the work needs room.
    No limit: ``asked``."""
    limit, used = _address_space()
    if limit is None or used is None or asked <= 1:
        return asked
    stack = threading.stack_size() or 8 << 20
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
        if soft != resource.RLIM_INFINITY and not threading.stack_size():
            stack = soft
    except (ImportError, ValueError, OSError):  # pragma: no cover
        pass
    room = (limit - used - _RESERVE_BYTES) // (stack + _ARENA_BYTES)
    return int(max(1, min(asked, room)))


_DONE = object()


def _execute_threads(jobs, work, workers, cancel, finished, on_cap=None,
                     fail_fast: bool = False) -> None:
    """``workers`` threads take the next job as they finish one (so at most ``workers``
    files are in flight). Threads are started one by one: when the system refuses one
    ("can't start new thread"), the run goes on with half of those that started
    (``on_cap(n)`` hears it), never fails for it."""
    import queue

    results: queue.Queue = queue.Queue()
    feed = iter(enumerate(jobs))
    feed_lock = threading.Lock()
    allowed = [workers]

    def worker(n: int) -> None:
        try:
            while not cancel.is_set() and n < allowed[0]:
                with feed_lock:
                    item = next(feed, None)
                if item is None:
                    break
                i, job = item
                try:
                    rec = work(job, cancel)
                    if fail_fast and rec.status == FAILED:
                        cancel.set()  # here, before this thread takes another file
                    results.put((i, rec))
                except Cancelled:
                    continue
                except BaseException as exc:  # a bug: re-raised in the main thread
                    results.put((i, exc))
                    break
        finally:
            results.put(_DONE)

    threads: list[threading.Thread] = []
    for n in range(workers):
        t = threading.Thread(target=worker, args=(n,), name=f"poolcli_{n}", daemon=True)
        try:
            t.start()
        except RuntimeError:  # can't start new thread: too little memory or a thread limit
            allowed[0] = max(1, len(threads) // 2)  # leave room for the work itself
            break
        threads.append(t)
    if len(threads) < workers and on_cap is not None:
        on_cap(min(allowed[0], max(len(threads), 1)))
    if not threads:  # not even one: this thread does the work
        for i, job in feed:
            if finished(i, work(job, None)):
                break
        return
    live = len(threads)
    try:
        while live:
            try:
                item = results.get(timeout=0.25)  # a timeout: Ctrl-C is heard
            except queue.Empty:
                continue
            if item is _DONE:
                live -= 1
                continue
            i, rec = item
            if isinstance(rec, BaseException):
                raise rec
            if finished(i, rec):
                cancel.set()  # fail-fast: no new files; those in flight finish and are kept
    except BaseException:
        cancel.set()
        for t in threads:  # files being written finish (atomically)
            t.join()
        raise


#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_malloc_tuned = False


def keep_freed_memory() -> bool:
    """Let the C allocator keep what one file's pipeline frees for the next file (glibc only;
    the CLI calls it before a batch of several files). -> whether it applied.

    By default glibc serves each image-sized buffer (Pillow's decoded picture, the array out
    of it, the pooled result, the encoder's) from fresh pages and gives them back to the
    system when the file is done: ~1,600 page faults per 1024x768 JPEG, about a third of the
    CPU time of a folder run (issue 17: 21 ms -> 14 ms per file; decode alone 9.4 -> 6.6 ms).
    Buffers up to 32 MiB now come from the heap, and up to 256 MiB of free heap is kept
    rather than trimmed. The peak memory is unchanged: what is kept is what the last file
    used."""
    global _malloc_tuned
    if _malloc_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1 and mallopt(_M_TRIM_THRESHOLD, 256 << 20) == 1
    _malloc_tuned = ok
    return ok


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
    if (threads is None or backend in ("numpy", "cuda")
            or (backend == "auto" and "numba" not in sys.modules)):
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
class FileTask:
    """One file of a batch with the settings to pool it: what a Dask worker receives
    (``distributed``), so the worker runs the very same ``pool_file`` and writes the same
    bytes as a local run. Plain dataclasses all the way down: picklable."""

    job: Job
    settings: Settings


__all__ = [
    "FileTask",
    "Settings",
    "configure_threads",
    "execute",
    "finite",
    "numba_threads",
    "pool_file",
    "reason",
]

# the states a record can have, re-exported for callers
STATUSES = (OK, SKIPPED, FAILED)
