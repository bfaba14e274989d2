"""Student and instructor versions: ``make student`` stubs out every solution; the stubs run and the self-checks bite.

The instructor notebooks (``notebooks/``) keep their solutions in cells tagged ``solution``; ``tools/make_student.py``
turns each into stubs that raise ``NotImplementedError``. ``tools/course_run.py`` executes every notebook once, top
to bottom, in the smoke budget (shared with tests/course/test_site.py, and with nbval when it runs in the same session:
``tools/nbval_course.py``), and at each exercise also runs the student's stub and a deliberately wrong
implementation against the self-check. The student version then runs with errors only in
its self-check cells, and only ``ExerciseNotDone`` (the self-checks' word for ``NotImplementedError``): its other
cells are the instructor's, which run without error here, and none of them uses an exercise function (checked
below).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from tools import course_run, make_student

ROOT = Path(__file__).resolve().parents[2]
# after nbval, when it runs in this session: then its run of each notebook is the one these tests read
pytestmark = pytest.mark.course_run
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _call_with_nones(function) -> None:
    params = inspect.signature(function).parameters.values()
    function(*[None for p in params if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD])


# -- the generator, without a kernel -------------------------------------------------------------------------------
def test_stub_keeps_name_signature_docstring_and_hints_and_raises() -> None:
    source = (
        "import math\n\n\n"
        "def my_loss(x, y, *, scale=2.0) -> float:\n"
        '    """The loss."""\n'
        "    # Hint: use math.log\n"
        "    return math.log(x) * y * scale\n"
    )
    stub = make_student.stub_source(source, "Coding exercise 1: a loss")
    assert "import math" in stub
    assert "def my_loss(x, y, *, scale=2.0) -> float:" in stub
    assert "'The loss.'" in stub and "# Hint: use math.log" in stub
    assert "return" not in stub
    namespace: dict = {}
    exec(compile(stub, "<stub>", "exec"), namespace)  # noqa: S102 - our own generated code
    with pytest.raises(NotImplementedError, match="Coding exercise 1: a loss: fill in my_loss"):
        namespace["my_loss"](1.0, 2.0)


def test_exercise_title_writes_its_maths_as_plain_text() -> None:
    """The title ends up in the stub's NotImplementedError, where MathJax never renders ``$C$``."""
    cells = [
        nbformat.v4.new_markdown_cell(r"### Your turn — Coding exercise 1 (≈ 10 min): the constant $C$ and $\sigma_t$"),
        nbformat.v4.new_code_cell("def f():\n    pass\n"),
    ]
    assert make_student.exercise_title(cells, 1) == "Your turn — Coding exercise 1: the constant C and σₜ"


def test_stub_refuses_a_solution_cell_with_statements() -> None:
    with pytest.raises(ValueError, match="only imports and functions"):
        make_student.stub_source("def f(x):\n    return x\n\n\nanswer = f(3)\n", "exercise")


def test_a_solution_without_a_self_check_is_an_error() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("### Coding exercise"),
            nbformat.v4.new_code_cell("def f(x):\n    return x"),
        ]
    )
    nb.cells[1].metadata["tags"] = ["solution"]
    with pytest.raises(ValueError, match="not followed by a self-check"):
        make_student.find_exercises(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_version_stubs_every_solution_and_keeps_every_other_cell(path: Path) -> None:
    instructor = _read(path)
    exercises = make_student.find_exercises(instructor)  # raises if a solution lacks its self-check
    student = make_student.student_notebook(instructor)
    solutions = {e.solution for e in exercises}
    assert [c.get("id") for c in student.cells] == [c.get("id") for c in instructor.cells]
    for index, (mine, theirs) in enumerate(zip(student.cells, instructor.cells, strict=True)):
        if index not in solutions:
            assert mine == theirs, f"{path.name} cell {index} changed in the student version"
            continue
        assert "solution" not in mine.metadata["tags"] and "exercise" in mine.metadata["tags"]
        namespace: dict = {}
        exec(compile(mine.source, f"{path.name} cell {index}", "exec"), namespace)  # noqa: S102 - generated stub
        for name in make_student.defined_functions(theirs.source):
            with pytest.raises(NotImplementedError, match=name):
                _call_with_nones(namespace[name])
    assert not any("solution" in c.metadata.get("tags", []) for c in student.cells)


def test_make_student_writes_one_student_notebook_per_notebook(tmp_path: Path) -> None:
    written = make_student.make_student(ROOT / "notebooks", tmp_path / "student")
    assert [p.name for p in written] == IDS
    for path in written:
        nbformat.validate(_read(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_cell_but_the_exercise_cells_uses_an_exercise_function(path: Path) -> None:
    """So the student version, whose stubs raise, runs every other cell exactly as the instructor version does."""
    nb = _read(path)
    exercises = make_student.find_exercises(nb)
    names = {f for e in exercises for f in e.functions}
    exercise_cells = {i for e in exercises for i in (e.solution, e.check)}
    python = TransformerManager()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or index in exercise_cells:
            continue
        tree = ast.parse(python.transform_cell(cell.source))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & names
        assert not used, f"{path.name} cell {index} uses the exercise function(s) {sorted(used)}"


# -- executed: one kernel per notebook, shared with test_site.py (and with nbval, in one session) ------------------
def test_the_probes_leave_names_and_random_states_as_they_found_them(tmp_path: Path) -> None:
    """The stub and the wrong implementation run in the notebook's kernel before the solution; afterwards the next
    cells must draw the same random numbers and see the same names as in a run without them."""
    cells = [
        nbformat.v4.new_code_cell(
            "import random\n\nimport numpy as np\nimport torch\n\nfrom mmobjectives import exercises\n\n"
            "GEN = torch.Generator().manual_seed(0)\ntorch.manual_seed(0)\nnp.random.seed(0)\nrandom.seed(0)"
        ),
        nbformat.v4.new_markdown_cell("### Coding exercise 1: doubling"),
        nbformat.v4.new_code_cell("def double(x):\n    return 2 * x"),
        nbformat.v4.new_code_cell(
            "noise = torch.rand(()) + np.random.rand() + random.random()  # the check draws from every generator\n"
            'exercises.check_function(double, lambda x: x + x, [{"x": torch.randn(3, generator=GEN).double()}])'
        ),
        nbformat.v4.new_code_cell(
            "print(torch.randn(2, generator=GEN).tolist(), torch.rand(2).tolist(), np.random.rand(), random.random(),"
            " sorted(n for n in dir() if n.startswith('_mmo')))"
        ),
    ]
    cells[2].metadata["tags"] = ["solution"]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    run = course_run.run_notebook(path, timeout=120)
    assert not run.errors, run.errors
    (outcome,) = run.outcomes
    assert outcome.on_stub.ename == "ExerciseNotDone" and outcome.on_wrong.ename == "AssertionError", outcome
    assert outcome.on_solution is None and not outcome.setup_errors, outcome
    plain = nbformat.read(path, as_version=4)
    course_run.notebook_client(plain, path, timeout=120, allow_errors=False).execute(env=course_run.kernel_env())
    printed = [[o.get("text") for o in nb.cells[-1].outputs] for nb in (run.executed, plain)]
    assert printed[0] == printed[1], f"after the probes the notebook goes on differently: {printed}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_instructor_notebook_runs_top_to_bottom_without_error(path: Path) -> None:
    run = course_run.cached_run(path)
    assert not run.errors, f"{path.name} failed:\n" + "\n".join(f"{e}\n{e.traceback}" for e in run.errors)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_stubs_run_and_their_self_checks_say_exercise_not_done(path: Path) -> None:
    run = course_run.cached_run(path)
    probed = [o.exercise for o in run.outcomes]
    assert probed == make_student.find_exercises(_read(path)), f"{path.name}: not every exercise was probed: {probed}"
    for outcome in run.outcomes:
        name = ", ".join(outcome.exercise.functions)
        assert not outcome.setup_errors, f"{path.name}: defining {name} failed: {outcome.setup_errors}"
        assert outcome.on_stub is not None and outcome.on_stub.ename == "ExerciseNotDone", (
            f"{path.name}: on the student's stub of {name}, the self-check (cell {outcome.exercise.check}) should "
            f"raise ExerciseNotDone, got {outcome.on_stub}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_self_checks_fail_on_a_wrong_implementation_and_pass_on_the_solution(path: Path) -> None:
    run = course_run.cached_run(path)
    for outcome in run.outcomes:
        name = ", ".join(outcome.exercise.functions)
        assert outcome.on_wrong is not None, f"{path.name}: the self-check of {name} accepts a wrong implementation"
        assert outcome.on_wrong.ename == "AssertionError" and outcome.on_wrong.evalue, (
            f"{path.name}: on a wrong {name}, the self-check should raise AssertionError saying what differs, "
            f"got {outcome.on_wrong}"
        )
        assert outcome.on_solution is None, f"{path.name}: the self-check of {name} rejects the solution: {outcome}"
