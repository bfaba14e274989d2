"""Execute each instructor notebook once, top to bottom, and learn from that one run what the tests need.

In one kernel, cell after cell, as ``nbval`` would; at each exercise (a cell tagged ``solution`` and the self-check
after it), before the solution runs (:func:`probe_exercise`):

1. the student's stub (from ``make_student.student_notebook``) is defined and the self-check must say
   ``ExerciseNotDone`` — what a student sees before solving it;
2. the solution is run with its functions wrapped to return a perturbed value, and the self-check must fail with an
   ``AssertionError`` saying what differs;

then the kernel's names and random states are put back as they were, and the solution and its self-check run as
cells of the notebook, and must pass: the notebook's own cells see exactly what they would see without the probes.
Every error of a notebook cell is recorded. The result also holds the executed instructor notebook (figures inline,
widget state saved), which ``build_site.py`` turns into pages without executing anything again.

Two ways to get that run: :func:`run_notebook` executes the notebook with nbclient; and when nbval executes the
notebooks in the same pytest session as the course tests, ``tools/nbval_course.py`` probes the exercises in nbval's
own kernel and hands its run over through :func:`remember` (:func:`replay` turns nbval's kernel messages into the
executed notebook, as nbclient would have). :func:`cached_run` returns whichever exists, running nbclient only when
nbval has not.

Why this also proves that the student version runs with errors only in its exercise cells: the student notebook is
the instructor notebook with each solution replaced by stubs that only define functions; so its other cells run
exactly as here, unless one of them uses an exercise function — which ``tests/course/test_student.py`` rules out — and its
self-checks raise ``ExerciseNotDone`` (step 1).

Kernels run in the ``smoke`` budget, offline, in this Python environment, with matplotlib's inline backend.
"""

from __future__ import annotations

import copy
import functools
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from types import SimpleNamespace

import ipykernel.kernelspec
import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from traitlets import Type, default

from tools.make_student import Exercise, find_exercises, student_notebook

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

# Before the probes: the kernel's names and every random state (global ones, and each torch.Generator the notebook
# holds, such as GEN); after them, names the probes added are deleted, names they rebound are bound again, and the
# random states restored, so that the notebook's next cells draw the same numbers as without the probes.
_SAVE_STATE = """
def _mmo_save_state():
    import random

    import numpy
    import torch

    names = {k: v for k, v in get_ipython().user_ns.items() if not k.startswith("_mmo_")}
    generators = [(g, g.get_state()) for g in names.values() if isinstance(g, torch.Generator)]
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return names, generators, torch.get_rng_state(), cuda, numpy.random.get_state(), random.getstate()


_mmo_saved = _mmo_save_state()
"""
_RESTORE_STATE = """
def _mmo_restore_state(saved):
    import random

    import numpy
    import torch

    names, generators, cpu, cuda, numpy_state, python_state = saved
    namespace = get_ipython().user_ns
    for name in [k for k in namespace if k not in names]:
        del namespace[name]
    namespace.update(names)
    for generator, state in generators:
        generator.set_state(state)
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)
    numpy.random.set_state(numpy_state)
    random.setstate(python_state)


_mmo_restore_state(_mmo_saved)
"""


class _ThisPythonSpecs(KernelSpecManager):
    """Every kernel name means ipykernel in this very interpreter (like nbval's ``--nbval-current-env``)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())


POLL_SLICE_S = 0.5


class _SlicedPollChannel(AsyncZMQSocketChannel):
    """A kernel channel whose ``get_msg`` waits in slices of ``POLL_SLICE_S`` seconds, up to its ``timeout``.

    One long asyncio poll on a ZeroMQ socket can miss the socket's edge-triggered wake-up: the kernel's reply then
    sits in the socket (``zmq.EVENTS`` says POLLIN, the kernel is idle) while the client sleeps for the whole cell
    timeout. Seen here on notebook 03's first widget cell, in about one default-budget run in three (nbclient
    issue 312 reports the same with ipywidgets). Every new poll looks at the socket's state first, so with slices a
    missed wake-up costs at most one slice instead of the cell timeout.
    """

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            wait = POLL_SLICE_S if remaining is None else min(POLL_SLICE_S, remaining)
            try:
                return await super().get_msg(timeout=wait)
            except Empty:
                if remaining is not None and remaining <= POLL_SLICE_S:
                    raise


class SlicedPollClient(AsyncKernelClient):
    """nbclient's kernel client, with :class:`_SlicedPollChannel` for the replies and the outputs it waits on."""

    shell_channel_class = Type(_SlicedPollChannel)
    iopub_channel_class = Type(_SlicedPollChannel)


class ThisPythonKernel(AsyncKernelManager):
    """ipykernel in this interpreter, driven through :class:`SlicedPollClient`."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("kernel_spec_manager", _ThisPythonSpecs())
        super().__init__(**kwargs)

    @default("client_factory")
    def _sliced_poll_client(self) -> type[SlicedPollClient]:
        return SlicedPollClient


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


# Runs code in the notebook's kernel, outside the notebook; returns the error it raised (reported at the given cell).
RunCode = Callable[[str, int], "CellError | None"]


def probe_exercise(
    run: RunCode, instructor: nbformat.NotebookNode, student: nbformat.NotebookNode, exercise: Exercise
) -> ExerciseOutcome:
    """Steps 1 and 2 of the module docstring, through ``run``, just before the solution cell; the kernel's names
    and random states are restored afterwards. ``on_solution`` is left for the notebook's own run to fill in."""
    outcome = ExerciseOutcome(exercise)
    index = exercise.solution
    check = instructor.cells[exercise.check].source
    wrap = _PERTURB.format(assignments="\n".join(f"{f} = _mmo_wrong({f})" for f in exercise.functions))
    setup = [run(_SAVE_STATE, index), run(student.cells[index].source, index)]
    outcome.on_stub = run(check, exercise.check)
    setup += [run(instructor.cells[index].source, index), run(wrap, index)]
    outcome.on_wrong = run(check, exercise.check)
    setup.append(run(_RESTORE_STATE, index))
    outcome.setup_errors = [e for e in setup if e is not None]
    return outcome


def _error(cell: nbformat.NotebookNode, index: int) -> CellError | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            tail = "\n".join(output.get("traceback", [])[-3:])
            return CellError(index, output.get("ename", ""), output.get("evalue", ""), tail)
    return None


def _course_run(
    path: Path, executed: nbformat.NotebookNode, outcomes: list[ExerciseOutcome], seconds: float
) -> CourseRun:
    """The run's record from its executed notebook: each cell's error, and what each self-check said on the solution."""
    errors = [e for i, cell in enumerate(executed.cells) if (e := _error(cell, i)) is not None]
    by_check = {e.index: e for e in errors}
    for outcome in outcomes:
        outcome.on_solution = by_check.get(outcome.exercise.check)
    return CourseRun(path, executed, [o.exercise for o in outcomes], errors, outcomes, seconds)


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
    """Execute ``path`` as described in the module docstring (one kernel, one pass), with nbclient."""
    instructor = nbformat.read(path, as_version=4)
    student = student_notebook(instructor)
    by_solution = {e.solution: e for e in find_exercises(instructor)}
    executed = copy.deepcopy(instructor)
    client = notebook_client(executed, path, timeout=timeout, allow_errors=True)
    outcomes: list[ExerciseOutcome] = []
    start = time.perf_counter()
    with client.setup_kernel(env=kernel_env(env)):
        for index, cell in enumerate(executed.cells):
            if index in by_solution:
                run = functools.partial(_run_scratch, client)
                outcomes.append(probe_exercise(run, instructor, student, by_solution[index]))
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        client.set_widgets_metadata()
    return _course_run(path, executed, outcomes, time.perf_counter() - start)


def replay(
    path: Path, messages: Mapping[int, list[dict]], outcomes: list[ExerciseOutcome], seconds: float
) -> CourseRun:
    """The run of ``path`` that another client executed (nbval): ``messages`` holds, per cell index, the kernel's
    IOPub messages in reply to that cell. nbclient's own message handling turns them into the executed notebook
    (outputs, Output widgets, widget state), as if nbclient had run the cells."""
    executed = nbformat.read(path, as_version=4)
    client = NotebookClient(executed, store_widget_state=True, record_timing=False)
    # The Output widgets nbclient mimics sync their outputs back to the kernel, finished by now: nowhere to send.
    client.kc = SimpleNamespace(
        session=SimpleNamespace(msg=lambda *args, **kwargs: {}), shell_channel=SimpleNamespace(send=lambda msg: None)
    )
    count = 0
    for index, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        count += 1
        cell.outputs = []
        client.clear_before_next_output = False  # per cell, as nbclient's own execute_cell sets it
        for msg in messages.get(index, []):
            try:
                client.process_message(msg, cell, index)
            except CellExecutionComplete:
                break
        cell.execution_count = count  # nbval executes without history, so the kernel's own count stands still
    client.set_widgets_metadata()
    return _course_run(path, executed, outcomes, seconds)


_RUNS: dict[Path, CourseRun] = {}


def remember(run: CourseRun) -> None:
    """Keep ``run`` for :func:`cached_run` (nbval's run of the notebook, handed over by ``tools/nbval_course.py``)."""
    _RUNS[run.path.resolve()] = run


def cached_run(path: Path) -> CourseRun:
    """The notebook's run: the one nbval made in this pytest session if any, else :func:`run_notebook`, once per
    notebook and process (the student, self-check and site tests share it)."""
    key = path.resolve()
    if key not in _RUNS:
        _RUNS[key] = run_notebook(path)
    return _RUNS[key]


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        run = run_notebook(Path(arg))
        print(f"{arg}: {run.seconds:.0f} s; errors: {[str(e) for e in run.errors]}")
        for o in run.outcomes:
            print(f"  {o.exercise.functions}: stub -> {o.on_stub}; wrong -> {o.on_wrong}; solution -> {o.on_solution}")
