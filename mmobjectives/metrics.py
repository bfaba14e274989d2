r"""Measurements against known optima: MI bounds, embedding geometry, retrieval. Notebook 01 (and later ones).

* :func:`infonce_mi_bound` — :math:`I(X;Y) \ge \log N - \mathcal L_{\text{InfoNCE}}`, never above :math:`\log N`.
* :func:`alignment`, :func:`uniformity` — Wang & Isola (2020)'s two halves of the contrastive objective on the
  hypersphere; :func:`uniformity_optimum` is the value of the uniform distribution on :math:`S^{d-1}`.
* :func:`recall_at_k` — retrieval with the matches on the diagonal of a similarity matrix.
* :func:`energy_distance`, :func:`energy_distance_floor` — two-sample distance of generated samples to the truth
  (notebook 04), and the value two samples of the truth already reach.
* :func:`expected_calibration_error`, :func:`reliability_curve` — calibration (notebook 02).
* :func:`bits_per_token`, :func:`perplexity`, :func:`nll_by_modality` — autoregressive likelihoods (notebook 05).
* :func:`record_quality`, :func:`quality_log` — re-exported from :mod:`mmobjectives.quality`: each notebook records
  its distances to the known optima as it asserts its targets; ``make bench`` reads them back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from . import data, losses
from ._checks import check_finite, check_generator, check_int, check_positive, check_real, check_same_device, describe
from .quality import quality_log, record_quality

__all__ = [
    "alignment",
    "bits_per_token",
    "clip_score",
    "energy_distance",
    "energy_distance_floor",
    "expected_calibration_error",
    "fisher_divergence",
    "relative_fisher_divergence",
    "infonce_mi_bound",
    "nll_by_modality",
    "optimal_critic_estimate",
    "perplexity",
    "quality_log",
    "recall_at_k",
    "record_quality",
    "reliability_curve",
    "uniformity",
    "uniformity_optimum",
]


def infonce_mi_bound(loss: float | torch.Tensor, n: int) -> float | torch.Tensor:
    r"""The InfoNCE lower bound on mutual information, :math:`\log n - \mathcal L` (nats).

    It bounds :math:`I(X;Y)` for the *expected* loss over fresh batches of ``n`` pairs,
    :math:`I(X;Y) \ge \log n - \mathbb E[\mathcal L]` (Poole et al. 2019), so pass a loss averaged over many
    batches; one batch's estimate may exceed the true MI. Since :math:`\mathcal L \ge 0`, the estimate can never exceed :math:`\log n` however large the true MI: the
    batch size caps what InfoNCE can certify. Notebook 01, section 2.
    """
    n = check_int(n, "n", minimum=1)
    if isinstance(loss, torch.Tensor):
        check_finite(loss, "loss")
        return math.log(n) - loss
    return math.log(n) - check_real(loss, "loss")


def _check_embeddings(z: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (N, D), got {describe(z)}")
    if z.dim() != 2 or z.shape[0] < 1:
        raise ValueError(f"{name} must be 2-D (N, D) with N >= 1, got shape {tuple(z.shape)}")
    return check_finite(z, name)


def alignment(z_a: torch.Tensor, z_b: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    r"""Alignment of positive pairs, :math:`\mathbb E\,\|a_i - b_i\|^\alpha` (lower = pairs closer)."""
    _check_embeddings(z_a, "z_a")
    _check_embeddings(z_b, "z_b")
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    check_same_device(z_b, "z_b", z_a, "z_a")
    alpha = check_positive(alpha, "alpha")
    return (z_a - z_b).norm(dim=1).pow(alpha).mean()


def uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    r"""Uniformity, :math:`\log \mathbb E_{i<j}\, e^{-t\|z_i - z_j\|^2}` over distinct pairs (lower = more spread).

    Computed as a log-mean-exp over the :math:`N(N-1)/2` pairwise distances, so it never under- or overflows.
    """
    _check_embeddings(z, "z")
    if z.shape[0] < 2:
        raise ValueError(f"z must hold at least 2 embeddings to form a pair, got {z.shape[0]}")
    t = check_positive(t, "t")
    if z.dtype in (torch.float16, torch.bfloat16):  # torch.pdist has no half-precision kernel on the CPU
        z = z.float()
    sq = torch.pdist(z, p=2).pow(2)
    return torch.logsumexp(-t * sq, dim=0) - math.log(sq.numel())


def uniformity_optimum(dim: int, t: float = 2.0, n_grid: int = 20001) -> float:
    r"""Uniformity of the uniform distribution on the unit sphere :math:`S^{d-1}\subset\mathbb R^d` (``dim`` = d).

    For independent uniform :math:`u, v`, :math:`\|u-v\|^2 = 2 - 2c` with :math:`c = \langle u, v\rangle`, whose
    density is :math:`\propto (1-c^2)^{(d-3)/2}` on :math:`[-1, 1]`, so

    .. math::
        \log \mathbb E\, e^{-t\|u-v\|^2} = -2t + \log \frac{\int_{-1}^1 e^{2tc}(1-c^2)^{(d-3)/2}\,dc}
        {\int_{-1}^1 (1-c^2)^{(d-3)/2}\,dc},

    evaluated by quadrature in :math:`c = \cos\theta` (d = 2: :math:`-2t + \log I_0(2t)`; d = 3:
    :math:`-2t + \log\frac{\sinh 2t}{2t}`). It is the lowest uniformity any distribution on the sphere reaches
    as N → ∞ (Wang & Isola 2020). Notebook 01, section 3.
    """
    dim = check_int(dim, "dim", minimum=2)
    t = check_positive(t, "t")
    n_grid = check_int(n_grid, "n_grid", minimum=101)
    # substitute c = cos(theta): dc (1-c^2)^((d-3)/2) = sin(theta)^(d-2) dtheta, smooth on [0, pi]
    theta = np.linspace(0.0, np.pi, n_grid)
    log_w = (dim - 2) * np.log(np.clip(np.sin(theta), 1e-300, None))
    log_w[[0, -1]] = -np.inf if dim > 2 else 0.0
    log_f = 2 * t * np.cos(theta) + log_w
    trap = np.full(n_grid, math.log(1.0))
    trap[[0, -1]] = math.log(0.5)  # trapezoid weights (the common step cancels in the ratio)

    def _lse(values: np.ndarray) -> float:
        top = np.max(values)
        return float(top + np.log(np.sum(np.exp(values - top))))

    return -2 * t + _lse(log_f + trap) - _lse(log_w + trap)


def recall_at_k(similarity: torch.Tensor, k: int = 1) -> float:
    r"""Retrieval recall@k: the fraction of rows whose match (on the diagonal) ranks in the top ``k`` of its row.

    ``similarity[i, j]`` scores query i against candidate j. A tie with the match counts against it (rank = the
    number of candidates scoring *at least* as high, other than the match), so a constant matrix scores 0, not 1.
    For the other retrieval direction pass ``similarity.T``.
    """
    if not isinstance(similarity, torch.Tensor) or not similarity.is_floating_point():
        raise TypeError(f"similarity must be a floating-point (N, N) tensor, got {describe(similarity)}")
    if similarity.dim() != 2 or similarity.shape[0] != similarity.shape[1] or similarity.shape[0] < 1:
        raise ValueError(f"similarity must be a square (N, N) matrix, got shape {tuple(similarity.shape)}")
    check_finite(similarity, "similarity")
    k = check_int(k, "k", minimum=1)
    match = similarity.diagonal()[:, None]
    n = similarity.shape[0]
    ahead = (similarity >= match).sum(dim=1) - 1  # candidates ranked at or above the match, the match excluded
    ahead = ahead.clamp_min(0)
    return int((ahead < k).sum()) / n  # exact hits / N (a float32 mean would round 1/3)


def optimal_critic_estimate(
    mi: float,
    n: int,
    *,
    dim: int = 20,
    n_batches: int = 200,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    chunk_size: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[float, float]:
    r"""The InfoNCE MI estimate :math:`\log n - \mathcal L` of the *optimal* critic on correlated Gaussians.

    The critic is the true log density ratio :math:`\log p(y\mid x)/p(y)` (``data.gaussian_log_ratio``), divided
    by ``temperature`` (1 = optimal). Averaged over ``n_batches`` batches of ``n`` pairs with true MI ``mi`` nats
    in ``dim`` dimensions; returns ``(estimate, standard_error)``. No learned critic can beat it in expectation:
    it is the ceiling of the benchmark, below :math:`\min(I, \log n)`. Notebook 01, section 2.

    ``chunk_size=B`` streams the batch (``losses.info_nce(..., chunk_size=B)`` on the critic written as a dot
    product of features, ``data.gaussian_log_ratio_features``), in float32 on ``device`` (default: CPU): memory
    O(n·B) instead of n², so n = 65,536 fits; the float32 estimate agrees with float64 to about 1e-7 nats.
    """
    mi = check_real(mi, "mi")
    n = check_int(n, "n", minimum=1)
    n_batches = check_int(n_batches, "n_batches", minimum=2)
    temperature = check_positive(temperature, "temperature")
    check_generator(generator)
    rho = data.rho_for_mi(dim, mi)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    values = torch.empty(n_batches, dtype=torch.float64)
    for b in range(n_batches):
        x, y = data.correlated_gaussians(n, dim, rho, generator=generator)
        if chunk_size is None:
            logits = data.gaussian_log_ratio(x, y, rho) / temperature
            values[b] = losses.info_nce_logits(logits, symmetric=False)
        else:
            g, h = (f.to(device=device, dtype=torch.float32) for f in data.gaussian_log_ratio_features(x, y, rho))
            with torch.no_grad():
                values[b] = losses.info_nce(
                    g, h, temperature, symmetric=False, normalize=False, chunk_size=chunk_size
                ).item()
    estimates = math.log(n) - values
    return float(estimates.mean()), float(estimates.std() / math.sqrt(n_batches))


def _scores_at(fn: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
    out = fn(x) if callable(fn) else fn
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise ValueError(f"{name} must give scores shaped like x {tuple(x.shape)}, got {describe(out)}")
    return check_finite(out.detach().to(torch.float64), name)


def fisher_divergence(
    score_fn: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor,
    true_score: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor,
    x: torch.Tensor,
) -> float:
    r"""The Fisher divergence estimated on samples ``x``: :math:`\tfrac12\,\frac1N\sum_i\|s(x_i) - s^*(x_i)\|^2`.

    ``score_fn`` and ``true_score`` are callables (N, D) → (N, D) or precomputed (N, D) tensors; evaluated without
    gradients in float64. Measure it on samples of the distribution whose score ``true_score`` is (e.g. the noised
    marginal for DSM). Notebook 03.
    """
    _check_embeddings(x, "x")
    with torch.no_grad():
        diff = _scores_at(score_fn, x, "score_fn") - _scores_at(true_score, x, "true_score")
    return float(0.5 * (diff**2).sum(dim=1).mean())


def relative_fisher_divergence(
    score_fn: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor,
    true_score: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor,
    x: torch.Tensor,
) -> float:
    r"""Fisher divergence divided by :math:`\tfrac12\,\frac1N\sum_i\|s^*(x_i)\|^2`: 0 is perfect, 1 is as bad as
    predicting a zero score everywhere. Scale-free, so comparable across noise levels. Notebook 03.
    """
    _check_embeddings(x, "x")
    with torch.no_grad():
        truth = _scores_at(true_score, x, "true_score")
        diff = _scores_at(score_fn, x, "score_fn") - truth
    denominator = float((truth**2).sum(dim=1).mean())
    if denominator == 0.0:
        raise ValueError("true_score is zero at every point of x: the relative Fisher divergence is undefined")
    return float((diff**2).sum(dim=1).mean()) / denominator


# -- calibration (notebook 02) -----------------------------------------------------------------------------------
_PROB_SUM_TOL = 1e-3


def _calibration_inputs(probs: object, labels: object, n_bins: object) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated (confidence (N,), correct (N,) bool, n_bins) from class probabilities and true labels."""
    if isinstance(probs, torch.Tensor):
        if probs.is_complex() or probs.dtype == torch.bool:
            raise TypeError(f"probs must hold real probabilities, got {describe(probs)}")
        p = probs.detach().to("cpu", torch.float64).numpy()
    else:
        p = np.asarray(probs)
        if p.dtype == object or not (np.issubdtype(p.dtype, np.floating) or np.issubdtype(p.dtype, np.integer)):
            raise TypeError(f"probs must be an (N, K) array of real probabilities, got {describe(probs)}")
        p = p.astype(np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"probs must be 2-D (N, K) with N >= 1 and K >= 2 classes, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError(f"probs must be finite, got {int((~np.isfinite(p)).sum())} NaN/inf value(s)")
    if (p < 0).any():
        raise ValueError(f"probs must be >= 0 (probabilities, not logits), got a minimum of {p.min():.4g}")
    sums = p.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > _PROB_SUM_TOL:
        raise ValueError(
            f"probs rows must sum to 1 (within {_PROB_SUM_TOL}; apply softmax to logits), got row {worst} summing "
            f"to {sums[worst]:.6g}"
        )
    if isinstance(labels, torch.Tensor):
        y = labels.detach().cpu().numpy()
    else:
        y = np.asarray(labels)
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be a 1-D array of int class labels, got {describe(labels)}")
    if y.shape != (p.shape[0],):
        raise ValueError(f"labels must have shape ({p.shape[0]},) (one label per row of probs), got shape {y.shape}")
    if (y < 0).any() or (y >= p.shape[1]).any():
        raise ValueError(
            f"labels must be in 0..{p.shape[1] - 1} (K = {p.shape[1]}), got {int(y.min())}..{int(y.max())}"
        )
    n_bins = check_int(n_bins, "n_bins", minimum=1)
    return p.max(axis=1), p.argmax(axis=1) == y, n_bins


def reliability_curve(
    probs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, n_bins: int = 15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Accuracy against confidence in ``n_bins`` equal-width bins :math:`(\frac{b}{B}, \frac{b+1}{B}]` of (0, 1].

    ``probs`` (N, K) are predicted class probabilities (rows sum to 1), ``labels`` (N,) the true classes. The
    confidence of a prediction is its largest probability, the prediction its argmax (the first on ties).
    Returns numpy arrays ``(bin_confidence, bin_accuracy, bin_count)``, each (n_bins,): the mean confidence and
    the accuracy of the predictions in each bin (NaN for an empty bin) and how many fell in it (int64).
    A calibrated model has ``bin_accuracy ≈ bin_confidence``. Notebook 02.
    """
    confidence, correct, n_bins = _calibration_inputs(probs, labels, n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)  # edges[b] < c <= edges[b+1]
    count = np.bincount(bins, minlength=n_bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        bin_confidence = np.bincount(bins, weights=confidence, minlength=n_bins) / count
        bin_accuracy = np.bincount(bins, weights=correct.astype(np.float64), minlength=n_bins) / count
    empty = count == 0
    bin_confidence[empty] = np.nan
    bin_accuracy[empty] = np.nan
    return bin_confidence, bin_accuracy, count


def expected_calibration_error(
    probs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, n_bins: int = 15
) -> float:
    r"""The expected calibration error :math:`\sum_b \frac{|B_b|}{N}\,\big|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\big|`.

    Bins :math:`B_b` are those of :func:`reliability_curve` (equal-width on (0, 1], by the confidence
    :math:`\max_k p_k`); empty bins add nothing. 0 for a calibrated model (up to sampling noise, which grows
    with ``n_bins`` and shrinks with N); at most 1. Notebook 02.
    """
    bin_confidence, bin_accuracy, count = reliability_curve(probs, labels, n_bins)
    full = count > 0
    weights = count[full] / count.sum()
    return float(np.sum(weights * np.abs(bin_accuracy[full] - bin_confidence[full])))


# -- sample quality (notebook 04) ---------------------------------------------------------------------------------
def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    r"""The energy distance (Székely & Rizzo) between samples ``x`` (N, D) and ``y`` (M, D):

    .. math::
        \mathcal E(P, Q) = 2\,\mathbb E\|X - Y\| - \mathbb E\|X - X'\| - \mathbb E\|Y - Y'\|,

    zero iff :math:`P = Q`. This is the **V-statistic**: every mean runs over all pairs, the :math:`i = j` zeros
    included, so it is the energy distance between the two empirical distributions — always :math:`\ge 0`,
    symmetric, but biased upwards: for two independent size-n samples of the *same* distribution its expected
    value is :math:`2\,\mathbb E\|X - X'\|/n`, not 0. Compare against that floor
    (:func:`energy_distance_floor`), not against 0. Computed in float64. Notebook 04.
    """
    _check_embeddings(x, "x")
    _check_embeddings(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y must have x's dimension D = {x.shape[1]}, got shape {tuple(y.shape)}")
    x64 = x.detach().to(torch.float64)
    y64 = y.detach().to(x64.device, torch.float64)
    mode = "donot_use_mm_for_euclid_dist"  # exact zeros on the diagonal (the matmul shortcut rounds them)
    xy = torch.cdist(x64, y64, compute_mode=mode).mean()
    xx = torch.cdist(x64, x64, compute_mode=mode).mean()
    yy = torch.cdist(y64, y64, compute_mode=mode).mean()
    return float(2 * xy - xx - yy)


def energy_distance_floor(
    sample_fn: Callable[[int, torch.Generator | None], torch.Tensor],
    n: int,
    n_repeats: int = 5,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    r"""The two-sample floor of :func:`energy_distance`: its mean and standard deviation over ``n_repeats``
    pairs of *independent* size-``n`` samples of the true distribution, ``sample_fn(n, generator)`` → (n, D)
    (e.g. ``mixture.sample``).

    A sampler is as good as the sample size can tell when ``energy_distance(samples, truth)`` is within a few
    standard deviations of this floor (≈ :math:`2\,\mathbb E\|X-X'\|/n`). Notebook 04.
    """
    if not callable(sample_fn):
        raise TypeError(f"sample_fn must be callable (n, generator) -> (n, D) samples, got {describe(sample_fn)}")
    n = check_int(n, "n", minimum=2)
    n_repeats = check_int(n_repeats, "n_repeats", minimum=2)
    check_generator(generator)
    values = torch.tensor(
        [energy_distance(sample_fn(n, generator), sample_fn(n, generator)) for _ in range(n_repeats)],
        dtype=torch.float64,
    )
    return float(values.mean()), float(values.std())


def _check_nats(nats: float | torch.Tensor) -> float | torch.Tensor:
    """A finite, non-negative NLL in nats (a number or a tensor); ValueError naming ``nats`` otherwise."""
    if isinstance(nats, torch.Tensor):
        check_finite(nats, "nats")
        if bool((nats < 0).any()):
            raise ValueError(f"nats must be >= 0 (a negative log-likelihood), got minimum {float(nats.min()):.6g}")
        return nats
    value = check_real(nats, "nats")
    if value < 0:
        raise ValueError(f"nats must be >= 0 (a negative log-likelihood), got {value}")
    return value


def bits_per_token(nats: float | torch.Tensor) -> float | torch.Tensor:
    r"""Convert an NLL from nats to bits: :math:`\mathcal L / \ln 2` (float in, float out; tensor in, tensor out).

    Notebook 05 reports :func:`~mmobjectives.losses.autoregressive_nll` this way, next to the source's entropy
    rate in bits.
    """
    value = _check_nats(nats)
    return value / math.log(2)


def perplexity(nats: float | torch.Tensor) -> float | torch.Tensor:
    r"""Perplexity :math:`e^{\mathcal L}` of a per-token NLL in nats: the effective number of equally likely
    next tokens (float in, float out; tensor in, tensor out). Notebook 05.
    """
    value = _check_nats(nats)
    if isinstance(value, torch.Tensor):
        return torch.exp(value)
    return math.exp(value)


def clip_score(z_image: torch.Tensor, z_text: torch.Tensor, w: float = 2.5) -> torch.Tensor:
    r"""The CLIP score of image–text pairs (Hessel et al. 2021): :math:`w \cdot \max(\cos(z_{\text{img}},
    z_{\text{text}}), 0)`, row by row. Notebook 07 uses the contrastive model of notebook 01 as a judge of
    generated images and captions: a matched pair should score higher than a mismatched one.

    ``z_image``, ``z_text``: (N, D) embeddings of N pairs (normalised here, so raw encoder outputs are fine).
    Returns (N,) scores in :math:`[0, w]`.
    """
    _check_embeddings(z_image, "z_image")
    _check_embeddings(z_text, "z_text")
    if z_image.shape != z_text.shape:
        raise ValueError(
            f"z_text must have z_image's shape {tuple(z_image.shape)} (one text per image), got {tuple(z_text.shape)}"
        )
    w = check_positive(w, "w")
    cos = torch.nn.functional.cosine_similarity(z_image, z_text, dim=1)
    return w * cos.clamp_min(0.0)


def nll_by_modality(
    logits: torch.Tensor, tokens: torch.Tensor, targets: torch.Tensor, vocab: data.MultimodalVocabulary
) -> dict[str, float]:
    r"""Mean next-token NLL (nats) separately over the scored **text** targets (words and ``</txt>``) and the scored
    **image** targets (codes) of multimodal sequences. Notebook 05.

    ``logits`` (B, T, V) from ``tokens`` (B, T); ``targets`` is ``vocab.targets(tokens)`` (ignored positions are
    ``-100``). Markers the format forces (``</img>`` after the last code, ``<txt>`` after ``</img>``, ...) cost 0
    nats under the logit mask and are counted in neither. Returns ``{"text": ..., "image": ..., "all": ...}``, where
    ``"all"`` is the mean over every scored target; NaN for a modality with no scored target. Each is the
    :func:`~mmobjectives.losses.autoregressive_nll` of ``reduction="none"`` averaged over that modality's targets.
    """
    if not isinstance(vocab, data.MultimodalVocabulary):
        raise TypeError(f"vocab must be a data.MultimodalVocabulary, got {describe(vocab)}")
    if not isinstance(targets, torch.Tensor) or tuple(targets.shape) != tuple(tokens.shape):
        raise ValueError(f"targets must have the shape of tokens {tuple(tokens.shape)}, got {describe(targets)}")
    per_token = losses.autoregressive_nll(logits, targets, reduction="none").detach()  # (B, T-1), 0 where ignored
    nxt = tokens[:, 1:]
    scored = targets[:, 1:] != -100
    image = scored & (nxt >= vocab.image_offset)
    text = scored & ((nxt < vocab.text.vocab_size) | (nxt == vocab.end_txt))
    nan = float("nan")
    return {
        "text": float(per_token[text].mean()) if bool(text.any()) else nan,
        "image": float(per_token[image].mean()) if bool(image.any()) else nan,
        "all": float(per_token[scored].mean()) if bool(scored.any()) else nan,
    }
