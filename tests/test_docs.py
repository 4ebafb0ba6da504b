"""The README documents every command and mode; every command has help text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from poolcli import modes
from poolcli.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def command_names() -> list[str]:
    import typer.main

    return sorted(typer.main.get_command(app).commands)


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_and_is_in_the_readme(name):
    r = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "Usage:" in r.output
    assert f"poolcli {name}" in README, f"README does not show `poolcli {name}`"


@pytest.mark.parametrize("name", sorted(modes.MODES))
def test_every_mode_is_explained_in_the_readme(name):
    assert re.search(rf"`{name}`", README), f"README does not explain mode {name}"


def test_readme_starts_with_the_two_setup_commands():
    blocks = re.findall(r"```\n(.*?)\n```", README, flags=re.S)
    assert blocks[0].startswith("python3 -m pip install . && python3 -m poolcli max sample_images/")
    assert blocks[1].startswith('python3 -m pip install -e ".[test]" && python3 -m pytest')
    assert "NUMBA_ENABLE_CUDASIM=1" in blocks[1]
    for path in re.findall(r"sample_images/[\w./-]+\.(?:png|jpg)", blocks[0]):
        assert (Path(__file__).resolve().parent.parent / path).exists(), path


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "python -m pytest" in ci and "NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/test_cuda.py" in ci
    assert "ruff check" in ci and "venv" in ci
