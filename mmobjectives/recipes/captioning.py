"""Cross-entropy on paired digits: the captioner with teacher forcing and the VQA answer head (notebooks 02, 07)."""

from __future__ import annotations

import torch
from torch import nn

from .. import data, losses, models, train
from .._checks import describe
from ._train import _check_pairs, _Run, _train


def fit_captioner(
    pairs: data.PairedDigits,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 3e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.Captioner, train.History]:
    """The CE captioner (notebook 02, section 5): teacher forcing, ``sequence_cross_entropy`` of
    ``tokens[:, 1:]`` given ``tokens[:, :-1]`` and the image, padding ignored."""
    pairs = _check_pairs(pairs)
    pad = pairs.tokenizer.pad_id
    captioner = models.Captioner(pairs.tokenizer.vocab_size, image_size=pairs.images_train.shape[-1])

    def caption_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, tokens = batch
        return losses.sequence_cross_entropy(model(images, tokens[:, :-1]), tokens[:, 1:], ignore_index=pad)

    run = _Run(steps, batch_size, lr, generator, device, desc="captioner", settings={"pad": pad})
    return _train("fit_captioner", captioner, caption_loss, (pairs.images_train, pairs.tokens_train), run)


def fit_vqa(
    qa: data.DigitQuestions,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 2e-3,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[models.VQAModel, train.History]:
    """The VQA answer head (notebook 02, section 6): cross-entropy over the answer vocabulary."""
    if not isinstance(qa, data.DigitQuestions):
        raise TypeError(f"qa must be a data.DigitQuestions (from data.digit_questions), got {describe(qa)}")
    vqa = models.VQAModel(qa.tokenizer.vocab_size, len(qa.answer_vocab), image_size=qa.images_train.shape[-1])
    run = _Run(steps, batch_size, lr, generator, device, desc="VQA")
    tensors = (qa.images_train, qa.question_tokens_train, qa.answers_train)
    return _train("fit_vqa", vqa, lambda m, b: losses.cross_entropy(m(b[0], b[1]), b[2]), tensors, run)
