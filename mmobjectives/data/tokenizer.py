"""A word-level tokenizer for digit captions and questions, with a vocabulary fixed by the caption grammar.

``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3, then the words of ``captions.VOCABULARY``: the same ids for every
dataset and seed. Used by notebooks 01 (CLIP text encoder), 02 (captioner, VQA) and 05 (multimodal sequences)::

    tok = Tokenizer()
    ids = tok.encode(["a small thick seven"])   # int64 (1, T): <bos> a small thick seven <eos>
    tok.decode(ids)                            # ['a small thick seven']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import torch

from .._checks import check_index_range, check_index_tensor, check_int, describe
from .captions import SPECIAL_TOKENS, VOCABULARY, _join, _split

__all__ = ["Tokenizer"]


class Tokenizer:
    """Word-level tokenizer with a fixed vocabulary: ``<pad>``=0, ``<bos>``=1, ``<eos>``=2, ``<unk>``=3, then
    the grammar's words (``VOCABULARY``) plus any ``extra_words``, sorted.

    Text is lower-cased and split into words and punctuation marks (the comma is a word); unknown words
    become ``<unk>``. ``Tokenizer()`` is the same for every dataset and seed.
    """

    pad_id: ClassVar[int] = 0
    bos_id: ClassVar[int] = 1
    eos_id: ClassVar[int] = 2
    unk_id: ClassVar[int] = 3

    def __init__(self, extra_words: Iterable[str] = ()) -> None:
        if isinstance(extra_words, str) or not isinstance(extra_words, Iterable):
            raise TypeError(f"extra_words must be an iterable of words, got {describe(extra_words)}")
        extra = set()
        for word in extra_words:
            if not isinstance(word, str) or _split(word) != [word]:
                raise ValueError(f"extra_words must hold single lower-case words or punctuation marks, got {word!r}")
            extra.add(word)
        self._id_to_token: tuple[str, ...] = SPECIAL_TOKENS + tuple(sorted(set(VOCABULARY) | extra))
        self._token_to_id = MappingProxyType({t: i for i, t in enumerate(self._id_to_token)})

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def token_to_id(self) -> Mapping[str, int]:
        """Read-only word -> id mapping."""
        return self._token_to_id

    @property
    def id_to_token(self) -> tuple[str, ...]:
        """id -> word, as a tuple indexed by id."""
        return self._id_to_token

    @staticmethod
    def split(text: str) -> list[str]:
        """Lower-case words and punctuation marks: ``"The digit 7, bold"`` -> ``['the', 'digit', '7', ',', 'bold']``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {describe(text)}")
        return _split(text)

    @staticmethod
    def join(words: Iterable[str]) -> str:
        """Words back into text, the inverse of :meth:`split` on normalized text: single spaces, a punctuation mark
        written against the word before it: ``['seven', ',', 'bold']`` -> ``"seven, bold"``."""
        if isinstance(words, str) or not isinstance(words, Iterable):
            raise TypeError(f"words must be a list of strings (as split gives), got {describe(words)}")
        words = list(words)
        for i, word in enumerate(words):
            if not isinstance(word, str):
                raise TypeError(f"words[{i}] must be a str, got {describe(word)}")
        return _join(words)

    @staticmethod
    def normalize(text: str) -> str:
        """The caption as ``decode`` gives it back: its words joined by single spaces, a punctuation mark written
        against the word before it: ``"The digit 7 ,bold"`` -> ``"the digit 7, bold"``."""
        return Tokenizer.join(Tokenizer.split(text))

    def encode(self, captions: Sequence[str], max_len: int | None = None) -> torch.Tensor:
        """``<bos> words <eos>`` per caption, right-padded with ``<pad>``: int64 (B, T).

        T is the longest caption's length, or ``max_len`` (which must fit every caption: a caption is never
        cut silently).
        """
        if isinstance(captions, str) or not isinstance(captions, Sequence):
            raise TypeError(
                f"captions must be a list of strings (wrap one caption in a list), got {describe(captions)}"
            )
        rows = []
        for i, caption in enumerate(captions):
            if not isinstance(caption, str):
                raise TypeError(f"captions[{i}] must be a str, got {describe(caption)}")
            ids = [self._token_to_id.get(w, self.unk_id) for w in _split(caption)]
            rows.append([self.bos_id, *ids, self.eos_id])
        longest = max((len(r) for r in rows), default=2)
        if max_len is None:
            length = longest
        else:
            length = check_int(max_len, "max_len", minimum=2)
            if longest > length:
                raise ValueError(
                    f"max_len must fit the longest caption, which needs {longest} tokens with <bos> and <eos>, "
                    f"got {length}"
                )
        out = torch.full((len(rows), length), self.pad_id, dtype=torch.int64)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
        return out

    def decode(self, tokens: Any) -> list[str]:
        """Captions from ids (B, T) (or one sequence (T,), giving a list of one): skips ``<pad>``/``<bos>``,
        stops at ``<eos>``; ``<unk>`` is written as ``<unk>``; words are joined as :meth:`normalize` writes them."""
        t = torch.as_tensor(tokens).detach().cpu()
        check_index_tensor(t, "tokens", what="token ids")
        if t.dim() == 1:
            t = t[None]
        if t.dim() != 2:
            raise ValueError(f"tokens must be 2-D (B, T) or 1-D (T,), got shape {tuple(t.shape)}")
        check_index_range(t, "tokens", self.vocab_size, what="token ids")
        captions = []
        for row in t.tolist():
            words = []
            for i in row:
                if i == self.eos_id:
                    break
                if i not in (self.pad_id, self.bos_id):
                    words.append(self._id_to_token[i])
            captions.append(self.join(words))
        return captions

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and other._id_to_token == self._id_to_token

    def __hash__(self) -> int:
        return hash(self._id_to_token)

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, specials={SPECIAL_TOKENS})"
