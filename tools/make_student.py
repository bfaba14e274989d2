"""Generate the student version of the course: every cell tagged ``solution`` becomes a stub.

The notebooks in ``notebooks/`` are the instructor version. In ``student/`` each code cell tagged ``solution`` is
replaced by stubs of the functions it defines (same name and signature, docstring kept) whose body raises
``NotImplementedError`` with a hint naming the exercise; the self-check cell after it stays as it is. Lines of the
solution cell that start with ``# Hint:`` are copied into the stub. Cell ids are kept; the tag becomes ``exercise``.

    python -m tools.make_student                 # notebooks/*.ipynb -> student/*.ipynb
    python -m tools.make_student SRC_DIR DST_DIR

``make student`` runs it. The tests (tests/course/test_student.py) execute every student notebook and check that only
the exercise cells raise, and only ``NotImplementedError`` (reported by the self-checks as ``ExerciseNotDone``).
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools.plain_text import plain_title

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
_HEADING = re.compile(r"^#+\s*(.+?)\s*$", re.MULTILINE)
_MINUTES = re.compile(r"\s*\((?:≈|~)?\s*\d+\s*min\)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Exercise:
    """One coding exercise: the solution cell, the self-check cell after it, the functions it defines."""

    solution: int
    check: int
    functions: tuple[str, ...]
    title: str


def is_solution(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", [])


def defined_functions(source: str) -> tuple[str, ...]:
    """Names of the top-level functions a solution cell defines."""
    tree = ast.parse(source)
    return tuple(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


def exercise_title(cells: list[nbformat.NotebookNode], index: int) -> str:
    """The last Markdown heading above cell ``index`` ("Coding exercise 1: InfoNCE from a logit matrix"), its inline
    maths as plain text (it ends up in an error message, where ``$C$`` would stay raw)."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            headings = _HEADING.findall(cell.source)
            if headings:
                return plain_title(_MINUTES.sub(" ", headings[-1]).replace(" :", ":").strip())
    return "the exercise above"


def find_exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """Every solution cell with its self-check (the next code cell). Raises ValueError when one has none."""
    found = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        if not is_solution(cell):
            continue
        check = next((j for j in range(i + 1, len(cells)) if cells[j].cell_type == "code"), None)
        if check is None or is_solution(cells[check]):
            raise ValueError(f"the solution cell {i} is not followed by a self-check code cell")
        functions = defined_functions(cell.source)
        if not functions:
            raise ValueError(f"the solution cell {i} defines no function to turn into a stub")
        found.append(Exercise(i, check, functions, exercise_title(cells, i)))
    return found


def _stub(node: ast.FunctionDef | ast.AsyncFunctionDef, title: str, hints: list[str]) -> str:
    decorators = [f"@{ast.unparse(d)}" for d in node.decorator_list]
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    lines = [*decorators, f"{keyword} {node.name}({ast.unparse(node.args)}){returns}:"]
    docstring = ast.get_docstring(node, clean=False)
    if docstring is not None:
        lines.append(f"    {ast.unparse(ast.Constant(docstring))}")
    lines += [f"    {hint}" for hint in hints]
    lines.append("    # TODO: your code here, in place of the raise; the cell below checks it.")
    lines.append(f"    raise NotImplementedError({f'{title}: fill in {node.name}'!r})")
    return "\n".join(lines)


def stub_source(source: str, title: str) -> str:
    """The student's version of a solution cell: imports kept, each function a stub that raises."""
    tree = ast.parse(source)
    hints = [line.strip() for line in source.splitlines() if line.strip().lower().startswith("# hint:")]
    parts = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            parts.append(ast.unparse(node))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            parts.append(_stub(node, title, hints))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a bare string or constant: nothing to hand out
        else:
            raise ValueError(f"a solution cell may hold only imports and functions, got: {ast.unparse(node)[:80]!r}")
    return "\n\n\n".join(parts)


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with every solution cell replaced by its stub; everything else untouched."""
    out = copy.deepcopy(nb)
    for exercise in find_exercises(out):
        cell = out.cells[exercise.solution]
        cell.source = stub_source(cell.source, exercise.title)
        tags = [t for t in cell.metadata.get("tags", []) if t != SOLUTION_TAG]
        cell.metadata["tags"] = [*tags, EXERCISE_TAG]
        cell.outputs = []
        cell.execution_count = None
    out.metadata.setdefault("mmobjectives", {})["version"] = "student"
    return out


def make_student(src: Path = ROOT / "notebooks", dst: Path = ROOT / "student") -> list[Path]:
    """Write the student version of every ``src/*.ipynb`` into ``dst``; return the paths written."""
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(src.glob("*.ipynb")):
        nb = student_notebook(nbformat.read(path, as_version=4))
        target = dst / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", type=Path, default=ROOT / "notebooks")
    parser.add_argument("dst", nargs="?", type=Path, default=ROOT / "student")
    args = parser.parse_args(argv)
    for path in make_student(args.src, args.dst):
        nb = nbformat.read(path, as_version=4)
        n = sum(EXERCISE_TAG in c.metadata.get("tags", []) for c in nb.cells)
        print(f"{path}: {n} exercise stub(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
