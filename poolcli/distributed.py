"""Batches on Dask's distributed engine (the optional ``dask`` extra).

One task per file, or per chunk of small files. A task loads, pools (``api.run``) and
saves (``io.write.save_image``: a temporary file renamed into place) and returns one plain
dict per file with the report's field names (``report.Record``). Fault tolerance comes
from that design rather than from bookkeeping: a task has no side effect but its output
file, written atomically, and its output depends only on its job, so when a worker dies
the scheduler reruns its tasks elsewhere and the rerun writes the same bytes to the same
name -- no duplicate, no partial file. Exceptions inside a task become ``failed``
records; they never end the batch.

Paths are opened by the workers: they must be reachable under the same names from every
worker (a shared file system), and workers need only ``poolcli`` installed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .io.read import DEFAULT_MAX_PIXELS

#: seconds to wait for a scheduler or for a local cluster's workers to come up
CONNECT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Job:
    """One file to pool: where from, where to, and how."""

    input: str
    output: str
    mode: str
    #: keyword arguments of ``api.run``: size, stride, padding, dilation, ceil_mode, backend
    #: and the mode's options (seed, alpha, ...)
    pool: dict = field(default_factory=dict)
    #: keyword arguments of ``io.write.save_image``: format, scale, png_compress_level, jpeg_quality
    save: dict = field(default_factory=dict)
    max_pixels: int | None = DEFAULT_MAX_PIXELS


def as_job(job) -> Job:
    """A dict with a ``Job``'s fields -> a ``Job``; a ``Job`` (or any object with ``input``,
    ``output`` and ``mode`` attributes that ``task`` understands, such as the CLI's
    ``batch.DaskItem``) passes through."""
    return Job(**job) if isinstance(job, dict) else job


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def process_job(job) -> dict:
    """Load, pool, save one file; the record as a plain dict (``report.Record``'s fields).

    Never raises for a bad file: the error becomes a ``failed`` record. The output is
    written atomically, so running the same job twice leaves one identical file.
    """
    from . import api, modes
    from .io.read import load_image
    from .io.write import save_image

    job = as_job(job)
    rec: dict = {"input": job.input, "output": None, "status": "ok", "error": None, "mode": job.mode}
    try:
        t0 = time.perf_counter()
        img = load_image(job.input, max_pixels=job.max_pixels)
        t1 = time.perf_counter()
        res = api.run(img.array, job.mode, alpha_channel=img.alpha_channel, **job.pool)
        t2 = time.perf_counter()
        out_bytes = save_image(job.output, res.array, like=img, **job.save)
        t3 = time.perf_counter()
    except Exception as exc:  # a bad file, a bad option, a full disk: one failed record
        rec["status"] = "failed"
        rec["error"] = str(exc) or type(exc).__name__
        return rec
    rec.update(
        output=job.output, backend=res.backend, input_shape=list(img.array.shape),
        output_shape=list(res.array.shape), dtype=str(res.array.dtype), input_bytes=img.file_bytes,
        output_bytes=out_bytes, load_ms=_ms(t1 - t0), pool_ms=_ms(res.pool_seconds),
        compile_ms=_ms(res.compile_seconds), save_ms=_ms(t3 - t2), seed=res.plan.seed,
        samples=list(res.plan.samples) if res.plan.samples is not None else None,
    )
    if modes.get(job.mode).returns == "vector":
        rec["values"] = res.array.tolist()
    return rec


def process_chunk(jobs: Sequence, task: Callable[[object], dict] = process_job) -> list[dict]:
    """A Dask task: ``task`` on each job of a chunk, in order."""
    return [task(job) for job in jobs]


def parse_address(address: str) -> tuple[str, int | None]:
    """``"local"`` / ``"local:N"`` -> ("local", N or None); ``"tcp://host:port"`` (or any
    scheduler address Dask understands) -> (address, None)."""
    address = str(address).strip()
    if address == "local":
        return "local", None
    if address.startswith("local:"):
        n = address[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"--dask local:N needs a number of workers >= 1, got {address!r}")
        return "local", int(n)
    scheme, sep, rest = address.partition("://")
    if not address or (sep and (scheme not in SCHEMES or not rest)) or (not sep and ":" not in address):
        raise ValueError(f"--dask needs an address: local, local:N or tcp://HOST:PORT; got {address!r}")
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


def _failed(job, error: str) -> dict:
    job = as_job(job)
    return {"input": job.input, "output": None, "status": "failed", "error": error, "mode": job.mode}


def _remove_stale_temporaries(jobs: Sequence[Job]) -> None:
    """Temporary files left by a worker killed while writing (best effort, client side)."""
    for job in jobs:
        out = Path(job.output)
        try:
            for tmp in out.parent.glob(f".{out.name}.*.poolcli-tmp"):
                tmp.unlink()
        except OSError:
            pass


def run_dask(jobs: Sequence, address: str = "local", *, on_result: Callable[[dict], None] | None = None,
             chunk_size: int | None = None, task: Callable[[object], dict] = process_job,
             timeout: float | None = None, retries: int = 2) -> list[dict]:
    """Run ``jobs`` (``Job`` or dicts with its fields) on a Dask cluster; one record per job,
    in the order of ``jobs``.

    ``address``: ``"local"`` / ``"local:N"`` (a ``LocalCluster`` of N single-threaded worker
    processes on 127.0.0.1, closed at the end) or a scheduler address (``tcp://host:port``).
    ``on_result(record)`` is called in this thread as each file completes (progress).
    ``chunk_size``: files per task (default: about 8 tasks per worker, at most 64 files a
    task). ``task``: the per-file function (module level, importable on the workers).
    ``timeout``: seconds for the whole batch; what is left then is cancelled and reported
    as failed. ``retries``: reruns of a task that raised (worker deaths are rescheduled by
    Dask itself).
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ValueError("--dask needs Dask's distributed engine; pip install 'poolcli[dask]'") from None

    jobs = [as_job(j) for j in jobs]
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
                        recs = [_failed(j, f"task failed on the cluster: {exc or type(exc).__name__}")
                                for j in chunk]
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
                        records[s + i] = _failed(j, f"not finished within the batch timeout of {timeout:g} s")
                        if on_result is not None:
                            on_result(records[s + i])
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
    _remove_stale_temporaries(jobs)
    return [r for r in records if r is not None]


__all__ = ["Job", "parse_address", "process_chunk", "process_job", "run_dask"]
