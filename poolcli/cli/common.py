"""Shared pieces of the CLI: the program name, one-line usage errors, the consoles, and
Typer parameters built from the option specs (``options.SPECS``).

Typer and the standard library only; rich is imported inside the console functions.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
from collections.abc import MutableMapping
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from ..options import OptionSpec

PROG = "poolcli"
#: when this module was imported (the fallback of ``wall_seconds``)
_T_IMPORT = time.perf_counter()


#: set by ``main()`` when it runs as the process's entry point (``poolcli ...``)
process_entry = False


def wall_seconds(since: float) -> float:
    """The wall time to report. As the process's entry point: the process's age
    (``/proc/self/stat``'s start time against ``/proc/uptime``), so the summary's "wall" is
    what the user waited, start-up included. Called in-process (``main(argv)``, tests,
    another program): the time since ``since`` (a ``perf_counter`` at the command's start)."""
    measured = time.perf_counter() - since
    if not process_entry:
        return measured
    since_import = time.perf_counter() - _T_IMPORT
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        start = int(stat[stat.rindex(b")") + 2:].split()[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return since_import
    age = uptime - start
    # the clocks tick in 10 ms: never below what this process measured itself
    return age if since_import <= age < since_import + 3600 else since_import


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
    # defaults are said in the help text, "(default: X)", one style for every option
    option = typer.Option(*spec.flags, help=spec.help_for(mode), rich_help_panel=spec.panel,
                          metavar=spec.metavar_for(mode), min=spec.min, max=spec.max,
                          show_default=False)
    return inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=spec.default,
                             annotation=Annotated[spec.type, option])


# options shared by the picture and tool commands
Size = Annotated[str, typer.Option("-k", "--size", metavar="K",
                                   help="window size: N or HxW (default: 2)")]
Stride = Annotated[str | None, typer.Option("-s", "--stride", metavar="S",
                                            help="step between windows (default: the size)")]
Backend = Annotated[str, typer.Option("--backend", metavar="auto|cpu|cuda|numpy",
                                      help="where to pool (default: auto)")]
Overwrite = Annotated[bool, typer.Option("--overwrite",
                                         help="replace existing outputs (never an input)")]


# --------------------------------------------------------------------------------------------
# the command class of every poolcli command: usage, defaults, unknown options

try:  # recent Typer vendors Click
    from typer._click.exceptions import NoSuchOption as _NoSuchOption
except ImportError:  # pragma: no cover - older Typer on top of Click
    from click.exceptions import NoSuchOption as _NoSuchOption


def _format_panels(params, ctx, formatter) -> None:
    """The parameters' help in sections, one per ``rich_help_panel`` (Arguments, then Window,
    Output ... as the specs say, then Options): plain text, so that ``--help`` never loads rich's
    Markdown, Traceback and Pretty modules (about half of the start-up time; issue 17)."""
    panels: dict[str, list[tuple[str, str]]] = {"Arguments": []}
    for param in params:
        record = param.get_help_record(ctx)
        if record is None:
            continue
        default = "Arguments" if param.param_type_name == "argument" else "Options"
        help_text = record[1].replace("\\[", "[")  # the specs escape rich markup
        panel = getattr(param, "rich_help_panel", None) or default
        panels.setdefault(panel, []).append((record[0], help_text))
    panels["Options"] = panels.pop("Options", [])  # --help last
    for title, rows in panels.items():
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


class Command(TyperCommand):
    """A Typer command that reads well:

    - help in plain-text sections, one per panel (``_format_panels``);
    - usage says ``INPUT...`` for a list argument and ``IMAGE`` for one (not ``{INPUT}``);
    - every default is said one way, ``(default: X)`` at the end of the help (never also
      ``[default: X]``);
    - an option the command does not take names those it does take (a pooling mode: its
      window and mode options).
    """

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        for p in self.params:
            is_option = getattr(p, "param_type_name", "") == "option"
            if not is_option or not getattr(p, "show_default", False):
                continue
            p.show_default = False
            default = p.default
            if p.help and "(default" not in p.help and default not in (None, False, ()) \
                    and not getattr(p, "is_flag", False):
                p.help = f"{p.help} (default: {default})"

    def format_options(self, ctx, formatter) -> None:
        _format_panels(self.get_params(ctx), ctx, formatter)

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        out = []
        for _piece, param in zip(pieces[1:], [p for p in self.get_params(ctx)
                                              if getattr(p, "param_type_name", "") == "argument"]):
            name = param.metavar or (param.name or "").upper()
            one = name if param.required else f"[{name}]"
            out.append(f"{name}..." if param.nargs != 1 else one)
        return pieces[:1] + out if len(out) == len(pieces) - 1 else pieces

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except _NoSuchOption as exc:
            takes = self.takes()
            if takes is not None:  # main() adds it to its message
                exc.takes = f"{self.name} takes {takes}, and the output and run options"
            raise

    def takes(self) -> str | None:
        """A pooling mode's window and mode options, as ``-k/--size, --op`` (None: not a mode)."""
        from .. import modes
        from ..options import SPECS, window_names

        spec = modes.MODES.get(self.name or "")
        if spec is None:
            return None
        names = [*window_names(spec), *spec.options]
        if not names:
            return "no window or mode option"
        return ", ".join("/".join(SPECS[n].flags) for n in names)


# --------------------------------------------------------------------------------------------
# the root group: commands built when first used


#: every command, in the order of ``poolcli --help``: name -> (panel, one-line help, a function
#: that returns its ``typer.models.CommandInfo``); filled by each module's ``register``
COMMANDS: dict[str, tuple[str, str, object]] = {}


def add_command(name: str, panel: str, callback, summary: str | None = None) -> None:
    """Register ``callback`` (a function, or a function that makes it when ``summary`` is
    given) as the command ``name`` in the help panel ``panel``."""
    from typer.models import CommandInfo

    if summary is None:
        doc = inspect.getdoc(callback) or ""
        summary = doc.split("\n\n")[0].replace("\n", " ").strip()

        def info() -> CommandInfo:
            return CommandInfo(name=name, callback=callback, cls=Command,
                               rich_help_panel=panel)
    else:
        def info() -> CommandInfo:
            return CommandInfo(name=name, callback=callback(), cls=Command,
                               rich_help_panel=panel)
    COMMANDS[name] = (panel, summary, info)


class LazyCommands(MutableMapping):
    """``Group.commands``: every name from the start, each Click command built on first
    access (Typer builds all of them otherwise, ~40 ms at every start, for the one that runs)."""

    def __init__(self, built) -> None:
        self._built = dict(built)
        self._names = list(COMMANDS) + [n for n in self._built if n not in COMMANDS]

    def __getitem__(self, name: str):
        if name not in self._built:
            if name not in self._names:
                raise KeyError(name)
            from typer.main import get_command_from_info

            self._built[name] = get_command_from_info(
                COMMANDS[name][2](), pretty_exceptions_short=False, rich_markup_mode=None)
        return self._built[name]

    def __setitem__(self, name: str, command) -> None:
        self._built[name] = command
        if name not in self._names:
            self._names.append(name)

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)

    def __contains__(self, name) -> bool:  # without building it
        return name in self._names

    def __iter__(self):
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)


class Group(TyperGroup):
    """The root command: its commands come from ``COMMANDS``, built when first used, and its
    help lists them by panel (Pooling, Tools ...) from the registry alone, in plain text."""

    def __init__(self, *args, commands=None, **kw) -> None:
        super().__init__(*args, commands=None, **kw)
        self.commands = LazyCommands(commands or {})

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands)

    def format_options(self, ctx, formatter) -> None:
        _format_panels(self.get_params(ctx), ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx, formatter) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        width = max(map(len, COMMANDS), default=0)  # one column for every panel
        for name, (panel, summary, _) in COMMANDS.items():
            if name in self.commands:
                panels.setdefault(panel, []).append((name.ljust(width), summary))
        for title, rows in panels.items():
            with formatter.section(title):
                formatter.write_dl(rows)
