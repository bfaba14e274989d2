"""The Makefile's install wiring, read with ``make -n`` (nothing runs, no network): ``TORCH=cpu`` installs torch alone
from PyTorch's CPU index before the package, the default leaves torch to pip's plain resolution, ``TORCH_SPEC`` pins
it, and ``make test-min`` installs into its own environment under constraints-min.txt."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _dry_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # a fresh VENV path, so that make plans the whole install even where .venv already exists
    venv = tmp_path / "venv"
    # Under `make test TORCH_SPEC=...` (CI) make hands its command-line variables to child makes through MAKEFLAGS;
    # each case here must see only the variables it passes.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "TORCH", "TORCH_SPEC"}}
    return subprocess.run(
        ["make", "-n", *args, f"VENV={venv}", f"MIN_VENV={tmp_path / 'venv-min'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def _pip_installs(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if "-m pip install" in line and "--upgrade pip" not in line]


@pytest.mark.parametrize("target", ["lab", "test"])
def test_torch_cpu_installs_torch_alone_from_the_pytorch_cpu_index_first(tmp_path: Path, target: str) -> None:
    result = _dry_run(tmp_path, target, "TORCH=cpu")
    assert result.returncode == 0, result.stderr
    installs = _pip_installs(result.stdout)
    assert len(installs) == 2, installs
    torch_line, package_line = installs
    assert f"--index-url {CPU_INDEX}" in torch_line and torch_line.rstrip().endswith('"torch"')
    assert '-e ".[dev]"' in package_line and CPU_INDEX not in package_line


def test_default_build_is_the_plain_resolution(tmp_path: Path) -> None:
    result = _dry_run(tmp_path, "lab")
    assert result.returncode == 0, result.stderr
    assert "download.pytorch.org" not in result.stdout
    assert _pip_installs(result.stdout) == [f'{tmp_path / "venv"}/bin/python -m pip install --quiet -e ".[dev]"']


def test_torch_spec_pins_torch_and_combines_with_the_cpu_index(tmp_path: Path) -> None:
    pinned = _pip_installs(_dry_run(tmp_path, "test", "TORCH_SPEC=torch==2.13.0").stdout)
    assert pinned[0].endswith('pip install --quiet "torch==2.13.0"')
    both = _pip_installs(_dry_run(tmp_path, "test", "TORCH=cpu", "TORCH_SPEC=torch==2.13.0").stdout)
    assert both[0].endswith(f'pip install --quiet --index-url {CPU_INDEX} "torch==2.13.0"')


def test_an_unknown_torch_build_is_refused(tmp_path: Path) -> None:
    result = _dry_run(tmp_path, "lab", "TORCH=cuda")
    assert result.returncode != 0
    assert "TORCH=cuda" in result.stderr and "TORCH=cpu" in result.stderr


def test_test_min_installs_the_floors_into_its_own_environment(tmp_path: Path) -> None:
    result = _dry_run(tmp_path, "test-min")
    assert result.returncode == 0, result.stderr
    (install,) = _pip_installs(result.stdout)
    assert install.startswith(f"{tmp_path / 'venv-min'}/bin/python") and "-c constraints-min.txt" in install
    assert f"{tmp_path / 'venv'}/" not in result.stdout  # .venv is left alone
    assert any("venv-min/bin/python -m pytest tests notebooks" in line for line in result.stdout.splitlines())
