"""Golden files for the modes of issue 14 and the exactness items 1-2 of issue 12.

Run once, in a scratch virtual environment that holds the oracles (never poolcli dependencies):

    python3 -m venv /tmp/oracle
    /tmp/oracle/bin/pip install torch==2.13.0 numpy scipy antialiased-cnns tinybrain scikit-image mpmath
    /tmp/oracle/bin/python tests/golden/make_golden_modes.py

It does not import poolcli. It writes next to this file (tests/golden/MODES_ORACLES.md has the exact
definitions and the conventions of each oracle):

- ``mode.npz``: the most frequent whole pixel per window (all channels together), ties to the
  smallest pixel compared channel by channel (lexicographic), padding never votes, NaN pixels do
  not vote (all-NaN window -> NaN), ``ignore=V``. Oracle: ``scipy.stats.mode`` on pixels encoded as
  single integers (their rank in the lexicographically sorted ``numpy.unique(axis=0)`` of the
  image's pixels: scipy returns the smallest of the most frequent values, so the smallest rank =
  the smallest pixel), cross-checked against a plain ``collections.Counter`` implementation; and
  two cases equal to ``tinybrain.downsample_segmentation(img, (2, 2))`` (2x2 mode of a 2-D label
  map; only on maps whose every 2x2 block has a unique most frequent label, because tinybrain's
  tie rule differs: see MODES_ORACLES.md).
- ``median_quantile.npz``: per channel; ``median`` = the lower middle of the sorted valid cells
  (``torch.median``'s convention; checked against ``torch.median`` per window), ``even="mean"``
  = ``numpy.median``; ``quantile`` = ``numpy.quantile(window, q, method="linear")``. Integer
  outputs: ``np.rint`` (half to even) then clipped to the dtype. NaN propagates.
- ``nodata.npz``: max/min/avg/median (lower and mean) and 1-channel mode, with cells equal to
  ``nodata`` (a number or "nan") absent like padding: ``numpy.nanmax/nanmin/nanmean/nanmedian``
  (and ``nanquantile(method="lower")``) on float64 windows where nodata became NaN; ``min_valid``.
- ``indices.npz``: ``torch.nn.functional.max_pool2d(return_indices=True)`` on the CPU (contiguous
  NCHW tensors made from the channels-last arrays: ``x.transpose(2, 0, 1)[None]``), ``min`` as
  ``-max_pool2d(-x)``, ``adaptive_max_pool2d``, ``fractional_max_pool2d`` with explicit
  ``_random_samples``, ``max_pool3d``; and ``max_unpool2d``/``max_unpool3d`` of each back to
  the input size.
- ``blurpool.npz``: ``antialiased_cnns.BlurPool(channels=C, filt_size=F, stride=S,
  pad_type="reflect")`` run in float64 (``.double()``: its float32 taps k / 4**(F-1) are dyadic,
  so exact in float64 too), F in 1..7, S in 1..3; MaxBlurPool = ``nn.MaxPool2d(k, stride=1,
  padding, dilation)`` then ``BlurPool(stride=s)`` exactly as antialiased_cnns's models chain them.
- ``int64.npz``: max/min (and avg clipping) on int64/uint64 extremes with Python integers as the
  oracle; ``lp`` for large and infinite p with ``mpmath`` at 80 significant digits.

Each case ``i`` of a file holds ``{i}_x`` (the input, channels-last: (H, W), (H, W, C) or
(D, H, W, C)), ``{i}_y`` (the expected output, same layout and dtype as poolcli must give),
``{i}_call`` (JSON: the ``poolcli.pool`` keyword arguments, named as in issue 14, plus three keys
that are not arguments and must be dropped: ``compare`` ("exact": ``assert_array_equal``;
"close": ``assert_allclose`` with ``rtol`` given in the JSON), ``oracle`` (what produced ``y``)
and ``note``). ``indices.npz`` adds ``{i}_idx`` (int64, ``y``'s shape) and ``{i}_unpool`` (the
unpooled array, the input's shape) and ``{i}_unpool_size``. ``nodata.npz`` adds
``{i}_valid`` (bool, ``y``'s shape: False where the window had too few valid cells, i.e. the
mask a ``numpy.ma.MaskedArray`` result must carry).
"""

from __future__ import annotations

import collections
import itertools
import json
import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RNG = np.random.default_rng(20240614)


# ---------------------------------------------------------------- window geometry (PyTorch's)

def out_size(n, k, s, p, d, ceil):
    """PyTorch's pooling output size (pooling_output_shape in ATen)."""
    num = n + 2 * p - d * (k - 1) - 1
    if ceil:
        o = -(-num // s) + 1
        if (o - 1) * s >= n + p:  # the last window would start in the right-hand padding
            o -= 1
    else:
        o = num // s + 1
    return o


def axis_windows(n, k, s, p, d, ceil):
    """For each output position along one axis: the input indices of its cells inside the image."""
    return [[i * s - p + j * d for j in range(k) if 0 <= i * s - p + j * d < n]
            for i in range(out_size(n, k, s, p, d, ceil))]


def geometry(shape, size, stride, padding, dilation, ceil):
    """Per spatial axis window lists for a channels-last shape ((H, W[, C]) or (D, H, W, C))."""
    nd = len(size)
    return [axis_windows(shape[a], size[a], stride[a], padding[a], dilation[a], ceil) for a in range(nd)]


def windows(x, geo):
    """Yield (output index, cells) with cells of shape (m, C) in PyTorch's scan order."""
    nd = len(geo)
    x3 = x.reshape(x.shape[:nd] + (-1,))
    for out_idx in itertools.product(*[range(len(g)) for g in geo]):
        cells = [x3[pos] for pos in itertools.product(*[geo[a][out_idx[a]] for a in range(nd)])]
        yield out_idx, np.array(cells).reshape(len(cells), x3.shape[-1])


def check_geometry_with_torch(torch, shape, size, stride, padding, dilation, ceil):
    """Our window lists must give torch's max_pool output and indices on distinct values."""
    nd = len(size)
    sp = shape[:nd]
    vals = RNG.permutation(int(np.prod(sp))).astype(np.float64).reshape(sp)
    t = torch.from_numpy(vals)[None, None]
    fn = torch.nn.functional.max_pool2d if nd == 2 else torch.nn.functional.max_pool3d
    y, idx = fn(t, tuple(size), tuple(stride), tuple(padding), tuple(dilation), ceil_mode=ceil,
                return_indices=True)
    geo = geometry(vals.shape, size, stride, padding, dilation, ceil)
    mine = np.empty(tuple(len(g) for g in geo))
    for o, cells in windows(vals, geo):
        mine[o] = cells.max()
    assert mine.shape == tuple(y.shape[2:]), (mine.shape, y.shape)
    assert np.array_equal(mine, y[0, 0].numpy())
    flat = vals.reshape(-1)
    assert np.array_equal(flat[idx[0, 0].numpy()], mine)


def call_of(mode, size, stride, padding, dilation, ceil, **options):
    call = {"mode": mode, "size": list(size), "stride": list(stride), "padding": list(padding),
            "dilation": list(dilation), "ceil_mode": ceil}
    call.update(options)
    return call


def finish_int(v, dtype):
    """Round half to even, clip to the integer dtype (exact for the picks: they are integers)."""
    info = np.iinfo(dtype)
    return np.clip(np.rint(v), info.min, info.max).astype(dtype)


def _ints(shape, dtype, lo, hi):
    return RNG.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


# ---------------------------------------------------------------- mode

def mode_counter(cells, ignore=None):
    """Plain implementation: Counter over pixel tuples, the most frequent, ties to the smallest."""
    valid = [tuple(c.tolist()) for c in cells if not np.isnan(c.astype(np.float64)).any()]
    if ignore is not None:
        kept = [c for c in valid if not all(v == ignore for v in c)]
        if not kept and valid:
            return np.array(valid[0])  # the window holds nothing but V
        valid = kept
    if not valid:
        return None  # all NaN
    counts = collections.Counter(valid)
    best = max(counts.values())
    return np.array(min(c for c, n in counts.items() if n == best))


def mode_scipy(cells, codes_of, ignore=None):
    """scipy.stats.mode on pixel codes (ranks in the lexicographic order of the pixels)."""
    import scipy.stats
    keep = ~np.isnan(cells.astype(np.float64)).any(axis=1)
    if ignore is not None:
        not_v = ~(cells == ignore).all(axis=1)
        if (keep & not_v).any():
            keep &= not_v
    if not keep.any():
        return None
    codes = np.array([codes_of[tuple(c.tolist())] for c in cells[keep]])
    code = int(scipy.stats.mode(codes).mode)
    return np.array(next(p for p, r in codes_of.items() if r == code))


def mode_pool(x, geo, ignore=None):
    nd = len(geo)
    xc = x if x.ndim > nd else x[..., None]
    pixels = xc.reshape(-1, xc.shape[-1])
    pixels = pixels[~np.isnan(pixels.astype(np.float64)).any(axis=1)]
    uniq = np.unique(pixels, axis=0)  # sorted lexicographically, field by field
    codes_of = {tuple(p.tolist()): r for r, p in enumerate(uniq)}
    y = np.empty(tuple(len(g) for g in geo) + (xc.shape[-1],), dtype=x.dtype)
    for o, cells in windows(xc, geo):
        a = mode_counter(cells, ignore)
        b = mode_scipy(cells, codes_of, ignore)
        if a is None:
            assert b is None
            y[o] = np.nan
        else:
            assert np.array_equal(a, b), (a, b)
            y[o] = a
    return y if x.ndim > nd else y[..., 0]


def label_map(shape, dtype, labels):
    """Blocky label map: patches of a few labels, plus some noise, so windows have majorities."""
    h, w = shape[:2]
    coarse = RNG.integers(0, len(labels), size=((h + 2) // 3, (w + 2) // 3))
    idx = np.kron(coarse, np.ones((3, 3), int))[:h, :w]
    noise = RNG.random((h, w)) < 0.25
    idx[noise] = RNG.integers(0, len(labels), size=noise.sum())
    return np.asarray(labels, dtype=dtype)[idx]


def mode_cases(torch):
    out = []
    palette3 = [(0, 0, 0), (255, 0, 0), (0, 128, 255), (255, 255, 255), (0, 0, 1)]
    specs = [
        # (x, size, stride, padding, dilation, ceil, ignore, note)
        (label_map((12, 13), np.uint8, [0, 1, 2, 7, 255]), (2, 2), (2, 2), (0, 0), (1, 1), False, None,
         "uint8 2-D label map, 2x2"),
        (label_map((12, 13), np.uint8, [0, 1, 2, 7, 255])[..., None], (3, 3), (2, 2), (1, 1), (1, 1), True, None,
         "uint8 1-channel, padding never votes, ceil"),
        (label_map((9, 11), np.uint8, palette3), (3, 3), (2, 2), (1, 1), (1, 1), False, None,
         "uint8 RGB colour-coded labels: whole pixels vote"),
        (label_map((10, 12), np.uint8, palette3), (2, 2), (2, 2), (0, 0), (1, 1), False, None,
         "uint8 RGB 2x2: many 2-2 and 1-1-1-1 ties -> smallest pixel lexicographically"),
        (label_map((11, 10), np.uint16, [0, 3, 1000, 65535])[..., None], (3, 2), (2, 1), (1, 0), (1, 2), True, None,
         "uint16, dilation on W, ceil"),
        (label_map((10, 9), np.int32, [(-5, 0, 7), (-5, 0, 6), (2**31 - 1, -2**31, 0), (3, 3, 3)]),
         (2, 3), (1, 2), (1, 1), (2, 1), True, None, "int32 3-channel with negatives and extremes, dilation"),
        (label_map((8, 9), np.int32, [-1, 0, 1, 2**31 - 1]), (3, 3), (1, 1), (1, 1), (2, 2), False, None,
         "int32 1-channel (H, W), dilation 2, stride 1"),
        (_ints((9, 9), np.uint8, 0, 3), (3, 3), (3, 3), (0, 0), (1, 1), False, None,
         "uint8 few labels, ties everywhere"),
        (label_map((9, 10), np.uint8, [0, 4, 9]), (3, 3), (2, 2), (1, 1), (1, 1), False, 0,
         "ignore=0: label 0 does not vote unless the window holds only 0"),
        (label_map((9, 10), np.uint8, [(0, 0, 0), (0, 0, 9), (9, 0, 0)]), (2, 2), (2, 2), (0, 0), (1, 1), True,
         0, "ignore=0 on RGB: only pixels whose every channel is 0 are ignored; (0,0,9) votes"),
    ]
    # windows that hold only the ignored label
    x = specs[8][0].copy()
    x[:4, :4] = 0
    specs[8] = (x,) + specs[8][1:]
    x = specs[9][0].copy()
    x[:2, :4] = 0
    specs[9] = (x,) + specs[9][1:]
    # float label maps with NaN pixels (every channel of a NaN pixel is NaN)
    xf = label_map((8, 9), np.float32, [0.5, -2.0, 3.0, 1e30]).copy()
    xf[RNG.random((8, 9)) < 0.3] = np.nan
    xf[:2, :2] = np.nan
    specs.append((xf, (2, 2), (2, 2), (0, 0), (1, 1), True, None,
                  "float32 with NaN pixels: NaN does not vote, an all-NaN window gives NaN"))
    xf3 = label_map((7, 8), np.float64, [(0.5, 1.0, 0.0), (-1.0, 2.5, 3.0), (0.5, 1.0, 1.0)]).copy()
    xf3[RNG.random((7, 8)) < 0.3] = np.nan
    specs.append((xf3, (3, 3), (2, 2), (1, 1), (1, 1), True, None,
                  "float64 RGB with NaN pixels (all channels NaN), padding, ceil"))
    for x, size, stride, padding, dilation, ceil, ignore, note in specs:
        check_geometry_with_torch(torch, x.shape, size, stride, padding, dilation, ceil)
        geo = geometry(x.shape, size, stride, padding, dilation, ceil)
        y = mode_pool(x, geo, ignore)
        options = {} if ignore is None else {"ignore": ignore}
        call = call_of("mode", size, stride, padding, dilation, ceil, **options)
        call.update(compare="exact", oracle="scipy.stats.mode on lexicographic pixel ranks == Counter", note=note)
        out.append((x, y, call, {}))

    # tinybrain: 2x2 mode of 2-D label maps with a unique most frequent label in every block
    import tinybrain
    for shape, dtype in [((12, 12), np.uint8), ((8, 10), np.uint32)]:
        x = np.empty(shape, dtype)
        labels = [0, 1, 5, 200] if dtype == np.uint8 else [0, 7, 2**32 - 1, 123456]
        for r in range(0, shape[0], 2):
            for c in range(0, shape[1], 2):
                win, other1, other2 = RNG.choice(labels, 3, replace=False)
                n_win = RNG.integers(2, 5)
                block = [win] * n_win + [other1, other2][: 4 - n_win]
                block = RNG.permutation(np.array(block, dtype))
                x[r:r + 2, c:c + 2] = block.reshape(2, 2)
        tb = tinybrain.downsample_segmentation(x, (2, 2))[0]
        geo = geometry(x.shape, (2, 2), (2, 2), (0, 0), (1, 1), False)
        y = mode_pool(x, geo)
        assert np.array_equal(tb, y), "tinybrain disagrees on unique-majority blocks"
        call = call_of("mode", (2, 2), (2, 2), (0, 0), (1, 1), False, compare="exact",
                       oracle=f"tinybrain {tinybrain.__version__} "
                       "downsample_segmentation(x, (2, 2)) == scipy == Counter",
                       note="every 2x2 block has a unique most frequent label (tinybrain's tie rule differs)")
        out.append((x, y, call, {}))
    return out


# ---------------------------------------------------------------- median and quantile

def per_channel_pool(x, geo, reduce, out_dtype):
    """Apply reduce(values_1d) per channel per window; x is (spatial..., C) or spatial only."""
    nd = len(geo)
    xc = x if x.ndim > nd else x[..., None]
    y = np.empty(tuple(len(g) for g in geo) + (xc.shape[-1],), dtype=np.float64)
    for o, cells in windows(xc, geo):
        for c in range(xc.shape[-1]):
            y[o + (c,)] = reduce(cells[:, c].astype(np.float64))
    if np.issubdtype(x.dtype, np.integer):
        frac = np.abs(y - np.floor(y) - 0.5)
        NEAR_HALF.append(int(((frac > 0) & (frac < 1e-9)).sum()))  # ties that float error could flip
        y = finish_int(y, x.dtype)
    else:
        y = y.astype(out_dtype)
    return y if x.ndim > nd else y[..., 0]


NEAR_HALF: list[int] = []


def lower_median(torch):
    def f(v):
        lower = np.sort(v)[(len(v) - 1) // 2] if not np.isnan(v).any() else np.nan
        t = float(torch.median(torch.from_numpy(v)))
        assert (np.isnan(lower) and np.isnan(t)) or lower == t, (v, lower, t)
        assert np.isnan(lower) or lower == np.quantile(v, 0.5, method="lower")
        return lower
    return f


def median_quantile_cases(torch):
    out = []
    f64 = RNG.standard_normal((7, 9, 3)) * 10
    u8 = _ints((8, 9, 3), np.uint8, 0, 255)
    u8_small = _ints((8, 9, 2), np.uint8, 0, 5)  # many half-way means: (2 + 3) / 2 -> 2, (3 + 4) / 2 -> 4
    i16 = _ints((9, 8, 2), np.int16, -32768, 32767)
    f32nan = (RNG.standard_normal((8, 8, 2)) * 5).astype(np.float32)
    f32nan.reshape(-1)[RNG.integers(0, f32nan.size, 6)] = np.nan
    f32nan.reshape(-1)[RNG.integers(0, f32nan.size, 3)] = np.inf
    f32nan.reshape(-1)[RNG.integers(0, f32nan.size, 3)] = -np.inf
    vol = _ints((4, 5, 6, 2), np.uint8, 0, 255)
    plain = (RNG.standard_normal((7, 8)) * 3).astype(np.float64)
    geos = [
        # (x, size, stride, padding, dilation, ceil, note)
        (f64, (3, 3), (2, 2), (1, 1), (1, 1), False, "float64, padding (partial windows: even counts)"),
        (f64, (2, 2), (2, 2), (0, 0), (1, 1), True, "float64 2x2 (count 4: even), ceil"),
        (u8, (2, 2), (2, 2), (0, 0), (1, 1), False, "uint8 2x2"),
        (u8_small, (2, 2), (1, 1), (0, 0), (1, 1), False, "uint8 small values: half-way means"),
        (i16, (2, 3), (1, 2), (1, 1), (2, 1), True, "int16 extremes, dilation, ceil"),
        (f32nan, (3, 3), (2, 2), (1, 1), (1, 1), True, "float32 with NaN and +-inf: NaN propagates"),
        (vol, (2, 2, 2), (2, 2, 2), (0, 0, 0), (1, 1, 1), True, "3-D window on (D, H, W, C), ceil"),
        (plain, (3, 2), (2, 2), (1, 0), (1, 1), False, "(H, W) float64"),
    ]
    for x, size, stride, padding, dilation, ceil, note in geos:
        check_geometry_with_torch(torch, x.shape, size, stride, padding, dilation, ceil)
        geo = geometry(x.shape, size, stride, padding, dilation, ceil)
        y = per_channel_pool(x, geo, lower_median(torch), x.dtype)
        out.append((x, y, call_of("median", size, stride, padding, dilation, ceil, compare="exact",
                                  oracle="sorted[(n-1)//2] == torch.median == numpy.quantile(method='lower')",
                                  note=note), {}))
        y = per_channel_pool(x, geo, np.median, x.dtype)
        exact = np.issubdtype(x.dtype, np.integer) or x.dtype == np.float64
        out.append((x, y, call_of("median", size, stride, padding, dilation, ceil, even="mean",
                                  compare="exact" if exact else "close", rtol=1e-6,
                                  oracle="numpy.median (float64, then rint+clip for integers)", note=note), {}))
    # numpy.quantile's linear method is not a usable oracle where a window holds +-inf: its lerp
    # a + (b - a) * t (b - (b - a) * (1 - t) for t >= 0.5) gives NaN from inf - inf even where the
    # answer is a plain pick: np.quantile([1, 2, inf], 1.0) and np.quantile([1, 2, inf], 0.5) are NaN
    # (np.median gives 2.0; torch.quantile is NaN too). So the quantile cases hold NaN but no inf.
    f32q = np.where(np.isinf(f32nan), np.float32(7.25), f32nan)
    qgeo_f32 = (f32q,) + geos[5][1:6] + ("float32 with NaN (no inf: see above): NaN propagates",)
    qs = [0.0, 0.1, 0.25, 1 / 3, 0.5, 0.75, 0.9, 1.0]
    for (x, size, stride, padding, dilation, ceil, note), q in zip(
            [geos[0], geos[2], geos[4], qgeo_f32, geos[6], geos[3], geos[0], geos[2]], qs):
        assert not np.isinf(x).any()
        geo = geometry(x.shape, size, stride, padding, dilation, ceil)
        y = per_channel_pool(x, geo, lambda v, q=q: np.quantile(v, q, method="linear"), x.dtype)
        exact = np.issubdtype(x.dtype, np.integer) or q in (0.0, 1.0)
        assert NEAR_HALF[-1] == 0, f"integer quantile q={q}: a value within 1e-9 of a .5 tie"
        out.append((x, y, call_of("quantile", size, stride, padding, dilation, ceil, q=q,
                                  compare="exact" if exact else "close", rtol=1e-12 if x.dtype == np.float64 else 1e-6,
                                  oracle="numpy.quantile(float64 window, q, method='linear')", note=note), {}))
    return out


# ---------------------------------------------------------------- nodata

def nodata_pool(x, geo, op, nodata, min_valid):
    """Per channel: cells equal to nodata (or NaN) become NaN in float64; numpy's nan* reduce."""
    nd = len(geo)
    xc = x if x.ndim > nd else x[..., None]
    v = xc.astype(np.float64)
    if nodata != "nan":
        v[xc == nodata] = np.nan
    fill = np.nan if nodata == "nan" else float(nodata)
    y = np.empty(tuple(len(g) for g in geo) + (xc.shape[-1],), dtype=np.float64)
    valid_out = np.empty(y.shape, dtype=bool)
    reducers = {"max": np.nanmax, "min": np.nanmin, "avg": np.nanmean, "median_mean": np.nanmedian,
                "median": lambda a: np.nanquantile(a, 0.5, method="lower")}
    for o, cells in windows(v, geo):
        inside = cells.shape[0]
        for c in range(xc.shape[-1]):
            a = cells[:, c]
            n_valid = int((~np.isnan(a)).sum())
            need = 1 if min_valid is None else min_valid * inside  # float product, like the code will
            ok = n_valid >= need and n_valid > 0
            valid_out[o + (c,)] = ok
            if not ok:
                y[o + (c,)] = fill
            elif op == "mode":
                vals = a[~np.isnan(a)]
                counts = collections.Counter(vals.tolist())
                best = max(counts.values())
                y[o + (c,)] = min(k for k, n in counts.items() if n == best)
            else:
                y[o + (c,)] = reducers[op](a)
    if np.issubdtype(x.dtype, np.integer):
        y = finish_int(y, x.dtype)
    else:
        y = y.astype(x.dtype)
    if x.ndim == nd:
        y, valid_out = y[..., 0], valid_out[..., 0]
    return y, valid_out


def nodata_cases(torch):
    out = []
    f32 = (RNG.standard_normal((9, 10, 2)) * 4).astype(np.float32)
    f32[RNG.random(f32.shape) < 0.3] = np.nan
    f32[:2, :2, :] = np.nan  # an all-NaN window
    u16 = _ints((8, 9, 3), np.uint16, 1, 65535)
    u16[RNG.random(u16.shape) < 0.35] = 0
    u16[2:4, 2:4, 1] = 0
    i16 = _ints((9, 9), np.int16, -300, 300)
    i16[RNG.random(i16.shape) < 0.4] = -9999
    i16[6:, 6:] = -9999
    f64 = RNG.standard_normal((8, 8, 1)) * 2
    f64[RNG.random(f64.shape) < 0.4] = -1.0
    u8 = _ints((10, 9), np.uint8, 0, 3)  # labels 1..3, 0 = nodata
    u8[:2, :2] = 0
    specs = [
        # (x, nodata, ops, size, stride, padding, dilation, ceil, min_valid, note)
        (f32, "nan", ["max", "min", "avg", "median", "median_mean"], (2, 2), (2, 2), (0, 0), (1, 1), True, None,
         "float32 NaN holes, nodata='nan'"),
        (f32, "nan", ["avg", "max"], (3, 3), (2, 2), (1, 1), (1, 1), True, None,
         "float32 NaN holes with padding: both absent from the divisor"),
        (u16, 0, ["max", "min", "avg", "median", "median_mean"], (3, 3), (2, 2), (1, 1), (1, 1), False, None,
         "uint16 RGB nodata=0 per channel (a channel's cell equal to 0 is absent from that channel only)"),
        (i16, -9999, ["max", "min", "avg", "median"], (2, 3), (2, 2), (0, 1), (1, 1), True, None,
         "int16 (H, W) nodata=-9999"),
        (i16, -9999, ["avg"], (3, 3), (1, 1), (1, 1), (2, 2), False, None, "int16 nodata, dilation 2"),
        (f64, -1.0, ["avg", "max"], (2, 2), (2, 2), (0, 0), (1, 1), False, 0.5,
         "min_valid=0.5: 2 valid of 4 is enough (2 >= 0.5 * 4), 1 is not"),
        (f64, -1.0, ["avg", "min"], (3, 3), (2, 2), (1, 1), (1, 1), True, 0.75,
         "min_valid=0.75 of the cells inside the image (padding does not count)"),
        (f64, -1.0, ["max"], (2, 2), (1, 1), (0, 0), (1, 1), False, 1.0, "min_valid=1: any nodata cell -> nodata"),
        (f32, "nan", ["avg"], (2, 2), (2, 2), (0, 0), (1, 1), True, 0.5, "min_valid with NaN"),
        (u8, 0, ["mode"], (2, 2), (2, 2), (0, 0), (1, 1), True, None, "mode 1-channel, nodata=0 does not vote"),
        (u8, 0, ["mode"], (3, 3), (2, 2), (1, 1), (1, 1), False, 0.5, "mode with min_valid=0.5"),
    ]
    for x, nodata, ops, size, stride, padding, dilation, ceil, min_valid, note in specs:
        check_geometry_with_torch(torch, x.shape, size, stride, padding, dilation, ceil)
        geo = geometry(x.shape, size, stride, padding, dilation, ceil)
        for op in ops:
            y, valid = nodata_pool(x, geo, op, nodata, min_valid)
            mode = "median" if op.startswith("median") else op
            options = {"nodata": nodata}
            if op == "median_mean":
                options["even"] = "mean"
            if min_valid is not None:
                options["min_valid"] = min_valid
            exact = (op in ("max", "min", "median", "mode") or x.dtype == np.float64
                     or np.issubdtype(x.dtype, np.integer))
            call = call_of(mode, size, stride, padding, dilation, ceil, **options,
                           compare="exact" if exact else "close", rtol=1e-6,
                           oracle="numpy nanmax/nanmin/nanmean/nanmedian/nanquantile(lower) on float64, "
                                  "nodata -> NaN; Counter for mode", note=note)
            out.append((x, y, call, {"valid": valid}))
    return out


# ---------------------------------------------------------------- indices and unpooling

def to_nchw(x):
    """Channels-last (H, W, C) / (H, W) -> contiguous (1, C, H, W); (D, H, W, C) -> (1, C, D, H, W)."""
    if x.ndim == 2:
        x = x[..., None]
    return np.ascontiguousarray(np.moveaxis(x, -1, 0)[None])


def from_nchw(a, two_d):
    y = np.ascontiguousarray(np.moveaxis(a[0], 0, -1))
    return y[..., 0] if two_d else y


def indices_cases(torch):
    F = torch.nn.functional
    out = []

    def unpool2d(y, i, shp):
        # F.max_unpool2d's Python wrapper refuses an output_size outside (default - stride, default +
        # stride) exclusive, default = (out - 1) * stride + k - 2 * padding (it ignores dilation and
        # ceil mode); the ATen op it calls is the plain scatter, so call that with the input's size.
        # torch's CPU max_unpool2d has no integer kernels ("not implemented for 'Byte'/'Long'"):
        # integer cases use the NumPy scatter below as their unpool oracle.
        if not y.is_floating_point():
            return None
        return torch._C._nn.max_unpool2d(y, i, list(shp))

    def add(x, y_t, idx_t, call, unpool_fn):
        two_d = x.ndim == 2
        y = from_nchw(y_t.numpy(), two_d).astype(x.dtype)
        idx = from_nchw(idx_t.numpy(), two_d)
        assert idx.dtype == np.int64
        un_t = unpool_fn(y_t, idx_t)
        # independent check: zeros, then each channel's plane/volume gets y at its flat indices
        xc = x if not two_d else x[..., None]
        yc, ic = (y, idx) if not two_d else (y[..., None], idx[..., None])
        scatter = np.zeros(xc.shape, x.dtype)
        for c in range(xc.shape[-1]):
            plane = scatter[..., c].reshape(-1)
            plane[ic[..., c].reshape(-1)] = yc[..., c].reshape(-1)
            scatter[..., c] = plane.reshape(xc.shape[:-1])
            # the index points at a cell holding the output value (NaN where NaN)
            assert np.array_equal(xc[..., c].reshape(-1)[ic[..., c].reshape(-1)], yc[..., c].reshape(-1),
                                  equal_nan=xc.dtype.kind == "f")
        scatter = scatter if not two_d else scatter[..., 0]
        if un_t is None:
            un = scatter
            call["oracle"] += " (unpool: NumPy scatter; torch has no integer max_unpool2d)"
        else:
            un = from_nchw(un_t.numpy(), two_d).astype(x.dtype)
            assert np.array_equal(scatter, un, equal_nan=x.dtype.kind == "f")
        out.append((x, y, call, {"idx": idx, "unpool": un, "unpool_size": np.array(x.shape[:-1] if not two_d
                                                                                  else x.shape)}))

    ties = RNG.integers(0, 3, (7, 9, 2)).astype(np.float64)
    nanx = RNG.standard_normal((8, 8, 2))
    nanx.reshape(-1)[RNG.integers(0, nanx.size, 10)] = np.nan
    nanx[0:2, 0:2, 0] = [[np.nan, 1.0], [np.nan, np.nan]]
    neginf = RNG.standard_normal((6, 7, 1))
    neginf[:3, :3, 0] = -np.inf
    specs = [
        # (x, size, stride, padding, dilation, ceil, note)
        (RNG.standard_normal((7, 9, 3)), (3, 3), (2, 2), (1, 1), (1, 1), False, "float64, padding"),
        (RNG.standard_normal((7, 9, 3)).astype(np.float32), (2, 2), (2, 2), (0, 0), (1, 1), True, "float32 ceil"),
        (ties, (3, 3), (2, 2), (1, 1), (1, 1), True, "ties: the first cell in scan order (row-major) wins"),
        (ties, (2, 3), (1, 2), (1, 1), (2, 1), True, "ties with dilation"),
        (nanx, (2, 2), (2, 2), (0, 0), (1, 1), False,
         "NaN: the LAST NaN in scan order wins (torch: if val > max or isnan(val))"),
        (nanx, (3, 3), (2, 2), (1, 1), (2, 2), True, "NaN with dilation, padding, ceil"),
        (neginf, (3, 3), (2, 2), (1, 1), (1, 1), False,
         "an all -inf window: the index of its first cell inside the image"),
        (_ints((8, 9, 3), np.uint8, 0, 4), (2, 2), (2, 2), (0, 0), (1, 1), False, "uint8 (torch CPU takes it)"),
        (_ints((9, 8), np.int64, -2**63, 2**63 - 1), (3, 3), (2, 2), (1, 1), (1, 1), True, "int64 (H, W)"),
    ]
    for x, size, stride, padding, dilation, ceil, note in specs:
        xt = torch.from_numpy(to_nchw(x))
        y, idx = F.max_pool2d(xt, size, stride, padding, dilation, ceil_mode=ceil, return_indices=True)
        # channels_last memory format must agree (a different CPU kernel)
        y2, idx2 = F.max_pool2d(xt.contiguous(memory_format=torch.channels_last), size, stride, padding, dilation,
                                ceil_mode=ceil, return_indices=True)
        assert torch.equal(idx, idx2) and np.array_equal(y.numpy(), y2.numpy(), equal_nan=True), note
        un = lambda y, i, size=size, stride=stride, padding=padding, shp=xt.shape[2:]: unpool2d(y, i, shp)  # noqa: E731
        add(x, y, idx, call_of("max", size, stride, padding, dilation, ceil, return_indices=True, compare="exact",
                               oracle="torch max_pool2d(return_indices=True) CPU, max_unpool2d", note=note), un)
    # min: -max_pool2d(-x) (finite and NaN data; signed integers widened to int64 first)
    for x, size, stride, padding, dilation, ceil, note in [specs[0], specs[2], specs[3], specs[4], specs[7]]:
        xt = torch.from_numpy(to_nchw(x))
        neg = -(xt.to(torch.int64) if not xt.is_floating_point() else xt)
        y, idx = F.max_pool2d(neg, size, stride, padding, dilation, ceil_mode=ceil, return_indices=True)
        y = -y
        un = lambda y, i, size=size, stride=stride, padding=padding, shp=xt.shape[2:]: unpool2d(y.double(), i, shp)  # noqa: E731
        add(x, y, idx, call_of("min", size, stride, padding, dilation, ceil, return_indices=True, compare="exact",
                               oracle="-torch max_pool2d(-x, return_indices=True), max_unpool2d",
                               note="min: " + note), un)
    # adaptive
    for x, osz in [(RNG.standard_normal((7, 10, 3)), (3, 4)), (RNG.standard_normal((7, 10, 2)), (5, 7)),
                   (ties, (4, 5)), (nanx, (3, 3))]:
        xt = torch.from_numpy(to_nchw(x))
        y, idx = F.adaptive_max_pool2d(xt, osz, return_indices=True)
        un = lambda y, i, shp=xt.shape[2:]: unpool2d(y, i, shp)  # noqa: E731
        add(x, y, idx, {"mode": "adaptive", "op": "max", "output_size": list(osz), "return_indices": True,
                        "compare": "exact", "oracle": "torch adaptive_max_pool2d(return_indices=True), max_unpool2d",
                        "note": "bins [floor(i*n/out), ceil((i+1)*n/out))"}, un)
    # fractional: torch's samples[..., 0] is the W sample, [..., 1] the H sample
    for x, k, osz, uh, uw in [(RNG.standard_normal((10, 12, 3)), 2, (5, 7), 0.3, 0.8),
                              (ties, 2, (4, 5), 0.55, 0.1), (RNG.standard_normal((11, 9, 2)), 3, (4, 5), 0.0, 0.999)]:
        xt = torch.from_numpy(to_nchw(x))
        samples = torch.empty((1, xt.shape[1], 2), dtype=torch.float64)
        samples[..., 0], samples[..., 1] = uw, uh
        y, idx = F.fractional_max_pool2d(xt, k, output_size=osz, return_indices=True, _random_samples=samples)
        un = lambda y, i, shp=xt.shape[2:]: unpool2d(y, i, shp)  # noqa: E731
        add(x, y, idx, {"mode": "fractional", "size": [k, k], "output_size": list(osz), "samples": [uh, uw],
                        "return_indices": True, "compare": "exact",
                        "oracle": "torch fractional_max_pool2d(_random_samples=[[uw, uh]]*C, return_indices=True)",
                        "note": "samples given H first to poolcli"}, un)
    # 3-D
    for x, size, stride, padding, ceil in [(RNG.standard_normal((4, 6, 7, 2)), (2, 2, 2), (2, 2, 2), (0, 0, 0), False),
                                           (RNG.integers(0, 3, (5, 6, 7, 2)).astype(np.float64), (2, 3, 3),
                                            (1, 2, 2), (1, 1, 1), True)]:
        xt = torch.from_numpy(to_nchw(x))
        y, idx = F.max_pool3d(xt, size, stride, padding, ceil_mode=ceil, return_indices=True)
        un = lambda y, i, size=size, stride=stride, padding=padding, shp=xt.shape[2:]: torch._C._nn.max_unpool3d(  # noqa: E731
            y, i, list(shp), list(stride), list(padding))
        add(x, y, idx, call_of("max", size, stride, padding, (1, 1, 1), ceil, return_indices=True, compare="exact",
                               oracle="torch max_pool3d(return_indices=True), max_unpool3d",
                               note="index d*H*W + h*W + w per channel volume"), un)
    return out


# ---------------------------------------------------------------- blurpool

def blurpool_cases(torch):
    import antialiased_cnns
    out = []
    combos = [(f, s) for f in range(1, 8) for s in (1, 2, 3)]
    for n, (f, s) in enumerate(combos):
        h, w = (7 + n % 3, 8 + (n // 3) % 2 * 3)  # odd and even sizes (7..9 x 8 or 11)
        c = 2 + n % 2
        x = RNG.standard_normal((h, w, c)) * 50
        pool = antialiased_cnns.BlurPool(channels=c, filt_size=f, stride=s, pad_type="reflect").double()
        with torch.no_grad():
            y = from_nchw(pool(torch.from_numpy(to_nchw(x))).numpy(), False)
        assert y.shape[:2] == (-(-h // s), -(-w // s))
        out.append((x, y, {"mode": "blurpool", "filter_size": f, "stride": s, "compare": "close", "rtol": 1e-13,
                           "oracle": "antialiased_cnns.BlurPool(C, filt_size=F, stride=S, pad_type='reflect').double()",
                           "note": f"F={f} S={s} {h}x{w}"}, {}))
    # integers: rint + clip; default F = 3; (H, W) input
    for x, f, s in [(_ints((9, 10, 3), np.uint8, 0, 255), 3, 2), (_ints((8, 7), np.uint8, 0, 255), 4, 2),
                    (_ints((9, 9, 1), np.int16, -32768, 32767), 5, 2)]:
        xf = x.astype(np.float64)
        pool = antialiased_cnns.BlurPool(channels=1 if x.ndim == 2 else x.shape[2], filt_size=f, stride=s).double()
        with torch.no_grad():
            y = from_nchw(pool(torch.from_numpy(to_nchw(xf))).numpy(), x.ndim == 2)
        call = {"mode": "blurpool", "stride": s, "compare": "exact",
                "oracle": "antialiased_cnns.BlurPool float64, np.rint, clip", "note": "integer input"}
        if f != 3:
            call["filter_size"] = f
        out.append((x, finish_int(y, x.dtype), call, {}))
    # float32 input: computed in float64 and cast
    x = (RNG.standard_normal((8, 9, 3)) * 10).astype(np.float32)
    pool = antialiased_cnns.BlurPool(channels=3, filt_size=3, stride=2).double()
    with torch.no_grad():
        y = from_nchw(pool(torch.from_numpy(to_nchw(x.astype(np.float64)))).numpy(), False).astype(np.float32)
    out.append((x, y, {"mode": "blurpool", "filter_size": 3, "stride": 2, "compare": "close", "rtol": 1e-6,
                       "oracle": "BlurPool in float64, cast to float32", "note": "float32"}, {}))
    # MaxBlurPool: nn.MaxPool2d(k, stride=1, padding, dilation) then BlurPool(stride=s), as the models do
    for k, s, f, p, d, shape in [(2, 2, 3, 0, 1, (9, 10, 3)),   # resnet / vgg: MaxPool2d(2, 1) + BlurPool(s=2)
                                 (3, 2, 4, 1, 1, (8, 9, 2)),    # densenet: MaxPool2d(3, 1, padding=1) + BlurPool
                                 (3, 2, 5, 0, 1, (11, 12, 2)),  # alexnet: MaxPool2d(3, 1) + BlurPool
                                 (2, 3, 3, 1, 2, (10, 9, 1)),
                                 (3, 2, 1, 1, 1, (7, 8, 3))]:
        x = RNG.standard_normal(shape) * 20
        seq = torch.nn.Sequential(torch.nn.MaxPool2d(k, stride=1, padding=p, dilation=d),
                                  antialiased_cnns.BlurPool(channels=shape[2], filt_size=f, stride=s)).double()
        with torch.no_grad():
            y = from_nchw(seq(torch.from_numpy(to_nchw(x))).numpy(), False)
        out.append((x, y, {"mode": "max", "size": [k, k], "stride": [s, s], "padding": [p, p], "dilation": [d, d],
                           "antialias": True, "filter_size": f, "compare": "close", "rtol": 1e-13,
                           "oracle": "nn.Sequential(nn.MaxPool2d(k, 1, p, d), antialiased_cnns.BlurPool(C, F, s))",
                           "note": "MaxBlurPool"}, {}))
    return out


# ---------------------------------------------------------------- 64-bit integers, lp with large p

def lp_exact(x, size, stride, p, normalize, dtype):
    """Power mean of |x| per channel with mpmath at 80 digits; no padding in these cases."""
    import mpmath
    mpmath.mp.dps = 80
    geo = geometry(x.shape, size, stride, (0, 0), (1, 1), False)
    xc = x if x.ndim > 2 else x[..., None]
    y = np.empty(tuple(len(g) for g in geo) + (xc.shape[-1],), dtype=object)
    for o, cells in windows(xc.astype(object), geo):
        for c in range(xc.shape[-1]):
            vals = [abs(mpmath.mpf(int(v)) if isinstance(v, (int, np.integer)) else mpmath.mpf(float(v)))
                    for v in cells[:, c]]
            if math.isinf(p):
                r = max(vals)
            else:
                s = mpmath.fsum(v ** p for v in vals)
                r = (s / len(vals) if normalize else s) ** (mpmath.mpf(1) / p)
            y[o + (c,)] = r
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        # round half to even in exact arithmetic, then clip
        # no value may sit within 1e-9 of a .5 tie (a float64 computation could round either way)
        assert all(abs(r - mpmath.floor(r) - mpmath.mpf(0.5)) > mpmath.mpf(1e-9) for r in y.ravel())
        f = np.vectorize(lambda r: min(max(int(mpmath.nint(r)), info.min), info.max), otypes=[object])(y)
        res = np.array(f.tolist(), dtype=dtype)
    else:
        res = np.array(np.vectorize(lambda r: float(r), otypes=[np.float64])(y), dtype=np.float64).astype(dtype)
    return res if x.ndim > 2 else res[..., 0]


def int64_cases(torch):
    out = []

    def exact_minmax(x, op, size=(2, 2), stride=(2, 2), padding=(0, 0), ceil=False, note=""):
        geo = geometry(x.shape, size, stride, padding, (1, 1), ceil)
        xc = x if x.ndim > 2 else x[..., None]
        y = np.empty(tuple(len(g) for g in geo) + (xc.shape[-1],), dtype=x.dtype)
        for o, cells in windows(xc.astype(object), geo):  # Python ints: exact
            for c in range(xc.shape[-1]):
                vals = [int(v) for v in cells[:, c]]
                y[o + (c,)] = max(vals) if op == "max" else min(vals)
        y = y if x.ndim > 2 else y[..., 0]
        out.append((x, y, call_of(op, size, stride, padding, (1, 1), ceil, compare="exact",
                                  oracle="Python int max/min", note=note), {}))

    a = np.array([[2**63 - 1, -2**63], [0, 1]], np.int64)
    exact_minmax(a, "max", note="issue 12 item 1: max is 2**63-1 (not -2**63 via float64)")
    exact_minmax(a, "min", note="issue 12 item 1")
    b = np.array([[2**53 + 1, 2**53], [0, 1]], np.int64)
    exact_minmax(b, "max", note="2**53+1 stays 2**53+1")
    b2 = np.array([[-(2**53) - 1, -(2**53)], [0, -1]], np.int64)
    exact_minmax(b2, "min", note="-(2**53)-1 stays")
    c = np.array([[2**64 - 5, 0], [1, 2]], np.uint64)
    exact_minmax(c, "max", note="uint64 2**64-5 stays (not 2**64-1)")
    c2 = np.array([[2**64 - 5, 2**64 - 4], [2**64 - 3, 2**64 - 1]], np.uint64)
    exact_minmax(c2, "min", note="uint64 near the top")
    big = np.array([2**63 - 1, 2**63 - 2, -2**63, -2**63 + 1, 2**53 + 1, 2**53, -(2**53) - 1, 0], np.int64)
    r = big[RNG.integers(0, len(big), (7, 6, 2))]
    exact_minmax(r, "max", (3, 3), (2, 2), (1, 1), True, "int64 extremes, padding, ceil")
    exact_minmax(r, "min", (3, 3), (2, 2), (1, 1), True, "int64 extremes, padding, ceil")
    ubig = np.array([2**64 - 1, 2**64 - 2, 2**64 - 5, 2**53 + 1, 2**53, 0, 1], np.uint64)
    r = ubig[RNG.integers(0, len(ubig), (6, 7, 1))]
    exact_minmax(r, "max", (2, 3), (2, 2), (0, 1), True, "uint64 extremes")
    exact_minmax(r, "min", (2, 3), (2, 2), (0, 1), True, "uint64 extremes")
    # avg must clip, never wrap (constant windows: the exact mean is the value itself)
    for x, note in [(np.full((2, 2), 2**63 - 1, np.int64), "avg of 2**63-1 is 2**63-1 (float64 2**63 clipped)"),
                    (np.full((2, 2), -2**63, np.int64), "avg of -2**63"),
                    (np.full((2, 2), 2**64 - 1, np.uint64), "avg of 2**64-1 is 2**64-1 (clipped)")]:
        out.append((x, x[:1, :1].copy(), call_of("avg", (2, 2), (2, 2), (0, 0), (1, 1), False, compare="exact",
                                                 oracle="exact mean of a constant window", note=note), {}))
    # lp
    lp_specs = [
        (np.array([[10, 20], [30, 200]], np.uint8), 200.0, True, (2, 2), "issue 12 item 2: 200*4**(-1/200) -> 199"),
        (np.array([[10, 20], [30, 200]], np.uint8), 200.0, False, (2, 2), "plain norm: 200.000... -> 200"),
        (RNG.random((6, 6, 2)), 2000.0, True, (2, 2), "floats in [0, 1], p=2000"),
        (RNG.random((7, 6, 1)).astype(np.float32), 2000.0, True, (3, 3), "float32, p=2000"),
        (RNG.standard_normal((6, 6, 2)) * 1e300, 2.0, True, (2, 2), "float64 near 1e300, p=2: x**2 overflows"),
        (RNG.standard_normal((6, 6, 2)) * 1e-300, 3.0, True, (2, 2), "float64 near 1e-300, p=3: x**3 underflows"),
        (_ints((6, 6, 3), np.uint16, 0, 65535), 1000.0, True, (2, 2), "uint16, p=1000"),
        (np.array([[-128, -128], [-128, -128]], np.int8), 50.0, True, (2, 2), "int8 |-128| = 128 clips to 127"),
        (RNG.standard_normal((6, 6, 2)), math.inf, True, (2, 2), "p=inf: max of |x| (negatives)"),
        (RNG.standard_normal((6, 6, 2)) * 3, 1.0, True, (3, 3), "p=1: mean of |x|"),
        (RNG.standard_normal((6, 6, 2)) * 3, 7.5, False, (2, 2), "plain norm, p=7.5, negatives"),
    ]
    for x, p, normalize, size, note in lp_specs:
        y = lp_exact(x, size, size, p, normalize, x.dtype)
        call = call_of("lp", size, size, (0, 0), (1, 1), False, p="inf" if math.isinf(p) else p)
        if not normalize:
            call["normalize"] = False
        exact = np.issubdtype(x.dtype, np.integer) or math.isinf(p)
        call.update(compare="exact" if exact else "close", rtol=1e-12 if x.dtype == np.float64 else 1e-6,
                    oracle="mpmath, 80 digits, then rounded (integers: half to even, clip)", note=note)
        out.append((x, y, call, {}))
    assert out[-11][1][0, 0] == 199 and out[-10][1][0, 0] == 200
    return out


# ---------------------------------------------------------------- main

def save(name, cases, versions):
    arrays = {}
    for i, (x, y, call, extra) in enumerate(cases):
        arrays[f"{i}_x"] = x
        arrays[f"{i}_y"] = y
        arrays[f"{i}_call"] = np.array(json.dumps(call))
        for k, v in extra.items():
            arrays[f"{i}_{k}"] = v
    arrays["versions"] = np.array(json.dumps(versions))
    np.savez_compressed(HERE / f"{name}.npz", **arrays)
    print(f"{name}.npz: {len(cases)} cases, {(HERE / f'{name}.npz').stat().st_size} bytes")


def main():
    import scipy
    import torch

    # max_unpool has no "deterministic" CPU implementation: several windows may write the same cell,
    # always with the same value (the cell's own), so the result is deterministic; it is also
    # checked against a NumPy scatter in indices_cases.
    torch.use_deterministic_algorithms(True, warn_only=True)
    versions = {"torch": torch.__version__, "numpy": np.__version__, "scipy": scipy.__version__}
    try:
        import importlib.metadata as md
        for pkg in ("antialiased-cnns", "tinybrain", "mpmath"):
            versions[pkg] = md.version(pkg)
    except Exception:  # pragma: no cover
        pass
    save("mode", mode_cases(torch), versions)
    save("median_quantile", median_quantile_cases(torch), versions)
    save("nodata", nodata_cases(torch), versions)
    save("indices", indices_cases(torch), versions)
    save("blurpool", blurpool_cases(torch), versions)
    save("int64", int64_cases(torch), versions)


if __name__ == "__main__":
    main()
