"""Batches on Dask's distributed engine (the optional ``dask`` extra).

One task per file, or per chunk of small files. Every file runs ``batch.pool_file``, the
same pipeline as a local run (load, pool, save to a temporary file renamed into place),
and comes back as one plain dict per file with the report's field names
(``report.Record``). What travels to a worker is one type, ``batch.FileTask`` (the job
and its settings); ``Job`` below is the library's flat description of one file, turned
into a ``FileTask`` before anything is sent. Fault tolerance comes from that design
rather than from bookkeeping: a task has no side effect but its output file, written
atomically, and its output depends only on its job, so when a worker dies the scheduler
reruns its tasks elsewhere and the rerun writes the same bytes to the same name -- no
duplicate, no partial file. Exceptions inside a task become ``failed`` records; they
never end the batch.

Paths are opened by the workers: they must be reachable under the same names from every
worker (a shared file system), and workers need only ``poolcli`` installed.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import batch, inputs
from .errors import UsageError
from .io import fsio
from .io.read import DEFAULT_MAX_PIXELS
from .report import FAILED, Record

#: seconds to wait for a scheduler or for a local cluster's workers to come up
CONNECT_TIMEOUT = 30.0

#: ``Job.pool`` keys that are window geometry (the rest are the backend and mode options)
GEOMETRY_KEYS = ("size", "stride", "padding", "dilation", "ceil_mode")
#: ``Job.save`` keys: ``io.write.save_image``'s keyword arguments
SAVE_KEYS = ("format", "scale", "png_compress_level", "jpeg_quality")


@dataclass(frozen=True)
class Job:
    """One file to pool: where from, where to, and how."""

    input: str
    output: str
    mode: str
    #: keyword arguments of ``api.run``: size, stride, padding, dilation, ceil_mode, backend
    #: and the mode's options (seed, alpha, ...)
    pool: dict = field(default_factory=dict)
    #: keyword arguments of ``io.write.save_image``: format (a ``--format`` name), scale
    #: (the DPI divisor, default (1, 1)), png_compress_level, jpeg_quality
    save: dict = field(default_factory=dict)
    max_pixels: int | None = DEFAULT_MAX_PIXELS


def as_task(job) -> batch.FileTask:
    """A ``Job``, or a dict with its fields -> the ``batch.FileTask`` that a worker runs;
    a ``FileTask`` passes through. A ``save`` that cannot work fails that file (its
    record says why), as a bad file does."""
    if isinstance(job, batch.FileTask):
        return job
    if isinstance(job, dict):
        job = Job(**job)
    from . import modes

    spec = modes.MODES.get(job.mode)  # an unknown mode fails in api.run, with its message
    vector = spec is not None and spec.returns == "vector"
    pool = dict(job.pool)
    backend = pool.pop("backend", "auto")
    geometry = {k: pool.pop(k) for k in GEOMETRY_KEYS if k in pool}
    source = inputs.Source(job.input, os.path.basename(job.input) or job.input)
    planned = inputs.Job(source, job.output)
    settings = batch.Settings(mode=job.mode, geometry=geometry, options=pool, backend=backend,
                              max_pixels=job.max_pixels, scale=(1, 1), vector=vector)
    try:
        unknown = sorted(set(job.save) - set(SAVE_KEYS))
        if unknown:
            raise UsageError(f"unknown save option(s) {', '.join(unknown)}; "
                             f"choose from: {', '.join(SAVE_KEYS)}")
        settings.format = inputs.parse_format(job.save.get("format"), vector=vector)
        settings.scale = job.save.get("scale", settings.scale)
        settings.png_compress_level = job.save.get("png_compress_level")
        settings.jpeg_quality = job.save.get("jpeg_quality")
    except UsageError as exc:
        planned.error = str(exc)
    return batch.FileTask(planned, settings)


def process_task(task: batch.FileTask) -> dict:
    """The per-file task on a worker: ``batch.pool_file`` -> the record as a plain dict
    (``report.Record.as_dict``) with ``values`` (global/spp) added."""
    rec = batch.pool_file(task.job, task.settings)
    d = rec.as_dict()
    d["values"] = rec.values
    return d


def process_job(job) -> dict:
    """Load, pool, save one file (a ``Job``, its dict, or a ``batch.FileTask``); the record
    as a plain dict (``report.Record``'s fields; ``values`` for global/spp).

    Never raises for a bad file: the error becomes a ``failed`` record, whose ``output``
    is null (nothing was written). The output is written atomically, so running the same
    job twice leaves one identical file.
    """
    d = process_task(as_task(job))
    if d["values"] is None:
        del d["values"]
    if d["status"] == FAILED:
        d["output"] = None
    return d


def process_chunk(tasks: Sequence[batch.FileTask],
                  task: Callable[[batch.FileTask], dict] = process_job) -> list[dict]:
    """A Dask task: ``task`` on each file of a chunk, in order."""
    return [task(t) for t in tasks]


def parse_address(address: str) -> tuple[str, int | None]:
    """``"local"`` / ``"local:N"`` -> ("local", N or None); ``"tcp://host:port"`` (or any
    scheduler address Dask understands) -> (address, None)."""
    address = str(address).strip()
    if address == "local":
        return "local", None
    if address.startswith("local:"):
        n = address[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise UsageError(f"--dask local:N needs a number of workers >= 1, got {address!r}")
        return "local", int(n)
    scheme, sep, rest = address.partition("://")
    if (not address or (sep and (scheme not in SCHEMES or not rest))
            or (not sep and ":" not in address)):
        raise UsageError("--dask needs an address: local, local:N or tcp://HOST:PORT; "
                         f"got {address!r}")
    return address, None


#: the scheduler address schemes of Dask's comms
SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")


def _local_cluster(n_workers: int | None):
    from distributed import LocalCluster

    n = n_workers or os.cpu_count() or 1
    return LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=40,  # logging.ERROR: no worker chatter on stderr
        env={"NUMBA_NUM_THREADS": "1"},  # one kernel thread per worker process: no oversubscription
    )


def _failed(task: batch.FileTask, error: str) -> dict:
    """The record of a file whose task never came back."""
    return {"input": task.job.source.path, "output": None, "status": FAILED, "error": error,
            "mode": task.settings.mode}


#: ``io.fsio.temporary_name``: ``.<name, maybe shortened>.<host>-<pid>-<random>.poolcli-tmp``
_FSIO_TMP = re.compile(r"^\.(.*)\.([0-9a-f]{8})-([0-9]+)-[0-9a-f]{8}"
                       + re.escape(fsio.TMP_SUFFIX) + "$", re.DOTALL)
#: ``io._formats.replace_atomically`` (tempfile's 8 random characters, the suffix kept after
#: it so libraries see their extension): ``.<name>.<random>.poolcli-tmp<suffix>``, a file or
#: a folder
_ATOMIC_TMP = re.compile(r"^\.(.*)\.[A-Za-z0-9_]{8}" + re.escape(fsio.TMP_SUFFIX) + r"(\..*)?$",
                         re.DOTALL)


def is_temporary_of(entry: str, name: str) -> bool:
    """Whether the file name ``entry`` is a poolcli temporary of an output named ``name``,
    as ``io.fsio`` (its name shortened to fit 255 bytes when long) or
    ``io._formats.replace_atomically`` name them."""
    m = _FSIO_TMP.match(entry)
    if m is not None:
        head = m.group(1)
        if head == name:
            return True
        # shortened by temporary_name: a prefix of the name, in a name of (nearly) 255 bytes
        return bool(head) and name.startswith(head) and \
            len(os.fsencode(entry)) > fsio.NAME_MAX - 4
    m = _ATOMIC_TMP.match(entry)
    return m is not None and m.group(1) == name


def _remove_stale_temporaries(tasks: Sequence[batch.FileTask]) -> list[str]:
    """Temporary files (and folders) left by a worker killed while writing (best effort,
    client side, once the batch is over); -> the paths removed. A temporary of another live
    process of this host (a second run writing the same output) is left alone."""
    removed: list[str] = []
    by_folder: dict[Path, set[str]] = {}
    for task in tasks:
        if task.job.output in (None, inputs.STDIO):
            continue
        out = Path(task.job.output)
        by_folder.setdefault(out.parent, set()).add(out.name)
    me = fsio.host_tag()
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder if str(folder) else "."))
        except OSError:
            continue
        for e in entries:
            if not e.name.startswith(".") or fsio.TMP_SUFFIX not in e.name:
                continue
            if not any(is_temporary_of(e.name, n) for n in names):
                continue
            m = _FSIO_TMP.match(e.name)
            if m is not None and m.group(2) == me:
                pid = int(m.group(3))
                if pid != os.getpid() and fsio._alive(pid):
                    continue
            try:
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path)
                else:
                    os.unlink(e.path)
                removed.append(e.path)
            except OSError:
                pass
    return removed


def run_dask(jobs: Sequence, address: str = "local", *,
             on_result: Callable[[dict], None] | None = None, chunk_size: int | None = None,
             task: Callable[[batch.FileTask], dict] = process_job,
             timeout: float | None = None, retries: int = 2) -> list[dict]:
    """Run ``jobs`` (``Job``, dicts with its fields, or ``batch.FileTask``) on a Dask
    cluster; one record per job, in the order of ``jobs``.

    ``address``: ``"local"`` / ``"local:N"`` (a ``LocalCluster`` of N single-threaded worker
    processes on 127.0.0.1, closed at the end) or a scheduler address (``tcp://host:port``).
    ``on_result(record)`` is called in this thread as each file completes (progress).
    ``chunk_size``: files per task (default: about 8 tasks per worker, at most 64 files a
    task). ``task``: the per-file function of a ``batch.FileTask`` (module level,
    importable on the workers: ``process_job``, or ``process_task`` for the records exactly
    as ``pool_file`` makes them).
    ``timeout``: seconds for the whole batch; what is left then is cancelled and reported
    as failed. ``retries``: reruns of a task that raised (worker deaths are rescheduled by
    Dask itself).
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--dask needs Dask's distributed engine; "
                         "pip install 'poolcli[dask]'") from None

    jobs = [as_task(j) for j in jobs]
    records: list[dict | None] = [None] * len(jobs)
    if not jobs:
        return []
    where, n_workers = parse_address(address)
    cluster = _local_cluster(n_workers) if where == "local" else None
    try:
        client = Client(cluster if cluster is not None else where, timeout=CONNECT_TIMEOUT,
                        set_as_default=False)
        try:
            nworkers = max(1, len(client.scheduler_info().get("workers", {})) or (n_workers or 1))
            if chunk_size is None:
                chunk_size = max(1, min(64, math.ceil(len(jobs) / (8 * nworkers))))
            starts = list(range(0, len(jobs), chunk_size))
            futures = client.map(process_chunk, [jobs[s : s + chunk_size] for s in starts],
                                 task=task, retries=retries, pure=False)
            start_of = {f.key: s for f, s in zip(futures, starts)}
            pending = set(f.key for f in futures)
            try:
                for fut in as_completed(futures, loop=client.loop, timeout=timeout):
                    s = start_of[fut.key]
                    chunk = jobs[s : s + chunk_size]
                    try:
                        recs = fut.result()
                    except Exception as exc:  # KilledWorker after too many deaths, cancelled, ...
                        why = f"task failed on the cluster: {exc or type(exc).__name__}"
                        recs = [_failed(j, why) for j in chunk]
                    pending.discard(fut.key)
                    for i, rec in enumerate(recs):
                        records[s + i] = rec
                        if on_result is not None:
                            on_result(rec)
            except TimeoutError:
                pass
            for fut in futures:
                if fut.key in pending:
                    fut.cancel()
                    s = start_of[fut.key]
                    for i, j in enumerate(jobs[s : s + chunk_size]):
                        why = f"not finished within the batch timeout of {timeout:g} s"
                        records[s + i] = _failed(j, why)
                        if on_result is not None:
                            on_result(records[s + i])
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
    _remove_stale_temporaries(jobs)
    return [r for r in records if r is not None]



def execute_dask(jobs: list[inputs.Job], settings: batch.Settings, address: str, *,
                 on_record: Callable[[Record], None] | None = None) -> tuple[list[Record], int]:
    """``batch.execute`` on a Dask cluster (``--dask ADDRESS``): skipped and pre-failed jobs
    are settled here; the rest run as ``process_task`` on the workers. Records in job
    order; ``on_record`` hears of each as it completes."""
    results: list[Record | None] = [None] * len(jobs)
    remote = []
    for i, job in enumerate(jobs):
        if job.skip or job.error or job.output == inputs.STDIO:
            if job.output == inputs.STDIO and not (job.skip or job.error):
                rec = Record(input=job.source.path, mode=settings.mode, status=FAILED,
                             error="--dask cannot write to standard output")
            else:
                rec = batch.pool_file(job, settings)
            results[i] = rec
            if on_record is not None:
                on_record(rec)
        else:
            if job.make_dirs:
                os.makedirs(os.path.dirname(job.output) or ".", exist_ok=True)
            remote.append(i)

    def received(d: dict) -> None:  # completion order: the progress bar and error lines
        if on_record is not None:
            on_record(_to_record(d))

    dicts = run_dask([batch.FileTask(jobs[i], settings) for i in remote], address,
                     task=process_task, on_result=received)
    for i, d in zip(remote, dicts):
        results[i] = _to_record(d)
    return [r for r in results if r is not None], 0


_FIELD_NAMES = frozenset(Record.__dataclass_fields__)


def _to_record(d: dict) -> Record:
    """A record dict back from a worker -> the ``Record`` it was made from."""
    d = {k: v for k, v in d.items() if k in _FIELD_NAMES}
    for key in ("input_shape", "output_shape", "samples"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    return Record(**d)


__all__ = ["Job", "as_task", "execute_dask", "parse_address", "process_chunk", "process_job",
           "process_task", "run_dask"]
