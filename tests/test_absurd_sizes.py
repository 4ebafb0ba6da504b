"""Absurd sizes are usage errors at once (issue 12, item 8): integer options that do not fit
int64, and outputs (or window tables) that cannot be allocated, raise ValueError before any
allocation; the CLI exits 2 with one line.

Every case runs in a subprocess limited to 2 GiB of address space (RLIMIT_AS), so a check
that came after a big allocation would show as a MemoryError (or a kill), not a pass."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from poolcli import limits

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 2 * 2**30

#: (keyword arguments of poolcli.pool on np.zeros((2, 2, 2), np.float32), words in the error)
API_CASES = [
    (dict(mode="adaptive", output_size=(1, 2**62 - 1), op="max"),
     "output size 4611686018427387903 along width is too large"),
    (dict(mode="max", size=(2**64, 1), backend="cpu"), "size 18446744073709551616 is too large"),
    (dict(mode="max", size=(2**64, 1), backend="numpy"), "size 18446744073709551616 is too large"),
    (dict(mode="max", dilation=(10**30, 1)), "dilation " + str(10**30) + " is too large"),
    (dict(mode="max", dilation=(10**30, 1), backend="cpu"), "is too large: at most 2**63 - 1"),
    (dict(mode="max", stride=2**63), "stride 9223372036854775808 is too large"),
    (dict(mode="max", padding=(2**63, 0)), "padding 9223372036854775808 is too large"),
    (dict(mode="spp", levels=(1, 2**63)), "levels 9223372036854775808 is too large"),
    (dict(mode="spp", levels=(1, 2**40)), "output size 1099511627776 along height"),
    (dict(mode="fractional", output_size=(1, 2**40), seed=1), "along width is too large"),
    (dict(mode="adaptive", output_size=(2**30, 2**30)), "is too large"),
    # the window's cell count is the kernels' int64 divisor (count_include_pad)
    (dict(mode="avg", size=(2**62, 2**62), padding=(2**61, 2**61), stride=1,
          count_include_pad=True), "cells, too many"),
    # tables fine (40000 entries an axis), the output 12 GiB: over the 2 GiB limit
    (dict(mode="adaptive", output_size=(40000, 40000), op="avg"),
     "output shape 1x40000x40000x2 is too large"),
]

CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, resource.RLIM_INFINITY))
import numpy as np
import poolcli
out = []
for kw, _ in json.loads(sys.argv[1]):
    kw = {{k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}}
    try:
        poolcli.pool(np.zeros((2, 2, 2), np.float32), **kw)
        out.append(["no error", ""])
    except BaseException as exc:
        out.append([type(exc).__name__, str(exc)])
out.append(["maxrss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss])
print(json.dumps(out))
"""


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(NO_COLOR="1", COLUMNS="200")
    return env


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, resource.RLIM_INFINITY))


def test_api_absurd_sizes_are_value_errors_before_allocating():
    cases = [[{k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}, words]
             for kw, words in API_CASES]
    r = subprocess.run([sys.executable, "-c", CHILD.format(limit=LIMIT), json.dumps(cases)],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    for (kw, words), (kind, msg) in zip(API_CASES, got):
        assert kind == "ValueError", (kw, kind, msg)
        assert words in msg, (kw, msg)
        assert "\n" not in msg
    assert got[-1][0] == "maxrss_kib" and got[-1][1] < 512 * 1024  # nothing big was made


def test_api_errors_in_process_too():
    """The same ValueError without any limit (no MemoryError or OverflowError instead)."""
    import poolcli

    x = np.zeros((2, 2, 2), np.float32)
    for kw, words in API_CASES[:5]:
        with pytest.raises(ValueError) as info:
            poolcli.pool(x, **kw)
        assert words in str(info.value)


def test_the_largest_int64_is_still_an_option():
    """2**63 - 1 parses (the bound is int64's, not smaller); what it gives is checked later:
    a window past the image is the usual 'output would be empty'."""
    import poolcli
    from poolcli.options import parse_ints

    assert parse_ints(f"{2**63 - 1}x1", "size") == (2**63 - 1, 1)
    with pytest.raises(ValueError, match="output would be empty"):
        poolcli.pool(np.zeros((4, 4), np.float32), "max", size=(2**63 - 1, 1))
    # a window far larger than the image still pools when padding makes it fit
    y = poolcli.pool(np.arange(16.0).reshape(4, 4), "max", size=(2**63 - 1, 1),
                     padding=(2**62 - 1, 0), stride=1, backend="numpy")
    assert (y == np.arange(12.0, 16.0)).all()


def test_limits_bounds():
    with pytest.raises(ValueError, match=r"output shape 1x16777216x16777216x1 is too large: "
                                         r"it would need 256\.0 TiB, more than what a process"):
        limits.check_output((1, 2**24, 2**24, 1), 1)
    limits.check_output((1, 4096, 4096, 3), 1)
    limits.check_output((1, 4096, 4096, 3), 8, in_memory=True)
    assert 2**20 < limits.memory_bytes() <= limits.ADDRESS_SPACE
    assert limits.human(3 * 2**30) == "3.0 GiB" and limits.human(5) == "5 bytes"


@pytest.mark.parametrize("args, words", [
    (["adaptive", "--output-size", f"1x{2**62 - 1}", "--op", "max"], "along width is too large"),
    (["max", "-k", f"{2**64}x1", "--backend", "cpu"], f"size {2**64} is too large"),
    (["max", "-k", f"{2**64}x1", "--backend", "numpy"], f"size {2**64} is too large"),
    (["max", "-d", f"{10**30}x1"], f"dilation {10**30} is too large"),
    (["spp", "--levels", f"1,{2**40}"], "along height is too large"),
    (["fractional", "--output-size", f"1x{2**40}", "--seed", "1"], "along width is too large"),
])
def test_cli_absurd_sizes_exit_2_one_line(tmp_path, args, words):
    src = tmp_path / "a.npy"
    np.save(src, np.zeros((2, 2, 2), np.float32))
    cmd = [sys.executable, "-m", "poolcli", args[0], str(src), *args[1:], "-o",
           str(tmp_path / "out.npy")]
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300,
                       preexec_fn=_limited)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out.npy").exists()
