"""``poolcli bench``: kernel and end-to-end benchmarks against the peers that are installed.

Kernel cases time the pooling of an in-memory array (poolcli's ``cpu`` and ``numpy``
backends, OpenCV, Pillow, PyTorch, scikit-image and NumPy strided slices), as
effective GB/s (bytes read + bytes written per second) and as a fraction of this
machine's copy bandwidth (``np.copyto`` of a large array on every core, also read +
write). End-to-end cases time whole processes, start to exit (``poolcli``, a Pillow
script, ``vips``, ImageMagick) on files made in a temporary folder. A peer that is
not installed is reported as missing, never an error. Peers are never poolcli's
dependencies: install them in a scratch environment (benchmarks/README.md).

Entry point: ``run_bench(cases, backend, quick, out_json, out_md) -> list[dict]``.

One job over 600 lines: measuring poolcli against its peers, kernels and whole commands
alike, with the tables the README shows; each peer is a few lines of adapter.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from . import bench_modes  # issue 14's kernels (mode, median, nodata, indices, blurpool)
from .bench_modes import _installed

KERNEL_SHAPES = ((4096, 4096, 3), (4096, 4096, 1), (512, 512, 3))
KERNEL_WINDOWS = ((2, 2), (3, 2))  # (size, stride)
KERNEL_MODES = ("max", "avg", "min", "lp")
KERNEL_DTYPES = ("uint8", "uint16", "float32")


# --------------------------------------------------------------------------------------------
# the machine


def _install_kind() -> str:
    """"regular" when poolcli runs from an installed copy (what users get), "source" when from
    a checkout (``pip install -e``: an import hook in every Python start, ~20 ms of each
    whole command)."""
    from . import __file__ as init

    parts = Path(init).resolve().parts
    return "regular" if "site-packages" in parts or "dist-packages" in parts else "source"


def machine_info() -> dict:
    """Date, CPU model, cores, memory and versions: the header of every table."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    info["poolcli_install"] = _install_kind()
    try:
        import numba

        info["numba"] = numba.__version__
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except ImportError:  # pragma: no cover
        pass
    return info


def _median_time(fn, *, min_reps=5, budget_s=0.5, max_reps=50) -> float:
    """Median wall seconds of fn() after one warm-up call."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or (
        time.perf_counter() - start < budget_s and len(times) < max_reps
    ):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def copy_bandwidth(nbytes: int = 48 * 2**20, *, quick=False) -> dict:
    """GB/s of ``np.copyto`` (bytes read + written), on one thread and split over every core
    (``np.copyto`` releases the GIL). The all-cores figure is the kernels' yardstick."""
    a = np.random.default_rng(0).integers(0, 256, nbytes, dtype=np.uint8)
    b = np.empty_like(a)
    cores = max(1, os.cpu_count() or 1)
    parts = np.array_split(np.arange(nbytes), cores)
    bounds = [(int(p[0]), int(p[-1]) + 1) for p in parts if len(p)]

    def parallel():
        threads = [
            threading.Thread(target=np.copyto, args=(b[lo:hi], a[lo:hi])) for lo, hi in bounds[1:]
        ]
        for t in threads:
            t.start()
        lo, hi = bounds[0]
        np.copyto(b[lo:hi], a[lo:hi])
        for t in threads:
            t.join()

    reps = 5 if quick else 15
    t1 = _median_time(lambda: np.copyto(b, a), min_reps=reps)
    tn = _median_time(parallel, min_reps=reps)
    return {
        "bytes": nbytes,
        "one_thread_gbs": 2 * nbytes / t1 / 1e9,
        "all_cores_gbs": 2 * nbytes / tn / 1e9,
        "cores": cores,
    }


# --------------------------------------------------------------------------------------------
# the peers: each returns a zero-argument callable for a case, or None when it cannot do it


def _sliced(y, k, s, ho, wo):
    """Keep every s-th value of a k-window filter whose anchor is the window's first cell."""
    return np.ascontiguousarray(y[: (ho - 1) * s + 1 : s, : (wo - 1) * s + 1 : s])


def _peer_poolcli(backend):
    def make(x, mode, k, s):
        from . import api, dispatch, modes

        x4 = api.as_dhwc(x)
        plan = api.make_plan(modes.MODES[mode], x4.shape, x4.dtype, size=k, stride=s)
        be = dispatch.load(backend)
        return lambda: be.pool(x4, plan)

    return make


def _peer_opencv(x, mode, k, s):
    import cv2

    if x.dtype.name not in ("uint8", "uint16", "float32") or mode == "lp":
        return None
    h, w = x.shape[:2]
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    kernel = np.ones((k, k), np.uint8)
    if mode == "avg" and k == s:
        return lambda: cv2.resize(x, (wo, ho), interpolation=cv2.INTER_AREA)
    if mode == "avg":
        return lambda: _sliced(
            cv2.blur(x, (k, k), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE), k, s, ho, wo
        )
    op = cv2.dilate if mode == "max" else cv2.erode
    return lambda: _sliced(
        op(x, kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE), k, s, ho, wo
    )


def _peer_pillow(x, mode, k, s):
    from PIL import Image, ImageFilter

    c = x.shape[2] if x.ndim == 3 else 1
    if x.dtype == np.uint8 and c in (1, 3, 4):
        img = Image.fromarray(x if c > 1 else x[..., 0])
    elif x.dtype == np.float32 and c == 1:
        img = Image.fromarray(x[..., 0], mode="F")
    else:
        return None
    h, w = x.shape[:2]
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    if mode == "avg" and k == s:
        return lambda: img.reduce(k)
    if mode in ("max", "min") and k % 2 == 1:
        filt = ImageFilter.MaxFilter(k) if mode == "max" else ImageFilter.MinFilter(k)
        return lambda: _sliced(np.asarray(img.filter(filt))[k // 2 :, k // 2 :], k, s, ho, wo)
    return None


def _peer_torch(x, mode, k, s):
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(x if x.ndim == 3 else x[..., None]).permute(2, 0, 1)[
        None
    ]  # channels-last NCHW
    native = x.dtype == np.float32

    def prep():
        return t if native else t.float()

    def back(y):
        if native:
            return y
        return (
            y.round()
            .clamp(0, float(np.iinfo(x.dtype).max))
            .to(torch.uint8 if x.dtype == np.uint8 else torch.int32)
        )

    if mode == "max":
        return lambda: back(F.max_pool2d(prep(), k, s))
    if mode == "min":
        return lambda: back(-F.max_pool2d(-prep(), k, s))
    if mode == "avg":
        return lambda: back(F.avg_pool2d(prep(), k, s))
    return lambda: back(F.lp_pool2d(prep(), 2.0, k, s) / float(k))  # torch's lp is unnormalised


def _peer_skimage(x, mode, k, s):
    from skimage.measure import block_reduce

    if k != s or mode == "lp":
        return None
    fn = {"max": np.max, "min": np.min, "avg": np.mean}[mode]
    block = (k, k, 1) if x.ndim == 3 else (k, k)
    return lambda: block_reduce(x, block, fn)


def _peer_numpy_slices(x, mode, k, s):
    if mode == "lp":
        return None
    h, w = x.shape[:2]
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    views = [
        x[i : i + (ho - 1) * s + 1 : s, j : j + (wo - 1) * s + 1 : s]
        for i in range(k)
        for j in range(k)
    ]
    if mode in ("max", "min"):
        op = np.maximum if mode == "max" else np.minimum

        def run():
            y = views[0].copy()
            for v in views[1:]:
                op(y, v, out=y)
            return y

        return run

    def mean():
        acc = views[0].astype(np.float32 if x.dtype == np.float32 else np.uint32)
        for v in views[1:]:
            acc += v
        return (
            (acc / (k * k)).astype(x.dtype)
            if x.dtype.kind == "f"
            else np.rint(acc / (k * k)).astype(x.dtype)
        )

    return mean


#: peer name -> (module to import to know it is installed, case builder)
PEERS = {
    "poolcli cpu": ("numba", _peer_poolcli("cpu")),
    "poolcli numpy": ("numpy", _peer_poolcli("numpy")),
    "opencv": ("cv2", _peer_opencv),
    "pillow": ("PIL", _peer_pillow),
    "pytorch": ("torch", _peer_torch),
    "scikit-image": ("skimage", _peer_skimage),
    "numpy slices": ("numpy", _peer_numpy_slices),
}


def kernel_cases(quick=False) -> list[dict]:
    shapes = KERNEL_SHAPES if not quick else ((4096, 4096, 3), (512, 512, 3))
    dtypes = KERNEL_DTYPES if not quick else ("uint8", "float32")
    return [
        {"shape": shape, "dtype": dt, "mode": mode, "size": k, "stride": s}
        for shape in shapes
        for dt in dtypes
        for k, s in KERNEL_WINDOWS
        for mode in KERNEL_MODES
    ]


def _test_array(shape, dtype, seed=0) -> np.ndarray:
    """Noise plus gradients: values over the whole range, as a photo's would be."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    grad = (np.linspace(0, 1, h)[:, None, None] + np.linspace(0, 1, w)[None, :, None]) / 2
    v = np.clip(grad + rng.normal(0, 0.1, (h, w, c)), 0, 1)
    if np.dtype(dtype).kind == "f":
        return np.ascontiguousarray(v.astype(dtype))
    return np.ascontiguousarray((v * np.iinfo(dtype).max).round().astype(dtype))


def run_kernels(backend="cpu", quick=False, peers=None, log=print) -> tuple[list[dict], dict]:
    """Time every kernel case for poolcli (``backend`` and ``numpy``) and each installed peer."""
    bw = copy_bandwidth(quick=quick)
    log(
        f"copy bandwidth: {bw['all_cores_gbs']:.1f} GB/s on {bw['cores']} cores "
        f"({bw['one_thread_gbs']:.1f} GB/s on one)"
    )
    names = list(peers or PEERS)
    if backend != "cpu" and "poolcli cpu" in names:
        names[names.index("poolcli cpu")] = f"poolcli {backend}"
    rows: list[dict] = []
    missing = [n for n in names if n in PEERS and not _installed(PEERS[n][0])]
    for n in missing:
        log(f"peer not installed: {n}")
    arrays: dict = {}
    for case in kernel_cases(quick):
        key = (case["shape"], case["dtype"])
        if key not in arrays:
            arrays.clear()
            arrays[key] = _test_array(case["shape"], case["dtype"])
        x = arrays[key]
        h, w, c = case["shape"]
        k, s = case["size"], case["stride"]
        ho, wo = (h - k) // s + 1, (w - k) // s + 1
        moved = x.nbytes + ho * wo * c * x.itemsize
        big = h * w >= 2**22
        for name in names:
            builder = (
                _peer_poolcli(backend)
                if name == f"poolcli {backend}"
                else PEERS.get(name, (None, None))[1]
            )
            if builder is None or name in missing:
                continue
            if name == "poolcli numpy" and big and quick:
                continue
            try:
                fn = builder(x, case["mode"], k, s)
            except Exception as exc:  # a peer that cannot do this case
                fn, why = None, f"{type(exc).__name__}: {exc}"
            else:
                why = None
            if fn is None:
                continue
            try:
                slow = name in ("poolcli numpy", "scikit-image") and big
                t = _median_time(
                    fn, min_reps=2 if slow else (3 if quick else 7), budget_s=0.2 if quick else 0.6
                )
            except Exception as exc:
                log(f"  {name} failed on {case}: {type(exc).__name__}: {exc}")
                continue
            gbs = moved / t / 1e9
            rows.append(
                {
                    **case,
                    "shape": "x".join(map(str, case["shape"])),
                    "impl": name,
                    "ms": t * 1e3,
                    "gbs": gbs,
                    "copy_fraction": gbs / bw["all_cores_gbs"],
                    "note": why,
                }
            )
        done = [
            r
            for r in rows
            if r["mode"] == case["mode"]
            and r["size"] == k
            and r["dtype"] == case["dtype"]
            and r["shape"] == "x".join(map(str, case["shape"]))
        ]
        if done:
            best = min(done, key=lambda r: r["ms"])
            log(
                f"{'x'.join(map(str, case['shape']))} {case['dtype']:7} {k}x{k}/s{s} "
                f"{case['mode']:3}: "
                + ", ".join(f"{r['impl']} {r['ms']:.2f} ms" for r in done)
                + f"  (best: {best['impl']})"
            )

    rows += bench_modes.run(backend, quick, bw, _median_time, _test_array, log=log, peers=peers)
    return rows, bw


# --------------------------------------------------------------------------------------------
# end to end: whole processes on files


PILLOW_SCRIPT = """\
import sys
from PIL import Image
args = sys.argv[1:]
level, quality = int(args[0]), int(args[1])
for src, dst in zip(args[2::2], args[3::2]):
    im = Image.open(src)
    out = im.reduce(2)
    if dst.lower().endswith('.png'):
        out.save(dst, compress_level=level)
    else:
        out.save(dst, quality=quality)
"""


def _magick() -> str | None:
    """ImageMagick's own binary (not a wrapper script in front of it, nor a stand-in that only
    borrows the name: its ``-version`` must say ``Version: ImageMagick``)."""
    for name in ("magick", "convert-im6.q16", "convert-im7", "convert"):
        path = shutil.which(name)
        if path:
            try:
                said = subprocess.run([path, "-version"], capture_output=True, text=True,
                                      timeout=10).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            if "Version: ImageMagick" in said:
                return path
    return None


def make_e2e_inputs(folder: Path, quick=False) -> dict:
    """The files of the end-to-end cases: one big PNG, one big JPEG, a folder of JPEGs, a
    folder of PNGs."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    big = _test_array((3000, 4000, 3), "uint8", seed=1)
    Image.fromarray(big).save(folder / "big.png", compress_level=6)
    Image.fromarray(big).save(folder / "big.jpg", quality=90)
    cases = {"png": [folder / "big.png"], "jpeg": [folder / "big.jpg"]}
    jdir, pdir = folder / "jpegs", folder / "pngs"
    jdir.mkdir(exist_ok=True)
    pdir.mkdir(exist_ok=True)
    n_jpeg, n_png = (20, 4) if quick else (100, 20)
    for i in range(n_jpeg):
        Image.fromarray(_test_array((768, 1024, 3), "uint8", seed=10 + i)).save(
            jdir / f"img{i:03}.jpg", quality=90
        )
    for i in range(n_png):
        Image.fromarray(_test_array((1500, 2000, 3), "uint8", seed=200 + i)).save(
            pdir / f"img{i:03}.png", compress_level=6
        )
    cases["jpeg folder"] = sorted(jdir.glob("*.jpg"))
    cases["png folder"] = sorted(pdir.glob("*.png"))
    # the same JPEGs, one process per file from a shell loop (quick: the first 5)
    cases[SHELL_LOOP] = cases["jpeg folder"][: 5 if quick else None]
    return cases


#: the case whose commands are one shell ``for`` loop, one process per file
SHELL_LOOP = "jpeg shell loop"


def _run_process(cmd: list[str], env=None) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB of the command, return code, stderr tail).

    The peak comes from GNU time (``/usr/bin/time -f %M``) where it exists: a child's own
    ``ru_maxrss`` would also count the pages of this (large) benchmark process that the child
    held between fork and exec. NaN without GNU time.
    """
    import tempfile

    gnu_time = shutil.which("time") if Path("/usr/bin/time").exists() else None
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        full = [gnu_time, "-f", "%M", "-o", rss.name, *cmd] if gnu_time else cmd
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, err = proc.communicate()
        wall = time.perf_counter() - t0
        try:
            peak = float(rss.read().strip().splitlines()[-1]) / 1024 if gnu_time else float("nan")
        except (ValueError, IndexError):
            peak = float("nan")
    return wall, peak, proc.returncode, err.decode(errors="replace")[-300:]


def _shell_loop(tool, mode, files, outdir: Path, level: int,
                quality: int) -> list[list[str]] | None:
    """One ``bash -c 'for f in ...; do TOOL "$f" ...; done'``: what a shell user writes to pool
    ``files`` one call at a time (every call pays its start-up); None when ``tool`` is
    missing."""
    one = _commands(tool, mode, files[:1], outdir, level, quality)
    bash = shutil.which("bash")
    if one is None or bash is None or len(one) != 1:
        return None
    # the one-file command with the input and the output replaced by the loop's variables
    first, out = str(files[0]), str(outdir / files[0].name)
    words = ['"$f"' if w == first else '"$o"' + shlex.quote(w[len(out):]) if w.startswith(out)
             else shlex.quote(w) for w in one[0]]
    script = ('d=$1; shift; for f in "$@"; do o="$d/${f##*/}"; '
              + " ".join(words) + " || exit 1; done")
    return [[bash, "-c", script, "loop", str(outdir), *[str(f) for f in files]]]


def _commands(tool, mode, files, outdir: Path, level: int, quality: int,
              case: str | None = None) -> list[list[str]] | None:
    """The commands that pool ``files`` 2x2 into ``outdir`` with ``tool``; None when it is
    missing. ``case`` ``SHELL_LOOP``: one shell loop, one call per file."""
    if case == SHELL_LOOP:
        return _shell_loop(tool, mode, files, outdir, level, quality)
    ext = files[0].suffix
    outs = [outdir / (f.stem + ext) for f in files]
    folder = len(files) > 1
    if tool == "poolcli":
        exe = shutil.which("poolcli") or str(Path(sys.executable).with_name("poolcli"))
        if not Path(exe).exists():
            return None
        opts = [f"--png-compress-level={level}"] if ext == ".png" else [f"--jpeg-quality={quality}"]
        if folder:
            return [[exe, mode, str(files[0].parent), "-o", str(outdir), "--overwrite", *opts]]
        return [[exe, mode, str(files[0]), "-o", str(outs[0]), "--overwrite", *opts]]
    if tool == "pillow script":
        if mode != "avg":
            return None
        args = [str(a) for pair in zip(files, outs) for a in pair]
        return [[sys.executable, "-c", PILLOW_SCRIPT, str(level), str(quality), *args]]
    if tool == "vips":
        exe = shutil.which("vips")
        if exe is None or mode != "avg":
            return None
        suffix = f"[compression={level}]" if ext == ".png" else f"[Q={quality}]"
        return [[exe, "shrink", str(f), str(o) + suffix, "2", "2"] for f, o in zip(files, outs)]
    if tool == "imagemagick":
        exe = _magick()
        if exe is None:
            return None
        q = [
            "-quality",
            str(level * 10 + 5) if ext == ".png" else str(quality),
        ]  # PNG: level*10 + filter 5
        if mode == "avg":
            op = ["-filter", "box", "-resize", "50%"]
        else:  # exact 2x2 max
            op = ["-statistic", "Maximum", "2x2", "-define", "sample:offset=75", "-sample", "50%"]
        if folder:
            mog = shutil.which("mogrify")
            if mog and "magick" not in Path(exe).name:
                mog_exe = shutil.which("mogrify-im6.q16") or mog
                return [[mog_exe, "-path", str(outdir), *op, *q, *[str(f) for f in files]]]
            return [[exe, "mogrify", "-path", str(outdir), *op, *q, *[str(f) for f in files]]]
        return [[exe, str(files[0]), *op, *q, str(outs[0])]]
    raise ValueError(tool)


E2E_TOOLS = ("poolcli", "pillow script", "vips", "imagemagick")
#: the tools the shell-loop case always shows, a missing one as such
LOOP_TOOLS = ("poolcli", "pillow script", "imagemagick")
#: the ``error`` of a row whose tool is not installed
MISSING = "not installed"


def _time_in_turn(cmd_sets: dict, reps: int, env) -> dict:
    """Each tool's commands run in turn (A B C A B C ...), one warm-up run each first (Numba's
    cache included), then ``reps`` timed rounds: a drift of the machine's speed (a shared
    VM's neighbours) then touches every tool of a case alike, and the ratios hold. -> {tool:
    (timed walls, peak RSS MiB, failure or None)}; a tool whose first two timed runs each
    took over 10 s is timed no more (enough to rank it)."""
    walls = {t: [] for t in cmd_sets}
    peaks = dict.fromkeys(cmd_sets, 0.0)
    fails: dict = {}
    for rnd in range(reps + 1):
        for tool, cmds in cmd_sets.items():
            if tool in fails or (len(walls[tool]) >= 2 and min(walls[tool]) > 10.0):
                continue
            total = 0.0
            for cmd in cmds:
                wall, pk, rc, err = _run_process(cmd, env)
                total += wall
                peaks[tool] = max(peaks[tool], pk)
                if rc != 0:
                    fails[tool] = f"exit {rc}: {err.strip()}"
                    break
            if rnd and tool not in fails:
                walls[tool].append(total)
    return {t: (walls[t], peaks[t], fails.get(t)) for t in cmd_sets}


def run_e2e(
    quick=False, level=None, quality=None, reps=None, log=print, workdir=None
) -> list[dict]:
    """Whole processes, start to exit, warm caches: each tool on each case, median of ``reps``."""
    try:
        from .io.write import DEFAULT_JPEG_QUALITY, DEFAULT_PNG_COMPRESS_LEVEL
    except ImportError:  # pragma: no cover
        DEFAULT_JPEG_QUALITY, DEFAULT_PNG_COMPRESS_LEVEL = 90, 1
    level = DEFAULT_PNG_COMPRESS_LEVEL if level is None else level
    quality = DEFAULT_JPEG_QUALITY if quality is None else quality
    reps = reps or (2 if quick else 5)
    rows: list[dict] = []
    # bytecode cached as in a normal installation: with PYTHONDONTWRITEBYTECODE (set in some
    # CI images) an editable install recompiles poolcli's modules in every run (~30 ms)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="poolcli-bench-", dir=workdir) as tmp:
        tmp = Path(tmp)
        log("making the end-to-end inputs ...")
        inputs = make_e2e_inputs(tmp / "in", quick)
        for case, files in inputs.items():
            for mode in ("avg",) if case == SHELL_LOOP else ("avg", "max"):
                cmd_sets, outdirs = {}, {}
                for tool in E2E_TOOLS:
                    outdir = tmp / "out" / f"{case}-{mode}-{tool}".replace(" ", "_")
                    outdir.mkdir(parents=True, exist_ok=True)
                    cmds = _commands(tool, mode, files, outdir, level, quality, case)
                    if cmds is None:
                        if mode == "avg":
                            log(f"  {tool}: not installed or cannot do {case} {mode}")
                        if case == SHELL_LOOP and tool in LOOP_TOOLS:  # said in the table
                            rows.append({"case": case, "mode": mode, "tool": tool,
                                         "error": MISSING})
                        continue
                    cmd_sets[tool], outdirs[tool] = cmds, outdir
                timed = _time_in_turn(cmd_sets, reps, env)
                for tool, (walls, peak, fail) in timed.items():
                    if fail:
                        log(f"  {tool} failed on {case} {mode}: {fail}")
                        rows.append({"case": case, "mode": mode, "tool": tool, "error": fail})
                        continue
                    out_bytes = sum(f.stat().st_size for f in outdirs[tool].iterdir())
                    row = {
                        "case": case,
                        "mode": mode,
                        "tool": tool,
                        "files": len(files),
                        "seconds": float(np.median(walls)),
                        "out_mib": out_bytes / 2**20,
                        "png_level": level,
                        "jpeg_quality": quality,
                        "peak_rss_mib": peak,
                    }
                    rows.append(row)
                    log(
                        f"{case:11} {mode:3} {tool:13} {row['seconds']:.3f} s  "
                        f"out {row['out_mib']:.1f} MiB"
                    )
    return rows


# --------------------------------------------------------------------------------------------
# tables


def kernel_markdown(rows: list[dict], bw: dict) -> str:
    lines = [
        f"Copy bandwidth (np.copyto, read + write, {bw['cores']} cores): "
        f"{bw['all_cores_gbs']:.1f} GB/s "
        f"({bw['one_thread_gbs']:.1f} GB/s on one core). Times are medians.",
        "",
        "| shape | dtype | window | mode | implementation | ms | GB/s | of copy bw |",
        "|---|---|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['shape']} | {r['dtype']} | {r['size']}x{r['size']}/s{r['stride']} | "
            f"{r['mode']} | "
            f"{r['impl']} | {r['ms']:.2f} | {r['gbs']:.1f} | {100 * r['copy_fraction']:.0f}% |"
        )
    return "\n".join(lines)


def e2e_markdown(rows: list[dict]) -> str:
    lines = [
        "| case | mode | tool | files | seconds | output MiB | peak RSS MiB |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            said = MISSING if r["error"] == MISSING else f"failed: {r['error'][:60]}"
            lines.append(f"| {r['case']} | {r['mode']} | {r['tool']} | | {said} | | |")
            continue
        lines.append(
            f"| {r['case']} | {r['mode']} | {r['tool']} | {r['files']} | {r['seconds']:.3f} | "
            f"{r['out_mib']:.1f} | {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def run_bench(
    cases="kernels", backend="cpu", quick=False, out_json=None, out_md=None, log=print
) -> list[dict]:
    """Run the benchmarks; print the tables; write JSON and Markdown when paths are given.

    cases: "kernels", "e2e" or "all". backend: poolcli's backend timed in the kernel cases
    (besides ``numpy``). Returns the rows (dicts with a "kind" of "kernel" or "e2e").
    """
    if cases not in ("kernels", "e2e", "all"):
        raise ValueError(f"cases must be kernels, e2e or all, not {cases!r}")
    machine = machine_info()
    log(
        f"{machine['date']}  {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB"
    )
    rows: list[dict] = []
    md = [
        f"# poolcli benchmarks\n\n{machine['date']}: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB memory; Python {machine['python']}, "
        f"NumPy {machine['numpy']}, "
        f"Numba {machine.get('numba', '-')}.\n"
    ]
    bw = None
    if cases in ("kernels", "all"):
        krows, bw = run_kernels(backend, quick, log=log)
        rows += [{"kind": "kernel", **r} for r in krows]
        md.append("## Kernels\n\n" + kernel_markdown(krows, bw) + "\n")
    if cases in ("e2e", "all"):
        erows = run_e2e(quick, log=log)
        rows += [{"kind": "e2e", **r} for r in erows]
        md.append(
            "## Whole commands (wall seconds, start to exit, warm cache)\n\n"
            + e2e_markdown(erows)
            + "\n"
        )
    text = "\n".join(md)
    log(text)
    if out_json:
        Path(out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(out_json).write_text(
            json.dumps({"machine": machine, "copy_bandwidth": bw, "rows": rows}, indent=1)
        )
    if out_md:
        Path(out_md).parent.mkdir(parents=True, exist_ok=True)
        Path(out_md).write_text(text)
    return rows
