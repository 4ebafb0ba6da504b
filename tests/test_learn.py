"""learn: the least-squares fit of the weighted-pooling kernel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from poolcli import api, learn


def _photo_like(rng, h, w, c=3) -> np.ndarray:
    """Smooth structure plus noise, uint8: enough variety to pin a kernel down."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 120 + 60 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]
    return np.clip(base + rng.normal(0, 30, (h, w, c)), 0, 255).astype(np.uint8)


def _synthetic_targets(x: np.ndarray, w: np.ndarray, stride) -> np.ndarray:
    """sum of w*x over each window, by explicit loops (independent of learn.patches)."""
    kh, kw = w.shape[:2]
    sh, sw = stride
    x = x.astype(np.float64)
    if x.ndim == 2:
        x = x[..., None]
    oh, ow = (x.shape[0] - kh) // sh + 1, (x.shape[1] - kw) // sw + 1
    out = np.zeros((oh, ow, x.shape[2]))
    for i in range(oh):
        for j in range(ow):
            win = x[i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[i, j] = np.einsum("abc,ab...->c", win, w) if w.ndim == 2 else np.einsum("abc,abc->c", win, w)
    return out


def test_recovers_box_filter_from_pillow_reduce():
    rng = np.random.default_rng(1)
    originals = [_photo_like(rng, 40, 52), _photo_like(rng, 37, 29)]  # odd sizes: Pillow rounds up
    targets = [np.asarray(Image.fromarray(x).reduce(2)) for x in originals]
    assert targets[1].shape[:2] == (19, 15)  # the ceil-mode shape, partial edge windows left out
    w, rms = learn.fit(originals, targets)
    assert w.shape == (2, 2)
    np.testing.assert_allclose(w, 0.25, atol=1e-2)
    assert rms < 0.6  # only Pillow's rounding to integers is left


def test_recovers_arbitrary_kernel_from_float_targets():
    rng = np.random.default_rng(2)
    kernel = np.array([[0.1, -0.3, 0.7], [0.25, 0.05, 0.4]])
    originals = [rng.random((23, 31)), rng.random((17, 20))]
    targets = [_synthetic_targets(x, kernel, (2, 3))[..., 0] for x in originals]
    w, rms = learn.fit(originals, targets, size="2x3", stride=(2, 3))
    np.testing.assert_allclose(w, kernel, atol=1e-6)
    assert rms < 1e-9


def test_per_channel_kernels():
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(2, 2, 3))
    x = rng.random((30, 26, 3))
    y = _synthetic_targets(x, kernel, (2, 2))
    w, rms = learn.fit([x], [y], per_channel=True)
    assert w.shape == (2, 2, 3)
    np.testing.assert_allclose(w, kernel, atol=1e-6)
    shared, shared_rms = learn.fit([x], [y])
    assert shared.shape == (2, 2) and shared_rms > 1e-3  # one kernel cannot explain three


def test_fitted_kernel_reproduces_targets_through_weighted_pooling():
    rng = np.random.default_rng(4)
    kernel = np.array([[0.1, 0.2, 0.1], [0.2, 0.4, 0.2], [0.1, 0.2, 0.1]]) / 1.6
    x = _photo_like(rng, 33, 33)
    y = api.finish(_synthetic_targets(x, kernel, (3, 3)), np.uint8)
    w, _ = learn.fit([x], [y], size=3)
    again = api.pool(x, "weighted", weights=w, backend="numpy")
    assert again.shape == y.shape
    assert np.abs(again.astype(int) - y.astype(int)).max() <= 1


def test_size_is_inferred_from_the_shape_ratio():
    assert learn.infer_size((64, 48), (16, 24)) == (4, 2)
    assert learn.infer_size((7, 9), (4, 5)) == (2, 2)  # ceil-mode shapes
    with pytest.raises(ValueError, match="cannot infer"):
        learn.infer_size((10, 10), (4, 4))


def test_mismatched_pairs_are_refused():
    x = np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match="channel"):
        learn.fit([x], [np.zeros((4, 4))])
    with pytest.raises(ValueError, match="does not match"):
        learn.fit([x], [np.zeros((3, 3, 3))], size=2)
    with pytest.raises(ValueError, match="pair up"):
        learn.fit([x], [])
    with pytest.raises(ValueError, match="at least one"):
        learn.fit([], [])


def test_fit_folders_pairs_by_stem_and_reports_strays(tmp_path):
    rng = np.random.default_rng(5)
    orig, targ = tmp_path / "orig", tmp_path / "targ"
    orig.mkdir()
    targ.mkdir()
    for name in ("a", "b"):
        x = _photo_like(rng, 32, 40)
        Image.fromarray(x).save(orig / f"{name}.png")
        Image.fromarray(x).reduce(2).save(targ / f"{name}.png")
    Image.fromarray(_photo_like(rng, 8, 8)).save(orig / "lonely.png")
    np.save(targ / "stray.npy", np.zeros((4, 4)))
    (targ / "notes.txt").write_text("not an image")
    fit = learn.fit_folders(orig, targ)
    assert [p[0].name for p in fit.pairs] == ["a.png", "b.png"]
    assert [p.name for p in fit.missing_targets] == ["lonely.png"]
    assert [p.name for p in fit.missing_originals] == ["stray.npy"]
    assert fit.size == (2, 2) and fit.stride == (2, 2)
    np.testing.assert_allclose(fit.weights, 0.25, atol=1e-2)
    assert fit.windows == 2 * 16 * 20 * 3

    out = tmp_path / "w.npy"
    learn.save_weights(out, fit.weights)
    np.testing.assert_array_equal(learn.load_weights(out), fit.weights)
    learn.save_weights(tmp_path / "w.json", fit.weights)
    np.testing.assert_allclose(learn.load_weights(tmp_path / "w.json"), fit.weights)


def test_fit_folders_without_pairs_says_so(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "t").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "o" / "x.png")
    with pytest.raises(ValueError, match="no file"):
        learn.fit_folders(tmp_path / "o", tmp_path / "t")
