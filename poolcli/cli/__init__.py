"""The command line: a Typer app, one small function per command.

Commands parse their options, then call the library and ``report``. Start-up is kept
cheap: this package imports only Typer, rich (inside functions), the standard library,
``options`` and ``modes``; NumPy, Numba and Pillow load inside the commands that need them,
so ``poolcli --help``, ``poolcli modes`` and ``--version`` never start them.

Modules, each registering its commands on ``app`` through ``register(app)``:

- ``common``: the program name, one-line usage errors, consoles, parameters from specs
- ``pooling``: one command per mode of ``modes.MODES``, options from ``options.SPECS``
- ``checks``: the once-only check of a pooling command's window and mode options
- ``tools``: info, modes, doctor, warmup
- ``picture_tools``: compare, pyramid, explain, learn, bench

To add a command, write a function with ``Annotated`` parameters in one of them (or a new
module) and register it in that module's ``register``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ..options import did_you_mean
from . import common, picture_tools, pooling, tools
from .common import PROG, Group

try:  # recent Typer vendors Click
    from typer._click.exceptions import ClickException as _ClickException
    from typer._click.exceptions import NoArgsIsHelpError as _NoArgsIsHelp
    from typer._click.exceptions import NoSuchOption as _NoSuchOption
except ImportError:  # pragma: no cover - older Typer on top of Click
    from click.exceptions import ClickException as _ClickException
    from click.exceptions import NoSuchOption as _NoSuchOption

    # Click < 8.2 prints the help itself: nothing to catch
    _NoArgsIsHelp = getattr(__import__("click").exceptions, "NoArgsIsHelpError", ())

app = typer.Typer(
    name=PROG,
    help="Apply the pooling operations of CNNs (max, avg, min, Lp, adaptive, fractional, mixed, "
    "stochastic, SoftPool, learned ...) to images and arrays, fast.",
    no_args_is_help=True,
    add_completion=True,
    # help as wide as the terminal, up to 120 columns (Click's default stops at 80)
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
    pretty_exceptions_enable=False,
    # plain-text help (common.Group, common.Command): rich's help formatting costs ~0.1 s of
    # imports (Markdown, Traceback, Pretty) at every start (issue 17)
    rich_markup_mode=None,
    cls=Group,
)


def _version_callback(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool | None, typer.Option(
        "--version", "-V", callback=_version_callback, is_eager=True,
        help="print the version and exit")] = None,
) -> None:
    """Apply the pooling operations of CNNs to images and arrays, fast.

    Example: poolcli max photo.png -k 2  (writes photo_max.png). Exit codes: 0 all done,
    1 some inputs failed, 2 usage error, 130 interrupted.
    """


# every command is a common.Command (usage, defaults and unknown options, alike everywhere),
# registered in common.COMMANDS and built by common.Group when first used
pooling.register()
tools.register()
picture_tools.register()


# --------------------------------------------------------------------------------------------
# the entry point


def main(argv: list[str] | None = None) -> None:
    """``poolcli``: run the app; no traceback ever reaches the user (POOLCLI_DEBUG=1 shows them)."""
    import warnings

    code = 0
    common.process_entry = argv is None  # the summary's wall time: the process's age
    try:
        with warnings.catch_warnings():
            if not os.environ.get("POOLCLI_DEBUG") and not sys.warnoptions:
                # Pillow warns (two lines, a source path) about the corrupt files whose
                # failure poolcli already reports in one line
                warnings.simplefilter("ignore")
            rv = app(args=argv, prog_name=PROG, standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except KeyboardInterrupt:
        code = 130
    except _NoArgsIsHelp as exc:  # bare `poolcli`: the help, as --help gives it; exit 2
        print(exc.format_message().rstrip())
        code = exc.exit_code
    except _ClickException as exc:
        message = exc.format_message().strip()
        if isinstance(exc, _NoSuchOption):  # the API's suggestion, in the CLI's words
            message = f"No such option: {exc.option_name}" + did_you_mean(
                exc.option_name, exc.possibilities or (), cli=True)
            if getattr(exc, "takes", None):  # a pooling mode: the options it does take
                message += f"; {exc.takes}"
        if message:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            print(f"{PROG}: error: {message.splitlines()[0]}{hint}", file=sys.stderr)
        code = exc.exit_code
    except typer.Abort:
        print(f"{PROG}: aborted", file=sys.stderr)
        code = 1
    except BrokenPipeError:
        _silence_stdout()
        code = 1
    except Exception as exc:  # noqa: BLE001 - no tracebacks for users
        if os.environ.get("POOLCLI_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} "
              "(POOLCLI_DEBUG=1 shows the traceback)", file=sys.stderr)
        code = 1
    if argv is None and "numba" in sys.modules:
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown, which costs ~0.1 s once Numba is loaded (its
    threading layer and LLVM finalisers; measured: 0.43 s against 0.33 s for a process that
    only warms a kernel). Every output file is closed by now; the standard streams are
    flushed here."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _silence_stdout() -> None:
    """After a broken pipe, keep the interpreter from failing again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
