"""A read-only installation works (issue 12, item 9): the package folder, the home and the
cache folder all read-only, NUMBA_CACHE_DIR unset. Numba then has nowhere to cache
(``cache=True`` alone fails at import: "no locator available"), so the kernels compile in
memory each run and `poolcli doctor` says so.

Read-only for real: as an ordinary user, ``chmod -R a-w``; as root (who ignores permission
bits), a read-only bind mount, or else the subprocess runs as ``nobody``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import poolcli

POOL = ("import poolcli, numpy as np; "
        "print(poolcli.pool(np.arange(16.).reshape(4,4),'max',backend='cpu').tolist())")
PROBE = ("import os, sys\n"
         "for d in sys.argv[1:]:\n"
         "    try:\n"
         "        open(os.path.join(d, 'probe'), 'w').close()\n"
         "        print('writable', d)\n"
         "    except OSError:\n"
         "        pass\n")


def _mount_ro(d: Path) -> bool:
    if not shutil.which("mount"):
        return False
    ok = (subprocess.run(["mount", "--bind", str(d), str(d)], capture_output=True).returncode == 0
          and subprocess.run(["mount", "-o", "remount,bind,ro", str(d)],
                             capture_output=True).returncode == 0)
    if not ok:
        subprocess.run(["umount", "-l", str(d)], check=False, capture_output=True)
    return ok


@contextlib.contextmanager
def read_only_install():
    """Yield (run, site, home): ``run(args)`` runs a command that sees a read-only copy of
    the package under ``site`` and a read-only ``home``."""
    root = Path(tempfile.mkdtemp(prefix="poolcli-ro-"))
    root.chmod(0o755)  # traversable by `nobody`
    site, home = root / "site", root / "home"
    site.mkdir()
    home.mkdir()
    shutil.copytree(Path(poolcli.__file__).parent, site / "poolcli",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), PYTHONPATH=str(site),
               NO_COLOR="1", COLUMNS="200")
    prefix: list[str] = []
    mounted = False
    for p in [*site.rglob("*"), site, home]:
        p.chmod(p.stat().st_mode & ~0o222)
    if os.geteuid() == 0:
        mounted = _mount_ro(root)
        if not mounted:
            if not shutil.which("setpriv"):
                shutil.rmtree(root, ignore_errors=True)
                pytest.skip("root without a read-only bind mount or setpriv: cannot make a "
                            "folder read-only for this process")
            prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

    def run(args, timeout=300):
        return subprocess.run(prefix + list(args), env=env, capture_output=True, text=True,
                              timeout=timeout, cwd=str(home))

    try:
        # the premise: nothing there is writable for the process that runs poolcli
        probe = run([sys.executable, "-c", PROBE, str(site / "poolcli"),
                     str(site / "poolcli" / "kernels"), str(home)])
        assert probe.returncode == 0, probe.stderr
        assert "writable" not in probe.stdout, probe.stdout
        yield run, site, home
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], check=False)
        for p in [site, home, *site.rglob("*")]:
            with contextlib.suppress(OSError):
                p.chmod(p.stat().st_mode | 0o200)
        shutil.rmtree(root, ignore_errors=True)


def test_read_only_install_pools_and_doctor_says_so():
    with read_only_install() as (run, site, home):
        r = run([sys.executable, "-c", POOL])
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "[[5.0, 7.0], [13.0, 15.0]]"
        assert "Traceback" not in r.stderr
        assert not list(home.rglob("*")) and not list(site.rglob("*.nbi"))

        r = run([sys.executable, "-m", "poolcli", "doctor"])
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("none writable (kernels compile in memory each run)") == 1, r.stdout
        assert "unusable" not in r.stdout

        r = run([sys.executable, "-m", "poolcli", "doctor", "--json"])
        assert r.returncode == 0, r.stderr
        import json

        facts = json.loads(r.stdout)
        assert facts["cache_writable"] is False
        assert "cpu_backend" not in facts and facts["threads"] >= 1


def test_writable_cache_is_reported_where_numba_puts_it(tmp_path):
    """The other side: with a writable NUMBA_CACHE_DIR, doctor names a folder under it and
    the kernels land there."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=os.pathsep.join(
        [str(Path(poolcli.__file__).parent.parent), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-m", "poolcli", "doctor", "--json"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    import json

    facts = json.loads(r.stdout)
    assert facts["cache_writable"] is True
    assert Path(facts["cache_dir"]).is_relative_to(tmp_path / "cache")
    assert list((tmp_path / "cache").rglob("*.nbi"))


def test_every_kernel_follows_the_cache_switch():
    """A kernel declared with ``cache=True`` fails at import on a read-only install ("no
    locator available"): every one takes ``cache=_CACHE`` (``kernels.can_cache()``)."""
    import re
    from pathlib import Path

    kernels = Path(__file__).resolve().parent.parent / "poolcli" / "kernels"
    for path in kernels.glob("*.py"):
        for line in path.read_text().splitlines():
            if re.match(r"\s*@(njit|numba\.njit|jit|cuda\.jit)\(", line) and "cache=" in line:
                assert "cache=_CACHE" in line, f"{path.name}: {line.strip()}"


COMPILE_ONCE = """
import sys, numpy as np
from poolcli import api
from poolcli.kernels import cpu
api.run(np.ones((8, 9, 2), np.float64), "max", size=(2, 3), stride=(2, 3), backend="cpu")
print(sum(cpu.extreme_fixed.stats.cache_misses.values()), sum(cpu.extreme_fixed.stats.cache_hits.values()))
"""


def test_processes_starting_together_compile_a_kernel_once(tmp_path):
    """Three processes on a cold cache need the same specialisation: one compiles it, the
    others wait for its lock (``kernels.compile_lock``) and load it from the cache."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=os.pathsep.join(
        [str(Path(poolcli.__file__).parent.parent), os.environ.get("PYTHONPATH", "")]))
    procs = [subprocess.Popen([sys.executable, "-c", COMPILE_ONCE], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        counts.append(tuple(map(int, out.split())))
    assert sum(m for m, _ in counts) == 1 and sum(h for _, h in counts) == 2, counts
