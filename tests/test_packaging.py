"""Packaging and architecture: environment.yml matches pyproject.toml, the layers import only downwards,
public functions are documented, and the README starts with the two commands."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mmobjectives"
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name → PyPI name


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*(?:;.*)?$", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_names_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["lab"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda: dict[str, str] = {}
    pip: list[str] = []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip.extend(entry["pip"])
            continue
        name, spec = _split(entry)
        conda[CONDA_NAMES.get(name, name)] = spec
    conda.pop("pip", None)
    python = conda.pop("python")
    assert python == ">=" + project["requires-python"].lstrip(">=")
    assert conda == wanted, "environment.yml and pyproject.toml disagree (names or lower bounds)"
    assert pip == ["-e .[dev]"]


def test_constraints_min_pins_exactly_the_declared_floors() -> None:
    """`make test-min` tests the lowest versions pyproject.toml declares: constraints-min.txt pins each runtime and
    `lab` dependency at its floor, and nothing else."""
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for name, spec in (_split(r) for r in project["dependencies"] + project["optional-dependencies"]["lab"]):
        assert spec.startswith(">=") and "," not in spec, f"{name}: expected a plain floor '>=X', got {spec!r}"
        floors[name] = Version(spec[2:])
    pins = {}
    for line in (ROOT / "constraints-min.txt").read_text().splitlines():
        if line.split("#")[0].strip():
            name, spec = _split(line.split("#")[0])
            assert spec.startswith("=="), f"constraints-min.txt: {name} must be pinned with ==, got {spec!r}"
            pins[name] = Version(spec[2:])
    assert pins == floors, "constraints-min.txt and pyproject.toml's floors disagree"


def test_python_classifiers_run_from_the_requires_python_floor_without_gaps() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minors = sorted(
        int(m.group(1))
        for c in project["classifiers"]
        if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c))
    )
    assert minors == list(range(minors[0], minors[-1] + 1)), f"Python classifiers have gaps: 3.{minors}"
    assert project["requires-python"] == f">=3.{minors[0]}", "requires-python and the lowest classifier disagree"


def test_torch_is_a_range_for_users() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = dict(_split(r) for r in project["dependencies"])
    assert specs["torch"].startswith(">="), "users get an unpinned torch; CI pins it through the Makefile"
    assert all("==" not in spec for spec in specs.values())


# The layers come from ARCHITECTURE.md's table (| layer | `module` | job | imports |): the page a newcomer reads is
# the one the tests check, so it cannot drift from the code.
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([a-z_]+)`\s*\|[^|]+\|([^|]+)\|\s*$")


def _architecture_table() -> dict[str, tuple[int, set[str]]]:
    rows = {}
    for line in ARCHITECTURE.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            layer, module, imports = match.groups()
            rows[module] = (int(layer), set(re.findall(r"`([a-z_]+)`", imports)))
    assert rows, f"no layer table found in {ARCHITECTURE.name}"
    return rows


LAYERS = {module: layer for module, (layer, _) in _architecture_table().items()}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0]


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 for mmobjectives/x.py, 1 for mmobjectives/data/x.py
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("mmobjectives"):
                parts = node.module.split(".")[1:]
                names = [parts[0]] if parts else [a.name for a in node.names]
            elif node.level > depth:  # relative import that reaches the package root
                names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
            else:
                continue
            found.update(names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "mmobjectives" and len(parts) > 1:
                    found.add(parts[1])
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path: Path) -> None:
    layer = _layer_of(path)
    if layer == "__init__":
        return
    assert layer in LAYERS, f"{path.name}: add its layer to the table in ARCHITECTURE.md"
    for imported in _imported_layers(path):
        if imported == layer:
            continue
        assert imported in LAYERS, f"{path} imports unknown module {imported!r}"
        assert LAYERS[imported] < LAYERS[layer], f"{path} ({layer}) must not import {imported} (not above it)"


def test_architecture_page_lists_every_module_and_its_real_imports() -> None:
    table = _architecture_table()
    modules = {_layer_of(p) for p in _modules()} - {"__init__"}
    assert set(table) == modules, (
        f"ARCHITECTURE.md's table and the package disagree: missing {sorted(modules - set(table))}, "
        f"stale {sorted(set(table) - modules)}"
    )
    actual: dict[str, set[str]] = {m: set() for m in modules}
    for path in _modules():
        layer = _layer_of(path)
        if layer != "__init__":
            actual[layer] |= _imported_layers(path) - {layer}
    for module, (_, listed) in table.items():
        assert listed == actual[module], (
            f"ARCHITECTURE.md says {module} imports {sorted(listed)}, the code imports {sorted(actual[module])}"
        )


def test_no_package_module_is_over_500_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 500}
    assert not long, f"split these into packages of focused modules: {long}"


def _public_callables():
    for name in [
        "config",
        "data",
        "models",
        "losses",
        "train",
        "metrics",
        "distributed",
        "sampling",
        "viz",
        "experiments",
        "widgets",
        "exercises",
        "recipes",
    ]:
        module = importlib.import_module(f"mmobjectives.{name}")
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize("qualname,obj", list(_public_callables()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_api_is_documented_and_typed(qualname: str, obj) -> None:
    assert inspect.getdoc(obj), f"{qualname} has no docstring"
    if inspect.isfunction(obj):
        hints = obj.__annotations__
        assert "return" in hints, f"{qualname} has no return type hint"
        params = [p for p in inspect.signature(obj).parameters.values() if p.name not in ("self", "cls")]
        missing = [p.name for p in params if p.name not in hints]
        assert not missing, f"{qualname} lacks type hints for {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    head = text[:1500]
    assert "make lab" in head and "make test" in head


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "TORCH_SPEC=torch==" in ci
