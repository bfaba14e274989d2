"""Build the course as a static site: execute every notebook, then mkdocs-jupyter (offline).

    python -m tools.build_site                       # `make site`: the default budget, into site/
    python -m tools.build_site --budget smoke --out /tmp/site

Steps: (1) execute ``notebooks/*.ipynb`` with nbclient in the given budget (figures inline, widget state saved),
(2) write them with an ``index.md`` into the docs folder (``build/site-docs``), (3) run ``mkdocs build`` with the
repository's ``mkdocs.yml``, (4) copy MathJax from ``jupyter-server-mathjax`` into the site so that equations
render without a network. The tests call :func:`build_site` with notebooks they have already executed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import nbformat

from tools.course_run import notebook_client
from tools.plain_text import plain_title

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The notebook's first ``# title`` line."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def execute(path: Path, budget: str, *, timeout: int = 3600) -> nbformat.NotebookNode:
    """Run one notebook top to bottom in ``budget`` (errors fail the build); figures inline, no progress bars."""
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update({"MMO_BUDGET": budget, "MMO_PROGRESS": "0", "PYTHONHASHSEED": "0"})
    notebook_client(nb, path, timeout=timeout, allow_errors=False).execute(env=env)
    return nb


def write_docs(executed: Mapping[str, nbformat.NotebookNode], docs: Path, *, budget: str) -> list[str]:
    """Write the executed notebooks (by file name) and an index page into ``docs``; return the nav entries."""
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    rows = []
    for name in sorted(executed):
        nb = executed[name]
        nbformat.write(nb, docs / name)
        rows.append(f"| {name[:2]} | [{plain_title(notebook_title(nb, name))}]({name}) |")
    index = "\n".join(
        [
            "# The four learning objectives behind multimodal models",
            "",
            "InfoNCE, cross-entropy, score matching and autoregressive next-token modelling: derived, checked,",
            "trained and compared, one notebook each. These pages show the notebooks as executed in the "
            f"**{budget}** budget;",
            "to run them yourself, clone the repository and `make lab` (or open a notebook in Colab from the README).",
            "",
            "| # | notebook |",
            "| --- | --- |",
            *rows,
            "",
        ]
    )
    (docs / "index.md").write_text(index, encoding="utf-8")
    return sorted(executed)


# jupyter-server-mathjax ships MathJax 2 with the STIX-Web fonts only: tell MathJax to use them (mkdocs.yml loads
# this file as the config "local/mmobjectives").
MATHJAX_LOCAL_CONFIG = """MathJax.Hub.Config({
    "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
    SVG: {font: "STIX-Web"}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/mmobjectives.js");
"""


def mathjax_dir() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).resolve().parent / "static"


def copy_mathjax(site: Path) -> Path:
    """Bundle MathJax into ``site/assets/mathjax`` so that equations render without a network."""
    target = site / "assets" / "mathjax"
    shutil.copytree(mathjax_dir(), target, dirs_exist_ok=True)
    (target / "config" / "local").mkdir(parents=True, exist_ok=True)
    (target / "config" / "local" / "mmobjectives.js").write_text(MATHJAX_LOCAL_CONFIG, encoding="utf-8")
    return target


def mkdocs_nav(executed: Mapping[str, nbformat.NotebookNode]) -> str:
    """The site's ``nav:`` block (YAML): the index, then each notebook under its title in plain text."""
    entries = [f"  - {plain_title(notebook_title(executed[n], n))!r}: {n}" for n in sorted(executed)]
    return "\n".join(["nav:", "  - Home: index.md", *entries, ""])


def build_site(
    executed: Mapping[str, nbformat.NotebookNode],
    out: Path,
    *,
    work: Path = ROOT / "build" / "site",
    budget: str = "default",
) -> Path:
    """Write ``executed`` notebooks into ``work/docs`` and build the site into ``out``; return ``out``."""
    work = work.resolve()
    out = out.resolve()
    write_docs(executed, work / "docs", budget=budget)
    nav = mkdocs_nav(executed)
    config = work / "mkdocs.yml"
    config.write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: {work / 'docs'}\nsite_dir: {out}\n{nav}",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(config)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # no advertisement in the build log
    subprocess.run(command, check=True, env=env)  # noqa: S603 - our interpreter, our arguments
    copy_mathjax(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="default", choices=("smoke", "default", "full"))
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    executed = {}
    for path in paths:
        start = time.perf_counter()
        executed[path.name] = execute(path, args.budget)
        print(f"executed {path.name} in the {args.budget} budget: {time.perf_counter() - start:.0f} s", flush=True)
    out = build_site(executed, args.out, work=args.work, budget=args.budget)
    print(f"site: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
