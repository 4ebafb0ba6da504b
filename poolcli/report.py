"""Per-file results and the batch summary: a rich table, JSON Lines, CSV.

One ``Record`` per input file; ``summarize`` folds them into one summary dict.
The same field names are used everywhere (``--json`` lines, ``--report
FILE.json|.jsonl|.csv``), so a script can switch between them freely:

======================  ================================================================
field                   meaning
======================  ================================================================
``input``               the input path as given (``-`` for standard input)
``output``              the output path (``-`` for standard output; null when nothing was written)
``status``              ``ok``, ``skipped`` (``--skip-existing``) or ``failed``
``error``               the one-line reason of a failure, else null
``mode``                the pooling mode
``backend``             the backend that ran (``numpy``, ``cpu``, ``cuda``)
``input_shape``         shape of the input array, natural layout (``[H, W]``, ``[H, W, C]``, ``[D, H, W, C]``)
``output_shape``        shape of the result
``dtype``               the array's dtype (kept from input to output)
``input_bytes``         size of the input file
``output_bytes``        size of the written file
``reduction``           input pixels / output pixels (pixels per frame times frames)
``load_ms``             decoding time
``pool_ms``             pooling time, compilation excluded
``compile_ms``          kernel compilation (or cache loading) time, 0 when already loaded
``save_ms``             encoding and writing time
``megapixels_per_s``    input megapixels per second of ``pool_ms``
``seed``                the seed of random modes (fractional, stochastic, mixed --random)
``samples``             fractional pooling's samples ``[uh, uw]``
``frames``              video: the input's frames (else null)
``frames_per_s``        video: input frames per second of the file's wall time (decode, pool,
                        encode; its ``save_ms`` holds decoding and encoding, interleaved)
``frame_rate``          video: the output's frame rate (the input's / the temporal stride)
``warnings``            what writing the output lost, one line each (16-bit colour reduced to
                        8 bits, alpha dropped, floats rounded, metadata not kept, ...); ``[]``
                        when nothing; CSV: joined by ``"; "``
``pages``               TIFF pages of different sizes pooled one by one: each page's
                        ``[input_shape, output_shape]`` (then ``input_shape``/``output_shape``
                        are the first page's); null otherwise
======================  ================================================================

The summary object has ``"summary": true`` and ``files``, ``ok``, ``skipped``, ``failed``,
``cancelled``, ``input_bytes``, ``output_bytes``, ``input_megapixels``, ``load_ms``,
``pool_ms``, ``compile_ms``, ``save_ms``, ``wall_ms`` and ``megapixels_per_s`` (input
megapixels per second of wall time); with videos also ``frames`` and ``frames_per_s``.

Plain Python plus rich (no NumPy): shapes are tuples of ints.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from dataclasses import asdict, dataclass, field, fields

OK, SKIPPED, FAILED = "ok", "skipped", "failed"


@dataclass
class Record:
    """What happened to one input file."""

    input: str
    output: str | None = None
    status: str = OK
    error: str | None = None
    mode: str = ""
    backend: str | None = None
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    dtype: str | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    reduction: float | None = None
    load_ms: float | None = None
    pool_ms: float | None = None
    compile_ms: float | None = None
    save_ms: float | None = None
    megapixels_per_s: float | None = None
    seed: int | None = None
    samples: tuple[float, float] | None = None
    frames: int | None = None
    frames_per_s: float | None = None
    frame_rate: float | None = None
    #: what writing the output lost (one line each; the same text for the same loss)
    warnings: list[str] = field(default_factory=list)
    #: TIFF pages of different sizes: [(input_shape, output_shape)] per page
    pages: list | None = None
    #: values of vector modes (global, spp); not a report field, printed by the CLI
    values: list | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("values")
        for key in ("input_shape", "output_shape", "samples"):
            if d[key] is not None:
                d[key] = list(d[key])
        d["warnings"] = list(d["warnings"])
        if d["pages"] is not None:
            d["pages"] = [[list(i), list(o)] for i, o in d["pages"]]
        for key in ("load_ms", "pool_ms", "compile_ms", "save_ms", "megapixels_per_s", "reduction",
                    "frames_per_s", "frame_rate"):
            if d[key] is not None:
                d[key] = round(float(d[key]), 3)
        return d


FIELDS = tuple(f.name for f in fields(Record) if f.name != "values")


def pixels(shape) -> int:
    """Pixels of an array in natural layout: H*W per frame times frames (channels not counted).

    (H, W) and (H, W, C) are one frame; (D, H, W, C) has D frames. A 1-D vector counts its length.
    """
    if shape is None:
        return 0
    shape = tuple(shape)
    if len(shape) <= 2:
        return math.prod(shape)
    if len(shape) == 3:
        return shape[0] * shape[1]
    return math.prod(shape[:-1])


def fill_rates(rec: Record) -> Record:
    """Derive the reduction factor and the throughput from shapes and times."""
    pin, pout = pixels(rec.input_shape), pixels(rec.output_shape)
    if pin and pout and rec.output_shape is not None and len(rec.output_shape) >= 2:
        rec.reduction = pin / pout
    if pin and rec.pool_ms:
        rec.megapixels_per_s = pin / 1e6 / (rec.pool_ms / 1e3)
    return rec


def summarize(records: list[Record], wall_seconds: float, cancelled: int = 0) -> dict:
    """One summary object for a batch."""

    def total(name):
        return round(sum(getattr(r, name) or 0 for r in records), 3)

    mpix = sum(pixels(r.input_shape) for r in records if r.status == OK) / 1e6
    summary = {
        "summary": True,
        "files": len(records),
        "ok": sum(r.status == OK for r in records),
        "skipped": sum(r.status == SKIPPED for r in records),
        "failed": sum(r.status == FAILED for r in records),
        "cancelled": cancelled,
        "input_bytes": int(total("input_bytes")),
        "output_bytes": int(total("output_bytes")),
        "input_megapixels": round(mpix, 6),
        "load_ms": total("load_ms"),
        "pool_ms": total("pool_ms"),
        "compile_ms": total("compile_ms"),
        "save_ms": total("save_ms"),
        "wall_ms": round(wall_seconds * 1e3, 3),
        "megapixels_per_s": round(mpix / wall_seconds, 3) if wall_seconds > 0 else None,
    }
    frames = sum(r.frames or 0 for r in records if r.status == OK)
    if frames:  # videos in the batch: their frames, and frames per second of wall time
        summary["frames"] = frames
        summary["frames_per_s"] = round(frames / wall_seconds, 3) if wall_seconds > 0 else None
    return summary


# --------------------------------------------------------------------------------------------
# machine-readable output


def json_line(obj: dict | Record) -> str:
    if isinstance(obj, Record):
        obj = obj.as_dict()
    return json.dumps(obj, separators=(", ", ": "), allow_nan=False, default=_jsonable)


def _jsonable(value):
    """NumPy scalars and the like, without importing NumPy."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):  # pragma: no cover
        return None
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_report(path: str, records: list[Record], summary: dict) -> None:
    """``--report FILE``: ``.json`` (an object with "files" and "summary"), ``.jsonl`` (the
    ``--json`` lines) or ``.csv`` (one row per file, the same fields; no summary row).
    Written atomically: a crash leaves the previous report or none."""
    from .io.fsio import atomic_write

    kind = report_kind(path)
    if kind == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for r in records:
            row = r.as_dict()
            for key in ("input_shape", "output_shape", "samples"):
                if row[key] is not None:
                    row[key] = "x".join(str(v) for v in row[key])
            row["warnings"] = "; ".join(row["warnings"])
            if row["pages"] is not None:
                row["pages"] = " ".join(f"{_shape(i)}->{_shape(o)}" for i, o in row["pages"])
            writer.writerow(row)
        text = buf.getvalue()
    elif kind == "jsonl":
        text = "".join(json_line(r) + "\n" for r in records) + json_line(summary) + "\n"
    else:
        text = json.dumps({"files": [r.as_dict() for r in records], "summary": summary},
                          indent=2, default=_jsonable) + "\n"
    # surrogateescape: a file name that is not UTF-8 is written back as its own bytes
    data = text.encode("utf-8", "surrogateescape")
    atomic_write(path, lambda f: f.write(data))


def report_kind(path: str) -> str:
    """``json``, ``jsonl`` or ``csv`` from the report file's extension; ValueError otherwise."""
    lower = str(path).lower()
    for ext, kind in ((".jsonl", "jsonl"), (".json", "json"), (".csv", "csv")):
        if lower.endswith(ext):
            return kind
    raise ValueError(f"--report must name a .json, .jsonl or .csv file, got {path!r}")


# --------------------------------------------------------------------------------------------
# the table for people


def warning_lines(records: list[Record]) -> list[str]:
    """The warnings of a run, each once: ``"<warning>: N file(s)"`` in first-seen order (what
    the CLI prints once per run; the per-file lists are in the records)."""
    counts: dict[str, int] = {}
    for r in records:
        for w in dict.fromkeys(r.warnings):
            counts[w] = counts.get(w, 0) + 1
    return [f"{w}: {n} file{'s' if n != 1 else ''}" for w, n in counts.items()]


def _shape(shape) -> str:
    return "x".join(str(v) for v in shape) if shape is not None else ""


def _ms(value) -> str:
    return "" if value is None else f"{value:,.1f}"


_COLUMNS = (("input", "left"), ("output", "left"), ("shape", "left"), ("reduction", "right"),
            ("load ms", "right"), ("pool ms", "right"), ("compile ms", "right"),
            ("save ms", "right"), ("MP/s", "right"), ("status", "left"))


def printable(text: str) -> str:
    """``text`` on one line whatever it holds: newlines, tabs and undecodable bytes escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _cells(r: Record) -> list[str]:
    shape = f"{_shape(r.input_shape)} -> {_shape(r.output_shape)}" if r.output_shape else _shape(r.input_shape)
    return [r.input, r.output or "", shape, f"{r.reduction:.2f}" if r.reduction else "",
            _ms(r.load_ms), _ms(r.pool_ms), _ms(r.compile_ms) if r.compile_ms else "", _ms(r.save_ms),
            f"{r.megapixels_per_s:,.1f}" if r.megapixels_per_s else "",
            r.status if r.status != FAILED else f"failed: {r.error}"]


def print_table(console, records: list[Record], summary: dict) -> None:
    """The records as a table and a one-line summary: on a rich ``console`` (standard error, a
    terminal: colours), or, with ``console=None``, as plain text on standard error (a pipe or
    a log: the same columns, without importing rich, ~18 ms of a run)."""
    if console is None:
        rows = [[name for name, _ in _COLUMNS]] + [[printable(c) for c in _cells(r)] for r in records]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        for row in rows:
            parts = [cell.ljust(w) if how == "left" else cell.rjust(w)
                     for cell, w, (_, how) in zip(row, widths, _COLUMNS)]
            print("  ".join(parts).rstrip(), file=sys.stderr)
        print(summary_line(summary, markup=False), file=sys.stderr, flush=True)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in _COLUMNS:
        table.add_column(name, justify=justify, overflow="fold")
    style = {OK: "green", SKIPPED: "yellow", FAILED: "red"}
    for r in records:
        cells = _cells(r)
        table.add_row(Text(cells[0]), Text(cells[1]), *cells[2:-1],
                      f"[{style.get(r.status, '')}]{_escape(cells[-1])}[/]")
    console.print(table)
    console.print(summary_line(summary))


def _value(v) -> str:
    if v is None:
        return "nan"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def print_values(console, records: list[Record], mode: str, levels=(1, 2, 4)) -> None:
    """The values of ``global`` (one column per channel) or ``spp`` (one row per level and
    channel; ``levels`` in the order pooled) as a table on a rich ``console``."""
    from rich.table import Table
    from rich.text import Text

    ok = [r for r in records if r.values is not None]
    if not ok:
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("input", overflow="fold")
    if mode == "global":
        width = max(len(r.values[0] if r.output_shape and len(r.output_shape) == 2 else r.values)
                    for r in ok)
        for c in range(width):
            table.add_column(f"c{c}", justify="right")
        for r in ok:
            rows = r.values if len(r.output_shape) == 2 else [r.values]
            for f, row in enumerate(rows):
                name = r.input if len(rows) == 1 else f"{r.input} [frame {f}]"
                table.add_row(Text(name), *[_value(v) for v in row])
    else:
        for col in ("level", "channel", "values"):
            table.add_column(col, justify="right" if col != "values" else "left", overflow="fold")
        for r in ok:
            rows = r.values if len(r.output_shape) == 2 else [r.values]
            channels = len(rows[0]) // sum(level * level for level in levels)
            for f, row in enumerate(rows):
                name = r.input if len(rows) == 1 else f"{r.input} [frame {f}]"
                at = 0
                for level in levels:
                    for c in range(channels):
                        cells = row[at:at + level * level]
                        at += level * level
                        table.add_row(Text(name), str(level), str(c),
                                      " ".join(_value(v) for v in cells))
    console.print(table)


def summary_line(s: dict, markup: bool = True) -> str:
    parts = [f"{s['ok']} ok"]
    if s["skipped"]:
        parts.append(f"{s['skipped']} skipped")
    if s["failed"]:
        parts.append(f"[red]{s['failed']} failed[/]" if markup else f"{s['failed']} failed")
    if s["cancelled"]:
        parts.append(f"{s['cancelled']} not run")
    size = f"{_bytes(s['input_bytes'])} -> {_bytes(s['output_bytes'])}" if s["output_bytes"] else _bytes(s["input_bytes"])
    rate = f", {s['megapixels_per_s']:,.1f} MP/s" if s.get("megapixels_per_s") else ""
    return (f"{', '.join(parts)} of {s['files']} file(s); {size}; "
            f"wall {s['wall_ms'] / 1e3:.2f} s{rate}")


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)  # pragma: no cover


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
