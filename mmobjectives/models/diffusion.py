r"""Score and noise-prediction networks for score matching and diffusion: notebooks 03, 04, 06 and 07.

* :class:`ScoreNet` — :math:`s_\theta(x)` or :math:`s_\theta(x, \sigma)` for low-dimensional data (03, 04).
* :class:`ConditionalEpsNet` — :math:`\hat\varepsilon_\theta(x_t, t, c)` with a class label :math:`c` (04, 06).
* :class:`TextConditionedEpsNet` — :math:`\hat\varepsilon_\theta(x_t, t, e)` with a text embedding :math:`e` (07).

The two conditional ε-nets differ only in what a condition is; everything else (time features, the network,
condition dropping, guided prediction) is written once in their base class :class:`_GuidedEpsNet`, and the
guidance formula once in :func:`classifier_free_guidance`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._checks import (
    check_generator,
    check_index_range,
    check_index_tensor,
    check_int,
    check_real,
    check_same_device,
    describe,
)
from .mlp import MLP

__all__ = ["ConditionalEpsNet", "ScoreNet", "TextConditionedEpsNet", "classifier_free_guidance"]


def classifier_free_guidance(
    cond: torch.Tensor, uncond: torch.Tensor, w: float, *, names: tuple[str, str] = ("cond", "uncond")
) -> torch.Tensor:
    r"""Classifier-free guidance (Ho & Salimans 2022): mix a conditional and an unconditional prediction. Notebook 04.

    .. math::
        \tilde s = (1+w)\,s(x,t,c) - w\,s(x,t,\varnothing) = s(x,t,c) + w\,\big(s(x,t,c) - s(x,t,\varnothing)\big).

    One network trained with the condition :math:`c` randomly dropped to :math:`\varnothing` gives both terms.
    By Bayes, :math:`\nabla_x\log p(c\mid x) = s(x,t,c) - s(x,t,\varnothing)`, so :math:`\tilde s` is the score of
    :math:`p(x\mid c)\,p(c\mid x)^{w}`: sharper and more typical of :math:`c` for :math:`w > 0`; ``w = 0`` gives
    ``cond``, ``w = -1`` gives ``uncond``. The formula is linear, and :math:`\hat\varepsilon = -\sigma s`, so the
    same line guides ε predictions:

    .. math::
        \tilde\varepsilon = (1+w)\,\hat\varepsilon(x,t,c) - w\,\hat\varepsilon(x,t,\varnothing).

    Args:
        cond: the conditional score or ε prediction, a floating tensor.
        uncond: the unconditional one (condition :math:`\varnothing`), same shape and device.
        w: the guidance strength, a finite real number.
        names: what to call ``cond`` and ``uncond`` in error messages (e.g. ``("score_cond", "score_uncond")``).

    Raises TypeError for a non-tensor or non-floating input or a ``w`` that is not a number, ValueError for
    mismatched shapes or devices or a non-finite ``w``.
    """
    cond_name, uncond_name = names
    for value, name in ((cond, cond_name), (uncond, uncond_name)):
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {describe(value)}")
    if cond.shape != uncond.shape:
        raise ValueError(f"{uncond_name} must have {cond_name}'s shape {tuple(cond.shape)}, got {tuple(uncond.shape)}")
    check_same_device(uncond, uncond_name, cond, cond_name)
    w = check_real(w, "w")
    return (1 + w) * cond - w * uncond  # (1+w)·cond − w·uncond


def _fourier_features(values: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    r"""(N,) values → (N, 2K) features :math:`[\sin(\omega_k v), \cos(\omega_k v)]_{k=1..K}`: how the networks
    here see a diffusion time or a noise level."""
    angles = values[:, None] * frequencies.to(values.dtype)  # (N, K)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (N, 2K)


class ScoreNet(nn.Module):
    r"""An MLP score model :math:`s_\theta(x) \approx \nabla_x\log p(x)` for low-dimensional data. Notebooks 03, 04.

    Unconditional: ``forward(x)``. Noise-conditional (``noise_conditional=True``): ``forward(x, sigma)`` with
    :math:`\sigma` a float or an (N,) tensor, fed in as Fourier features of :math:`\log\sigma`; the output is
    divided by :math:`\sigma` (the score of noise of scale :math:`\sigma` is of order :math:`1/\sigma`, so the
    network itself predicts an O(1) quantity, like :math:`-\varepsilon`). SiLU activations keep :math:`s_\theta`
    smooth, which Hyvärinen's objective (it differentiates :math:`s_\theta`) needs.
    """

    def __init__(
        self,
        dim: int = 2,
        hidden: int = 128,
        n_layers: int = 3,
        *,
        noise_conditional: bool = False,
        n_fourier: int = 8,
    ) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=1)
        self.noise_conditional = bool(noise_conditional)
        n_layers = check_int(n_layers, "n_layers", minimum=1)
        self.n_fourier = check_int(n_fourier, "n_fourier", minimum=1)
        extra = 2 * self.n_fourier if self.noise_conditional else 0
        if self.noise_conditional:
            self.register_buffer("frequencies", torch.arange(1, self.n_fourier + 1, dtype=torch.float32) * 0.5)
        self.net = MLP(self.dim + extra, self.dim, (check_int(hidden, "hidden", minimum=1),) * n_layers, "silu")

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must be a (N, {self.dim}) tensor, got {describe(x)}")
        if not self.noise_conditional:
            return self.net(x)  # (N, D)
        if sigma is None:
            raise ValueError("sigma is required: this ScoreNet is noise-conditional (forward(x, sigma))")
        sig = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sig.dim() == 0:
            sig = sig.expand(x.shape[0])
        if sig.shape != (x.shape[0],):
            raise ValueError(f"sigma must be a float or an ({x.shape[0]},) tensor, got {describe(sigma)}")
        if not bool((sig > 0).all()) or not bool(torch.isfinite(sig).all()):
            raise ValueError(f"sigma must be finite and > 0, got values in [{float(sig.min())}, {float(sig.max())}]")
        features = torch.cat([x, _fourier_features(torch.log(sig), self.frequencies)], dim=1)  # (N, D + 2K)
        return self.net(features) / sig[:, None]  # s = net / σ, (N, D)


def _diffusion_times(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``t`` (a float or (N,) tensor in [0, 1]) as an (N,) tensor of x's dtype and device, N = ``len(x)``."""
    n = x.shape[0]
    tt = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if tt.dim() == 0:
        tt = tt.expand(n)
    if tt.shape != (n,):
        raise ValueError(f"t must be a float or an ({n},) tensor of times in [0, 1], got {describe(t)}")
    if not bool(torch.isfinite(tt).all()) or (n and not bool(((tt >= 0) & (tt <= 1)).all())):
        raise ValueError(f"t must lie in [0, 1], got values in [{float(tt.min())}, {float(tt.max())}]")
    return tt


class _GuidedEpsNet(nn.Module):
    r"""The shared body of the conditional noise predictors :math:`\hat\varepsilon_\theta(x_t, t, c)`.

    An MLP (SiLU, ``n_layers`` hidden layers of width ``hidden``) over the concatenation of the flattened noisy
    input, Fourier features :math:`\sin(\pi k t), \cos(\pi k t)` (:math:`k = 1, \dots,` ``time_features``/2) of
    the diffusion time and ``cond_dim`` features of the condition. Training drops the condition to the null
    condition :math:`\varnothing` with probability ``p_uncond`` (:meth:`drop_conditions`); sampling mixes both
    predictions with :func:`classifier_free_guidance` (:meth:`guided_eps`).

    A subclass says what a condition is: :meth:`_check_condition`, :meth:`_condition_features` and
    :meth:`_null_condition`. ``data_dim=D`` makes it a noise predictor for (N, D) vectors instead of images
    (``image_size`` is then ignored).
    """

    def __init__(
        self,
        cond_dim: int,
        image_size: int = 8,
        hidden: int = 256,
        n_layers: int = 3,
        time_features: int = 16,
        p_uncond: float = 0.1,
        *,
        data_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.cond_dim = check_int(cond_dim, "cond_dim", minimum=1)
        self.image_size = check_int(image_size, "image_size", minimum=1)
        self.data_dim = None if data_dim is None else check_int(data_dim, "data_dim", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        n_layers = check_int(n_layers, "n_layers", minimum=1)
        time_features = check_int(time_features, "time_features", minimum=2)
        if time_features % 2:
            raise ValueError(f"time_features must be even (a sine and a cosine per frequency), got {time_features}")
        self.p_uncond = check_real(p_uncond, "p_uncond")
        if not 0 <= self.p_uncond <= 1:
            raise ValueError(f"p_uncond must be in [0, 1], got {self.p_uncond}")
        self.dim = self.image_size**2 if self.data_dim is None else self.data_dim
        self.register_buffer("frequencies", math.pi * torch.arange(1, time_features // 2 + 1, dtype=torch.float32))
        self.net = MLP(self.dim + time_features + self.cond_dim, self.dim, (hidden,) * n_layers, "silu")

    @staticmethod
    def to_model_space(pixels: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1] → model space [-1, 1]: ``2 * pixels - 1``."""
        return 2 * pixels - 1

    @staticmethod
    def to_pixel_space(x: torch.Tensor) -> torch.Tensor:
        """Model space → pixels: ``(x + 1) / 2`` clipped to [0, 1] (samples overshoot a little)."""
        return ((x + 1) / 2).clamp(0, 1)

    # -- what a condition is: the subclass's part ------------------------------------------------------------------
    def _check_condition(self, cond: Any, n: int | None = None) -> torch.Tensor:
        """``cond`` checked (one condition per row, ``n`` rows when given), ready for the network."""
        raise NotImplementedError

    def _condition_features(self, cond: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(N, cond_dim) features of checked conditions, on x's device."""
        raise NotImplementedError

    def _null_condition(self, cond: torch.Tensor) -> torch.Tensor:
        r"""The null condition :math:`\varnothing` ("no prompt"), shaped like ``cond``."""
        raise NotImplementedError

    # -- written once for every condition ----------------------------------------------------------------------------
    def _check_x(self, x: Any) -> torch.Tensor:
        size = self.image_size
        shapes = ((self.dim,),) if self.data_dim is not None else ((1, size, size), (self.dim,))
        expected = " or ".join("(N, " + ", ".join(map(str, shape)) + ")" for shape in shapes)
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ValueError(f"x must be a floating {expected} tensor, got {describe(x)}")
        if tuple(x.shape[1:]) not in shapes:
            raise ValueError(f"x must be a {expected} tensor, got {describe(x)}")
        return x

    def forward(self, x: torch.Tensor, t: float | torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat\varepsilon_\theta(x_t, t, c)`, shaped like ``x``."""
        n = self._check_x(x).shape[0]
        tt = _diffusion_times(t, x)  # (N,)
        cond = self._check_condition(cond, n)
        features = [x.reshape(n, self.dim), _fourier_features(tt, self.frequencies), self._condition_features(cond, x)]
        return self.net(torch.cat(features, dim=1)).reshape(x.shape)  # (N, dim + time_features + cond_dim) -> x

    def guided_eps(self, x: torch.Tensor, t: float | torch.Tensor, cond: torch.Tensor, w: float = 0.0) -> torch.Tensor:
        r"""Classifier-free guided noise prediction
        :math:`(1+w)\,\hat\varepsilon(x,t,c) - w\,\hat\varepsilon(x,t,\varnothing)` (:func:`classifier_free_guidance`;
        ``w = 0``: plain conditional; one batched call of the network for both terms)."""
        w = check_real(w, "w")
        n = self._check_x(x).shape[0]
        cond = self._check_condition(cond, n)
        if w == 0:
            return self(x, t, cond)
        tt = _diffusion_times(t, x)  # (N,)
        both = self(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond, self._null_condition(cond)]))  # 2N rows
        return classifier_free_guidance(both[:n], both[n:], w)

    def drop_conditions(self, cond: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A copy of ``cond`` with each row replaced by the null condition with probability ``p_uncond``."""
        cond = self._check_condition(cond)
        check_generator(generator)
        drop = torch.rand(cond.shape[0], generator=generator) < self.p_uncond  # (N,), drawn on the CPU
        drop = drop.to(cond.device).view((-1,) + (1,) * (cond.dim() - 1))  # one draw per row, broadcast along it
        return torch.where(drop, self._null_condition(cond), cond)


class ConditionalEpsNet(_GuidedEpsNet):
    r"""A class-conditional noise predictor :math:`\hat\varepsilon_\theta(x_t, t, c)` for small images, trained
    for classifier-free guidance: "text-to-image in miniature" with the prompt a digit class. Notebook 04.

    An MLP (SiLU, ``n_layers`` hidden layers of width ``hidden``) over the concatenation of

    * the flattened noisy image (``image_size``² numbers),
    * Fourier features of the diffusion time :math:`t\in[0, 1]`: :math:`\sin(\pi k t), \cos(\pi k t)`,
      :math:`k = 1, \dots,` ``time_features``/2,
    * a learned embedding of the class label :math:`c\in\{0, \dots, n-1\}` — or of the extra **null label**
      :math:`\varnothing` = ``n_classes`` (index :math:`n`), which stands for "no prompt".

    **Classifier-free guidance** (Ho & Salimans 2022). Train one network on both tasks by replacing the label
    with :math:`\varnothing` with probability ``p_uncond`` (:meth:`drop_labels`); at sampling time combine
    :math:`\tilde\varepsilon = (1+w)\,\hat\varepsilon(x,t,c) - w\,\hat\varepsilon(x,t,\varnothing)`
    (:func:`classifier_free_guidance`, which ``sampling.guided_score`` applies to scores; :meth:`guided_eps`
    does it in one call).

    **Pixel scaling.** Diffuse in model space :math:`[-1, 1]`, not in pixel space :math:`[0, 1]`: the VP prior
    :math:`\mathcal N(0, I)` then matches the data's scale and the blank background (0 → -1) is as far from the
    mean as the ink. Use :meth:`to_model_space` before training and :meth:`to_pixel_space` (which clips to
    [0, 1]) on samples.

    ``data_dim=D`` turns it into a conditional noise predictor for (N, D) vectors instead of images (notebook 06
    trains one on 2-D points with ``data_dim=2``; ``image_size`` is then ignored).

    ``forward(x, t, labels)``: ``x`` either (N, 1, H, W) images or (N, H·W) flattened images (what
    ``losses.eps_prediction_loss`` and the samplers of ``mmobjectives.sampling`` hand over); ``t`` a float or
    an (N,) tensor in [0, 1]; ``labels`` (N,) integers in ``[0, n_classes]``. Returns ε̂ shaped like ``x``.
    """

    def __init__(
        self,
        image_size: int = 8,
        n_classes: int = 10,
        hidden: int = 256,
        n_layers: int = 3,
        time_features: int = 16,
        p_uncond: float = 0.1,
        *,
        embed_dim: int = 32,
        data_dim: int | None = None,
    ) -> None:
        n_classes = check_int(n_classes, "n_classes", minimum=1)
        embed_dim = check_int(embed_dim, "embed_dim", minimum=1)
        embed = nn.Embedding(n_classes + 1, embed_dim)  # before the MLP: the order in which weights are drawn
        # the network sees the label's embedding: embed_dim condition features
        super().__init__(embed_dim, image_size, hidden, n_layers, time_features, p_uncond, data_dim=data_dim)
        self.n_classes = n_classes
        self.null_label = n_classes  # the extra embedding row: "no prompt"
        self.embed = embed

    def null_labels(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` copies of the null label :math:`\\varnothing` = ``n_classes``, as a (n,) long tensor."""
        n = check_int(n, "n", minimum=0)
        return torch.full((n,), self.null_label, dtype=torch.long, device=device)

    def drop_labels(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A copy of ``labels`` with each entry replaced by the null label with probability ``p_uncond``."""
        return self.drop_conditions(labels, generator)

    def forward(self, x: torch.Tensor, t: float | torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat\varepsilon_\theta(x_t, t, c)` shaped like ``x``, for ``labels`` (N,) in ``[0, n_classes]``."""
        return super().forward(x, t, labels)

    def guided_eps(
        self, x: torch.Tensor, t: float | torch.Tensor, labels: torch.Tensor, w: float = 0.0
    ) -> torch.Tensor:
        r"""Classifier-free guided noise prediction
        :math:`(1+w)\,\hat\varepsilon(x,t,c) - w\,\hat\varepsilon(x,t,\varnothing)` with :math:`c` = ``labels``
        (``w = 0``: plain conditional; one batched call of the network for both terms)."""
        return super().guided_eps(x, t, labels, w)

    def _check_condition(self, labels: Any, n: int | None = None) -> torch.Tensor:
        check_index_tensor(labels, "labels", what="class labels", layout="(N,)", ndim=1, error=ValueError)
        if n is not None and labels.shape[0] != n:
            raise ValueError(f"labels must hold one class per image ({n} images), got {labels.shape[0]}")
        what = f"class labels (the null label {self.null_label} included)"
        return check_index_range(labels, "labels", self.n_classes + 1, what=what).long()

    def _condition_features(self, labels: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.embed(labels.to(x.device))  # (N, embed_dim)

    def _null_condition(self, labels: torch.Tensor) -> torch.Tensor:
        return torch.full_like(labels, self.null_label)


class TextConditionedEpsNet(_GuidedEpsNet):
    r"""A noise predictor :math:`\hat\varepsilon_\theta(x_t, t, e)` conditioned on a text **embedding** :math:`e`
    (a vector, e.g. the CLIP text tower's output) instead of a class label. Notebook 07.

    This is the conditioning adapter of text-to-image diffusion in miniature: Stable Diffusion feeds the frozen
    CLIP text encoder's output to its denoiser; here the (N, ``cond_dim``) embedding is concatenated to the
    flattened noisy image and Fourier features of :math:`t` and fed to an MLP (as in
    :class:`ConditionalEpsNet`). The "no prompt" condition :math:`\varnothing` is the zero vector, so
    classifier-free guidance works as before: :meth:`drop_conditions` zeroes each row with probability
    ``p_uncond`` during training, and :meth:`guided_eps` computes
    :math:`(1+w)\,\hat\varepsilon(x,t,e) - w\,\hat\varepsilon(x,t,0)`.

    ``cond_dim`` is the width of the text embedding; ``image_size``, ``hidden``, ``n_layers``, ``time_features``
    and ``p_uncond`` are as for :class:`ConditionalEpsNet`.
    ``forward(x, t, cond)``: ``x`` (N, 1, H, W) or (N, H·W) in model space [-1, 1]
    (:meth:`ConditionalEpsNet.to_model_space`), ``t`` a float or (N,) times in [0, 1], ``cond`` (N, cond_dim).
    """

    def _check_condition(self, cond: Any, n: int | None = None) -> torch.Tensor:
        if not isinstance(cond, torch.Tensor) or not cond.is_floating_point() or cond.dim() != 2:
            raise ValueError(f"cond must be a floating (N, {self.cond_dim}) tensor of embeddings, got {describe(cond)}")
        if cond.shape[1] != self.cond_dim or (n is not None and cond.shape[0] != n):
            expected = f"({'N' if n is None else n}, {self.cond_dim})"
            raise ValueError(f"cond must have shape {expected}, one embedding per image, got {describe(cond)}")
        if not bool(torch.isfinite(cond).all()):
            raise ValueError("cond must be finite, got NaN or inf values")
        return cond

    def _condition_features(self, cond: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return cond.to(x.device, x.dtype)  # the embedding itself, (N, cond_dim)

    def _null_condition(self, cond: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(cond)
