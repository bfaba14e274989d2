"""MNIST from its four original IDX files: downloaded from mirrors, checked against their MD5s, cached.

Notebooks 00 and 02 get it through ``images.load_image_dataset``, which falls back to the offline digits when
MNIST is neither cached nor downloadable. ``load_mnist`` reads the files from the cache folder (``MMO_DATA``),
downloading missing ones from well-known mirrors: each file is streamed into a ``.part`` temp file and moved into
place only once its MD5 checks out, so a broken download never leaves a partial file in the cache. Every read
has a ``timeout`` and every file a total ``deadline``, so a dead, silent or trickling server never hangs a
notebook.

This module reads no environment variable itself: ``mmobjectives.config`` does (data folder, offline mode).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch

from mmobjectives import config

from .._checks import check_positive
from .idx import PathLike, read_idx
from .image_dataset import ImageDataset

__all__ = [
    "DownloadError",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "load_mnist",
    "mnist_cached",
]

#: name -> (file name, MD5) of the four original MNIST files.
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}

#: Base URLs tried in order (the mirrors torchvision uses; yann.lecun.com no longer serves them reliably).
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_CHUNK = 1 << 20
_DEFAULT_DEADLINE = 300.0  # s per file and mirror: MNIST's largest file (9.9 MB) at 35 kB/s still makes it


class DownloadError(OSError):
    """Every mirror failed for one MNIST file; the message lists each URL tried and its error."""


class _CacheWriteError(OSError):
    """The cache folder cannot be written: no point trying the next mirror."""


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _cache_write_error(folder: Path, err: OSError) -> _CacheWriteError:
    """The error for a cache folder that cannot take a file (read-only, no permission, disk full)."""
    return _CacheWriteError(
        f"cannot write to the MNIST cache folder {folder}: {err}. "
        "Make it writable (or free some space), or point MMO_DATA (or root=) at another folder."
    )


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _default_root() -> Path:
    return config.data_dir() / "mnist"


def _check_root(root: PathLike | None) -> Path:
    if root is None:
        return _default_root()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or os.PathLike) or None, got {type(root).__name__}")
    return Path(root).expanduser()


def _check_md5s(md5s: Mapping[str, str] | None) -> dict[str, tuple[str, str]]:
    """``MNIST_FILES`` (read now, so tests may patch it) with the checksums in ``md5s`` swapped in."""
    files = dict(MNIST_FILES)
    if md5s is None:
        return files
    if not isinstance(md5s, Mapping):
        raise TypeError(f"md5s must be a mapping of file name to MD5 or None, got {type(md5s).__name__}")
    for key, value in md5s.items():
        if key not in files:
            raise ValueError(f"md5s keys must be among {sorted(files)}, got {key!r}")
        if not (isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value.lower())):
            raise ValueError(f"md5s[{key!r}] must be 32 hexadecimal characters, got {value!r}")
        files[key] = (files[key][0], value.lower())
    return files


def _check_mirrors(mirrors: Iterable[str] | None) -> tuple[str, ...]:
    """Validated base URLs ending with ``/``; only http and https are allowed."""
    if mirrors is None:
        mirrors = MNIST_MIRRORS
    if isinstance(mirrors, (str, bytes)) or not isinstance(mirrors, Iterable):
        raise TypeError(f"mirrors must be a list or tuple of base URLs, got {type(mirrors).__name__}")
    checked = []
    for url in mirrors:
        if not isinstance(url, str):
            raise TypeError(f"mirrors must hold URL strings, got {type(url).__name__}")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"mirrors must be http:// or https:// base URLs, got {url!r}")
        checked.append(url if url.endswith("/") else url + "/")
    if not checked:
        raise ValueError("mirrors must name at least one base URL, got an empty sequence")
    return tuple(checked)


def _valid_cached(path: Path, md5: str) -> bytes | None:
    """The file's bytes when it exists and its MD5 matches, else None."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise OSError(f"cannot read the MNIST cache file {path}: {err}") from err
    return data if _md5(data) == md5 else None


def mnist_cached(root: PathLike | None = None, *, md5s: Mapping[str, str] | None = None) -> bool:
    """True when the four MNIST files are in ``root`` (default ``config.data_dir() / "mnist"``), MD5s valid.

    ``load_image_dataset`` (notebooks 00 and 02) uses it to pick MNIST without touching the network.
    """
    folder = _check_root(root)
    return all(_valid_cached(folder / fname, md5) is not None for fname, md5 in _check_md5s(md5s).values())


def _fetch(url: str, path: Path, md5: str, timeout: float, deadline: float) -> bytes:
    """Stream ``url`` into a temp file beside ``path``; move it into place if the MD5 matches, else delete.

    ``timeout`` bounds each read; ``deadline`` the whole download, checked after each read (``read1`` returns what
    has arrived, so a server that trickles bytes is stopped at most ``timeout`` seconds after the deadline)."""
    give_up_at = time.monotonic() + deadline
    try:
        tmp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False)
    except OSError as err:
        raise _cache_write_error(path.parent, err) from err
    try:
        digest = hashlib.md5(usedforsecurity=False)
        chunks, received = [], 0
        # The scheme was checked to be http or https in _check_mirrors, so no file:// or custom scheme.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            announced = response.headers.get("Content-Length", "")
            while chunk := response.read1(_CHUNK):
                digest.update(chunk)
                chunks.append(chunk)
                received += len(chunk)
                try:
                    tmp.write(chunk)
                except OSError as err:  # a full disk: not the mirror's fault, so no point trying the next one
                    raise _cache_write_error(path.parent, err) from err
                if time.monotonic() > give_up_at:
                    of = f" of {int(announced)}" if announced.isdigit() else ""
                    raise TimeoutError(
                        f"the download deadline of {deadline:g} s passed after {received}{of} bytes; "
                        "for a slow connection pass a larger deadline="
                    )
        if announced.isdigit() and received != int(announced):  # http.client returns a cut body without a word
            raise ConnectionError(
                f"download interrupted: the connection closed after {received} of {int(announced)} bytes"
            )
        try:
            tmp.close()  # flushes: a full disk often shows only here, when the buffered bytes reach the file
        except OSError as err:
            raise _cache_write_error(path.parent, err) from err
        data = b"".join(chunks)
        if digest.hexdigest() != md5:
            raise ValueError(f"MD5 mismatch: expected {md5}, got {digest.hexdigest()} ({len(data)} bytes)")
        try:
            os.replace(tmp.name, path)
        except OSError as err:
            raise _cache_write_error(path.parent, err) from err
        return data
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.close()
        Path(tmp.name).unlink(missing_ok=True)
        raise


def _download(fname: str, path: Path, md5: str, mirrors: tuple[str, ...], timeout: float, deadline: float) -> bytes:
    """Try each mirror in order; raise ``DownloadError`` listing every URL and its error when all fail."""
    errors = []
    for base in mirrors:
        url = base + fname
        try:
            return _fetch(url, path, md5, timeout, deadline)
        except _CacheWriteError:
            raise
        except (OSError, ValueError, http.client.HTTPException) as err:
            errors.append(f"{url}: {type(err).__name__}: {err}")
    raise DownloadError(f"could not download {fname} into {path.parent}; tried " + "; ".join(errors))


def _to_split(images: np.ndarray, labels: np.ndarray, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check parsed MNIST arrays and turn them into float32 ``(N, 1, 28, 28)`` images and int64 labels."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"MNIST {split} images must be a uint8 array shaped (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"MNIST {split} labels must be a 1-D uint8 array, got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"MNIST {split} images and labels must have the same N, got {len(images)} images and {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"MNIST {split} labels must be in 0..9, got a maximum of {labels.max()}")
    x = torch.from_numpy(images).to(torch.float32).div_(255.0).unsqueeze(1)
    return x, torch.from_numpy(labels).to(torch.int64)


def load_mnist(
    root: PathLike | None = None,
    download: bool = True,
    *,
    mirrors: Iterable[str] | None = None,
    md5s: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    deadline: float = _DEFAULT_DEADLINE,
) -> ImageDataset:
    """MNIST with its own 60000/10000 train/test split, from the cache folder ``root`` (notebooks 00 and 02).

    ``root`` defaults to ``config.data_dir() / "mnist"`` (set ``MMO_DATA`` to move it). A cached file is used
    only when its MD5 matches; a corrupted or partial one is deleted and fetched again. Missing files are
    downloaded with ``urllib`` from ``mirrors`` (default ``MNIST_MIRRORS``; http/https only), in order, each
    streamed into a ``.part`` temp file in ``root`` and moved into place only after its MD5 checks out, so the
    cache never holds a partial file. ``md5s`` overrides expected checksums (name -> MD5, names as in
    ``MNIST_FILES``). ``timeout`` (seconds) bounds each connection attempt and read; ``deadline`` (seconds, default
    300) bounds each file's whole download from one mirror, so a server that trickles bytes cannot hold a
    notebook forever.

    Raises ``FileNotFoundError`` when a file is missing and ``download`` is False or ``MMO_OFFLINE`` is set,
    ``DownloadError`` (an ``OSError``) when every mirror fails (a refused connection, a read timeout, a passed
    deadline, a wrong MD5), ``OSError`` naming the folder when the cache
    cannot be written, and ``ValueError`` for bad arguments or files that do not hold MNIST-shaped arrays.
    Images are float32 in ``[0, 1]`` shaped ``(N, 1, 28, 28)``; labels are int64.
    """
    folder = _check_root(root)
    download = _check_bool("download", download)
    mirror_urls = _check_mirrors(mirrors)
    files = _check_md5s(md5s)
    timeout = check_positive(timeout, "timeout")
    deadline = check_positive(deadline, "deadline")

    is_offline = config.offline()
    raw: dict[str, bytes] = {}
    missing: dict[str, str] = {}
    for key, (fname, md5) in files.items():
        data = _valid_cached(folder / fname, md5)
        if data is not None:
            raw[key] = data
        else:
            missing[key] = "corrupt (MD5 mismatch)" if (folder / fname).exists() else "missing"

    if missing and (not download or is_offline):
        why = "download=False" if not download else "MMO_OFFLINE is set"
        listed = ", ".join(f"{files[k][0]} ({state})" for k, state in missing.items())
        urls = " or ".join(mirror_urls)
        raise FileNotFoundError(
            f"MNIST file(s) not usable in {folder}: {listed}; not downloading because {why}. "
            f"Get them by calling load_mnist(download=True) with MMO_OFFLINE unset, or download them from "
            f"{urls} into {folder} (set MMO_DATA to use another cache folder)."
        )

    if missing:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OSError(
                f"cannot create the MNIST cache folder {folder}: {err}. Point MMO_DATA (or root=) at a writable folder."
            ) from err
        for key in missing:
            fname, md5 = files[key]
            path = folder / fname
            if path.exists():  # corrupt or partial: never use it
                try:
                    path.unlink()
                except OSError as err:
                    raise OSError(
                        f"cannot delete the corrupted MNIST file {path}: {err}. "
                        "Make the cache folder writable, or point MMO_DATA (or root=) at a writable folder."
                    ) from err
            raw[key] = _download(fname, path, md5, mirror_urls, timeout, deadline)

    arrays = {key: read_idx(data) for key, data in raw.items()}
    x_train, y_train = _to_split(arrays["train_images"], arrays["train_labels"], "train")
    x_test, y_test = _to_split(arrays["test_images"], arrays["test_labels"], "test")
    return ImageDataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        name="mnist",
        source=f"MNIST (LeCun, Cortes and Burges; 28×28), its own train/test split, read from {folder}",
    )
