"""Issue 13: a command line that never surprises. Real processes on real files: outputs and
names, -o, seeds, long names, stale temporaries, --jobs under a memory limit, reports that fit
80 columns, help, completion, strip-wise pooling under a memory limit."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POOLCLI = str(BIN / "poolcli")


def env(**extra) -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.pop("POOLCLI_DEBUG", None)
    e.update({k: str(v) for k, v in extra.items()})
    return e


def run(*args, cwd=None, limit_mib=None, umask=None, columns=None, timeout=300):
    """poolcli ARGS in a process; -> CompletedProcess (text)."""

    def pre():
        if umask is not None:
            os.umask(umask)
        if limit_mib is not None:
            lim = limit_mib << 20
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    extra = {"COLUMNS": columns} if columns else {}
    return subprocess.run([POOLCLI, *map(str, args)], cwd=cwd, env=env(**extra), text=True,
                          capture_output=True, timeout=timeout, preexec_fn=pre)


def picture(path: Path, seed: int = 0, size=(12, 16)) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------
# 1. a folder is never written into


def test_folder_goes_to_a_new_sibling_folder_and_is_never_written_into(tmp_path):
    d = tmp_path / "d"
    picture(d / "a.png", 1)
    picture(d / "sub" / "b.png", 2)
    before = tree(d)
    r = run("max", "d", "-r", "--backend", "numpy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert tree(tmp_path / "d_max") == ["a.png", "sub/b.png"]
    assert "d_max/" in r.stderr  # announced in the summary
    r = run("avg", "d", "-r", "--backend", "numpy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert tree(d) == before  # nothing written into the input folder, by either run
    assert tree(tmp_path / "d_avg") == ["a.png", "sub/b.png"]  # the max outputs not pooled
    ref = np.asarray(Image.open(d / "a.png")).reshape(6, 2, 8, 2, 3).max(axis=(1, 3))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "d_max" / "a.png")), ref)
    # a file named on the command line keeps <stem>_<mode><ext> beside it
    r = run("min", d / "a.png", "--backend", "numpy")
    assert r.returncode == 0, r.stderr
    assert (d / "a_min.png").is_file()
    # --json's summary names the new folder
    r = run("min", "d", "--backend", "numpy", "--json", cwd=tmp_path)
    summary = json.loads(r.stdout.splitlines()[-1])
    assert summary["output_folders"] == ["d_min"]


# ------------------------------------------------------------------------------------------
# 2. -o FILE with several inputs; -o into missing folders


def test_output_file_with_several_inputs_is_a_usage_error(tmp_path):
    a, b = picture(tmp_path / "a.png"), picture(tmp_path / "b.png")
    r = run("max", a, b, "-o", tmp_path / "single.png")
    assert r.returncode == 2
    assert "single.png" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "single.png").exists()
    r = run("max", tmp_path, "-o", tmp_path / "one.png")  # a folder input: many files
    assert r.returncode == 2 and not (tmp_path / "one.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


def test_output_into_missing_folders_makes_them(tmp_path):
    a = picture(tmp_path / "a.png")
    out = tmp_path / "missing" / "dir" / "x.png"
    r = run("max", a, "-o", out, "--backend", "numpy")
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (8, 6)


# ------------------------------------------------------------------------------------------
# 3. seeds below 2**53, shown in the table


def test_seeds_are_exact_in_json_and_shown_in_the_table(tmp_path):
    files = [picture(tmp_path / f"s{i}.png", i) for i in range(6)]
    r = run("fractional", *files, "--ratio", "0.5", "--backend", "numpy", "--json",
            "-o", tmp_path / "out/")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()[:-1]]
    seeds = [rec["seed"] for rec in recs]
    assert all(isinstance(s, int) and 0 <= s < 2**53 for s in seeds)
    assert all(float(s) == s for s in seeds)  # a float64 reader keeps them
    # the recorded seed reproduces the output
    again = run("fractional", files[0], "--ratio", "0.5", "--seed", seeds[0], "--backend", "numpy",
                "-o", tmp_path / "again.png")
    assert again.returncode == 0, again.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "again.png")),
                          np.asarray(Image.open(tmp_path / "out" / "s0.png")))
    r = run("stochastic", *files[:3], "--backend", "numpy", "-o", tmp_path / "st/", columns=80)
    assert r.returncode == 0, r.stderr
    assert "seed" in r.stderr.splitlines()[0]
    for line in r.stderr.splitlines()[1:4]:
        assert re.search(r"\b\d{1,16}\b\s+ok$", line), line


# ------------------------------------------------------------------------------------------
# 4. any legal file name


@pytest.mark.parametrize("stem_bytes", [240, 247])
def test_names_up_to_255_bytes_work(tmp_path, stem_bytes):
    stem = "é" * (stem_bytes // 2) + "x" * (stem_bytes % 2)
    src = picture(tmp_path / f"{stem}.png")
    r = run("max", src, "--backend", "numpy")  # <stem>_max.png: stem_bytes + 8 bytes
    assert r.returncode == 0, r.stderr
    out = tmp_path / f"{stem}_max.png"
    assert len(os.fsencode(out.name)) == stem_bytes + 8 <= 255
    assert Image.open(out).size == (8, 6)
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".poolcli-tmp")] == []


# ------------------------------------------------------------------------------------------
# 5. stale temporaries of dead processes are removed, live ones kept


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    d = tmp_path / "d"
    picture(d / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    # a poolcli process killed (-9) while it writes: its temporary stays behind
    code = ("import os, sys; from poolcli.io.fsio import make_temporary; "
            "fd, tmp = make_temporary(sys.argv[1]); os.write(fd, b'x' * 1000); "
            "print(tmp, flush=True); os.kill(os.getpid(), 9)")
    killed = subprocess.run([sys.executable, "-c", code, str(out / "a.png")], env=env(),
                            capture_output=True, text=True)
    assert killed.returncode == -9
    stale = Path(killed.stdout.strip())
    assert stale.is_file() and stale.name.endswith(".poolcli-tmp")
    # a live process's temporary (this test's), and a stranger's file, are never touched
    from poolcli.io.fsio import make_temporary

    fd, live = make_temporary(out / "b.png")
    os.close(fd)
    other = out / ".notes.txt.poolcli-tmp"
    other.write_text("not ours")
    r = run("max", d, "-o", out, "--backend", "numpy", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert not stale.exists()
    assert Path(live).exists() and other.exists()
    assert (out / "a.png").is_file()
    readme = (ROOT / "README.md").read_text()
    assert "poolcli-tmp" in readme


# ------------------------------------------------------------------------------------------
# 6. --jobs cannot break a run


def test_many_jobs_under_a_memory_limit_still_run(tmp_path):
    d = tmp_path / "d"
    for i in range(30):
        picture(d / f"i{i:02d}.png", i)
    r = run("max", d, "-j", "24", "--backend", "numpy", "-o", tmp_path / "out", limit_mib=700)
    assert r.returncode == 0, r.stderr
    assert "internal error" not in r.stderr
    assert len(tree(tmp_path / "out")) == 30
    said = [line for line in r.stderr.splitlines() if "--jobs 24" in line]
    assert len(said) == 1 and "at a time" in said[0]


# ------------------------------------------------------------------------------------------
# 7. reports that fit


def test_table_fits_80_columns_and_elides_names_in_the_middle(tmp_path):
    long = "holiday_photograph_from_the_camera_of_my_grandmother_2024"
    files = [picture(tmp_path / f"{long}_{i}.png", i) for i in range(3)]
    r = run("avg", *files, "--backend", "numpy", "-o", tmp_path / "out/", columns=80)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 + 3 + 1  # header, a row per file, the summary
    assert all(len(line) <= 80 for line in lines), lines
    for i, line in enumerate(lines[1:4]):
        name = line.split()[0]
        assert "..." in name and name.endswith(f"_{i}.png")  # the end of the name kept
        assert line.rstrip().endswith("ok")


def test_big_batch_shows_summary_and_failures_and_the_table_with_verbose(tmp_path):
    d = tmp_path / "d"
    for i in range(24):
        picture(d / f"p{i:02d}.png", i)
    (d / "broken.png").write_bytes(b"not a picture")
    r = run("max", d, "--backend", "numpy", columns=80)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    broken = [line for line in lines if "broken.png" in line]
    assert len(broken) == 1 and "broken.png:" in broken[0]  # the failure, once
    assert len(lines) == 2 and "24 ok, 1 failed of 25 files" in lines[-1]
    # a re-run over the existing outputs: one grouped line with the fix
    t0 = time.perf_counter()
    r = run("max", d, "--backend", "numpy", "--json", columns=80)
    elapsed = time.perf_counter() - t0
    grouped = [line for line in r.stderr.splitlines() if "exist" in line]
    assert len(grouped) == 1
    assert "24 outputs exist" in grouped[0]
    assert "--overwrite" in grouped[0] and "--skip-existing" in grouped[0]
    assert len(r.stdout.splitlines()) == 26  # --json: every file, then the summary
    # the wall time is the process's: start-up included, never more than what we waited
    wall = json.loads(r.stdout.splitlines()[-1])["wall_ms"] / 1e3
    assert 0.5 * elapsed <= wall <= elapsed + 0.02
    # --verbose: the whole table (header, 25 rows), fitted to 80 columns
    r = run("max", d, "--backend", "numpy", "--skip-existing", "-v", columns=80)
    table = [line for line in r.stderr.splitlines() if not line.startswith("poolcli: ")][:-1]
    assert len(table) == 1 + 25, r.stderr
    assert all(len(line) <= 80 for line in table), table
    assert sum(line.endswith("skipped") for line in table) == 24


# ------------------------------------------------------------------------------------------
# 8. help


def test_power_option_and_its_old_name(tmp_path):
    a = picture(tmp_path / "a.png")
    outs = {}
    for flag in ("--power", "--p"):
        out = tmp_path / f"lp{flag.strip('-')}.npy"
        r = run("lp", a, flag, "3", "--format", "npy", "-o", out, "--backend", "numpy")
        assert r.returncode == 0, r.stderr
        outs[flag] = np.load(out)
    assert np.array_equal(outs["--power"], outs["--p"])
    r = run("lp", a, "--format", "npy", "-o", tmp_path / "lp2.npy", "--backend", "numpy")
    assert not np.array_equal(np.load(tmp_path / "lp2.npy"), outs["--power"])


def test_help_lists_choices_one_default_style_and_input_usage():
    r = run("max", "--help", columns=200)
    assert "Usage: poolcli max [OPTIONS] INPUT..." in r.stdout
    assert "auto|cpu|cuda|numpy" in r.stdout and "png|jpeg|tiff" in r.stdout
    assert "poolcli[dask]" in r.stdout
    assert "[default:" not in r.stdout and "(default: 2)" in r.stdout
    assert "avg|max|min|lp" in run("global", "--help", columns=200).stdout
    pyr = run("pyramid", "--help", columns=200).stdout
    assert "max, avg, min, lp" in pyr and "[default:" not in pyr
    assert "--power" in run("lp", "--help", columns=200).stdout


def test_an_option_a_mode_does_not_take_names_those_it_takes(tmp_path):
    r = run("adaptive", tmp_path / "x.png", "-k", "4")
    assert r.returncode == 2
    assert "No such option: -k" in r.stderr and "--output-size" in r.stderr
    assert r.stderr.count("\n") == 1


def test_shell_completion_and_a_fast_help():
    r = run("--help", columns=200)
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout
    # bash asks the program for the words: modes and options complete
    done = subprocess.run([POOLCLI], env=env(_POOLCLI_COMPLETE="complete_bash",
                                             COMP_WORDS="poolcli ma", COMP_CWORD="1"),
                          capture_output=True, text=True)
    assert "max" in done.stdout.split()
    done = subprocess.run([POOLCLI], env=env(_POOLCLI_COMPLETE="complete_bash",
                                             COMP_WORDS="poolcli lp --pow", COMP_CWORD="2"),
                          capture_output=True, text=True)
    assert "--power" in done.stdout.split()
    # --help stays cheap: no NumPy, Numba or Pillow
    imp = subprocess.run([sys.executable, "-X", "importtime", "-c",
                          "import sys; sys.argv = ['poolcli', '--help']; "
                          "from poolcli.cli import main; main()"],
                         env=env(), capture_output=True, text=True)
    loaded = {line.rsplit("|", 1)[-1].strip() for line in imp.stderr.splitlines()
              if line.startswith("import time:")}
    assert not loaded & {"numpy", "numba", "PIL"}
    assert "typer" in loaded


# ------------------------------------------------------------------------------------------
# 9. huge single images go strip-wise by themselves; strip outputs get normal permissions


def test_a_npy_too_big_for_the_memory_limit_goes_strip_wise(tmp_path):
    big = tmp_path / "big.npy"
    a = np.lib.format.open_memmap(big, mode="w+", dtype=np.float32, shape=(5000, 20000))
    a[:] = np.arange(20000, dtype=np.float32)[None, :]
    a[::7] += 1.0
    del a
    out = tmp_path / "out" / "small.npy"
    r = run("max", big, "-o", out, "--backend", "numpy", "--json", limit_mib=700, umask=0o022)
    assert r.returncode == 0, r.stderr
    got = np.load(out, mmap_mode="r")
    x = np.load(big, mmap_mode="r")
    assert got.shape == (2500, 10000)
    np.testing.assert_array_equal(got[:50], np.asarray(x[:100]).reshape(50, 2, 10000, 2).max(axis=(1, 3)))
    np.testing.assert_array_equal(got[-50:], np.asarray(x[-100:]).reshape(50, 2, 10000, 2).max(axis=(1, 3)))
    assert (out.stat().st_mode & 0o777) == 0o644  # the umask's, not 0600
