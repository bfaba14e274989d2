"""Small image datasets for the classification notebooks: scikit-learn's digits (offline) and MNIST (cached).

Notebook 00 and notebook 02 start with one call::

    from mmobjectives.data.images import load_image_dataset
    data = load_image_dataset()          # MNIST if cached or downloadable, else the 8×8 digits
    print(data.describe())

and never branch on which dataset they got: both are 10-class, single-channel images in ``[0, 1]``.

* ``load_digits`` needs no network: scikit-learn ships its 1797 8×8 digits.
* ``load_mnist`` reads the four original MNIST IDX files from the cache folder (``MMO_DATA``), downloading
  missing ones from well-known mirrors, checking each file's MD5 and writing it atomically, so a broken
  download never leaves a partial file in the cache.
* ``read_idx`` / ``write_idx`` are a small, validated parser and writer of the IDX format the MNIST files use.

This module reads no environment variable itself: ``mmobjectives.config`` does (data folder, offline mode,
budget).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import math
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Union

import numpy as np
import torch

from mmobjectives import config

__all__ = [
    "DownloadError",
    "ImageDataset",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "load_digits",
    "load_image_dataset",
    "load_mnist",
    "mnist_cached",
    "random_shift",
    "read_idx",
    "write_idx",
]

PathLike = Union[str, "os.PathLike[str]"]

DATASET_NAMES: tuple[str, ...] = ("digits", "mnist")
_ORIGIN = {
    "digits": "from scikit-learn (offline)",
    "mnist": "from the original MNIST IDX files",
}

# --------------------------------------------------------------------------------------------------
# The dataset container
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class ImageDataset:
    """A fixed train/test split of 10-class, single-channel images (used by notebooks 00 and 02).

    ``x_train``/``x_test`` are float32 tensors in ``[0, 1]`` shaped ``(N, 1, H, W)``; ``y_train``/``y_test``
    are int64 class labels in ``0..9``. ``name`` is ``"digits"`` or ``"mnist"``; ``source`` is a sentence
    saying where the images came from (and, from ``load_image_dataset``, why this dataset was chosen).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    source: str

    n_classes: ClassVar[int] = 10

    def __post_init__(self) -> None:
        if self.name not in DATASET_NAMES:
            raise ValueError(f"name must be one of {DATASET_NAMES}, got {self.name!r}")
        if not isinstance(self.source, str):
            raise TypeError(f"source must be a str, got {type(self.source).__name__}")
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
                raise TypeError(
                    f"x_{split} and y_{split} must be torch tensors, got {type(x).__name__} and {type(y).__name__}"
                )
            if x.dtype != torch.float32 or x.dim() != 4:
                raise ValueError(
                    f"x_{split} must be a float32 tensor shaped (N, C, H, W), got {x.dtype} {tuple(x.shape)}"
                )
            if y.dtype != torch.int64 or y.dim() != 1:
                raise ValueError(f"y_{split} must be a 1-D int64 tensor, got {y.dtype} {tuple(y.shape)}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"x_{split} and y_{split} must hold the same number of examples, "
                    f"got {x.shape[0]} images and {y.shape[0]} labels"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                "x_train and x_test must have the same image shape, "
                f"got {tuple(self.x_train.shape[1:])} and {tuple(self.x_test.shape[1:])}"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image: ``(1, 8, 8)`` for digits, ``(1, 28, 28)`` for MNIST."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    def describe(self) -> str:
        """One line, e.g. ``digits: 1437 train / 360 test images of 1×8×8, from scikit-learn (offline)``."""
        shape = "×".join(str(d) for d in self.image_shape)
        return (
            f"{self.name}: {len(self.y_train)} train / {len(self.y_test)} test images of {shape}, {_ORIGIN[self.name]}"
        )

    def __repr__(self) -> str:
        return f"ImageDataset({self.describe()})"


# --------------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= int(value) < high:
        raise ValueError(f"{name} must be in [{low}, {high}), got {value}")
    return int(value)


def _check_positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return float(value)


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


# --------------------------------------------------------------------------------------------------
# scikit-learn digits
# --------------------------------------------------------------------------------------------------


def load_digits(*, test_fraction: float = 0.2, seed: int = 0) -> ImageDataset:
    """scikit-learn's 1797 real handwritten 8×8 digits as an ``ImageDataset`` (notebooks 00 and 02; offline).

    Images are float32 in ``[0, 1]`` (the 0..16 grey levels divided by 16) shaped ``(N, 1, 8, 8)``; labels are
    int64. The split is fixed and stratified::

        sklearn.model_selection.train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)

    so every class keeps its share in both halves and the same ``seed`` always gives the same split. The
    default ``test_fraction=0.2`` gives 1437 train / 360 test images.
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.floating)):
        raise TypeError(f"test_fraction must be a float in (0, 1), got {type(test_fraction).__name__}")
    seed = _check_int("seed", seed, 0, 2**32)

    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = _sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0)
    labels = np.asarray(bunch.target, dtype=np.int64)
    n, n_classes = len(labels), len(np.unique(labels))
    fraction = float(test_fraction)
    n_test = math.ceil(fraction * n) if 0.0 < fraction < 1.0 else 0
    if not (0.0 < fraction < 1.0) or n_test < n_classes or n - n_test < n_classes:
        raise ValueError(
            f"test_fraction must be in (0, 1) and leave at least {n_classes} images (one per class) on "
            f"each side of the stratified split of {n} digits, i.e. about {n_classes / n:.4f} to "
            f"{1 - n_classes / n:.4f}; got {test_fraction!r}"
        )
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=fraction, stratify=labels, random_state=seed
    )
    return ImageDataset(
        x_train=torch.from_numpy(np.ascontiguousarray(x_train)).unsqueeze(1),
        y_train=torch.from_numpy(np.ascontiguousarray(y_train)),
        x_test=torch.from_numpy(np.ascontiguousarray(x_test)).unsqueeze(1),
        y_test=torch.from_numpy(np.ascontiguousarray(y_test)),
        name="digits",
        source=(
            "scikit-learn's bundled handwritten digits (UCI, 8×8, offline), "
            f"stratified split with test_fraction={fraction} and seed={seed}"
        ),
    )


# --------------------------------------------------------------------------------------------------
# The IDX format
# --------------------------------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type byte -> big-endian numpy dtype.
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES: dict[tuple[str, int], int] = {(dt.kind, dt.itemsize): code for code, dt in _IDX_TYPES.items()}


def _read_bytes(path_or_bytes: PathLike | bytes | bytearray | memoryview) -> tuple[bytes, str]:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes), "IDX data"
    if isinstance(path_or_bytes, (str, os.PathLike)):
        path = Path(path_or_bytes)
        return path.read_bytes(), f"IDX file {path}"
    raise TypeError(f"path_or_bytes must be a path (str or os.PathLike) or bytes, got {type(path_or_bytes).__name__}")


def read_idx(path_or_bytes: PathLike | bytes | bytearray | memoryview) -> np.ndarray:
    """Parse an IDX file (the MNIST format), gzip-compressed or plain, into a native-endian numpy array.

    Used by ``load_mnist`` (notebooks 00 and 02). The layout is: two zero bytes, a type byte (``0x08`` uint8,
    ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of
    dimensions, that many big-endian uint32 sizes, then the values, big-endian, in C order. Gzip input is
    recognised by its magic bytes ``1f 8b``. A bad magic number, an unknown type byte, a truncated file or
    trailing bytes raise ``ValueError``.
    """
    raw, what = _read_bytes(path_or_bytes)
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{what}: starts like gzip (1f 8b) but cannot be decompressed: {err}") from err
        what += " (gzip)"
    if len(raw) < 4:
        raise ValueError(f"{what}: truncated header, expected at least 4 bytes, got {len(raw)}")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{what}: bad magic number, expected the first two bytes 00 00, got {raw[:2].hex(' ')}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_TYPES)
        raise ValueError(f"{what}: unknown type byte, expected one of {known}, got 0x{code:02X}")
    if ndim == 0:
        raise ValueError(f"{what}: expected at least one dimension, got ndim=0")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{what}: truncated header, expected {header} bytes for {ndim} dimensions, got {len(raw)}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    got = len(raw) - header
    if got < expected:
        raise ValueError(
            f"{what}: truncated data, the header says shape {dims} of {dtype.name} ({expected} bytes), "
            f"but only {got} bytes follow"
        )
    if got > expected:
        raise ValueError(
            f"{what}: {got - expected} trailing bytes after the data, the header says shape {dims} of "
            f"{dtype.name} ({expected} bytes) but {got} bytes follow"
        )
    data = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=header)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def _atomic_write(path: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` via a temp file in the same folder, then ``os.replace`` it into place."""
    tmp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False)
    try:
        with tmp:
            for chunk in chunks:
                tmp.write(chunk)
        os.replace(tmp.name, path)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise


def write_idx(path: PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends with ``.gz``), atomically.

    The inverse of ``read_idx``; used by the tests and to build small MNIST-like fixtures. Supported dtypes:
    uint8, int8, int16, int32, float32, float64, with 1 to 255 dimensions, each below 2**32. Gzip output uses
    ``mtime=0``, so the same array always gives the same bytes (and the same MD5). Returns the path written.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a numpy.ndarray, got {type(array).__name__}")
    code = _IDX_CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        supported = ", ".join(dt.name for dt in _IDX_TYPES.values())
        raise TypeError(f"array must have one of the IDX dtypes ({supported}), got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array must have 1 to 255 dimensions, got {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"array dimensions must each be below 2**32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=_IDX_TYPES[code]).tobytes()
    out = Path(path)
    if out.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    _atomic_write(out, [payload])
    return out


# --------------------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------------------

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


class DownloadError(OSError):
    """Every mirror failed for one MNIST file; the message lists each URL tried and its error."""


class _CacheWriteError(OSError):
    """The cache folder cannot be written: no point trying the next mirror."""


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


def _fetch(url: str, path: Path, md5: str, timeout: float) -> bytes:
    """Stream ``url`` into a temp file beside ``path``; move it into place if the MD5 matches, else delete."""
    try:
        tmp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False)
    except OSError as err:
        raise _cache_write_error(path.parent, err) from err
    try:
        digest = hashlib.md5(usedforsecurity=False)
        chunks = []
        # The scheme was checked to be http or https in _check_mirrors, so no file:// or custom scheme.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            announced = response.headers.get("Content-Length", "")
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                chunks.append(chunk)
                try:
                    tmp.write(chunk)
                except OSError as err:  # a full disk: not the mirror's fault, so no point trying the next one
                    raise _cache_write_error(path.parent, err) from err
        received = sum(len(chunk) for chunk in chunks)
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


def _download(fname: str, path: Path, md5: str, mirrors: tuple[str, ...], timeout: float) -> bytes:
    """Try each mirror in order; raise ``DownloadError`` listing every URL and its error when all fail."""
    errors = []
    for base in mirrors:
        url = base + fname
        try:
            return _fetch(url, path, md5, timeout)
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
) -> ImageDataset:
    """MNIST with its own 60000/10000 train/test split, from the cache folder ``root`` (notebooks 00 and 02).

    ``root`` defaults to ``config.data_dir() / "mnist"`` (set ``MMO_DATA`` to move it). A cached file is used
    only when its MD5 matches; a corrupted or partial one is deleted and fetched again. Missing files are
    downloaded with ``urllib`` from ``mirrors`` (default ``MNIST_MIRRORS``; http/https only), in order, each
    streamed into a ``.part`` temp file in ``root`` and moved into place only after its MD5 checks out, so the
    cache never holds a partial file. ``md5s`` overrides expected checksums (name -> MD5, names as in
    ``MNIST_FILES``).

    Raises ``FileNotFoundError`` when a file is missing and ``download`` is False or ``MMO_OFFLINE`` is set,
    ``DownloadError`` (an ``OSError``) when every mirror fails, ``OSError`` naming the folder when the cache
    cannot be written, and ``ValueError`` for bad arguments or files that do not hold MNIST-shaped arrays.
    Images are float32 in ``[0, 1]`` shaped ``(N, 1, 28, 28)``; labels are int64.
    """
    folder = _check_root(root)
    download = _check_bool("download", download)
    mirror_urls = _check_mirrors(mirrors)
    files = _check_md5s(md5s)
    timeout = _check_positive_float("timeout", timeout)

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
            raw[key] = _download(fname, path, md5, mirror_urls, timeout)

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


# --------------------------------------------------------------------------------------------------
# The one call notebooks use
# --------------------------------------------------------------------------------------------------

_DIGITS_USED = "Using scikit-learn digits (8×8, offline)"


def load_image_dataset(
    prefer: str = "mnist",
    *,
    root: PathLike | None = None,
    download: bool | None = None,
    verbose: bool = True,
) -> ImageDataset:
    """MNIST when it is cached or may be downloaded, else scikit-learn's digits (notebooks 00 and 02).

    ``prefer="digits"`` always gives the offline digits. ``prefer="mnist"`` uses MNIST when its four files are
    already cached in ``root`` (default ``config.data_dir() / "mnist"``) with valid MD5s; otherwise, if
    downloads are allowed, tries ``load_mnist`` and falls back to the digits on any ``OSError``; otherwise
    uses the digits. ``download=None`` allows downloads unless ``MMO_OFFLINE`` is set or the budget is
    ``smoke`` (CI never touches the network, so it stays fast and deterministic); ``download=True`` allows
    them in the smoke budget too, but ``MMO_OFFLINE`` always wins. The returned ``source`` says which dataset
    was used and why; with ``verbose`` that sentence is also printed.
    """
    if prefer not in ("mnist", "digits"):
        raise ValueError(f"prefer must be 'mnist' or 'digits', got {prefer!r}")
    if download is not None:
        download = _check_bool("download", download)
    verbose = _check_bool("verbose", verbose)
    folder = _check_root(root)

    if prefer == "digits":
        data = load_digits()
        sentence = f"{_DIGITS_USED}: prefer='digits'."
    elif mnist_cached(folder):
        data = load_mnist(folder, download=False)
        sentence = f"Using MNIST (28×28): found in the cache {folder}."
    else:
        if config.offline():
            allowed, why = False, "downloads are off (MMO_OFFLINE is set)"
        elif download is False:
            allowed, why = False, "download=False"
        elif download is None and config.budget().is_smoke:
            allowed, why = False, "downloads are off in the smoke budget"
        else:
            allowed, why = True, ""
        if allowed:
            try:
                data = load_mnist(folder, download=True)
                sentence = f"Using MNIST (28×28): downloaded into {folder}."
            except OSError as err:
                data = load_digits()
                sentence = f"{_DIGITS_USED}: MNIST not cached in {folder} and the download failed ({err})."
        else:
            data = load_digits()
            sentence = f"{_DIGITS_USED}: MNIST not cached in {folder} and {why}."

    if verbose:
        print(sentence)
    return replace(data, source=sentence)


def random_shift(images: torch.Tensor, max_shift: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Data augmentation: roll a batch of images (N, C, H, W) by one random offset in
    ``[-max_shift, max_shift]`` pixels along each axis (the digits' borders are blank, so rolling is a shift).
    Notebook 02 uses it to train a digit classifier that generalises past the 1,437 training digits.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(
            f"images must be a (N, C, H, W) tensor, got {type(images).__name__} of shape "
            f"{tuple(getattr(images, 'shape', ()))}"
        )
    max_shift = _check_int("max_shift", max_shift, 0, min(images.shape[-2:]) - 1)
    if max_shift == 0:
        return images
    dy, dx = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
    return torch.roll(images, shifts=(dy, dx), dims=(2, 3))
