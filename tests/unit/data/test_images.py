"""Tests for mmobjectives.data.images, .idx and .mnist: digits, the IDX parser, MNIST downloads (local server only)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from mmobjectives.data import mnist
from mmobjectives.data.idx import read_idx, write_idx
from mmobjectives.data.image_dataset import ImageDataset
from mmobjectives.data.images import load_digits, load_image_dataset
from mmobjectives.data.mnist import MNIST_FILES, DownloadError, load_mnist, mnist_cached
from tests.local_http import LocalHTTPServer

N_TRAIN, N_TEST = 20, 10


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy for 127.0.0.1, no offline flag, and a data cache inside tmp_path."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("MMO_OFFLINE", raising=False)
    monkeypatch.setenv("MMO_BUDGET", "default")
    monkeypatch.setenv("MMO_DATA", str(tmp_path / "cache"))


# --------------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return load_digits()


def test_digits_shapes_dtypes_range(digits: ImageDataset) -> None:
    assert digits.name == "digits"
    assert digits.x_train.shape == (1437, 1, 8, 8)
    assert digits.x_test.shape == (360, 1, 8, 8)
    assert digits.x_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
    assert digits.image_shape == (1, 8, 8)
    assert digits.n_classes == 10
    for x in (digits.x_train, digits.x_test):
        assert x.min() >= 0.0 and x.max() <= 1.0
    assert digits.x_train.max() == 1.0
    assert set(digits.y_train.tolist()) == set(range(10))
    assert digits.describe() == "digits: 1437 train / 360 test images of 1×8×8, from scikit-learn (offline)"
    assert "1437 train" in repr(digits)


def test_digits_split_is_stratified(digits: ImageDataset) -> None:
    train = torch.bincount(digits.y_train, minlength=10).double() / len(digits.y_train)
    test = torch.bincount(digits.y_test, minlength=10).double() / len(digits.y_test)
    assert (train - test).abs().max() < 0.02


def test_digits_deterministic_for_a_seed(digits: ImageDataset) -> None:
    again = load_digits(seed=0)
    assert torch.equal(again.x_train, digits.x_train) and torch.equal(again.y_test, digits.y_test)
    other = load_digits(seed=1)
    assert not torch.equal(other.y_train, digits.y_train)
    half = load_digits(test_fraction=0.5)
    assert len(half.y_test) == 899 and len(half.y_train) == 898


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, 0.001, 0.999])
def test_digits_bad_test_fraction(bad: float) -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=bad)


def test_digits_bad_types() -> None:
    with pytest.raises(TypeError, match="test_fraction"):
        load_digits(test_fraction="0.2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        load_digits(seed=1.5)  # type: ignore[arg-type]


def test_dataset_validates_fields(digits: ImageDataset) -> None:
    with pytest.raises(ValueError, match="name"):
        ImageDataset(digits.x_train, digits.y_train, digits.x_test, digits.y_test, name="cifar", source="x")
    with pytest.raises(ValueError, match="same number"):
        ImageDataset(digits.x_train, digits.y_train[:-1], digits.x_test, digits.y_test, name="digits", source="x")


# --------------------------------------------------------------------------------------------------
# IDX
# --------------------------------------------------------------------------------------------------

_RNG = np.random.default_rng(0)
_ARRAYS = {
    "uint8-3d": _RNG.integers(0, 256, size=(4, 5, 6), dtype=np.uint8),
    "uint8-1d": _RNG.integers(0, 256, size=17, dtype=np.uint8),
    "int8-1d": _RNG.integers(-128, 128, size=9, dtype=np.int8),
    "int16-1d": _RNG.integers(-(2**15), 2**15, size=9, dtype=np.int16),
    "int32-1d": _RNG.integers(-(2**31), 2**31 - 1, size=11, dtype=np.int32),
    "int32-3d": _RNG.integers(-(2**31), 2**31 - 1, size=(2, 3, 4), dtype=np.int32),
    "float32-3d": _RNG.standard_normal((3, 2, 5)).astype(np.float32),
    "float64-1d": _RNG.standard_normal(7),
    "float64-3d": _RNG.standard_normal((2, 2, 2)),
    "empty": np.zeros((0, 28, 28), dtype=np.uint8),
}


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("key", sorted(_ARRAYS))
def test_idx_round_trip(tmp_path: Path, key: str, suffix: str) -> None:
    array = _ARRAYS[key]
    path = write_idx(tmp_path / f"a.idx{suffix}", array)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if suffix else b"\x00\x00")
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    np.testing.assert_array_equal(read_idx(path.read_bytes()), array)
    assert back.flags.writeable
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # atomic: no temp file left


def test_idx_header_layout() -> None:
    raw = bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9])
    np.testing.assert_array_equal(read_idx(raw), np.array([7, 8, 9], dtype=np.uint8))
    raw = bytes([0, 0, 0x0C, 1, 0, 0, 0, 1]) + (258).to_bytes(4, "big")
    assert read_idx(raw).tolist() == [258]


def _good_raw() -> bytes:
    return bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x01\x00" + _good_raw()[2:], "magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type byte"),
        (_good_raw()[:-1], "truncated data"),
        (_good_raw()[:9], "truncated header"),
        (b"\x00\x00", "truncated header"),
        (_good_raw() + b"\x00\x00", "trailing"),
        (b"\x00\x00\x08\x00", "ndim=0"),
        (b"\x1f\x8bnot gzip at all", "gzip"),
    ],
)
def test_idx_rejects_bad_data(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_idx(raw)


def test_idx_rejects_bad_data_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(_good_raw()[:-2]))
    with pytest.raises(ValueError, match="truncated data") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_idx_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="path_or_bytes"):
        read_idx(12)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x.idx", np.array(3, dtype=np.uint8))


# --------------------------------------------------------------------------------------------------
# MNIST against a local HTTP server
# --------------------------------------------------------------------------------------------------


def _write_fake_mnist(folder: Path) -> dict[str, str]:
    """Small MNIST-like gzip'd IDX files in ``folder``; returns name -> md5."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=N_TRAIN, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=N_TEST, dtype=np.uint8),
    }
    md5s = {}
    for key, array in arrays.items():
        path = write_idx(folder / MNIST_FILES[key][0], array)
        md5s[key] = hashlib.md5(path.read_bytes()).hexdigest()
    return md5s


class _Server(LocalHTTPServer):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.md5s = _write_fake_mnist(folder)
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._serve(partial(Handler, directory=str(folder)))


@pytest.fixture
def server(tmp_path: Path):
    srv = _Server(tmp_path / "served")
    yield srv
    srv.close()


def _dead_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/"


def _assert_fake_mnist(data: ImageDataset) -> None:
    assert data.name == "mnist"
    assert data.x_train.shape == (N_TRAIN, 1, 28, 28) and data.x_test.shape == (N_TEST, 1, 28, 28)
    assert data.x_train.dtype == torch.float32 and data.y_test.dtype == torch.int64
    assert data.x_train.min() >= 0 and data.x_train.max() <= 1
    assert data.image_shape == (1, 28, 28)


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_download_good_files_then_cache(server: _Server, tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    _assert_fake_mnist(data)
    assert _names(root) == {fname for fname, _ in MNIST_FILES.values()}
    assert len(server.requests) == 4
    assert mnist_cached(root, md5s=server.md5s)
    again = load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    assert len(server.requests) == 4  # served from the cache
    assert torch.equal(again.x_train, data.x_train)
    offline = load_mnist(root, download=False, md5s=server.md5s)  # no mirror needed
    assert torch.equal(offline.y_test, data.y_test)


def test_corrupted_cached_file_is_refetched(server: _Server, tmp_path: Path) -> None:
    root = tmp_path / "root"
    load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    target = root / MNIST_FILES["test_labels"][0]
    target.write_bytes(b"garbage, half a download")
    assert not mnist_cached(root, md5s=server.md5s)
    data = load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    _assert_fake_mnist(data)
    assert server.requests[4:] == ["/" + target.name]
    assert hashlib.md5(target.read_bytes()).hexdigest() == server.md5s["test_labels"]


def test_corrupted_cached_file_offline_is_not_used(server: _Server, tmp_path: Path) -> None:
    root = tmp_path / "root"
    load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    (root / MNIST_FILES["train_images"][0]).write_bytes(b"\x1f\x8b broken")
    with pytest.raises(FileNotFoundError, match="corrupt"):
        load_mnist(root, download=False, md5s=server.md5s)


def test_server_serves_wrong_bytes(server: _Server, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (server.folder / MNIST_FILES["train_images"][0]).write_bytes(b"not what the md5 promised")
    with pytest.raises(DownloadError, match="MD5 mismatch") as info:
        load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    assert server.url + MNIST_FILES["train_images"][0] in str(info.value)
    assert _names(root) == set()  # neither the final file nor a .part


def test_first_mirror_down_second_good(server: _Server, tmp_path: Path) -> None:
    root = tmp_path / "root"
    data = load_mnist(root, mirrors=[_dead_url(), server.url + "missing/", server.url], md5s=server.md5s, timeout=2)
    _assert_fake_mnist(data)
    assert not any(name.endswith(".part") for name in _names(root))


def test_all_mirrors_down_fails_fast(tmp_path: Path) -> None:
    root = tmp_path / "root"
    dead = [_dead_url(), _dead_url()]
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        load_mnist(root, mirrors=dead, timeout=2)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert all(url + MNIST_FILES["train_images"][0] in message for url in dead)
    assert isinstance(info.value, OSError)
    assert _names(root) == set()


class _TrickleServer(LocalHTTPServer):
    """Answers every request with a large Content-Length, then one byte every 20 ms: never a read timeout, never done."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        stop = self.stop

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(10**6))
                self.end_headers()
                try:
                    while not stop.wait(0.02):
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                except OSError:  # the client gave up and closed the connection
                    pass
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._serve(Handler)

    def _release(self) -> None:
        self.stop.set()


def test_a_server_that_trickles_bytes_meets_the_deadline(tmp_path: Path) -> None:
    """Each read gets a byte well within ``timeout``, so only the total ``deadline`` can end the download."""
    trickle = _TrickleServer()
    root = tmp_path / "root"
    try:
        start = time.monotonic()
        with pytest.raises(DownloadError, match="deadline of 1 s passed") as info:
            load_mnist(root, mirrors=[trickle.url], timeout=2, deadline=1)
        elapsed = time.monotonic() - start
    finally:
        trickle.close()
    assert 1 <= elapsed < 4, elapsed
    assert trickle.url + MNIST_FILES["train_images"][0] in str(info.value)
    assert "of 1000000 bytes" in str(info.value)
    assert _names(root) == set()  # no partial file left behind


def test_missing_files_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "empty"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(root, download=False)
    message = str(info.value)
    assert MNIST_FILES["train_images"][0] in message and str(root) in message
    assert "download=True" in message and "MMO_DATA" in message and "https://" in message
    monkeypatch.setenv("MMO_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="MMO_OFFLINE"):
        load_mnist(root, mirrors=[_dead_url()])
    assert not root.exists()


@pytest.mark.parametrize("mirror", ["file:///etc/", "ftp://example.org/mnist/", "http://", "example.org/mnist"])
def test_non_http_mirror_is_rejected(tmp_path: Path, mirror: str) -> None:
    with pytest.raises(ValueError, match="mirrors"):
        load_mnist(tmp_path, mirrors=[mirror])


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="mirrors"):
        load_mnist(tmp_path, mirrors="http://127.0.0.1/")
    with pytest.raises(ValueError, match="md5s"):
        load_mnist(tmp_path, md5s={"train": "0" * 32})
    with pytest.raises(ValueError, match="timeout"):
        load_mnist(tmp_path, timeout=0)
    with pytest.raises(ValueError, match="deadline"):
        load_mnist(tmp_path, deadline=-1.0)
    with pytest.raises(TypeError, match="deadline"):
        load_mnist(tmp_path, deadline="60")
    with pytest.raises(ValueError, match="prefer"):
        load_image_dataset("cifar")


def test_unwritable_cache_names_the_folder(server: _Server, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    root = blocker / "mnist"
    with pytest.raises(OSError, match="cache folder") as info:
        load_mnist(root, mirrors=[server.url], md5s=server.md5s, timeout=2)
    assert str(root) in str(info.value)


def test_wrong_shapes_are_rejected(tmp_path: Path) -> None:
    root = tmp_path / "root"
    md5s = _write_fake_mnist(root)
    path = write_idx(root / MNIST_FILES["test_labels"][0], np.zeros(N_TEST + 1, dtype=np.uint8))
    md5s["test_labels"] = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="same N"):
        load_mnist(root, download=False, md5s=md5s)


# --------------------------------------------------------------------------------------------------
# load_image_dataset
# --------------------------------------------------------------------------------------------------


def test_smoke_budget_falls_back_to_digits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MMO_BUDGET", "smoke")
    monkeypatch.setenv("MMO_DATA", str(tmp_path))
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (_dead_url(),))  # never used: smoke never downloads
    data = load_image_dataset()
    assert data.name == "digits"
    out = capsys.readouterr().out
    assert "digits" in out and "smoke" in out and str(tmp_path / "mnist") in out
    assert out.strip() == data.source
    assert not (tmp_path / "mnist").exists()


def test_offline_and_download_false_fall_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_image_dataset(download=False).name == "digits"
    assert "download=False" in capsys.readouterr().out
    monkeypatch.setenv("MMO_OFFLINE", "1")
    data = load_image_dataset(download=True, verbose=False)
    assert data.name == "digits" and "MMO_OFFLINE" in data.source
    assert capsys.readouterr().out == ""
    assert load_image_dataset("digits", verbose=False).name == "digits"


def test_failed_download_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (_dead_url(),))
    data = load_image_dataset(verbose=False)
    assert data.name == "digits" and "download failed" in data.source


def test_cached_mnist_is_used(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MMO_BUDGET", "smoke")
    monkeypatch.setenv("MMO_DATA", str(tmp_path / "data"))
    _write_fake_mnist(tmp_path / "data" / "mnist")
    fake = {key: (fname, server.md5s[key]) for key, (fname, _) in MNIST_FILES.items()}
    monkeypatch.setattr(mnist, "MNIST_FILES", fake)
    data = load_image_dataset()
    _assert_fake_mnist(data)
    assert "cache" in capsys.readouterr().out and "cache" in data.source


def test_mnist_downloaded_when_allowed(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (server.url,))
    fake = {key: (fname, server.md5s[key]) for key, (fname, _) in MNIST_FILES.items()}
    monkeypatch.setattr(mnist, "MNIST_FILES", fake)
    root = tmp_path / "r"
    data = load_image_dataset(root=root)
    _assert_fake_mnist(data)
    assert "downloaded" in capsys.readouterr().out
    assert len(server.requests) == 4 and mnist_cached(root)


def test_random_shift_moves_the_whole_batch_by_one_offset_within_bounds():
    from mmobjectives.data import random_shift

    x = torch.zeros(3, 1, 8, 8)
    x[:, 0, 4, 4] = 1.0
    seen = set()
    for seed in range(30):
        y = random_shift(x, 1, generator=torch.Generator().manual_seed(seed))
        positions = {tuple(p[2:].tolist()) for p in y.nonzero()}
        assert len(positions) == 1  # the same shift for every image of the batch
        (row, col) = positions.pop()
        assert abs(row - 4) <= 1 and abs(col - 4) <= 1
        seen.add((row, col))
    assert len(seen) > 3  # the offsets do vary
    assert random_shift(x, 0) is x
    with pytest.raises(ValueError, match="images"):
        random_shift(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(x, 8)
