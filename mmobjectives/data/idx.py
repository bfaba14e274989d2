"""The IDX file format of the original MNIST files: a small, validated reader and writer.

``read_idx`` parses what ``mnist.load_mnist`` downloads (notebooks 00 and 02); ``write_idx`` is its inverse, used
by the tests to build small MNIST-like fixtures. Gzip-compressed files are recognised by their magic bytes.
"""

from __future__ import annotations

import gzip
import math
import os
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Union

import numpy as np

__all__ = ["read_idx", "write_idx"]

PathLike = Union[str, "os.PathLike[str]"]

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
