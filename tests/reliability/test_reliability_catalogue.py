"""The bad-input catalogue (issue 11): every public function answers a student's mistake with a clear error.

Each case calls one public function with one mistake — wrong number of dimensions, mismatched batch or feature
sizes, an empty batch, NaN/inf, integers where floats are needed, out-of-range class indices, τ ≤ 0, σ ≤ 0,
probabilities or weights that do not sum to 1, tensors on different devices, non-tensor inputs — and checks the
house style of the message (``mmobjectives/_checks.py``): it raises ``ValueError`` or ``TypeError`` (never a
``RuntimeError`` from deep inside torch, never a NaN), it **names the argument**, says what was **expected**
("must ...") and what was **given** (a fragment of the bad value, shape or dtype).

Tensors "on another device" live on torch's ``meta`` device, which every CPU build has: a clean stand-in for a
GPU tensor next to a CPU one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from mmobjectives import data, distributed, losses, metrics, models, recipes, sampling, train, viz, widgets


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[], Any]
    error: type[Exception] | tuple[type[Exception], ...]
    name: str  # the argument the message must name
    given: str  # a fragment of what was given that the message must show


def _t(*shape: int, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def _nan(*shape: int) -> torch.Tensor:
    x = _t(*shape)
    x.view(-1)[0] = float("nan")
    return x


def _inf(*shape: int) -> torch.Tensor:
    x = _t(*shape)
    x.view(-1)[-1] = float("inf")
    return x


def _meta(*shape: int) -> torch.Tensor:
    return torch.empty(*shape, device="meta")


def _score(x: torch.Tensor, *args: Any) -> torch.Tensor:
    return -x


def _wrong_shape_score(x: torch.Tensor, *args: Any) -> torch.Tensor:
    return -x[:, :1]


def _probs(n: int = 4, k: int = 3) -> torch.Tensor:
    return torch.softmax(_t(n, k), dim=1)


MIXTURE = data.GaussianMixture([[0.0, 0.0], [3.0, 3.0]], 1.0)
MARKOV = data.MarkovSource(torch.tensor([[0.9, 0.1], [0.2, 0.8]]))
VP = sampling.VPSchedule()
GPT = models.TinyGPT(5, d_model=8, n_layers=1, n_heads=2, max_len=6)
EPS_NET = models.ConditionalEpsNet(image_size=4, n_classes=3, hidden=8, n_layers=1)
LOGITS = _t(4, 3)
CLIP = models.DualEncoder(models.ImageEncoder(out_dim=4), models.TextEncoder(6, out_dim=4))
TARGET = torch.tensor([0, 1, 2, 1])

CASES: list[Case] = [
    # -- losses.info_nce / info_nce_logits / sigmoid_contrastive ---------------------------------------------------
    Case("info_nce-1d", lambda: losses.info_nce(_t(4), _t(4)), ValueError, "z_a", "(4,)"),
    Case("info_nce-3d", lambda: losses.info_nce(_t(2, 4, 3), _t(2, 4, 3)), ValueError, "z_a", "(2, 4, 3)"),
    Case("info_nce-batch-mismatch", lambda: losses.info_nce(_t(4, 3), _t(5, 3)), ValueError, "z_b", "(5, 3)"),
    Case("info_nce-feature-mismatch", lambda: losses.info_nce(_t(4, 3), _t(4, 2)), ValueError, "z_b", "(4, 2)"),
    Case("info_nce-empty", lambda: losses.info_nce(_t(0, 3), _t(0, 3)), ValueError, "z_a", "(0, 3)"),
    Case("info_nce-nan", lambda: losses.info_nce(_nan(4, 3), _t(4, 3)), ValueError, "z_a", "NaN"),
    Case("info_nce-inf", lambda: losses.info_nce(_t(4, 3), _inf(4, 3)), ValueError, "z_b", "inf"),
    Case(
        "info_nce-int", lambda: losses.info_nce(torch.ones(4, 3, dtype=torch.long), _t(4, 3)), TypeError, "z_a", "int64"
    ),
    Case("info_nce-tau-0", lambda: losses.info_nce(_t(4, 3), _t(4, 3), 0.0), ValueError, "temperature", "0"),
    Case("info_nce-tau-neg", lambda: losses.info_nce(_t(4, 3), _t(4, 3), -0.1), ValueError, "temperature", "-0.1"),
    Case(
        "info_nce-tau-nan", lambda: losses.info_nce(_t(4, 3), _t(4, 3), float("nan")), ValueError, "temperature", "nan"
    ),
    Case("info_nce-tau-str", lambda: losses.info_nce(_t(4, 3), _t(4, 3), "0.1"), TypeError, "temperature", "'0.1'"),
    Case(
        "info_nce-tau-vector",
        lambda: losses.info_nce(_t(4, 3), _t(4, 3), torch.tensor([0.1, 0.2])),
        ValueError,
        "temperature",
        "(2,)",
    ),
    Case("info_nce-numpy", lambda: losses.info_nce(np.ones((4, 3)), _t(4, 3)), TypeError, "z_a", "numpy"),
    Case("info_nce-list", lambda: losses.info_nce(_t(4, 3), [[1.0] * 3] * 4), TypeError, "z_b", "list"),
    Case("info_nce-device", lambda: losses.info_nce(_t(4, 3), _meta(4, 3)), ValueError, "device", "meta"),
    Case(
        "info_nce-reduction",
        lambda: losses.info_nce(_t(4, 3), _t(4, 3), reduction="avg"),
        ValueError,
        "reduction",
        "'avg'",
    ),
    Case("info_nce_logits-not-square", lambda: losses.info_nce_logits(_t(3, 4)), ValueError, "logits", "(3, 4)"),
    Case("info_nce_logits-empty", lambda: losses.info_nce_logits(_t(0, 0)), ValueError, "logits", "(0, 0)"),
    Case(
        "info_nce_logits-int",
        lambda: losses.info_nce_logits(torch.eye(3, dtype=torch.long)),
        TypeError,
        "logits",
        "int64",
    ),
    Case("info_nce_logits-nan", lambda: losses.info_nce_logits(_nan(3, 3)), ValueError, "logits", "NaN"),
    Case(
        "sigmoid-tau-0",
        lambda: losses.sigmoid_contrastive(_t(4, 3), _t(4, 3), 0.0, 0.0),
        ValueError,
        "temperature",
        "0",
    ),
    Case(
        "sigmoid-bias-nan",
        lambda: losses.sigmoid_contrastive(_t(4, 3), _t(4, 3), 0.1, float("nan")),
        ValueError,
        "bias",
        "nan",
    ),
    Case(
        "sigmoid-bias-str", lambda: losses.sigmoid_contrastive(_t(4, 3), _t(4, 3), 0.1, "b"), TypeError, "bias", "'b'"
    ),
    Case(
        "sigmoid-device",
        lambda: losses.sigmoid_contrastive(_meta(4, 3), _t(4, 3), 0.1, 0.0),
        ValueError,
        "device",
        "meta",
    ),
    # -- losses.cross_entropy / sequence_cross_entropy / autoregressive_nll ----------------------------------------
    Case("ce-1d-logits", lambda: losses.cross_entropy(_t(3), TARGET[:1]), ValueError, "logits", "(3,)"),
    Case(
        "ce-batch-mismatch",
        lambda: losses.cross_entropy(LOGITS, torch.tensor([0, 1, 2, 1, 0])),
        ValueError,
        "target",
        "(5,)",
    ),
    Case(
        "ce-index-too-big", lambda: losses.cross_entropy(LOGITS, torch.tensor([0, 1, 3, 1])), ValueError, "target", "3"
    ),
    Case(
        "ce-index-negative",
        lambda: losses.cross_entropy(LOGITS, torch.tensor([0, -1, 2, 1])),
        ValueError,
        "target",
        "-1",
    ),
    Case("ce-float-indices", lambda: losses.cross_entropy(LOGITS, TARGET.float()), TypeError, "target", "float32"),
    Case(
        "ce-probs-not-summing",
        lambda: losses.cross_entropy(LOGITS, torch.full((4, 3), 0.5)),
        ValueError,
        "target",
        "sums to 1.5",
    ),
    Case(
        "ce-probs-negative",
        lambda: losses.cross_entropy(LOGITS, torch.tensor([[1.5, -0.5, 0.0]] * 4)),
        ValueError,
        "target",
        "-0.5",
    ),
    Case("ce-probs-shape", lambda: losses.cross_entropy(LOGITS, _probs(4, 2)), ValueError, "target", "(4, 2)"),
    Case("ce-nan-logits", lambda: losses.cross_entropy(_nan(4, 3), TARGET), ValueError, "logits", "NaN"),
    Case(
        "ce-int-logits",
        lambda: losses.cross_entropy(TARGET[:, None].repeat(1, 3), TARGET),
        TypeError,
        "logits",
        "int64",
    ),
    Case("ce-empty", lambda: losses.cross_entropy(_t(0, 3), TARGET[:0]), ValueError, "logits", "(0, 3)"),
    Case(
        "ce-smoothing",
        lambda: losses.cross_entropy(LOGITS, TARGET, label_smoothing=1.5),
        ValueError,
        "label_smoothing",
        "1.5",
    ),
    Case("ce-device", lambda: losses.cross_entropy(LOGITS, TARGET.to("meta")), ValueError, "target", "meta"),
    Case("ce-device-logits", lambda: losses.cross_entropy(_meta(4, 3), TARGET), ValueError, "device", "meta"),
    Case("ce-device-probs", lambda: losses.cross_entropy(LOGITS, _probs().to("meta")), ValueError, "target", "meta"),
    Case(
        "seq-ce-device",
        lambda: losses.sequence_cross_entropy(_t(2, 5, 3), torch.zeros(2, 5, dtype=torch.long, device="meta")),
        ValueError,
        "targets",
        "meta",
    ),
    Case("ce-list-target", lambda: losses.cross_entropy(LOGITS, [0, 1, 2, 1]), TypeError, "target", "list"),
    Case("ce-numpy-logits", lambda: losses.cross_entropy(LOGITS.numpy(), TARGET), TypeError, "logits", "numpy"),
    Case("seq-ce-2d", lambda: losses.sequence_cross_entropy(LOGITS, TARGET), ValueError, "logits", "(4, 3)"),
    Case(
        "seq-ce-shape",
        lambda: losses.sequence_cross_entropy(_t(2, 5, 3), torch.zeros(2, 4, dtype=torch.long)),
        ValueError,
        "targets",
        "(2, 4)",
    ),
    Case(
        "seq-ce-range",
        lambda: losses.sequence_cross_entropy(_t(2, 5, 3), torch.full((2, 5), 7)),
        ValueError,
        "targets",
        "7",
    ),
    Case(
        "ar-one-token",
        lambda: losses.autoregressive_nll(_t(2, 1, 5), torch.zeros(2, 1, dtype=torch.long)),
        ValueError,
        "tokens",
        "(2, 1)",
    ),
    Case(
        "ar-2d-logits",
        lambda: losses.autoregressive_nll(_t(2, 5), torch.zeros(2, 5, dtype=torch.long)),
        ValueError,
        "logits",
        "(2, 5)",
    ),
    Case(
        "ar-float-tokens",
        lambda: losses.autoregressive_nll(_t(2, 4, 5), torch.zeros(2, 4)),
        TypeError,
        "tokens",
        "float32",
    ),
    Case(
        "ar-token-range",
        lambda: losses.autoregressive_nll(_t(2, 4, 5), torch.full((2, 4), 9)),
        ValueError,
        "tokens",
        "9",
    ),
    Case(
        "ar-batch-mismatch",
        lambda: losses.autoregressive_nll(_t(2, 4, 5), torch.zeros(3, 4, dtype=torch.long)),
        ValueError,
        "tokens",
        "(3, 4)",
    ),
    Case(
        "ar-device",
        lambda: losses.autoregressive_nll(_t(2, 4, 5), torch.zeros(2, 4, dtype=torch.long, device="meta")),
        ValueError,
        "tokens",
        "meta",
    ),
    Case(
        "ar-list-tokens",
        lambda: losses.autoregressive_nll(_t(2, 4, 5), [[0, 1, 2, 3]] * 2),
        (TypeError, ValueError),
        "tokens",
        "list",
    ),
    # -- losses: score matching and diffusion -----------------------------------------------------------------------
    Case("sm-1d", lambda: losses.score_matching(_score, _t(5)), ValueError, "x", "(5,)"),
    Case("sm-int", lambda: losses.score_matching(_score, torch.ones(4, 2, dtype=torch.long)), TypeError, "x", "int64"),
    Case("sm-nan", lambda: losses.score_matching(_score, _nan(4, 2)), ValueError, "x", "NaN"),
    Case("sm-not-callable", lambda: losses.score_matching("score", _t(4, 2)), TypeError, "score_fn", "'score'"),
    Case(
        "sm-wrong-output", lambda: losses.score_matching(_wrong_shape_score, _t(4, 2)), ValueError, "score_fn", "(4, 1)"
    ),
    Case(
        "ssm-projections",
        lambda: losses.sliced_score_matching(_score, _t(4, 2), n_projections=0),
        ValueError,
        "n_projections",
        "0",
    ),
    Case(
        "ssm-generator",
        lambda: losses.sliced_score_matching(_score, _t(4, 2), generator=0),
        TypeError,
        "generator",
        "int",
    ),
    Case("dsm-sigma-0", lambda: losses.denoising_score_matching(_score, _t(4, 2), 0.0), ValueError, "sigma", "0"),
    Case("dsm-sigma-neg", lambda: losses.denoising_score_matching(_score, _t(4, 2), -1.0), ValueError, "sigma", "-1"),
    Case(
        "dsm-sigma-nan",
        lambda: losses.denoising_score_matching(_score, _t(4, 2), float("nan")),
        ValueError,
        "sigma",
        "NaN",
    ),
    Case(
        "dsm-sigma-length",
        lambda: losses.denoising_score_matching(_score, _t(4, 2), torch.ones(3)),
        ValueError,
        "sigma",
        "(3,)",
    ),
    Case(
        "dsm-sigma-str", lambda: losses.denoising_score_matching(_score, _t(4, 2), "0.5"), TypeError, "sigma", "'0.5'"
    ),
    Case(
        "dsm-noise-shape",
        lambda: losses.denoising_score_matching(_score, _t(4, 2), 0.5, noise=_t(4, 3)),
        ValueError,
        "noise",
        "(4, 3)",
    ),
    Case(
        "dsm-noise-nan",
        lambda: losses.denoising_score_matching(_score, _t(4, 2), 0.5, noise=_nan(4, 2)),
        ValueError,
        "noise",
        "NaN",
    ),
    Case("dsm-empty", lambda: losses.denoising_score_matching(_score, _t(0, 2), 0.5), ValueError, "x0", "(0, 2)"),
    Case(
        "dsm-weighting",
        lambda: losses.denoising_score_matching(_score, _t(4, 2), 0.5, weighting="snr"),
        ValueError,
        "weighting",
        "'snr'",
    ),
    Case("ncdsm-schedule", lambda: losses.noise_conditional_dsm(_score, _t(4, 2), "vp"), TypeError, "schedule", "'vp'"),
    Case("ncdsm-t-range", lambda: losses.noise_conditional_dsm(_score, _t(4, 2), VP, t=1.5), ValueError, "t", "1.5"),
    Case("ncdsm-t-zero", lambda: losses.noise_conditional_dsm(_score, _t(4, 2), VP, t=0.0), ValueError, "t", "sigma"),
    Case(
        "ncdsm-t-int-tensor",
        lambda: losses.noise_conditional_dsm(_score, _t(4, 2), VP, t=torch.ones(4, dtype=torch.long)),
        TypeError,
        "t",
        "int64",
    ),
    Case(
        "ncdsm-t_min", lambda: losses.noise_conditional_dsm(_score, _t(4, 2), VP, t_min=1.0), ValueError, "t_min", "1.0"
    ),
    Case("eps-not-callable", lambda: losses.eps_prediction_loss(None, _t(4, 2), VP), TypeError, "eps_fn", "None"),
    Case(
        "eps-wrong-output",
        lambda: losses.eps_prediction_loss(_wrong_shape_score, _t(4, 2), VP),
        ValueError,
        "eps_fn",
        "(4, 1)",
    ),
    # -- metrics ----------------------------------------------------------------------------------------------------
    Case("mi-bound-n", lambda: metrics.infonce_mi_bound(1.0, 0), ValueError, "n", "0"),
    Case("mi-bound-nan", lambda: metrics.infonce_mi_bound(torch.tensor(float("nan")), 8), ValueError, "loss", "NaN"),
    Case("alignment-shape", lambda: metrics.alignment(_t(4, 3), _t(4, 2)), ValueError, "z_b", "(4, 2)"),
    Case("alignment-alpha", lambda: metrics.alignment(_t(4, 3), _t(4, 3), alpha=0), ValueError, "alpha", "0"),
    Case("alignment-device", lambda: metrics.alignment(_t(4, 3), _meta(4, 3)), ValueError, "device", "meta"),
    Case("uniformity-one", lambda: metrics.uniformity(_t(1, 3)), ValueError, "z", "1"),
    Case("uniformity-t", lambda: metrics.uniformity(_t(4, 3), t=-1.0), ValueError, "t", "-1"),
    Case("recall-not-square", lambda: metrics.recall_at_k(_t(3, 4)), ValueError, "similarity", "(3, 4)"),
    Case("recall-k", lambda: metrics.recall_at_k(_t(3, 3), k=0), ValueError, "k", "0"),
    Case(
        "ece-not-summing",
        lambda: metrics.expected_calibration_error(torch.full((4, 3), 0.5), TARGET),
        ValueError,
        "probs",
        "1.5",
    ),
    Case(
        "ece-label-range",
        lambda: metrics.expected_calibration_error(_probs(), torch.tensor([0, 1, 2, 3])),
        ValueError,
        "labels",
        "3",
    ),
    Case(
        "ece-float-labels",
        lambda: metrics.expected_calibration_error(_probs(), TARGET.float()),
        TypeError,
        "labels",
        "float32",
    ),
    Case(
        "ece-negative", lambda: metrics.expected_calibration_error(_probs() - 0.5, TARGET), ValueError, "probs", "-0."
    ),
    Case(
        "ece-label-count",
        lambda: metrics.expected_calibration_error(_probs(), TARGET[:3]),
        ValueError,
        "labels",
        "(3,)",
    ),
    Case("reliability-bins", lambda: metrics.reliability_curve(_probs(), TARGET, n_bins=0), ValueError, "n_bins", "0"),
    Case(
        "fisher-shape",
        lambda: metrics.fisher_divergence(_wrong_shape_score, _score, _t(4, 2)),
        ValueError,
        "score_fn",
        "(4, 1)",
    ),
    Case("fisher-nan-x", lambda: metrics.fisher_divergence(_score, _score, _nan(4, 2)), ValueError, "x", "NaN"),
    Case("energy-dims", lambda: metrics.energy_distance(_t(4, 2), _t(4, 3)), ValueError, "y", "(4, 3)"),
    Case("energy-inf", lambda: metrics.energy_distance(_t(4, 2), _inf(4, 2)), ValueError, "y", "inf"),
    Case("bits-negative", lambda: metrics.bits_per_token(-0.5), ValueError, "nats", "-0.5"),
    Case("perplexity-nan", lambda: metrics.perplexity(float("nan")), ValueError, "nats", "nan"),
    Case(
        "optimal-critic-tau",
        lambda: metrics.optimal_critic_estimate(1.0, 8, temperature=0.0),
        ValueError,
        "temperature",
        "0",
    ),
    Case("uniformity-optimum-dim", lambda: metrics.uniformity_optimum(1), ValueError, "dim", "1"),
    # -- sampling ---------------------------------------------------------------------------------------------------
    Case("langevin-step-0", lambda: sampling.langevin(_score, _t(4, 2), 0.0, 5), ValueError, "step_size", "0"),
    Case("langevin-1d", lambda: sampling.langevin(_score, _t(4), 0.1, 5), ValueError, "x", "(4,)"),
    Case("langevin-steps", lambda: sampling.langevin(_score, _t(4, 2), 0.1, -1), ValueError, "n_steps", "-1"),
    Case("langevin-nan", lambda: sampling.langevin(_score, _nan(4, 2), 0.1, 5), ValueError, "x", "NaN"),
    Case(
        "annealed-increasing",
        lambda: sampling.annealed_langevin(_score, _t(4, 2), [0.1, 1.0], 2, 0.01),
        ValueError,
        "sigmas",
        "0.1",
    ),
    Case(
        "annealed-zero",
        lambda: sampling.annealed_langevin(_score, _t(4, 2), [1.0, 0.0], 2, 0.01),
        ValueError,
        "sigmas",
        "0.0",
    ),
    Case("ve-sigma-min", lambda: sampling.VESchedule(sigma_min=0.0), ValueError, "sigma_min", "0"),
    Case("ve-order", lambda: sampling.VESchedule(sigma_min=5.0, sigma_max=1.0), ValueError, "sigma_min", "5.0"),
    Case("vp-kind", lambda: sampling.VPSchedule("quadratic"), ValueError, "kind", "'quadratic'"),
    Case("vp-t-range", lambda: VP.marginal(2.0), ValueError, "t", "2.0"),
    Case("vp-t-str", lambda: VP.marginal("0.5"), TypeError, "t", "'0.5'"),
    Case("reverse-sde-steps", lambda: sampling.reverse_sde(_score, _t(4, 2), VP, 0), ValueError, "n_steps", "0"),
    Case(
        "pf-ode-t_min",
        lambda: sampling.probability_flow_ode(_score, _t(4, 2), VP, 5, t_min=0.0),
        ValueError,
        "t_min",
        "0",
    ),
    Case("linear-betas", lambda: sampling.linear_betas(10, 1e-4, 1.5), ValueError, "beta_K", "1.5"),
    Case("alpha-bar-betas", lambda: sampling.ddpm_alpha_bar(torch.tensor([0.1, 1.0])), ValueError, "betas", "1.0"),
    Case("ddpm-eps-fn", lambda: sampling.ddpm_sample(3, (4, 2), sampling.linear_betas(10)), TypeError, "eps_fn", "3"),
    Case("ddpm-shape", lambda: sampling.ddpm_sample(_score, (), sampling.linear_betas(10)), ValueError, "shape", "()"),
    Case("score-from-eps-sigma", lambda: sampling.score_from_eps(_t(4, 2), 0.0), ValueError, "sigma", "0"),
    Case("score-from-eps-neg", lambda: sampling.score_from_eps(_t(4, 2), -torch.ones(4)), ValueError, "sigma", "-1"),
    Case("x0-from-eps-alpha", lambda: sampling.x0_from_eps(_t(4, 2), _t(4, 2), 0.0, 0.5), ValueError, "alpha", "0"),
    Case("guided-shape", lambda: sampling.guided_score(_t(4, 2), _t(4, 3), 1.0), ValueError, "score_uncond", "(4, 3)"),
    Case("guided-w", lambda: sampling.guided_score(_t(4, 2), _t(4, 2), float("nan")), ValueError, "w", "nan"),
    Case(
        "x0-from-eps-device", lambda: sampling.x0_from_eps(_t(4, 2), _meta(4, 2), 0.5, 0.5), ValueError, "eps", "meta"
    ),
    Case("eps-from-x0-device", lambda: sampling.eps_from_x0(_t(4, 2), _meta(4, 2), 0.5, 0.5), ValueError, "x0", "meta"),
    Case("guided-device", lambda: sampling.guided_score(_t(4, 2), _meta(4, 2), 1.0), ValueError, "device", "meta"),
    Case("next-token-tau", lambda: sampling.next_token_probs(_t(5), temperature=0.0), ValueError, "temperature", "0"),
    Case("next-token-top-k", lambda: sampling.next_token_probs(_t(5), top_k=0), ValueError, "top_k", "0"),
    Case("next-token-int", lambda: sampling.next_token_probs(torch.arange(5)), TypeError, "logits", "int64"),
    Case(
        "sample-tokens-float",
        lambda: sampling.sample_tokens(GPT, torch.zeros(2, 3), 2),
        ValueError,
        "prompt",
        "float32",
    ),
    Case(
        "sample-tokens-n",
        lambda: sampling.sample_tokens(GPT, torch.zeros(2, 3, dtype=torch.long), -1),
        ValueError,
        "max_new_tokens",
        "-1",
    ),
    Case(
        "sample-tokens-mask",
        lambda: sampling.sample_tokens(GPT, torch.zeros(2, 3, dtype=torch.long), 2, logit_mask=torch.ones(5)),
        ValueError,
        "logit_mask",
        "float32",
    ),
    # -- data -------------------------------------------------------------------------------------------------------
    Case(
        "mixture-weights-sum",
        lambda: data.GaussianMixture([[0.0], [1.0]], 1.0, [0.3, 0.3]),
        ValueError,
        "weights",
        "0.6",
    ),
    Case(
        "mixture-weights-neg",
        lambda: data.GaussianMixture([[0.0], [1.0]], 1.0, [1.5, -0.5]),
        ValueError,
        "weights",
        "-0.5",
    ),
    Case("mixture-std-0", lambda: data.GaussianMixture([[0.0], [1.0]], 0.0), ValueError, "stds", "0.0"),
    Case(
        "mixture-stds-len",
        lambda: data.GaussianMixture([[0.0], [1.0]], [1.0, 1.0, 1.0]),
        ValueError,
        "stds",
        "[1.0, 1.0, 1.0]",
    ),
    Case("mixture-means-1d", lambda: data.GaussianMixture([0.0, 1.0], 1.0), ValueError, "means", "(2,)"),
    Case("mixture-means-str", lambda: data.GaussianMixture("origin", 1.0), TypeError, "means", "'origin'"),
    Case("mixture-score-dim", lambda: MIXTURE.score(_t(4, 3)), ValueError, "x", "(4, 3)"),
    Case("mixture-log-prob-nan", lambda: MIXTURE.log_prob(_nan(4, 2)), ValueError, "x", "NaN"),
    Case("mixture-noised", lambda: MIXTURE.noised(-1.0), ValueError, "sigma", "-1.0"),
    Case("mixture-sample-n", lambda: MIXTURE.sample(-1), ValueError, "n", "-1"),
    Case("mixture-sample-float-n", lambda: MIXTURE.sample(2.5), TypeError, "n", "2.5"),
    Case("ring-std", lambda: data.ring(std=0.0), ValueError, "std", "0"),
    Case("two-modes-weight", lambda: data.two_modes(weight_left=1.5), ValueError, "weight_left", "1.5"),
    Case("two-moons-noise", lambda: data.two_moons(10, noise=-1.0), ValueError, "noise", "-1"),
    Case("checkerboard-odd", lambda: data.checkerboard(10, squares=3), ValueError, "squares", "3"),
    Case("correlated-rho", lambda: data.correlated_gaussians(4, 2, 1.0), ValueError, "rho", "1.0"),
    Case("rho-for-mi", lambda: data.rho_for_mi(2, -1.0), ValueError, "mi", "-1"),
    Case("log-ratio-shape", lambda: data.gaussian_log_ratio(_t(4, 2), _t(4, 3), 0.5), ValueError, "y", "(4, 3)"),
    Case("log-ratio-device", lambda: data.gaussian_log_ratio(_t(4, 2), _meta(4, 2), 0.5), ValueError, "y", "meta"),
    Case(
        "classes-priors-sum", lambda: data.GaussianClasses([[0.0], [1.0]], 1.0, [0.5, 0.6]), ValueError, "priors", "1.1"
    ),
    Case(
        "classes-priors-zero",
        lambda: data.GaussianClasses([[0.0], [1.0]], 1.0, [1.0, 0.0]),
        ValueError,
        "priors",
        "0.0",
    ),
    Case(
        "markov-rows",
        lambda: data.MarkovSource(torch.tensor([[0.5, 0.6], [0.5, 0.5]])),
        ValueError,
        "transition",
        "1.1",
    ),
    Case(
        "markov-negative",
        lambda: data.MarkovSource(torch.tensor([[1.5, -0.5], [0.5, 0.5]])),
        ValueError,
        "transition",
        "-0.5",
    ),
    Case("markov-not-square", lambda: data.MarkovSource(torch.full((2, 3), 1 / 3)), ValueError, "transition", "(2, 3)"),
    Case(
        "markov-initial", lambda: data.MarkovSource(MARKOV.transition, initial=[0.5, 0.6]), ValueError, "initial", "1.1"
    ),
    Case("markov-log-prob-range", lambda: MARKOV.log_prob(torch.tensor([[0, 2]])), ValueError, "seqs", "[0, 2]"),
    Case("markov-log-prob-float", lambda: MARKOV.log_prob(torch.zeros(1, 3)), TypeError, "seqs", "float32"),
    Case("markov-sample-length", lambda: MARKOV.sample(4, 0), ValueError, "length", "0"),
    Case("digits-fraction", lambda: data.load_digits(test_fraction=1.5), ValueError, "test_fraction", "1.5"),
    Case("random-shift-3d", lambda: data.random_shift(_t(2, 8, 8)), ValueError, "images", "(2, 8, 8)"),
    Case("random-shift-max", lambda: data.random_shift(_t(2, 1, 8, 8), max_shift=8), ValueError, "max_shift", "8"),
    Case("read-idx-type", lambda: data.read_idx(123), TypeError, "path_or_bytes", "int"),
    Case(
        "write-idx-dtype",
        lambda: data.write_idx("x.idx", np.zeros(3, dtype=np.complex64)),
        TypeError,
        "array",
        "complex64",
    ),
    Case("mnist-timeout", lambda: data.load_mnist("/nonexistent", timeout=0), ValueError, "timeout", "0"),
    Case(
        "mnist-mirror", lambda: data.load_mnist("/nonexistent", mirrors=["ftp://x/"]), ValueError, "mirrors", "ftp://x/"
    ),
    Case("image-tokenizer-patch", lambda: data.ImageTokenizer(0, 8), ValueError, "patch_size", "0"),
    Case("image-tokenizer-codebook", lambda: data.ImageTokenizer(2, 0), ValueError, "codebook_size", "0"),
    Case("tokenizer-str", lambda: data.Tokenizer().encode("a seven"), TypeError, "captions", "'a seven'"),
    Case("tokenizer-join-str", lambda: data.Tokenizer.join("a seven"), TypeError, "words", "'a seven'"),
    Case("tokenizer-join-item", lambda: data.Tokenizer.join(["a", 7]), TypeError, "words[1]", "int"),
    Case("caption-digit", lambda: data.caption_for(10), ValueError, "digit", "10"),
    Case("multimodal-vocab", lambda: data.MultimodalVocabulary("words", 8, 4), TypeError, "text_tokenizer", "'words'"),
    # -- models -----------------------------------------------------------------------------------------------------
    Case("mlp-in-dim", lambda: models.MLP(0, 2), ValueError, "in_dim", "0"),
    Case("mlp-activation", lambda: models.MLP(2, 2, activation="sigmoid"), ValueError, "activation", "'sigmoid'"),
    Case("mlp-features", lambda: models.MLP(2, 2, (4,))(_t(3, 5)), ValueError, "x", "(3, 5)"),
    Case("mlp-numpy", lambda: models.MLP(2, 2, (4,))(np.zeros((3, 2))), TypeError, "x", "numpy"),
    Case(
        "dual-encoder-tau",
        lambda: models.DualEncoder(models.MLP(2, 2), models.MLP(2, 2), init_temperature=0.0),
        ValueError,
        "init_temperature",
        "0",
    ),
    Case(
        "scorenet-sigma",
        lambda: models.ScoreNet(2, 8, 1, noise_conditional=True)(_t(4, 2), 0.0),
        ValueError,
        "sigma",
        "0",
    ),
    Case("scorenet-x", lambda: models.ScoreNet(2, 8, 1)(_t(4, 3)), ValueError, "x", "(4, 3)"),
    Case("gpt-float-tokens", lambda: GPT(torch.zeros(2, 3)), ValueError, "tokens", "float32"),
    Case("gpt-token-range", lambda: GPT(torch.full((2, 3), 5)), ValueError, "tokens", "5"),
    Case("gpt-too-long", lambda: GPT(torch.zeros(2, 7, dtype=torch.long)), ValueError, "tokens", "T=7"),
    Case("gpt-heads", lambda: models.TinyGPT(5, d_model=10, n_heads=4), ValueError, "d_model", "10"),
    Case("eps-net-labels", lambda: EPS_NET(_t(2, 16), 0.5, torch.tensor([0, 4])), ValueError, "labels", "4"),
    Case("eps-net-t", lambda: EPS_NET(_t(2, 16), 1.5, torch.tensor([0, 1])), ValueError, "t", "1.5"),
    Case("eps-net-x", lambda: EPS_NET(_t(2, 15), 0.5, torch.tensor([0, 1])), ValueError, "x", "(2, 15)"),
    Case(
        "text-encoder-ids",
        lambda: models.TextEncoder(5, out_dim=2, embed_dim=2, hidden=2)(torch.tensor([[0, -1]])),
        ValueError,
        "tokens",
        "-1",
    ),
    Case("ngram-alpha", lambda: models.NGramModel(3, 1, alpha=0.0), ValueError, "alpha", "0"),
    # -- train ------------------------------------------------------------------------------------------------------
    Case("fit-steps", lambda: train.fit(models.MLP(2, 1), _score, _t(8, 2), steps=-1), ValueError, "steps", "-1"),
    Case("fit-lr", lambda: train.fit(models.MLP(2, 1), _score, _t(8, 2), steps=1, lr=0.0), ValueError, "lr", "0"),
    Case("fit-model", lambda: train.fit(lambda x: x, _score, _t(8, 2), steps=1), TypeError, "model", "function"),
    Case("fit-data", lambda: train.fit(models.MLP(2, 1), _score, 3.5, steps=1, device="cpu"), TypeError, "data", "3.5"),
    Case(
        "fit-scheduler",
        lambda: train.fit(models.MLP(2, 1), _score, _t(8, 2), steps=1, scheduler="linear"),
        ValueError,
        "scheduler",
        "'linear'",
    ),
    Case(
        "fit-loss-not-scalar",
        lambda: train.fit(models.MLP(2, 1), lambda m, b: m(b), _t(8, 2), steps=1, device="cpu", progress=False),
        TypeError,
        "loss_fn",
        "(8, 1)",
    ),
    Case("minibatches-mismatch", lambda: train.minibatches((_t(8, 2), _t(7)), 4), ValueError, "tensors", "7"),
    Case("minibatches-empty", lambda: train.minibatches(_t(0, 2), 4), ValueError, "tensors", "empty"),
    Case("minibatches-size", lambda: train.minibatches(_t(8, 2), 0), ValueError, "batch_size", "0"),
    Case(
        "fit-judge-labels", lambda: recipes.fit_judge(_t(4, 1, 8, 8), TARGET.float()), ValueError, "y_train", "float32"
    ),
    Case("fit-judge-negative", lambda: recipes.fit_judge(_t(4, 1, 8, 8), -TARGET), ValueError, "y_train", "[-2, 0]"),
    # -- distributed ------------------------------------------------------------------------------------------------
    Case("gather-non-tensor", lambda: distributed.all_gather_with_grad([1.0]), TypeError, "t", "list"),
    Case("gather-0d", lambda: distributed.all_gather_with_grad(torch.tensor(1.0)), ValueError, "t", "()"),
    Case("gather-demo-world", lambda: distributed.run_gather_demo(world_size=0), ValueError, "world_size", "0"),
    Case("gather-demo-tau", lambda: distributed.run_gather_demo(temperature=-1.0), ValueError, "temperature", "-1"),
    # -- viz --------------------------------------------------------------------------------------------------------
    Case("grid-n", lambda: viz.grid_2d(6.0, 1), ValueError, "n", "1"),
    Case("grid-lim", lambda: viz.grid_2d(-1.0), ValueError, "lim", "-1"),
    Case("loss-curve-empty", lambda: viz.plot_loss_curve([]), ValueError, "loss", "[]"),
    Case("loss-curve-text", lambda: viz.plot_loss_curve("0.5, 0.4"), TypeError, "loss", "'0.5, 0.4'"),
    Case(
        "vector-field-none", lambda: viz.plot_vector_field(*viz.grid_2d(1.0, 3)[:2], None), TypeError, "field", "None"
    ),
    Case("vector-field-grid", lambda: viz.plot_vector_field("xx", "yy", _t(9, 2)), TypeError, "xx", "'xx'"),
    Case("bars-2d", lambda: viz.plot_probability_bars(_probs()), ValueError, "probs", "(4, 3)"),
    Case("circle-3d", lambda: viz.plot_circle_embeddings(_t(4, 3)), ValueError, "z", "(4, 3)"),
    Case("similarity-1d", lambda: viz.plot_similarity_matrix(_t(4)), ValueError, "similarity", "(4,)"),
    # -- widgets' compute functions ---------------------------------------------------------------------------------
    Case("softmax-tau", lambda: widgets.softmax_temperature([1.0, 2.0], 0.0, 0), ValueError, "temperature", "0"),
    Case("softmax-label", lambda: widgets.softmax_temperature([1.0, 2.0], 1.0, 2), ValueError, "label", "2"),
    Case("softmax-2d", lambda: widgets.softmax_temperature([[1.0, 2.0]], 1.0, 0), ValueError, "logits", "[[1.0, 2.0]]"),
    Case(
        "contrastive-square", lambda: widgets.contrastive_temperature(_t(3, 4), 0.1), ValueError, "similarity", "(3, 4)"
    ),
    Case("contrastive-tau", lambda: widgets.contrastive_temperature(_t(3, 3), -0.1), ValueError, "temperature", "-0.1"),
    Case("calibration-tau", lambda: widgets.calibration(LOGITS, TARGET, 0.0, 0.0), ValueError, "temperature", "0"),
    Case("calibration-shape", lambda: widgets.calibration(LOGITS, TARGET[:3], 1.0, 0.0), ValueError, "labels", "(3,)"),
    Case("mixture-field-std", lambda: widgets.mixture_field(0.5, 3.0, 0.0), ValueError, "std", "0"),
    Case("langevin-run-step", lambda: widgets.langevin_run(0.0, 5, MIXTURE, n_chains=4), ValueError, "step_size", "0"),
    Case(
        "forward-kind",
        lambda: widgets.forward_marginal(0.5, "VP quadratic", MIXTURE),
        ValueError,
        "kind",
        "'VP quadratic'",
    ),
    Case("forward-t", lambda: widgets.forward_marginal(1.5, "VE", MIXTURE), ValueError, "t", "1.5"),
    Case("run-sampler-name", lambda: widgets.run_sampler("Euler", 10, MIXTURE), ValueError, "sampler", "'Euler'"),
    Case("run-sampler-steps", lambda: widgets.run_sampler("DDPM", 0, MIXTURE), ValueError, "n_steps", "0"),
    Case("mi-staircase-n", lambda: widgets.mi_staircase(1, 1.0), ValueError, "n", "1"),
    Case("tradeoff-source", lambda: widgets.sampling_tradeoff(GPT, "markov", 1.0), TypeError, "source", "'markov'"),
    Case("tradeoff-tau", lambda: widgets.sampling_tradeoff(GPT, MARKOV, 0.0), ValueError, "temperature", "0"),
    Case("tradeoff-seed", lambda: widgets.sampling_tradeoff(GPT, MARKOV, 1.0, seed="0"), TypeError, "seed", "'0'"),
    Case("langevin-run-mixture", lambda: widgets.langevin_run(0.01, 5, "ring"), TypeError, "mixture", "'ring'"),
    Case("langevin-run-seed", lambda: widgets.langevin_run(0.01, 5, MIXTURE, seed=-1), ValueError, "seed", "-1"),
    Case(
        "langevin-run-start",
        lambda: widgets.langevin_run(0.01, 5, MIXTURE, start_lim=-2.0),
        ValueError,
        "start_lim",
        "-2",
    ),
    Case("score-error-fn", lambda: widgets.score_error("net", MIXTURE, 0.5), TypeError, "score_fn", "'net'"),
    Case("score-error-mixture", lambda: widgets.score_error(_score, None, 0.5), TypeError, "mixture", "None"),
    Case("score-error-grid", lambda: widgets.score_error(_score, MIXTURE, 0.5, n_grid=1), ValueError, "n_grid", "1"),
    Case("forward-mixture", lambda: widgets.forward_marginal(0.5, "VE", [1, 2]), TypeError, "mixture", "[1, 2]"),
    Case("mi-staircase-mis", lambda: widgets.mi_staircase(8, 1.0, mis="2, 4"), TypeError, "mis", "'2, 4'"),
    Case("mi-staircase-mis-nan", lambda: widgets.mi_staircase(8, 1.0, mis=(2.0, np.nan)), ValueError, "mis[1]", "nan"),
    Case("mi-staircase-seed", lambda: widgets.mi_staircase(8, 1.0, seed=1.5), TypeError, "seed", "1.5"),
    Case("check-prior-range", lambda: sampling.check_prior(-0.5), ValueError, "alpha_bar_K", "-0.5"),
    Case("grid-lim-type", lambda: viz.grid_2d("big"), TypeError, "lim", "'big'"),
    Case("clip-loss-batch", lambda: recipes.clip_loss(CLIP, _t(2, 1, 8, 8)), TypeError, "batch", "(2, 1, 8, 8)"),
    Case(
        "class-diffusion-labels",
        lambda: recipes.fit_class_diffusion(_t(4, 1, 4, 4), [0, 1, 2, 3], VP, steps=1),
        ValueError,
        "labels",
        "[0, 1, 2, 3]",
    ),
]


def test_the_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_a_clear_error(case: Case) -> None:
    with pytest.raises(case.error) as info:
        case.call()
    message = str(info.value)
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(case.name)}(?![A-Za-z0-9_])", message), (
        f"the message does not name the argument {case.name!r}: {message!r}"
    )
    assert "must" in message or "expected" in message, f"the message does not say what was expected: {message!r}"
    assert case.given in message, f"the message does not show what was given ({case.given!r}): {message!r}"
