"""The mode registry, as plain data: no NumPy, no Numba (the CLI's --help reads it).

One entry per pooling mode. The word that names a mode names it everywhere:
``MODES["avg"]`` is the CLI command ``poolcli avg``, ``reference.pool_avg``,
``kernels.cpu.pool_avg`` and ``kernels.cuda.pool_avg``, all with one signature
``pool_<name>(x, plan) -> ndarray``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Mode:
    name: str
    summary: str
    #: the keyword options (snake case) that this mode accepts beyond the window geometry
    options: tuple[str, ...] = ()
    #: how the windows are laid out: "sliding" (size/stride/padding/dilation), "adaptive"
    #: (output size -> PyTorch bins), "fractional" (Graham's pseudo-random starts), "global",
    #: "blur" (blurpool: the filter size and a stride, on the reflect-padded input)
    windows: str = "sliding"
    #: True when the mode mixes values (so alpha is premultiplied and integers are rounded);
    #: False for max and min, which pick one of the input values exactly
    averaging: bool = True
    #: what it returns: "image" (a pooled array) or "vector" (values per channel / features)
    returns: str = "image"
    #: takes the ``seed`` option (randomness drawn on the host, the same on every backend)
    random: bool = False
    #: the literature, for `poolcli modes`
    reference: str = ""


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("max", "largest value of each window (NaN propagates, padding never wins)",
             averaging=False, reference="torch.nn.functional.max_pool2d"),
        Mode("avg", "mean of each window (padded cells excluded unless --count-include-pad)",
             options=("count_include_pad", "linear_light"),
             reference="torch.nn.functional.avg_pool2d"),
        Mode("min", "smallest value of each window (NaN propagates, padding never wins)",
             averaging=False, reference="-max_pool2d(-x)"),
        Mode("lp", "power mean (mean |x|^p)^(1/p), p=2 by default; --no-normalize: (sum x^p)^(1/p)",
             options=("p", "normalize", "count_include_pad", "linear_light"),
             reference="torch.nn.functional.lp_pool2d (with normalize=False)"),
        Mode("global", "one value per channel over the whole image (--op max|avg|min|lp)",
             options=("op", "p", "linear_light"), windows="global", returns="vector",
             reference="global average/max pooling (Lin et al. 2013)"),
        Mode("adaptive", "pool to a given output size with PyTorch's bins (--op max|avg)",
             options=("output_size", "op", "linear_light"), windows="adaptive",
             reference="torch.nn.functional.adaptive_max_pool2d / adaptive_avg_pool2d"),
        Mode("spp", "spatial pyramid pooling: adaptive pooling to LxL per level, concatenated",
             options=("levels", "op", "linear_light"), windows="adaptive", returns="vector",
             reference="He et al. 2014, Spatial Pyramid Pooling"),
        Mode("fractional", "fractional max pooling with pseudo-random window starts",
             options=("output_size", "ratio", "samples", "seed"), windows="fractional",
             averaging=False, random=True,
             reference="Graham 2014; torch.nn.functional.fractional_max_pool2d"),
        Mode("mixed", "alpha*max + (1-alpha)*avg; --random picks max or avg per window",
             options=("alpha", "random", "seed", "count_include_pad", "linear_light"),
             random=True, reference="Yu et al. 2014, Mixed Pooling"),
        Mode("stochastic", "one value per window drawn with probability proportional to it",
             options=("seed",), random=True,
             reference="Zeiler & Fergus 2013, Stochastic Pooling"),
        Mode("softpool", "softmax-weighted mean of each window, weights exp(x/T)",
             options=("temperature", "linear_light"),
             reference="Stergiou et al. 2021, SoftPool"),
        Mode("weighted", "a learned weight kernel applied per window: sum of w*x",
             options=("weights", "normalize", "linear_light"),
             reference="learned pooling (a strided convolution per channel)"),
        # issue 14: label maps, robust statistics, anti-aliasing (select_windows; blurpool is
        # weighted pooling of the reflect-padded input)
        Mode("mode", "the most frequent whole pixel of each window (ties: the smallest); "
             "--ignore V: pixels all V do not vote", options=("ignore",), averaging=False,
             reference="majority vote of label maps (scipy.stats.mode, tinybrain)"),
        Mode("median", "per-channel median of each window (even count: the lower middle; "
             "--even mean)", options=("even",), averaging=False,
             reference="torch.median (lower middle); numpy.median with --even mean"),
        Mode("quantile", "per-channel quantile q of each window (--q, numpy.quantile linear)",
             options=("q",), averaging=False,
             reference="numpy.quantile(window, q, method='linear')"),
        Mode("blurpool", "anti-aliased downsampling: binomial blur (--filter-size F), then "
             "stride (default 2)", options=("filter_size", "linear_light"), windows="blur",
             reference="Zhang 2019, Making Convolutional Networks Shift-Invariant Again; "
             "antialiased_cnns.BlurPool"),
    )
}


#: every option a mode may take, with its default (the CLI and the API share them)
OPTION_DEFAULTS: dict[str, object] = {
    "count_include_pad": False,
    "linear_light": False,
    "p": 2.0,
    "normalize": None,  # lp: True; weighted: False
    "op": None,  # global: "avg"; adaptive/spp: "max"
    "output_size": None,
    "levels": (1, 2, 4),
    "ratio": None,
    "samples": None,
    "seed": None,
    "alpha": 0.5,
    "random": False,
    "temperature": 1.0,
    "weights": None,
    "ignore": None,  # mode: every pixel votes
    "even": "lower",  # median of an even count
    "q": 0.5,
    "filter_size": 3,  # blurpool (antialiased_cnns' own default is 4)
    "antialias": False,
    # issue 14 items 3, 4, 6
    "nodata": None,
    "min_valid": None,
    "return_indices": False,
    "per_channel": False,
}

#: the options issue 14 adds to the existing modes (nodata: item 3; indices: item 4)
_NODATA = ("nodata", "min_valid")
_INDICES = ("return_indices",)

#: which --op values each mode accepts
OPS: dict[str, tuple[str, ...]] = {
    "global": ("avg", "max", "min", "lp"),
    "adaptive": ("max", "avg"),
    "spp": ("max", "avg"),
}


def _add_options(names: tuple[str, ...], extra: tuple[str, ...]) -> None:

    for name in names:
        MODES[name] = replace(MODES[name], options=MODES[name].options + extra)


_add_options(("max", "min", "avg", "lp", "mixed", "softpool", "weighted", "global", "adaptive",
              "spp", "mode", "median", "quantile"), _NODATA)
_add_options(("max", "min", "fractional", "adaptive"), _INDICES)
_add_options(("stochastic",), ("per_channel",))
# MaxBlurPool (Zhang 2019): ``max --antialias`` = max at stride 1, then blurpool at the stride
_add_options(("max",), ("antialias", "filter_size"))


def get(name: str) -> Mode:
    """The mode called ``name``, or a ValueError that lists the known ones."""
    try:
        return MODES[name]
    except (KeyError, TypeError):
        known = ", ".join(MODES)
        raise ValueError(f"unknown mode {name!r}; choose one of: {known}") from None
