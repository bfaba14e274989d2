"""Execute each instructor notebook once, top to bottom, and learn from that one run what the tests need.

In one kernel, cell after cell, as ``nbval`` would; at each exercise (a cell tagged ``solution`` and the self-check
after it), before the solution runs:

1. the student's stub (from ``make_student.student_notebook``) is defined and the self-check must say
   ``ExerciseNotDone`` — what a student sees before solving it;
2. the solution is run with its functions wrapped to return a perturbed value, and the self-check must fail with an
   ``AssertionError`` saying what differs;

then the solution and its self-check run as cells of the notebook, and must pass. Every error of a notebook cell is
recorded. The result also holds the executed instructor notebook (figures inline, widget state saved), which
``build_site.py`` turns into pages without executing anything again.

Why this also proves that the student version runs with errors only in its exercise cells: the student notebook is
the instructor notebook with each solution replaced by stubs that only define functions; so its other cells run
exactly as here, unless one of them uses an exercise function — which ``tests/test_student.py`` rules out — and its
self-checks raise ``ExerciseNotDone`` (step 1).

Kernels run in the ``smoke`` budget, offline, in this Python environment, with matplotlib's inline backend.
"""

from __future__ import annotations

import copy
import functools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import ipykernel.kernelspec
import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_student import Exercise, find_exercises, student_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOT_DONE = ("NotImplementedError", "ExerciseNotDone")
SMOKE_ENV = {"MMO_BUDGET": "smoke", "MMO_OFFLINE": "1", "MMO_PROGRESS": "0", "PYTHONHASHSEED": "0"}

# Wraps each named function so that it returns its solution's value plus 0.1·(1 + |value|): wrong everywhere, by far
# more than any self-check's tolerance, with the gradients intact.
_PERTURB = """
def _mmo_wrong(f):
    import functools

    import torch

    @functools.wraps(f)
    def wrong(*args, **kwargs):
        out = f(*args, **kwargs)
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            raise TypeError(f"cannot perturb {{f.__name__}}: it returned {{type(out).__name__}}, not a float tensor")
        return out + 0.1 * (1 + out.detach().abs())

    return wrong


{assignments}
"""


class _ThisPythonSpecs(KernelSpecManager):
    """Every kernel name means ipykernel in this very interpreter (like nbval's ``--nbval-current-env``)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())


class ThisPythonKernel(AsyncKernelManager):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("kernel_spec_manager", _ThisPythonSpecs())
        super().__init__(**kwargs)


def notebook_client(nb: nbformat.NotebookNode, path: Path, *, timeout: int, allow_errors: bool) -> NotebookClient:
    """An nbclient runner for ``nb`` (read from ``path``): this interpreter's kernel, widget state saved."""
    return NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=ThisPythonKernel,
        allow_errors=allow_errors,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )


def kernel_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: ours, the smoke budget, offline, and no MPLBACKEND (so figures are inline)."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(SMOKE_ENV)
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class CellError:
    """An error a cell raised: where, which exception, its message, the end of its traceback."""

    index: int
    ename: str
    evalue: str
    traceback: str = ""

    def __str__(self) -> str:
        return f"cell {self.index}: {self.ename}: {self.evalue}"


@dataclass
class ExerciseOutcome:
    """What the self-check of one exercise said on the student's stub, on a wrong implementation, on the solution."""

    exercise: Exercise
    on_stub: CellError | None = None
    on_wrong: CellError | None = None
    on_solution: CellError | None = None
    setup_errors: list[CellError] = field(default_factory=list)


@dataclass
class CourseRun:
    """One notebook executed as described in the module docstring."""

    path: Path
    executed: nbformat.NotebookNode
    exercises: list[Exercise]
    errors: list[CellError]
    outcomes: list[ExerciseOutcome]
    seconds: float


def _error(cell: nbformat.NotebookNode, index: int) -> CellError | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            tail = "\n".join(output.get("traceback", [])[-3:])
            return CellError(index, output.get("ename", ""), output.get("evalue", ""), tail)
    return None


def _run_scratch(client: NotebookClient, source: str, index: int) -> CellError | None:
    """Execute code that is not part of the notebook (appended, run, removed again); errors carry ``index``."""
    cell = nbformat.v4.new_code_cell(source)
    client.nb.cells.append(cell)
    try:
        done = client.execute_cell(cell, len(client.nb.cells) - 1)
    finally:
        client.nb.cells.pop()
    return _error(done, index)


def run_notebook(path: Path, *, timeout: int = 600, env: dict[str, str] | None = None) -> CourseRun:
    """Execute ``path`` as described in the module docstring (one kernel, one pass)."""
    instructor = nbformat.read(path, as_version=4)
    exercises = find_exercises(instructor)
    student = student_notebook(instructor)
    executed = copy.deepcopy(instructor)
    client = notebook_client(executed, path, timeout=timeout, allow_errors=True)
    by_solution = {e.solution: e for e in exercises}
    errors: list[CellError] = []
    outcomes: list[ExerciseOutcome] = []
    checks: dict[int, ExerciseOutcome] = {}
    start = time.perf_counter()
    with client.setup_kernel(env=kernel_env(env)):
        for index, cell in enumerate(executed.cells):
            if index in by_solution:
                exercise = by_solution[index]
                outcome = ExerciseOutcome(exercise)
                check = instructor.cells[exercise.check].source
                stub_error = _run_scratch(client, student.cells[index].source, index)
                outcome.on_stub = _run_scratch(client, check, exercise.check)
                wrap = _PERTURB.format(assignments="\n".join(f"{f} = _mmo_wrong({f})" for f in exercise.functions))
                for source in (instructor.cells[index].source, wrap):
                    outcome.setup_errors.append(_run_scratch(client, source, index))
                outcome.on_wrong = _run_scratch(client, check, exercise.check)
                outcome.setup_errors = [e for e in (stub_error, *outcome.setup_errors) if e is not None]
                outcomes.append(outcome)
                checks[exercise.check] = outcome
            done = client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            error = _error(done, index)
            if error is not None:
                errors.append(error)
            if index in checks:
                checks[index].on_solution = error
        client.set_widgets_metadata()
    return CourseRun(path, executed, exercises, errors, outcomes, time.perf_counter() - start)


@functools.cache
def cached_run(path: Path) -> CourseRun:
    """:func:`run_notebook` once per notebook and process (the student, self-check and site tests share it)."""
    return run_notebook(path)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        run = run_notebook(Path(arg))
        print(f"{arg}: {run.seconds:.0f} s; errors: {[str(e) for e in run.errors]}")
        for o in run.outcomes:
            print(f"  {o.exercise.functions}: stub -> {o.on_stub}; wrong -> {o.on_wrong}; solution -> {o.on_solution}")
