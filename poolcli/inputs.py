"""Command-line inputs -> files -> jobs: what to read, where each result goes.

Two steps, each usable alone (``batch`` runs the jobs):

1. ``find_inputs``: command-line inputs (files, folders, ``-``) -> ``Source`` list.
   Folders list their image files (``--recursive``: and their subfolders'); symbolic links
   inside folders are skipped unless ``follow_symlinks``, and a real directory is never
   visited twice, so a link loop cannot loop. Hidden entries (``.name``) are skipped.
   Paths named on the command line are always followed. A folder that cannot be listed is
   reported through ``on_warning`` (the library never prints).
2. ``plan_jobs``: sources -> ``Job`` list (input, output, skip or planned failure), by the
   naming rules: ``-o FILE`` (one input), ``-o DIR`` (the tree under each folder input is
   mirrored under DIR, never escaping it; ``-o FILE.ext`` with several inputs is a usage
   error), ``-o -`` (standard output), or, without ``-o``, next to a file input as
   ``<stem>_<mode><ext>`` and, for a folder input, into a new sibling folder
   ``<folder>_<mode>/`` mirroring its tree (a folder input is never written into). An
   input is never overwritten (real paths are compared, so also through symbolic and hard
   links, even with ``--overwrite``); an existing output fails that input unless
   ``--overwrite`` (replace) or ``--skip-existing`` (skip, counted as done); two inputs
   with one output: the later ones fail.

Also the ``--format`` names (``parse_format``, ``format_extension``) and the file
extensions a folder is searched for (``IMAGE_EXTENSIONS``, also used by ``learn``).
Usage errors (nothing to do, ``-o`` that cannot work) raise ``UsageError`` (exit 2).
Standard library only: no NumPy, no Pillow.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from .errors import UsageError

#: file extensions a folder is searched for (any file named on the command line is tried)
IMAGE_EXTENSIONS = frozenset(
    (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp",
     ".ppm", ".pgm", ".pbm", ".pnm", ".npy")
)

#: the extras' formats a folder is also searched for (``formats``: video, NIfTI)
FORMAT_EXTENSIONS = frozenset(
    (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".nii", ".nii.gz")
)
#: extensions of two parts: ``brain.nii.gz`` -> ``brain_avg.nii.gz``
DOUBLE_EXTENSIONS = (".nii.gz", ".ome.tif", ".ome.tiff")


def split_ext(path: str) -> tuple[str, str]:
    """``os.path.splitext`` that keeps ``.nii.gz`` and ``.ome.tif(f)`` whole."""
    low = path.lower()
    for ext in DOUBLE_EXTENSIONS:
        if low.endswith(ext) and len(os.path.basename(path)) > len(ext):
            return path[: -len(ext)], path[-len(ext):]
    return os.path.splitext(path)


#: ``--format`` value -> (Pillow format name, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "png": ("PNG", ".png"),
    "jpeg": ("JPEG", ".jpg"),
    "jpg": ("JPEG", ".jpg"),
    "tiff": ("TIFF", ".tif"),
    "tif": ("TIFF", ".tif"),
    "bmp": ("BMP", ".bmp"),
    "gif": ("GIF", ".gif"),
    "webp": ("WEBP", ".webp"),
    "ppm": ("PPM", ".ppm"),
    "pgm": ("PPM", ".pgm"),
    "pnm": ("PPM", ".pnm"),
    "npy": ("NPY", ".npy"),
}
#: formats of the vector modes' files (global, spp)
VECTOR_FORMATS = {"npy": ".npy", "json": ".json"}

STDIO = "-"


def parse_format(text: str | None, *, vector: bool = False) -> str | None:
    """``--format`` -> its canonical name (``png``, ``jpeg``, ..., ``npy``, ``json``)."""
    if text is None:
        return None
    key = text.strip().lower().lstrip(".")
    table = VECTOR_FORMATS if vector else FORMATS
    if key not in table:
        raise UsageError(f"unknown --format {text!r}; choose one of: {', '.join(table)}")
    return "jpeg" if key == "jpg" else "tiff" if key == "tif" else key


def format_extension(fmt: str, *, vector: bool = False) -> str:
    return VECTOR_FORMATS[fmt] if vector else FORMATS[fmt][1]


# ------------------------------------------------------------------------------------------
# 1. inputs


@dataclass(frozen=True)
class Source:
    """One input file: its path (as given or as found), and where it sits under its folder."""

    path: str
    #: path relative to the folder it was found in (its name for a file given directly)
    rel: str
    #: True when found by listing a folder (not named on the command line)
    listed: bool = False
    #: the folder named on the command line it was found in (None: named itself)
    folder: str | None = None


def find_inputs(inputs: list[str], *, recursive: bool = False, follow_symlinks: bool = False,
                on_warning: Callable[[str], None] | None = None) -> list[Source]:
    """Expand the command line's inputs; UsageError when there is nothing to do.

    ``on_warning(message)`` hears of what is passed over on the way (a folder that cannot
    be listed: ``"<folder>: cannot list: <reason>"``); the CLI prints it after ``poolcli: ``.
    """
    if not inputs:
        raise UsageError("no input given; name image files, folders, or - for standard input")
    sources: list[Source] = []
    empty_folders = []
    for given in inputs:
        if given == STDIO:
            sources.append(Source(STDIO, "stdin"))
        elif os.path.isdir(given):
            found = [Source(s.path, s.rel, True, given)
                     for s in _walk(given, recursive, follow_symlinks, on_warning)]
            if not found:
                empty_folders.append(given)
            sources.extend(found)
        else:  # a file, or something missing: loading it reports why
            sources.append(Source(given, os.path.basename(given.rstrip("/\\")) or given))
    if not sources:
        where = ", ".join(empty_folders)
        hint = "" if recursive else " (add --recursive to search subfolders)"
        raise UsageError(f"no image files found in {where}{hint}")
    if STDIO in (s.path for s in sources) and len(sources) > 1:
        raise UsageError("- (standard input) must be the only input")
    return sources


def _walk(top: str, recursive: bool, follow_symlinks: bool,
          on_warning: Callable[[str], None] | None = None):
    """Image files under ``top`` in sorted order; each real directory is listed at most once."""
    visited: set[tuple[int, int]] = set()

    def visit(folder: str, rel: str):
        try:
            st = os.stat(folder)
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        if key in visited:
            return  # a link back to a folder already listed
        visited.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if on_warning is not None:
                on_warning(f"{folder}: cannot list: {exc.strerror or exc}")
            return
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            if e.is_symlink() and not follow_symlinks:
                continue
            try:
                is_dir = e.is_dir()
                is_file = e.is_file()
            except OSError:
                continue
            child_rel = f"{rel}/{e.name}" if rel else e.name
            path = child_rel if top in (".", "./") else e.path
            if is_dir:
                subdirs.append((path, child_rel))
            elif is_file and (os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
                              or split_ext(e.name)[1].lower() in FORMAT_EXTENSIONS):
                yield Source(path, child_rel, listed=True)
        if recursive:
            for path, child_rel in subdirs:
                yield from visit(path, child_rel)

    yield from visit(top, "")


# ------------------------------------------------------------------------------------------
# 2. outputs


@dataclass
class Job:
    source: Source
    #: the output path, ``-`` for standard output, None when nothing is written
    output: str | None
    skip: bool = False
    #: why this input fails before it is read (output exists, would overwrite an input, ...)
    error: str | None = None
    #: create the output's folder (outputs mirrored under -o DIR, -o new/dir/x.png)
    make_dirs: bool = False
    #: the failure is "the output exists" (the CLI groups those in one line)
    exists: bool = False


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _inode(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def output_is_dir(output: str, sources: list[Source]) -> bool:
    """Whether ``-o OUTPUT`` names a folder: it is one, ends with a slash, or there are
    many inputs (or a folder input)."""
    return (os.path.isdir(output) or output.endswith(("/", os.sep))
            or len(sources) > 1 or any(s.listed for s in sources))


def looks_like_file(output: str) -> bool:
    """``-o OUTPUT`` names a file: not an existing folder, no trailing slash, and an image or
    value file extension (``single.png``; a folder named ``run.2024`` is still a folder)."""
    if os.path.isdir(output) or output.endswith(("/", os.sep)):
        return False
    ext = os.path.splitext(output)[1].lower()
    return ext in IMAGE_EXTENSIONS or ext in (".json", ".jsonl", ".csv")


def sibling_folder(folder: str, mode: str) -> str:
    """Where a folder input's outputs go without ``-o``: ``<folder>_<mode>`` beside it
    (``.`` and ``..`` are named by their real name: ``./`` -> ``../<name>_<mode>``)."""
    norm = os.path.normpath(folder)
    if os.path.basename(norm) in ("", ".", ".."):
        norm = os.path.abspath(norm)
    if os.path.dirname(norm) == norm:  # the root: it has no sibling
        raise UsageError(f"{folder} has no sibling folder for the outputs; give -o DIR")
    return f"{norm}_{mode}"


def plan_jobs(sources: list[Source], *, mode: str, output: str | None = None,
              ext: str | None = None, overwrite: bool = False, skip_existing: bool = False,
              vector: bool = False) -> list[Job]:
    """Decide every output path and which inputs fail or are skipped before any work.

    ``ext``: the output extension (from ``--format``); by default the input's for images,
    ``.npy`` for vectors. ``vector``: global/spp, which write nothing without ``-o``.
    """
    if overwrite and skip_existing:
        raise UsageError("give --overwrite or --skip-existing, not both")
    _resolved = functools.lru_cache(maxsize=None)(_real)  # each path resolved once per plan
    if output == STDIO:
        if len(sources) != 1:
            raise UsageError(f"-o - (standard output) takes one input, got {len(sources)}")
        return [Job(sources[0], STDIO)]

    default_ext = ext or (".npy" if vector else None)
    jobs: list[Job] = []
    many = len(sources) > 1 or any(s.listed for s in sources)
    if output is not None and many and looks_like_file(output):
        what = f"{len(sources)} inputs" if len(sources) > 1 else "a folder input"
        raise UsageError(f"-o {output} names one file, but {what} need a folder: "
                         f"give -o {os.path.splitext(output)[0]}/ (or one input)")
    if output is None:
        for s in sources:
            if vector:
                jobs.append(Job(s, None))
            elif s.path == STDIO:
                raise UsageError("standard input needs -o FILE, -o DIR/ or -o - for the result")
            elif s.listed and s.folder is not None:
                # a folder is never written into: a new sibling <folder>_<mode>/, the tree
                # mirrored (a second run of another mode never pools the first one's outputs)
                stem, in_ext = split_ext(s.rel)
                new_ext = default_ext or in_ext
                rel = (stem + new_ext) if new_ext != in_ext else s.rel
                jobs.append(Job(s, os.path.join(sibling_folder(s.folder, mode), rel),
                                make_dirs=True))
            else:
                stem, in_ext = split_ext(s.path)
                jobs.append(Job(s, f"{stem}_{mode}{default_ext or in_ext}"))
    elif output_is_dir(output, sources):
        if os.path.exists(output) and not os.path.isdir(output):
            raise UsageError(f"-o {output} is a file, but {len(sources)} inputs need a folder")
        root = _resolved(output)
        for s in sources:
            rel = "stdin" if s.path == STDIO else s.rel
            stem, in_ext = split_ext(rel)
            new_ext = default_ext or in_ext
            if s.path == STDIO and not new_ext:
                raise UsageError("standard input into a folder needs --format to name the file")
            out = os.path.join(output, (stem + new_ext) if new_ext != in_ext else rel)
            job = Job(s, out, make_dirs=True)
            if os.path.commonpath([root, _resolved(out)]) != root:
                job.error = (f"output {out} would be outside {output} (a link leads out); "
                             "not written")
            jobs.append(job)
    else:
        jobs.append(Job(sources[0], output, make_dirs=True))  # -o new/dir/x.png: made

    # a file that another input of this run writes is a previous run's output: not an input
    planned = {_resolved(j.output): i for i, j in enumerate(jobs) if j.output not in (None, STDIO)}
    jobs = [j for i, j in enumerate(jobs)
            if not (j.source.listed and planned.get(_resolved(j.source.path), i) != i)]

    input_reals = {_resolved(j.source.path) for j in jobs if j.source.path != STDIO}
    input_inodes = {i for j in jobs if j.source.path != STDIO and (i := _inode(j.source.path))}
    first_with: dict[str, str] = {}
    for j in jobs:
        if j.output in (None, STDIO) or j.error:
            continue
        real = _resolved(j.output)
        exists = os.path.lexists(j.output)
        if exists and skip_existing:
            j.skip = True
        elif real in input_reals or (exists and _inode(j.output) in input_inodes):
            j.error = f"output {j.output} is an input file; inputs are never overwritten"
        elif real in first_with:
            j.error = (f"output {j.output} is also the output of {first_with[real]}; "
                       "not overwritten")
        elif exists and not overwrite:
            j.error = (f"output {j.output} exists "
                       "(use --overwrite to replace it or --skip-existing)")
            j.exists = True
        first_with.setdefault(real, j.source.path)
    return jobs


__all__ = [
    "FORMATS",
    "FORMAT_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "STDIO",
    "VECTOR_FORMATS",
    "Job",
    "Source",
    "find_inputs",
    "format_extension",
    "looks_like_file",
    "output_is_dir",
    "parse_format",
    "plan_jobs",
    "sibling_folder",
    "split_ext",
]
