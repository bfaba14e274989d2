r"""Training recipes that more than one notebook runs: each is the few lines a notebook derives once, kept here so
that a later notebook reuses the same model instead of a copy of the code.

* :func:`fit_clip` — the dual encoder on paired digits (notebook 01; the judge and text tower of notebook 07);
* :func:`fit_captioner` — the CE captioner with teacher forcing (notebooks 02 and 07);
* :func:`fit_vqa` — the VQA answer head (notebooks 02 and 07);
* :func:`fit_class_diffusion`, :func:`fit_text_to_image` — ε-prediction diffusion (notebooks 04, 06 and 07);
* :func:`multimodal_sequences` and :func:`fit_multimodal_gpt` — one TinyGPT over image tokens and caption words in
  both orders (notebooks 05 and 07);
* :func:`fit_classifier` and :func:`fit_judge` — a digit classifier, and the independent judge of generated
  digits it trains (notebooks 04 to 07);
* :func:`fit_cached` — ``train.fit`` for a notebook's own model, cached the same way (every notebook).

Every recipe takes the step count from the caller (notebooks pick it with ``BUDGET.pick``), a ``generator`` for
the minibatch order and a ``device``, and returns the model in eval mode on the CPU with its ``train.History``
(``fit_judge``: the model alone).

A recipe trains once: the result is cached on disk (``checkpoints``, under ``config.checkpoint_dir()``), and an
identical call later — the same data, settings, generator states, budget, device kind and package — loads it
instead, prints "loaded from cache, trained in N s on DEVICE", and returns the stored history and leaves the
generators where training would. ``MMO_CACHE=0`` turns this off.

Modules: ``contrastive`` (CLIP), ``captioning`` (captioner, VQA), ``diffusion`` (class- and text-conditional),
``multimodal`` (the multimodal GPT), ``judge``, ``cached``; ``_train`` holds the one training call behind them all.
"""

from __future__ import annotations

from .cached import fit_cached
from .captioning import fit_captioner, fit_vqa
from .contrastive import clip_loss, fit_clip, text_embeddings
from .diffusion import fit_class_diffusion, fit_text_to_image, sample_text_to_image
from .judge import fit_classifier, fit_judge
from .multimodal import (
    MultimodalSequences,
    caption_images,
    digits_named,
    fit_multimodal_gpt,
    generate_images,
    multimodal_loss,
    multimodal_sequences,
)

__all__ = [
    "MultimodalSequences",
    "caption_images",
    "clip_loss",
    "digits_named",
    "fit_cached",
    "fit_captioner",
    "fit_classifier",
    "fit_class_diffusion",
    "fit_clip",
    "fit_judge",
    "fit_multimodal_gpt",
    "fit_text_to_image",
    "fit_vqa",
    "generate_images",
    "multimodal_loss",
    "multimodal_sequences",
    "sample_text_to_image",
    "text_embeddings",
]
