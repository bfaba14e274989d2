"""ConditionalEpsNet (notebook 04): a class-conditional noise predictor for classifier-free guidance; the one
guidance formula (models.classifier_free_guidance) and the base class both conditional ε-nets share.

Only fast structural checks here (shapes, the null label, label dropping, conditioning, gradients, input
validation, pixel scaling, and one step through the package's loss and samplers); the end-to-end result (guided
samples classified as the prompted digit) is measured in notebook 04.
"""

from __future__ import annotations

import pytest
import torch

from mmobjectives import models, sampling
from mmobjectives.losses.diffusion import eps_prediction_loss
from mmobjectives.models import ConditionalEpsNet, TextConditionedEpsNet, classifier_free_guidance


@pytest.fixture
def model() -> ConditionalEpsNet:
    torch.manual_seed(0)
    return ConditionalEpsNet(image_size=8, n_classes=10, hidden=32, n_layers=2, time_features=8, p_uncond=0.1)


def test_output_shape_matches_input(model: ConditionalEpsNet) -> None:
    labels = torch.tensor([0, 3, 9, 10, 5])  # 10 is the null label
    images = torch.randn(5, 1, 8, 8)
    assert model(images, torch.rand(5), labels).shape == (5, 1, 8, 8)
    assert model(images.reshape(5, 64), 0.5, labels).shape == (5, 64)  # flattened, as the samplers pass it
    torch.testing.assert_close(
        model(images, 0.3, labels).reshape(5, 64), model(images.reshape(5, 64), torch.full((5,), 0.3), labels)
    )


def test_null_label(model: ConditionalEpsNet) -> None:
    assert model.null_label == 10
    nulls = model.null_labels(4)
    assert nulls.dtype == torch.long and nulls.tolist() == [10, 10, 10, 10]
    assert model.embed.num_embeddings == 11  # ten classes and the null label
    assert model.null_labels(0).shape == (0,)


def test_drop_labels_rate() -> None:
    model = ConditionalEpsNet(hidden=8, n_layers=1, p_uncond=0.25)
    labels = torch.arange(10).repeat(2000)
    dropped = model.drop_labels(labels, generator=torch.Generator().manual_seed(0))
    is_null = dropped == model.null_label
    assert abs(float(is_null.float().mean()) - 0.25) < 0.015  # 5 standard errors of 20000 Bernoulli(0.25) draws
    torch.testing.assert_close(dropped[~is_null], labels[~is_null])  # the others are untouched
    again = model.drop_labels(labels, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(dropped, again)  # reproducible with a generator
    assert labels.max() == 9  # not modified in place


def test_drop_labels_extremes() -> None:
    labels = torch.arange(10)
    assert torch.equal(ConditionalEpsNet(hidden=8, n_layers=1, p_uncond=0.0).drop_labels(labels), labels)
    assert (ConditionalEpsNet(hidden=8, n_layers=1, p_uncond=1.0).drop_labels(labels) == 10).all()


def test_class_conditioning_changes_the_output(model: ConditionalEpsNet) -> None:
    x = torch.randn(3, 1, 8, 8)
    t = torch.full((3,), 0.5)
    outputs = [model(x, t, torch.full((3,), c)) for c in (0, 7, model.null_label)]
    assert not torch.allclose(outputs[0], outputs[1])
    assert not torch.allclose(outputs[0], outputs[2])
    assert not torch.allclose(model(x, 0.1, torch.zeros(3, dtype=torch.long)), outputs[0])  # and so does t


def test_guided_eps(model: ConditionalEpsNet) -> None:
    x, t, labels = torch.randn(4, 64), torch.rand(4), torch.tensor([1, 2, 3, 4])
    cond, uncond = model(x, t, labels), model(x, t, model.null_labels(4))
    torch.testing.assert_close(model.guided_eps(x, t, labels, w=0.0), cond)
    torch.testing.assert_close(model.guided_eps(x, t, labels, w=2.0), sampling.guided_score(cond, uncond, 2.0))


def test_gradients_flow_through_the_package_loss(model: ConditionalEpsNet) -> None:
    x0 = ConditionalEpsNet.to_model_space(torch.rand(16, 1, 8, 8)).reshape(16, 64)
    labels = model.drop_labels(torch.arange(16) % 10, generator=torch.Generator().manual_seed(1))
    loss = eps_prediction_loss(
        lambda x, t: model(x, t, labels), x0, sampling.VPSchedule("cosine"), generator=torch.Generator().manual_seed(2)
    )
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and bool(torch.isfinite(parameter.grad).all()), name
    assert float(model.embed.weight.grad[labels].abs().sum()) > 0
    assert float(model.net.net[0].weight.grad.abs().sum()) > 0


def test_guided_sampling_runs(model: ConditionalEpsNet) -> None:
    schedule = sampling.VPSchedule("cosine")
    prompts = torch.tensor([0, 1, 2])

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, sigma = schedule.marginal(t)
        return sampling.score_from_eps(model.guided_eps(x, t, prompts, w=1.0), sigma)

    x = sampling.reverse_sde(score_fn, torch.randn(3, 64), schedule, 5, generator=torch.Generator().manual_seed(0))
    pixels = ConditionalEpsNet.to_pixel_space(x).reshape(3, 1, 8, 8)
    assert pixels.shape == (3, 1, 8, 8) and bool(((pixels >= 0) & (pixels <= 1)).all())


def test_pixel_space_round_trip() -> None:
    pixels = torch.rand(4, 1, 8, 8)
    model_space = ConditionalEpsNet.to_model_space(pixels)
    assert float(model_space.min()) >= -1 and float(model_space.max()) <= 1
    torch.testing.assert_close(
        ConditionalEpsNet.to_model_space(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([-1.0, 0.0, 1.0])
    )
    torch.testing.assert_close(ConditionalEpsNet.to_pixel_space(model_space), pixels)
    assert ConditionalEpsNet.to_pixel_space(torch.tensor([-3.0, 3.0])).tolist() == [0.0, 1.0]  # clipped


@pytest.mark.parametrize(
    "shape", [(4, 64 + 1), (4, 1, 7, 7), (4, 2, 8, 8), (4, 8, 8), (1, 4, 1, 8, 8)], ids=lambda s: str(s)
)
def test_wrong_image_shape_raises(model: ConditionalEpsNet, shape: tuple[int, ...]) -> None:
    n = shape[0]
    with pytest.raises(ValueError, match="x must be"):
        model(torch.randn(shape), 0.5, torch.zeros(n, dtype=torch.long))


@pytest.mark.parametrize(
    "labels",
    [torch.tensor([0, 11, 2, 3]), torch.tensor([0, -1, 2, 3]), torch.zeros(4), torch.zeros(4, 1, dtype=torch.long)],
    ids=["too-large", "negative", "float", "2-D"],
)
def test_bad_labels_raise(model: ConditionalEpsNet, labels: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="labels must"):
        model(torch.randn(4, 1, 8, 8), 0.5, labels)
    with pytest.raises(ValueError, match="labels must"):
        model.drop_labels(labels)


def test_labels_count_and_time_are_checked(model: ConditionalEpsNet) -> None:
    with pytest.raises(ValueError, match="labels must hold one class per image"):
        model(torch.randn(4, 1, 8, 8), 0.5, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="t must"):
        model(torch.randn(4, 1, 8, 8), 1.5, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="t must"):
        model(torch.randn(4, 1, 8, 8), torch.rand(3), torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"p_uncond": 1.5}, "p_uncond"), ({"time_features": 7}, "time_features"), ({"n_classes": 0}, "n_classes")],
)
def test_bad_constructor_arguments(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ConditionalEpsNet(**kwargs)


def test_vector_mode_for_2d_points() -> None:
    net = ConditionalEpsNet(n_classes=5, hidden=16, n_layers=1, data_dim=2)
    x = torch.randn(7, 2)
    out = net(x, torch.rand(7), torch.randint(0, 6, (7,)))
    assert out.shape == (7, 2) and net.dim == 2
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        net(torch.randn(7, 1, 8, 8), 0.5, torch.zeros(7, dtype=torch.long))
    with pytest.raises(ValueError, match="data_dim"):
        ConditionalEpsNet(data_dim=0)


# -- classifier_free_guidance: the one guidance formula of the package ---------------------------------------------
def test_classifier_free_guidance_matches_the_formula() -> None:
    generator = torch.Generator().manual_seed(3)
    cond, uncond = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)
    for w in (-1.5, 0.5, 2.0, 7.0):
        torch.testing.assert_close(classifier_free_guidance(cond, uncond, w), (1 + w) * cond - w * uncond)
    torch.testing.assert_close(classifier_free_guidance(cond, uncond, 0.0), cond)  # plain conditional
    torch.testing.assert_close(classifier_free_guidance(cond, uncond, -1.0), uncond)  # unconditional
    torch.testing.assert_close(classifier_free_guidance(cond, uncond, torch.tensor(2.0)), 3 * cond - 2 * uncond)


def test_classifier_free_guidance_passes_gradients_to_both_terms() -> None:
    cond = torch.randn(4, 2, requires_grad=True)
    uncond = torch.randn(4, 2, requires_grad=True)
    classifier_free_guidance(cond, uncond, 1.5).sum().backward()
    torch.testing.assert_close(cond.grad, torch.full((4, 2), 2.5))
    torch.testing.assert_close(uncond.grad, torch.full((4, 2), -1.5))


@pytest.mark.parametrize(
    ("cond", "uncond", "w", "error", "pattern"),
    [
        (torch.zeros(2, 3), torch.zeros(2, 3), "2", TypeError, "w must be a real number"),
        (torch.zeros(2, 3), torch.zeros(2, 3), float("inf"), ValueError, "w must be finite"),
        (torch.zeros(2, 3), torch.zeros(2, 4), 1.0, ValueError, r"uncond must have cond's shape \(2, 3\)"),
        (torch.zeros(2, 3), torch.zeros(2, 3, device="meta"), 1.0, ValueError, "uncond must be on the same device"),
        ([[0.0]], torch.zeros(1, 1), 1.0, TypeError, "cond must be a floating-point tensor"),
        (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long), 1.0, TypeError, "uncond must be a floating-point"),
    ],
)
def test_classifier_free_guidance_validates_its_inputs(cond, uncond, w, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        classifier_free_guidance(cond, uncond, w)


def test_classifier_free_guidance_names_the_caller_arguments() -> None:
    with pytest.raises(ValueError, match="score_uncond must have score_cond's shape"):
        classifier_free_guidance(torch.zeros(2), torch.zeros(3), 1.0, names=("score_cond", "score_uncond"))


# -- one base class for both conditional ε-nets ----------------------------------------------------------------------
def test_both_eps_nets_share_one_body() -> None:
    base = ConditionalEpsNet.__mro__[1]
    assert TextConditionedEpsNet.__mro__[1] is base
    for method in ("forward", "guided_eps", "drop_conditions", "to_model_space", "to_pixel_space"):
        assert method in vars(base), method
        assert method not in vars(TextConditionedEpsNet), f"TextConditionedEpsNet re-implements {method}"


def test_guided_eps_goes_through_classifier_free_guidance(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = models.diffusion.classifier_free_guidance

    def spy(cond: torch.Tensor, uncond: torch.Tensor, w: float) -> torch.Tensor:
        calls.append(w)
        return original(cond, uncond, w)

    monkeypatch.setattr(models.diffusion, "classifier_free_guidance", spy)
    torch.manual_seed(0)
    label_net = ConditionalEpsNet(image_size=4, n_classes=3, hidden=8, n_layers=1)
    text_net = TextConditionedEpsNet(cond_dim=2, image_size=4, hidden=8, n_layers=1)
    label_net.guided_eps(torch.randn(2, 16), 0.5, torch.tensor([0, 1]), w=1.0)
    text_net.guided_eps(torch.randn(2, 16), 0.5, torch.randn(2, 2), w=3.0)
    assert calls == [1.0, 3.0]


def test_drop_conditions_is_drop_labels_for_class_labels() -> None:
    model = ConditionalEpsNet(hidden=8, n_layers=1, p_uncond=0.5)
    labels = torch.arange(10).repeat(20)
    torch.testing.assert_close(
        model.drop_conditions(labels, generator=torch.Generator().manual_seed(4)),
        model.drop_labels(labels, generator=torch.Generator().manual_seed(4)),
    )
    with pytest.raises(TypeError, match="generator"):
        model.drop_labels(labels, generator=4)


def test_guided_eps_validates_x_before_using_it() -> None:
    net = TextConditionedEpsNet(cond_dim=2, image_size=4, hidden=8, n_layers=1)
    with pytest.raises(ValueError, match="x must be"):
        net.guided_eps([[0.0] * 16], 0.5, torch.randn(1, 2), w=1.0)
    with pytest.raises(TypeError, match="w must be a real number"):
        net.guided_eps(torch.randn(1, 16), 0.5, torch.randn(1, 2), w="2")
