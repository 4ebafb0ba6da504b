"""Option specs as data, the ``2``, ``2x3``, ``2x2x2`` syntax and friends.

Plain Python (no NumPy, no Typer): the CLI imports this module at start-up and builds its
options from ``SPECS``; the library imports the parsers. ``Window`` and ``ModeOptions``
are the typed values the CLI hands the library.
Every parser raises ValueError with a one-line message that says what is
wrong and what is allowed; the CLI turns it into a usage error (exit 2) and
the API lets it through unchanged, so both say the same words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from numbers import Integral
from typing import Any

from . import limits, modes

Tuple = tuple[int, ...]


def parse_ints(text: str | int | tuple | list, name: str, *, lengths=(1, 2, 3),
               minimum: int = 1) -> Tuple:
    """``"2"`` -> (2,), ``"2x3"`` -> (2, 3); ints and tuples pass through (checked)."""
    if isinstance(text, bool):
        raise ValueError(f"{name} must be an integer or NxM, got {text!r}")
    if isinstance(text, Integral):  # int, and NumPy's integers (np.int64(2), shape entries)
        values: Tuple = (int(text),)
    elif isinstance(text, (tuple, list)):
        if not all(isinstance(v, Integral) and not isinstance(v, bool) for v in text):
            raise ValueError(f"{name} must be whole numbers, got {text!r}")
        values = tuple(int(v) for v in text)
    else:
        raw = str(text).strip().lower().replace("×", "x").replace(",", "x")
        parts = raw.split("x")
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            allowed = " or ".join({1: "N", 2: "HxW", 3: "DxHxW"}[n] for n in lengths)
            raise ValueError(f"{name} must be {allowed} with whole numbers, got {text!r}") from None
    if len(values) not in lengths:
        allowed = ", ".join(str(n) for n in lengths)
        raise ValueError(f"{name} takes {allowed} number(s), got {len(values)} in {text!r}")
    for v in values:
        if v < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {v}")
        limits.check_int(v, name)
    return values


def parse_padding(text) -> Tuple | str:
    """Padding: a number per axis (>= 0), or ``"same"`` (TensorFlow's SAME)."""
    if isinstance(text, str) and text.strip().lower() == "same":
        return "same"
    return parse_ints(text, "padding", minimum=0)


def parse_floats(text: str | tuple | list, name: str, *,
                 count: int | None = None) -> tuple[float, ...]:
    """``"0.3,0.7"`` -> (0.3, 0.7)."""
    if isinstance(text, (tuple, list)):
        parts = list(text)
    else:
        parts = [p for p in str(text).replace("x", ",").split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise ValueError(f"{name} takes {count} numbers, got {len(values)} in {text!r}")
    return values


def parse_levels(text) -> Tuple:
    """Pyramid levels ``"1,2,4"`` -> (1, 2, 4): at least one, each >= 1."""
    if isinstance(text, (tuple, list)):
        values = tuple(text)
    else:
        raw = str(text).strip()
        if not raw:
            raise ValueError("levels must be a comma-separated list of whole numbers >= 1, "
                             "like 1,2,4; got ''")
        try:
            values = tuple(int(p) for p in raw.split(","))
        except ValueError:
            raise ValueError(
                "levels must be a comma-separated list of whole numbers >= 1, like 1,2,4; "
                f"got {text!r}"
            ) from None
    if not values or any((not isinstance(v, int)) or v < 1 for v in values):
        raise ValueError(f"levels must be whole numbers >= 1, like 1,2,4; got {text!r}")
    for v in values:
        limits.check_int(v, "levels")
    return values


#: the API's keywords besides the mode options (the CLI's window and run options)
API_KEYWORDS = ("size", "stride", "padding", "dilation", "ceil_mode", "backend", "layout")


#: PyTorch's keyword names for the same things: a PyTorch user's first guess
PYTORCH_NAMES = {"kernel_size": "size", "norm_type": "p", "output_ratio": "ratio",
                 "_random_samples": "samples", "filt_size": "filter_size"}


def did_you_mean(name: str, choices, *, cli: bool = False) -> str:
    """`` (did you mean X?)`` for the closest of ``choices`` to an unknown option ``name``, or
    ``""``. Names are compared in their CLI form (``--kernel-size`` and ``--size``), so the
    API and the CLI suggest alike; ``cli`` writes them in that form."""
    import difflib

    def flag(n: str) -> str:
        return "--" + n.lstrip("-").replace("_", "-")

    forms = {flag(c): c for c in choices}
    alias = PYTORCH_NAMES.get(name.lstrip("-").replace("-", "_"))
    if alias is not None and flag(alias) in forms:
        best = [flag(alias)]
    else:
        best = difflib.get_close_matches(flag(name), list(forms), n=1)
    if not best:
        return ""
    return f" (did you mean {best[0] if cli else forms[best[0]]}?)"


def parse_size2(text, name: str) -> tuple[int, int]:
    """An output size ``HxW`` (or one number for a square)."""
    values = parse_ints(text, name, lengths=(1, 2))
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


# --------------------------------------------------------------------------------------------
# the command line's options, as data
#
# One row per option: the CLI builds its Typer parameters and their help from this table
# (``poolcli.cli.common.parameter``), and the API's keyword of a mode option is its ``name``.
# Plain data: no Typer here (the library imports this module).

WINDOW, MODE_OPTIONS, OUTPUT, RUN = "Window", "Mode options", "Output", "Run"

#: the window options, in the order the commands list them
WINDOW_NAMES = ("size", "stride", "padding", "dilation", "ceil_mode")


@dataclass(frozen=True)
class OptionSpec:
    """One command-line option: its parameter name (snake case, the API's keyword), Python
    type and default, its flags, help and rich help panel.

    ``help`` and ``metavar`` may name ``{ops}`` (the mode's --op choices, ``|``-joined) and
    ``{op}`` (the first one, the default); ``mode_help`` replaces the help for one mode,
    ``vector_help`` for the modes that return values (global, spp); ``image_only`` options
    are left out of those modes' commands.
    """

    name: str
    type: Any
    default: Any
    flags: tuple[str, ...]
    help: str
    panel: str
    metavar: str | None = None
    min: int | None = None
    max: int | None = None
    show_default: bool = True
    mode_help: tuple[tuple[str, str], ...] = ()
    vector_help: str | None = None
    image_only: bool = False

    def help_for(self, mode) -> str:
        """The help text of this option in the command of ``mode`` (a ``modes.Mode``)."""
        text = dict(self.mode_help).get(mode.name)
        if text is None:
            text = self.vector_help if self.vector_help and mode.returns == "vector" else self.help
        return _fill(text, mode)

    def metavar_for(self, mode) -> str | None:
        return None if self.metavar is None else _fill(self.metavar, mode)


def _fill(text: str, mode) -> str:
    if "{" not in text:
        return text
    ops = modes.OPS.get(mode.name, ("max",))
    return text.format(ops="|".join(ops), op=ops[0])


_IMAGE_FORMATS = "png|jpeg|tiff|bmp|gif|webp|ppm|pgm|npy"
_OUT = ("output file (one input), folder (many; the input tree is mirrored), or - for "
        "standard output")
_FMT = "output format: {} (default: from the output's extension, else the input's)"

#: every option of the pooling commands: the window, the mode options, output and run
SPECS: dict[str, OptionSpec] = {s.name: s for s in (
    # the window
    OptionSpec("size", str | None, None, ("-k", "--size"), metavar="K", panel=WINDOW,
               help="window size: N, HxW, or DxHxW to pool across frames too (default: 2)"),
    OptionSpec("stride", str | None, None, ("-s", "--stride"), metavar="S", panel=WINDOW,
               help="step between windows: N, HxW or DxHxW (default: the size)",
               mode_help=(("blurpool", "step between the filter's positions: N or HxW "
                                       "(default 2)"),)),
    OptionSpec("padding", str | None, None, ("-p", "--padding"), metavar="P", panel=WINDOW,
               help="padding: N or HxW, at most half the window, or 'same' (TensorFlow's SAME) "
               "(default: 0)"),
    OptionSpec("dilation", str | None, None, ("-d", "--dilation"), metavar="D", panel=WINDOW,
               help="spacing of a window's cells: N or HxW (default: 1)"),
    OptionSpec("ceil_mode", bool, False, ("--ceil-mode",), panel=WINDOW,
               help="round the output size up (PyTorch's ceil_mode)"),
    # the mode options (which mode takes which: modes.MODES[name].options)
    OptionSpec("count_include_pad", bool, False, ("--count-include-pad",), panel=MODE_OPTIONS,
               help="count padded cells in the divisor (PyTorch's default; off: edges do not "
               "darken)"),
    OptionSpec("p", float | None, None, ("--power", "--p"), metavar="P", panel=MODE_OPTIONS,
               help="the power of the Lp mean (--p also works; -p is --padding) (default: 2)"),
    OptionSpec("normalize", bool | None, None, ("--normalize/--no-normalize",),
               panel=MODE_OPTIONS, show_default=False,
               help="the power mean (mean of |x|^p)^(1/p); --no-normalize: the plain norm as "
               "lp_pool2d (default: --normalize)",
               mode_help=(("weighted", "divide the sum of the weights into the result "
                                       "(default: --no-normalize)"),)),
    OptionSpec("op", str | None, None, ("--op",), metavar="{ops}", panel=MODE_OPTIONS,
               help="the reduction (default: {op})"),
    OptionSpec("output_size", str | None, None, ("--output-size",), metavar="HxW",
               panel=MODE_OPTIONS, help="output height x width (one number: a square)"),
    OptionSpec("levels", str | None, None, ("--levels",), metavar="1,2,4", panel=MODE_OPTIONS,
               help="pyramid levels, each pooled to LxL, in this order (default: 1,2,4)"),
    OptionSpec("ratio", str | None, None, ("--ratio",), metavar="R", panel=MODE_OPTIONS,
               help="output size as a fraction of the input: R or RH,RW, each in (0, 1)"),
    OptionSpec("samples", str | None, None, ("--samples",), metavar="UH,UW", panel=MODE_OPTIONS,
               help="the pseudo-random window offsets u, each in [0, 1) (instead of --seed)"),
    OptionSpec("seed", int | None, None, ("--seed",), min=0, metavar="N", panel=MODE_OPTIONS,
               help="seed of the random draws (default: a fresh one, shown in the report)"),
    OptionSpec("alpha", float | None, None, ("--alpha",), metavar="A", panel=MODE_OPTIONS,
               help="weight of max in alpha*max + (1-alpha)*avg, in [0, 1] (default: 0.5)"),
    OptionSpec("random", bool, False, ("--random",), panel=MODE_OPTIONS,
               help="pick max or avg at random per window (with --seed)"),
    OptionSpec("temperature", float | None, None, ("--temperature",), metavar="T",
               panel=MODE_OPTIONS,
               help="softmax temperature T > 0 of the weights exp(x/T) (default: 1)"),
    OptionSpec("weights", str | None, None, ("--weights",), metavar="FILE", panel=MODE_OPTIONS,
               help="the weight kernel: .npy or .json, shape KHxKW or KHxKWxC (required)"),
    OptionSpec("nodata", str | None, None, ("--nodata",), metavar="V|nan", panel=MODE_OPTIONS,
               help="cells equal to V (or NaN) are absent, like padding; a window without "
               "enough valid cells gives V"),
    OptionSpec("min_valid", float | None, None, ("--min-valid",), metavar="F",
               panel=MODE_OPTIONS,
               help="with --nodata: the fraction in (0, 1] of a window's cells inside the image "
               "that must be valid (default: at least one)"),
    OptionSpec("return_indices", str | None, None, ("--indices",), metavar="IDX.npy",
               panel=MODE_OPTIONS, image_only=True,
               help="also write the flat index of each chosen cell (h*W + w per channel, "
               "int64) to this .npy file, for `poolcli unpool`"),
    OptionSpec("per_channel", bool, False, ("--per-channel",), panel=MODE_OPTIONS,
               help="each channel draws its own cell (default: one cell for all channels)"),
    OptionSpec("linear_light", bool, False, ("--linear-light",), panel=MODE_OPTIONS,
               help="pool sRGB colour in linear light (a fine checkerboard averages to ~188, "
               "not 128)"),
    OptionSpec("ignore", str | None, None, ("--ignore",), metavar="V", panel=MODE_OPTIONS,
               help="pixels whose every channel equals V do not vote, unless the window holds "
               "nothing else (then V)"),
    OptionSpec("even", str | None, None, ("--even",), metavar="lower|mean", panel=MODE_OPTIONS,
               help="median of an even count: the lower middle (torch.median) or the mean of the "
               "two middles (numpy.median) (default lower)"),
    OptionSpec("q", float | None, None, ("--q",), metavar="Q", panel=MODE_OPTIONS,
               help="the quantile, in [0, 1], as numpy.quantile (linear) (default 0.5)"),
    OptionSpec("filter_size", int | None, None, ("--filter-size",), min=1, max=7, metavar="F",
               panel=MODE_OPTIONS,
               help="binomial blur filter size 1..7 (default 3)",
               mode_help=(("max", "binomial blur filter size 1..7 of --antialias (default 3)"),)),
    OptionSpec("antialias", bool, False, ("--antialias",), panel=MODE_OPTIONS,
               help="MaxBlurPool (Zhang 2019): max at stride 1, then blurpool at the stride"),
    # output
    OptionSpec("output", str | None, None, ("-o", "--output"), metavar="OUT", panel=OUTPUT,
               help=_OUT + " (default: <stem>_<mode><ext> next to each input)",
               vector_help=_OUT + " (default: print only)"),
    OptionSpec("format", str | None, None, ("--format",), metavar="FMT", panel=OUTPUT,
               help=_FMT.format(_IMAGE_FORMATS), vector_help=_FMT.format("npy|json")),
    OptionSpec("overwrite", bool, False, ("--overwrite",), panel=OUTPUT,
               help="replace existing outputs (inputs are never overwritten)"),
    OptionSpec("skip_existing", bool, False, ("--skip-existing",), panel=OUTPUT,
               help="skip inputs whose output exists (counted as done)"),
    OptionSpec("png_compress_level", int | None, None, ("--png-compress-level",), min=0, max=9,
               metavar="N", panel=OUTPUT, image_only=True,
               help="PNG compression level (default: 1, fast)"),
    OptionSpec("jpeg_quality", int | None, None, ("--jpeg-quality",), min=1, max=100,
               metavar="N", panel=OUTPUT, image_only=True, help="JPEG quality (default: 90)"),
    OptionSpec("codec", str | None, None, ("--codec",), metavar="h264|ffv1", panel=OUTPUT,
               image_only=True,
               help="video codec: h264 (lossy, plays everywhere; VP9 in WebM) or ffv1 "
               "(lossless, MKV/AVI) (default: h264)"),
    OptionSpec("crf", int | None, None, ("--crf",), min=0, max=63, metavar="N",
               panel=OUTPUT, image_only=True,
               help="video quality of h264 (0 best .. 51; VP9 0..63) (default: 18)"),
    OptionSpec("strip", bool, False, ("--strip",), panel=OUTPUT, image_only=True,
               help="write no metadata (EXIF, XMP, text chunks, ICC profile, DPI)"),
    # running
    OptionSpec("recursive", bool, False, ("-r", "--recursive"), panel=RUN,
               help="descend into subfolders of folder inputs"),
    OptionSpec("follow_symlinks", bool, False, ("--follow-symlinks",), panel=RUN,
               help="follow symbolic links inside folders (never loops)"),
    OptionSpec("jobs", int | None, None, ("-j", "--jobs"), min=1, metavar="N", panel=RUN,
               help="files in flight at a time: decoding and encoding overlap (default: the "
               "number of cores)"),
    OptionSpec("threads", int | None, None, ("--threads",), min=1, metavar="N", panel=RUN,
               help="threads of the CPU kernels (default: all cores)"),
    OptionSpec("backend", str, "auto", ("--backend",), metavar="auto|cpu|cuda|numpy", panel=RUN,
               show_default=False,
               help="where to pool: auto picks NumPy for small work, the GPU "
               "for large work when one is usable, else the Numba CPU kernels (default: auto)"),
    OptionSpec("max_pixels", int | None, None, ("--max-pixels",), min=0, metavar="N", panel=RUN,
               help="refuse images with more pixels per frame, from the header (default: ~180 M; "
               "0: no limit)"),
    OptionSpec("fail_fast", bool, False, ("--fail-fast",), panel=RUN,
               help="stop at the first failed input"),
    OptionSpec("quiet", bool, False, ("-q", "--quiet"), panel=RUN,
               help="no table and no progress bar on standard error (errors still show)"),
    OptionSpec("verbose", bool, False, ("-v", "--verbose"), panel=RUN,
               help="the per-file table even above 20 files (--json and --report always have "
               "every file)"),
    OptionSpec("json", bool, False, ("--json",), panel=RUN,
               help="print JSON Lines on standard output: one object per file, then a summary"),
    OptionSpec("report", str | None, None, ("--report",), metavar="FILE", panel=RUN,
               help="write the per-file records to FILE.json, FILE.jsonl or FILE.csv"),
    OptionSpec("dask", str | None, None, ("--dask",), metavar="ADDRESS", panel=RUN,
               image_only=True,
               help="run the batch on a Dask cluster: local, local:N (N worker processes here) or "
               "tcp://HOST:PORT; paths must be reachable from the workers "
               "(pip install 'poolcli\\[dask]')"),
)}


def window_names(mode) -> tuple[str, ...]:
    """The window options the command of ``mode`` (a ``modes.Mode``) takes."""
    if mode.windows == "sliding":
        # weighted: the size is the weights' shape
        return WINDOW_NAMES[1:] if mode.name == "weighted" else WINDOW_NAMES
    if mode.windows == "blur":
        return ("stride",)
    if mode.windows == "fractional":
        return ("size",)
    return ()


def command_options(mode) -> list[OptionSpec]:
    """The options of the command of ``mode``, in order: its window options, its mode
    options, then output and run (``image_only`` ones left out of the value modes)."""
    vector = mode.returns == "vector"
    named = [SPECS[n] for n in (*window_names(mode), *mode.options)]
    rest = [s for s in SPECS.values()
            if s.panel in (OUTPUT, RUN) and not (vector and s.image_only)]
    return named + rest


# --------------------------------------------------------------------------------------------
# the typed values the CLI hands the library


@dataclass(frozen=True)
class Window:
    """The window options as given on the command line (None / False: the API's default)."""

    size: str | None = None
    stride: str | None = None
    padding: str | None = None
    dilation: str | None = None
    ceil_mode: bool = False

    def given(self) -> dict:
        """Keyword arguments of ``api.run`` for the options given (defaults left out)."""
        return {k: getattr(self, k) for k in WINDOW_NAMES if getattr(self, k) not in (None, False)}


@dataclass(frozen=True)
class ModeOptions:
    """A mode's options, checked once: only the options ``mode`` takes may be set.

    Fields are the API's keywords; None means "not given" (the API's default applies).
    ``levels`` is parsed here (``--levels ''`` is an error, not the default); the other
    values stay as typed on the command line and are parsed by the API.
    """

    mode: str
    count_include_pad: bool | None = None
    p: float | None = None
    normalize: bool | None = None
    op: str | None = None
    output_size: str | None = None
    levels: tuple[int, ...] | None = None
    ratio: str | None = None
    samples: str | None = None
    seed: int | None = None
    alpha: float | None = None
    random: bool | None = None
    temperature: float | None = None
    #: the weight kernel, loaded (an array or nested lists), not its file name
    weights: Any = None
    linear_light: bool | None = None
    ignore: str | float | None = None
    even: str | None = None
    q: float | None = None
    filter_size: int | None = None
    antialias: bool | None = None
    nodata: str | None = None
    min_valid: float | None = None
    #: the CLI's --indices FILE (a path); the API's return_indices=True
    return_indices: str | None = None
    per_channel: bool | None = None

    def __post_init__(self) -> None:
        spec = modes.get(self.mode)
        extra = [f.name for f in fields(self)
                 if f.name != "mode" and f.name not in spec.options
                 and getattr(self, f.name) is not None]
        if extra:
            raise ValueError(f"{self.mode} takes no option {', '.join(extra)}; it takes: "
                             f"{', '.join(spec.options) or 'none'}")
        if self.op is not None and self.op not in modes.OPS.get(self.mode, ()):  # '' too
            raise ValueError(f"--op {self.op!r} is not available for {self.mode}; choose one "
                             f"of: {', '.join(modes.OPS.get(self.mode, ()))}")
        if self.levels is not None:
            object.__setattr__(self, "levels", parse_levels(self.levels))

    def given(self) -> dict:
        """Keyword arguments of ``api.run``: the options given, in the registry's order."""
        return {k: getattr(self, k) for k in modes.MODES[self.mode].options
                if getattr(self, k) is not None}

    def replace(self, **changes) -> ModeOptions:
        return dataclasses.replace(self, **changes)
