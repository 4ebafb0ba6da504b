"""Shared option parsing: the ``2``, ``2x3``, ``2x2x2`` syntax and friends.

Plain Python (no NumPy): the CLI imports this module at start-up.
Every parser raises ValueError with a one-line message that says what is
wrong and what is allowed; the CLI turns it into a usage error (exit 2) and
the API lets it through unchanged, so both say the same words.
"""

from __future__ import annotations

from numbers import Integral

Tuple = tuple[int, ...]


def parse_ints(text: str | int | tuple | list, name: str, *, lengths=(1, 2, 3), minimum: int = 1) -> Tuple:
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
    return values


def parse_padding(text) -> Tuple | str:
    """Padding: a number per axis (>= 0), or ``"same"`` (TensorFlow's SAME)."""
    if isinstance(text, str) and text.strip().lower() == "same":
        return "same"
    return parse_ints(text, "padding", minimum=0)


def parse_floats(text: str | tuple | list, name: str, *, count: int | None = None) -> tuple[float, ...]:
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
            raise ValueError("levels must be a comma-separated list of whole numbers >= 1, like 1,2,4; got ''")
        try:
            values = tuple(int(p) for p in raw.split(","))
        except ValueError:
            raise ValueError(
                f"levels must be a comma-separated list of whole numbers >= 1, like 1,2,4; got {text!r}"
            ) from None
    if not values or any((not isinstance(v, int)) or v < 1 for v in values):
        raise ValueError(f"levels must be whole numbers >= 1, like 1,2,4; got {text!r}")
    return values


def parse_size2(text, name: str) -> tuple[int, int]:
    """An output size ``HxW`` (or one number for a square)."""
    values = parse_ints(text, name, lengths=(1, 2))
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])
