"""The learning-rate finder and the time budget of the training loop, and the R(2+1)D's frame differences."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.train.test_loop import CLASSES, Interrupt, datasets, model_for, state_equal  # noqa: E402
from vidlens.errors import UsageError  # noqa: E402
from vidlens.train.evaluation import evaluate  # noqa: E402
from vidlens.train.loop import TrainConfig, train  # noqa: E402
from vidlens.train.lr_find import find_lr  # noqa: E402
from vidlens.train.models import build_model  # noqa: E402


def test_the_sweep_suggests_a_working_rate_and_leaves_the_model_as_it_was() -> None:
    train_set, _ = datasets()
    model = model_for()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    config = TrainConfig(batch_size=16, seed=0)
    found = find_lr(model, train_set, config)
    assert state_equal(model.state_dict(), before) and torch.equal(torch.get_rng_state(), rng)
    assert 1e-5 <= found.lr <= found.lowest_loss_lr <= 1.0 and np.isfinite(found.losses).all()
    assert found.steps == len(found.losses) <= 50
    assert find_lr(model_for(), train_set, config).lr == found.lr  # seeded: the same suggestion


def test_training_at_the_found_rate_learns(tmp_path) -> None:
    train_set, val_set = datasets()
    model = model_for()
    result = train(model, train_set, val_set, TrainConfig(epochs=12, batch_size=16, patience=0, lr_find=True),
                   tmp_path, progress=False)
    assert result.lr_finder is not None and result.lr == result.lr_finder["lr"]
    assert result.history[0].get("lr") is None or result.history[0]["lr"] <= result.lr
    assert result.best_score >= 0.9, result.history  # the order toy: a temporal head learns it at a sane rate


def test_a_time_limit_shortens_the_sweep_but_it_still_spans_the_range() -> None:
    from vidlens.train.lr_find import MIN_STEPS

    found = find_lr(model_for(), datasets()[0], TrainConfig(batch_size=16), max_seconds=1e-6)
    assert found.steps <= MIN_STEPS
    if not found.diverged:
        assert found.lrs[-1] == pytest.approx(1.0)  # the whole range, in fewer steps


@pytest.mark.parametrize(("low", "high", "steps"), [(0, 1, 50), (1e-2, 1e-3, 50), (1e-5, 1, 2)])
def test_bad_sweeps_are_usage_errors(low, high, steps) -> None:
    with pytest.raises(UsageError):
        find_lr(model_for(), datasets()[0], TrainConfig(), low=low, high=high, steps=steps)


def test_a_budget_plans_the_epochs_that_fit_and_resume_keeps_the_plan(tmp_path) -> None:
    train_set, val_set = datasets()
    probe = train(model_for(), train_set, val_set, TrainConfig(epochs=1, batch_size=16, patience=0), tmp_path / "p",
                  progress=False)
    epoch_s = probe.history[0]["seconds"]
    config = TrainConfig(epochs=500, batch_size=16, patience=0, budget=max(0.5, 6 * epoch_s))
    whole = train(model_for(), train_set, val_set, config, tmp_path / "whole", progress=False)
    assert whole.planned_epochs is not None and 1 <= whole.planned_epochs < 500
    assert whole.epochs_run <= whole.planned_epochs
    assert whole.elapsed_s < config.budget * 3 + 5  # a budget, not a suggestion (timing noise allowed)

    def stop_after_one(record: dict) -> None:
        if record["epoch"] == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(model_for(), train_set, val_set, config, tmp_path / "cut", progress=False, on_epoch_end=stop_after_one)
    resumed = train(model_for(seed=3), train_set, val_set, config, tmp_path / "cut", progress=False, resume=True)
    assert resumed.resumed_from_epoch == 1
    first_plan = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)["progress"]["planned_epochs"]
    assert resumed.planned_epochs == first_plan  # planned once, after the first epoch, and kept


def test_frame_differences_see_motion_and_old_r2plus1d_bundles_still_build() -> None:
    torch.manual_seed(0)
    model = build_model("r2plus1d", len(CLASSES), frames=4, size=32, width=4, differences=True).eval()
    still = torch.rand(1, 3, 1, 32, 32).repeat(1, 1, 4, 1, 1)
    assert torch.isfinite(model(still)).all()
    assert model.hyper_parameters["differences"] is True
    old = build_model("r2plus1d", len(CLASSES), frames=4, size=32, width=4)  # settings of a bundle from before
    assert old.hyper_parameters["differences"] is False and old.stem[0].in_channels == 3
    assert model.stem[0].in_channels == 6
    # the stacked differences of a still clip are zero: its output equals that of zeroed difference channels
    with torch.no_grad():
        x = model.norm(still)
        stacked = torch.cat([x, torch.zeros_like(x)], dim=1)
        direct = model.classifier(model.stages(model.stem(stacked)).mean(dim=(2, 3, 4)))
        torch.testing.assert_close(model(still), direct)
    report = evaluate(model, [(still[0], 0)], CLASSES)
    assert report["num_samples"] == 1
