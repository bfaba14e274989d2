r"""Images as tokens, and image + text in one sequence: the data side of multimodal autoregression. Notebook 05.

**A VQ codebook** (``ImageTokenizer``). Cut each :math:`H \times W` image into non-overlapping
:math:`p \times p` patches :math:`u \in \mathbb R^{p^2}` and fit :math:`K` centroids :math:`c_1, \dots, c_K` with
k-means (scikit-learn), which minimises the squared quantisation error

.. math::
    \sum_{u} \min_k \lVert u - c_k \rVert^2 .

An image becomes the grid of its patches' nearest-centroid indices,
:math:`v_{ij} = \arg\min_k \lVert u_{ij} - c_k \rVert`: :math:`M = (H/p)(W/p)` tokens from a vocabulary of
:math:`K`, and decoding puts :math:`c_{v_{ij}}` back in place. This is the discrete bottleneck of VQ-VAE / VQGAN
image tokenizers with the encoder and decoder reduced to "cut into patches" and "paste patches back".

**One shared vocabulary** (``MultimodalVocabulary``). Text tokens keep their ids from
:class:`~mmobjectives.data.Tokenizer`; four modality markers ``<img> </img> <txt> </txt>`` and the :math:`K`
image codes are appended after them. A pair becomes either

* image first: ``<img> v_1 … v_M </img> <txt> w_1 … w_m </txt>`` (read as: captioning), or
* text first: ``<txt> w_1 … w_m </txt> <img> v_1 … v_M </img>`` (read as: generation),

right-padded with ``<pad>``. Which tokens may come next is fixed by the format alone
(``MultimodalVocabulary.allowed_next``): inside an image only codes, then ``</img>`` after exactly
:math:`M` codes; inside a caption only words or ``</txt>``. Restricting each prediction to that set (a logit mask)
makes every sampled sequence well formed, and makes "nats per image token" and "nats per text token"
cross-entropies over each modality's own vocabulary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._checks import as_image_batch, check_index_range, check_index_tensor, check_int, describe
from .tokenizer import Tokenizer

__all__ = ["ImageTokenizer", "MultimodalVocabulary", "MARKERS"]

MARKERS: tuple[str, ...] = ("<img>", "</img>", "<txt>", "</txt>")
"""The modality markers, in the order their ids follow the text vocabulary."""


def _as_image_batch(images: Any, name: str = "images") -> torch.Tensor:
    """(N, 1, H, W) or (N, H, W) finite floats -> float32 (N, H, W) on the CPU."""
    x = as_image_batch(images, name)
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {tuple(x.shape)}")
    return x.to(torch.float32)


class ImageTokenizer:
    r"""A k-means codebook over :math:`p \times p` image patches: images ↔ grids of token ids. Notebook 05.

    Args:
        patch_size: :math:`p`, the side of a square patch; must divide the image height and width.
        codebook_size: :math:`K`, the number of codes (k-means centroids).

    ``fit(images)`` learns the codebook; ``encode`` maps (N, 1, H, W) images to (N, H/p, W/p) int64 codes in
    :math:`[0, K)`; ``decode`` maps codes back to (N, 1, H, W) images made of centroids. ``flatten`` /
    ``unflatten`` turn a grid into a raster-order sequence of :math:`(H/p)(W/p)` tokens and back::

        tok = ImageTokenizer(patch_size=2, codebook_size=64).fit(digits.x_train, seed=0)
        codes = tok.encode(digits.x_test)          # (360, 4, 4)
        recon = tok.decode(codes)                  # (360, 1, 8, 8)
    """

    def __init__(self, patch_size: int, codebook_size: int) -> None:
        self.patch_size = check_int(patch_size, "patch_size", minimum=1)
        self.codebook_size = check_int(codebook_size, "codebook_size", minimum=1)
        self.codebook: torch.Tensor | None = None
        self.image_size: tuple[int, int] | None = None

    def __repr__(self) -> str:
        state = "fitted" if self.codebook is not None else "not fitted"
        return f"ImageTokenizer(patch_size={self.patch_size}, codebook_size={self.codebook_size}, {state})"

    # -- patches ---------------------------------------------------------------------------------------------

    def _check_size(self, x: torch.Tensor, name: str) -> None:
        h, w = x.shape[-2:]
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(f"{name} must have height and width divisible by patch_size={p}, got {h}×{w}")
        if self.image_size is not None and (h, w) != self.image_size:
            raise ValueError(
                f"{name} must be {self.image_size[0]}×{self.image_size[1]} like the images the codebook was "
                f"fit on, got {h}×{w}"
            )

    def patches(self, images: Any) -> torch.Tensor:
        r"""(N, 1, H, W) images -> (N, H/p, W/p, p·p) patches, each flattened in row order."""
        x = _as_image_batch(images)
        self._check_size(x, "images")
        n, h, w = x.shape
        p = self.patch_size
        return x.reshape(n, h // p, p, w // p, p).permute(0, 1, 3, 2, 4).reshape(n, h // p, w // p, p * p)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(H/p, W/p), the token grid of one image (after ``fit``)."""
        self._require_fit()
        h, w = self.image_size
        return h // self.patch_size, w // self.patch_size

    @property
    def tokens_per_image(self) -> int:
        """:math:`(H/p)(W/p)`, the length of one image's token sequence (after ``fit``)."""
        gh, gw = self.grid_shape
        return gh * gw

    def _require_fit(self) -> None:
        if self.codebook is None or self.image_size is None:
            raise ValueError("this ImageTokenizer has no codebook yet: call fit(images) first")

    # -- fit / encode / decode -----------------------------------------------------------------------------

    def fit(self, images: Any, *, seed: int = 0, max_patches: int | None = 100_000) -> ImageTokenizer:
        r"""Fit the codebook with ``sklearn.cluster.KMeans`` (k-means++, ``n_init=4``, ``random_state=seed``).

        Uses every patch of ``images``, or a random subset of ``max_patches`` of them (chosen with ``seed``).
        Returns ``self``.
        """
        from sklearn.cluster import KMeans  # heavy import, only when a codebook is fit

        seed = check_int(seed, "seed", minimum=0)
        x = _as_image_batch(images)
        p = self.patch_size
        h, w = x.shape[-2:]
        if h % p or w % p:
            raise ValueError(f"images must have height and width divisible by patch_size={p}, got {h}×{w}")
        self.image_size = None  # refitting may change the image size
        self.image_size = (h, w)
        u = self.patches(x).reshape(-1, p * p).double().numpy()
        if max_patches is not None:
            max_patches = check_int(max_patches, "max_patches", minimum=1)
            if len(u) > max_patches:
                u = u[np.random.default_rng(seed).choice(len(u), max_patches, replace=False)]
        distinct = len(np.unique(u, axis=0))
        if distinct < self.codebook_size:
            raise ValueError(
                f"codebook_size must be at most the number of distinct patches ({distinct}) in images, "
                f"got {self.codebook_size}"
            )
        km = KMeans(n_clusters=self.codebook_size, n_init=4, random_state=seed).fit(u)
        centres = torch.as_tensor(km.cluster_centers_, dtype=torch.float32)
        # order the codes by mean intensity (code 0 = the blankest patch): stable, readable ids
        order = torch.argsort(centres.mean(dim=1), stable=True)
        self.codebook = centres[order].contiguous()
        return self

    def encode(self, images: Any) -> torch.Tensor:
        r""":math:`v_{ij} = \arg\min_k \lVert u_{ij} - c_k\rVert`: (N, 1, H, W) images -> (N, H/p, W/p) int64."""
        self._require_fit()
        u = self.patches(images)
        n, gh, gw, d = u.shape
        dist = torch.cdist(u.reshape(-1, d), self.codebook)
        return dist.argmin(dim=1).reshape(n, gh, gw)

    def decode(self, tokens: Any) -> torch.Tensor:
        """(N, H/p, W/p) or raster-order (N, (H/p)(W/p)) codes -> (N, 1, H, W) float32 images of centroids."""
        self._require_fit()
        codes = self._as_codes(tokens)
        n = codes.shape[0]
        gh, gw = self.grid_shape
        p = self.patch_size
        u = self.codebook[codes.reshape(n, gh, gw)]
        return u.reshape(n, gh, gw, p, p).permute(0, 1, 3, 2, 4).reshape(n, 1, gh * p, gw * p)

    def _as_codes(self, tokens: Any) -> torch.Tensor:
        gh, gw = self.grid_shape
        check_index_tensor(tokens, "tokens", what="codes")
        ok_grid = tokens.dim() == 3 and tuple(tokens.shape[1:]) == (gh, gw)
        ok_flat = tokens.dim() == 2 and tokens.shape[1] == gh * gw
        if not (ok_grid or ok_flat):
            raise ValueError(f"tokens must have shape (N, {gh}, {gw}) or (N, {gh * gw}), got {describe(tokens)}")
        return check_index_range(tokens, "tokens", self.codebook_size, what="codes").long().cpu()

    def flatten(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, H/p, W/p) grid -> (N, (H/p)(W/p)) raster order (row by row)."""
        codes = self._as_codes(tokens)
        return codes.reshape(codes.shape[0], -1)

    def unflatten(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, (H/p)(W/p)) raster order -> (N, H/p, W/p) grid."""
        codes = self._as_codes(tokens)
        return codes.reshape(codes.shape[0], *self.grid_shape)

    def reconstruction_error(self, images: Any) -> float:
        """Mean squared error per pixel of ``decode(encode(images))`` against ``images``."""
        x = _as_image_batch(images)
        return float(((self.decode(self.encode(x))[:, 0] - x) ** 2).mean())


class MultimodalVocabulary:
    r"""Text ids, modality markers and image codes in one vocabulary, and the sequences built from them.

    Ids: the text tokenizer's ``0 .. V_txt-1`` (``<pad>`` = 0 pads every sequence; ``V_txt`` is its
    ``vocab_size``), then ``<img> </img> <txt> </txt>`` at ``V_txt .. V_txt+3``, then image code :math:`k` at
    ``V_txt + 4 + k``. Vocabulary size ``V_txt + 4 + K``.

    Args:
        text_tokenizer: the word tokenizer of the captions (:class:`~mmobjectives.data.Tokenizer`).
        codebook_size: :math:`K`, the number of image codes.
        image_tokens: :math:`M`, the number of codes per image (``ImageTokenizer.tokens_per_image``).
    """

    def __init__(self, text_tokenizer: Tokenizer, codebook_size: int, image_tokens: int) -> None:
        if not isinstance(text_tokenizer, Tokenizer):
            raise TypeError(f"text_tokenizer must be a data.Tokenizer, got {describe(text_tokenizer)}")
        self.text = text_tokenizer
        self.codebook_size = check_int(codebook_size, "codebook_size", minimum=1)
        self.image_tokens = check_int(image_tokens, "image_tokens", minimum=1)
        t = text_tokenizer.vocab_size
        self.img, self.end_img, self.txt, self.end_txt = t, t + 1, t + 2, t + 3
        self.image_offset = t + 4
        self.vocab_size = t + 4 + self.codebook_size
        self.pad = Tokenizer.pad_id
        specials = {Tokenizer.pad_id, Tokenizer.bos_id, Tokenizer.eos_id, Tokenizer.unk_id}
        self._word_ids = torch.tensor([i for i in range(t) if i not in specials])

    def __repr__(self) -> str:
        return (
            f"MultimodalVocabulary({self.text.vocab_size} text + 4 markers + {self.codebook_size} image codes "
            f"= {self.vocab_size}; {self.image_tokens} codes per image)"
        )

    # -- which ids belong to what ---------------------------------------------------------------------------

    def modality(self, tokens: torch.Tensor) -> torch.Tensor:
        """Per token: 0 = padding, 1 = text word, 2 = image code, 3 = marker (an int64 tensor like ``tokens``)."""
        tokens = self._check_tokens(tokens, "tokens", dims=(1, 2))
        out = torch.full_like(tokens, 1)
        out[tokens == self.pad] = 0
        out[tokens >= self.image_offset] = 2
        out[(tokens >= self.img) & (tokens < self.image_offset)] = 3
        return out

    def token_names(self, tokens: torch.Tensor) -> list[str]:
        """Readable names of a 1-D sequence: words, ``<img>``-style markers and image codes as ``#k``."""
        tokens = self._check_tokens(tokens, "tokens", dims=(1,))
        names = []
        for i in tokens.tolist():
            if i >= self.image_offset:
                names.append(f"#{i - self.image_offset}")
            elif i >= self.img:
                names.append(MARKERS[i - self.img])
            else:
                names.append(self.text.id_to_token[i])
        return names

    # -- building sequences --------------------------------------------------------------------------------

    def _words(self, text_tokens: torch.Tensor) -> list[list[int]]:
        """Strip ``<bos>``, ``<eos>`` and ``<pad>`` from (N, L) ``Tokenizer.encode`` rows."""
        text_tokens = self._check_tokens(text_tokens, "text_tokens", dims=(2,), high=self.text.vocab_size)
        drop = {Tokenizer.pad_id, Tokenizer.bos_id, Tokenizer.eos_id}
        return [[i for i in row if i not in drop] for row in text_tokens.tolist()]

    def _codes(self, image_codes: torch.Tensor, n: int) -> torch.Tensor:
        check_index_tensor(image_codes, "image_codes", what="codes")
        flat = image_codes.reshape(image_codes.shape[0], -1) if image_codes.dim() == 3 else image_codes
        if flat.dim() != 2 or flat.shape != (n, self.image_tokens):
            raise ValueError(
                f"image_codes must be ({n}, {self.image_tokens}) raster-order codes (or an (N, h, w) grid), "
                f"one row per caption, got {describe(image_codes)}"
            )
        return check_index_range(flat, "image_codes", self.codebook_size, what="codes").long().cpu() + self.image_offset

    def image_first(self, image_codes: torch.Tensor, text_tokens: torch.Tensor) -> torch.Tensor:
        """``<img> codes </img> <txt> words </txt>`` per pair, right-padded with ``<pad>``: int64 (N, L)."""
        words = self._words(text_tokens)
        codes = self._codes(image_codes, len(words)).tolist()
        rows = [[self.img, *c, self.end_img, self.txt, *w, self.end_txt] for c, w in zip(codes, words)]
        return self._pad(rows)

    def text_first(self, text_tokens: torch.Tensor, image_codes: torch.Tensor) -> torch.Tensor:
        """``<txt> words </txt> <img> codes </img>`` per pair, right-padded with ``<pad>``: int64 (N, L)."""
        words = self._words(text_tokens)
        codes = self._codes(image_codes, len(words)).tolist()
        rows = [[self.txt, *w, self.end_txt, self.img, *c, self.end_img] for c, w in zip(codes, words)]
        return self._pad(rows)

    def image_prompt(self, image_codes: torch.Tensor) -> torch.Tensor:
        """``<img> codes </img> <txt>``: (N, M + 3), the prompt that asks for a caption."""
        if not isinstance(image_codes, torch.Tensor) or image_codes.dim() < 2:
            raise TypeError(f"image_codes must be an (N, M) or (N, h, w) integer tensor, got {describe(image_codes)}")
        n = image_codes.shape[0]
        codes = self._codes(image_codes, n)
        head = torch.full((n, 1), self.img)
        tail = torch.tensor([self.end_img, self.txt]).expand(n, 2)
        return torch.cat([head, codes, tail], dim=1)

    def text_prompt(self, text_tokens: torch.Tensor) -> torch.Tensor:
        """``<txt> words </txt> <img>``: (N, m + 3), the prompt that asks for an image.

        A batch of prompts must share one length, so every caption must have the same number of words
        (``m``); group captions by length otherwise."""
        words = self._words(text_tokens)
        lengths = {len(w) for w in words}
        if len(lengths) != 1:
            raise ValueError(
                f"text_tokens must hold captions of one length to form a batch of prompts, got lengths "
                f"{sorted(lengths)}; prompt each length separately"
            )
        return torch.tensor([[self.txt, *w, self.end_txt, self.img] for w in words], dtype=torch.long)

    def _pad(self, rows: list[list[int]]) -> torch.Tensor:
        length = max(len(r) for r in rows)
        out = torch.full((len(rows), length), self.pad, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r)
        return out

    # -- reading sequences back ------------------------------------------------------------------------------

    def caption_of(self, tokens: torch.Tensor) -> list[str]:
        """The words between the first ``<txt>`` and the following ``</txt>`` (or the end) of each row, written as
        ``Tokenizer.decode`` writes them."""
        tokens = self._check_tokens(tokens, "tokens", dims=(2,))
        out = []
        for row in tokens.tolist():
            if self.txt not in row:
                out.append("")
                continue
            words = []
            for i in row[row.index(self.txt) + 1 :]:
                if i == self.end_txt:
                    break
                if i < self.text.vocab_size and i != self.pad:
                    words.append(self.text.id_to_token[i])
            out.append(Tokenizer.join(words))
        return out

    def image_codes_of(self, tokens: torch.Tensor) -> torch.Tensor:
        """The :math:`M` codes after the first ``<img>`` of each row: (N, M) in :math:`[0, K)`."""
        tokens = self._check_tokens(tokens, "tokens", dims=(2,))
        out = torch.empty(tokens.shape[0], self.image_tokens, dtype=torch.long)
        for r, row in enumerate(tokens.tolist()):
            if self.img not in row:
                raise ValueError(f"tokens row {r} has no <img> marker, so no image to read")
            start = row.index(self.img) + 1
            codes = row[start : start + self.image_tokens]
            if len(codes) < self.image_tokens or any(c < self.image_offset for c in codes):
                raise ValueError(
                    f"tokens row {r} must have {self.image_tokens} image codes after <img>, got "
                    f"{self.token_names(torch.tensor(codes))}"
                )
            out[r] = torch.tensor(codes) - self.image_offset
        return out

    def targets(
        self, tokens: torch.Tensor, *, ignore_index: int = -100, score_unprompted_images: bool = False
    ) -> torch.Tensor:
        r"""The scored copy of (N, L) ``tokens`` for ``losses.autoregressive_nll``: ``<pad>`` becomes ``ignore_index``.

        With ``score_unprompted_images=False`` the image codes of *image-first* sequences are not scored either:
        those sequences then teach :math:`p(\text{caption} \mid \text{image})` only, while text-first sequences
        teach :math:`p(\text{image} \mid \text{caption})`. Scoring them as well adds an unconditional image model
        :math:`p(\text{image})` to the same network (notebook 05 explains the trade-off).
        """
        tokens = self._check_tokens(tokens, "tokens", dims=(2,))
        out = tokens.masked_fill(tokens == self.pad, ignore_index)
        if not score_unprompted_images:
            image_first = tokens[:, :1] == self.img
            out = out.masked_fill(image_first & (tokens >= self.image_offset), ignore_index)
        return out

    # -- the grammar: which token may come next --------------------------------------------------------------

    def allowed_next(self, tokens: torch.Tensor) -> torch.Tensor:
        r"""(N, L) sequences -> (N, L, V) bool: ``[:, t]`` is the set of tokens that may follow ``tokens[:, :t+1]``.

        After ``<img>`` and fewer than :math:`M` codes: codes only; after :math:`M` codes: ``</img>``.
        After ``<txt>`` or a word: words or ``</txt>``. After a closing marker: the other modality's opening
        marker if that modality has not appeared yet, else ``<pad>``. After ``<pad>``: ``<pad>``.
        """
        tokens = self._check_tokens(tokens, "tokens", dims=(2,))
        n, length = tokens.shape
        v = self.vocab_size
        mask = torch.zeros(n, length, v, dtype=torch.bool, device=tokens.device)
        codes = torch.zeros(v, dtype=torch.bool, device=tokens.device)
        codes[self.image_offset :] = True
        words = torch.zeros(v, dtype=torch.bool, device=tokens.device)
        words[self._word_ids.to(tokens.device)] = True
        words[self.end_txt] = True
        seen_img = torch.zeros(n, dtype=torch.bool, device=tokens.device)
        seen_txt = torch.zeros_like(seen_img)
        count = torch.zeros(n, dtype=torch.long, device=tokens.device)
        in_img = torch.zeros_like(seen_img)
        in_txt = torch.zeros_like(seen_img)
        for t in range(length):
            tok = tokens[:, t]
            opened_img, opened_txt = tok == self.img, tok == self.txt
            seen_img |= opened_img
            seen_txt |= opened_txt
            in_img = (in_img | opened_img) & (tok != self.end_img)
            in_txt = (in_txt | opened_txt) & (tok != self.end_txt)
            count = torch.where(opened_img, 0, count + (tok >= self.image_offset).long())
            m = mask[:, t]
            m[in_img & (count < self.image_tokens)] = codes
            m[in_img & (count >= self.image_tokens), self.end_img] = True
            m[in_txt] = words
            closed = ~in_img & ~in_txt
            m[closed & (tok == self.end_img) & ~seen_txt, self.txt] = True
            m[closed & (tok == self.end_txt) & ~seen_img, self.img] = True
            done = closed & ~(((tok == self.end_img) & ~seen_txt) | ((tok == self.end_txt) & ~seen_img))
            m[done, self.pad] = True
        return mask

    def mask_logits(
        self, logits: torch.Tensor, tokens: torch.Tensor, allowed: torch.Tensor | None = None
    ) -> torch.Tensor:
        r"""Give the tokens that may not come next a logit so low their probability is exactly 0.

        ``logits[:, t]`` predicts token t+1. The fill value is half the most negative finite number of the
        dtype rather than :math:`-\infty`, so the losses (which reject non-finite logits) accept the result and
        ``softmax`` still gives those tokens probability 0. Pass ``allowed = allowed_next(tokens)`` computed once
        (e.g. for a whole training set) to skip recomputing it.
        """
        if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or logits.shape[-1] != self.vocab_size:
            raise ValueError(f"logits must be (N, L, {self.vocab_size}), got {describe(logits)}")
        if tuple(tokens.shape) != tuple(logits.shape[:2]):
            raise ValueError(f"tokens must have shape {tuple(logits.shape[:2])} like logits, got {describe(tokens)}")
        if allowed is None:
            allowed = self.allowed_next(tokens)
        elif not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool or allowed.shape != logits.shape:
            raise ValueError(f"allowed must be a bool tensor of shape {tuple(logits.shape)}, got {describe(allowed)}")
        return logits.masked_fill(~allowed, torch.finfo(logits.dtype).min / 2)

    def next_token_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, L) prefixes -> (N, V) allowed next tokens: the ``logit_mask`` callable for ``sampling.sample_tokens``."""
        return self.allowed_next(tokens)[:, -1]

    def _check_tokens(self, tokens: Any, name: str, dims: tuple[int, ...], high: int | None = None) -> torch.Tensor:
        high = self.vocab_size if high is None else high
        check_index_tensor(tokens, name, what="token ids")
        if tokens.dim() not in dims:
            raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimension(s), got {describe(tokens)}")
        return check_index_range(tokens, name, high, what="token ids").long()
