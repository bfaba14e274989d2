"""Tests for mmobjectives.models: the MLP, the encoders, the critic, and the package's layout."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from mmobjectives import models
from mmobjectives.models import MLP


def test_mlp_output_shapes() -> None:
    torch.manual_seed(0)
    model = MLP(3, 2, hidden=(8, 4))
    assert model(torch.randn(5, 3)).shape == (5, 2)
    assert model(torch.randn(2, 5, 3)).shape == (2, 5, 2)
    assert model(torch.randn(3)).shape == (2,)
    assert model.in_dim == 3 and model.out_dim == 2


def test_mlp_default_architecture() -> None:
    model = MLP(2, 2)
    kinds = [type(m) for m in model.net]
    assert kinds == [nn.Linear, nn.SiLU, nn.Linear, nn.SiLU, nn.Linear]
    widths = [(m.in_features, m.out_features) for m in model.net if isinstance(m, nn.Linear)]
    assert widths == [(2, 128), (128, 128), (128, 2)]


@pytest.mark.parametrize(("name", "cls"), [("silu", nn.SiLU), ("relu", nn.ReLU), ("gelu", nn.GELU), ("tanh", nn.Tanh)])
def test_mlp_activations(name: str, cls: type) -> None:
    model = MLP(4, 1, hidden=(6, 5, 3), activation=name)
    activations = [m for m in model.net if not isinstance(m, nn.Linear)]
    assert len(activations) == 3
    assert all(type(m) is cls for m in activations)
    assert not isinstance(model.net[-1], cls)  # no activation after the last layer
    widths = [(m.in_features, m.out_features) for m in model.net if isinstance(m, nn.Linear)]
    assert widths == [(4, 6), (6, 5), (5, 3), (3, 1)]


def test_mlp_without_hidden_layers_is_linear() -> None:
    torch.manual_seed(1)
    model = MLP(3, 2, hidden=())
    assert len(model.net) == 1 and isinstance(model.net[0], nn.Linear)
    x = torch.randn(7, 3)
    w, b = model.net[0].weight, model.net[0].bias
    torch.testing.assert_close(model(x), x @ w.T + b)
    # linearity: f(a x + c y) = a f(x) + c f(y) - (a + c - 1) b
    y = torch.randn(7, 3)
    torch.testing.assert_close(model(2 * x + 3 * y), 2 * model(x) + 3 * model(y) - 4 * b)


def test_mlp_is_nonlinear_with_hidden_layers() -> None:
    torch.manual_seed(2)
    model = MLP(2, 1, hidden=(16,), activation="tanh")
    x = torch.randn(10, 2)
    assert not torch.allclose(model(2 * x) - model(torch.zeros(1, 2)), 2 * (model(x) - model(torch.zeros(1, 2))))


def test_mlp_gradients_flow_to_every_parameter() -> None:
    torch.manual_seed(3)
    model = MLP(3, 2, hidden=(8, 8))
    model(torch.randn(4, 3)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert float(p.grad.abs().sum()) > 0, name


def test_mlp_float64() -> None:
    model = MLP(2, 2, hidden=(4,)).double()
    out = model(torch.randn(3, 2, dtype=torch.float64))
    assert out.dtype == torch.float64


@pytest.mark.parametrize("activation", ["sigmoid", "SiLU", "", "softplus"])
def test_mlp_bad_activation(activation: str) -> None:
    with pytest.raises(ValueError, match="activation"):
        MLP(2, 2, activation=activation)


@pytest.mark.parametrize("shape", [(5, 2), (5, 4), (3, 1), (2,)])
def test_mlp_wrong_input_features(shape: tuple[int, ...]) -> None:
    model = MLP(3, 2, hidden=(4,))
    with pytest.raises(ValueError, match="3 features"):
        model(torch.randn(*shape))


def test_mlp_rejects_non_tensor_input() -> None:
    model = MLP(2, 1, hidden=())
    with pytest.raises(TypeError, match="tensor"):
        model([[1.0, 2.0]])


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "name"),
    [
        ((0, 2), {}, ValueError, "in_dim"),
        ((2, 0), {}, ValueError, "out_dim"),
        ((2.0, 2), {}, TypeError, "in_dim"),
        ((2, 2), {"hidden": (4, 0)}, ValueError, "hidden"),
        ((2, 2), {"hidden": (4.5,)}, TypeError, "hidden"),
        ((True, 2), {}, TypeError, "in_dim"),
    ],
)
def test_mlp_bad_sizes(args: tuple, kwargs: dict, exc: type, name: str) -> None:
    with pytest.raises(exc, match=name):
        MLP(*args, **kwargs)


# -- DualEncoder ---------------------------------------------------------------------------------------------------
def _dual(**kwargs) -> models.DualEncoder:
    torch.manual_seed(4)
    return models.DualEncoder(MLP(3, 4, hidden=(8,)), MLP(5, 4, hidden=()), **kwargs)


def test_dual_encoder_returns_normalised_embeddings_and_temperature() -> None:
    model = _dual()
    z_a, z_b, tau = model(torch.randn(6, 3), torch.randn(6, 5))
    assert z_a.shape == (6, 4) and z_b.shape == (6, 4)
    torch.testing.assert_close(z_a.norm(dim=-1), torch.ones(6))
    torch.testing.assert_close(z_b.norm(dim=-1), torch.ones(6))
    assert tau.dim() == 0
    assert float(tau.detach()) == pytest.approx(0.07, rel=1e-6)
    x = torch.randn(2, 3)
    torch.testing.assert_close(model.encode_a(x), model.encoder_a(x) / model.encoder_a(x).norm(dim=-1, keepdim=True))


def test_dual_encoder_temperature_is_learnable_or_fixed() -> None:
    learned = _dual(init_temperature=0.5)
    assert any(p is learned.log_logit_scale for p in learned.parameters())
    assert float(learned.log_logit_scale.detach()) == pytest.approx(math.log(2.0), rel=1e-6)
    _, _, tau = learned(torch.randn(3, 3), torch.randn(3, 5))
    tau.backward()
    assert learned.log_logit_scale.grad is not None and float(learned.log_logit_scale.grad) != 0.0
    fixed = _dual(init_temperature=0.5, learn_temperature=False)
    assert all(p is not fixed.log_logit_scale for p in fixed.parameters())
    assert "log_logit_scale" in dict(fixed.named_buffers())
    assert float(fixed.temperature) == pytest.approx(0.5, rel=1e-6)


def test_dual_encoder_logit_scale_is_clamped() -> None:
    model = _dual()
    with torch.no_grad():
        model.log_logit_scale.fill_(math.log(1000.0))
    assert float(model.logit_scale.detach()) == pytest.approx(100.0)
    assert float(model.temperature.detach()) == pytest.approx(0.01)
    model.temperature.backward()
    assert float(model.log_logit_scale.grad) == 0.0  # no gradient while clamped


def test_dual_encoder_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="encoder_a"):
        models.DualEncoder(lambda x: x, MLP(2, 2))
    with pytest.raises(ValueError, match="init_temperature"):
        _dual(init_temperature=0.0)
    with pytest.raises(ValueError, match="init_temperature"):
        _dual(init_temperature=0.001)  # 1/tau above the clamp
    with pytest.raises(ValueError, match="max_logit_scale"):
        _dual(max_logit_scale=-1.0)
    mismatched = models.DualEncoder(MLP(3, 4, hidden=()), MLP(5, 6, hidden=()))
    with pytest.raises(ValueError, match="embedding size"):
        mismatched(torch.randn(2, 3), torch.randn(2, 5))


# -- ImageEncoder -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [8, 28])
def test_image_encoder_output_shape(size: int) -> None:
    torch.manual_seed(0)
    encoder = models.ImageEncoder(out_dim=6, image_size=size, channels=4, hidden=8)
    out = encoder(torch.randn(3, 1, size, size))
    assert out.shape == (3, 6)
    assert torch.isfinite(out).all()


def test_image_encoder_strides_only_large_images() -> None:
    small = models.ImageEncoder(image_size=8, channels=4, hidden=8)
    large = models.ImageEncoder(image_size=28, channels=4, hidden=8)
    assert small.features[2].stride == (1, 1)
    assert large.features[2].stride == (2, 2)


@pytest.mark.parametrize("shape", [(2, 8, 8), (2, 3, 8, 8), (2, 1, 1, 8, 8)])
def test_image_encoder_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    encoder = models.ImageEncoder(out_dim=4, channels=4, hidden=8)
    with pytest.raises(ValueError, match="images"):
        encoder(torch.randn(*shape))


def test_image_encoder_rejects_non_tensors() -> None:
    encoder = models.ImageEncoder(out_dim=4, channels=4, hidden=8)
    with pytest.raises(ValueError, match="images"):
        encoder([[[[0.0] * 8] * 8]])


def test_image_encoder_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    encoder = models.ImageEncoder(out_dim=4, channels=4, hidden=8)
    encoder(torch.randn(2, 1, 8, 8)).pow(2).sum().backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


# -- TextEncoder --------------------------------------------------------------------------------------------------
def test_text_encoder_output_shape() -> None:
    torch.manual_seed(0)
    encoder = models.TextEncoder(vocab_size=10, out_dim=5, embed_dim=6, hidden=8)
    assert encoder(torch.randint(1, 10, (4, 7))).shape == (4, 5)


def test_text_encoder_ignores_padding() -> None:
    torch.manual_seed(0)
    encoder = models.TextEncoder(vocab_size=10, out_dim=5, embed_dim=6, hidden=8, pad_id=0)
    with torch.no_grad():  # make the pad row non-zero: only the mask may keep pads out of the mean
        encoder.embed.weight[0].fill_(3.0)
    tokens = torch.tensor([[3, 1, 4], [5, 9, 2]])
    padded = torch.cat([tokens, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(encoder(padded), encoder(tokens))
    # padding in the middle too: only which words occur (and how often) matters
    torch.testing.assert_close(encoder(torch.tensor([[3, 0, 1, 0, 4]])), encoder(tokens[:1]))


def test_text_encoder_mean_is_over_real_tokens() -> None:
    torch.manual_seed(0)
    encoder = models.TextEncoder(vocab_size=10, out_dim=5, embed_dim=6, hidden=8)
    tokens = torch.tensor([[3, 1, 4, 0, 0]])
    expected = encoder.head(encoder.embed.weight[[3, 1, 4]].mean(dim=0, keepdim=True))
    torch.testing.assert_close(encoder(tokens), expected)


def test_text_encoder_non_default_pad_id() -> None:
    torch.manual_seed(0)
    encoder = models.TextEncoder(vocab_size=10, out_dim=5, embed_dim=6, hidden=8, pad_id=9)
    torch.testing.assert_close(encoder(torch.tensor([[3, 1, 9, 9]])), encoder(torch.tensor([[3, 1]])))
    # 0 is an ordinary word now
    assert not torch.allclose(encoder(torch.tensor([[3, 1, 0]])), encoder(torch.tensor([[3, 1]])))


def test_text_encoder_all_pad_row_is_finite() -> None:
    torch.manual_seed(0)
    encoder = models.TextEncoder(vocab_size=10, out_dim=5, embed_dim=6, hidden=8)
    out = encoder(torch.tensor([[0, 0, 0], [1, 2, 0]]))
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("tokens", [torch.tensor([[1, 10]]), torch.tensor([[-1, 2]])])
def test_text_encoder_rejects_out_of_range_ids(tokens: torch.Tensor) -> None:
    encoder = models.TextEncoder(vocab_size=10, out_dim=5, embed_dim=6, hidden=8)
    with pytest.raises(ValueError, match="tokens"):
        encoder(tokens)


@pytest.mark.parametrize("tokens", [torch.tensor([[1.0, 2.0]]), torch.tensor([1, 2]), [[1, 2]]])
def test_text_encoder_rejects_float_or_misshapen_tokens(tokens) -> None:
    encoder = models.TextEncoder(vocab_size=10, out_dim=5, embed_dim=6, hidden=8)
    with pytest.raises(ValueError, match="tokens"):
        encoder(tokens)


# -- SeparableCritic ----------------------------------------------------------------------------------------------
def test_separable_critic_is_an_inner_product_of_its_towers() -> None:
    torch.manual_seed(0)
    critic = models.SeparableCritic(dim_x=3, dim_y=2, embed_dim=4, hidden=8)
    x, y = torch.randn(5, 3), torch.randn(5, 2)
    scores = critic(x, y)
    assert scores.shape == (5, 5)
    gx, hy = critic.g(x), critic.h(y)
    expected = torch.stack([torch.stack([(gx[i] * hy[j]).sum() for j in range(5)]) for i in range(5)])
    torch.testing.assert_close(scores, expected)
    assert not torch.allclose(scores, scores.T)  # g and h are different networks


def test_separable_critic_rejects_different_batch_sizes() -> None:
    critic = models.SeparableCritic(dim_x=3, dim_y=2, embed_dim=4, hidden=8)
    with pytest.raises(ValueError, match="same number"):
        critic(torch.randn(5, 3), torch.randn(4, 2))


# -- the package ---------------------------------------------------------------------------------------------------
def test_models_package_exports_every_model_from_small_modules() -> None:
    expected = {
        "MLP",
        "Captioner",
        "ConditionalEpsNet",
        "DualEncoder",
        "ImageEncoder",
        "NGramModel",
        "ScoreNet",
        "SeparableCritic",
        "TextConditionedEpsNet",
        "TextEncoder",
        "TinyGPT",
        "VQAModel",
        "classifier_free_guidance",
    }
    assert set(models.__all__) == expected
    for name in models.__all__:
        assert getattr(models, name).__module__.startswith("mmobjectives.models."), name
        assert name in models.__doc__, f"the package docstring's module map does not mention {name}"
    for path in Path(models.__file__).parent.glob("*.py"):
        n_lines = len(path.read_text().splitlines())
        assert n_lines <= 500, f"{path.name} has {n_lines} lines: split it"


@pytest.mark.parametrize("tokens", [torch.tensor([[True, False]]), torch.tensor([[1.0 + 0j, 2.0]])])
def test_text_encoder_rejects_bool_and_complex_tokens(tokens: torch.Tensor) -> None:
    encoder = models.TextEncoder(vocab_size=10, out_dim=5, embed_dim=6, hidden=8)
    with pytest.raises(ValueError, match="tokens must hold token ids"):
        encoder(tokens)


def test_image_encoder_rejects_integer_images() -> None:
    encoder = models.ImageEncoder(out_dim=4, channels=4, hidden=8)
    with pytest.raises(ValueError, match="images must be a floating"):
        encoder(torch.zeros(2, 1, 8, 8, dtype=torch.long))
