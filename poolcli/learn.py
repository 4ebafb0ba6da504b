"""``poolcli learn``: fit the weight kernel of ``weighted`` pooling by least squares.

Given pairs (original, target), where each target is a pooled copy of its original
made by some unknown linear downsampler (Pillow's ``reduce``, a camera's binning, a
hand-tuned filter), find the KHxKW (or KHxKWxC) kernel ``w`` such that
``poolcli weighted --weights w.npy -k KHxKW -s SHxSW`` reproduces the targets:

    target[i, j, c] ~= sum over (a, b) of w[a, b(, c)] * original[i*sh + a, j*sw + b, c]

Every window of every pair is one equation. The fit accumulates the normal equations
pair by pair (so a folder of large photos needs only KH*KW x KH*KW numbers of memory)
and solves them with ``np.linalg.lstsq`` (the minimum-norm answer when the images do not
pin the kernel down, e.g. constant images). The reported error is the root-mean-square
difference between the fitted kernel's float output and the targets, over the windows
used, in the images' own units (0..255 for 8-bit images).

Targets may have the floor-mode shape (``floor((n - k) / s) + 1``, what ``poolcli``
writes) or one more row/column (the ceil-mode shape, what Pillow's ``reduce`` and
ImageMagick write for sizes that do not divide the image); the partial windows at the
right/bottom edge are then left out of the fit.

The kernel files of ``weighted --weights`` (``.npy`` or ``.json``) are written by
``save_weights`` and read by ``load_weights``, both here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .inputs import IMAGE_EXTENSIONS


@dataclass
class Fit:
    """What ``fit_folders`` found: the kernel, its error, and how the files were paired."""

    weights: np.ndarray  #: (KH, KW), or (KH, KW, C) with per_channel
    rms_error: float
    size: tuple[int, int]
    stride: tuple[int, int]
    #: (original, target) paths that were used, in name order
    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    #: originals without a target of the same stem, and targets without an original
    missing_targets: list[Path] = field(default_factory=list)
    missing_originals: list[Path] = field(default_factory=list)
    #: number of equations (windows x channels) in the fit
    windows: int = 0


def _hwc(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "uifb":
        raise TypeError(f"{what} has dtype {a.dtype}; learn needs numbers")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"{what} must be (H, W) or (H, W, C), got shape {a.shape}")
    return a.astype(np.float64)


def _axis_fit(n: int, out: int, k: int, s: int) -> int:
    """How many output rows along an axis take part in the fit (or raise).

    ``out`` may be the floor-mode count or the ceil-mode count (one more, a partial last
    window that starts inside the image); the partial window is left out.
    """
    full = (n - k) // s + 1 if n >= k else 0
    if full >= 1 and (out == full or (out == full + 1 and (n - k) % s != 0 and full * s < n)):
        return full
    raise ValueError(f"size {k} stride {s} on {n} pixels gives {max(full, 0)} outputs, not {out}")


def infer_size(original_shape, target_shape) -> tuple[int, int]:
    """The window (= stride) per axis from the shape ratio: round(n / out)."""
    ks = []
    for n, out, name in zip(original_shape[:2], target_shape[:2], ("height", "width")):
        if out < 1 or out > n:
            raise ValueError(f"target {name} {out} cannot be a pooled copy of {name} {n}")
        k = max(1, round(n / out))
        try:
            _axis_fit(n, out, k, k)
        except ValueError:
            raise ValueError(
                f"cannot infer the window from {name} {n} -> {out}; give the size (and stride) explicitly"
            ) from None
        ks.append(k)
    return ks[0], ks[1]


def _geometry(size, stride, original_shape, target_shape) -> tuple[tuple[int, int], tuple[int, int]]:
    from .options import parse_size2

    if size is None:
        if stride is not None:
            raise ValueError("give the size too when you give a stride (the size cannot be inferred then)")
        k = infer_size(original_shape, target_shape)
        return k, k
    k = parse_size2(size, "size")
    s = k if stride is None else parse_size2(stride, "stride")
    return k, s


def patches(original, out_shape, size, stride) -> np.ndarray:
    """The windows of ``original`` (H, W, C) float64 at the first out_shape outputs:
    shape (OH, OW, C, KH, KW), a strided view (no copy)."""
    (kh, kw), (sh, sw) = size, stride
    oh, ow = out_shape
    view = np.lib.stride_tricks.sliding_window_view(original, (kh, kw), axis=(0, 1))
    return view[: (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]


def _pair_windows(original, target, size, stride, index):
    """-> (patches (OH, OW, C, KH, KW), targets (OH, OW, C)) of the windows that take part."""
    x = _hwc(original, f"original {index}")
    y = _hwc(target, f"target {index}")
    if x.shape[2] != y.shape[2]:
        raise ValueError(f"pair {index}: the original has {x.shape[2]} channel(s), the target {y.shape[2]}")
    try:
        oh = _axis_fit(x.shape[0], y.shape[0], size[0], stride[0])
        ow = _axis_fit(x.shape[1], y.shape[1], size[1], stride[1])
    except ValueError as exc:
        raise ValueError(
            f"pair {index}: target shape {y.shape[:2]} does not match original {x.shape[:2]} "
            f"pooled with size {size[0]}x{size[1]} stride {stride[0]}x{stride[1]} ({exc})"
        ) from None
    return patches(x, (oh, ow), size, stride), y[:oh, :ow]


def fit(originals, targets, *, size=None, stride=None, per_channel: bool = False) -> tuple[np.ndarray, float]:
    """Least-squares weight kernel that maps each original's windows to its target's pixels.

    ``originals[i]`` is (H, W) or (H, W, C); ``targets[i]`` its pooled copy (OH, OW(, C)).
    ``size`` (int, ``"2x3"`` or a pair) defaults to round(H / OH) per axis, ``stride`` to
    ``size``. Returns ``(weights, rms_error)``: weights (KH, KW) shared by every channel, or
    (KH, KW, C) with ``per_channel``; to be used with ``weighted`` (no ``--normalize``).
    """
    return _fit(list(originals), list(targets), size=size, stride=stride, per_channel=per_channel)[:2]


def _fit(originals, targets, *, size, stride, per_channel):
    if len(originals) != len(targets):
        raise ValueError(f"{len(originals)} originals but {len(targets)} targets; they must pair up")
    if not originals:
        raise ValueError("learn needs at least one (original, target) pair")
    first_x, first_y = np.asarray(originals[0]), np.asarray(targets[0])
    ksize, kstride = _geometry(size, stride, first_x.shape, first_y.shape)
    nk = ksize[0] * ksize[1]
    channels = None
    # normal equations, one set per channel (summed at the end for a shared kernel)
    ata = atb = None
    count = 0
    for i, (orig, targ) in enumerate(zip(originals, targets)):
        p, y = _pair_windows(orig, targ, ksize, kstride, i)
        c = y.shape[2]
        if channels is None:
            channels = c
            ata = np.zeros((c, nk, nk))
            atb = np.zeros((c, nk))
        elif c != channels:
            raise ValueError(f"pair {i} has {c} channel(s), the first pair {channels}; all pairs must agree")
        a = p.reshape(-1, c, nk)  # (windows, C, K)
        b = y.reshape(-1, c)
        ata += np.einsum("nci,ncj->cij", a, a)
        atb += np.einsum("nci,nc->ci", a, b)
        count += a.shape[0] * c
    if count == 0:
        raise ValueError("the pairs have no complete window to fit")
    if per_channel:
        w = np.stack([np.linalg.lstsq(ata[c], atb[c], rcond=None)[0] for c in range(channels)], axis=-1)
        weights = w.reshape(ksize[0], ksize[1], channels)
    else:
        weights = np.linalg.lstsq(ata.sum(0), atb.sum(0), rcond=None)[0].reshape(ksize)
    rms = _rms(originals, targets, weights, ksize, kstride, count)
    return weights, rms, ksize, kstride, count


def _rms(originals, targets, weights, size, stride, count) -> float:
    """Root-mean-square residual over every equation of the fit (a second, exact pass)."""
    sq = 0.0
    for i, (orig, targ) in enumerate(zip(originals, targets)):
        p, y = _pair_windows(orig, targ, size, stride, i)
        w = weights if weights.ndim == 3 else weights[:, :, None]
        pred = np.einsum("hwcab,abc->hwc", p, np.broadcast_to(w, size + (y.shape[2],)))
        sq += float(np.sum((pred - y) ** 2))
    return float(np.sqrt(sq / count))


def _index(folder: Path) -> dict[str, Path]:
    """stem -> file for the image files directly in ``folder`` (hidden files ignored)."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    found: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        # the file name suffixes a folder is searched for, as by every other command
        if f.name.startswith(".") or not f.is_file() or f.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if f.stem in found:
            raise ValueError(f"two files in {folder} have the stem {f.stem!r}: {found[f.stem].name} and {f.name}")
        found[f.stem] = f
    return found


def fit_folders(originals_dir, targets_dir, *, size=None, stride=None, per_channel: bool = False,
                max_pixels: int | None = None) -> Fit:
    """Pair the files of two folders by stem (``a.png`` with ``a.jpg``), load them with
    ``io.read.load_image``, and ``fit`` the kernel. Files without a partner are listed in
    the result (not an error, as long as one pair remains)."""
    from .errors import ImageError
    from .io.read import load_image

    originals, targets = _index(Path(originals_dir)), _index(Path(targets_dir))
    stems = sorted(set(originals) & set(targets))
    result_pairs = [(originals[s], targets[s]) for s in stems]
    missing_t = [originals[s] for s in sorted(set(originals) - set(targets))]
    missing_o = [targets[s] for s in sorted(set(targets) - set(originals))]
    if not stems:
        raise ValueError(
            f"no file in {originals_dir} has a partner with the same name (stem) in {targets_dir}"
        )
    kw = {} if max_pixels is None else {"max_pixels": max_pixels}
    xs, ys = [], []
    for o, t in result_pairs:
        for path, bucket in ((o, xs), (t, ys)):
            try:
                arr = load_image(path, **kw).array
            except ImageError as exc:
                raise ValueError(f"{path}: {exc}") from None
            if arr.ndim == 4:
                raise ValueError(f"{path}: has several frames; learn fits single images")
            bucket.append(arr)
    try:
        weights, rms, ksize, kstride, count = _fit(xs, ys, size=size, stride=stride, per_channel=per_channel)
    except ValueError as exc:
        msg = str(exc)
        if msg.startswith("pair "):
            i = int(msg.split()[1].rstrip(":"))
            msg = f"{result_pairs[i][0].name} -> {result_pairs[i][1].name}: " + msg.split(":", 1)[1].strip()
        raise ValueError(msg) from None
    return Fit(weights, rms, ksize, kstride, result_pairs, missing_t, missing_o, count)


def save_weights(path, weights: np.ndarray) -> int:
    """Write a kernel for ``weighted --weights``: ``.json`` (nested lists) or ``.npy``; atomic."""
    from .io.fsio import atomic_write

    w = np.asarray(weights, dtype=np.float64)
    if str(path).lower().endswith(".json"):
        import json

        data = (json.dumps(w.tolist()) + "\n").encode()
        return atomic_write(path, lambda f: f.write(data))
    return atomic_write(path, lambda f: np.save(f, w, allow_pickle=False))


def load_weights(path) -> np.ndarray:
    """A weight kernel for ``weighted`` from ``.npy`` (no pickle) or ``.json`` (nested lists).

    Raises ``ImageError`` for a file that cannot be read as numbers.
    """
    from .errors import ImageError
    from .io.fsio import one_line, open_input
    from .io.npyfile import npy_header

    path = str(path)
    if path.lower().endswith(".json"):
        import json

        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            return np.asarray(data, dtype=np.float64)
        except OSError as exc:
            raise ImageError(one_line(exc)) from exc
        except (ValueError, TypeError) as exc:
            raise ImageError(f"not a JSON array of numbers: {one_line(exc)}") from exc
    with open_input(path) as (f, _source, _size):
        shape, _fortran, dtype = npy_header(f)
        if dtype.hasobject:
            raise ImageError("the .npy file holds Python objects (pickled data), which are "
                             "never loaded")
        if dtype.kind not in "biuf" or dtype.fields is not None:
            raise ImageError(f"weights of dtype {dtype} are not numbers")
        f.seek(0)
        try:
            return np.load(f, allow_pickle=False)
        except Exception as exc:
            raise ImageError(f"cannot read the .npy data: {one_line(exc)}") from exc
