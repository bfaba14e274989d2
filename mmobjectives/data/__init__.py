"""Data with known answers: toy 2-D mixtures, digit images (offline) and MNIST (downloaded, checksummed, cached).

Every generator of randomness takes ``generator=`` so a notebook cell is reproducible on its own.
"""

from .captions import (
    AttributeThresholds,
    PairedDigits,
    Tokenizer,
    caption_for,
    class_caption,
    describe_attributes,
    measure_attributes,
    paired_digits,
    parse_caption,
    sample_captions,
)
from .classes import GaussianClasses
from .correlated import correlated_gaussians, gaussian_log_ratio, gaussian_log_ratio_features, gaussian_mi, rho_for_mi
from .images import (
    MNIST_FILES,
    MNIST_MIRRORS,
    DownloadError,
    ImageDataset,
    load_digits,
    load_image_dataset,
    load_mnist,
    random_shift,
    read_idx,
    write_idx,
)
from .markov import MarkovSource
from .questions import DigitQuestions, digit_questions
from .tokens import MARKERS, ImageTokenizer, MultimodalVocabulary
from .toy2d import GaussianMixture, checkerboard, ring, swiss_roll, two_modes, two_moons

__all__ = [
    "AttributeThresholds",
    "PairedDigits",
    "Tokenizer",
    "caption_for",
    "class_caption",
    "describe_attributes",
    "measure_attributes",
    "paired_digits",
    "parse_caption",
    "sample_captions",
    "MarkovSource",
    "MARKERS",
    "ImageTokenizer",
    "MultimodalVocabulary",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "DownloadError",
    "DigitQuestions",
    "GaussianClasses",
    "GaussianMixture",
    "ImageDataset",
    "checkerboard",
    "correlated_gaussians",
    "digit_questions",
    "gaussian_log_ratio",
    "gaussian_log_ratio_features",
    "gaussian_mi",
    "load_digits",
    "load_image_dataset",
    "load_mnist",
    "random_shift",
    "read_idx",
    "rho_for_mi",
    "ring",
    "swiss_roll",
    "two_modes",
    "two_moons",
    "write_idx",
]
