"""Tests for notebook 05: models.TinyGPT (a tiny causal transformer) and sampling.sample_tokens."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mmobjectives.models import TinyGPT
from mmobjectives.sampling import sample_tokens

V = 11


def _model(**kwargs) -> TinyGPT:
    torch.manual_seed(0)
    return TinyGPT(V, **kwargs)


@pytest.fixture(scope="module")
def cyclic_model() -> tuple[TinyGPT, float]:
    """A TinyGPT trained for 200 steps on the cycle 0, 1, ..., V-1, 0, 1, ...; returns (model, final loss)."""
    torch.manual_seed(0)
    model = TinyGPT(V, d_model=32, n_layers=2, n_heads=4, max_len=24)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    seq = torch.arange(200) % V
    for _ in range(200):
        starts = torch.randint(0, V, (16,))
        batch = torch.stack([seq[s : s + 25] for s in starts])
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, loss.item()


# -- TinyGPT --------------------------------------------------------------------------------------------------------
def test_tinygpt_shapes_and_attention_list() -> None:
    model = _model(d_model=32, n_layers=3, n_heads=4, max_len=16)
    tokens = torch.randint(0, V, (2, 10))
    assert model(tokens).shape == (2, 10, V)
    logits, attentions = model(tokens, return_attention=True)
    assert logits.shape == (2, 10, V)
    assert len(attentions) == 3
    assert all(a.shape == (2, 4, 10, 10) for a in attentions)
    assert model.max_len == 16


def test_tinygpt_is_causal() -> None:
    model = _model().eval()
    tokens = torch.randint(0, V, (3, 20))
    base = model(tokens)
    for t in (0, 7, 18):
        changed = tokens.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1 + torch.randint(0, V - 1, changed[:, t + 1 :].shape)) % V
        out = model(changed)
        torch.testing.assert_close(out[:, : t + 1], base[:, : t + 1], atol=1e-6, rtol=0)
        assert not torch.allclose(out[:, t + 1 :], base[:, t + 1 :])


def test_attention_rows_sum_to_one_and_are_zero_above_diagonal() -> None:
    _, attentions = _model()(torch.randint(0, V, (2, 12)), return_attention=True)
    upper = torch.triu(torch.ones(12, 12, dtype=torch.bool), diagonal=1)
    for weights in attentions:
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 12), atol=1e-6, rtol=0)
        assert bool((weights[..., upper] == 0).all())
        assert bool((weights >= 0).all())


def test_initial_loss_is_close_to_log_vocab_size() -> None:
    torch.manual_seed(1)
    model = TinyGPT(50)
    tokens = torch.randint(0, 50, (8, 32))
    loss = F.cross_entropy(model(tokens).reshape(-1, 50), tokens.reshape(-1))
    assert abs(loss.item() - math.log(50)) < 0.3


def test_training_on_a_cycle_drives_loss_near_zero(cyclic_model) -> None:
    _, loss = cyclic_model
    assert loss < 0.1


def test_greedy_sampling_continues_the_cycle_past_max_len(cyclic_model) -> None:
    model, _ = cyclic_model
    prompt = torch.tensor([[3, 4, 5], [9, 10, 0]])
    out = sample_tokens(model, prompt, 30, top_k=1)  # 33 tokens > max_len = 24: the context is cropped
    assert out.shape == (2, 33)
    expected = (prompt[:, :1] + torch.arange(33)) % V
    assert torch.equal(out, expected)


def test_tinygpt_validation() -> None:
    model = _model(max_len=8)
    with pytest.raises(ValueError, match="tokens"):
        model(torch.randint(0, V, (1, 9)))
    with pytest.raises(ValueError, match="tokens"):
        model(torch.tensor([[0, V]]))
    with pytest.raises(ValueError, match="tokens"):
        model(torch.tensor([[-1, 0]]))
    with pytest.raises(ValueError, match="tokens"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="tokens"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="d_model"):
        TinyGPT(V, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="vocab_size"):
        TinyGPT(0)


# -- sample_tokens --------------------------------------------------------------------------------------------------
def test_sample_tokens_shape_prompt_and_reproducibility() -> None:
    model = _model()
    prompt = torch.randint(0, V, (3, 5))
    a = sample_tokens(model, prompt, 7, generator=torch.Generator().manual_seed(0))
    b = sample_tokens(model, prompt, 7, generator=torch.Generator().manual_seed(0))
    assert a.shape == (3, 12) and a.dtype == torch.long
    assert torch.equal(a[:, :5], prompt)
    assert torch.equal(a, b)
    assert int(a.min()) >= 0 and int(a.max()) < V


def _argmax_decode(model: TinyGPT, prompt: torch.Tensor, n: int) -> torch.Tensor:
    tokens = prompt
    with torch.no_grad():
        for _ in range(n):
            tokens = torch.cat([tokens, model(tokens)[:, -1].argmax(-1, keepdim=True)], 1)
    return tokens


def test_top_k_one_and_small_temperature_are_argmax_decoding() -> None:
    model = _model().eval()
    prompt = torch.randint(0, V, (4, 3))
    greedy = _argmax_decode(model, prompt, 6)
    assert torch.equal(sample_tokens(model, prompt, 6, top_k=1), greedy)
    cold = sample_tokens(model, prompt, 6, temperature=1e-6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(cold, greedy)


def test_logit_mask_is_respected() -> None:
    model = _model()
    prompt = torch.zeros(8, 1, dtype=torch.long)
    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[[2, 5]] = True
    out = sample_tokens(
        model, prompt, 20, temperature=5.0, logit_mask=allowed, generator=torch.Generator().manual_seed(0)
    )
    assert set(out[:, 1:].unique().tolist()) <= {2, 5}
    odd_only = sample_tokens(
        model,
        prompt,
        20,
        logit_mask=lambda tokens: torch.arange(V) % 2 == 1,
        generator=torch.Generator().manual_seed(1),
    )
    assert bool((odd_only[:, 1:] % 2 == 1).all())


def test_sample_tokens_restores_training_flag() -> None:
    model = _model(dropout=0.1)
    model.train()
    sample_tokens(model, torch.zeros(1, 2, dtype=torch.long), 3)
    assert model.training
    model.eval()
    sample_tokens(model, torch.zeros(1, 2, dtype=torch.long), 3)
    assert not model.training


def test_sample_tokens_crops_context_to_max_len() -> None:
    model = _model(max_len=8)
    out = sample_tokens(model, torch.randint(0, V, (2, 8)), 5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 13)


def test_sample_tokens_validation() -> None:
    model = _model()
    prompt = torch.zeros(1, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="temperature"):
        sample_tokens(model, prompt, 3, temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        sample_tokens(model, prompt, 3, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        sample_tokens(model, prompt, 3, top_k=0)
    with pytest.raises(ValueError, match="prompt"):
        sample_tokens(model, torch.zeros(2), 3)
    with pytest.raises(ValueError, match="logit_mask"):
        sample_tokens(model, prompt, 3, logit_mask=torch.ones(V))
    with pytest.raises(TypeError, match="generator"):
        sample_tokens(model, prompt, 3, generator=0)


def test_next_token_probs_temperature_and_top_k() -> None:
    from mmobjectives.sampling import next_token_probs

    z = torch.tensor([[2.0, 1.0, 0.5, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(next_token_probs(z), torch.softmax(z, -1))
    # temperature T: p ∝ exp(z / T), computed independently
    e = torch.exp(z / 0.5)
    torch.testing.assert_close(next_token_probs(z, temperature=0.5), e / e.sum())
    # top-2 renormalises the two largest
    e2 = torch.exp(z[:, :2])
    expected = torch.cat([e2 / e2.sum(), torch.zeros(1, 2, dtype=torch.float64)], dim=1)
    torch.testing.assert_close(next_token_probs(z, top_k=2), expected)
    # limits: T -> 0 is one-hot on the argmax, T -> inf is uniform
    torch.testing.assert_close(
        next_token_probs(z, temperature=1e-4), torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64)
    )
    torch.testing.assert_close(
        next_token_probs(z, temperature=1e6), torch.full((1, 4), 0.25, dtype=torch.float64), atol=1e-5, rtol=0
    )
    # the entropy of the reshaped distribution grows with T
    ent = [
        float(-(p * p.clamp_min(1e-300).log()).sum())
        for p in (next_token_probs(z, temperature=t) for t in (0.3, 1.0, 3.0))
    ]
    assert ent[0] < ent[1] < ent[2]


def test_next_token_probs_validation() -> None:
    from mmobjectives.sampling import next_token_probs

    with pytest.raises(TypeError, match="logits"):
        next_token_probs(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="logits"):
        next_token_probs(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="temperature"):
        next_token_probs(torch.zeros(3), temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        next_token_probs(torch.zeros(3), top_k=0)


def test_tinygpt_token_checks() -> None:
    model = _model(max_len=8)
    with pytest.raises(ValueError, match="tokens must hold token ids"):
        model(torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"tokens must be ids in \[0, 10\], got values in \[0, 11\]"):
        model(torch.tensor([[0, 11]]))
