"""Data with known answers: toy 2-D mixtures, digit images (offline) and MNIST (downloaded, checksummed, cached).

Every generator of randomness takes ``generator=`` so a notebook cell is reproducible on its own.
"""

from .images import (
    MNIST_FILES,
    MNIST_MIRRORS,
    DownloadError,
    ImageDataset,
    load_digits,
    load_image_dataset,
    load_mnist,
    read_idx,
    write_idx,
)
from .toy2d import GaussianMixture, checkerboard, ring, swiss_roll, two_modes, two_moons

__all__ = [
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "DownloadError",
    "GaussianMixture",
    "ImageDataset",
    "checkerboard",
    "load_digits",
    "load_image_dataset",
    "load_mnist",
    "read_idx",
    "ring",
    "swiss_roll",
    "two_modes",
    "two_moons",
    "write_idx",
]
