"""The checkpoint cache behind the recipes (issue 18): keys, cold and warm runs, damaged files, ``MMO_CACHE=0``."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import mmobjectives
from mmobjectives import checkpoints, config, data, recipes, sampling
from mmobjectives.checkpoints import CheckpointWarning, checkpoint_key


@pytest.fixture(autouse=True)
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The cache on, in a fresh folder (the suite runs with MMO_CACHE=0); the global RNG put back afterwards."""
    monkeypatch.setenv("MMO_CACHE", "1")
    monkeypatch.setenv("MMO_DATA", str(tmp_path))
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    yield config.checkpoint_dir()
    random.setstate(py_state)
    np.random.set_state(np_state)
    torch.set_rng_state(torch_state)


@pytest.fixture(scope="module")
def pairs() -> data.PairedDigits:
    return data.paired_digits(data.load_digits(), seed=0)


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pt")) if folder.exists() else []


# -- the key ---------------------------------------------------------------------------------------------------------
BASE = {
    "data": (torch.arange(12.0).reshape(3, 4), torch.tensor([0, 1, 2])),
    "steps": 10,
    "batch_size": 4,
    "lr": 1e-3,
    "settings": {"p_uncond": 0.1, "schedule": ("linear", 0.1, 20.0, 0.008)},
    "generator": torch.Generator().manual_seed(0),
    "budget": "smoke",
    "device": "cpu",
}
CHANGED = {
    "data": (torch.arange(12.0).reshape(3, 4).index_put_((torch.tensor(2), torch.tensor(3)), torch.tensor(0.5)),)
    + (torch.tensor([0, 1, 2]),),
    "steps": 11,
    "batch_size": 5,
    "lr": 2e-3,
    "settings": {"p_uncond": 0.2, "schedule": ("linear", 0.1, 20.0, 0.008)},
    "generator": torch.Generator().manual_seed(1),
    "budget": "default",
    "device": "cuda",
}


def test_the_key_is_stable_and_changes_with_every_argument_and_the_recipe() -> None:
    key = checkpoint_key("fit_clip", **BASE)
    assert key == checkpoint_key("fit_clip", **dict(reversed(BASE.items())))  # argument order does not matter
    assert len(key) == 64 and int(key, 16) >= 0
    for name, value in CHANGED.items():
        assert checkpoint_key("fit_clip", **{**BASE, name: value}) != key, f"the key ignores {name}"
    assert checkpoint_key("fit_captioner", **BASE) != key
    # the same values in another type or layout are another run
    assert checkpoint_key("fit_clip", **{**BASE, "steps": 10.0}) != key
    assert checkpoint_key("fit_clip", **{**BASE, "data": (BASE["data"][0].reshape(4, 3), BASE["data"][1])}) != key
    assert checkpoint_key("fit_clip", **{**BASE, "data": (BASE["data"][0].double(), BASE["data"][1])}) != key


def test_the_key_changes_with_the_package_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = checkpoint_key("fit_clip", **BASE)
    monkeypatch.setattr(mmobjectives, "__version__", "99.0.0")
    assert checkpoint_key("fit_clip", **BASE) != key


def test_the_key_refuses_what_it_cannot_hash() -> None:
    with pytest.raises(TypeError, match="cannot hash"):
        checkpoint_key("fit_clip", model=object())
    with pytest.raises(TypeError, match="recipe"):
        checkpoint_key("", steps=1)


# -- cold, then warm, for every recipe -------------------------------------------------------------------------------
def _schedule() -> sampling.VPSchedule:
    return sampling.VPSchedule("linear")


def _clip(pairs, g):
    return recipes.fit_clip(pairs, steps=3, embed_dim=8, generator=g, device="cpu")


def _captioner(pairs, g):
    return recipes.fit_captioner(pairs, steps=2, generator=g, device="cpu")


def _vqa(pairs, g):
    qa = data.digit_questions(pairs, generator=torch.Generator().manual_seed(0))
    return recipes.fit_vqa(qa, steps=2, generator=g, device="cpu")


def _class_diffusion(pairs, g):
    images, labels = pairs.images_train[:64], pairs.labels_train[:64]
    return recipes.fit_class_diffusion(
        images, labels, _schedule(), steps=2, hidden=16, n_layers=1, generator=g, device="cpu"
    )


def _text_to_image(pairs, g):
    clip = recipes.fit_clip(pairs, steps=1, embed_dim=8, generator=torch.Generator().manual_seed(5), device="cpu")[0]
    images, tokens = pairs.images_train[:64], pairs.tokens_train[:64]
    return recipes.fit_text_to_image(
        clip, images, tokens, _schedule(), steps=2, hidden=16, n_layers=1, generator=g, device="cpu"
    )


def _multimodal_gpt(pairs, g):
    tok = data.ImageTokenizer(2, 8).fit(pairs.images_train[:300], seed=0)
    seqs = recipes.multimodal_sequences(pairs, tok, shifted_copy=False, class_captions=False)
    return recipes.fit_multimodal_gpt(seqs, steps=2, d_model=16, generator=g, device="cpu")


def _classifier(pairs, g):
    return recipes.fit_classifier(pairs.images_train, pairs.labels_train, steps=2, generator=g, device="cpu")


RECIPES: dict[str, Callable] = {
    "fit_clip": _clip,
    "fit_captioner": _captioner,
    "fit_vqa": _vqa,
    "fit_class_diffusion": _class_diffusion,
    "fit_text_to_image": _text_to_image,
    "fit_multimodal_gpt": _multimodal_gpt,
    "fit_classifier": _classifier,
}


def _train(recipe: Callable, pairs: data.PairedDigits) -> dict:
    """One call from a fixed point of every generator: what it returns and where it leaves the generators."""
    torch.manual_seed(0)  # the global generator initialises the parameters (and drives dropout)
    g = torch.Generator().manual_seed(1)
    model, history = recipe(pairs, g)
    return {"model": model, "history": history, "generator": g.get_state(), "rng": torch.get_rng_state()}


def _assert_same_run(warm: dict, cold: dict, *, loaded: bool = True) -> None:
    """``warm`` is ``cold`` to the bit; with ``loaded``, the history's timing too (it was read, not measured)."""
    assert not warm["model"].training and next(warm["model"].parameters()).device.type == "cpu"
    warm_state, cold_state = warm["model"].state_dict(), cold["model"].state_dict()
    assert warm_state.keys() == cold_state.keys()
    for name, tensor in cold_state.items():
        assert torch.equal(warm_state[name], tensor), name
    assert torch.equal(warm["generator"], cold["generator"]), "the generator ends elsewhere than after training"
    assert torch.equal(warm["rng"], cold["rng"]), "torch's global generator ends elsewhere than after training"
    if cold["history"] is not None:
        assert warm["history"].loss == cold["history"].loss
        assert warm["history"].device == "cpu"
        assert warm["history"].seconds == cold["history"].seconds or not loaded


@pytest.mark.parametrize("name", RECIPES)
def test_cold_then_warm_gives_the_same_model_history_and_generators(
    name: str, pairs: data.PairedDigits, cache_in: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cold = _train(RECIPES[name], pairs)
    assert "loaded from cache" not in capsys.readouterr().out
    files = [p for p in _files(cache_in) if p.name.startswith(name)]
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    warm = _train(RECIPES[name], pairs)
    out = capsys.readouterr().out
    assert "loaded from cache, trained in " in out and " s on cpu" in out
    assert files[0].stat().st_mtime_ns == stamp  # read, not rewritten
    _assert_same_run(warm, cold)


def test_a_changed_argument_misses_the_cache(pairs, cache_in: Path, capsys, monkeypatch) -> None:
    def clip(steps: int = 3, lr: float = 2e-3, seed: int = 1, images=None):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(seed)
        run_pairs = pairs
        if images is not None:
            run_pairs = dataclasses.replace(pairs, images_train=images)
        recipes.fit_clip(run_pairs, steps=steps, embed_dim=8, lr=lr, generator=g, device="cpu")
        return "loaded from cache" in capsys.readouterr().out

    assert not clip() and clip()
    shifted = pairs.images_train.clone()
    shifted[0, 0, 0, 0] += 0.5
    for changed in ({"steps": 4}, {"lr": 1e-3}, {"seed": 2}, {"images": shifted}):
        assert not clip(**changed), f"{changed} was served from the cache"
    torch.manual_seed(1)  # another global state at entry: other initial parameters
    recipes.fit_clip(pairs, steps=3, embed_dim=8, generator=torch.Generator().manual_seed(1), device="cpu")
    assert "loaded from cache" not in capsys.readouterr().out
    monkeypatch.setenv("MMO_BUDGET", "default" if config.budget().is_smoke else "smoke")
    assert not clip()
    assert len(_files(cache_in)) == 7


# -- damaged files ---------------------------------------------------------------------------------------------------
def _corrupt(path: Path) -> None:
    path.write_bytes(b"not a checkpoint" * 64)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _mismatch(path: Path) -> None:
    record = torch.load(path, weights_only=True)
    name = next(iter(record["state"]))
    record["state"][name] = torch.zeros(3, 3)  # a parameter of another shape
    torch.save(record, path)


def _short_history(path: Path) -> None:
    record = torch.load(path, weights_only=True)
    record["loss"] = record["loss"][:-1]
    torch.save(record, path)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_corrupt, "is unreadable"),
        (_truncate, "is unreadable"),
        (_mismatch, "the model has"),
        (_short_history, "loss history"),
    ],
    ids=["corrupt", "truncated", "wrong-shape", "short-history"],
)
def test_a_damaged_file_is_reported_deleted_and_retrained(
    damage: Callable[[Path], None], said: str, pairs, cache_in: Path, capsys
) -> None:
    cold = _train(_clip, pairs)
    (path,) = _files(cache_in)
    damage(path)
    damaged = path.read_bytes()
    with pytest.warns(CheckpointWarning, match=rf"{path.name} .*{said}.*deleting it and training again"):
        again = _train(_clip, pairs)
    assert "loaded from cache" not in capsys.readouterr().out
    _assert_same_run(again, cold, loaded=False)  # trained afresh: the cold result, nothing half-loaded
    (replaced,) = _files(cache_in)
    assert replaced == path and path.read_bytes() != damaged  # deleted, and written anew by the retrain
    warm = _train(_clip, pairs)  # and the new file serves the next call
    assert "loaded from cache" in capsys.readouterr().out
    _assert_same_run(warm, again)


def test_a_file_of_another_run_under_this_name_is_not_used(pairs, cache_in: Path, capsys) -> None:
    _train(_clip, pairs)
    (path,) = _files(cache_in)
    record = torch.load(path, weights_only=True)
    record["key"] = "0" * 64
    torch.save(record, path)
    with pytest.warns(CheckpointWarning, match="another run"):
        _train(_clip, pairs)
    assert "loaded from cache" not in capsys.readouterr().out


# -- off, and unwritable -----------------------------------------------------------------------------------------------
def test_mmo_cache_0_never_writes_nor_reads(pairs, cache_in: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MMO_CACHE", "0")
    _train(_clip, pairs)
    _train(_classifier, pairs)
    assert not cache_in.exists()
    monkeypatch.setenv("MMO_CACHE", "1")
    _train(_clip, pairs)
    assert len(_files(cache_in)) == 1
    monkeypatch.setenv("MMO_CACHE", "0")
    _train(_clip, pairs)
    assert "loaded from cache" not in capsys.readouterr().out


def test_an_unwritable_cache_folder_warns_and_still_returns_the_model(pairs, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the data folder cannot be made here")
    monkeypatch.setenv("MMO_DATA", str(blocker))
    with pytest.warns(CheckpointWarning, match="cannot cache"):
        run = _train(_clip, pairs)
    assert run["history"].steps == 3


def test_a_save_leaves_no_temporary_file(pairs, cache_in: Path) -> None:
    _train(_clip, pairs)
    assert [p.suffix for p in cache_in.iterdir()] == [".pt"]
    assert checkpoints.checkpoint_path("fit_clip", "ab" * 32).parent == cache_in
