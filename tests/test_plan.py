"""plan.check_options: the shape-free half of make_plan (the CLI validates with it)."""

import numpy as np
import pytest

from poolcli import geometry, modes, plan
from poolcli.plan import check_options


def test_normalises_options_and_resolves_the_op():
    c = check_options("global", op="max")
    assert c.spec is modes.MODES["global"]
    assert c.op == plan.OP_MAX
    assert c.opts == {"op": "max", "p": 2.0, "linear_light": False, "nodata": None,
                      "min_valid": None}
    assert check_options("global").op == plan.OP_AVG  # the default --op
    assert check_options("adaptive", output_size="3x4").op == plan.OP_MAX


def test_sliding_window_is_parsed():
    c = check_options("avg", size="3x2", stride=2, padding="1x0", count_include_pad=True)
    assert c.window == geometry.window("3x2", 2, "1x0")
    assert c.window.stride[1:] == (2, 2)
    assert c.opts["count_include_pad"] is True


def test_weights_are_loaded_once_as_an_array(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.array([[1.0, 2.0], [3.0, 4.0]]))
    c = check_options("weighted", weights=str(path))
    assert c.opts["weights"].shape == (2, 2, 1)
    assert c.window.size == (1, 2, 2)  # the window is the weights' size


def test_spp_levels():
    assert check_options("spp", levels="1,3").levels == (1, 3)
    with pytest.raises(ValueError, match="levels must be"):
        check_options("spp", levels="")  # '' is an error, not the default
    with pytest.raises(ValueError, match="spp takes no --stride"):
        check_options("spp", stride=2)


@pytest.mark.parametrize(
    ("mode", "kw", "error", "words"),
    [
        ("nope", {}, ValueError, "unknown mode 'nope'"),
        ("max", {"p": 3}, TypeError, "does not take option"),
        ("global", {"op": "median"}, ValueError, "--op 'median' is not available for global"),
        ("global", {"op": ""}, ValueError, "--op '' is not available"),
        ("lp", {"p": 0}, ValueError, "p must be a number > 0 or inf"),
        ("lp", {"p": "x"}, ValueError, "p must be a number"),
        ("softpool", {"temperature": float("inf")}, ValueError, "temperature must be a finite"),
        ("mixed", {"alpha": 1.5}, ValueError, r"alpha must be a number in \[0, 1\]"),
        ("stochastic", {"seed": -1}, ValueError, "seed must be a whole number"),
        ("max", {"size": 2, "padding": 2}, ValueError, "padding 2 along height is more than half"),
        ("max", {"size": "2x4", "padding": "0x3"}, ValueError, "padding 3 along width"),
        ("max", {"padding": "same", "ceil_mode": True}, ValueError, "--ceil-mode cannot be"),
        ("max", {"size": "2x"}, ValueError, "size must be"),
        ("global", {"stride": 2}, ValueError, "global takes no --stride"),
        ("adaptive", {}, ValueError, "adaptive needs --output-size"),
        ("fractional", {"output_size": 4, "ratio": 0.5}, ValueError, "not both"),
        ("fractional", {"ratio": 1.5}, ValueError, r"ratio must be in \(0, 1\)"),
        ("fractional", {"output_size": 4, "stride": 1}, ValueError, "fractional takes a --size"),
        ("fractional", {}, ValueError, "fractional needs --output-size"),
        ("weighted", {}, ValueError, "weighted pooling needs weights"),
        ("weighted", {"weights": [[1.0, -1.0]], "normalize": True}, ValueError, "sum is not zero"),
        ("weighted", {"weights": [[np.nan]]}, ValueError, "weights must be finite"),
    ],
)
def test_errors_are_make_plans(mode, kw, error, words):
    with pytest.raises(error, match=words):
        check_options(mode, **kw)


def test_make_plan_raises_the_same_words():
    """The checks are make_plan's own: the same call on a real shape fails alike."""
    with pytest.raises(ValueError, match="padding 2 along height is more than half"):
        plan.make_plan(modes.MODES["max"], (1, 9, 9, 1), np.uint8, size=2, padding=2)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        plan.make_plan(modes.MODES["mixed"], (1, 9, 9, 1), np.uint8, opts={"alpha": 2})


def test_shape_dependent_errors_wait_for_make_plan():
    check_options("max", size=5)  # fine without a shape
    with pytest.raises(ValueError, match="output would be empty along height"):
        plan.make_plan(modes.MODES["max"], (1, 3, 9, 1), np.uint8, size=5)
    w = np.ones((2, 2, 3))
    check_options("weighted", weights=w)
    with pytest.raises(ValueError, match="weights have 3 channels but the image has 1"):
        plan.make_plan(modes.MODES["weighted"], (1, 4, 4, 1), np.uint8, opts={"weights": w})


def test_plan_is_built_once_with_every_field():
    p = plan.make_plan(modes.MODES["mixed"], (1, 4, 6, 2), np.uint8, opts={"alpha": 0.25})
    assert p.op == plan.OP_MIXED and p.alpha.shape == (1, 2, 3) and np.all(p.alpha == 0.25)
    p = plan.make_plan(modes.MODES["softpool"], (1, 4, 4, 1), np.uint16,
                       opts={"temperature": 2})
    assert p.temperature == 2.0 and p.value_scale == 1.0 / 65535


def test_regularity_and_padding_of_axes():
    a = geometry.sliding_axis(9, 3, 2, 1, 1, False)
    assert (a.left, a.right, a.regular, a.dropped) == (1, 1, None, None)
    assert geometry.sliding_axis(8, 2, 2, 0, 1, False).regular == (2, 2, 0)
    assert geometry.sliding_axis(2, 2, 2, 0, 1, False).regular == (2, 1, 0)  # one window
    assert geometry.sliding_axis(8, 3, 2, 0, 2, False).regular == (3, 2, 0)  # dilation apart
    same = geometry.sliding_axis(8, 3, 3, "same", 1, False)  # pad 1: 0 before, 1 after
    assert (same.left, same.right) == (0, 1)
    ceil = geometry.sliding_axis(5, 2, 2, 1, 1, True)  # PyTorch drops the window at 5
    assert ceil.out == 3 and ceil.dropped == 5


def test_uint64_is_pooled_in_its_own_dtype():
    from poolcli import api

    x = np.array([[2**63 + 5, 1], [3, 2**64 - 1]], dtype=np.uint64)
    assert api.kernel_dtype(np.uint64) == np.uint64
    y = api.pool(x, "max", backend="numpy")
    assert y.dtype == np.uint64 and y.shape == (1, 1) and int(y[0, 0]) == 2**64 - 1
    assert api.kernel_dtype(np.float16) == np.float32
    with pytest.raises(TypeError, match="boolean arrays"):
        api.kernel_dtype(bool)
