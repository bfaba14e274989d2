r"""The composed system (notebook 07): a caption → images from the text-conditioned diffusion model and from the
multimodal GPT → captions back, scored by CLIP. Pure compute behind ``widgets.system``."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import metrics, models, recipes, sampling
from .._checks import check_int, check_real, describe

__all__ = ["RoundTrip", "System", "round_trip"]


@dataclass(frozen=True)
class System:
    """Notebook 07's trained parts, passed around as one: CLIP, the CLIP-conditioned diffusion model and its
    schedule, the multimodal GPT with its sequence vocabulary, and the CE captioner that reads images back."""

    clip: models.DualEncoder
    diffusion: models.TextConditionedEpsNet
    schedule: sampling.VPSchedule
    gpt: models.TinyGPT
    sequences: recipes.MultimodalSequences
    captioner: models.Captioner

    def __post_init__(self) -> None:
        expected = {
            "clip": models.DualEncoder,
            "diffusion": models.TextConditionedEpsNet,
            "schedule": sampling.VPSchedule,
            "gpt": models.TinyGPT,
            "sequences": recipes.MultimodalSequences,
            "captioner": models.Captioner,
        }
        for name, kind in expected.items():
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise TypeError(f"{name} must be a {kind.__module__}.{kind.__qualname__}, got {describe(value)}")


@dataclass(frozen=True)
class RoundTrip:
    """One caption turned into images two ways, each image captioned back and scored by CLIP."""

    caption: str
    w: float
    diffusion_images: torch.Tensor
    gpt_images: torch.Tensor
    diffusion_captions: list[str]
    gpt_captions: list[str]
    diffusion_clip: float
    gpt_clip: float


def round_trip(
    caption: str,
    w: float,
    seed: int,
    *,
    system: System,
    n: int = 4,
    n_steps: int = 200,
) -> RoundTrip:
    r"""Text → image → text (notebook 07's widget): ``n`` images from the CLIP-conditioned diffusion model (guidance
    ``w``, ``recipes.sample_text_to_image``) and ``n`` from the multimodal GPT, each captioned back by the CE captioner, and the mean CLIP score
    (``metrics.clip_score``) of each set of images against the caption."""
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError(f"caption must be a non-empty str, got {caption!r}")
    w = check_real(w, "w")  # >= 0 is checked by sampling.sample_guided
    n = check_int(n, "n", minimum=1)
    if not isinstance(system, System):
        raise TypeError(f"system must be an experiments.System (the trained parts), got {describe(system)}")
    clip, diffusion, schedule, gpt = system.clip, system.diffusion, system.schedule, system.gpt
    sequences, captioner = system.sequences, system.captioner
    g = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    tokenizer = sequences.vocab.text
    tokens = tokenizer.encode([caption])
    with torch.no_grad():
        cond = recipes.text_embeddings(clip, tokens).expand(n, -1)
        diffusion_images = recipes.sample_text_to_image(diffusion, cond, schedule, w=w, n_steps=n_steps, generator=g)
        gpt_images = recipes.generate_images(gpt, sequences, tokens.expand(n, -1), generator=g)
        back = [tokenizer.decode(captioner.generate(x, max_len=16)) for x in (diffusion_images, gpt_images)]
        scores = [float(metrics.clip_score(clip.encode_a(x), cond).mean()) for x in (diffusion_images, gpt_images)]
    return RoundTrip(
        caption=tokenizer.normalize(caption),
        w=w,
        diffusion_images=diffusion_images,
        gpt_images=gpt_images,
        diffusion_captions=back[0],
        gpt_captions=back[1],
        diffusion_clip=scores[0],
        gpt_clip=scores[1],
    )
