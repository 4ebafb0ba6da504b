"""report.py on its own: Record.as_dict, the summary, JSON Lines, the --report files."""

from __future__ import annotations

import csv
import json

import pytest

from poolcli import report
from poolcli.report import FAILED, OK, SKIPPED, Record


def records() -> list[Record]:
    ok = report.fill_rates(Record(
        input="in/a.png", output="out/a.png", mode="max", backend="cpu", input_shape=(4, 6, 3),
        output_shape=(2, 3, 3), dtype="uint8", input_bytes=1000, output_bytes=300,
        load_ms=1.23456, pool_ms=2.0, compile_ms=0.0, save_ms=0.5, seed=2**53 - 1,
        samples=(0.25, 0.5)))
    skipped = Record(input="in/b.png", output="out/b.png", status=SKIPPED, mode="max")
    failed = Record(input="in/c\nd.png", output="out/c.png", status=FAILED, mode="max",
                    error="cannot identify image file")
    return [ok, skipped, failed]


def test_fill_rates_and_pixels():
    ok = records()[0]
    assert ok.reduction == 4.0  # 24 pixels -> 6
    assert ok.megapixels_per_s == pytest.approx(24 / 1e6 / 2e-3)
    assert report.pixels((5, 4, 3, 2)) == 60 and report.pixels((7, 3)) == 21
    assert report.pixels((12,)) == 12 and report.pixels(None) == 0
    vector = report.fill_rates(Record(input="v", input_shape=(4, 6, 3), output_shape=(3,)))
    assert vector.reduction is None  # a vector has no reduction factor


def test_as_dict_fields_lists_and_rounding():
    d = records()[0].as_dict()
    assert tuple(d) == report.FIELDS and "values" not in d
    assert d["input_shape"] == [4, 6, 3] and d["samples"] == [0.25, 0.5]
    assert d["load_ms"] == 1.235 and d["seed"] == 2**53 - 1


def test_summarize_counts_and_totals():
    s = report.summarize(records(), wall_seconds=0.5, cancelled=2)
    assert (s["summary"], s["files"], s["ok"], s["skipped"], s["failed"], s["cancelled"]) == (
        True, 3, 1, 1, 1, 2)
    assert s["input_bytes"] == 1000 and s["output_bytes"] == 300
    assert s["input_megapixels"] == 24e-6 and s["load_ms"] == 1.235 and s["wall_ms"] == 500.0
    assert s["megapixels_per_s"] == round(24e-6 / 0.5, 3)
    assert report.summarize([], 0.0)["megapixels_per_s"] is None
    line = report.summary_line(s, markup=False)
    assert line.startswith("1 ok, 1 skipped, 1 failed, 2 not run of 3 file(s); 1.0 KB -> 300 B;")


def test_json_line_is_one_parseable_line():
    line = report.json_line(records()[2])
    assert "\n" not in line
    assert json.loads(line)["input"] == "in/c\nd.png"
    with pytest.raises(ValueError):  # NaN is not JSON: never written as a bare NaN
        report.json_line({"x": float("nan")})


@pytest.mark.parametrize("name", ["r.json", "r.jsonl", "r.csv"])
def test_write_report_round_trips(tmp_path, name):
    recs = records()
    summary = report.summarize(recs, 1.0)
    path = tmp_path / name
    report.write_report(str(path), recs, summary)
    text = path.read_text()
    if name.endswith(".jsonl"):
        lines = [json.loads(x) for x in text.splitlines()]
        assert lines[:-1] == [r.as_dict() for r in recs] and lines[-1] == summary
    elif name.endswith(".json"):
        data = json.loads(text)
        assert data == {"files": [r.as_dict() for r in recs], "summary": summary}
    else:
        rows = list(csv.DictReader(text.splitlines(keepends=True)))
        assert list(rows[0]) == list(report.FIELDS) and len(rows) == 3  # no summary row
        assert rows[0]["input_shape"] == "4x6x3" and rows[0]["samples"] == "0.25x0.5"
        assert rows[2]["input"] == "in/c\nd.png" and rows[2]["status"] == FAILED
        assert rows[1]["load_ms"] == ""  # None is an empty cell
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # written atomically


def test_report_kind():
    kinds = [report.report_kind(p) for p in ("a.JSON", "a.jsonl", "b.csv")]
    assert kinds == ["json", "jsonl", "csv"]
    with pytest.raises(ValueError, match="--report must name a .json, .jsonl or .csv file"):
        report.report_kind("a.txt")


def test_plain_table_one_row_per_file(capsys):
    recs = records()
    report.print_table(None, recs, report.summarize(recs, 1.0))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 + len(recs) + 1  # header, one row per file, the summary
    assert err[3].startswith("in/c\\nd.png")  # the newline escaped: the row stays one line
    assert err[3].endswith("failed: cannot identify image file")
    assert report.printable("a\tb\udcff") == "a\\tb\\udcff"
    assert OK in err[1]
