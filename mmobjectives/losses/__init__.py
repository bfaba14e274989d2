"""The four objectives and their variants. Each loss is written once, here, with its formula in the docstring and
the notebook section that derives it. Signatures follow ``torch.nn.functional``: tensors first, keyword-only
options, ``reduction="mean" | "sum" | "none"``.

* contrastive (notebook 01): :func:`info_nce`, :func:`info_nce_logits`, :func:`sigmoid_contrastive`
"""

from .contrastive import info_nce, info_nce_logits, sigmoid_contrastive

__all__ = ["info_nce", "info_nce_logits", "sigmoid_contrastive"]
