"""The house: imports flow one way (cli -> api -> plan/geometry/dispatch -> backends, with
io, report and the registry below), and no module grows into several jobs.

Every import counts, the ones inside functions too (they run as soon as the function does).
A new module must be given its layer here: that is the moment to decide where it belongs.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "poolcli"

#: layer of each module (a prefix names a package and everything in it); a module may import
#: only modules of its own layer or below (cycles inside a layer are caught by test_no_cycles)
LAYERS: dict[str, int] = {
    # 0: plain data, the error family and the size limits (the CLI's --help reads these)
    "poolcli.errors": 0, "poolcli.modes": 0, "poolcli.options": 0, "poolcli.limits": 0,
    "poolcli.opcodes": 0,
    # 1: what sits below the engine: window tables, file I/O, inputs, reports, weight files
    "poolcli.geometry": 1, "poolcli.io": 1, "poolcli.inputs": 1, "poolcli.report": 1,
    "poolcli.learn": 1,
    # 2: the backend contract, and the shape-free checking of options it starts with
    "poolcli.plan": 2, "poolcli.validate": 2,
    # 3: the backends (they import plan, never api)
    "poolcli.reference": 3, "poolcli.kernels": 3,
    # 4: backend choice
    "poolcli.dispatch": 4,
    # 5: the public API and the array layouts around it
    "poolcli.api": 5, "poolcli.layouts": 5,
    # 6: what is built on the API: files, batches, pictures, tools
    "poolcli.strips": 6, "poolcli.batch": 6, "poolcli.distributed": 6, "poolcli.pictures": 6,
    "poolcli.explain": 6, "poolcli.bench": 6, "poolcli.formats": 6, "poolcli.pyramids": 6,
    "poolcli.bench_modes": 6,
    # 7: the command line (thin: parses, then calls the layers below)
    "poolcli.cli": 7, "poolcli.__main__": 7,
}

#: one job per module; a module above this many lines says in its docstring why it is one job
MAX_LINES = 600


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        found[name] = path
    return found


def layer(name: str) -> int | None:
    best = None
    for prefix, n in LAYERS.items():
        inside = name == prefix or name.startswith(prefix + ".")
        if inside and (best is None or len(prefix) > len(best[0])):
            best = (prefix, n)
    return None if best is None else best[1]


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The poolcli modules that ``name`` imports (every import statement, at any depth)."""
    is_pkg = path.name == "__init__.py"
    pkg = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            if t in known and t != name and t != "poolcli" and not name.startswith(t + "."):
                found.add(t)
    return found


def test_every_module_has_a_layer():
    missing = sorted(m for m in modules() if m != "poolcli" and layer(m) is None)
    assert not missing, f"give these modules a layer in tests/test_layout.py: {missing}"


def test_imports_flow_one_way():
    known = modules()
    upward = []
    for name, path in known.items():
        if name == "poolcli":  # the lazy public API may reach any layer
            continue
        for target in imports(name, path, known):
            if layer(target) > layer(name):
                upward.append(f"{name} (layer {layer(name)}) imports {target} "
                              f"(layer {layer(target)})")
    assert not upward, "\n".join(sorted(upward))


def test_no_cycles():
    known = modules()
    graph = {m: imports(m, p, known) for m, p in known.items() if m != "poolcli"}
    done, path = set(), []

    def visit(m):
        if m in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(m):] + [m]))
        if m in done:
            return
        path.append(m)
        for t in sorted(graph.get(m, ())):
            visit(t)
        path.pop()
        done.add(m)

    for m in sorted(graph):
        visit(m)


def test_modules_stay_one_job():
    too_big = []
    for name, path in modules().items():
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            if "one job" not in doc.lower():
                too_big.append(f"{name}: {lines} lines")
    assert not too_big, f"split these, or say in the docstring why each is one job: {too_big}"


def test_the_cli_imports_nothing_heavy_at_start_up():
    """``poolcli --help`` must stay instant: the cli package's module-level imports are the
    standard library, Typer/rich and layer 0 alone (NumPy, Pillow, Numba inside commands)."""
    heavy = ("numpy", "numba", "PIL", "scipy", "dask", "xarray", "av", "tifffile", "nibabel")
    offenders = []
    for name, path in modules().items():
        if not (name.startswith("poolcli.cli") or name in ("poolcli.modes", "poolcli.options",
                                                             "poolcli.errors", "poolcli")):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{name}: {n}" for n in names if n.split(".")[0] in heavy]
    assert not offenders, offenders


def _imported_by(*args: str) -> set[str]:
    """The modules a fresh ``python -X importtime -m poolcli ARGS`` imports."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "poolcli", *args],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()
            if line.startswith("import time:")}


def test_help_and_version_import_nothing_they_do_not_use():
    """Issue 17: ``poolcli --help`` under 0.15 s. Its help is plain text: neither NumPy, Numba
    nor Pillow, nor rich at all (Typer's rich help pulled in rich.markdown, markdown_it,
    rich.traceback and rich.pretty: half the start-up)."""
    heavy = {"numpy", "numba", "PIL", "rich", "rich.console", "rich.markdown", "markdown_it",
             "rich.traceback", "rich.pretty", "typer.rich_utils"}
    for args in (["--help"], ["max", "--help"], ["--version"]):
        loaded = _imported_by(*args)
        assert "typer" in loaded  # the measurement saw the imports
        assert not loaded & heavy, (args, sorted(loaded & heavy))


def test_a_one_file_run_imports_only_what_it_uses(tmp_path):
    """``poolcli max img.png`` (issue 17): NumPy and Pillow, not Numba (the NumPy backend
    wins on a small image), numpy.ma (masked arrays only), secrets and socket (a temporary
    file's name), learn (weighted only), nor rich (no terminal here)."""
    image = PACKAGE.parent / "sample_images" / "camera.png"
    loaded = _imported_by("max", str(image), "-o", str(tmp_path / "out.png"))
    assert {"numpy", "PIL.Image", "poolcli.batch"} <= loaded  # the measurement saw the run
    unused = {"numba", "numpy.ma", "secrets", "socket", "poolcli.learn", "rich", "rich.console",
              "typer.rich_utils"}
    assert not loaded & unused, sorted(loaded & unused)
    assert (tmp_path / "out.png").exists()
