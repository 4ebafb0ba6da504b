"""Make the golden files: small inputs and what PyTorch's pooling functions give for them.

Run once, in a scratch virtual environment that has torch (never a poolcli dependency):

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python tests/golden/make_golden.py

It writes one ``<family>.npz`` per PyTorch function next to this file. Each case ``i`` holds
``{i}_x`` (the input, channels-last: NCHW -> (N, H, W, C), or (H, W, C) when N == 1;
NCDHW -> (D, H, W, C)), ``{i}_y`` (PyTorch's output in the same layout) and ``{i}_call``
(JSON: the ``poolcli.pool`` arguments that must give the same result, and how to compare).

``tests/test_golden.py`` imports ``cases()`` from here for its live comparison when torch
is importable, so the committed files and the live test share one list of cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _data(rng, shape, dtype, *, positive=False, specials=False):
    x = rng.standard_normal(shape) * 10.0
    if positive:
        x = np.abs(x) + 0.5
    if specials:
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size, 3)] = np.nan
        flat[rng.integers(0, flat.size, 2)] = -np.inf
        flat[rng.integers(0, flat.size, 2)] = np.inf
    return x.astype(dtype)


def _pairs(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def cases(seed: int = 0):
    """Yield (family, x_nc, torch_call, poolcli_call) for every case.

    ``x_nc`` is channels-first as PyTorch wants it; ``torch_call(torch, tensor)`` returns
    PyTorch's result; ``poolcli_call`` is the JSON-able dict of poolcli.pool arguments, plus
    ``compare``: "exact" (the same float operations in float64) or "close" (a different but
    equivalent order of operations), and for lp in ceil mode "lp_rescaled" (see test_golden.py).
    """
    rng = np.random.default_rng(seed)

    # ---- max_pool2d
    for shape, k, s, p, d, ceil, dtype, specials in [
        ((1, 3, 7, 9), 2, None, 0, 1, False, "float64", False),
        ((1, 3, 7, 9), 3, 2, 1, 1, False, "float64", False),
        ((1, 2, 7, 9), 3, 2, 1, 1, True, "float64", False),
        ((1, 2, 8, 8), 3, 1, 1, 2, False, "float64", False),
        ((1, 2, 9, 10), (2, 3), (1, 2), (1, 1), (2, 1), True, "float64", False),
        ((1, 1, 4, 7), 2, 3, 1, 1, True, "float64", False),  # ceil drops a window in the padding
        ((2, 3, 6, 7), 3, 2, 1, 1, True, "float32", False),
        ((1, 3, 8, 8), 2, None, 0, 1, False, "float64", True),  # NaN and infinities
        ((1, 2, 7, 7), 3, 2, 1, 1, True, "float32", True),
    ]:
        x = _data(rng, shape, dtype, specials=specials)
        yield ("max_pool2d", x,
               lambda t, v, k=k, s=s, p=p, d=d, ceil=ceil: t.nn.functional.max_pool2d(
                   v, k, s, p, d, ceil_mode=ceil),
               {"mode": "max", "size": _pairs(k), "stride": None if s is None else _pairs(s),
                "padding": _pairs(p), "dilation": _pairs(d), "ceil_mode": ceil, "compare": "exact"})

    # ---- avg_pool2d: the default divisor of PyTorch includes padding; poolcli's does not
    for shape, k, s, p, ceil, cip, dtype in [
        ((1, 3, 7, 9), 2, None, 0, False, True, "float64"),
        ((1, 3, 7, 9), 3, 2, 1, False, True, "float64"),
        ((1, 3, 7, 9), 3, 2, 1, False, False, "float64"),
        ((1, 2, 7, 9), 3, 2, 1, True, True, "float64"),
        ((1, 2, 7, 9), 3, 2, 1, True, False, "float64"),
        ((1, 2, 5, 5), 2, None, 0, True, True, "float64"),
        ((1, 2, 9, 8), (3, 2), (2, 1), (1, 0), False, False, "float64"),
        ((2, 3, 7, 6), 3, 2, 1, True, True, "float32"),
        ((1, 3, 7, 6), 2, 1, 1, False, False, "float32"),
    ]:
        x = _data(rng, shape, dtype)
        yield ("avg_pool2d", x,
               lambda t, v, k=k, s=s, p=p, ceil=ceil, cip=cip: t.nn.functional.avg_pool2d(
                   v, k, s, p, ceil_mode=ceil, count_include_pad=cip),
               {"mode": "avg", "size": _pairs(k), "stride": None if s is None else _pairs(s),
                "padding": _pairs(p), "ceil_mode": ceil, "count_include_pad": cip, "compare": "exact"})

    # ---- lp_pool2d = (avg_pool2d(x^p) * kh*kw)^(1/p): poolcli's lp with normalize=False.
    # Non-negative inputs: PyTorch raises x to p (negative for odd p), poolcli takes |x|^p.
    for shape, k, s, norm, ceil, dtype in [
        ((1, 3, 7, 9), 2, None, 2.0, False, "float64"),
        ((1, 3, 7, 9), 3, 2, 2.0, False, "float64"),
        ((1, 2, 8, 9), (2, 3), (2, 2), 3.0, False, "float64"),
        ((1, 2, 7, 9), 2, None, 3.0, False, "float32"),
        ((1, 2, 8, 10), 3, 2, 2.0, True, "float64"),  # partial windows: see "lp_rescaled"
        ((1, 2, 7, 8), 2, None, 3.0, True, "float64"),
    ]:
        x = _data(rng, shape, dtype, positive=True)
        yield ("lp_pool2d", x,
               lambda t, v, k=k, s=s, norm=norm, ceil=ceil: t.nn.functional.lp_pool2d(
                   v, norm, k, s, ceil_mode=ceil),
               {"mode": "lp", "size": _pairs(k), "stride": None if s is None else _pairs(s),
                "ceil_mode": ceil, "p": norm, "normalize": False,
                "compare": "lp_rescaled" if ceil else "close"})

    # ---- adaptive pooling: sizes that do not divide, outputs larger than half the input
    for shape, out, op, dtype in [
        ((1, 3, 7, 10), (3, 4), "max", "float64"),
        ((1, 3, 7, 10), (5, 7), "max", "float64"),
        ((1, 2, 7, 10), (9, 13), "max", "float64"),
        ((1, 2, 5, 5), (1, 1), "max", "float32"),
        ((1, 3, 7, 10), (3, 4), "avg", "float64"),
        ((1, 3, 7, 10), (5, 7), "avg", "float64"),
        ((2, 2, 7, 10), (9, 13), "avg", "float64"),
        ((1, 2, 11, 6), (4, 5), "avg", "float32"),
    ]:
        x = _data(rng, shape, dtype)
        fn = "adaptive_max_pool2d" if op == "max" else "adaptive_avg_pool2d"
        yield (fn, x,
               lambda t, v, out=out, fn=fn: getattr(t.nn.functional, fn)(v, out),
               {"mode": "adaptive", "output_size": list(out), "op": op,
                "compare": "exact" if op == "max" else "close"})

    # ---- fractional_max_pool2d with given samples: PyTorch's samples[..., 0] is the W
    # sample and [..., 1] the H sample; poolcli's samples=(uh, uw) is H first.
    # PyTorch computes the window starts (generate_intervals) in the tensor's dtype; poolcli
    # always in float64, so that the windows do not depend on the dtype (uint8 images have no
    # PyTorch counterpart). For float32 inputs a start can differ by one where (i + u) * alpha
    # lies within float32 rounding of a whole number (this case's W axis: 1.8 * 10/6 is
    # 3.0000000000000004 in float64, 2.9999998 in float32). The float32 case is therefore
    # pooled by PyTorch in float64 and cast back: the maximum itself is exact in either dtype.
    for shape, k, out, uh, uw, dtype in [
        ((1, 3, 10, 12), 2, (5, 7), 0.3, 0.8, "float64"),
        ((1, 2, 11, 9), 3, (4, 5), 0.55, 0.1, "float64"),
        ((1, 2, 9, 9), (2, 3), (6, 4), 0.0, 0.999, "float64"),
        ((1, 2, 13, 10), 2, (12, 9), 0.71, 0.29, "float64"),
        ((1, 3, 10, 12), 2, (5, 7), 0.3, 0.8, "float32"),
    ]:
        x = _data(rng, shape, dtype)
        n, c = shape[:2]
        samples = np.empty((n, c, 2), dtype=np.float64)
        samples[..., 0], samples[..., 1] = uw, uh
        yield ("fractional_max_pool2d", x,
               lambda t, v, k=k, out=out, samples=samples: t.nn.functional.fractional_max_pool2d(
                   v.double(), k, output_size=out, _random_samples=t.from_numpy(samples)).to(v.dtype),
               {"mode": "fractional", "size": _pairs(k), "output_size": list(out),
                "samples": [uh, uw], "compare": "exact"})

    # ---- 3-D: (N=1, C, D, H, W) -> (D, H, W, C), three-number sizes
    for shape, k, s, p, ceil, fn, cip, dtype in [
        ((1, 2, 4, 6, 7), 2, None, 0, False, "max_pool3d", None, "float64"),
        ((1, 2, 5, 6, 7), (2, 3, 3), (1, 2, 2), (1, 1, 1), False, "max_pool3d", None, "float64"),
        ((1, 3, 5, 7, 6), (3, 2, 3), 2, (1, 0, 1), True, "max_pool3d", None, "float32"),
        ((1, 2, 4, 6, 7), 2, None, 0, False, "avg_pool3d", True, "float64"),
        ((1, 2, 5, 6, 7), (2, 3, 3), (1, 2, 2), (1, 1, 1), True, "avg_pool3d", True, "float64"),
        ((1, 2, 5, 6, 7), (2, 3, 3), (1, 2, 2), (1, 1, 1), True, "avg_pool3d", False, "float64"),
        ((1, 3, 5, 7, 6), 3, 2, 1, False, "avg_pool3d", False, "float32"),
    ]:
        x = _data(rng, shape, dtype)
        triple = lambda v: list(v) if isinstance(v, (tuple, list)) else [v, v, v]  # noqa: E731
        call = {"mode": "max" if fn == "max_pool3d" else "avg", "size": triple(k),
                "stride": None if s is None else triple(s), "padding": triple(p), "ceil_mode": ceil,
                "compare": "exact"}
        if fn == "max_pool3d":
            torch_call = lambda t, v, k=k, s=s, p=p, ceil=ceil: t.nn.functional.max_pool3d(  # noqa: E731
                v, k, s, p, ceil_mode=ceil)
        else:
            call["count_include_pad"] = cip
            torch_call = lambda t, v, k=k, s=s, p=p, ceil=ceil, cip=cip: t.nn.functional.avg_pool3d(  # noqa: E731
                v, k, s, p, ceil_mode=ceil, count_include_pad=cip)
        yield (fn, x, torch_call, call)


def channels_last(a: np.ndarray) -> np.ndarray:
    """NCHW -> (N, H, W, C) ((H, W, C) when N == 1); NCDHW (N == 1) -> (D, H, W, C)."""
    if a.ndim == 5:
        assert a.shape[0] == 1
        return np.ascontiguousarray(np.moveaxis(a[0], 0, -1))
    y = np.moveaxis(a, 1, -1)
    return np.ascontiguousarray(y[0] if a.shape[0] == 1 else y)


def torch_result(torch, x_nc: np.ndarray, torch_call) -> np.ndarray:
    with torch.no_grad():
        return torch_call(torch, torch.from_numpy(x_nc)).numpy()


def main() -> None:
    import torch

    torch.use_deterministic_algorithms(True)
    families: dict[str, dict[str, np.ndarray]] = {}
    for family, x, torch_call, call in cases():
        arrays = families.setdefault(family, {})
        i = len(arrays) // 3
        y = torch_result(torch, x, torch_call)
        arrays[f"{i}_x"] = channels_last(x)
        arrays[f"{i}_y"] = channels_last(y)
        arrays[f"{i}_call"] = np.array(json.dumps(call))
    for family, arrays in families.items():
        arrays["torch_version"] = np.array(torch.__version__)
        np.savez_compressed(HERE / f"{family}.npz", **arrays)
        print(f"{family}.npz: {len(arrays) // 3} cases")


if __name__ == "__main__":
    main()
