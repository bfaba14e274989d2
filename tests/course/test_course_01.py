"""Notebook 01 (course pass, issue 17): section 1's gradient P − δ, the heuristic step of section 2, and the layout.

The derivations are checked here against the package (autograd of ``losses.info_nce_logits`` and ``info_nce``);
the layout checks read the committed notebook only: the similarity matrix and the gradient come in section 1, the
streamed InfoNCE has the last numbered section before "Think!", and every exercise sits inside a numbered section.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

from mmobjectives import losses
from tools import make_student

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_infonce.ipynb"
SECTION = re.compile(r"^## (\d+) · (.+)$", re.MULTILINE)


def test_the_row_loss_gradient_is_p_minus_identity_over_n() -> None:
    gen = torch.Generator().manual_seed(0)
    S = (3 * torch.randn(7, 7, generator=gen, dtype=torch.float64)).requires_grad_(True)
    losses.info_nce_logits(S, symmetric=False).backward()
    P = torch.softmax(S.detach(), dim=1)
    torch.testing.assert_close(S.grad, (P - torch.eye(7, dtype=torch.float64)) / 7, atol=1e-14, rtol=0)


def test_the_embedding_gradient_pulls_to_the_positive_and_pushes_from_the_p_weighted_mean() -> None:
    gen = torch.Generator().manual_seed(1)
    a = F.normalize(torch.randn(6, 4, generator=gen, dtype=torch.float64), dim=1).requires_grad_(True)
    b = F.normalize(torch.randn(6, 4, generator=gen, dtype=torch.float64), dim=1)
    tau = 0.3
    losses.info_nce(a, b, tau, normalize=False, symmetric=False).backward()
    P = torch.softmax(a.detach() @ b.T / tau, dim=1)
    torch.testing.assert_close(a.grad, (P @ b - b) / (tau * 6), atol=1e-14, rtol=0)


@pytest.mark.parametrize("r", [0.1, 0.5, 0.99, 1.0, 1.5, 10.0])
def test_oords_step_holds_exactly_when_the_ratio_is_at_least_one(r: float) -> None:
    n = 16
    assert (math.log(1 + (n - 1) / r) >= math.log(n) - math.log(r) - 1e-15) == (r >= 1.0)


def _cells() -> list[nbformat.NotebookNode]:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def _section_of_each_cell(cells: list[nbformat.NotebookNode]) -> list[tuple[int, str]]:
    current, out = (0, ""), []
    for cell in cells:
        if cell.cell_type == "markdown" and (m := SECTION.search(cell.source)):
            current = (int(m.group(1)), m.group(2))
        out.append(current)
    return out


def test_section_1_shows_the_similarity_matrix_and_the_gradient() -> None:
    cells = _cells()
    sections = _section_of_each_cell(cells)
    first = "\n".join(c.source for c, (n, _) in zip(cells, sections) if n == 1 and c.cell_type == "code")
    assert "viz.plot_similarity_matrix" in first, "section 1 draws the N x N similarity matrix"
    assert "S_leaf.grad" in first and "P_map - eye" in first, "section 1 checks dL/dS = (P - I)/N against autograd"


def test_the_streamed_loss_has_the_last_section_and_every_exercise_sits_in_a_section() -> None:
    cells = _cells()
    sections = _section_of_each_cell(cells)
    titles = dict(sections)
    numbers = sorted(titles)
    assert titles[numbers[-1]].startswith("Think"), titles
    assert "streaming" in titles[numbers[-2]].lower(), titles
    streamed = [i for i, c in enumerate(cells) if c.cell_type == "code" and "chunk_size" in c.source]
    assert streamed and all(sections[i][0] == numbers[-2] for i in streamed), "chunk_size used outside its section"
    exercises = make_student.find_exercises(nbformat.read(NOTEBOOK, as_version=4))
    assert len(exercises) >= 2
    placed = {sections[e.solution][0] for e in exercises}
    assert 0 not in placed and numbers[-1] not in placed, f"exercises must sit in the sections: {placed}"
    assert len(placed) >= 2, "the exercises practise ideas of at least two sections"


def test_the_similarity_matrix_is_written_S_and_the_bound_rests_on_the_expected_loss() -> None:
    markdown = "\n".join(c.source for c in _cells() if c.cell_type == "markdown")
    assert "s_{ij}" not in markdown and "s_{ii}" not in markdown, "the notation table writes the similarity S_ij"
    assert r"r \ge 1" in markdown, "Oord's step holds only for r >= 1: the notebook says so"
    assert r"\log N - \mathbb E\big[\mathcal L_{\text{InfoNCE}}\big]" in markdown, "Poole et al.: the expected loss"
