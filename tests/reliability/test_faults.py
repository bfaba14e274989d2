"""Faults (issue 11): broken downloads lose nothing and are fetched again, a cache that cannot be written says so,
nothing hangs, and a failing process of the distributed demo stops the other with a clear error in bounded time.

Downloads are tested against a local HTTP server on 127.0.0.1 that misbehaves on request: it cuts the connection
half-way through a file, stalls half-way, never answers, or serves corrupted bytes. A read-only or full cache is
simulated by replacing the temp-file factory of ``mmobjectives.data.mnist`` (the tests run as root here, and root
ignores file permissions; the real ``chmod`` test runs where it can). ``tests/unit/data/test_images.py`` already covers a
corrupted *cached* file, a server serving wrong bytes, dead mirrors, the offline switch and an unusable cache path:
not repeated here.
"""

from __future__ import annotations

import errno
import hashlib
import http.server
import os
import tempfile
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch.multiprocessing as mp

from mmobjectives import distributed
from mmobjectives.data import mnist
from mmobjectives.data.idx import write_idx
from mmobjectives.data.mnist import MNIST_FILES, DownloadError, load_mnist, mnist_cached
from tests.local_http import LocalHTTPServer

TRAIN_IMAGES = MNIST_FILES["train_images"][0]
TEST_LABELS = MNIST_FILES["test_labels"][0]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("MMO_OFFLINE", raising=False)
    monkeypatch.setenv("MMO_DATA", str(tmp_path / "cache"))


class FaultyServer(LocalHTTPServer):
    """Serves small MNIST-shaped files; ``faults[name]`` lists what the next requests of a file get:
    ``"truncate"`` (half the body, then the connection closes), ``"stall"`` (half the body, then silence),
    ``"silent"`` (no answer at all), ``"corrupt"`` (the right length, one byte flipped); then the file itself."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        rng = np.random.default_rng(0)
        arrays = {
            "train_images": rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8),
            "train_labels": rng.integers(0, 10, size=30, dtype=np.uint8),
            "test_images": rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8),
            "test_labels": rng.integers(0, 10, size=10, dtype=np.uint8),
        }
        self.files = {
            MNIST_FILES[key][0]: write_idx(folder / MNIST_FILES[key][0], a).read_bytes() for key, a in arrays.items()
        }
        self.md5s = {key: hashlib.md5(self.files[MNIST_FILES[key][0]]).hexdigest() for key in arrays}
        self.faults: dict[str, list[str]] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                queue = server.faults.get(name, [])
                fault = queue.pop(0) if queue else None
                if fault == "silent":
                    server.release.wait(30)
                    return
                if fault == "corrupt":
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault in ("truncate", "stall"):
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    if fault == "stall":
                        server.release.wait(30)
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._serve(Handler)

    def _release(self) -> None:
        self.release.set()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FaultyServer]:
    srv = FaultyServer(tmp_path / "served")
    yield srv
    srv.close()


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _assert_complete(root: Path, server: FaultyServer) -> None:
    """All four files in the cache with their right checksums, and no temp file left."""
    assert _names(root) == set(server.files)
    assert mnist_cached(root, md5s=server.md5s)


# -- interrupted and corrupted downloads ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [TRAIN_IMAGES, TEST_LABELS])  # the first file fetched, and the last
def test_interrupted_download_leaves_no_partial_file_and_is_fetched_again(
    server: FaultyServer, tmp_path: Path, name: str
) -> None:
    root = tmp_path / "root"
    server.faults[name] = ["truncate"]
    with pytest.raises(DownloadError, match="interrupted") as info:
        load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    size = len(server.files[name])
    assert f"closed after {size // 2} of {size} bytes" in str(info.value)
    assert name in str(info.value) and str(root) in str(info.value)
    assert name not in _names(root) and not any(n.endswith(".part") for n in _names(root))
    load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)  # the next run fetches it again
    _assert_complete(root, server)
    assert server.requests.count(name) == 2


def test_stalled_download_times_out_quickly_and_leaves_no_partial_file(server: FaultyServer, tmp_path: Path) -> None:
    root = tmp_path / "root"
    server.faults[TRAIN_IMAGES] = ["stall"]
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=0.5)
    assert time.monotonic() - start < 5
    assert _names(root) == set()
    load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    _assert_complete(root, server)


def test_silent_mirrors_never_hang(server: FaultyServer, tmp_path: Path) -> None:
    root = tmp_path / "root"
    server.faults[TRAIN_IMAGES] = ["silent", "silent"]
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_mnist(root, mirrors=[server.url, server.url + "again/"], md5s=server.md5s, timeout=0.5)
    assert time.monotonic() - start < 5  # two mirrors × 0.5 s, not forever
    assert str(info.value).count("timed out") == 2
    assert _names(root) == set()


def test_corrupted_download_never_lands_and_the_next_mirror_is_used(server: FaultyServer, tmp_path: Path) -> None:
    root = tmp_path / "root"
    server.faults[TEST_LABELS] = ["corrupt", "corrupt"]
    with pytest.raises(DownloadError, match="MD5 mismatch"):
        load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    assert TEST_LABELS not in _names(root) and not any(n.endswith(".part") for n in _names(root))
    # the same file corrupted on the first mirror, good on the second: one call, and the cache is right
    load_mnist(root, mirrors=[server.url, server.url + "mirror2/"], md5s=server.md5s, timeout=2)
    _assert_complete(root, server)


def test_a_download_killed_midway_leaves_no_partial_file(
    server: FaultyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or any exception) while the bytes arrive: the .part file is removed before the exception goes on."""
    real_urlopen = mnist.urllib.request.urlopen

    class Interrupted:
        def __init__(self, response: Any) -> None:
            self.response, self.reads, self.headers = response, 0, response.headers

        def read1(self, n: int) -> bytes:
            self.reads += 1
            if self.reads > 1:
                raise KeyboardInterrupt
            return self.response.read1(100)

        def __enter__(self) -> Interrupted:
            return self

        def __exit__(self, *exc: object) -> None:
            self.response.close()

    monkeypatch.setattr(
        mnist.urllib.request, "urlopen", lambda url, timeout: Interrupted(real_urlopen(url, timeout=timeout))
    )
    root = tmp_path / "root"
    with pytest.raises(KeyboardInterrupt):
        load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    assert _names(root) == set()


def test_a_stale_part_file_from_a_killed_run_does_not_get_in_the_way(server: FaultyServer, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    stale = root / f".{TRAIN_IMAGES}.x1y2z3.part"
    stale.write_bytes(b"half a download from a run that was killed")
    load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    assert mnist_cached(root, md5s=server.md5s)
    assert _names(root) - {stale.name} == set(server.files)


# -- a cache that cannot be written -------------------------------------------------------------------------------
class _Unwritable:
    """Stands in for ``tempfile``: the temp file cannot be created (read-only folder) or fills the disk."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.created: list[str] = []

    def NamedTemporaryFile(self, **kwargs: Any) -> Any:  # noqa: N802 - mirrors tempfile's name
        if self.how == "read-only":
            raise OSError(errno.EROFS, "Read-only file system", kwargs["dir"])
        real = tempfile.NamedTemporaryFile(**kwargs)  # the real one: mnist.tempfile is this stand-in
        self.created.append(real.name)
        return _FullDisk(real, at=self.how)


class _FullDisk:
    def __init__(self, real: Any, at: str) -> None:
        self.real, self.at, self.name = real, at, real.name

    def write(self, data: bytes) -> int:
        if self.at == "disk full on write":
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real.write(data)

    def close(self) -> None:
        self.real.close()
        if self.at == "disk full on close":
            raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.mark.parametrize("how", ["read-only", "disk full on write", "disk full on close"])
def test_a_cache_that_cannot_be_written_gives_a_clear_error_and_no_partial_file(
    server: FaultyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    fake = _Unwritable(how)
    monkeypatch.setattr(mnist, "tempfile", types.SimpleNamespace(NamedTemporaryFile=fake.NamedTemporaryFile))
    root = tmp_path / "root"
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        load_mnist(root, mirrors=[server.url, server.url + "mirror2/"], md5s=server.md5s, timeout=2)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert not isinstance(info.value, DownloadError), "a cache problem is not a download problem"
    assert "cannot write to the MNIST cache folder" in message and str(root) in message and "MMO_DATA" in message
    assert ("Read-only" if how == "read-only" else "No space left") in message
    assert server.requests.count(TRAIN_IMAGES) <= 1  # the second mirror is not tried: it would not help
    assert _names(root) == set()
    assert not any(os.path.exists(name) for name in fake.created)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file permissions")
def test_a_real_read_only_folder_gives_a_clear_error(server: FaultyServer, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    root.chmod(0o555)
    try:
        with pytest.raises(OSError, match="cannot write to the MNIST cache folder"):
            load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    finally:
        root.chmod(0o755)


def test_a_complete_read_only_cache_still_loads(
    server: FaultyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    monkeypatch.setattr(
        mnist, "tempfile", types.SimpleNamespace(NamedTemporaryFile=_Unwritable("read-only").NamedTemporaryFile)
    )
    data = load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)  # nothing to write: fine
    assert data.x_train.shape == (30, 1, 28, 28)


def test_a_corrupted_file_in_a_read_only_cache_is_reported(
    server: FaultyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    (root / TEST_LABELS).write_bytes(b"bit rot")
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self.parent == root:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(OSError, match="cannot delete the corrupted MNIST file") as info:
        load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    assert TEST_LABELS in str(info.value) and "MMO_DATA" in str(info.value)


# -- the two-process distributed demo -------------------------------------------------------------------------------
def test_when_one_rank_dies_or_hangs_the_other_exits_with_a_clear_error_in_bounded_time() -> None:
    """Rank 1 of one pair crashes right after the rendezvous; rank 1 of another pair hangs there. Each rank 0, left
    waiting in the all-gather, must report a clear error and exit by itself — gloo notices the closed connection,
    or the process group's timeout fires — never wait forever."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    shard = np.zeros((2, 4))
    timeout = 3.0
    procs = {}
    for fault in ("exit", "hang"):
        port = distributed._free_port()
        for rank in (0, 1):
            args = (rank, 2, port, shard, shard, 0.1, timeout, results, fault if rank == 1 else None)
            procs[fault, rank] = ctx.Process(target=distributed._gather_worker, args=args, daemon=True)
    start = time.monotonic()
    try:
        for proc in procs.values():
            proc.start()
        messages = [results.get(timeout=60) for _ in range(2)]  # one from each surviving rank 0
        for fault in ("exit", "hang"):
            procs[fault, 0].join(timeout=20)
        elapsed = time.monotonic() - start
    finally:
        for proc in procs.values():
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=5)
        results.close()
    assert all(kind == "error" and rank == 0 for kind, rank, *_ in messages), messages
    texts = " ".join(message[2] for message in messages)
    assert "Timed out" in texts or "timed out" in texts  # the stuck peer: the process group's timeout
    assert any(word in texts for word in ("Connection reset", "Connection closed", "closed by peer", "Broken pipe"))
    for fault in ("exit", "hang"):
        assert procs[fault, 0].exitcode == 0  # rank 0 exited by itself, after reporting
    assert procs["exit", 1].exitcode == 3
    assert elapsed < 45  # spawning 4 processes on a busy 2-core machine takes most of it; 3 s of waiting at most


def test_run_gather_demo_reports_a_crashed_rank_in_bounded_time() -> None:
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"rank [01]") as info:
        distributed.run_gather_demo(world_size=2, n_per_rank=2, dim=4, timeout=120, _fail_rank=1, _fail="exit")
    # noticed when the rank dies, long before the timeout (generous: spawning takes 20 s or more under load)
    assert time.monotonic() - start < 60
    message = str(info.value)
    assert "exited with code 3" in message or "Connection" in message or "closed" in message, message
