"""The training loop on sequences whose class is temporal order: temporal heads learn it, mean pooling cannot;
reproducibility, exact resume, early stopping, the kept best epoch, schedules and the feature dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.support.temporal_toys import order_sequences  # noqa: E402
from vidlens.errors import UsageError  # noqa: E402
from vidlens.predict.inputs import segment_positions  # noqa: E402
from vidlens.train import loop  # noqa: E402
from vidlens.train.evaluation import evaluate, predict_proba  # noqa: E402
from vidlens.train.loop import TrainConfig, seed_everything, train  # noqa: E402
from vidlens.train.models import Ensemble, build_model  # noqa: E402
from vidlens.train.torch_datasets import FeatureSequenceDataset  # noqa: E402

torch.set_num_threads(1)
DIM, STEPS = 16, 8
CLASSES = ["rising", "falling"]
SMALL_HP = {"meanpool": {"hidden": 32}, "lstm": {"hidden": 32}, "gru": {"hidden": 32}, "tcn": {"hidden": 32},
            "transformer": {"width": 32, "heads": 2}}


def datasets(n_train: int = 160, n_val: int = 64, seed: int = 0):
    train_set = FeatureSequenceDataset(*order_sequences(n_train, dim=DIM, seed=seed), steps=STEPS)
    val_set = FeatureSequenceDataset(*order_sequences(n_val, dim=DIM, seed=seed + 1), steps=STEPS, train=False)
    return train_set, val_set


def model_for(arch: str = "gru", seed: int = 0):
    seed_everything(seed)
    return build_model(arch, len(CLASSES), input_dim=DIM, steps=STEPS, **SMALL_HP[arch])


def fit(tmp_path, arch="gru", seed=0, **settings):
    config = TrainConfig(**{"epochs": 10, "batch_size": 16, "lr": 3e-3, "patience": 0, "seed": seed, **settings})
    model = model_for(arch, seed)
    train_set, val_set = datasets()
    return model, train(model, train_set, val_set, config, tmp_path, progress=False)


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


@pytest.mark.parametrize("arch", ["gru", "lstm", "tcn", "transformer"])
def test_temporal_heads_learn_order(arch, tmp_path):
    model, result = fit(tmp_path, arch, epochs=20)
    test_set = FeatureSequenceDataset(*order_sequences(96, dim=DIM, seed=5), steps=STEPS, train=False)
    report = evaluate(model, test_set, CLASSES)
    assert report["accuracy"] >= 0.9, (arch, result.history)
    assert result.best_score >= 0.9


def test_mean_pooling_cannot_beat_chance_on_order(tmp_path):
    """Frame values are equally likely in both classes, so an order-blind model can only guess."""
    model, _ = fit(tmp_path, "meanpool", epochs=20)
    test_set = FeatureSequenceDataset(*order_sequences(200, dim=DIM, seed=5), steps=STEPS, train=False)
    assert evaluate(model, test_set, CLASSES)["accuracy"] < 0.65  # chance is 0.5; 0.65 is > 4 sigma at n=200


def test_same_seed_gives_identical_weights_and_history(tmp_path):
    first, result_a = fit(tmp_path / "a", epochs=3, mixup=0.4)
    second, result_b = fit(tmp_path / "b", epochs=3, mixup=0.4)
    assert state_equal(first.state_dict(), second.state_dict())
    assert without_timing(result_a.history) == without_timing(result_b.history)
    other, _ = fit(tmp_path / "c", epochs=3, mixup=0.4, seed=1)
    assert not state_equal(first.state_dict(), other.state_dict())


class Interrupt(Exception):
    pass


def test_resume_after_an_interruption_ends_exactly_like_an_uninterrupted_run(tmp_path):
    settings = {"epochs": 5, "batch_size": 16, "lr": 3e-3, "patience": 0, "mixup": 0.2}
    config = TrainConfig(**settings)
    train_set, val_set = datasets()
    whole = model_for()
    reference = train(whole, train_set, val_set, config, tmp_path / "whole", progress=False)

    def stop_after_two(record: dict) -> None:
        if record["epoch"] == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(model_for(), train_set, val_set, config, tmp_path / "cut", progress=False, on_epoch_end=stop_after_two)
    resumed_model = model_for(seed=99)  # a different fresh model: everything must come from the checkpoint
    resumed = train(resumed_model, train_set, val_set, config, tmp_path / "cut", progress=False, resume=True)
    assert resumed.resumed_from_epoch == 2
    assert state_equal(resumed_model.state_dict(), whole.state_dict())
    assert without_timing(resumed.history) == without_timing(reference.history)
    assert resumed.best_epoch == reference.best_epoch

    again = train(model_for(seed=7), train_set, val_set, config, tmp_path / "cut", progress=False, resume=True)
    assert again.epochs_run == 5 and again.resumed_from_epoch == 5  # finished: nothing more to do
    with pytest.raises(UsageError, match="lr"):
        train(model_for(), train_set, val_set, TrainConfig(**{**settings, "lr": 1e-2}), tmp_path / "cut",
              progress=False, resume=True)


def test_early_stopping_when_validation_macro_f1_stops_improving(tmp_path):
    # lr = 0: the weights never change, so the first epoch stays the best and patience runs out
    _, result = fit(tmp_path, epochs=20, lr=0.0, patience=3)
    assert result.stopped_early and result.epochs_run == 4 and result.best_epoch == 1
    saved = json.loads((tmp_path / loop.HISTORY_FILE).read_text())
    assert [r["epoch"] for r in saved] == [1, 2, 3, 4] and [r["best"] for r in saved] == [True, False, False, False]


def test_the_best_epoch_is_kept_and_every_file_is_written(tmp_path):
    model, result = fit(tmp_path, epochs=6)
    scores = [r["val_macro_f1"] for r in result.history]
    best = min((r for r in result.history if r["val_macro_f1"] == max(scores)), key=lambda r: r["val_loss"])
    assert result.best_epoch == best["epoch"] and result.best_score == max(scores)  # F1 ties: the lower loss
    assert state_equal(model.state_dict(), torch.load(tmp_path / loop.BEST_FILE, weights_only=True))
    for name in (loop.CHECKPOINT_FILE, loop.BEST_FILE, loop.HISTORY_FILE, loop.CURVES_FILE):
        assert (tmp_path / name).stat().st_size > 0
    record = result.history[-1]
    assert set(record) == {"epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1",
                           "best", "seconds"}
    assert json.loads(json.dumps(result.to_dict()))["best_epoch"] == result.best_epoch
    probs = predict_proba(model, datasets()[1])
    assert probs.shape == (64, 2) and np.allclose(probs.sum(axis=1), 1.0)


def test_ties_in_validation_macro_f1_go_to_the_lower_validation_loss(tmp_path):
    """Separable classes: macro-F1 is 1.0 from the first epochs on while the loss keeps falling; the epoch kept
    is the most confident of the perfect ones, not the first (an under-confident model)."""
    rng = np.random.default_rng(0)
    features = [rng.normal(size=(8, DIM)) + 3 * (i % 2) for i in range(64)]
    labels = [i % 2 for i in range(64)]
    train_set = FeatureSequenceDataset(features, labels, steps=STEPS)
    val_set = FeatureSequenceDataset(features[:32], labels[:32], steps=STEPS, train=False)
    result = train(model_for("meanpool"), train_set, val_set, TrainConfig(epochs=6, lr=3e-3, patience=0), tmp_path,
                   progress=False)
    perfect = [r for r in result.history if r["val_macro_f1"] == 1.0]
    assert len(perfect) >= 2
    assert result.best_epoch == min(perfect, key=lambda r: r["val_loss"])["epoch"] > perfect[0]["epoch"]


def test_training_without_validation_keeps_the_last_epoch(tmp_path):
    model = model_for()
    result = train(model, datasets()[0], None, TrainConfig(epochs=3, patience=2), tmp_path, progress=False)
    assert result.best_epoch == 3 and result.best_score is None and not result.stopped_early
    assert result.history[-1]["val_macro_f1"] is None


def test_learning_rate_schedules():
    cosine = TrainConfig(epochs=10, warmup=2, schedule="cosine")
    factors = [loop.lr_factor(cosine, step, steps_per_epoch=5) for step in range(50)]
    steps = np.diff(factors)
    assert factors[9] == pytest.approx(1.0) and (steps[:9] > 0).all()  # linear warm-up over 2 epochs
    assert (steps[9:] <= 0).all() and factors[-1] < 0.01  # then cosine down to ~0
    step = TrainConfig(epochs=30, warmup=0, schedule="step", step_epochs=10, step_gamma=0.1)
    assert [loop.lr_factor(step, e * 4, 4) for e in (0, 9, 10, 25)] == pytest.approx([1.0, 1.0, 0.1, 0.01])


@pytest.mark.parametrize(("settings", "message"), [
    ({"schedule": "linear"}, "schedule"),
    ({"epochs": 0}, "epochs"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
])
def test_bad_settings_are_usage_errors(settings, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(**settings)
    with pytest.raises(UsageError, match="unknown training option"):
        TrainConfig.from_dict({"epochz": 3})


def test_feature_dataset_jitters_within_segments_and_reverses_only_when_asked():
    frames = np.arange(40, dtype=np.float32)[:, None].repeat(2, axis=1)  # row value = frame index
    evaluation = FeatureSequenceDataset([frames], [0], steps=4, train=False)
    assert evaluation[0][0][:, 0].tolist() == [5, 15, 25, 35]  # segment centres
    torch.manual_seed(0)
    draws = [FeatureSequenceDataset([frames], [0], steps=4)[0][0][:, 0].numpy() for _ in range(50)]
    assert all(((d >= [0, 10, 20, 30]) & (d < [10, 20, 30, 40])).all() for d in draws)  # one per segment, in order
    assert len({tuple(d) for d in draws}) > 10  # and jittered
    reversing = FeatureSequenceDataset([frames], [0], steps=4, reverse=True)
    orders = {bool(np.all(np.diff(reversing[0][0][:, 0].numpy()) < 0)) for _ in range(30)}
    assert orders == {True, False}
    short = np.arange(3, dtype=np.float32)[:, None]
    assert segment_positions(3, 6).tolist() == [0, 0, 1, 1, 2, 2]
    assert FeatureSequenceDataset([short], [1], steps=6, train=False)[0][0].shape == (6, 1)


def test_a_learned_ensemble_weights_the_member_that_knows_more(tmp_path):
    trained, _ = fit(tmp_path / "gru", "gru", epochs=8)
    blind, _ = fit(tmp_path / "meanpool", "meanpool", epochs=8)
    ensemble = Ensemble([blind, trained], mode="learned")
    train_set, val_set = datasets(seed=10)
    result = train(ensemble, train_set, val_set, TrainConfig(epochs=4, lr=0.1, label_smoothing=0.0), tmp_path / "ens",
                   progress=False)
    weights = ensemble.weights().tolist()
    assert weights[1] > 0.6 > weights[0], weights
    assert result.best_score >= 0.9
