"""The NumPy reference (backend="reference") against arrays computed by hand.

Each expected array below was worked out on paper from np.arange data; a few
(powers, exponentials) are written as the formula of their hand-derived window.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import poolcli
from poolcli import api, modes, reference

A = np.arange(24, dtype=np.float64).reshape(4, 6)
#  0  1  2  3  4  5
#  6  7  8  9 10 11
# 12 13 14 15 16 17
# 18 19 20 21 22 23
B = np.arange(25, dtype=np.float64).reshape(5, 5)


def ref(x, mode, **kw):
    return poolcli.pool(x, mode, backend="reference", **kw)


def eq(actual, expected, dtype=None):
    expected = np.asarray(expected, dtype=dtype if dtype is not None else np.asarray(actual).dtype)
    np.testing.assert_array_equal(actual, expected, strict=True)


# --------------------------------------------------------------------------------------------
# max, min, avg


def test_max_min_avg_2x2():
    eq(ref(A, "max"), [[7, 9, 11], [19, 21, 23]])
    eq(ref(A, "min"), [[0, 2, 4], [12, 14, 16]])
    eq(ref(A, "avg"), [[3.5, 5.5, 7.5], [15.5, 17.5, 19.5]])


def test_odd_size_drops_the_remainder():
    eq(ref(A, "max", size=3), [[14, 17]])
    eq(ref(A, "avg", size=3), [[7, 10]])
    eq(ref(A, "max", size=(2, 4), stride=(2, 1)), [[9, 10, 11], [21, 22, 23]])


def test_padding_excluded_and_included():
    # size 3, stride 2, padding 1: row windows {0,1} {1,2,3}; column windows {0,1} {1,2,3} {3,4,5}
    eq(ref(A, "max", size=3, stride=2, padding=1), [[7, 9, 11], [19, 21, 23]])
    eq(ref(A, "min", size=3, stride=2, padding=1), [[0, 1, 3], [6, 7, 9]])
    eq(ref(A, "avg", size=3, stride=2, padding=1), [[14 / 4, 30 / 6, 42 / 6], [75 / 6, 126 / 9, 144 / 9]])
    eq(ref(A, "avg", size=3, stride=2, padding=1, count_include_pad=True),
       [[14 / 9, 30 / 9, 42 / 9], [75 / 9, 126 / 9, 144 / 9]])


def test_ceil_mode_partial_windows():
    eq(ref(B, "max", ceil_mode=True), [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    eq(ref(B, "avg", ceil_mode=True), [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]])
    # without padding, count_include_pad changes nothing: PyTorch's divisor stops at the input's edge
    eq(ref(B, "avg", ceil_mode=True, count_include_pad=True), [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]])
    # with padding: the divisor counts the padded cells up to n + padding, not beyond
    # rows/columns: windows start -1, 1, 3 over n=4 (+1 padding each side), the last covers {3, 4(pad)}
    c = np.arange(16, dtype=np.float64).reshape(4, 4)
    got = ref(c, "avg", size=2, padding=1, ceil_mode=True, count_include_pad=True)
    eq(got, [[0 / 4, 3 / 4, 3 / 4], [12 / 4, 30 / 4, 18 / 4], [12 / 4, 27 / 4, 15 / 4]])


def test_dilation():
    eq(ref(B, "max", size=2, stride=1, dilation=2), [[12, 13, 14], [17, 18, 19], [22, 23, 24]])
    eq(ref(B, "min", size=2, stride=1, dilation=2), [[0, 1, 2], [5, 6, 7], [10, 11, 12]])
    eq(ref(B, "avg", size=2, stride=1, dilation=2), [[6, 7, 8], [11, 12, 13], [16, 17, 18]])


def test_same_padding_odd_pixel_on_the_right():
    # n=5, k=2, s=2: out 3, one pixel of padding on the right/bottom, excluded from averages
    eq(ref(B, "avg", padding="same"), [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]])
    # n=4, k=3, s=1: one pixel of padding each side
    row = np.array([[1.0, 2.0, 3.0, 4.0]])
    eq(ref(row, "avg", size=(1, 3), stride=1, padding="same"), [[1.5, 2, 3, 3.5]])


def test_three_axes_volume():
    v = np.arange(2 * 4 * 4 * 1, dtype=np.float64).reshape(2, 4, 4, 1)  # value = 16d + 4h + w
    eq(ref(v, "max", size=(2, 2, 2))[..., 0], [[[21, 23], [29, 31]]])
    eq(ref(v, "avg", size=(2, 2, 2))[..., 0], [[[10.5, 12.5], [18.5, 20.5]]])
    # a 2-number size pools each frame separately
    eq(ref(v, "max", size=2)[..., 0], [[[5, 7], [13, 15]], [[21, 23], [29, 31]]])


def test_channels_share_windows():
    x = np.stack([A, -A, A * 0 + 5], axis=-1)
    got = ref(x, "max")
    eq(got[..., 0], [[7, 9, 11], [19, 21, 23]])
    eq(got[..., 1], [[0, -2, -4], [-12, -14, -16]])
    eq(got[..., 2], np.full((2, 3), 5.0))


def test_padding_never_wins():
    neg = -A - 1  # all negative: a padded 0 must not become the max
    eq(ref(neg, "max", size=3, stride=2, padding=1), [[-1, -2, -4], [-7, -8, -10]])
    eq(ref(A + 1, "min", size=3, stride=2, padding=1), [[1, 2, 4], [7, 8, 10]])
    u8 = np.full((3, 3), 200, dtype=np.uint8)
    eq(ref(u8, "min", size=3, padding=1, stride=1), np.full((3, 3), 200), np.uint8)
    i16 = np.full((3, 3), -7, dtype=np.int16)
    eq(ref(i16, "max", size=3, padding=1, stride=1), np.full((3, 3), -7), np.int16)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nan_propagates_through_max_and_min():
    x = np.array([[np.nan, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, np.nan]])
    eq(ref(x, "max"), [[np.nan, np.nan]])
    eq(ref(x, "min"), [[np.nan, np.nan]])
    y = np.array([[1.0, 9.0, -np.inf, 2.0], [np.nan, 5.0, np.inf, 0.0]])
    eq(ref(y, "max", size=(2, 2)), [[np.nan, np.inf]])
    eq(ref(y, "min", size=(2, 2)), [[np.nan, -np.inf]])
    eq(ref(y, "max", size=(1, 2)), [[9.0, 2.0], [np.nan, np.inf]])
    eq(ref(y, "avg", size=(2, 2)), [[np.nan, np.nan]])  # inf + -inf, and NaN


def test_infinities():
    x = np.array([[-np.inf, 1.0, np.inf, 1.0]])
    eq(ref(x, "max", size=(1, 2)), [[1.0, np.inf]])
    eq(ref(x, "min", size=(1, 2)), [[-np.inf, 1.0]])
    eq(ref(x, "avg", size=(1, 2)), [[-np.inf, np.inf]])
    eq(ref(x, "lp", size=(1, 2)), [[np.inf, np.inf]])


# --------------------------------------------------------------------------------------------
# lp, mixed, softpool, stochastic, weighted


L = np.array([[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]])  # windows {0,1,4,5} and {2,3,6,7}


def test_lp_p2():
    eq(ref(L, "lp"), [[math.sqrt(42 / 4), math.sqrt(98 / 4)]])
    eq(ref(L, "lp", normalize=False), [[math.sqrt(42), math.sqrt(98)]])


def test_lp_p3():
    np.testing.assert_allclose(ref(L, "lp", p=3), [[47.5 ** (1 / 3), 148.5 ** (1 / 3)]], rtol=1e-15)
    np.testing.assert_allclose(ref(L, "lp", p=3, normalize=False), [[190 ** (1 / 3), 594 ** (1 / 3)]],
                               rtol=1e-15)


def test_lp_uses_absolute_values():
    x = np.array([[-1.0, 2.0], [-3.0, 4.0]])
    np.testing.assert_allclose(ref(x, "lp", p=3, normalize=False), [[100 ** (1 / 3)]], rtol=1e-15)
    eq(ref(x, "lp", normalize=False), [[math.sqrt(30)]])


def test_lp_with_padding():
    x = np.array([[3.0, 4.0]])
    # size 2, padding 1 along the width only: windows {pad, 3} and {4, pad}
    got = ref(x, "lp", size=(1, 2), padding=(0, 1), normalize=True)
    eq(got, [[3.0, 4.0, ]])
    got = ref(x, "lp", size=(1, 2), padding=(0, 1), count_include_pad=True)
    eq(got, [[math.sqrt(9 / 2), math.sqrt(16 / 2)]])


def test_mixed():
    eq(ref(A, "mixed", alpha=0.3)[0, 0], 0.3 * 7 + 0.7 * 3.5)
    eq(ref(A, "mixed", alpha=1.0), ref(A, "max"))
    eq(ref(A, "mixed", alpha=0.0), ref(A, "avg"))
    eq(ref(A, "mixed"), [[5.25, 7.25, 9.25], [17.25, 19.25, 21.25]])


def test_mixed_random_picks_max_or_avg_per_window():
    x = np.random.default_rng(0).random((8, 8))
    got = ref(x, "mixed", random=True, seed=5)
    mx, av = ref(x, "max"), ref(x, "avg")
    assert np.all((got == mx) | (got == av))
    assert (got == mx).any() and (got == av).any() and not np.array_equal(mx, av)
    eq(ref(x, "mixed", random=True, seed=5), got)  # reproducible


def test_mixed_pure_choices_with_infinities():
    # alpha 0 is the average and alpha 1 the max, also when the window holds an infinity
    x = np.array([[np.inf, 1.0, -np.inf, 1.0]])
    eq(ref(x, "mixed", size=(1, 2), alpha=0.0), [[np.inf, -np.inf]])
    eq(ref(x, "mixed", size=(1, 2), alpha=1.0), [[np.inf, 1.0]])
    eq(ref(x, "mixed", size=(1, 2), alpha=0.5), [[np.inf, -np.inf]])


def test_softpool_by_hand():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    e = math.e
    want = (0 + 1 * e + 2 * e**2 + 3 * e**3) / (1 + e + e**2 + e**3)
    np.testing.assert_allclose(ref(x, "softpool"), [[want]], rtol=1e-14)
    want_t2 = (e**0.5 + 2 * e + 3 * e**1.5) / (1 + e**0.5 + e + e**1.5)
    np.testing.assert_allclose(ref(x, "softpool", temperature=2), [[want_t2]], rtol=1e-14)


def test_softpool_integers_scale_weights_to_unit_range():
    x = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    # weights exp(0), exp(1), exp(1), exp(0): 255*2e / (2 + 2e) = 186.4... -> 186
    eq(ref(x, "softpool"), [[186]], np.uint8)
    big = np.array([[0, 65535], [65535, 0]], dtype=np.uint16)
    eq(ref(big, "softpool"), [[round(65535 * math.e / (1 + math.e))]], np.uint16)


def test_softpool_extremes():
    # a huge value does not overflow exp (the window max is subtracted first)
    x = np.array([[1000.0, 999.0]])
    np.testing.assert_allclose(ref(x, "softpool", size=(1, 2)), [[(1000 + 999 / math.e) / (1 + 1 / math.e)]],
                               rtol=1e-14)
    # -inf has weight 0 and does not count; +inf dominates
    y = np.array([[-np.inf, 1.0, np.inf, 1.0]])
    eq(ref(y, "softpool", size=(1, 2)), [[1.0, np.inf]])
    eq(ref(np.array([[2.0, 2.0], [2.0, 2.0]]), "softpool"), [[2.0]])


def _stochastic(x, uniform, **kw):
    x4 = api.as_dhwc(x)
    plan = api.make_plan(modes.MODES["stochastic"], x4.shape, x4.dtype, opts={"seed": 0}, **kw)
    plan.uniform = np.asarray(uniform, dtype=np.float64).reshape(plan.out_shape[:3])  # one per window
    return reference.pool_stochastic(x4, plan)[0, :, :, 0]


def test_stochastic_with_fixed_draws():
    # window [1, 2, 3, 4]: running sums 1, 3, 6, 10 against u * 10 (strictly greater)
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    for u, want in [(0.0, 1), (0.05, 1), (0.1, 2), (0.25, 2), (0.35, 3), (0.6, 4), (0.99, 4)]:
        eq(_stochastic(x, [u]), [[want]])
    # negative values weigh nothing: window [-1, 3, -2, 1] has total 4
    y = np.array([[-1.0, 3.0], [-2.0, 1.0]])
    eq(_stochastic(y, [0.5]), [[3.0]])
    eq(_stochastic(y, [0.8]), [[1.0]])
    # no positive value: the window's maximum
    eq(_stochastic(np.array([[-5.0, 0.0], [-1.0, -2.0]]), [0.3]), [[0.0]])
    # integer images keep their dtype
    eq(_stochastic(np.array([[0, 200], [55, 0]], dtype=np.uint8), [0.9]), [[55]], np.uint8)


def test_stochastic_picks_one_cell_for_all_channels():
    # cells (R, G, B): weights are the channel sums 3, 30, 300, 3000 of the positive parts
    x = np.array([[[1, 1, 1], [10, 10, 10]], [[100, 100, 100], [1000, 1000, 1000]]], dtype=np.float64)
    x[..., 1] += 0.5  # channels differ, yet the picked cell is shared: colours stay aligned
    x4 = api.as_dhwc(x)
    plan = api.make_plan(modes.MODES["stochastic"], x4.shape, x4.dtype, opts={"seed": 0})
    for u, cell in [(0.0, (0, 0)), (0.002, (0, 1)), (0.05, (1, 0)), (0.5, (1, 1))]:
        plan.uniform = np.full(plan.out_shape[:3], u)
        eq(reference.pool_stochastic(x4, plan)[0, 0, 0], x[cell])


def test_stochastic_seeded_values_come_from_the_window():
    x = np.random.default_rng(1).integers(0, 256, (16, 16)).astype(np.uint8)
    got = ref(x, "stochastic", seed=3)
    eq(ref(x, "stochastic", seed=3), got)
    windows = x.reshape(8, 2, 8, 2).transpose(0, 2, 1, 3).reshape(8, 8, 4)
    assert all(got[i, j] in windows[i, j] for i in range(8) for j in range(8))
    assert not np.array_equal(got, ref(x, "stochastic", seed=4))


def test_weighted():
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    eq(ref(A, "weighted", weights=w), [[48, 68, 88], [168, 188, 208]])
    eq(ref(A, "weighted", weights=w, normalize=True), [[4.8, 6.8, 8.8], [16.8, 18.8, 20.8]])
    # per-channel weights
    x = np.stack([A, A], axis=-1)
    wc = np.stack([w, -w], axis=-1)
    got = ref(x, "weighted", weights=wc)
    eq(got[..., 0], [[48, 68, 88], [168, 188, 208]])
    eq(got[..., 1], [[-48, -68, -88], [-168, -188, -208]])


def test_weighted_padding_uses_the_weight_of_each_cell_place():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    # size 2 (from the weights), stride 2, padding 1: each window holds one pixel, at the
    # opposite corner of the window
    eq(ref(x, "weighted", weights=w, padding=1), [[4 * 1, 3 * 2], [2 * 3, 1 * 4]])
    eq(ref(x, "weighted", weights=w, padding=1, normalize=True), [[1, 2], [3, 4]])


# --------------------------------------------------------------------------------------------
# global, adaptive, spp, fractional


def test_global():
    eq(ref(A, "global"), [11.5])
    eq(ref(A, "global", op="max"), [23.0])
    eq(ref(A, "global", op="min"), [0.0])
    np.testing.assert_allclose(ref(A, "global", op="lp"), [math.sqrt(4324 / 24)], rtol=1e-15)
    x = np.stack([A, -A], axis=-1)
    eq(ref(x, "global", op="max"), [23.0, 0.0])
    v = np.stack([x, x + 100])  # (D, H, W, C): one value per frame and channel
    eq(ref(v, "global"), [[11.5, -11.5], [111.5, 88.5]])


def test_adaptive():
    # rows 4 -> 3: [0,2) [1,3) [2,4); columns 6 -> 4: [0,2) [1,3) [3,5) [4,6)
    eq(ref(A, "adaptive", output_size=(3, 4)), [[7, 8, 10, 11], [13, 14, 16, 17], [19, 20, 22, 23]])
    eq(ref(A, "adaptive", output_size=(3, 4), op="avg"),
       [[3.5, 4.5, 6.5, 7.5], [9.5, 10.5, 12.5, 13.5], [15.5, 16.5, 18.5, 19.5]])
    # larger than the input: rows 4 -> 6 bins [0,1) [0,2) [1,2) [2,3) [2,4) [3,4)
    got = ref(A[:, :1], "adaptive", output_size=(6, 1), op="avg")
    eq(got, [[0], [3], [6], [12], [15], [18]])
    eq(ref(A, "adaptive", output_size=1), [[23.0]])


def test_spp_order():
    x = np.stack([A, -A], axis=-1)
    # level 1: max per channel; level 2: bins rows [0,2) [2,4), columns [0,3) [3,6), channel-major
    want = [23, 0, 8, 11, 20, 23, 0, -3, -12, -15]
    eq(ref(x, "spp", levels=(1, 2)), want)
    eq(ref(x, "spp", levels=(2, 1)), want[2:] + want[:2])
    eq(ref(x, "spp", levels=(1,), op="avg"), [11.5, -11.5])
    v = np.stack([x, x])
    eq(ref(v, "spp", levels=(1, 2)), [want, want])


def test_fractional_with_given_samples():
    x = np.arange(49, dtype=np.float64).reshape(7, 7)  # value 7r + c
    # rows: u=0.3 -> starts 0,2,3,5; columns: u=0 -> starts 0,1,3,5 (window 2)
    got = ref(x, "fractional", output_size=(4, 4), samples=(0.3, 0.0))
    eq(got, [[8, 9, 11, 13], [22, 23, 25, 27], [29, 30, 32, 34], [43, 44, 46, 48]])
    # ratio: out = int(7 * 0.6) = 4
    eq(ref(x, "fractional", ratio=0.6, samples=(0.3, 0.0)), got)
    seeded = ref(x, "fractional", output_size=3, seed=1)
    eq(ref(x, "fractional", output_size=3, seed=1), seeded)


# --------------------------------------------------------------------------------------------
# integers: rounding ties to even, clipping, dtype kept


def test_integer_rounding_ties_to_even():
    x = np.array([[1, 0, 3, 0, 5, 0, 7, 0, 1, 1],
                  [0, 1, 0, 3, 0, 5, 0, 0, 1, 0]], dtype=np.uint8)
    # window means 0.5, 1.5, 2.5, 1.75, 0.75 -> 0, 2, 2, 2, 1
    eq(ref(x, "avg"), [[0, 2, 2, 2, 1]], np.uint8)
    neg = np.array([[-1, 0, -3, 0], [0, -1, 0, -3]], dtype=np.int16)  # -0.5, -1.5 -> 0, -2
    eq(ref(neg, "avg"), [[0, -2]], np.int16)


def test_integer_clipping():
    x = np.full((2, 2), 250, dtype=np.uint8)
    eq(ref(x, "weighted", weights=np.full((2, 2), 1.0)), [[255]], np.uint8)
    eq(ref(x, "weighted", weights=np.full((2, 2), -1.0)), [[0]], np.uint8)
    i8 = np.array([[-100, -100], [-100, -100]], dtype=np.int8)
    eq(ref(i8, "weighted", weights=np.full((2, 2), 1.0)), [[-128]], np.int8)
    eq(ref(i8, "lp", normalize=False), [[127]], np.int8)  # sqrt(4 * 100^2) = 200


def test_integer_max_min_exact_in_dtype():
    big = np.array([[2**62 + 1, 2**62 + 3], [5, 2**62 + 2]], dtype=np.int64)  # not exact in float64
    eq(ref(big, "max"), [[2**62 + 3]], np.int64)
    eq(ref(big, "min"), [[5]], np.int64)
    u32 = np.array([[4294967295, 0], [1, 2]], dtype=np.uint32)
    eq(ref(u32, "max"), [[4294967295]], np.uint32)


def test_float32_keeps_dtype_and_averages_in_float64():
    x = np.array([[1.0, 1e8], [1e-8, -1e8]], dtype=np.float32)
    got = ref(x, "avg")
    assert got.dtype == np.float32
    want = (np.float64(1.0) + np.float64(np.float32(1e8)) + np.float64(np.float32(1e-8))
            - np.float64(np.float32(1e8))) / 4
    eq(got, [[np.float32(want)]])


# --------------------------------------------------------------------------------------------
# images: linear light and premultiplied alpha


def test_linear_light_checkerboard():
    board = (np.indices((8, 8)).sum(axis=0) % 2 * 255).astype(np.uint8)
    rgb = np.repeat(board[:, :, None], 3, axis=2)
    eq(ref(rgb, "avg"), np.full((4, 4, 3), 128), np.uint8)  # 127.5 rounds to even
    got = ref(rgb, "avg", linear_light=True)
    assert got.dtype == np.uint8
    assert np.all(got == 188)  # sRGB(0.5 linear) = 0.7354 * 255 = 187.5 -> 188
    assert np.all(ref(board.astype(np.float64) / 255, "avg", linear_light=True) > 0.73)


def test_premultiplied_alpha():
    # a transparent red pixel next to an opaque blue one: the colour is pure blue
    x = np.array([[[255, 0, 0, 0], [0, 0, 255, 255]]], dtype=np.uint8)
    got = api.run(x, "avg", size=(1, 2), backend="reference", alpha_channel=3).array
    eq(got, [[[0, 0, 255, 128]]], np.uint8)
    # without alpha handling the red bleeds in
    eq(ref(x, "avg", size=(1, 2)), [[[128, 0, 128, 128]]], np.uint8)
    # fully transparent windows give colour 0 (not NaN)
    t = np.array([[[10, 20, 30, 0], [50, 60, 70, 0]]], dtype=np.uint8)
    eq(api.run(t, "avg", size=(1, 2), backend="reference", alpha_channel=3).array, [[[0, 0, 0, 0]]], np.uint8)
    # max and min are not premultiplied
    eq(api.run(x, "max", size=(1, 2), backend="reference", alpha_channel=3).array, [[[255, 0, 255, 255]]], np.uint8)


# --------------------------------------------------------------------------------------------
# an independent, loop-by-loop oracle for max / avg over many geometries


def naive(x, k, s, p, d, ceil_mode, how, include_pad=False):
    """max/min/avg of a 2-D array, written straight from PyTorch's formulas with loops."""
    def out_size(n, k, s, p, d):
        num = n + 2 * p - d * (k - 1) - 1
        o = (-(-num // s) if ceil_mode else num // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        return o

    h, w = x.shape
    oh, ow = out_size(h, k[0], s[0], p[0], d[0]), out_size(w, k[1], s[1], p[1], d[1])
    y = np.zeros((oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        vals, count = [], 0
        for a, b in itertools.product(range(k[0]), range(k[1])):
            r, c = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
            if r < h + p[0] and c < w + p[1]:
                count += 1
            if 0 <= r < h and 0 <= c < w:
                vals.append(x[r, c])
        if how == "avg":
            y[i, j] = sum(vals) / (count if include_pad else len(vals))
        else:
            y[i, j] = max(vals) if how == "max" else min(vals)
    return y


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("how", ["max", "min", "avg"])
def test_reference_against_naive_loops(how, ceil_mode):
    rng = np.random.default_rng(42)
    count = 0
    for k, s, p, d in itertools.product([(1, 2), (2, 2), (3, 2), (3, 3)], [(1, 1), (2, 2), (2, 3)],
                                        [(0, 0), (1, 0), (1, 1)], [(1, 1), (2, 1)]):
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:
            continue
        x = rng.standard_normal((rng.integers(5, 9), rng.integers(5, 9)))
        for include_pad in ([False, True] if how == "avg" else [False]):
            kw = {"count_include_pad": include_pad} if how == "avg" else {}
            got = ref(x, how, size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode, **kw)
            want = naive(x, k, s, p, d, ceil_mode, how, include_pad)
            np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14, err_msg=f"{k} {s} {p} {d}")
            count += 1
    assert count > 40
