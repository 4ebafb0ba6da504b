"""One error family, caught once by the CLI.

``PoolcliError`` is the root; each kind says who is at fault and how the CLI ends:

- ``UsageError``: the arguments cannot work (bad option values, nothing to do); exit 2.
  A ``ValueError`` too, so the API raises what callers of NumPy-style functions expect.
- ``ImageError``: one input cannot be read or one output cannot be written; that file
  fails with the one-line reason, the others go on (exit 1).
- ``BackendError``: a backend that was asked for cannot run here; exit 2.

Every message is one line that says what is wrong and what is allowed; the CLI prints it
unchanged (``poolcli: <file>: <message>``), the API lets it through.
"""

from __future__ import annotations


class PoolcliError(Exception):
    """The root of poolcli's own errors: ``str(exc)`` is the one-line reason."""


class UsageError(PoolcliError, ValueError):
    """The arguments cannot work: bad option values, nothing to do (CLI exit 2)."""


class ImageError(PoolcliError):
    """An input cannot be read or an output cannot be written (that file fails, exit 1)."""


class BackendError(PoolcliError, ValueError):
    """A backend that was asked for cannot run here (the message says why)."""
