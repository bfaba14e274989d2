"""The course as published: a static site built from the executed notebooks, and the way into Colab.

``make site`` executes every notebook in the default budget; here the site is built from the smoke-budget runs
that tests/course/test_student.py reads anyway (``tools/course_run.cached_run``: nbval's run when nbval runs in the same
session, else one nbclient run per notebook and process).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest

from tools import build_site, course_run

ROOT = Path(__file__).resolve().parents[2]
# after nbval, when it runs in this session: then its run of each notebook is the one these tests read
pytestmark = pytest.mark.course_run
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHROMIUM = Path("/usr/bin/chromium")
GIT_URL = re.compile(r"git\+https://github\.com/([\w.-]+/[\w.-]+?)\.git")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    executed = {p.name: course_run.cached_run(p).executed for p in NOTEBOOKS}
    tmp = tmp_path_factory.mktemp("site")
    return build_site.build_site(executed, tmp / "site", work=tmp / "work", budget="smoke")


def test_site_has_an_index_linking_every_notebook(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f'href="{path.stem}/"' in index, f"the index page does not link {path.name}"
    assert (site / "assets" / "mathjax" / "MathJax.js").exists(), "MathJax is not bundled: equations need a network"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_each_notebook_page_has_its_title_equations_and_figures(site: Path, path: Path) -> None:
    page = site / path.stem / "index.html"
    assert page.exists(), f"no page for {path.name}"
    text = page.read_text(encoding="utf-8")
    title = build_site.notebook_title(nbformat.read(path, as_version=4), path.stem)
    assert html.escape(title, quote=False) in text or title in text, f"{path.name}: title {title!r} not on its page"
    assert "../assets/mathjax/MathJax.js" in text, f"{path.name}: the page does not load the bundled MathJax"
    assert re.search(r"\$[^$\n]+\$", text), f"{path.name}: no LaTeX left for MathJax on the page"
    assert "data:image/png;base64," in text, f"{path.name}: the page shows no figure"
    assert "Traceback (most recent call last)" not in text, f"{path.name}: the page shows an error"


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
def test_equations_render_offline_in_a_browser(site: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.route("http*://**", lambda route: route.abort())  # offline: only the site's own files load
            for path in NOTEBOOKS:
                page.goto((site / path.stem / "index.html").as_uri())
                page.wait_for_function("() => !!(window.MathJax && window.MathJax.Hub)", timeout=60_000)
                page.evaluate("() => new Promise(done => MathJax.Hub.Queue(() => done(true)))")  # typesetting over
                typeset = page.locator(".MathJax, .MathJax_Display, .MathJax_SVG").count()
                errors = page.locator(".MathJax_Error").count()
                assert typeset > 0, f"{path.name}: MathJax typeset nothing"
                assert errors == 0, f"{path.name}: {errors} equation(s) show [Math Processing Error]"
                assert page.locator("img").count() > 0, f"{path.name}: no figure on the page"
        finally:
            browser.close()


# -- Colab and the first run -----------------------------------------------------------------------------------------
def _first_code_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def test_every_notebook_installs_the_package_when_missing_and_prints_its_setup() -> None:
    repos = set()
    for path in NOTEBOOKS:
        first = _first_code_cell(path)
        assert 'if importlib.util.find_spec("mmobjectives") is None:' in first, f"{path.name}: no install-if-missing"
        match = GIT_URL.search(first)
        assert match and "%pip install" in first, f"{path.name}: the first cell does not %pip install from git"
        assert first.index("find_spec") < first.index("from mmobjectives import"), f"{path.name}: install too late"
        assert "print(config.setup_message())" in first, f"{path.name}: the first cell does not print the setup"
        repos.add(match.group(1))
    assert len(repos) == 1, f"the notebooks install the course from different repositories: {sorted(repos)}"


def test_readme_has_an_open_in_colab_badge_per_notebook_from_the_same_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    repo = GIT_URL.search(_first_code_cell(NOTEBOOKS[0])).group(1)
    named = GIT_URL.search(readme)
    assert named and named.group(1) == repo, f"README does not name {repo} as the place to install from"
    for path in NOTEBOOKS:
        badge = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{path.name}"
        assert badge in readme, f"README has no Open-in-Colab badge for {path.name} ({badge})"
