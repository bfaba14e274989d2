"""Tests for mmobjectives.config: budgets, devices, seeds, data folder, flags; the only module reading the env."""

from __future__ import annotations

import ast
import dataclasses
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import mmobjectives
from mmobjectives import config
from mmobjectives.config import BUDGET_NAMES, Budget


@pytest.fixture
def restore_rng():
    """seed_everything touches the global RNGs: put them back so other tests are unaffected."""
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield
    random.setstate(py_state)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)


# -- budget() ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BUDGET_NAMES)
def test_budget_explicit_names(name: str) -> None:
    b = config.budget({"MMO_BUDGET": name})
    assert isinstance(b, Budget)
    assert b.name == name
    assert str(b) == name
    assert b.is_smoke == (name == "smoke")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("SMOKE", "smoke"), ("  Default\n", "default"), ("\tFULL ", "full"), ("Smoke", "smoke")],
)
def test_budget_is_case_and_whitespace_insensitive(raw: str, expected: str) -> None:
    assert config.budget({"MMO_BUDGET": raw}).name == expected


@pytest.mark.parametrize("raw", ["huge", "smok", "tiny", "0", "default full"])
def test_budget_invalid_raises_naming_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="MMO_BUDGET") as info:
        config.budget({"MMO_BUDGET": raw})
    assert repr(raw) in str(info.value)


@pytest.mark.parametrize("environ", [{}, {"MMO_BUDGET": ""}, {"MMO_BUDGET": "   "}, {"OTHER": "smoke"}])
def test_budget_unset_is_full_iff_cuda(environ: dict[str, str]) -> None:
    expected = "full" if torch.cuda.is_available() else "default"
    assert config.budget(environ).name == expected


def test_budget_reads_os_environ_when_no_mapping_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMO_BUDGET", "smoke")
    assert config.budget().name == "smoke"
    monkeypatch.setenv("MMO_BUDGET", "full")
    assert config.budget().name == "full"


# -- Budget ----------------------------------------------------------------------------------------------------------
def test_pick_returns_value_for_each_budget() -> None:
    kwargs = {"smoke": 1, "default": 2, "full": 3}
    assert Budget("smoke").pick(**kwargs) == 1
    assert Budget("default").pick(**kwargs) == 2
    assert Budget("full").pick(**kwargs) == 3


def test_pick_full_falls_back_to_default() -> None:
    assert Budget("full").pick(smoke=1, default=2) == 2
    assert Budget("default").pick(smoke=1, default=2) == 2
    assert Budget("smoke").pick(smoke=1, default=2) == 1


def test_pick_default_falls_back_to_full() -> None:
    assert Budget("default").pick(smoke=1, full=3) == 3
    assert Budget("full").pick(smoke=1, full=3) == 3
    assert Budget("smoke").pick(smoke=1, full=3) == 1


def test_pick_keeps_falsy_values() -> None:
    """0 and "" are values, not 'omitted': only None falls back."""
    assert Budget("default").pick(smoke=5, default=0, full=9) == 0
    assert Budget("full").pick(smoke=5, default=9, full=0) == 0
    assert Budget("full").pick(smoke="s", default="", full=None) == ""


@pytest.mark.parametrize("name", BUDGET_NAMES)
def test_pick_with_only_smoke_raises(name: str) -> None:
    with pytest.raises(ValueError, match="default= or full="):
        Budget(name).pick(smoke=1)
    with pytest.raises(ValueError, match="default= or full="):
        Budget(name).pick(smoke=1, default=None, full=None)


def test_pick_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Budget("smoke").pick(1, 2, 3)  # type: ignore[misc]


def test_budget_is_immutable() -> None:
    b = Budget("default")
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.name = "full"  # type: ignore[misc]
    assert b.name == "default"


@pytest.mark.parametrize("name", ["", "Smoke", "FULL", "gpu", "smoke "])
def test_budget_invalid_name(name: str) -> None:
    with pytest.raises(ValueError, match="budget name"):
        Budget(name)


def test_budget_equality_and_hash() -> None:
    assert Budget("smoke") == Budget("smoke")
    assert Budget("smoke") != Budget("full")
    assert len({Budget("smoke"), Budget("smoke"), Budget("full")}) == 2


# -- get_device ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["cpu", " cpu ", "cpu\n"])
def test_get_device_cpu(raw: str) -> None:
    device = config.get_device({"MMO_DEVICE": raw})
    assert isinstance(device, torch.device)
    assert device == torch.device("cpu")


@pytest.mark.parametrize("raw", ["banana", "gpu", "cuda:x", "cpu cpu"])
def test_get_device_invalid_raises_naming_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="MMO_DEVICE"):
        config.get_device({"MMO_DEVICE": raw})


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("raw", ["cuda", "cuda:0", "cuda:1"])
def test_get_device_cuda_unavailable_raises(raw: str) -> None:
    with pytest.raises(ValueError, match="CUDA"):
        config.get_device({"MMO_DEVICE": raw})


@pytest.mark.skipif(config._mps_available(), reason="MPS is available here")
def test_get_device_mps_unavailable_raises() -> None:
    with pytest.raises(ValueError, match="MPS"):
        config.get_device({"MMO_DEVICE": "mps"})


@pytest.mark.parametrize("environ", [{}, {"MMO_DEVICE": ""}, {"MMO_DEVICE": "  "}])
def test_get_device_unset_prefers_cuda_then_mps_then_cpu(environ: dict[str, str]) -> None:
    if torch.cuda.is_available():
        expected = "cuda"
    elif config._mps_available():
        expected = "mps"
    else:
        expected = "cpu"
    assert config.get_device(environ).type == expected


# -- seed_everything -------------------------------------------------------------------------------------------------
def _draws(gen: torch.Generator) -> tuple:
    return (
        random.random(),
        np.random.rand(3).tolist(),
        torch.rand(3).tolist(),
        torch.rand(3, generator=gen).tolist(),
    )


@pytest.mark.usefixtures("restore_rng")
def test_seed_everything_returns_seeded_generator() -> None:
    gen = config.seed_everything(7)
    assert isinstance(gen, torch.Generator)
    assert gen.initial_seed() == 7
    assert gen.device == torch.device("cpu")


@pytest.mark.usefixtures("restore_rng")
def test_seed_everything_makes_everything_reproducible() -> None:
    first = _draws(config.seed_everything(123))
    second = _draws(config.seed_everything(123))
    assert first == second
    other = _draws(config.seed_everything(124))
    for a, b in zip(first, other):
        assert a != b


@pytest.mark.usefixtures("restore_rng")
def test_seed_everything_defaults_to_zero_and_accepts_numpy_and_large_ints() -> None:
    assert _draws(config.seed_everything()) == _draws(config.seed_everything(0))
    assert _draws(config.seed_everything(np.int64(5))) == _draws(config.seed_everything(5))
    big = 2**40 + 3
    gen = config.seed_everything(big)
    assert gen.initial_seed() == big
    config.seed_everything(2**63 - 1)


@pytest.mark.usefixtures("restore_rng")
@pytest.mark.parametrize("seed", [True, False, 1.0, 0.5, "0", None, np.float64(1.0)])
def test_seed_everything_rejects_non_int(seed: object) -> None:
    with pytest.raises(TypeError, match="seed"):
        config.seed_everything(seed)  # type: ignore[arg-type]


@pytest.mark.usefixtures("restore_rng")
@pytest.mark.parametrize("seed", [-1, -(2**40), 2**63])
def test_seed_everything_rejects_out_of_range(seed: int) -> None:
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(seed)


# -- data_dir ------------------------------------------------------------------------------------------------------
def test_data_dir_from_mmo_data(tmp_path: Path) -> None:
    assert config.data_dir({"MMO_DATA": str(tmp_path / "d"), "XDG_CACHE_HOME": "/elsewhere"}) == tmp_path / "d"


def test_data_dir_expands_user() -> None:
    assert config.data_dir({"MMO_DATA": "~/mmo-data"}) == Path.home() / "mmo-data"


def test_data_dir_xdg_fallback(tmp_path: Path) -> None:
    assert config.data_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "mmobjectives"
    assert config.data_dir({"MMO_DATA": "", "XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "mmobjectives"


def test_data_dir_home_fallback() -> None:
    expected = Path.home() / ".cache" / "mmobjectives"
    assert config.data_dir({}) == expected
    assert config.data_dir({"XDG_CACHE_HOME": ""}) == expected


# -- offline / progress ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["1", "true", "TRUE", " yes ", "on", "True\n"])
def test_offline_true(raw: str) -> None:
    assert config.offline({"MMO_OFFLINE": raw}) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "", "  ", "no", "off"])
def test_offline_false(raw: str) -> None:
    assert config.offline({"MMO_OFFLINE": raw}) is False


def test_offline_unset_is_false() -> None:
    assert config.offline({}) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled"])
def test_offline_invalid_raises_naming_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="MMO_OFFLINE"):
        config.offline({"MMO_OFFLINE": raw})


def test_checkpoint_cache_switch_and_folder(tmp_path: Path) -> None:
    assert config.cache_enabled({}) is True  # on unless turned off
    assert config.cache_enabled({"MMO_CACHE": "1"}) is True
    assert config.cache_enabled({"MMO_CACHE": "0"}) is False and config.cache_enabled({"MMO_CACHE": "off"}) is False
    with pytest.raises(ValueError, match="MMO_CACHE"):
        config.cache_enabled({"MMO_CACHE": "stale"})
    assert config.checkpoint_dir({"MMO_DATA": str(tmp_path)}) == tmp_path / "checkpoints"
    assert config.checkpoint_dir({}) == config.data_dir({}) / "checkpoints"


@pytest.mark.parametrize("progress", [None, "1", "true", "0", "false"])
def test_progress_disabled_in_smoke(progress: str | None) -> None:
    environ = {"MMO_BUDGET": "smoke"}
    if progress is not None:
        environ["MMO_PROGRESS"] = progress
    assert config.progress_enabled(environ) is False


@pytest.mark.parametrize("name", ["default", "full"])
def test_progress_outside_smoke(name: str) -> None:
    assert config.progress_enabled({"MMO_BUDGET": name}) is True
    assert config.progress_enabled({"MMO_BUDGET": name, "MMO_PROGRESS": "1"}) is True
    assert config.progress_enabled({"MMO_BUDGET": name, "MMO_PROGRESS": "0"}) is False
    assert config.progress_enabled({"MMO_BUDGET": name, "MMO_PROGRESS": "off"}) is False
    with pytest.raises(ValueError, match="MMO_PROGRESS"):
        config.progress_enabled({"MMO_BUDGET": name, "MMO_PROGRESS": "sometimes"})


def test_describe(tmp_path: Path) -> None:
    environ = {"MMO_BUDGET": "smoke", "MMO_DEVICE": "cpu", "MMO_DATA": str(tmp_path), "MMO_OFFLINE": "1"}
    info = config.describe(environ)
    assert info["torch"] == torch.__version__
    assert info["device"] == "cpu"
    assert info["budget"] == "smoke"
    assert info["data_dir"] == str(tmp_path)
    assert info["offline"] is True
    assert "gpu" not in info


# -- only config reads the environment ----------------------------------------------------------------------------
_PACKAGE = Path(mmobjectives.__file__).resolve().parent
_ENV_PATTERN = re.compile(r"os\.environ|os\.getenv|getenv\(")


def _sources() -> list[Path]:
    files = sorted(_PACKAGE.rglob("*.py"))
    assert len(files) >= 8, f"expected the package's modules under {_PACKAGE}, found {files}"
    return files


def test_only_config_reads_environment_variables_textually() -> None:
    offenders = [str(path.relative_to(_PACKAGE)) for path in _sources() if _ENV_PATTERN.search(path.read_text("utf-8"))]
    assert offenders == ["config.py"]


def test_only_config_reads_environment_variables_ast() -> None:
    """Also catch ``from os import environ`` / ``getenv`` and attribute access like ``os.environ``."""
    env_names = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
    offenders = set()
    for path in _sources():
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            hit = (
                (isinstance(node, ast.Attribute) and node.attr in env_names)
                or (isinstance(node, ast.ImportFrom) and any(a.name in env_names for a in node.names))
                or (isinstance(node, ast.Name) and node.id in env_names)
            )
            if hit:
                offenders.add(str(path.relative_to(_PACKAGE)))
    assert offenders == {"config.py"}


# -- setup_message ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BUDGET_NAMES)
def test_setup_message_on_cpu_says_device_budget_duration_and_how_to_switch(name: str, tmp_path: Path) -> None:
    environ = {"MMO_BUDGET": name, "MMO_DEVICE": "cpu", "MMO_DATA": str(tmp_path), "MMO_OFFLINE": "1"}
    message = config.setup_message(environ)
    first = message.splitlines()[0]
    assert "device cpu" in first and f"budget {name}" in first and "offline" in first
    assert config.CPU_MINUTES[name] in message
    assert config.CPU_MINUTES["default"] in message  # what the laptop budget costs, whatever the current one
    assert "MMO_BUDGET" in message and "%env MMO_BUDGET=smoke" in message


def test_setup_message_off_cpu_gives_no_cpu_advice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(config, "get_device", lambda environ=None: torch.device("mps"))
    message = config.setup_message({"MMO_BUDGET": "full", "MMO_DATA": str(tmp_path)})
    assert message.splitlines() == [message]
    assert "device mps" in message and "budget full" in message and "online" in message


def test_cpu_minutes_cover_every_budget() -> None:
    assert set(config.CPU_MINUTES) == set(BUDGET_NAMES)
