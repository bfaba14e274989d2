"""Shared test settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from tools import nbval_course


def pytest_configure(config: pytest.Config) -> None:
    """When nbval runs in the same session, its run of each notebook serves the course tests too (one execution of
    each notebook instead of two; tools/nbval_course.py says how)."""
    config.addinivalue_line("markers", nbval_course.MARK_HELP)
    if config.pluginmanager.hasplugin("nbval"):
        config.pluginmanager.register(nbval_course.NbvalCourse(), "mmo-nbval-course")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run the unit tests single-threaded. Their tensors are tiny, so intra-op threads only add overhead, and on a
    busy 2-core machine OpenMP threads competing for the cores slowed small ops 10-30x. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
