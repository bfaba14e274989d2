"""Widgets in a real browser: JupyterLab on 127.0.0.1, driven by Playwright through Debian's Chromium.

For every notebook that shows widget panels: open it in JupyterLab, run all its cells up to its last panel (smoke
budget, offline; the cells after it build no panel, and nbval runs them), then move each control of each panel
(sliders with the arrow keys, dropdowns to another option) and check that what the Python callback renders
changed — the summary line (class ``mmo-summary``) and the figure — without an error.
A screenshot of the page and of each panel is written per notebook (``MMO_SCREENSHOTS=dir`` keeps them).

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; never ``playwright install``). Without it the tests are
skipped, except in CI (``CI`` set), where ``.ci/run`` installs it and a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
PANEL_CALL = re.compile(r"\bwidgets\.\w*(?:panel|Panel)\w*\(")
LAB_START_TIMEOUT = 120
CELL_TIMEOUT_MS = 600_000
CHANGE_TIMEOUT_MS = 120_000

# A 32-bit hash of a panel's image (its data: URL), computed in the page so that the PNG never crosses to Python.
IMAGE_HASH = """window.mmoImageHash = panel => {
    const img = panel.querySelector('.widget-output img');
    if (!img) return null;
    let h = 0;
    const s = img.getAttribute('src') || '';
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return h;
};"""


def _builds_a_panel(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(PANEL_CALL.search(cell.source))


def panel_cells(path: Path) -> int:
    """How many code cells of the notebook build a widget panel (``widgets.something_panel(...)``)."""
    return sum(map(_builds_a_panel, nbformat.read(path, as_version=4).cells))


def cut_after_last_panel(path: Path) -> None:
    """Drop the cells after the notebook's last panel cell (in JupyterLab's copy): the panels need none of them."""
    nb = nbformat.read(path, as_version=4)
    last = max(i for i, cell in enumerate(nb.cells) if _builds_a_panel(cell))
    nb.cells = nb.cells[: last + 1]
    nbformat.write(nb, path)


WIDGET_NOTEBOOKS = [p for p in NOTEBOOKS if panel_cells(p)]


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}: `apt-get install -y chromium` to run the browser tests"
    return None


MISSING = _browser_missing()
if MISSING and IN_CI:
    raise RuntimeError(f"CI must run the browser tests, but {MISSING} (.ci/run installs it through apt)")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local http URL we built
        return response.read()


class Lab:
    """A JupyterLab server on 127.0.0.1 with a token, its own config, runtime, settings and workspace folders."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        # JupyterLab serves a copy of the notebooks: whatever it saves never touches the working tree.
        self.root = tmp / "root"
        shutil.copytree(ROOT / "notebooks", self.root / "notebooks", ignore=shutil.ignore_patterns(".*"))
        for path in WIDGET_NOTEBOOKS:
            cut_after_last_panel(self.root / path.relative_to(ROOT))
        settings = {
            # every cell stays in the DOM (no virtual scrolling), so that each panel can be found
            ("notebook-extension", "tracker"): {"windowingMode": "none"},
            ("docmanager-extension", "plugin"): {"autosave": False},
            ("apputils-extension", "notification"): {"fetchNews": "false", "checkForUpdates": False},
        }
        for (extension, plugin), values in settings.items():
            folder = tmp / "settings" / "@jupyterlab" / extension
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline figures
        env.update(
            MMO_BUDGET="smoke",
            MMO_OFFLINE="1",
            MMO_PROGRESS="0",
            PYTHONHASHSEED="0",
            JUPYTER_CONFIG_DIR=str(tmp / "config"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        )
        self.log_path = tmp / "jupyterlab.log"
        command = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.allow_root=True",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={tmp / 'settings'}",
            f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        ]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while True:
            try:
                _get(f"{self.base}/api/status?token={self.token}")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"JupyterLab did not start; its log:\n{self.log()}") from None
                time.sleep(0.5)

    def url(self, path: Path) -> str:
        """The notebook in a workspace of its own, reset: no other notebook is restored beside it."""
        where = path.relative_to(ROOT).as_posix()
        return f"{self.base}/lab/workspaces/{path.stem}/tree/{where}?token={self.token}&reset"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def shutdown_kernels(self) -> None:
        for kernel in json.loads(_get(f"{self.base}/api/kernels?token={self.token}")):
            request = urllib.request.Request(
                f"{self.base}/api/kernels/{kernel['id']}?token={self.token}", method="DELETE"
            )
            urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 - local

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    server = Lab(tmp_path_factory.mktemp("jupyterlab"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keep = os.environ.get("MMO_SCREENSHOTS")
    folder = Path(keep) if keep else tmp_path_factory.mktemp("screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Find the notebook's panel by its path, make it current, wait for its kernel, run all cells; a timeout in the page
# too, so that a dialog or a stuck kernel fails the test instead of hanging it.
RUN_ALL = """async ([path, timeoutMs]) => {
    const app = window.jupyterapp;
    const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
    const work = (async () => {
        let panel = null;
        while (!panel) {
            panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
            if (!panel) await sleep(200);
        }
        app.shell.activateById(panel.id);
        await panel.context.ready;
        await panel.sessionContext.ready;
        const ok = await app.commands.execute('notebook:run-all-cells');
        while (panel.sessionContext.session.kernel.status !== 'idle') await sleep(200);
        return {ok, id: panel.id};
    })();
    const timeout = sleep(timeoutMs).then(() => { throw new Error(`no result after ${timeoutMs} ms`); });
    return await Promise.race([work, timeout]);
}"""


def _run_all(page, lab: Lab, path: Path):
    """Run every cell of ``path`` (already opened in ``page``); return a locator of its notebook panel."""
    page.wait_for_function("() => !!(window.jupyterapp && window.jupyterapp.shell)", timeout=LAB_START_TIMEOUT * 1000)
    try:
        result = page.evaluate(RUN_ALL, [path.relative_to(ROOT).as_posix(), CELL_TIMEOUT_MS])
    except Exception as err:
        raise AssertionError(
            f"running all cells of {path.name} did not finish: {err}\nJupyterLab log:\n{lab.log()}"
        ) from err
    notebook = page.locator(f"[id='{result['id']}']")
    tracebacks = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").filter(
        has_text="Traceback"
    )
    if not result["ok"] or tracebacks.count():
        shown = tracebacks.first.inner_text()[-3000:] if tracebacks.count() else "(no traceback shown)"
        raise AssertionError(f"running all cells of {path.name} failed:\n{shown}")
    return notebook


def _summary(panel) -> str:
    return panel.locator(".mmo-summary").inner_text()


def _image_hash(panel) -> object:
    return panel.evaluate("p => window.mmoImageHash(p)")


def _wait_for_rerender(panel, text_before: str, what: str) -> None:
    """Wait until the summary differs from ``text_before`` and the figure is a newly drawn one (a new ``img``)."""
    page = panel.page
    try:
        page.wait_for_function(
            """([panel, text]) => {
                const summary = panel.querySelector('.mmo-summary');
                const img = panel.querySelector('.widget-output img');
                return !!summary && summary.innerText !== text && !!img && !img.dataset.mmoSeen;
            }""",
            arg=[panel.element_handle(), text_before],
            timeout=CHANGE_TIMEOUT_MS,
        )
    except Exception as err:
        redrawn = panel.evaluate(
            "p => { const i = p.querySelector('.widget-output img'); return !!i && !i.dataset.mmoSeen; }"
        )
        raise AssertionError(
            f"{what}: the panel did not re-render within {CHANGE_TIMEOUT_MS // 1000} s (summary {text_before!r} -> "
            f"{_summary(panel)!r}; figure redrawn: {redrawn})"
        ) from err
    html = panel.locator(".mmo-summary").inner_html()
    assert "#D55E00" not in html, f"{what}: the callback raised: {_summary(panel)}"


def _wait_for_figure(panel, what: str, timeout_ms: int = 30_000) -> None:
    """The panel shows its figure as an image (the summary, drawn in the same callback, is already there)."""
    try:
        panel.page.wait_for_function(
            "p => !!p.querySelector('.widget-output img')", arg=panel.element_handle(), timeout=timeout_ms
        )
    except Exception as err:
        shown = panel.locator(".widget-output").inner_text().strip()[:200]
        raise AssertionError(
            f"{what} shows no figure image; its output area shows {shown!r} (a matplotlib Figure displayed as text "
            "means IPython had no PNG formatter for it yet, e.g. before any pyplot figure was made)"
        ) from err


def _mark_figure_seen(panel) -> None:
    panel.evaluate("p => { const i = p.querySelector('.widget-output img'); if (i) i.dataset.mmoSeen = '1'; }")


def _move_slider(slider) -> str:
    handle = slider.locator(".noUi-handle").first
    now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
    key = "ArrowLeft" if now is not None and top is not None and float(now) >= float(top) else "ArrowRight"
    handle.focus()
    handle.press(key)
    return f"slider {slider.locator('.widget-label').first.inner_text().strip()!r} ({key})"


def _move_dropdown(dropdown) -> str:
    select = dropdown.locator("select")
    options = select.locator("option").all_inner_texts()
    current = select.evaluate("s => s.selectedIndex")
    target = (current + 1) % len(options)
    select.select_option(index=target)
    return f"dropdown {dropdown.locator('.widget-label').first.inner_text().strip()!r} -> {options[target]!r}"


@pytest.mark.parametrize("path", WIDGET_NOTEBOOKS, ids=[p.name for p in WIDGET_NOTEBOOKS])
def test_widget_panels_react_in_jupyterlab(path: Path, lab: Lab, browser, screenshots: Path) -> None:
    """Each control re-renders its panel (new summary, newly drawn figure); each panel's figure changes."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(IMAGE_HASH)
    page.set_default_timeout(CHANGE_TIMEOUT_MS)
    moved: list[str] = []
    try:
        page.goto(lab.url(path))
        notebook = _run_all(page, lab, path)
        panels = notebook.locator(".widget-vbox:has(> .mmo-summary)")
        expected = panel_cells(path)
        page.wait_for_function(
            "([node, n]) => node.querySelectorAll('.widget-vbox > .mmo-summary').length >= n",
            arg=[notebook.element_handle(), expected],
            timeout=CHANGE_TIMEOUT_MS,
        )
        for i in range(panels.count()):
            panel = panels.nth(i)
            panel.scroll_into_view_if_needed()
            _wait_for_figure(panel, f"{path.name} panel {i}")
            images = {_image_hash(panel)}
            controls = panel.locator(".widget-hbox").first.locator(":scope > .widget-slider, :scope > .widget-dropdown")
            assert controls.count(), f"panel {i} of {path.name} shows no slider or dropdown"
            for k in range(controls.count()):
                control = controls.nth(k)
                text = _summary(panel)
                _mark_figure_seen(panel)
                is_slider = "widget-slider" in (control.get_attribute("class") or "")
                what = _move_slider(control) if is_slider else _move_dropdown(control)
                _wait_for_rerender(panel, text, f"{path.name} panel {i}, {what}")
                images.add(_image_hash(panel))
                moved.append(f"panel {i}: {what} -> {_summary(panel)[:100]!r}")
            assert len(images) > 1, f"{path.name} panel {i}: no control changed the figure"
            panel.screenshot(path=str(screenshots / f"{path.stem}_panel{i}.png"))
        assert panels.count() >= expected
        page.screenshot(path=str(screenshots / f"{path.stem}.png"))
    except Exception:
        page.screenshot(path=str(screenshots / f"{path.stem}_failed.png"))
        raise
    finally:
        print(f"{path.name}:", *moved, sep="\n  ")
        page.close()
        lab.shutdown_kernels()
