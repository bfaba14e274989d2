"""Tests for mmobjectives.losses.cross_entropy: cross-entropy (class indices / probability rows) and its
teacher-forced sequence version."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mmobjectives.losses import cross_entropy, sequence_cross_entropy

REDUCTIONS = ("mean", "sum", "none")


TOL64 = {"atol": 1e-10, "rtol": 0.0}  # the contract: equal to F.cross_entropy within 1e-10 in float64


def _logits(n: int, k: int, scale: float, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, k, generator=gen, dtype=torch.float64)).to(dtype)


def _dirichlet(n: int, k: int, alpha: float, seed: int) -> torch.Tensor:
    rows = np.random.default_rng(seed).dirichlet(np.full(k, alpha), size=n)
    return torch.as_tensor(rows, dtype=torch.float64)


# ---------------------------------------------------------------------------------------------------------------
# independent float64 references with plain Python floats
# ---------------------------------------------------------------------------------------------------------------


def _log_softmax_row(row: list[float]) -> list[float]:
    top = max(row)
    lse = top + math.log(sum(math.exp(v - top) for v in row))
    return [v - lse for v in row]


def _ref_index_row(row: list[float], y: int, eps: float) -> float:
    log_q = _log_softmax_row(row)
    return (1 - eps) * (-log_q[y]) + eps * sum(-v for v in log_q) / len(row)


# ---------------------------------------------------------------------------------------------------------------
# agreement with torch.nn.functional.cross_entropy (values and gradients)
# ---------------------------------------------------------------------------------------------------------------

_smoothing = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))
_scale = st.one_of(st.sampled_from([1.0, 1e3]), st.floats(1e-3, 1e3))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 16),
    k=st.integers(2, 10),
    scale=_scale,
    seed=st.integers(0, 2**31 - 1),
    ignore_index=st.sampled_from([-100, -1, 255]),
    eps=_smoothing,
    reduction=st.sampled_from(REDUCTIONS),
    data=st.data(),
)
def test_index_targets_match_torch(n, k, scale, seed, ignore_index, eps, reduction, data) -> None:
    labels = data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n), label="labels")
    ignored = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="ignored")
    ignored[data.draw(st.integers(0, n - 1), label="kept row")] = False
    # (at least one row is kept: the all-ignored batch is where we deliberately differ, tested separately)
    target = torch.tensor([ignore_index if skip else y for y, skip in zip(labels, ignored)])
    mine_in = _logits(n, k, scale, seed).requires_grad_()
    ref_in = mine_in.detach().clone().requires_grad_()

    mine = cross_entropy(mine_in, target, label_smoothing=eps, ignore_index=ignore_index, reduction=reduction)
    ref = F.cross_entropy(ref_in, target, label_smoothing=eps, ignore_index=ignore_index, reduction=reduction)
    assert mine.shape == ref.shape and mine.dtype == torch.float64
    torch.testing.assert_close(mine, ref, **TOL64)

    weights = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    (mine * weights).sum().backward()
    (ref * weights).sum().backward()
    torch.testing.assert_close(mine_in.grad, ref_in.grad, **TOL64)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 16),
    k=st.integers(2, 10),
    scale=_scale,
    alpha=st.sampled_from([0.05, 0.5, 1.0, 10.0]),
    seed=st.integers(0, 2**31 - 1),
    eps=_smoothing,
    reduction=st.sampled_from(REDUCTIONS),
)
def test_probability_targets_match_torch(n, k, scale, alpha, seed, eps, reduction) -> None:
    target = _dirichlet(n, k, alpha, seed)
    mine_in = _logits(n, k, scale, seed).requires_grad_()
    ref_in = mine_in.detach().clone().requires_grad_()
    mine_t = target.clone().requires_grad_()
    ref_t = target.clone().requires_grad_()

    mine = cross_entropy(mine_in, mine_t, label_smoothing=eps, reduction=reduction)
    ref = F.cross_entropy(ref_in, ref_t, label_smoothing=eps, reduction=reduction)
    assert mine.shape == ref.shape
    torch.testing.assert_close(mine, ref, **TOL64)

    weights = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    (mine * weights).sum().backward()
    (ref * weights).sum().backward()
    torch.testing.assert_close(mine_in.grad, ref_in.grad, **TOL64)
    torch.testing.assert_close(mine_t.grad, ref_t.grad, atol=1e-8, rtol=1e-10)  # d/dp = -log q: up to ~1e3


def test_label_smoothing_matches_a_hand_reference() -> None:
    logits = _logits(5, 4, 3.0, 0)
    target = torch.tensor([0, 3, 1, 1, 2])
    for eps in (0.0, 0.1, 0.5, 1.0):
        expected = [_ref_index_row(row, int(y), eps) for row, y in zip(logits.tolist(), target)]
        got = cross_entropy(logits, target, label_smoothing=eps, reduction="none")
        assert got.tolist() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # ε = 1 ignores the label completely: every row scores the uniform target
    flipped = cross_entropy(logits, target.flip(0), label_smoothing=1.0, reduction="none")
    torch.testing.assert_close(flipped, cross_entropy(logits, target, label_smoothing=1.0, reduction="none"))


def test_smoothed_probability_target_is_the_mixture_with_uniform() -> None:
    logits, target = _logits(6, 5, 2.0, 1), _dirichlet(6, 5, 0.3, 1)
    eps = 0.25
    mixed = (1 - eps) * target + eps / 5
    torch.testing.assert_close(
        cross_entropy(logits, target, label_smoothing=eps, reduction="none"),
        cross_entropy(logits, mixed, reduction="none"),
        **TOL64,
    )


def test_ignored_rows_are_dropped_from_mean_sum_and_zero_in_none() -> None:
    logits = _logits(5, 3, 2.0, 2)
    target = torch.tensor([0, -100, 2, -100, 1])
    kept = torch.tensor([0, 2, 4])
    per_row = cross_entropy(logits, target, reduction="none")
    assert per_row[1] == 0 and per_row[3] == 0
    expected = cross_entropy(logits[kept], target[kept], reduction="none")
    torch.testing.assert_close(per_row[kept], expected, **TOL64)
    torch.testing.assert_close(cross_entropy(logits, target, reduction="sum"), expected.sum(), **TOL64)
    torch.testing.assert_close(cross_entropy(logits, target), expected.mean(), **TOL64)  # divides by 3, not 5


def test_ignore_index_can_be_a_valid_class_and_other_integer_dtypes_work() -> None:
    logits = _logits(6, 4, 1.0, 3)
    target = torch.tensor([0, 1, 2, 3, 0, 1])
    ref = F.cross_entropy(logits, target, ignore_index=0)
    torch.testing.assert_close(cross_entropy(logits, target, ignore_index=0), ref, **TOL64)
    for dtype in (torch.int32, torch.int16, torch.uint8):
        torch.testing.assert_close(cross_entropy(logits, target.to(dtype)), F.cross_entropy(logits, target), **TOL64)
    torch.testing.assert_close(
        cross_entropy(logits, target, ignore_index=np.int64(2)), F.cross_entropy(logits, target, ignore_index=2)
    )


def test_written_from_log_sum_exp_not_torch_cross_entropy(monkeypatch: pytest.MonkeyPatch) -> None:
    logits, target, probs = _logits(4, 3, 1.0, 4), torch.tensor([0, 2, -100, 1]), _dirichlet(4, 3, 1.0, 4)
    expected = (F.cross_entropy(logits, target, label_smoothing=0.1), F.cross_entropy(logits, probs))

    def forbidden(*args, **kwargs):
        raise AssertionError("cross_entropy must be written from logsumexp, not a library cross-entropy")

    for name in ("cross_entropy", "nll_loss", "log_softmax", "softmax"):
        monkeypatch.setattr(F, name, forbidden)
    for name in ("log_softmax", "softmax"):
        monkeypatch.setattr(torch, name, forbidden)
    monkeypatch.setattr(torch.Tensor, "log_softmax", forbidden)
    monkeypatch.setattr(torch.Tensor, "softmax", forbidden)
    torch.testing.assert_close(cross_entropy(logits, target, label_smoothing=0.1), expected[0], **TOL64)
    torch.testing.assert_close(cross_entropy(logits, probs), expected[1], **TOL64)


# ---------------------------------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck(reduction: str) -> None:
    logits = _logits(5, 4, 2.0, 5).requires_grad_()
    target = torch.tensor([1, -100, 3, 0, 3])
    probs = _dirichlet(5, 4, 0.7, 5).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: cross_entropy(z, target, label_smoothing=0.2, reduction=reduction), (logits,)
    )
    assert torch.autograd.gradcheck(
        lambda z, p: cross_entropy(z, p, label_smoothing=0.3, reduction=reduction), (logits, probs)
    )


def test_gradient_is_softmax_minus_onehot() -> None:
    logits = _logits(7, 5, 3.0, 6).requires_grad_()
    target = torch.tensor([0, 4, 2, 2, 1, 3, 0])
    cross_entropy(logits, target, reduction="sum").backward()
    q = torch.exp(logits.detach() - torch.logsumexp(logits.detach(), dim=1, keepdim=True))
    expected = q - F.one_hot(target, 5).double()
    torch.testing.assert_close(logits.grad, expected, atol=1e-12, rtol=0.0)
    assert logits.grad.sum(dim=1).abs().max() < 1e-12  # each row's gradient sums to zero

    # probability targets: softmax − p, and "mean" divides by N
    probs = _dirichlet(7, 5, 0.5, 6)
    logits.grad = None
    cross_entropy(logits, probs).backward()
    torch.testing.assert_close(logits.grad, (q - probs) / 7, atol=1e-12, rtol=0.0)


# ---------------------------------------------------------------------------------------------------------------
# the all-ignored batch: 0 (with a zero gradient), where PyTorch gives NaN
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_all_ignored_batch_gives_zero_with_zero_gradient(eps: float) -> None:
    logits = _logits(4, 3, 5.0, 7).requires_grad_()
    target = torch.full((4,), -1)
    loss = cross_entropy(logits, target, ignore_index=-1, label_smoothing=eps)
    assert isinstance(loss, torch.Tensor) and loss.shape == () and torch.isfinite(loss)
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and torch.equal(logits.grad, torch.zeros_like(logits))
    # the documented difference: PyTorch divides 0 by 0 kept rows
    assert torch.isnan(F.cross_entropy(logits.detach(), target, ignore_index=-1, label_smoothing=eps))
    # "sum" and "none" agree with PyTorch there
    assert cross_entropy(logits, target, ignore_index=-1, reduction="sum").item() == 0.0
    assert torch.equal(
        cross_entropy(logits, target, ignore_index=-1, reduction="none"), torch.zeros(4, dtype=torch.float64)
    )


def test_all_ignored_sequence_gives_zero_with_zero_gradient() -> None:
    logits = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(8), requires_grad=True)
    loss = sequence_cross_entropy(logits, torch.full((2, 3), -100))
    assert loss.item() == 0.0 and torch.isfinite(loss)
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


# ---------------------------------------------------------------------------------------------------------------
# precision and numerical stability
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float16, 2e-2), (torch.bfloat16, 1e-1)])
def test_half_precision_logits_are_upcast_to_float32(dtype: torch.dtype, tol: float) -> None:
    logits32 = _logits(8, 6, 4.0, 9, dtype=torch.float32)
    target = torch.tensor([0, 5, -100, 2, 3, 1, 4, 0])
    half = logits32.to(dtype).requires_grad_()
    loss = cross_entropy(half, target, label_smoothing=0.1, reduction="none")
    assert loss.dtype == torch.float32
    # exactly the float32 computation on the rounded logits (nothing is computed in half precision) ...
    same_values = cross_entropy(half.detach().float(), target, label_smoothing=0.1, reduction="none")
    torch.testing.assert_close(loss, same_values, atol=1e-6, rtol=1e-6)
    # ... and within the rounding of the logits (float16: ~4*2^-11 per logit; bfloat16: ~4*2^-8) of float32
    torch.testing.assert_close(
        loss, cross_entropy(logits32, target, label_smoothing=0.1, reduction="none"), atol=tol, rtol=0
    )
    loss.sum().backward()
    assert half.grad.dtype == dtype and torch.isfinite(half.grad).all()
    # probability targets too
    probs = torch.softmax(logits32, dim=1).to(dtype)
    assert cross_entropy(half.detach(), probs).dtype == torch.float32


def test_float16_logits_near_1e4_do_not_overflow() -> None:
    logits = torch.tensor([[1e4, -1e4, 0.0], [9000.0, 9096.0, -9000.0]], dtype=torch.float16, requires_grad=True)
    target = torch.tensor([1, 0])
    loss = cross_entropy(logits, target, reduction="none")
    assert loss.dtype == torch.float32 and torch.isfinite(loss).all()
    assert logits.detach().double().tolist()[1] == [9000.0, 9096.0, -9000.0]  # exactly representable in float16
    # exact: row 0 is -log q_1 = 1e4 - (-1e4) = 2e4 (e^{-1e4} terms vanish); row 1 is 9096 - 9000 = 96
    torch.testing.assert_close(loss, torch.tensor([2e4, 96.0]), atol=1e-3, rtol=0)
    loss.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_extreme_float32_logits_give_finite_loss_and_gradient() -> None:
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], requires_grad=True)
    target = torch.tensor([1, 2, 0])
    loss = cross_entropy(logits, target, label_smoothing=0.1, reduction="none")
    assert torch.isfinite(loss).all()
    naive = -torch.log(torch.exp(logits.detach()) / torch.exp(logits.detach()).sum(dim=1, keepdim=True))
    assert not torch.isfinite(naive).all()  # the log of a naive softmax overflows here
    expected = torch.tensor([_ref_index_row(row, int(y), 0.1) for row, y in zip(logits.tolist(), target)])
    torch.testing.assert_close(loss, expected, atol=1e-2, rtol=1e-6)
    loss.sum().backward()
    assert torch.isfinite(logits.grad).all()
    probs = torch.tensor([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.5, 0.5, 0.0]])
    loss_p = cross_entropy(logits.detach().requires_grad_(), probs)
    assert torch.isfinite(loss_p)


def test_invariant_to_adding_a_constant_to_each_row() -> None:
    logits = _logits(6, 5, 2.0, 10)
    shift = torch.tensor([[0.0], [1e3], [-1e3], [7.5], [-0.25], [123.0]], dtype=torch.float64)
    target, probs = torch.tensor([0, 4, -100, 2, 1, 3]), _dirichlet(6, 5, 0.5, 10)
    for tgt, eps in ((target, 0.0), (target, 0.4), (probs, 0.0), (probs, 0.2)):
        torch.testing.assert_close(
            cross_entropy(logits + shift, tgt, label_smoothing=eps, reduction="none"),
            cross_entropy(logits, tgt, label_smoothing=eps, reduction="none"),
            atol=1e-10,
            rtol=0,
        )


def test_cross_entropy_equals_kl_plus_entropy() -> None:
    logits = _logits(5, 4, 2.0, 11)
    probs = _dirichlet(5, 4, 0.3, 11)
    probs[0] = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)  # a one-hot row: H = 0, 0·log 0 = 0
    ce = cross_entropy(logits, probs, reduction="none")
    for i, (row, p) in enumerate(zip(logits.tolist(), probs.tolist())):
        log_q = _log_softmax_row(row)
        kl = sum(pk * (math.log(pk) - lq) for pk, lq in zip(p, log_q) if pk > 0)
        entropy = -sum(pk * math.log(pk) for pk in p if pk > 0)
        assert kl >= 0
        assert ce[i].item() == pytest.approx(kl + entropy, rel=1e-12, abs=1e-12)
    # the minimum over q is reached at q = p, where CE = H(p)
    at_optimum = cross_entropy(torch.log(probs[1:]), probs[1:], reduction="none")
    entropies = -(probs[1:] * torch.log(probs[1:])).sum(dim=1)
    torch.testing.assert_close(at_optimum, entropies, atol=1e-12, rtol=0)


# ---------------------------------------------------------------------------------------------------------------
# sequence_cross_entropy
# ---------------------------------------------------------------------------------------------------------------


def _ref_sequence(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int) -> list[list[float]]:
    """Per-token -log q(y) with Python floats; 0.0 at ignored positions."""
    out = []
    for b in range(targets.shape[0]):
        row = []
        for t in range(targets.shape[1]):
            y = int(targets[b, t])
            row.append(0.0 if y == ignore_index else -_log_softmax_row(logits[b, t].tolist())[y])
        out.append(row)
    return out


@pytest.mark.parametrize("ignore_index", [-100, 0])
def test_sequence_cross_entropy_matches_a_per_token_loop(ignore_index: int) -> None:
    gen = torch.Generator().manual_seed(12)
    b, t, v = 3, 5, 7
    logits = 3 * torch.randn(b, t, v, generator=gen, dtype=torch.float64)
    targets = torch.randint(1, v, (b, t), generator=gen)
    targets[0, 3:] = ignore_index  # padding at the end of a short sequence
    targets[2, 0] = ignore_index
    per_token = _ref_sequence(logits, targets, ignore_index)
    n_kept = int((targets != ignore_index).sum())
    assert n_kept == b * t - 3

    none = sequence_cross_entropy(logits, targets, ignore_index=ignore_index, reduction="none")
    assert none.shape == (b, t)
    assert torch.equal(none[targets == ignore_index], torch.zeros(3, dtype=torch.float64))
    assert none.tolist() == [pytest.approx(r, rel=1e-12, abs=1e-12) for r in per_token]
    total = sum(sum(r) for r in per_token)
    summed = sequence_cross_entropy(logits, targets, ignore_index=ignore_index, reduction="sum")
    assert summed.shape == () and summed.item() == pytest.approx(total, rel=1e-12)
    mean = sequence_cross_entropy(logits, targets, ignore_index=ignore_index)
    assert mean.item() == pytest.approx(total / n_kept, rel=1e-12)  # per non-ignored token, not per position
    # and PyTorch's (B, V, T) layout agrees
    torch.testing.assert_close(
        mean, F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=ignore_index), **TOL64
    )


def test_sequence_cross_entropy_gradient_and_half_precision() -> None:
    gen = torch.Generator().manual_seed(13)
    logits = torch.randn(2, 4, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 6, (2, 4), generator=gen)
    targets[1, 2:] = -100
    assert torch.autograd.gradcheck(lambda z: sequence_cross_entropy(z, targets), (logits,))
    out = sequence_cross_entropy(logits.detach().to(torch.bfloat16), targets, reduction="none")
    assert out.dtype == torch.float32 and out.shape == (2, 4)


# ---------------------------------------------------------------------------------------------------------------
# errors: each names the argument
# ---------------------------------------------------------------------------------------------------------------

_Z = _logits(3, 4, 1.0, 14)
_Y = torch.tensor([0, 3, 1])
_P = torch.full((3, 4), 0.25, dtype=torch.float64)


@pytest.mark.parametrize(
    ("logits", "target", "kwargs", "error", "match"),
    [
        (_Z.tolist(), _Y, {}, TypeError, "logits"),
        (_Z.long(), _Y, {}, TypeError, "logits"),
        (_Z[0], _Y[:1], {}, ValueError, "logits must be 2-D"),
        (_Z[None], _Y, {}, ValueError, "logits must be 2-D"),
        (_Z[:0], _Y[:0], {}, ValueError, "logits"),
        (torch.where(_Z > 0, torch.nan, _Z), _Y, {}, ValueError, "logits must be finite"),
        (torch.where(_Z > 0, torch.inf, _Z), _Y, {}, ValueError, "logits must be finite"),
        (_Z, [0, 3, 1], {}, TypeError, "target"),
        (_Z, _Y.double(), {}, TypeError, "target: class indices must be integers"),
        (_Z, _Y.bool(), {}, TypeError, "target"),
        (_Z, torch.tensor([0, 1]), {}, ValueError, "target must have shape"),
        (_Z, _Y[:, None], {}, ValueError, "target must have shape"),
        (_Z, torch.full((3, 5), 0.2, dtype=torch.float64), {}, ValueError, "target probability rows must have shape"),
        (_Z, torch.full((3, 4, 1), 0.25, dtype=torch.float64), {}, ValueError, "target"),
        (_Z, torch.tensor([0, 4, 1]), {}, ValueError, r"target must hold class indices in \[0, 3\]"),
        (_Z, torch.tensor([0, -1, 1]), {}, ValueError, "target must hold class indices"),
        (_Z, torch.tensor([0, -100, 1]), {"ignore_index": -1}, ValueError, "target must hold class indices"),
        (_Z, torch.tensor([[1.5, -0.5, 0.0, 0.0]] * 3, dtype=torch.float64), {}, ValueError, "target.*>= 0"),
        (_Z, _P * 1.01, {}, ValueError, "target.*sum to 1"),
        (_Z, _P * 0.999, {}, ValueError, "target.*sum to 1"),
        (_Z, torch.where(_P > 0, torch.nan, _P), {}, ValueError, "target must be finite"),
        (_Z, _P.half() * 1.005, {}, ValueError, "target.*sum to 1"),
        (_Z, _Y, {"label_smoothing": -0.1}, ValueError, "label_smoothing"),
        (_Z, _Y, {"label_smoothing": 1.1}, ValueError, "label_smoothing"),
        (_Z, _P, {"label_smoothing": 1.5}, ValueError, "label_smoothing"),
        (_Z, _Y, {"label_smoothing": float("nan")}, ValueError, "label_smoothing"),
        (_Z, _Y, {"label_smoothing": "0.1"}, TypeError, "label_smoothing"),
        (_Z, _Y, {"reduction": "avg"}, ValueError, "reduction"),
        (_Z, _P, {"reduction": None}, ValueError, "reduction"),
        (_Z, _Y, {"ignore_index": 1.5}, TypeError, "ignore_index"),
    ],
)
def test_cross_entropy_errors_name_the_argument(logits, target, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        cross_entropy(logits, target, **kwargs)


def test_probability_tolerance_depends_on_dtype() -> None:
    # within 1e-4 is accepted in float64/float32, within 1e-3 in float16
    cross_entropy(_Z, _P * (1 + 5e-5))
    cross_entropy(_Z, (_P * (1 + 5e-5)).float())
    half_row = torch.tensor([[0.2505, 0.25, 0.25, 0.25]] * 3).half()
    assert 1e-4 < abs(float(half_row.double().sum(dim=1)[0]) - 1) < 1e-3
    cross_entropy(_Z, half_row)
    with pytest.raises(ValueError, match="target"):
        cross_entropy(_Z, _P * (1 + 5e-4))
    # rounding a softmax to bfloat16 moves a row sum by ~2e-3 ([1/3, 2/3] -> 1.0020): still a valid target
    rounded = torch.tensor([[1 / 3, 2 / 3]]).bfloat16()
    assert abs(float(rounded.double().sum()) - 1) > 1e-3
    assert torch.isfinite(cross_entropy(torch.zeros(1, 2), rounded))
    # and a tiny negative from round-off is tolerated, a real negative is not
    cross_entropy(torch.zeros(1, 2, dtype=torch.float64), torch.tensor([[1 + 1e-6, -1e-6]], dtype=torch.float64))


_S = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(15))
_T = torch.tensor([[0, 4, -100], [1, 2, 3]])


@pytest.mark.parametrize(
    ("logits", "targets", "kwargs", "error", "match"),
    [
        (_S.tolist(), _T, {}, TypeError, "logits"),
        (_S.long(), _T, {}, TypeError, "logits"),
        (_S[0], _T[0], {}, ValueError, "logits must be 3-D"),
        (_S[None], _T, {}, ValueError, "logits must be 3-D"),
        (_S[:, :0], _T[:, :0], {}, ValueError, "logits"),
        (torch.where(_S > 1, torch.nan, _S), _T, {}, ValueError, "logits must be finite"),
        (_S, _T.tolist(), {}, TypeError, "targets"),
        (_S, _T.float(), {}, TypeError, "targets: class indices must be integers"),
        (_S, _T[:, :2], {}, ValueError, "targets must have shape"),
        (_S, _T.T, {}, ValueError, "targets must have shape"),
        (_S, _T.reshape(-1), {}, ValueError, "targets must have shape"),
        (_S, torch.tensor([[0, 5, -100], [1, 2, 3]]), {}, ValueError, "targets must hold class indices"),
        (_S, _T, {"ignore_index": -1}, ValueError, "targets must hold class indices"),
        (_S, _T, {"reduction": "mean_per_sequence"}, ValueError, "reduction"),
        (_S, _T, {"ignore_index": "pad"}, TypeError, "ignore_index"),
    ],
)
def test_sequence_cross_entropy_errors_name_the_argument(logits, targets, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        sequence_cross_entropy(logits, targets, **kwargs)
