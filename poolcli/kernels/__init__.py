"""Fast backends. Importing this package points Numba's cache at a writable folder.

Numba freezes its configuration when it is first imported, so this runs before
``import numba`` in ``cpu`` and ``cuda``: if ``NUMBA_CACHE_DIR`` is not set and
the package folder is not writable (a system-wide install), the cache goes to
the user's cache folder instead. A missing or broken cache costs compile time,
never a crash.
"""

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


def cache_dir() -> str:
    """Where compiled kernels are cached (what `poolcli doctor` shows)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    here = os.path.dirname(os.path.abspath(__file__))
    if os.access(here, os.W_OK):
        return os.path.join(here, "__pycache__")
    return _user_cache_dir()


def configure_cache() -> str:
    path = cache_dir()
    if "NUMBA_CACHE_DIR" not in os.environ and not path.startswith(os.path.dirname(os.path.abspath(__file__))):
        try:
            os.makedirs(path, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = path
        except OSError:
            pass  # no writable cache anywhere: Numba compiles in memory each run
    return path


configure_cache()
