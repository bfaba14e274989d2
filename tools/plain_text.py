"""Inline maths written as plain text, for the places MathJax never sees: the site's index and navigation, and the
student stubs' error messages."""

from __future__ import annotations

import re

_TEX_WORDS = {r"\mid": " ∣ ", r"\nabla": "∇", r"\log": "log", r"\theta": "θ", r"\tau": "τ", r"\sigma": "σ"}
_SUBSCRIPTS = str.maketrans("0123456789aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")


def _plain_maths(match: re.Match[str]) -> str:
    tex = match.group(1)
    for macro, text in _TEX_WORDS.items():
        tex = re.sub(re.escape(macro) + r"(?![A-Za-z])", text, tex)
    tex = re.sub(r"_\{?([0-9a-z])\}?", lambda m: m.group(1).translate(_SUBSCRIPTS), tex)
    tex = re.sub(r"\\([A-Za-z]+)", r"\1", tex).replace("{", "").replace("}", "")
    return re.sub(r"\s+", " ", tex).strip()


def plain_title(title: str) -> str:
    """``title`` with each ``$...$`` written as plain text: ``$p(y\\mid x)$`` → ``p(y ∣ x)``."""
    return re.sub(r"\$([^$]+)\$", _plain_maths, title)
