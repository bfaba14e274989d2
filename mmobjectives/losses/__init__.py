"""The four objectives and their variants. Each loss is written once, here, with its formula in the docstring and
the notebook section that derives it. Signatures follow ``torch.nn.functional``: tensors first, keyword-only
options, ``reduction="mean" | "sum" | "none"``.

* contrastive (notebook 01): :func:`info_nce`, :func:`info_nce_logits`, :func:`sigmoid_contrastive`
* cross-entropy (notebook 02): :func:`cross_entropy`, :func:`sequence_cross_entropy`
* score matching (notebooks 03, 04): :func:`score_matching`, :func:`sliced_score_matching`,
  :func:`denoising_score_matching`
* diffusion (notebook 04): :func:`noise_conditional_dsm`, :func:`eps_prediction_loss`
* autoregressive (notebook 05): :func:`autoregressive_nll` (its split by modality is a measurement:
  :func:`mmobjectives.metrics.nll_by_modality`)

Shared validation lives in ``_checks`` (reductions, index tensors) and the private ``_common`` (points, score calls,
noise, logits, class-index targets).
"""

from .autoregressive import autoregressive_nll
from .contrastive import info_nce, info_nce_logits, sigmoid_contrastive
from .cross_entropy import cross_entropy, sequence_cross_entropy
from .diffusion import eps_prediction_loss, noise_conditional_dsm
from .score import denoising_score_matching, score_matching, sliced_score_matching

__all__ = [
    "autoregressive_nll",
    "cross_entropy",
    "denoising_score_matching",
    "eps_prediction_loss",
    "info_nce",
    "info_nce_logits",
    "noise_conditional_dsm",
    "score_matching",
    "sequence_cross_entropy",
    "sigmoid_contrastive",
    "sliced_score_matching",
]
