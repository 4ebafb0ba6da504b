"""Fuzzing the command line: mutated real images x random option combinations.

Each example takes a file from sample_images/, mutates it (bit flips, truncation, header
edits, a duplicated or deleted chunk), puts it in a fresh folder beside an intact copy,
and runs ``poolcli.cli.main`` in process (the real entry point: its exception -> exit-code
mapping is what users get) with options drawn from valid *and* invalid values. Checked:

- the exit code is 0, 1 or 2 (never a crash, never 130);
- no traceback and no "internal error" on standard error or output;
- no temporary file left, every output that exists is whole (Pillow ``verify()``);
- the input files are unchanged (hashed before and after), also when ``-o`` is their folder.

Examples: ``POOLCLI_FUZZ_EXAMPLES`` (default 200, what CI runs); for a long run::

    POOLCLI_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/test_fuzz.py -q

Most examples use ``--backend numpy``; a few use ``cpu`` with one fixed geometry, so that
Numba compiles (and caches) only one kernel specialisation.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from poolcli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
EXAMPLES = int(os.environ.get("POOLCLI_FUZZ_EXAMPLES", "200"))

#: small samples of every format and mode (the big photos would only make it slower)
FILES = ["camera_la.png", "coffee.bmp", "chelsea_anim.gif", "coffee_pages.tif", "chelsea.webp",
         "camera.pgm", "chelsea_crop.npy", "coffee_cmyk.jpg", "camera_float.tif", "camera_int32.tif",
         "coffee.ppm", "coffee_palette.png", "camera_bilevel.png", "coffee_anim.webp"]
DATA = {name: (SAMPLES / name).read_bytes() for name in FILES}


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(FILES))
    data = bytearray(DATA[name])
    for _ in range(draw(st.integers(0, 3))):
        n = len(data)
        if n < 2:
            break
        kind = draw(st.sampled_from(["flip", "truncate", "header", "duplicate", "delete"]))
        at = draw(st.integers(0, n - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "header":  # the first 64 bytes hold sizes, modes and offsets
            at = draw(st.integers(0, min(n, 64) - 1))
            data[at:at + 4] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "duplicate":
            end = min(n, at + draw(st.integers(1, 4096)))
            where = draw(st.integers(0, n))
            data[where:where] = data[at:end]
        else:
            del data[at:at + draw(st.integers(1, 512))]
    return name, bytes(data)


GEOMETRY = {
    "-k": ["2", "3", "2x3", "1", "0", "-1", "2x", "abc", "2x2x2", "99999", ""],
    "-s": ["1", "2", "1x2", "0", "-3"],
    "-p": ["0", "1", "same", "5", "-1", "1x0"],
    "-d": ["1", "2", "0"],
}
MODE_OPTIONS = {
    "max": {}, "min": {}, "avg": {},
    "lp": {"--p": ["1", "2", "3.5", "0", "-1", "nan", "inf"]},
    "mixed": {"--alpha": ["0", "0.5", "1", "2", "-1", "nan"], "--seed": ["0", "7", "-1"]},
    "softpool": {"--temperature": ["0.5", "1", "0", "-2", "inf", "1e-300"]},
    "stochastic": {"--seed": ["0", "3", "-1", "x"]},
    "adaptive": {"--output-size": ["1", "3x4", "0x3", "100000", "x", "7"], "--op": ["max", "avg", "min", ""]},
    "fractional": {"--output-size": ["3x4", "0", "5000"], "--ratio": ["0.5", "0.7,0.6", "1.5", "0"],
                   "--samples": ["0.3,0.8", "1.2,0", "a"], "--seed": ["1"], "-k": ["2", "3", "0"]},
    "global": {"--op": ["avg", "max", "min", "lp", "median", ""]},
    "spp": {"--levels": ["1,2", "1,2,4", "", "0", "1,,2", "3"], "--op": ["max", "avg", "lp"]},
}
FLAGS = {
    "max": ["--ceil-mode"], "min": ["--ceil-mode"], "avg": ["--ceil-mode", "--count-include-pad", "--linear-light"],
    "lp": ["--no-normalize", "--count-include-pad"], "mixed": ["--random"], "softpool": [], "stochastic": [],
    "adaptive": [], "fractional": [], "global": [], "spp": [],
}
SLIDING = {"max", "min", "avg", "lp", "mixed", "softpool", "stochastic"}
COMMON = {
    "--format": ["png", "npy", "tiff", "jpeg", "gif", "webp", "bmp", "pgm", "xyz", ""],
    "--max-pixels": ["0", "1000", "20000", "-1"],
    "--jobs": ["1", "2", "0"],
    "--png-compress-level": ["0", "9", "10"],
    "--jpeg-quality": ["1", "100", "0"],
}
COMMON_FLAGS = ["--overwrite", "--skip-existing", "--fail-fast", "--json", "-q", "--recursive"]


@st.composite
def command(draw) -> tuple[str, list[str], str]:
    """-> (mode, options, backend)"""
    mode = draw(st.sampled_from(sorted(MODE_OPTIONS)))
    opts: list[str] = []
    table = dict(MODE_OPTIONS[mode])
    if mode in SLIDING:
        table.update(GEOMETRY)
    table.update({k: v for k, v in COMMON.items() if mode not in ("global", "spp") or k in
                  ("--max-pixels", "--jobs")})
    for name in draw(st.lists(st.sampled_from(sorted(table)), unique=True, max_size=4)):
        opts += [name, draw(st.sampled_from(table[name]))]
    flags = FLAGS[mode] + COMMON_FLAGS
    opts += draw(st.lists(st.sampled_from(flags), unique=True, max_size=3))
    backend = "cpu" if mode in ("max", "avg") and draw(st.integers(0, 19)) == 0 else "numpy"
    if backend == "cpu":  # one fixed geometry: one kernel specialisation to compile
        opts = [o for i, o in enumerate(opts) if not (o in GEOMETRY or (i and opts[i - 1] in GEOMETRY))]
    if mode in ("adaptive",) and "--output-size" not in opts and draw(st.booleans()):
        opts += ["--output-size", "3x2"]
    if mode == "fractional" and "--output-size" not in opts and "--ratio" not in opts and draw(st.booleans()):
        opts += ["--ratio", "0.6"]
    return mode, opts, backend


def _hash_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_whole(path: Path) -> None:
    if path.suffix == ".npy":
        np.load(path, allow_pickle=False)
    elif path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix in (".tif", ".tiff"):  # 16-bit colour and float TIFFs: Pillow reads neither
        import tifffile

        tifffile.imread(path)
    else:
        with Image.open(path) as im:
            im.verify()


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(victim=mutated(), cmd=command(), into_inputs=st.integers(0, 9))
def test_fuzz_cli(capsys, victim, cmd, into_inputs):
    name, blob = victim
    mode, opts, backend = cmd
    with tempfile.TemporaryDirectory(prefix="poolcli-fuzz-") as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        stem, ext = os.path.splitext(name)
        (src / f"mutant_{stem}{ext}").write_bytes(blob)
        (src / name).write_bytes(DATA[name])
        before = _hash_tree(src)
        target = src if into_inputs == 0 else out  # now and then: -o the inputs' folder
        argv = [mode, str(src), "-o", str(target), "--backend", backend, *opts]
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        stdout, stderr = capsys.readouterr()
        code = info.value.code
        context = f"poolcli {' '.join(map(repr, argv))}\n--- stderr:\n{stderr}"
        assert code in (0, 1, 2), context
        for text in (stdout, stderr):
            assert "Traceback" not in text and "internal error" not in text, context
        if code == 2:
            assert stderr.startswith("poolcli: error: ") and stderr.count("\n") == 1, context
        after = _hash_tree(src)
        assert {k: after.get(k) for k in before} == before, context  # inputs unchanged
        written = [p for p in Path(tmp).rglob("*") if p.is_file()]
        assert not [p for p in written if p.name.endswith(".poolcli-tmp")], context
        new = [p for p in written if p.is_relative_to(out) or str(p.relative_to(src)) not in before]
        for p in new:
            _assert_whole(p)
