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
``input_shape``         shape of the input array, natural layout (``[H, W]``, ``[H, W, C]``,
                        ``[D, H, W, C]``)
``output_shape``        shape of the result
``dtype``               the array's dtype (kept from input to output)
``input_bytes``         size of the input file
``output_bytes``        size of the written file
``reduction``           input pixels / output pixels (pixels per frame times frames)
``load_ms``             decoding time
``pool_ms``             pooling time, compilation excluded
``compile_ms``          kernel compilation (or cache loading) time, 0 when already loaded
``save_ms``             encoding and writing time
``megapixels_per_s``    input megapixels per second of ``pool_ms`` (the table's "pool MP/s")
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
``pool_ms``, ``compile_ms``, ``save_ms``, ``wall_ms`` (the process's wall time, from its
start) and ``megapixels_per_s`` (input megapixels per second of that wall time); with
videos also ``frames`` and ``frames_per_s``; with ``output_folders`` (the new
``<folder>_<mode>`` folders) when a folder input made one.

The table for people fits the terminal's width (``fit_columns``): empty columns are left
out, then columns by priority; file names are elided in the middle.

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
    #: --indices: the .npy file the index array was written to
    indices: str | None = None
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


#: the table's columns: (header, justify, priority); the lowest priority is dropped first
#: when the terminal is too narrow (input and status are never dropped)
_COLUMNS = (("input", "left", 0), ("output", "left", 3), ("shape", "left", 2),
            ("reduction", "right", 6), ("load ms", "right", 5), ("pool ms", "right", 4),
            ("compile ms", "right", 8), ("save ms", "right", 7), ("pool MP/s", "right", 9),
            ("seed", "right", 1), ("status", "left", 0))
#: the name columns (elided in the middle when the terminal is narrow) and their least width
_NAMES, _NAME_MIN = (0, 1), 12
#: columns of this priority and above are details: dropped before a file name is shortened
_DETAIL = 4
_SEP = 2


def printable(text: str) -> str:
    """``text`` on one line whatever it holds: newlines, tabs and undecodable bytes escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _cells(r: Record) -> list[str]:
    """One row: the failure's reason is not here (it is printed once, on its own line)."""
    shape = _shape(r.input_shape)
    if r.output_shape:
        shape = f"{shape} -> {_shape(r.output_shape)}"
    return [printable(r.input), printable(r.output or ""), shape,
            f"{r.reduction:.2f}" if r.reduction else "",
            _ms(r.load_ms), _ms(r.pool_ms), _ms(r.compile_ms) if r.compile_ms else "",
            _ms(r.save_ms),
            f"{r.megapixels_per_s:,.1f}" if r.megapixels_per_s else "",
            str(r.seed) if r.seed is not None else "", r.status]


def elide(text: str, width: int, dots: str = "…") -> str:
    """``text`` in at most ``width`` characters, shortened in the middle (a file name keeps
    its start and its extension)."""
    if len(text) <= width:
        return text
    if width <= len(dots):
        return text[:width]
    keep = width - len(dots)
    tail = keep // 2
    return text[:keep - tail] + dots + text[len(text) - tail:]


def fit_columns(rows: list[list[str]], width: int | None) -> tuple[list[int], list[int]]:
    """Which columns to show and how wide, so that the table fits ``width`` characters
    (None: no limit). Empty columns are left out; then, while the table is too wide, the
    detail column (times, rates) of lowest priority goes; then, while it is too wide even
    with the file names at their least width, any column but input and status; the room
    left goes to the file names (elided in the middle). -> (column indexes, their widths)."""
    header = [name for name, _, _ in _COLUMNS]
    shown = [i for i in range(len(_COLUMNS))
             if i in (0, len(_COLUMNS) - 1) or any(row[i] for row in rows)]
    full = {i: max([len(header[i])] + [len(row[i]) for row in rows]) for i in shown}
    if width is None:
        return shown, [full[i] for i in shown]

    def least(cols):
        return sum(min(full[i], _NAME_MIN) if i in _NAMES else full[i] for i in cols) \
            + _SEP * (len(cols) - 1)

    def whole(cols):
        return sum(full[i] for i in cols) + _SEP * (len(cols) - 1)

    # first the details (times, rates) go, while the names do not fit whole; then anything
    # but the input and the status, while the names do not fit at their least width
    for too_wide, lowest in ((whole, _DETAIL), (least, 1)):
        while too_wide(shown) > width:
            droppable = [i for i in shown if _COLUMNS[i][2] >= lowest]
            if not droppable:
                break
            shown.remove(max(droppable, key=lambda i: _COLUMNS[i][2]))
    names = [i for i in shown if i in _NAMES]
    room = width - sum(full[i] for i in shown if i not in _NAMES) - _SEP * (len(shown) - 1)
    widths = dict(full)
    if sum(full[i] for i in names) > room:  # share the room, the shorter name first
        for k, i in enumerate(sorted(names, key=lambda i: full[i])):
            share = max(room // (len(names) - k), min(full[i], _NAME_MIN))
            widths[i] = min(full[i], share)
            room -= widths[i]
    return shown, [widths[i] for i in shown]


def table_width(console) -> int | None:
    """The width the table must fit: the rich console's, or ``COLUMNS`` for plain text (a
    pipe or a log without ``COLUMNS``: no limit)."""
    if console is not None:
        return console.width
    import os

    try:
        return int(os.environ["COLUMNS"]) or None
    except (KeyError, ValueError):
        return None


def print_table(console, records: list[Record], summary: dict | None) -> None:
    """The records as a table fitted to the width (``fit_columns``), then the one-line
    summary (``summary=None``: none): on a rich ``console`` (standard error, a terminal:
    colours), or, with ``console=None``, as plain text on standard error (a pipe or a log:
    the same columns, without importing rich, ~18 ms of a run)."""
    rows = [_cells(r) for r in records]
    shown, widths = fit_columns(rows, table_width(console))
    dots = "…" if console is not None else "..."
    if console is None:
        head = [_COLUMNS[i][0] for i in shown]
        for row in [head] + [[row[i] for i in shown] for row in rows]:
            parts = [(elide(cell, w, dots).ljust(w) if _COLUMNS[i][1] == "left"
                      else elide(cell, w, dots).rjust(w))
                     for cell, w, i in zip(row, widths, shown)]
            print("  ".join(parts).rstrip(), file=sys.stderr)
        if summary is not None:
            print(summary_line(summary, markup=False), file=sys.stderr, flush=True)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 1),
                  collapse_padding=False)
    for i, w in zip(shown, widths):
        name, justify, _ = _COLUMNS[i]
        table.add_column(elide(name, w, dots), justify=justify, no_wrap=True, overflow="ellipsis",
                         width=w, min_width=w)
    style = {OK: "green", SKIPPED: "yellow", FAILED: "red"}
    for r, row in zip(records, rows):
        cells = [Text(elide(row[i], w, dots)) for i, w in zip(shown, widths)]
        cells[-1].stylize(style.get(r.status, ""))
        table.add_row(*cells)
    console.print(table)
    if summary is not None:
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
    """``200 ok of 200 files; 6.1 MB -> 1.5 MB; 54.0 MP in 0.45 s wall (120 MP/s)``: the
    wall time is the process's, start-up included, and the rate is per wall second; then
    where the outputs went (``into d_max/``) when a folder input made a new folder."""
    parts = [f"{s['ok']} ok"]
    if s["skipped"]:
        parts.append(f"{s['skipped']} skipped")
    if s["failed"]:
        parts.append(f"[red]{s['failed']} failed[/]" if markup else f"{s['failed']} failed")
    if s["cancelled"]:
        parts.append(f"{s['cancelled']} not run")
    size = _bytes(s["input_bytes"])
    if s["output_bytes"]:
        size = f"{size} -> {_bytes(s['output_bytes'])}"
    wall = f"{s['wall_ms'] / 1e3:.2f} s wall"
    if s.get("megapixels_per_s"):
        wall = (f"{_figure(s['input_megapixels'])} MP in {wall} "
                f"({_figure(s['megapixels_per_s'])} MP/s)")
    where = s.get("output_folders") or []
    into = ""
    if where:
        into = "; into " + ", ".join(printable(f) + "/" for f in where[:3]) + (
            f" and {len(where) - 3} more" if len(where) > 3 else "")
        if markup:
            into = _escape(into)
    noun = "file" if s["files"] == 1 else "files"
    return f"{', '.join(parts)} of {s['files']} {noun}; {size}; {wall}{into}"


def _figure(x: float) -> str:
    """Three significant figures at most, no exponent: 0.0123, 1.23, 12.3, 1,234."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}" if x >= 0.001 else f"{x:.4f}"


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)  # pragma: no cover


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
