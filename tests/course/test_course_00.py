"""Course pass (issue 17) for notebook 00 and the course as a whole: readable cells, the notation page, and a site
whose index and navigation show no raw LaTeX. Reads the committed notebooks only (no kernel, no mkdocs build)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from tools import build_site

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_WORDS = 250  # per Markdown cell, display maths aside (issue 17, deliverable 7)
DISPLAY_MATHS = re.compile(r"\$\$.*?\$\$", re.DOTALL)
RAW_LATEX = re.compile(r"\$[^$\n]+\$|\\[A-Za-z]+")


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def markdown_words(source: str) -> int:
    """Words of a Markdown cell, not counting display maths ``$$...$$`` (inline maths counts)."""
    return len(DISPLAY_MATHS.sub(" ", source).split())


def test_markdown_words_ignores_display_maths_only() -> None:
    assert markdown_words("one two $x$\n\n$$a + b\n= c$$\nthree") == 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_markdown_cell_has_at_most_250_words(path: Path) -> None:
    long = {
        i: n
        for i, cell in enumerate(_read(path).cells)
        if cell.cell_type == "markdown" and (n := markdown_words(cell.source)) > MAX_WORDS
    }
    assert not long, f"{path.name}: Markdown cells over {MAX_WORDS} words (display maths aside), cell: words {long}"


# -- the site: index page and navigation in plain text -------------------------------------------------------------
def test_plain_title_writes_inline_maths_as_text() -> None:
    assert build_site.plain_title(r"matching $p(y\mid x)$ to") == "matching p(y ∣ x) to"
    assert build_site.plain_title(r"learning $\nabla_x \log p$ without") == "learning ∇ₓ log p without"
    assert build_site.plain_title("no maths here") == "no maths here"


def test_site_index_and_navigation_show_no_raw_latex(tmp_path: Path) -> None:
    notebooks = {p.name: _read(p) for p in NOTEBOOKS}
    assert any("$" in build_site.notebook_title(nb, name) for name, nb in notebooks.items()), (
        "no notebook title has maths any more: this test no longer tests anything"
    )
    build_site.write_docs(notebooks, tmp_path / "docs", budget="smoke")
    index = (tmp_path / "docs" / "index.md").read_text(encoding="utf-8")
    nav = yaml.safe_load(build_site.mkdocs_nav(notebooks))["nav"]
    titles = [title for entry in nav for title in entry]
    assert len(titles) == len(NOTEBOOKS) + 1, titles
    for text, where in [(index, "index.md"), *((t, f"nav entry {t!r}") for t in titles)]:
        found = RAW_LATEX.findall(text)
        assert not found, f"{where} shows raw LaTeX {found}: MathJax does not run there"
    for name, nb in notebooks.items():
        plain = build_site.plain_title(build_site.notebook_title(nb, name))
        assert f"[{plain}]({name})" in index and plain in titles, f"{name}: not in the index or the navigation"


# -- notebook 00: the notation page and the hand-written training loop ---------------------------------------------
def _overview_markdown() -> list[str]:
    return [c.source for c in _read(ROOT / "notebooks" / "00_overview.ipynb").cells if c.cell_type == "markdown"]


def test_overview_states_the_notation_of_the_course() -> None:
    cells = _overview_markdown()
    start = next(i for i, s in enumerate(cells) if s.startswith("## Notation"))
    notation = "\n".join(cells[start : start + 3])
    for symbol in (
        r"$p_\theta$",
        r"$q_\sigma$",
        r"$s_\theta(x)$",
        r"$f(x, y)$",
        r"$S_{ij}",
        "$z$",
        "$o$",
        "$v_{1:M}$",
        r"$\varepsilon$",
        r"$\tau$",
        "$T$",
        r"$\sigma_t$",
        r"$\beta_k$",
        "$w$",
    ):
        assert symbol in notation, f"the notation page of notebook 00 does not define {symbol}"
    for clash in ("Score vs similarity", "Sequence length vs temperature", "**$z$.**", r"**$\sigma_t$.**"):
        assert clash in notation, f"the notation page does not say why: {clash}"


def test_overview_trains_by_hand_before_train_fit() -> None:
    nb = _read(ROOT / "notebooks" / "00_overview.ipynb")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    by_hand = next(i for i, s in enumerate(code) if "loss.backward()" in s and "optimizer.step()" in s)
    first_fit = next(i for i, s in enumerate(code) if "train.fit(" in s)
    assert by_hand < first_fit, "notebook 00 uses train.fit before it writes the training loop by hand"
    assert "optimizer.zero_grad()" in code[by_hand]
    assert "history_fit.loss == hand_losses" in code[first_fit], "the hand loop is not compared with train.fit"


def test_mkdocs_jupyter_keeps_the_plain_navigation_titles() -> None:
    """mkdocs-jupyter would otherwise replace each page's nav title with the notebook's raw ``# title`` line."""
    plugins = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["plugins"]
    options = next(p["mkdocs-jupyter"] for p in plugins if isinstance(p, dict) and "mkdocs-jupyter" in p)
    assert options.get("ignore_h1_titles") is True, "mkdocs.yml: mkdocs-jupyter needs ignore_h1_titles: true"
