"""Data with known answers: toy 2-D mixtures, digit images (offline) and MNIST (downloaded, checksummed, cached).

Every generator of randomness takes ``generator=`` so a notebook cell is reproducible on its own.
"""

from .attributes import AttributeThresholds, describe_attributes, measure_attributes
from .captions import caption_for, class_caption, parse_caption
from .classes import GaussianClasses
from .correlated import correlated_gaussians, gaussian_log_ratio, gaussian_log_ratio_features, gaussian_mi, rho_for_mi
from .idx import read_idx, write_idx
from .image_dataset import ImageDataset
from .images import load_digits, load_image_dataset, random_shift
from .markov import MarkovSource
from .mnist import MNIST_FILES, MNIST_MIRRORS, DownloadError, load_mnist
from .paired import PairedDigits, paired_digits, sample_captions
from .questions import DigitQuestions, digit_questions
from .tokenizer import Tokenizer
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
