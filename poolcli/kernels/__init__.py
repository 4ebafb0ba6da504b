"""Fast backends. Importing this package points Numba's cache at a writable folder.

Numba freezes its configuration when it is first imported, so this runs before
``import numba`` in ``cpu`` and ``cuda``: if ``NUMBA_CACHE_DIR`` is not set and
the package folder is not writable (a system-wide install), the cache goes to
the user's cache folder instead; either way in a sub-folder named after a checksum
of the kernel sources (``_sources_key``). A missing or broken cache costs compile
time, never a crash; where no folder at all is writable (a read-only install with a
read-only home), ``can_cache`` says so and the backends compile in memory each run.
"""

import contextlib
import os
import sys


def _user_cache_dir() -> str:
    if sys.platform == "win32":  # pragma: no cover
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    elif sys.platform == "darwin":  # pragma: no cover
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "poolcli", "numba")


def _sources_key() -> str:
    """A checksum of the kernel sources. Numba invalidates a cached kernel when *its* file
    changes, not when a function it inlines from another file does (``_ops.py``) nor when
    a global it freezes does (the op codes, declared in ``../opcodes.py``), so the default
    cache folder is named after all of them: any edit gets a fresh folder."""
    import zlib

    here = os.path.dirname(os.path.abspath(__file__))
    crc = 0
    for name in ("_ops.py", "cpu.py", "cuda.py", "select_fast.py", "window_fast.py",
                 os.path.join("..", "opcodes.py"),
                 os.path.join("..", "plan.py")):
        try:
            with open(os.path.join(here, name), "rb") as f:
                crc = zlib.crc32(f.read(), crc)
        except OSError:
            pass
    return f"{crc:08x}"


def cache_dir() -> str:
    """Where compiled kernels are cached (what `poolcli doctor` shows): NUMBA_CACHE_DIR when
    set, else a folder per version of the kernel sources, beside them when that is writable,
    else in the user's cache folder."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    here = os.path.dirname(os.path.abspath(__file__))
    writable = os.access(here, os.W_OK)
    base = os.path.join(here, "__pycache__", "numba") if writable else _user_cache_dir()
    return os.path.join(base, _sources_key())


def configure_cache() -> str:
    path = cache_dir()
    if "NUMBA_CACHE_DIR" not in os.environ:
        try:
            os.makedirs(path, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = path
        except OSError:
            pass  # no writable cache anywhere: Numba compiles in memory each run
    return path


#: where Numba caches the backends' kernels (set by ``can_cache`` once a backend is imported):
#: a folder, or None when no folder is writable and kernels compile in memory each run
cache_path: str | None = None


def can_cache() -> bool:
    """Whether Numba finds a writable folder to cache this folder's kernels in, by its own
    search (NUMBA_CACHE_DIR, beside the sources, the user's cache folder; each depends only
    on the source file's folder, so this function stands for every kernel here). Backends
    decorate their kernels with ``cache=can_cache()``: ``cache=True`` where nothing is
    writable fails at import ("cannot cache function ...: no locator available"); without
    a cache the kernels compile in memory each run instead (``poolcli doctor`` says so)."""
    global cache_path
    from numba.core.caching import FunctionCache

    try:
        cache_path = FunctionCache(can_cache).cache_path
    except (RuntimeError, OSError):
        cache_path = None
        return False
    return True


@contextlib.contextmanager
def compile_lock(name: str, signature):
    """Held while one process compiles one specialisation (``name`` and ``signature``), so
    that processes starting together on a cold cache (``xargs -P``, a batch in several
    shells, the test suite's workers) compile it once: the others wait, then load it from
    the cache. One lock file per specialisation in the cache folder (different kernels
    still compile side by side); the OS drops the lock of a process that dies. Without a
    cache folder, or where ``fcntl`` or the file is unavailable, no lock (each compiles)."""
    f = None
    if cache_path is not None:
        try:
            import fcntl
            import hashlib

            digest = hashlib.sha1(f"{name}{signature}".encode()).hexdigest()[:16]
            f = open(os.path.join(cache_path, f"compiling-{digest}.lock"), "a")  # noqa: SIM115
            fcntl.flock(f, fcntl.LOCK_EX)
        except (ImportError, OSError):
            if f is not None:
                f.close()
            f = None
    try:
        yield
    finally:
        if f is not None:
            f.close()  # closing releases the flock


configure_cache()
