"""A pytest plugin: nbval's run of each notebook also serves the course tests, so that no notebook runs twice.

``tests/conftest.py`` registers it. It acts only when one session collects both nbval's notebook cells and tests
marked ``course_run`` (``make test``: tests/course/test_student.py and tests/course/test_site.py, which read
``course_run.cached_run``), in the course kernels' environment (smoke budget, offline). Then:

- the ``course_run`` tests run after nbval (they move to the end of the session);
- each notebook's nbval kernel starts in ``course_run.kernel_env()`` — what that adds to the session's environment
  is matplotlib's inline backend (figures as PNG outputs) and no progress bars;
- just before each solution cell, ``course_run.probe_exercise`` runs the student's stub and a wrong implementation
  against the self-check in nbval's kernel, then restores the kernel's names and random states;
- the kernel's messages in reply to each cell are recorded, and after the notebook's last cell ``course_run.replay``
  turns them into the notebook's run (executed notebook, errors, exercise outcomes), kept by
  ``course_run.remember`` for the course tests.

nbval itself is untouched: it executes every cell in order and fails each cell that raises. Without this plugin, or
for a notebook whose cells were only partly selected, ``course_run.cached_run`` executes the notebook with nbclient.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

import nbformat
import pytest

from tools.course_run import (
    SMOKE_ENV,
    CellError,
    ExerciseOutcome,
    kernel_env,
    probe_exercise,
    remember,
    replay,
)
from tools.make_student import Exercise, find_exercises, student_notebook

MARK = "course_run"
MARK_HELP = f"{MARK}: reads course_run.cached_run; runs after nbval, whose runs it then reads (tools/nbval_course.py)"


def _is_nbval_cell(item: pytest.Item) -> bool:
    from nbval.plugin import IPyNbCell

    return isinstance(item, IPyNbCell)


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` is ``env`` inside the block (nbval's kernel inherits it), and what it was afterwards."""
    before = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


def _run_in(kernel, timeout: float, source: str, index: int) -> CellError | None:
    """Execute ``source`` in nbval's kernel outside the notebook (no history, no recorded output); its error."""
    msg_id = kernel.kc.execute(source, store_history=False, allow_stdin=False, stop_on_error=False)
    try:
        while (reply := kernel.kc.get_shell_msg(timeout=timeout))["parent_header"].get("msg_id") != msg_id:
            pass
        kernel.await_idle(msg_id, timeout)  # its IOPub messages, drained up to its end
    except Empty:
        kernel.interrupt()
        return CellError(index, "TimeoutError", f"no reply within {timeout} s")
    content = reply["content"]
    if content["status"] != "error":
        return None
    return CellError(index, content["ename"], content["evalue"], "\n".join(content.get("traceback", [])[-3:]))


@dataclass
class _Recording:
    """One notebook's nbval run as it goes: its kernel's messages per cell, the outcome of each exercise probe."""

    path: Path
    code_cells: list[int]  # the notebook index of each code cell (nbval numbers only the code cells)
    exercises: dict[int, Exercise]  # by the index of the solution cell
    instructor: nbformat.NotebookNode
    student: nbformat.NotebookNode
    start: float = field(default_factory=time.perf_counter)
    kernel: object = None
    current: int | None = None
    cell_of: dict[str, int] = field(default_factory=dict)  # execute request id -> cell index
    messages: dict[int, list[dict]] = field(default_factory=dict)
    outcomes: list[ExerciseOutcome] = field(default_factory=list)

    @classmethod
    def of(cls, path: Path) -> _Recording:
        nb = nbformat.read(path, as_version=4)
        code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
        return cls(path, code, {e.solution: e for e in find_exercises(nb)}, nb, student_notebook(nb))

    def attach(self, kernel) -> None:
        """Note which execute request is which cell's, and keep each IOPub message replying to a cell."""
        self.kernel = kernel
        execute, get_iopub_msg = kernel.execute_cell_input, kernel.kc.get_iopub_msg

        def execute_cell_input(*args, **kwargs):
            msg_id = execute(*args, **kwargs)
            if self.current is not None:
                self.cell_of[msg_id] = self.current
            return msg_id

        def tee(*args, **kwargs):
            msg = get_iopub_msg(*args, **kwargs)
            index = self.cell_of.get(msg["parent_header"].get("msg_id"))
            if index is not None:
                self.messages.setdefault(index, []).append(msg)
            return msg

        kernel.execute_cell_input = execute_cell_input
        kernel.kc.get_iopub_msg = tee

    def probe(self, index: int, timeout: float) -> None:
        if index in self.exercises and self.kernel.is_alive():
            run = functools.partial(_run_in, self.kernel, timeout)
            self.outcomes.append(probe_exercise(run, self.instructor, self.student, self.exercises[index]))

    def finish(self) -> None:
        """Hand the run over, if nbval executed every code cell of the notebook."""
        if set(self.cell_of.values()) == set(self.code_cells):
            remember(replay(self.path, self.messages, self.outcomes, time.perf_counter() - self.start))


class NbvalCourse:
    """The plugin (see the module docstring); one instance per pytest session."""

    def __init__(self) -> None:
        self.recordings: dict[object, _Recording] = {}  # by nbval's notebook collector

    @pytest.hookimpl(trylast=True)  # after -k/-m have deselected what they deselect
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        course = [item for item in items if item.get_closest_marker(MARK)]
        nbval = [item for item in items if _is_nbval_cell(item)]
        same_env = all(os.environ.get(k) == v for k, v in SMOKE_ENV.items() if k != "MMO_PROGRESS")
        if not (course and nbval and same_env):
            return
        items[:] = [item for item in items if not item.get_closest_marker(MARK)] + course
        for notebook in {item.parent for item in nbval}:
            recording = _Recording.of(Path(notebook.path))
            if sum(item.parent is notebook for item in nbval) == len(recording.code_cells):
                self.recordings[notebook] = recording

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        recording = self.recordings.get(getattr(item, "parent", None))
        if recording is None or item.parent.kernel is not None:
            yield
            return
        recording.start = time.perf_counter()
        with _environ(kernel_env()):  # nbval starts the notebook's kernel in this setup
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        recording = self.recordings.get(getattr(item, "parent", None))
        if recording is None:
            yield
            return
        if recording.kernel is not item.parent.kernel:
            recording.attach(item.parent.kernel)
        index = recording.code_cells[item.cell_num]
        recording.probe(index, item.config.option.nbval_cell_timeout)
        recording.current = index
        try:
            yield
        finally:
            recording.current = None
            if item.cell_num == len(recording.code_cells) - 1:
                recording.finish()
                del self.recordings[item.parent]
