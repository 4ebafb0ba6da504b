"""Shared pieces of the CLI: the program name, one-line usage errors, the consoles, and
Typer parameters built from the option specs (``options.SPECS``).

Typer and the standard library only; rich is imported inside the console functions.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Annotated

import typer

from ..options import OptionSpec

PROG = "poolcli"


def usage_error(message) -> typer.Exit:
    """Print ``poolcli: error: <message>`` (one line) and return the Exit(2) to raise."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else "invalid usage"
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)
    return typer.Exit(2)


def warn(message: str) -> None:
    """The library's warnings (``on_warning``): ``poolcli: <message>`` on standard error."""
    print(f"{PROG}: {message}", file=sys.stderr)


def fail(message: str) -> typer.Exit:
    """Print ``poolcli: <message>`` (one line) and return the Exit(1) to raise."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    return typer.Exit(1)


def stderr_is_terminal() -> bool:
    """Progress bars only for people: never into a pipe or a log file."""
    return sys.stderr.isatty()


def stderr_console():
    from rich.console import Console

    if sys.stderr.isatty():
        return Console(stderr=True)
    return Console(stderr=True, width=int(os.environ.get("COLUMNS") or 200), soft_wrap=False)


def stdout_console():
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=int(os.environ.get("COLUMNS") or 200))


def plain(text: str):
    """``text`` as a rich Text: shown as is, never read as markup."""
    from rich.text import Text

    return Text(text)


def parameter(spec: OptionSpec, mode) -> inspect.Parameter:
    """The keyword-only parameter (a Typer option) of ``spec`` in the command of ``mode``."""
    option = typer.Option(*spec.flags, help=spec.help_for(mode), rich_help_panel=spec.panel,
                          metavar=spec.metavar_for(mode), min=spec.min, max=spec.max,
                          show_default=spec.show_default)
    return inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=spec.default,
                             annotation=Annotated[spec.type, option])


# options shared by the picture and tool commands
Size = Annotated[str, typer.Option("-k", "--size", metavar="K", help="window size: N or HxW")]
Stride = Annotated[str | None, typer.Option("-s", "--stride", metavar="S",
                                            help="step between windows (default: the size)")]
Backend = Annotated[str, typer.Option("--backend", metavar="auto|cpu|cuda|numpy",
                                      help="where to pool")]
Overwrite = Annotated[bool, typer.Option("--overwrite",
                                         help="replace existing outputs (never an input)")]
