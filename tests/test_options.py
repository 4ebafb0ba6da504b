"""The option specs as data (options.SPECS), the typed values the CLI hands the library
(Window, ModeOptions), and report.print_values, without going through the CLI."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from poolcli import modes, options, report
from poolcli.options import SPECS, ModeOptions, Window


def test_every_mode_option_has_one_spec_and_every_spec_is_used():
    used = {name for m in modes.MODES.values() for name in m.options}
    assert used <= set(SPECS)
    mode_specs = {s.name for s in SPECS.values() if s.panel == options.MODE_OPTIONS}
    assert mode_specs == used
    assert set(options.WINDOW_NAMES) == {s.name for s in SPECS.values() if s.panel == options.WINDOW}


def test_command_options_follow_the_registry():
    names = [s.name for s in options.command_options(modes.MODES["weighted"])]
    assert names[:5] == ["stride", "padding", "dilation", "ceil_mode", "weights"]
    assert "size" not in names and "dask" in names
    spp = [s.name for s in options.command_options(modes.MODES["spp"])]
    assert spp[:3] == ["levels", "op", "linear_light"]
    assert not {"size", "dask", "jpeg_quality", "png_compress_level"} & set(spp)
    assert [s.name for s in options.command_options(modes.MODES["fractional"])][0] == "size"


def test_help_and_metavar_are_filled_per_mode():
    op = SPECS["op"]
    assert op.metavar_for(modes.MODES["global"]) == "avg|max|min|lp"
    assert op.help_for(modes.MODES["global"]) == "the reduction (default avg)"
    assert op.metavar_for(modes.MODES["spp"]) == "max|avg"
    norm = SPECS["normalize"]
    assert norm.help_for(modes.MODES["weighted"]).endswith("(default --no-normalize)")
    assert norm.help_for(modes.MODES["lp"]).endswith("(default --normalize)")
    assert "npy|json" in SPECS["format"].help_for(modes.MODES["global"])
    assert "png|jpeg" in SPECS["format"].help_for(modes.MODES["max"])


def test_window_gives_only_what_was_given():
    assert Window().given() == {}
    assert Window(size="3", padding="1", ceil_mode=True).given() == {
        "size": "3", "padding": "1", "ceil_mode": True}


def test_mode_options_are_checked_once():
    assert ModeOptions("spp", levels="1,3").levels == (1, 3)
    assert ModeOptions("spp", levels="1,3", op="avg").given() == {"levels": (1, 3), "op": "avg"}
    assert ModeOptions("avg", count_include_pad=False).given() == {"count_include_pad": False}
    with pytest.raises(ValueError, match=r"^levels must be .* got ''$"):
        ModeOptions("spp", levels="")
    with pytest.raises(ValueError, match=r"^--op 'median' is not available for global; "
                                         r"choose one of: avg, max, min, lp$"):
        ModeOptions("global", op="median")
    with pytest.raises(ValueError, match=r"^--op '' is not available for adaptive"):
        ModeOptions("adaptive", op="")
    with pytest.raises(ValueError, match=r"^max takes no option seed; it takes: nodata, min_valid, return_indices$"):
        ModeOptions("max", seed=1)
    with pytest.raises(ValueError, match="unknown mode"):
        ModeOptions("nope")
    loaded = ModeOptions("weighted", weights="w.npy").replace(weights=[[1.0, 2.0]])
    assert loaded.given() == {"weights": [[1.0, 2.0]]}


def _printed(records, mode, levels=(1, 2, 4)) -> list[str]:
    out = io.StringIO()
    report.print_values(Console(file=out, width=200), records, mode, levels)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_print_values_of_global_one_column_per_channel():
    recs = [report.Record("a.png", values=[1.5, 2.0, 3.0], output_shape=(3,)),
            report.Record("bad.png", status=report.FAILED, error="x"),
            report.Record("v.npy", values=[[1, 2], [3, None]], output_shape=(2, 2))]
    lines = _printed(recs, "global")
    assert lines[0].split() == ["input", "c0", "c1", "c2"]
    assert lines[1].split() == ["a.png", "1.5", "2", "3"]
    assert lines[2].split() == ["v.npy", "[frame", "0]", "1", "2"]
    assert lines[3].split() == ["v.npy", "[frame", "1]", "3", "nan"]
    assert len(lines) == 4


def test_print_values_of_spp_one_row_per_level_and_channel():
    # 2 channels, levels (1, 2): channel-major per level, 1 + 4 values per channel
    values = [10.0, 20.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    lines = _printed([report.Record("a.png", values=values, output_shape=(10,))], "spp", (1, 2))
    assert [line.split() for line in lines[1:]] == [
        ["a.png", "1", "0", "10"], ["a.png", "1", "1", "20"],
        ["a.png", "2", "0", "1", "2", "3", "4"], ["a.png", "2", "1", "5", "6", "7", "8"]]
    assert _printed([report.Record("bad", status=report.FAILED)], "spp") == []
