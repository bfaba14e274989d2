"""Small image datasets for the classification notebooks: scikit-learn's digits (offline) and MNIST (cached).

Notebook 00 and notebook 02 start with one call::

    from mmobjectives.data import load_image_dataset
    data = load_image_dataset()          # MNIST if cached or downloadable, else the 8×8 digits
    print(data.describe())

and never branch on which dataset they got: both are ``ImageDataset``s of 10-class, single-channel images in
``[0, 1]``.

* ``load_digits`` needs no network: scikit-learn ships its 1797 8×8 digits.
* ``mnist.load_mnist`` reads the four original MNIST files from the cache folder (``MMO_DATA``), downloading
  missing ones with checksums; ``load_image_dataset`` decides whether it may.
* ``random_shift`` is the data augmentation notebook 02 trains its digit classifier with.

This module reads no environment variable itself: ``mmobjectives.config`` does (data folder, offline mode,
budget).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from mmobjectives import config

from .._checks import check_int
from .idx import PathLike
from .image_dataset import ImageDataset
from .mnist import _check_bool, _check_root, load_mnist, mnist_cached

__all__ = [
    "ImageDataset",
    "load_digits",
    "load_image_dataset",
    "random_shift",
]


def _check_int_range(value: object, name: str, low: int, high: int) -> int:
    """An int (not a bool) in ``[low, high)``."""
    number = check_int(value, name)
    if not low <= number < high:
        raise ValueError(f"{name} must be in [{low}, {high}), got {number}")
    return number


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
    seed = _check_int_range(seed, "seed", 0, 2**32)

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
    max_shift = _check_int_range(max_shift, "max_shift", 0, min(images.shape[-2:]) - 1)
    if max_shift == 0:
        return images
    dy, dx = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
    return torch.roll(images, shifts=(dy, dx), dims=(2, 3))
