r"""Small ``nn.Module``\ s the notebooks train: one module per family, each readable in one sitting.

* ``models.mlp`` — :class:`MLP`, the building block of the others. Notebooks 00–03, 06.
* ``models.encoders`` — :class:`ImageEncoder`, :class:`TextEncoder`, :class:`DualEncoder` (CLIP) and
  :class:`SeparableCritic` (InfoNCE's MI estimate). Notebooks 01, 02, 06, 07.
* ``models.captioning`` — :class:`Captioner` (image → caption) and :class:`VQAModel` (image + question → answer).
  Notebooks 02, 06, 07.
* ``models.diffusion`` — :class:`ScoreNet`, the conditional noise predictors :class:`ConditionalEpsNet` and
  :class:`TextConditionedEpsNet` (one shared base), and :func:`classifier_free_guidance`. Notebooks 03, 04, 06, 07.
* ``models.gpt`` — :class:`TinyGPT` (a nanoGPT-sized causal transformer) and :class:`NGramModel` (the count
  baseline). Notebooks 05, 06, 07.

Import from here (``from mmobjectives.models import TinyGPT``, or ``models.TinyGPT``); the submodules are where
to read the code.
"""

from __future__ import annotations

from .captioning import Captioner, VQAModel
from .diffusion import ConditionalEpsNet, ScoreNet, TextConditionedEpsNet, classifier_free_guidance
from .encoders import DualEncoder, ImageEncoder, SeparableCritic, TextEncoder
from .gpt import NGramModel, TinyGPT
from .mlp import MLP

__all__ = [
    "MLP",
    "Captioner",
    "ConditionalEpsNet",
    "DualEncoder",
    "ImageEncoder",
    "NGramModel",
    "ScoreNet",
    "SeparableCritic",
    "TextConditionedEpsNet",
    "TextEncoder",
    "TinyGPT",
    "VQAModel",
    "classifier_free_guidance",
]
