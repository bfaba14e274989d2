"""Notebook hygiene: names, format, no outputs, the shared setup cell, no environment reads, lint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NAME = re.compile(r"^(\d\d)_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
SETUP_LINES = (
    "from mmobjectives import config",
    "DEVICE = config.get_device()",
    "BUDGET = config.budget()",
    "GEN = config.seed_everything(0)",
)


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_there_are_notebooks_and_the_overview_comes_first() -> None:
    assert NOTEBOOKS, "notebooks/ holds no .ipynb files"
    assert NOTEBOOKS[0].name == "00_overview.ipynb"


def test_names_are_numbered_topics_with_unique_numbers() -> None:
    numbers = []
    for path in NOTEBOOKS:
        match = NAME.match(path.name)
        assert match, f"{path.name} is not named NN_topic.ipynb (lower case, underscores)"
        numbers.append(match.group(1))
    assert len(numbers) == len(set(numbers)), f"two notebooks share a number: {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_valid_nbformat_with_python3_kernel(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert nb.metadata.get("kernelspec", {}).get("language") == "python"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    dirty = [i for i, cell in enumerate(nb["cells"]) if cell.get("outputs") or cell.get("execution_count") is not None]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts (run `make format`)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_first_code_cell_is_the_shared_setup(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    first_code = next(cell for cell in nb.cells if cell.cell_type == "code")
    source = re.sub(r"import \(\s*", "import ", first_code.source)  # a long import list wraps in parentheses
    for line in SETUP_LINES:
        assert line in source, f"{path.name}: the first code cell lacks {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_environment_reads_and_no_star_imports(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for pattern in ("os.environ", "getenv", "import *"):
            assert pattern not in cell.source, f"{path.name} cell {i}: {pattern!r} (ask mmobjectives.config instead)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_derivations_in_markdown_with_latex(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    markdown = [cell.source for cell in nb.cells if cell.cell_type == "markdown"]
    assert markdown and markdown[0].lstrip().startswith("# "), f"{path.name} must open with a '# title' cell"
    assert any("$" in text for text in markdown), f"{path.name} has no LaTeX in its Markdown"
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    assert any("assert " in text for text in code), f"{path.name} has no assert cell checking a claim"


def test_ruff_passes_on_package_tests_and_notebooks() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "mmobjectives", "tests", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
