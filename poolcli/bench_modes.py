"""Issue 14's kernels in ``poolcli bench``: mode, median, avg with nodata, max with indices and
blurpool, each against the peers that do the same job (``bench.run_kernels`` calls ``run``).

- mode, 2x2/s2, label maps (uint8 RGB and one channel, float32 RGB): tinybrain
  ``downsample_segmentation`` (integers only: it strides floats), ``scipy.stats.mode`` on the
  windows (per channel).
- median, 3x3/s2, photo-like uint8 and float32 RGB: ``scipy.ndimage.median_filter(size=3)``
  per channel then every 2nd value; scikit-image ``block_reduce(np.median)``, which is
  non-overlapping, so 3x3/s3 (the nearest it does; its row says so).
- avg nodata, 2x2/s2: float32 RGB with ~10% NaN (``nodata="nan"``), uint8 RGB with ~10%
  zeros (``nodata=0``): NumPy ``nanmean`` of the (H/2, 2, W/2, 2, C) windows (uint8 through
  float32 NaN).
- max+indices, 2x2/s2, uint8 and float32 RGB: PyTorch ``max_pool2d(return_indices=True)``.
- blurpool, filter 3, stride 2, uint8 and float32 RGB: kornia ``blur_pool2d`` (zero padding)
  and PyTorch reflect pad + depthwise ``conv2d`` with the binomial filter (antialiased_cnns'
  arithmetic); integers through float32.

A peer that is not installed, or cannot do a case, gives no row (and is named once in the
log), never an error. Peers with NumPy or SciPy inner loops in Python take seconds on 4096^2:
they are timed once (``SLOW``), the others as ``bench``'s median.
"""

from __future__ import annotations

import importlib.util

import numpy as np

#: (row name, window size, stride, mode options, data kind, shapes by dtype)
FULL = [
    ("mode", 2, 2, {}, "labels", [((4096, 4096, 3), "uint8"), ((4096, 4096, 1), "uint8"),
                                  ((4096, 4096, 3), "float32")]),
    ("median", 3, 2, {}, "photo", [((4096, 4096, 3), "uint8"), ((4096, 4096, 3), "float32")]),
    ("avg nodata", 2, 2, {}, "holes", [((4096, 4096, 3), "float32"), ((4096, 4096, 3), "uint8")]),
    ("max+indices", 2, 2, {}, "photo", [((4096, 4096, 3), "uint8"), ((4096, 4096, 3),
                                                                      "float32")]),
    ("blurpool", 3, 2, {}, "photo", [((4096, 4096, 3), "uint8"), ((4096, 4096, 3), "float32")]),
]
QUICK_SHAPES = {(4096, 4096, 3): (256, 256, 3), (4096, 4096, 1): (256, 256, 1)}

#: peers whose 4096^2 run takes seconds: one timed call
SLOW = ("scipy.stats.mode", "scipy median_filter", "scikit-image block_reduce (3x3/s3)",
        "numpy nanmean")


def cases(quick: bool = False) -> list[dict]:
    """The cases: dicts with shape, dtype, mode (the row name), size, stride, data."""
    out = []
    for name, k, s, opts, data, shapes in FULL:
        for shape, dtype in shapes:
            if quick:
                shape = QUICK_SHAPES[shape]
            out.append({"shape": shape, "dtype": dtype, "mode": name, "size": k, "stride": s,
                        "data": data, "opts": dict(opts)})
    return out


def make_array(case: dict, photo) -> np.ndarray:
    """The case's input: ``photo(shape, dtype)`` (bench's noise on gradients), label maps
    (four colours, so windows hold ties), or a photo with ~10% holes (NaN, or 0 for
    integers)."""
    shape, dtype = case["shape"], np.dtype(case["dtype"])
    rng = np.random.default_rng(3)
    if case["data"] == "labels":
        palette = np.array([[0, 0, 0], [200, 0, 0], [0, 0, 200], [0, 200, 0]])[:, : shape[2]]
        return np.ascontiguousarray(palette[rng.integers(0, 4, shape[:2])].astype(dtype))
    x = photo(shape, dtype)
    if case["data"] == "holes":
        hole = rng.random(shape) < 0.1
        x = np.where(hole, np.nan if dtype.kind == "f" else 0, x).astype(dtype)
        x = np.ascontiguousarray(x)
    return x


def nodata_of(case: dict):
    if case["mode"] != "avg nodata":
        return None
    return "nan" if np.dtype(case["dtype"]).kind == "f" else 0


# --------------------------------------------------------------------------------------------
# the peers: each (x, case) -> a zero-argument callable, or None when it cannot do the case


def _poolcli(backend):
    def make(x, case):
        from . import api, dispatch, modes

        name = case["mode"]
        opts: dict = {}
        size = case["size"]
        mode = {"avg nodata": "avg", "max+indices": "max"}.get(name, name)
        if name == "avg nodata":
            opts["nodata"] = nodata_of(case)
        if name == "max+indices":
            opts["return_indices"] = True
        if name == "blurpool":
            opts["filter_size"], size = size, 2
        x4 = api.as_dhwc(x)
        plan = api.make_plan(modes.MODES[mode], x4.shape, x4.dtype, size=size,
                             stride=case["stride"], opts=opts)
        be = dispatch.load(backend)
        return lambda: be.pool(x4, plan)

    return make


def _windows(x, k):
    """(H/k, W/k, C, k*k) view-copy of the non-overlapping k x k windows."""
    h, w, c = x.shape
    v = x[: h - h % k, : w - w % k].reshape(h // k, k, w // k, k, c)
    return v.transpose(0, 2, 4, 1, 3).reshape(h // k, w // k, c, k * k)


def _tinybrain(x, case):
    import tinybrain

    if case["mode"] != "mode" or x.dtype.kind not in "ui":
        return None  # floats: tinybrain strides (no mode)
    return lambda: tinybrain.downsample_segmentation(x, (2, 2, 1))[0]


def _scipy_mode(x, case):
    from scipy import stats

    if case["mode"] != "mode":
        return None
    return lambda: stats.mode(_windows(x, case["size"]), axis=-1).mode


def _scipy_median(x, case):
    from scipy import ndimage

    if case["mode"] != "median":
        return None
    k, s = case["size"], case["stride"]
    h, w, c = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1

    def run():
        out = np.empty((ho, wo, c), x.dtype)
        for ch in range(c):
            f = ndimage.median_filter(x[..., ch], size=k, mode="nearest")
            out[..., ch] = f[k // 2 :: s, k // 2 :: s][:ho, :wo]  # window centres
        return out

    return run


def _skimage_median(x, case):
    from skimage.measure import block_reduce

    if case["mode"] != "median":
        return None
    k = case["size"]
    return lambda: block_reduce(x, (k, k, 1), np.median)  # non-overlapping: k x k / s k


def _nanmean(x, case):
    if case["mode"] != "avg nodata":
        return None
    import warnings

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
            if x.dtype.kind == "f":
                return np.nanmean(_windows(x, 2), axis=-1).astype(x.dtype)
            f = np.where(x == 0, np.float32(np.nan), x.astype(np.float32))
            m = np.nanmean(_windows(f, 2), axis=-1)
            return np.where(np.isnan(m), 0, np.rint(m)).astype(x.dtype)

    return run


def _torch_nchw(x):
    import torch

    return torch.from_numpy(x).permute(2, 0, 1)[None]


def _torch_indices(x, case):
    import torch.nn.functional as F

    if case["mode"] != "max+indices":
        return None
    t = _torch_nchw(x)
    k, s = case["size"], case["stride"]
    return lambda: F.max_pool2d(t, k, s, return_indices=True)


def _binomial(f):
    from math import comb

    a = np.array([comb(f - 1, j) for j in range(f)], dtype=np.float32)
    return np.outer(a, a) / a.sum() ** 2


def _torch_blur(x, case):
    import torch
    import torch.nn.functional as F

    if case["mode"] != "blurpool":
        return None
    f, s = case["size"], case["stride"]
    c = x.shape[2]
    t = _torch_nchw(x)
    wt = torch.from_numpy(np.ascontiguousarray(np.broadcast_to(_binomial(f), (c, 1, f, f))))
    pad = ((f - 1) // 2, f // 2, (f - 1) // 2, f // 2)

    def run():
        v = t if t.dtype == torch.float32 else t.float()
        y = F.conv2d(F.pad(v, pad, mode="reflect"), wt, stride=s, groups=c)
        return y if x.dtype == np.float32 else y.round().clamp(0, 255).to(torch.uint8)

    return run


def _kornia(x, case):
    import kornia
    import torch

    if case["mode"] != "blurpool":
        return None
    t = _torch_nchw(x)

    def run():
        v = t if t.dtype == torch.float32 else t.float()
        y = kornia.filters.blur_pool2d(v, case["size"], stride=case["stride"])
        return y if x.dtype == np.float32 else y.round().clamp(0, 255).to(torch.uint8)

    return run


#: peer name -> (module that must be installed, builder)
PEERS = {
    "poolcli cpu": ("numba", _poolcli("cpu")),
    "tinybrain": ("tinybrain", _tinybrain),
    "scipy.stats.mode": ("scipy", _scipy_mode),
    "scipy median_filter": ("scipy", _scipy_median),
    "scikit-image block_reduce (3x3/s3)": ("skimage", _skimage_median),
    "numpy nanmean": ("numpy", _nanmean),
    "pytorch": ("torch", _torch_indices),
    "pytorch conv2d": ("torch", _torch_blur),
    "kornia": ("kornia", _kornia),
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run(backend, quick, bw, timer, photo, log=print, peers=None) -> list[dict]:
    """Time every case for poolcli (``backend``) and each installed peer -> bench's kernel
    rows. ``timer(fn, min_reps=, budget_s=)`` -> seconds (``bench._median_time``); ``photo``:
    ``bench._test_array``; ``bw``: ``bench.copy_bandwidth``'s result."""
    table = dict(PEERS)
    names = [n for n in (peers or PEERS) if n in PEERS]
    if backend != "cpu":
        table[f"poolcli {backend}"] = ("numba", _poolcli(backend))
        names = [f"poolcli {backend}" if n == "poolcli cpu" else n for n in names]
    missing = [n for n in names if not _installed(table[n][0])]
    for n in missing:
        log(f"peer not installed: {n}")
    rows: list[dict] = []
    for case in cases(quick):
        x = make_array(case, photo)
        h, w, c = case["shape"]
        k, s = case["size"], case["stride"]
        ho, wo = (h - k) // s + 1, (w - k) // s + 1
        if case["mode"] == "blurpool":
            ho, wo = -(-h // s), -(-w // s)
        moved = x.nbytes + ho * wo * c * x.itemsize * (1 + 8 // x.itemsize * (
            case["mode"] == "max+indices"))
        done = []
        for name in names:
            if name in missing:
                continue
            try:
                fn = table[name][1](x, case)
            except Exception as exc:  # noqa: BLE001 - a peer that cannot do this case
                log(f"  {name} cannot do {case['mode']} {case['dtype']}: "
                    f"{type(exc).__name__}: {exc}")
                continue
            if fn is None:
                continue
            try:
                if name in SLOW and h * w >= 2**22:
                    import time

                    t0 = time.perf_counter()
                    fn()
                    t = time.perf_counter() - t0
                else:
                    t = timer(fn, min_reps=3 if quick else 7, budget_s=0.2 if quick else 0.6)
            except Exception as exc:  # noqa: BLE001
                log(f"  {name} failed on {case['mode']} {case['dtype']}: "
                    f"{type(exc).__name__}: {exc}")
                continue
            gbs = moved / t / 1e9
            note = "3x3/s3 (non-overlapping)" if "block_reduce" in name else None
            row = {"shape": "x".join(map(str, case["shape"])), "dtype": case["dtype"],
                   "mode": case["mode"], "size": k, "stride": s, "impl": name, "ms": t * 1e3,
                   "gbs": gbs, "copy_fraction": gbs / bw["all_cores_gbs"], "note": note}
            rows.append(row)
            done.append(row)
        if done:
            best = min(done, key=lambda r: r["ms"])
            log(f"{done[0]['shape']} {case['dtype']:7} {k}x{k}/s{s} {case['mode']}: "
                + ", ".join(f"{r['impl']} {r['ms']:.2f} ms" for r in done)
                + f"  (best: {best['impl']})")
    return rows
