"""Safety (issue 11): the package never deserialises pickles from the network, loads checkpoints with
``weights_only=True``, never runs a shell, and downloads only from the listed MNIST mirrors, with checksums.

The source checks read the package's syntax trees (not its text, so comments and strings cannot fool them); the
download check runs ``load_mnist`` against a stand-in for ``urllib`` and records every URL it asks for.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmobjectives.data import mnist
from mmobjectives.data.images import load_image_dataset
from mmobjectives.data.mnist import MNIST_FILES, MNIST_MIRRORS, DownloadError, load_mnist

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mmobjectives"
SOURCES = sorted(PACKAGE.rglob("*.py"))

UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal", "joblib"}
NETWORK_MODULES = {"urllib.request", "http.client", "requests", "httpx", "aiohttp", "ftplib", "urllib3"}
# every place the package may touch the network: the MNIST download (http.client only for its exception types)
ALLOWED_NETWORK = {("mmobjectives/data/mnist.py", "urllib.request"), ("mmobjectives/data/mnist.py", "http.client")}
# the only "noqa: S..." the package may carry, each reviewed: the scheme of every URL is checked before urlopen
ALLOWED_SECURITY_NOQA = {("mmobjectives/data/mnist.py", "S310")}
# the MD5s published with MNIST (also in shared/RECIPES.md)
PUBLISHED_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for path in SOURCES:
        yield _relative(path), ast.parse(path.read_text(), filename=str(path))


def _dotted(node: ast.AST) -> str:
    """``torch.load`` for ``torch.load``, ``np.load`` for ``np.load``; '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _calls(tree: ast.Module) -> Iterator[ast.Call]:
    yield from (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def test_the_scan_sees_the_package() -> None:
    assert len(SOURCES) >= 15 and PACKAGE / "data" / "mnist.py" in SOURCES


def test_no_pickle_is_ever_loaded() -> None:
    problems = []
    for path, tree in _trees():
        for name in _imports(tree):
            if name.split(".")[0] in UNSAFE_MODULES:
                problems.append(f"{path}: imports {name}")
        for call in _calls(tree):
            func = _dotted(call.func)
            if func.endswith("read_pickle") or func in {"torch.hub.load", "torch.hub.load_state_dict_from_url"}:
                problems.append(f"{path}:{call.lineno}: {func}")
            if func in {"np.load", "numpy.load"}:
                allow = _keyword(call, "allow_pickle")
                if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                    problems.append(f"{path}:{call.lineno}: np.load with allow_pickle")
    assert not problems, problems


def test_every_torch_load_uses_weights_only() -> None:
    problems = []
    for path, tree in _trees():
        if "torch.load" in _imports(tree):
            problems.append(f"{path}: from torch import load (call it as torch.load so it can be checked)")
        for call in _calls(tree):
            if _dotted(call.func) == "torch.load":
                value = _keyword(call, "weights_only")
                if not (isinstance(value, ast.Constant) and value.value is True):
                    problems.append(f"{path}:{call.lineno}: torch.load without weights_only=True")
    assert not problems, problems


def test_no_shell_and_no_dynamic_code() -> None:
    problems = []
    for path, tree in _trees():
        for name in _imports(tree):
            if name in {"subprocess", "os.system", "os.popen", "pty", "commands"}:
                problems.append(f"{path}: imports {name}")
        for call in _calls(tree):
            func = _dotted(call.func)
            shell = _keyword(call, "shell")
            if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
                problems.append(f"{path}:{call.lineno}: shell=...")
            if func in {"os.system", "os.popen", "eval", "exec", "compile", "__import__", "yaml.load"}:
                problems.append(f"{path}:{call.lineno}: {func}(...)")
    assert not problems, problems


def test_the_network_is_touched_only_by_the_mnist_download() -> None:
    found = set()
    for path, tree in _trees():
        for name in _imports(tree):
            for module in NETWORK_MODULES:
                if name == module or name.startswith(module + "."):
                    found.add((path, module))
    assert found == ALLOWED_NETWORK
    # and inside mnist.py, urlopen is called in exactly one place: _fetch, which gets its URL from _download
    tree = ast.parse((PACKAGE / "data" / "mnist.py").read_text())
    sites = [
        (fn.name, call.lineno)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef)
        for call in _calls(fn)
        if _dotted(call.func).endswith(("urlopen", "urlretrieve", "Request"))
    ]
    assert [name for name, _ in sites] == ["_fetch"], sites
    callers = {
        fn.name
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef)
        for c in _calls(fn)
        if _dotted(c.func) == "_fetch"
    }
    assert callers == {"_download"}


def test_security_rules_are_selected_and_only_reviewed_noqa_comments_silence_them() -> None:
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]
    assert {code for code in lint.get("ignore", []) if code.startswith("S")} <= {"S101", "S311"}  # assert, random
    package_ignores = [
        codes for pattern, codes in lint.get("per-file-ignores", {}).items() if pattern.startswith("mmobjectives")
    ]
    assert not any(code.startswith("S") for codes in package_ignores for code in codes)
    noqa = set()
    for path in SOURCES:
        for line in path.read_text().splitlines():
            for codes in re.findall(r"#\s*noqa:\s*([A-Z0-9, ]+)", line):
                noqa.update(
                    (_relative(path), code.strip()) for code in codes.split(",") if code.strip().startswith("S")
                )
    assert noqa == ALLOWED_SECURITY_NOQA


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_security_rules_pass_on_the_package() -> None:
    """With the project's own configuration; only the security (S) findings count here."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "mmobjectives"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    security = [line for line in result.stdout.splitlines() if re.search(r": S\d{3}\b", line)]
    assert not security, security


# -- downloads: only the listed mirrors, always checked ----------------------------------------------------------
def test_the_mirrors_are_https_and_the_checksums_are_the_published_ones() -> None:
    assert MNIST_MIRRORS and all(url.startswith("https://") and url.endswith("/") for url in MNIST_MIRRORS)
    assert {fname: md5 for fname, md5 in MNIST_FILES.values()} == PUBLISHED_MD5


class _Recorder:
    """Stands in for ``urllib.request.urlopen``: records the URL, answers with bytes that are not MNIST."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float) -> io.BytesIO:
        self.urls.append(url)
        assert 0 < timeout <= 60, "every download has a short timeout"
        body = io.BytesIO(b"<html>a captive portal, not MNIST</html>")
        body.headers = {}  # type: ignore[attr-defined]
        return body


def test_downloads_go_only_to_the_listed_mirrors_and_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(mnist.urllib.request, "urlopen", recorder)
    monkeypatch.delenv("MMO_OFFLINE", raising=False)
    monkeypatch.setenv("MMO_BUDGET", "default")
    monkeypatch.setenv("MMO_DATA", str(tmp_path / "data"))
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match="MD5 mismatch"):
        load_mnist(root)  # the defaults: MNIST_MIRRORS and the published checksums
    first = MNIST_FILES["train_images"][0]
    assert recorder.urls == [mirror + first for mirror in MNIST_MIRRORS]
    assert not root.exists() or not any(root.iterdir()), "unchecked bytes must never reach the cache"
    # the notebooks' one call: same mirrors, same checks, then the offline digits
    recorder.urls.clear()
    data = load_image_dataset(download=True, verbose=False)
    assert data.name == "digits" and "download failed" in data.source
    assert recorder.urls and all(url.startswith(MNIST_MIRRORS) for url in recorder.urls)
    mnist_cache = tmp_path / "data" / "mnist"
    assert not mnist_cache.exists() or not any(mnist_cache.iterdir())
