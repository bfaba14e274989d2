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


def test_torch_is_a_range_for_users() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = dict(_split(r) for r in project["dependencies"])
    assert specs["torch"].startswith(">="), "users get an unpinned torch; CI pins it through the Makefile"
    assert all("==" not in spec for spec in specs.values())


# The layers, top to bottom; a module may import only from layers strictly above it (or its own subpackage).
LAYERS = {
    "_checks": 0,
    "config": 0,
    "data": 1,
    "models": 2,
    "losses": 3,
    "train": 4,
    "sampling": 4,
    "metrics": 4,
    "distributed": 4,
    "viz": 5,
    "recipes": 5,
    "exercises": 5,
    "widgets": 6,
}


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
    assert layer in LAYERS, f"{path.name}: add its layer to LAYERS (and to DESIGN.md)"
    for imported in _imported_layers(path):
        if imported == layer:
            continue
        assert imported in LAYERS, f"{path} imports unknown module {imported!r}"
        assert LAYERS[imported] < LAYERS[layer], f"{path} ({layer}) must not import {imported} (not above it)"


def _public_callables():
    for name in [
        "config",
        "data",
        "models",
        "losses",
        "train",
        "metrics",
        "distributed",
        "viz",
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
