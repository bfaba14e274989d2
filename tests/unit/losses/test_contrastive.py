"""Tests for mmobjectives.losses.contrastive: InfoNCE / the CLIP loss and SigLIP's sigmoid loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmobjectives.losses import info_nce, info_nce_logits, sigmoid_contrastive
from mmobjectives.metrics import infonce_mi_bound
from mmobjectives.models import DualEncoder

REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------------------------------------------------
# independent float64 references, written with plain Python loops and math.exp
# ---------------------------------------------------------------------------------------------------------------


def _rows(z: torch.Tensor) -> list[list[float]]:
    return [[float(v) for v in row] for row in z.detach().double()]


def _unit(row: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in row))
    return [v / norm for v in row]


def _log_sum_exp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _ref_scores(z_a: torch.Tensor, z_b: torch.Tensor, tau: float, normalize: bool) -> list[list[float]]:
    a, b = _rows(z_a), _rows(z_b)
    if normalize:
        a, b = [_unit(r) for r in a], [_unit(r) for r in b]
    return [[sum(x * y for x, y in zip(a[i], b[j])) / tau for j in range(len(b))] for i in range(len(a))]


def _ref_reduce(per_pair: list[float], reduction: str) -> list[float] | float:
    if reduction == "mean":
        return sum(per_pair) / len(per_pair)
    if reduction == "sum":
        return sum(per_pair)
    return per_pair


def _ref_info_nce(z_a, z_b, tau: float, symmetric: bool, normalize: bool, reduction: str):
    s = _ref_scores(z_a, z_b, tau, normalize)
    n = len(s)
    per_pair = []
    for i in range(n):
        row = _log_sum_exp([s[i][j] for j in range(n)]) - s[i][i]
        if symmetric:
            col = _log_sum_exp([s[j][i] for j in range(n)]) - s[i][i]
            per_pair.append(0.5 * (row + col))
        else:
            per_pair.append(row)
    return _ref_reduce(per_pair, reduction)


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def _ref_sigmoid(z_a, z_b, tau: float, bias: float, normalize: bool, reduction: str):
    s = _ref_scores(z_a, z_b, tau, normalize)
    n = len(s)
    rows = []
    for i in range(n):
        total = 0.0
        for j in range(n):
            sign = 1.0 if i == j else -1.0
            total -= _log_sigmoid(sign * (s[i][j] + bias))
        rows.append(total)
    if reduction == "mean":  # -(1/N) sum_i sum_j log sigmoid((2 delta_ij - 1) (S_ij + bias)), S_ij = a_i.b_j/tau
        return sum(rows) / n
    if reduction == "sum":
        return sum(rows)
    return rows


def _assert_matches(result: torch.Tensor, expected, reduction: str, rtol: float = 1e-9, atol: float = 1e-9) -> None:
    if reduction == "none":
        assert result.shape == (len(expected),)
        torch.testing.assert_close(result.double(), torch.tensor(expected, dtype=torch.float64), rtol=rtol, atol=atol)
    else:
        assert result.dim() == 0
        assert float(result) == pytest.approx(expected, rel=rtol, abs=atol)


def _pairs(seed: int, n: int, d: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=g, dtype=torch.float64)
    z_b = z_a + 0.7 * torch.randn(n, d, generator=g, dtype=torch.float64)  # correlated, so the loss is informative
    return z_a.to(dtype), z_b.to(dtype)


# ---------------------------------------------------------------------------------------------------------------
# info_nce against the reference
# ---------------------------------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 12),
    d=st.integers(1, 8),
    tau=st.floats(1e-2, 2.0),
    symmetric=st.booleans(),
    normalize=st.booleans(),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_info_nce_matches_loop_reference(seed, n, d, tau, symmetric, normalize, reduction) -> None:
    z_a, z_b = _pairs(seed, n, d)
    result = info_nce(z_a, z_b, tau, symmetric=symmetric, normalize=normalize, reduction=reduction)
    assert result.dtype == torch.float64
    expected = _ref_info_nce(z_a, z_b, tau, symmetric, normalize, reduction)
    _assert_matches(result, expected, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_info_nce_single_pair_is_zero(reduction, symmetric, normalize) -> None:
    z_a, z_b = _pairs(3, 1, 4)
    result = info_nce(z_a, z_b, 0.05, symmetric=symmetric, normalize=normalize, reduction=reduction)
    assert result.shape == ((1,) if reduction == "none" else ())
    assert torch.all(result == 0)


def test_info_nce_hand_computed_value() -> None:
    # two orthonormal pairs, tau = 1: s = I, each row: -log(e / (e + 1)) = log(1 + 1/e)
    z = torch.eye(2, dtype=torch.float64)
    expected = math.log1p(math.exp(-1.0))
    assert float(info_nce(z, z, 1.0)) == pytest.approx(expected, rel=1e-12)
    assert float(info_nce(z, z, 1.0, reduction="sum")) == pytest.approx(2 * expected, rel=1e-12)
    # a mismatched batch (pairs swapped) costs more: -log(1 / (e + 1)) = log(1 + e)
    assert float(info_nce(z, z.flip(0), 1.0)) == pytest.approx(math.log1p(math.e), rel=1e-12)


def test_info_nce_normalize_flag_matters() -> None:
    z_a, z_b = _pairs(5, 6, 3)
    z_a_scaled = 3.0 * z_a
    # with normalize, scaling the rows changes nothing; without, it scales the logits
    torch.testing.assert_close(info_nce(z_a_scaled, z_b, 0.3), info_nce(z_a, z_b, 0.3))
    assert not torch.allclose(info_nce(z_a_scaled, z_b, 0.3, normalize=False), info_nce(z_a, z_b, 0.3, normalize=False))
    # normalize=False with unit-norm inputs equals normalize=True
    u_a, u_b = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    torch.testing.assert_close(info_nce(u_a, u_b, 0.3, normalize=False), info_nce(z_a, z_b, 0.3))


def test_info_nce_tensor_and_float_temperature_agree() -> None:
    z_a, z_b = _pairs(6, 7, 4)
    torch.testing.assert_close(info_nce(z_a, z_b, torch.tensor(0.2, dtype=torch.float64)), info_nce(z_a, z_b, 0.2))
    torch.testing.assert_close(info_nce(z_a, z_b, torch.tensor([0.2], dtype=torch.float64)), info_nce(z_a, z_b, 0.2))
    torch.testing.assert_close(info_nce(z_a, z_b, 1), info_nce(z_a, z_b, 1.0))  # an int is a fine temperature


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_info_nce_half_precision_computes_in_float32(dtype) -> None:
    z_a, z_b = _pairs(8, 5, 4, dtype=dtype)
    result = info_nce(z_a, z_b, 0.1)
    assert result.dtype == torch.float32
    expected = _ref_info_nce(z_a, z_b, 0.1, True, True, "mean")
    assert float(result) == pytest.approx(expected, rel=1e-5, abs=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# against OpenCLIP's ClipLoss and F.cross_entropy
# ---------------------------------------------------------------------------------------------------------------


def _open_clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale) -> torch.Tensor:
    """OpenCLIP's ``ClipLoss.forward`` (single process), reimplemented as OpenCLIP writes it."""
    logits_per_image = logit_scale * image_features @ text_features.T
    logits_per_text = logit_scale * text_features @ image_features.T
    labels = torch.arange(logits_per_image.shape[0], device=image_features.device, dtype=torch.long)
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2


@pytest.mark.parametrize(("n", "d", "tau"), [(2, 3, 0.07), (8, 16, 0.07), (32, 8, 0.5), (5, 2, 0.01), (17, 64, 1.0)])
def test_info_nce_equals_open_clip_cliploss(n, d, tau) -> None:
    z_a, z_b = _pairs(n * 31 + d, n, d)
    img, txt = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    expected = _open_clip_loss(img, txt, 1.0 / tau)
    torch.testing.assert_close(info_nce(img, txt, tau), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(info_nce(z_a, z_b, tau, normalize=True), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(info_nce(img, txt, tau, normalize=False), expected, rtol=1e-10, atol=1e-10)
    # and with a learnable tensor logit scale, gradients agree too
    scale = torch.tensor(1.0 / tau, dtype=torch.float64, requires_grad=True)
    (g_ours,) = torch.autograd.grad(info_nce(img, txt, 1.0 / scale), scale)
    (g_clip,) = torch.autograd.grad(_open_clip_loss(img, txt, scale), scale)
    torch.testing.assert_close(g_ours, g_clip, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 7, 20])
def test_info_nce_logits_equals_cross_entropy(n) -> None:
    g = torch.Generator().manual_seed(n)
    logits = 3 * torch.randn(n, n, generator=g, dtype=torch.float64)
    labels = torch.arange(n)
    for reduction in REDUCTIONS:
        row = F.cross_entropy(logits, labels, reduction=reduction)
        col = F.cross_entropy(logits.T, labels, reduction=reduction)
        torch.testing.assert_close(info_nce_logits(logits, symmetric=False, reduction=reduction), row)
        torch.testing.assert_close(info_nce_logits(logits, symmetric=True, reduction=reduction), (row + col) / 2)
    torch.testing.assert_close(
        info_nce_logits(logits), (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    )


def test_info_nce_logits_is_info_nce_of_scaled_scores() -> None:
    z_a, z_b = _pairs(11, 9, 5)
    logits = (F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T) / 0.25
    for symmetric in (True, False):
        torch.testing.assert_close(
            info_nce_logits(logits, symmetric=symmetric, reduction="none"),
            info_nce(z_a, z_b, 0.25, symmetric=symmetric, reduction="none"),
        )


def test_info_nce_logits_half_precision() -> None:
    logits = torch.randn(6, 6, generator=torch.Generator().manual_seed(0)).half()
    result = info_nce_logits(logits)
    assert result.dtype == torch.float32
    labels = torch.arange(6)
    expected = (F.cross_entropy(logits.float(), labels) + F.cross_entropy(logits.float().T, labels)) / 2
    torch.testing.assert_close(result, expected)


# ---------------------------------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_info_nce_gradcheck(symmetric, normalize) -> None:
    z_a, z_b = _pairs(2, 4, 3)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    tau = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    for reduction in REDUCTIONS:

        def fn(a, b, t, reduction=reduction):
            return info_nce(a, b, t, symmetric=symmetric, normalize=normalize, reduction=reduction)

        assert torch.autograd.gradcheck(fn, (z_a, z_b, tau))


def test_info_nce_gradgradcheck() -> None:
    z_a, z_b = _pairs(3, 3, 2)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    tau = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda a, b, t: info_nce(a, b, t), (z_a, z_b, tau))


@pytest.mark.parametrize("symmetric", [True, False])
def test_info_nce_logits_gradcheck(symmetric) -> None:
    logits = torch.randn(5, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64, requires_grad=True)
    for reduction in REDUCTIONS:
        assert torch.autograd.gradcheck(
            lambda s, r=reduction: info_nce_logits(s, symmetric=symmetric, reduction=r), (logits,)
        )


@pytest.mark.parametrize(("normalize", "reduction"), [(True, "mean"), (False, "none"), (True, "sum")])
def test_sigmoid_contrastive_gradcheck(normalize, reduction) -> None:
    z_a, z_b = _pairs(9, 4, 3)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    tau = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-1.5, dtype=torch.float64, requires_grad=True)

    def fn(a, b, t, c):
        return sigmoid_contrastive(a, b, t, c, normalize=normalize, reduction=reduction)

    assert torch.autograd.gradcheck(fn, (z_a, z_b, tau, bias))


def test_info_nce_gradient_has_known_form() -> None:
    # d/dS_ij of the row loss (mean over N) is (softmax(S)_ij - [i == j]) / N
    logits = torch.randn(5, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64, requires_grad=True)
    info_nce_logits(logits, symmetric=False).backward()
    expected = (torch.softmax(logits.detach(), dim=1) - torch.eye(5, dtype=torch.float64)) / 5
    torch.testing.assert_close(logits.grad, expected)


# ---------------------------------------------------------------------------------------------------------------
# numerical stability at tiny temperatures
# ---------------------------------------------------------------------------------------------------------------


def _naive_info_nce(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> torch.Tensor:
    a, b = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    s = a @ b.T / tau
    row = torch.log(torch.exp(s).sum(dim=1)) - s.diagonal()
    col = torch.log(torch.exp(s).sum(dim=0)) - s.diagonal()
    return (0.5 * (row + col)).mean()


def _assert_finite_loss_and_grads(z_a: torch.Tensor, z_b: torch.Tensor, tau: float, **kwargs) -> torch.Tensor:
    z_a = z_a.clone().requires_grad_(True)
    z_b = z_b.clone().requires_grad_(True)
    t = torch.tensor(tau, dtype=z_a.dtype, requires_grad=True)
    loss = info_nce(z_a, z_b, t, **kwargs)
    loss.backward()
    assert torch.isfinite(loss)
    for grad in (z_a.grad, z_b.grad, t.grad):
        assert grad is not None and bool(torch.isfinite(grad).all())
    return loss.detach()


@pytest.mark.parametrize("tau", [1e-1, 1e-2, 1e-3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_info_nce_stable_at_small_temperature(tau, dtype) -> None:
    z_a, z_b = _pairs(12, 16, 8, dtype=dtype)
    for symmetric in (True, False):
        for normalize in (True, False):
            loss = _assert_finite_loss_and_grads(z_a, z_b, tau, symmetric=symmetric, normalize=normalize)
            expected = _ref_info_nce(z_a, z_b, tau, symmetric, normalize, "mean")
            assert float(loss) == pytest.approx(expected, rel=1e-3 if dtype == torch.float32 else 1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_info_nce_stable_with_nearly_identical_embeddings(dtype) -> None:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(1, 8, generator=g, dtype=torch.float64)
    # every row nearly the same direction, and z_b nearly z_a: a degenerate batch at tau = 1e-3
    z_a = (base + 1e-6 * torch.randn(16, 8, generator=g, dtype=torch.float64)).to(dtype)
    z_b = (z_a.double() + 1e-7 * torch.randn(16, 8, generator=g, dtype=torch.float64)).to(dtype)
    loss = _assert_finite_loss_and_grads(z_a, z_b, 1e-3)
    # all logits are ~equal, so each row is ~uniform: loss ~ log N
    assert float(loss) == pytest.approx(math.log(16), abs=0.05)
    # identical rows exactly (the positive is tied with every negative)
    z = base.repeat(4, 1).to(dtype)
    loss = _assert_finite_loss_and_grads(z, z, 1e-3)
    assert float(loss) == pytest.approx(math.log(4), rel=1e-5)


def test_info_nce_finite_where_naive_logsumexp_overflows() -> None:
    z_a, z_b = _pairs(21, 10, 6, dtype=torch.float32)
    tau = 1e-3  # logits up to 1000 > log(float32 max) ~ 88.7
    naive = _naive_info_nce(z_a, z_b, tau)
    assert not torch.isfinite(naive)  # exp(1000) = inf in float32
    ours = _assert_finite_loss_and_grads(z_a, z_b, tau)
    expected = _ref_info_nce(z_a, z_b, tau, True, True, "mean")
    assert float(ours) == pytest.approx(expected, rel=1e-3, abs=1e-2)
    # and where the naive formula does not overflow, it agrees with ours (so it is a fair comparison)
    torch.testing.assert_close(_naive_info_nce(z_a, z_b, 0.5), info_nce(z_a, z_b, 0.5))


# ---------------------------------------------------------------------------------------------------------------
# learnable temperature
# ---------------------------------------------------------------------------------------------------------------


def test_learnable_temperature_gets_gradient() -> None:
    z_a, z_b = _pairs(13, 8, 4, dtype=torch.float32)
    tau = torch.tensor(0.1, requires_grad=True)
    info_nce(z_a, z_b, tau).backward()
    assert tau.grad is not None and tau.grad.shape == () and torch.isfinite(tau.grad) and float(tau.grad) != 0.0
    # the gradient matches a central finite difference (float64)
    a, b = z_a.double(), z_b.double()
    t = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    info_nce(a, b, t).backward()
    h = 1e-6
    fd = (float(info_nce(a, b, 0.1 + h)) - float(info_nce(a, b, 0.1 - h))) / (2 * h)
    assert float(t.grad) == pytest.approx(fd, rel=1e-5)
    # learned on a log scale, as CLIP does
    log_tau = torch.tensor(math.log(0.1), requires_grad=True)
    info_nce(z_a, z_b, log_tau.exp()).backward()
    assert log_tau.grad is not None and float(log_tau.grad) != 0.0


def test_dual_encoder_temperature_is_learned_through_info_nce() -> None:
    torch.manual_seed(0)
    model = DualEncoder(nn.Linear(5, 4), nn.Linear(3, 4), init_temperature=0.07)
    a, b = torch.randn(10, 5), torch.randn(10, 3)
    z_a, z_b, tau = model(a, b)
    assert tau.shape == () and float(tau.detach()) == pytest.approx(0.07, rel=1e-5)
    info_nce(z_a, z_b, tau).backward()
    assert model.log_logit_scale.grad is not None and float(model.log_logit_scale.grad) != 0.0
    assert all(p.grad is not None for p in model.parameters())
    fixed = DualEncoder(nn.Linear(5, 4), nn.Linear(3, 4), learn_temperature=False)
    z_a, z_b, tau = fixed(a, b)
    assert not tau.requires_grad
    assert torch.isfinite(info_nce(z_a, z_b, tau))


# ---------------------------------------------------------------------------------------------------------------
# sigmoid_contrastive
# ---------------------------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 10),
    d=st.integers(1, 8),
    tau=st.floats(1e-2, 2.0),
    bias=st.floats(-10.0, 10.0),
    normalize=st.booleans(),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_sigmoid_contrastive_matches_loop_reference(seed, n, d, tau, bias, normalize, reduction) -> None:
    z_a, z_b = _pairs(seed, n, d)
    result = sigmoid_contrastive(z_a, z_b, tau, bias, normalize=normalize, reduction=reduction)
    expected = _ref_sigmoid(z_a, z_b, tau, bias, normalize, reduction)
    _assert_matches(result, expected, reduction)


@pytest.mark.parametrize(("n", "tau", "bias"), [(1, 0.1, 0.0), (6, 0.1, -10.0), (12, 1.0, 2.0), (9, 0.01, 3.0)])
def test_sigmoid_contrastive_equals_bce_with_logits(n, tau, bias) -> None:
    z_a, z_b = _pairs(n + 100, n, 5)
    logits = F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T / tau + bias
    eye = torch.eye(n, dtype=torch.float64)
    expected = F.binary_cross_entropy_with_logits(logits, eye, reduction="sum") / n
    torch.testing.assert_close(sigmoid_contrastive(z_a, z_b, tau, bias), expected)
    torch.testing.assert_close(
        sigmoid_contrastive(z_a, z_b, tau, bias, reduction="none"),
        F.binary_cross_entropy_with_logits(logits, eye, reduction="none").sum(dim=1),
    )
    torch.testing.assert_close(sigmoid_contrastive(z_a, z_b, tau, bias, reduction="sum"), expected * n)
    t, b = torch.tensor(tau, dtype=torch.float64), torch.tensor(bias, dtype=torch.float64)
    torch.testing.assert_close(sigmoid_contrastive(z_a, z_b, t, b), expected)


def test_sigmoid_contrastive_stable_at_small_temperature() -> None:
    z_a, z_b = _pairs(30, 12, 6, dtype=torch.float32)
    z_a.requires_grad_(True)
    tau = torch.tensor(1e-3, requires_grad=True)
    bias = torch.tensor(-10.0, requires_grad=True)
    loss = sigmoid_contrastive(z_a, z_b, tau, bias)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(bool(torch.isfinite(g).all()) for g in (z_a.grad, tau.grad, bias.grad))
    assert float(tau.grad) != 0.0 and float(bias.grad) != 0.0


def test_sigmoid_contrastive_hand_computed_value() -> None:
    # orthonormal pairs, tau = 1, bias = 0: diagonal logits 1, off-diagonal 0
    z = torch.eye(3, dtype=torch.float64)
    per_row = math.log1p(math.exp(-1.0)) + 2 * math.log(2.0)
    assert float(sigmoid_contrastive(z, z, 1.0, 0.0)) == pytest.approx(per_row, rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# bad inputs: the error names the argument
# ---------------------------------------------------------------------------------------------------------------

_GOOD = torch.randn(4, 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"temperature": -0.1}, ValueError, "temperature"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"temperature": float("inf")}, ValueError, "temperature"),
        ({"temperature": torch.tensor(0.0)}, ValueError, "temperature"),
        ({"temperature": torch.tensor(-1.0)}, ValueError, "temperature"),
        ({"temperature": torch.tensor(float("nan"))}, ValueError, "temperature"),
        ({"temperature": torch.tensor(float("inf"))}, ValueError, "temperature"),
        ({"temperature": torch.tensor([0.1, 0.2])}, ValueError, "temperature"),
        ({"temperature": "0.1"}, TypeError, "temperature"),
        ({"temperature": True}, TypeError, "temperature"),
        ({"temperature": None}, TypeError, "temperature"),
        ({"z_b": torch.randn(5, 3)}, ValueError, "z_a and z_b"),
        ({"z_b": torch.randn(4, 2)}, ValueError, "z_a and z_b"),
        ({"z_a": torch.randn(4)}, ValueError, "z_a"),
        ({"z_b": torch.randn(2, 2, 3)}, ValueError, "z_b"),
        ({"z_a": torch.randn(0, 3), "z_b": torch.randn(0, 3)}, ValueError, "z_a"),
        ({"z_a": torch.randn(4, 0), "z_b": torch.randn(4, 0)}, ValueError, "z_a"),
        ({"z_a": torch.tensor([[0.0, float("nan"), 0.0]] * 4)}, ValueError, "z_a"),
        ({"z_a": torch.tensor([[0.0, float("inf"), 0.0]] * 4)}, ValueError, "z_a"),
        ({"z_b": torch.tensor([[0.0, -float("inf"), 0.0]] * 4)}, ValueError, "z_b"),
        ({"z_a": torch.ones(4, 3, dtype=torch.long)}, TypeError, "z_a"),
        ({"z_b": torch.ones(4, 3, dtype=torch.int32)}, TypeError, "z_b"),
        ({"z_a": torch.ones(4, 3, dtype=torch.bool)}, TypeError, "z_a"),
        ({"z_a": [[1.0, 2.0, 3.0]] * 4}, TypeError, "z_a"),
        ({"reduction": "avg"}, ValueError, "reduction"),
        ({"reduction": None}, ValueError, "reduction"),
        ({"symmetric": 1}, TypeError, "symmetric"),
        ({"normalize": "yes"}, TypeError, "normalize"),
    ],
)
def test_info_nce_bad_inputs(kwargs, error, name) -> None:
    args = {"z_a": _GOOD, "z_b": _GOOD.clone(), "temperature": 0.1} | kwargs
    with pytest.raises(error, match=name):
        info_nce(**args)


@pytest.mark.parametrize(
    ("logits", "kwargs", "error", "name"),
    [
        (torch.randn(3, 4), {}, ValueError, "logits"),
        (torch.randn(3), {}, ValueError, "logits"),
        (torch.randn(2, 3, 3), {}, ValueError, "logits"),
        (torch.randn(0, 0), {}, ValueError, "logits"),
        (torch.ones(3, 3, dtype=torch.long), {}, TypeError, "logits"),
        ([[1.0, 0.0], [0.0, 1.0]], {}, TypeError, "logits"),
        (torch.tensor([[0.0, float("nan")], [0.0, 0.0]]), {}, ValueError, "logits"),
        (torch.tensor([[0.0, float("inf")], [0.0, 0.0]]), {}, ValueError, "logits"),
        (torch.randn(3, 3), {"reduction": "max"}, ValueError, "reduction"),
        (torch.randn(3, 3), {"symmetric": "no"}, TypeError, "symmetric"),
    ],
)
def test_info_nce_logits_bad_inputs(logits, kwargs, error, name) -> None:
    with pytest.raises(error, match=name):
        info_nce_logits(logits, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"temperature": torch.tensor([1.0, 2.0])}, ValueError, "temperature"),
        ({"bias": torch.tensor([1.0, 2.0])}, ValueError, "bias"),
        ({"bias": torch.tensor(float("nan"))}, ValueError, "bias"),
        ({"bias": float("nan")}, (TypeError, ValueError), "bias"),
        ({"bias": float("inf")}, (TypeError, ValueError), "bias"),
        ({"bias": "0"}, TypeError, "bias"),
        ({"z_b": torch.randn(3, 3)}, ValueError, "z_a and z_b"),
        ({"z_a": torch.randn(4)}, ValueError, "z_a"),
        ({"z_a": torch.ones(4, 3, dtype=torch.long)}, TypeError, "z_a"),
        ({"z_b": torch.full((4, 3), float("nan"))}, ValueError, "z_b"),
        ({"z_a": torch.randn(0, 3), "z_b": torch.randn(0, 3)}, ValueError, "z_a"),
        ({"reduction": "avg"}, ValueError, "reduction"),
    ],
)
def test_sigmoid_contrastive_bad_inputs(kwargs, error, name) -> None:
    args = {"z_a": _GOOD, "z_b": _GOOD.clone(), "temperature": 0.1, "bias": -10.0} | kwargs
    with pytest.raises(error, match=name):
        sigmoid_contrastive(**args)


# ---------------------------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------------------------

_batches = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 12), st.integers(1, 8))


@settings(max_examples=40, deadline=None)
@given(batch=_batches, tau=st.floats(1e-2, 2.0), symmetric=st.booleans(), normalize=st.booleans(), data=st.data())
def test_info_nce_invariant_to_joint_permutation(batch, tau, symmetric, normalize, data) -> None:
    seed, n, d = batch
    z_a, z_b = _pairs(seed, n, d)
    perm = torch.tensor(data.draw(st.permutations(range(n))), dtype=torch.long)
    kw = {"symmetric": symmetric, "normalize": normalize}
    per_pair = info_nce(z_a, z_b, tau, reduction="none", **kw)
    permuted = info_nce(z_a[perm], z_b[perm], tau, reduction="none", **kw)
    torch.testing.assert_close(permuted, per_pair[perm], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(info_nce(z_a[perm], z_b[perm], tau, **kw), info_nce(z_a, z_b, tau, **kw))
    # sigmoid loss: same invariance
    torch.testing.assert_close(
        sigmoid_contrastive(z_a[perm], z_b[perm], tau, -1.0, reduction="none"),
        sigmoid_contrastive(z_a, z_b, tau, -1.0, reduction="none")[perm],
    )


@settings(max_examples=40, deadline=None)
@given(batch=_batches, tau=st.floats(1e-2, 2.0), symmetric=st.booleans(), normalize=st.booleans())
def test_info_nce_nonnegative_and_mi_bound_capped(batch, tau, symmetric, normalize) -> None:
    seed, n, d = batch
    z_a, z_b = _pairs(seed, n, d)
    per_pair = info_nce(z_a, z_b, tau, symmetric=symmetric, normalize=normalize, reduction="none")
    assert bool((per_pair >= 0).all())
    loss = per_pair.mean()
    bound = infonce_mi_bound(loss, n)
    assert float(bound) <= math.log(n) + 1e-12
    assert float(infonce_mi_bound(float(loss), n)) <= math.log(n) + 1e-12
    # the a->b loss of a batch with a perfect, well-separated critic approaches 0, never below
    assert float(info_nce_logits(torch.eye(n, dtype=torch.float64) * 50.0)) >= 0.0


@settings(max_examples=40, deadline=None)
@given(batch=_batches, tau=st.floats(1e-2, 2.0), normalize=st.booleans(), reduction=st.sampled_from(REDUCTIONS))
def test_symmetric_is_mean_of_both_directions(batch, tau, normalize, reduction) -> None:
    seed, n, d = batch
    z_a, z_b = _pairs(seed, n, d)
    a_to_b = info_nce(z_a, z_b, tau, symmetric=False, normalize=normalize, reduction=reduction)
    b_to_a = info_nce(z_b, z_a, tau, symmetric=False, normalize=normalize, reduction=reduction)
    both = info_nce(z_a, z_b, tau, symmetric=True, normalize=normalize, reduction=reduction)
    torch.testing.assert_close(both, (a_to_b + b_to_a) / 2, rtol=1e-10, atol=1e-10)
    # the symmetric loss is symmetric in its arguments
    torch.testing.assert_close(
        info_nce(z_b, z_a, tau, normalize=normalize, reduction=reduction), both, rtol=1e-10, atol=1e-10
    )


def test_directions_differ_in_general() -> None:
    # guards the property above from passing trivially: a->b and b->a are different numbers
    z_a, z_b = _pairs(1, 6, 3)
    a_to_b = info_nce(z_a, z_b, 0.2, symmetric=False)
    b_to_a = info_nce(z_b, z_a, 0.2, symmetric=False)
    assert abs(float(a_to_b) - float(b_to_a)) > 1e-6
