"""Tests for mmobjectives.widgets: the softmax-temperature compute function, Panel and control_values."""

from __future__ import annotations

import math

import ipywidgets as ipw
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mmobjectives import experiments, widgets
from mmobjectives.experiments import SoftmaxSummary, softmax_temperature
from mmobjectives.widgets import Panel, control_values, softmax_temperature_panel

LOGITS = [2.0, 1.0, 0.5, 0.0, -1.0]
NAMES = ["cat", "dog", "bird", "fish", "frog"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _reference(logits: list[float], temperature: float, label: int) -> tuple[np.ndarray, float, float]:
    """Softmax, entropy and cross-entropy with plain numpy (moderate temperatures only)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max())
    p = e / e.sum()
    entropy = float(-(p * np.log(p)).sum())
    return p, entropy, float(-np.log(p[label]))


# -- softmax_temperature ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 2.0, 10.0])
@pytest.mark.parametrize("label", [0, 2, 4])
def test_softmax_temperature_matches_numpy(temperature: float, label: int) -> None:
    result = softmax_temperature(LOGITS, temperature, label)
    probs, entropy, ce = _reference(LOGITS, temperature, label)
    assert isinstance(result, SoftmaxSummary)
    np.testing.assert_allclose(result.probs, probs, rtol=1e-12, atol=1e-300)
    assert result.entropy == pytest.approx(entropy, rel=1e-12, abs=1e-15)
    assert result.cross_entropy == pytest.approx(ce, rel=1e-12)
    assert result.max_entropy == pytest.approx(math.log(5), rel=1e-15)
    assert result.temperature == temperature and result.label == label
    np.testing.assert_array_equal(result.logits, LOGITS)
    assert result.probs.sum() == pytest.approx(1.0, abs=1e-12)


def test_softmax_temperature_one_is_the_plain_softmax() -> None:
    result = softmax_temperature(torch.tensor([1.0, 2.0, 3.0]), 1.0, 2)
    expected = torch.softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), dim=0).numpy()
    np.testing.assert_allclose(result.probs, expected, rtol=1e-12)
    assert result.cross_entropy == pytest.approx(-math.log(expected[2]), rel=1e-12)


@pytest.mark.parametrize("temperature", [1e-2, 1e-3, 1e-6, 1e-12, 1e-300])
def test_small_temperature_is_one_hot_with_zero_entropy(temperature: float) -> None:
    for label in (0, 1):
        result = softmax_temperature(LOGITS, temperature, label)
        assert np.isfinite(result.probs).all()
        assert np.isfinite(result.entropy) and np.isfinite(result.cross_entropy)
        assert 0.0 <= result.entropy < 1e-9
        assert math.copysign(1.0, result.entropy) == 1.0  # never -0.0 (it would print as "-0.000")
        np.testing.assert_allclose(result.probs, [1.0, 0.0, 0.0, 0.0, 0.0], atol=1e-12)
    assert softmax_temperature(LOGITS, temperature, 0).cross_entropy < 1e-9
    # the wrong label costs the logit gap divided by T
    assert softmax_temperature(LOGITS, temperature, 1).cross_entropy == pytest.approx(1.0 / temperature, rel=1e-6)


def test_small_temperature_splits_ties_evenly() -> None:
    result = softmax_temperature([3.0, 3.0, 0.0], 1e-4, 0)
    np.testing.assert_allclose(result.probs, [0.5, 0.5, 0.0], atol=1e-12)
    assert result.entropy == pytest.approx(math.log(2), rel=1e-9)
    assert result.cross_entropy == pytest.approx(math.log(2), rel=1e-9)


@pytest.mark.parametrize("temperature", [1e3, 1e6, 1e12])
def test_large_temperature_is_uniform_with_max_entropy(temperature: float) -> None:
    result = softmax_temperature(LOGITS, temperature, 3)
    assert result.entropy == pytest.approx(math.log(5), abs=1e-5)
    assert result.entropy <= result.max_entropy + 1e-12
    np.testing.assert_allclose(result.probs, np.full(5, 0.2), atol=1e-3)
    assert result.cross_entropy == pytest.approx(math.log(5), abs=1e-2)


def test_entropy_increases_with_temperature() -> None:
    temperatures = [0.05, 0.2, 0.5, 1.0, 2.0, 5.0, 20.0]
    entropies = [softmax_temperature(LOGITS, t, 0).entropy for t in temperatures]
    assert all(a < b for a, b in zip(entropies, entropies[1:]))


def test_softmax_temperature_accepts_tensors_that_require_grad() -> None:
    z = torch.tensor(LOGITS, requires_grad=True)
    result = softmax_temperature(z, 1.0, 0)
    probs, entropy, ce = _reference(LOGITS, 1.0, 0)
    np.testing.assert_allclose(result.probs, probs, rtol=1e-6)
    assert result.entropy == pytest.approx(entropy, rel=1e-6)
    assert z.grad is None


def test_softmax_temperature_accepts_numpy_and_int_logits() -> None:
    a = softmax_temperature(np.array([2, 1, 0]), 1.0, 1)
    b = softmax_temperature([2.0, 1.0, 0.0], 1.0, 1)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert softmax_temperature(LOGITS, np.float64(2.0), np.int64(1)).label == 1


@pytest.mark.parametrize(
    ("args", "exc", "name"),
    [
        ((LOGITS, 0.0, 0), ValueError, "temperature"),
        ((LOGITS, -1.0, 0), ValueError, "temperature"),
        ((LOGITS, float("nan"), 0), ValueError, "temperature"),
        ((LOGITS, float("inf"), 0), ValueError, "temperature"),
        ((LOGITS, "hot", 0), TypeError, "temperature"),
        ((LOGITS, 1.0, 5), ValueError, "label"),
        ((LOGITS, 1.0, -1), ValueError, "label"),
        ((LOGITS, 1.0, 1.0), TypeError, "label"),
        ((LOGITS, 1.0, True), TypeError, "label"),
        (([[1.0, 2.0], [3.0, 4.0]], 1.0, 0), ValueError, "logits"),
        (([1.0], 1.0, 0), ValueError, "logits"),
        ((3.0, 1.0, 0), ValueError, "logits"),
        (([1.0, float("nan"), 0.0], 1.0, 0), ValueError, "logits"),
        (([1.0, float("inf"), 0.0], 1.0, 0), ValueError, "logits"),
        ((["a", "b"], 1.0, 0), TypeError, "logits"),
        ((LOGITS, 5e-324, 0), ValueError, "temperature"),  # logits / T overflows: an error, never a NaN
    ],
)
def test_softmax_temperature_rejects_bad_input(args: tuple, exc: type, name: str) -> None:
    with pytest.raises(exc, match=name):
        softmax_temperature(*args)


# -- softmax_temperature_panel --------------------------------------------------------------------------------------
@pytest.mark.parametrize("strict", [True, False])
def test_panel_initial_state(strict: bool) -> None:
    panel = softmax_temperature_panel(strict=strict)
    assert panel.strict is strict
    assert panel.error is None
    assert isinstance(panel.figure, Figure)
    assert panel.result.temperature == 1.0 and panel.result.label == 0
    assert "τ = 1.00" in panel.summary.value and "cat" in panel.summary.value
    assert panel.values() == {"temperature": 1.0, "label": 0}
    assert isinstance(panel.widget, ipw.VBox)


def test_panel_temperature_slider_updates_result_and_summary() -> None:
    panel = softmax_temperature_panel(strict=True)
    before = panel.n_updates
    panel.controls["temperature"].value = 2.0
    assert panel.n_updates == before + 1
    assert panel.result.temperature == 2.0
    _, entropy, ce = _reference(LOGITS, 2.0, 0)
    assert panel.result.entropy == pytest.approx(entropy, rel=1e-12)
    assert "τ = 2.00" in panel.summary.value
    assert f"{entropy:.3f} nats" in panel.summary.value
    assert f"{ce:.3f} nats" in panel.summary.value
    panel.controls["temperature"].value = 0.1
    assert panel.n_updates == before + 2
    assert "τ = 0.10" in panel.summary.value


def test_panel_label_dropdown_changes_cross_entropy() -> None:
    panel = softmax_temperature_panel(strict=True)
    ce_cat = panel.result.cross_entropy
    panel.controls["label"].value = 2
    _, _, ce_bird = _reference(LOGITS, 1.0, 2)
    assert panel.result.label == 2
    assert panel.result.cross_entropy == pytest.approx(ce_bird, rel=1e-12)
    assert panel.result.cross_entropy > ce_cat
    assert "bird" in panel.summary.value and f"{ce_bird:.3f}" in panel.summary.value
    assert panel.controls["label"].label == "bird"


def test_panel_figure_shows_the_probabilities() -> None:
    panel = softmax_temperature_panel(strict=True, temperature=0.5, label=3)
    (ax,) = panel.figure.axes
    np.testing.assert_allclose([b.get_height() for b in ax.patches], _reference(LOGITS, 0.5, 3)[0], rtol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert "τ = 0.50" in ax.get_title()


def test_panel_custom_logits_and_names() -> None:
    panel = softmax_temperature_panel([0.0, 3.0], ["no", "yes"], temperature=1.0, label=1, strict=True)
    assert "yes" in panel.summary.value
    _, _, ce = _reference([0.0, 3.0], 1.0, 1)
    assert panel.result.cross_entropy == pytest.approx(ce, rel=1e-12)
    with pytest.raises(ValueError, match="class_names"):
        softmax_temperature_panel([0.0, 1.0], ["a", "b", "c"], strict=True)


def test_panel_escapes_class_names_in_summary() -> None:
    panel = softmax_temperature_panel([1.0, 0.0], ["<i>x</i>", "y"], strict=True)
    assert "&lt;i&gt;x&lt;/i&gt;" in panel.summary.value
    assert "<i>" not in panel.summary.value


@pytest.mark.parametrize("strict", [True, False])
def test_panel_exercise_counts_and_restores(strict: bool) -> None:
    panel = softmax_temperature_panel(strict=strict, temperature=2.0, label=1)
    before = panel.n_updates
    expected = sum(len(control_values(c)) for c in panel.controls.values())
    tried = panel.exercise()
    assert tried == expected == 7  # 3 slider values + 4 of the 5 labels
    assert panel.n_updates - before >= tried
    assert panel.values() == {"temperature": 2.0, "label": 1}
    assert panel.result.temperature == 2.0 and panel.result.label == 1
    assert panel.error is None


def test_panel_strict_none_follows_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMO_BUDGET", "smoke")
    assert softmax_temperature_panel().strict is True
    monkeypatch.setenv("MMO_BUDGET", "default")
    assert softmax_temperature_panel().strict is False


# -- Panel error behaviour ------------------------------------------------------------------------------------------
def _compute(n: int, flag: bool = False, offset: int = 0) -> int:
    if n == 7:
        raise ValueError("seven is <bad>")
    return 2 * n + offset + (100 if flag else 0)


def _render(result: int, figure: Figure) -> str:
    figure.add_subplot(1, 1, 1).plot([0, 1], [result, result])
    return f"value {result}"


def _slider(value: int = 1) -> ipw.IntSlider:
    return ipw.IntSlider(value=value, min=0, max=14)  # exercise tries 0, 7, 14


def test_panel_basic_update_cycle() -> None:
    slider = _slider()
    panel = Panel(_compute, _render, {"n": slider}, fixed={"offset": 1}, strict=True, exercise=False, title="T")
    assert panel.result == 3 and panel.summary.value == "value 3" and panel.n_updates == 1
    slider.value = 4
    assert panel.result == 9 and panel.summary.value == "value 9" and panel.n_updates == 2
    slider.value = 4  # no change, no update
    assert panel.n_updates == 2
    assert panel.update() == 9 and panel.n_updates == 3
    assert isinstance(panel.figure, Figure)
    assert "T" in panel.widget.children[0].value


def test_panel_strict_setting_a_failing_value_raises() -> None:
    slider = _slider()
    panel = Panel(_compute, _render, {"n": slider}, strict=True, exercise=False)
    with pytest.raises(ValueError, match="seven"):
        slider.value = 7
    assert isinstance(panel.error, ValueError)
    assert "seven is &lt;bad&gt;" in panel.summary.value
    slider.value = 2
    assert panel.error is None and panel.result == 4


def test_panel_strict_exercise_at_construction_names_control_and_value() -> None:
    slider = _slider()
    with pytest.raises(RuntimeError, match=r"'n'.*7") as info:
        Panel(_compute, _render, {"n": slider}, strict=True, exercise=True)
    assert isinstance(info.value.__cause__, ValueError)
    assert slider.value == 1  # restored


def test_panel_strict_defaults_to_exercising() -> None:
    with pytest.raises(RuntimeError, match=r"'n'.*7"):
        Panel(_compute, _render, {"n": _slider()}, strict=True)


def test_panel_strict_exercise_when_the_failing_value_is_current() -> None:
    """A value equal to the current one fires no change event; exercise must still try it."""
    zeros = []

    def compute(n: int) -> int:
        if n == 0:
            zeros.append(n)
            if len(zeros) > 1:  # fine at construction, fails when exercise tries it again
                raise ValueError("zero fails")
        return n

    with pytest.raises(RuntimeError, match=r"'n'.*\b0\b"):
        Panel(compute, _render, {"n": ipw.IntSlider(value=0, min=0, max=14)}, strict=True, exercise=True)
    assert len(zeros) == 2

    seen = []
    panel = Panel(lambda n: seen.append(n) or n, _render, {"n": ipw.IntSlider(value=7, min=0, max=14)}, strict=True)
    assert seen[0] == 7 and set(seen[1:]) == {0, 7, 14}
    assert panel.values() == {"n": 7}


def test_panel_non_strict_stores_and_shows_the_error() -> None:
    slider = _slider()
    panel = Panel(_compute, _render, {"n": slider}, strict=False)
    slider.value = 7  # no exception escapes
    assert isinstance(panel.error, ValueError)
    assert "ValueError" in panel.summary.value
    assert "seven is &lt;bad&gt;" in panel.summary.value
    assert panel.result == 2  # the last successful result is kept
    assert panel.update() is None
    slider.value = 5
    assert panel.error is None
    assert panel.result == 10 and panel.summary.value == "value 10"


def test_panel_non_strict_exercise_does_not_raise() -> None:
    slider = _slider(value=3)
    panel = Panel(_compute, _render, {"n": slider}, strict=False, exercise=True)
    assert slider.value == 3 and panel.result == 6 and panel.error is None
    assert panel.exercise() == 3


def test_panel_render_errors_are_handled_too() -> None:
    def render(result: int, figure: Figure) -> str:
        if result > 20:
            raise KeyError("too big")
        return "ok"

    slider = _slider()
    panel = Panel(_compute, render, {"n": slider}, strict=False)
    slider.value = 12
    assert isinstance(panel.error, KeyError) and "too big" in panel.summary.value
    assert panel.result == 2
    with pytest.raises(RuntimeError, match=r"'n'.*12") as info:
        Panel(_compute, render, {"n": ipw.IntSlider(value=1, min=0, max=12)}, strict=True)
    assert isinstance(info.value.__cause__, KeyError)


def test_panel_exercises_every_control() -> None:
    seen = set()

    def compute(n: int, flag: bool, kind: str) -> tuple:
        seen.add((n, flag, kind))
        return (n, flag, kind)

    controls = {
        "n": ipw.IntSlider(value=2, min=0, max=4),
        "flag": ipw.Checkbox(value=False),
        "kind": ipw.Dropdown(options=["a", "b"], value="a"),
    }
    panel = Panel(compute, lambda r, f: str(r), controls, strict=True, exercise=False)
    assert panel.exercise() == 3 + 2 + 2
    values = {v for v, _, _ in seen}, {f for _, f, _ in seen}, {k for _, _, k in seen}
    assert values == ({0, 2, 4}, {False, True}, {"a", "b"})
    assert panel.values() == {"n": 2, "flag": False, "kind": "a"}


def test_panel_rejects_bad_construction() -> None:
    with pytest.raises(TypeError, match="compute"):
        Panel(None, _render, {"n": _slider()}, strict=False)
    with pytest.raises(TypeError, match="render"):
        Panel(_compute, "render", {"n": _slider()}, strict=False)
    with pytest.raises(ValueError, match="controls"):
        Panel(_compute, _render, {}, strict=False)
    with pytest.raises(TypeError, match="controls"):
        Panel(_compute, _render, {"n": ipw.Button()}, strict=False)


# -- control_values -------------------------------------------------------------------------------------------------
def test_control_values_int_slider() -> None:
    assert control_values(ipw.IntSlider(value=3, min=0, max=10)) == [0, 5, 10]
    assert control_values(ipw.IntSlider(value=0, min=0, max=1)) == [0, 1]
    assert control_values(ipw.IntSlider(value=2, min=-4, max=8)) == [-4, 2, 8]
    values = control_values(ipw.IntSlider(value=1, min=1, max=4))
    assert values[0] == 1 and values[-1] == 4 and len(values) == 3
    assert all(isinstance(v, int) for v in values)


def test_control_values_float_slider() -> None:
    assert control_values(ipw.FloatSlider(value=0.3, min=0.0, max=1.0)) == [0.0, 0.5, 1.0]
    assert control_values(ipw.FloatSlider(value=0.0, min=-2.0, max=6.0)) == [-2.0, 2.0, 6.0]


def test_control_values_float_log_slider_are_actual_values() -> None:
    slider = ipw.FloatLogSlider(value=1.0, base=10, min=-2, max=2)
    values = control_values(slider)
    np.testing.assert_allclose(values, [0.01, 1.0, 100.0], rtol=1e-12)
    two = control_values(ipw.FloatLogSlider(value=2.0, base=2, min=0, max=4))
    np.testing.assert_allclose(two, [1.0, 4.0, 16.0], rtol=1e-12)
    for v in values:  # each is a value the slider accepts unchanged
        slider.value = v
        assert slider.value == pytest.approx(v, rel=1e-12)


def test_control_values_dropdowns() -> None:
    pairs = ipw.Dropdown(options=[("low", 10), ("mid", 20), ("high", 30)], value=20)
    assert control_values(pairs) == [10, 20, 30]
    assert control_values(ipw.Dropdown(options=["x", "y"], value="x")) == ["x", "y"]
    many = ipw.Dropdown(options=[(f"o{i}", i) for i in range(10)], value=0)
    chosen = control_values(many)
    assert chosen[0] == 0 and chosen[-1] == 9 and len(chosen) == 4
    assert len(set(chosen)) == len(chosen)
    assert control_values(many, n=9) == list(range(10))


def test_control_values_booleans_and_others() -> None:
    assert control_values(ipw.Checkbox(value=True)) == [False, True]
    assert control_values(ipw.ToggleButton(value=False)) == [False, True]
    assert control_values(ipw.BoundedIntText(value=1, min=0, max=4)) == [0, 2, 4]
    assert control_values(ipw.BoundedFloatText(value=1.0, min=0.0, max=3.0)) == [0.0, 1.5, 3.0]
    assert control_values(ipw.Text(value="hello")) == ["hello"]


def test_module_exports() -> None:
    import importlib

    for name in widgets.__all__:
        assert hasattr(widgets, name)
    for name in experiments.__all__:
        assert hasattr(experiments, name)
    # experiments re-exports exactly what its submodules export, each name once
    submodules = ("autoregressive", "contrastive", "cross_entropy", "diffusion", "score", "system")
    listed = [n for m in submodules for n in importlib.import_module(f"mmobjectives.experiments.{m}").__all__]
    assert sorted(listed) == sorted(experiments.__all__)
    with pytest.raises(AttributeError, match="no attribute 'not_a_panel'"):
        _ = widgets.not_a_panel


def test_widgets_re_exports_the_compute_of_the_layers_below() -> None:
    # old notebooks call widgets.score_error & co.: the very objects of experiments / sampling, not copies
    from mmobjectives import sampling

    for name in experiments.__all__:
        if name != "FORWARD_PROCESSES":
            assert getattr(widgets, name) is getattr(experiments, name), name
    assert widgets.SAMPLERS is sampling.SAMPLERS
    assert widgets.analytic_diffusion_score is sampling.analytic_diffusion_score


def test_widget_modules_hold_no_compute() -> None:
    # every public function of a panel module builds a Panel; the compute lives in experiments / sampling
    import importlib
    import inspect

    for module_name in ("autoregressive", "contrastive", "cross_entropy", "diffusion", "score", "system"):
        module = importlib.import_module(f"mmobjectives.widgets.{module_name}")
        own = [
            name
            for name, obj in vars(module).items()
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_")
        ]
        assert own and all(name.endswith("_panel") for name in own), (module_name, own)


# -- mi_staircase (notebook 01) -----------------------------------------------------------------------------------
def test_mi_staircase_fields_and_ceiling() -> None:
    result = experiments.mi_staircase(8, 0.5, mis=(1.0, 4.0, 10.0), dim=4, n_batches=3, seed=1)
    assert isinstance(result, experiments.MIStaircase)
    assert result.n == 8 and result.temperature == 0.5
    assert result.true_mi == (1.0, 4.0, 10.0)
    assert len(result.estimates) == len(result.standard_errors) == 3
    assert result.log_n == pytest.approx(math.log(8))
    assert all(math.isfinite(e) for e in result.estimates)
    assert all(s >= 0 for s in result.standard_errors)
    assert max(result.estimates) <= result.log_n + 1e-9
    # at MI 10 ≫ log 8 a sharp critic saturates: the estimate approaches the ceiling from below
    assert result.estimates[-1] > result.log_n - 0.5


@pytest.mark.parametrize(("n", "temperature"), [(4, 0.2), (16, 1.0), (64, 5.0)])
def test_mi_staircase_never_exceeds_log_n(n: int, temperature: float) -> None:
    result = experiments.mi_staircase(n, temperature, mis=(2.0, 10.0), dim=4, n_batches=2, seed=0)
    assert all(e <= math.log(n) + 1e-9 for e in result.estimates)


def test_mi_staircase_optimal_temperature_beats_a_mis_scaled_critic() -> None:
    best = experiments.mi_staircase(64, 1.0, mis=(10.0,), n_batches=30, seed=0)
    blunt = experiments.mi_staircase(64, 3.0, mis=(10.0,), n_batches=30, seed=0)
    noise = 2 * math.hypot(best.standard_errors[0], blunt.standard_errors[0])
    assert best.estimates[0] > blunt.estimates[0] + noise


def test_mi_staircase_is_deterministic_for_a_seed() -> None:
    kwargs = dict(mis=(2.0, 6.0), dim=4, n_batches=2)
    a = experiments.mi_staircase(16, 1.0, seed=3, **kwargs)
    b = experiments.mi_staircase(16, 1.0, seed=3, **kwargs)
    c = experiments.mi_staircase(16, 1.0, seed=4, **kwargs)
    assert a == b
    assert a.estimates != c.estimates


@pytest.mark.parametrize(
    ("n", "temperature", "match"),
    [(1, 1.0, r"^n\b"), (0, 1.0, r"^n\b"), (16, 0.0, "^temperature"), (16, -1.0, "^temperature")],
)
def test_mi_staircase_rejects_bad_arguments(n: int, temperature: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        experiments.mi_staircase(n, temperature, n_batches=2)


def test_mi_staircase_panel_responds_to_n() -> None:
    panel = widgets.mi_staircase_panel(n_batches=2, strict=True)
    assert panel.error is None
    assert panel.result.n == 64 and "N = 64" in panel.summary.value
    panel.controls["n"].value = 16
    assert panel.result.n == 16
    assert "N = 16" in panel.summary.value
    assert panel.result.log_n == pytest.approx(math.log(16))
    assert isinstance(panel.figure, Figure)


# -- contrastive_temperature (notebook 01) --------------------------------------------------------------------------
SIM = [[0.9, 0.2, -0.1], [0.3, 0.8, 0.4], [0.0, 0.6, 0.5]]


def _contrastive_reference(similarity: list[list[float]], temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """Row softmax with numpy, and the symmetric InfoNCE per pair via F.cross_entropy on S/τ and its transpose."""
    s = np.asarray(similarity, dtype=np.float64) / temperature
    e = np.exp(s - s.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    logits = torch.tensor(s)
    target = torch.arange(len(s))
    rows = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    cols = torch.nn.functional.cross_entropy(logits.T, target, reduction="none")
    return probs, ((rows + cols) / 2).numpy()


@pytest.mark.parametrize("temperature", [0.05, 0.3, 1.0, 3.0])
def test_contrastive_temperature_matches_an_independent_computation(temperature: float) -> None:
    result = experiments.contrastive_temperature(SIM, temperature)
    probs, per_pair = _contrastive_reference(SIM, temperature)
    assert isinstance(result, experiments.ContrastiveTemperature)
    assert result.temperature == temperature
    np.testing.assert_allclose(result.probs, probs, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.per_pair_loss, per_pair, rtol=1e-5, atol=1e-6)
    assert result.mean_loss == pytest.approx(per_pair.mean(), rel=1e-5)
    np.testing.assert_allclose(result.probs.sum(axis=1), 1.0, rtol=1e-6)


def test_contrastive_temperature_loss_is_symmetric_not_row_only() -> None:
    result = experiments.contrastive_temperature(SIM, 0.5)
    s = torch.tensor(SIM, dtype=torch.float64) / 0.5
    row_only = torch.nn.functional.cross_entropy(s, torch.arange(3), reduction="none").numpy()
    assert not np.allclose(result.per_pair_loss, row_only, rtol=1e-4)


def test_contrastive_temperature_tiny_temperature_is_finite() -> None:
    result = experiments.contrastive_temperature(SIM, 1e-6)
    assert np.isfinite(result.probs).all() and np.isfinite(result.per_pair_loss).all()
    assert math.isfinite(result.mean_loss)
    # row 2's best candidate is column 1 (0.6 > 0.5): the softmax becomes one-hot there
    np.testing.assert_allclose(result.probs[2], [0.0, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(result.probs.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("similarity", [[[0.5, 0.1, 0.2], [0.1, 0.5, 0.3]], [[1.0]], [0.1, 0.2], [[[0.1]]]])
def test_contrastive_temperature_rejects_non_square(similarity) -> None:
    with pytest.raises(ValueError, match="similarity"):
        experiments.contrastive_temperature(similarity, 0.1)


@pytest.mark.parametrize("temperature", [0.0, -0.1])
def test_contrastive_temperature_rejects_bad_temperature(temperature: float) -> None:
    with pytest.raises(ValueError, match="temperature"):
        experiments.contrastive_temperature(SIM, temperature)


def test_contrastive_temperature_panel_responds_to_tau() -> None:
    panel = widgets.contrastive_temperature_panel(SIM, ["a", "b", "c"], temperature=0.1, strict=True)
    assert panel.result.temperature == pytest.approx(0.1)
    before_summary, before_loss = panel.summary.value, panel.result.mean_loss
    assert "τ = 0.100" in before_summary
    panel.controls["temperature"].value = 1.0
    assert panel.result.temperature == pytest.approx(1.0)
    assert "τ = 1.000" in panel.summary.value
    assert panel.summary.value != before_summary
    assert panel.result.mean_loss != pytest.approx(before_loss)
    assert panel.result.mean_loss == pytest.approx(_contrastive_reference(SIM, 1.0)[1].mean(), rel=1e-5)
    assert panel.exercise() == 3
    assert panel.error is None
    assert panel.result.temperature == pytest.approx(1.0)  # exercise restores the control


def test_contrastive_temperature_panel_default_names() -> None:
    panel = widgets.contrastive_temperature_panel(torch.eye(4), strict=True, temperature=0.05)
    assert panel.result.probs.shape == (4, 4)
    assert "hardest pair" in panel.summary.value
