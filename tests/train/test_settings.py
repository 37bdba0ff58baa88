"""The training settings object: one name, default and check per setting, shared by the CLI and the API."""

from __future__ import annotations

import inspect

import pytest

from vidlens import api
from vidlens.cli import train as cli_train
from vidlens.errors import UsageError
from vidlens.train.compress import finetune_config
from vidlens.train.settings import (
    Arch,
    FuseMode,
    Schedule,
    SplitChoice,
    TrainConfig,
    TrainSettings,
    recorded_settings,
)

#: Settings the Python API takes that `vidlens train` has no option for.
API_ONLY = {"hyper_parameters", "step_epochs", "step_gamma", "grad_clip"}
#: Settings the CLI spells differently (`inputs` is the command's dataset argument there).
CLI_NAME = {"inputs": "input_streams"}


def test_every_cli_default_is_the_settings_default():
    cli = inspect.signature(cli_train.train).parameters
    defaults = TrainSettings.defaults()
    assert {CLI_NAME.get(n, n) for n in defaults} - set(cli) == API_ONLY
    for name, default in defaults.items():
        if name in API_ONLY:
            continue
        given = cli[CLI_NAME.get(name, name)].default
        if name == "split":
            given = tuple(float(r) for r in given.split(","))
        assert given == default, name


def test_the_cli_builds_the_settings_the_api_would():
    options = {p.name: p.default for p in inspect.signature(cli_train.train).parameters.values()
               if p.default is not inspect.Parameter.empty}
    assert cli_train._settings({**options, "arch": "r2plus1d", "split": "0.6,0.2,0.2", "splits": "a.txt, b.txt",
                                "warmup": 0.5}) == TrainSettings.from_options(
        arch=Arch.r2plus1d, split=[0.6, 0.2, 0.2], splits=["a.txt", "b.txt"], warmup=0.5)
    with pytest.raises(UsageError, match=r"--split takes ratios like 0\.7,0\.15,0\.15"):
        cli_train._settings({**options, "split": "0.7;0.3"})


@pytest.mark.parametrize(("options", "message"), [
    ({"epochz": 3}, "unknown training option(s) epochz; known: arch, batch_size"),
    ({"warmup_epochs": 1}, "unknown training option(s) warmup_epochs"),  # legacy names are read from files only
    ({"arch": "resnet"}, "unknown architecture 'resnet'; choose from gru, lstm"),
    ({"arch": "ensemble"}, "unknown architecture 'ensemble'"),
    ({"schedule": "linear"}, "unknown schedule 'linear'; choose from cosine, step"),
    ({"arch": "tcn", "bidirectional": True}, "bidirectional applies to lstm and gru only"),
    ({"flip": True}, "flip needs raw clips"),
    ({"split": "0.7,0.15,0.15"}, "not the string"),
    ({"splits": "train.txt"}, "not one path"),
    ({"splits": ["a", "b", "c", "d"]}, "give 1 to 3 split files"),
    ({"fps": 0}, "fps must be > 0"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"mixup": -1}, "mixup must be >= 0"),
    ({"epochs": "ten"}, "training setting epochs takes a whole number, got 'ten'"),
    ({"epochs": True}, "epochs takes a whole number"),
    ({"lr": None}, "lr takes a number, got None"),
    ({"threads": 1.5}, "threads takes a whole number or None"),
    ({"flip": "yes"}, "flip takes true or false"),
    ({"base": 1}, "unknown training option(s) base"),
])
def test_bad_options_are_usage_errors_without_cli_flags(options, message):
    with pytest.raises(UsageError) as caught:
        TrainSettings.from_options(**options)
    assert message in str(caught.value) and "--" not in str(caught.value)


def test_a_misspelt_api_option_is_a_usage_error(tmp_path):
    pytest.importorskip("torch")
    with pytest.raises(UsageError, match=r"unknown training option.*epochz"):
        api.train_classifier(tmp_path / "data", tmp_path / "model", epochz=3)
    with pytest.raises(UsageError, match="settings takes a TrainSettings"):
        api.train_classifier(tmp_path / "data", tmp_path / "model", {"epochs": 3})
    assert not (tmp_path / "model").exists()


def test_options_apply_over_given_settings_and_strings_become_enums():
    base = TrainSettings.from_options(arch="lstm", epochs=5)
    settings = TrainSettings.from_options(base, schedule="step", threads=2)
    assert settings.arch is Arch.lstm and settings.optimisation.epochs == 5
    assert settings.optimisation.schedule is Schedule.step and settings.optimisation.threads == 2
    assert base.optimisation.schedule is Schedule.cosine  # the base is not changed
    assert TrainSettings.from_options(**settings.flat()) == settings
    assert TrainSettings(optimisation={"epochs": 3}).optimisation == TrainConfig(epochs=3)


def test_the_recorded_settings_are_flat_json_with_todays_names():
    recorded = TrainSettings.from_options(arch="r2plus1d", mixup=0.2).to_dict()
    assert recorded["arch"] == "r2plus1d" and recorded["schedule"] == "cosine" and recorded["mixup"] == 0.2
    assert recorded["fps"] == 8.0 and recorded["split"] == [0.7, 0.15, 0.15] and recorded["splits"] is None
    assert set(recorded) == set(TrainSettings.option_names()) | {"streams"}  # plus the streams inputs resolved to
    assert TrainConfig().to_dict()["schedule"] == "cosine"


def test_settings_and_configs_of_old_bundles_and_checkpoints_still_read():
    old_config = {"epochs": 4, "batch_size": 8, "lr": 0.01, "weight_decay": 0.0, "schedule": "step",
                  "warmup_epochs": 0.5, "step_epochs": 10, "step_gamma": 0.1, "label_smoothing": 0.0, "grad_clip": 1.0,
                  "patience": 2, "mixup_alpha": 0.3, "seed": 1, "num_threads": 2}
    config = TrainConfig.from_dict(old_config)
    assert (config.warmup, config.mixup, config.threads, config.schedule) == (0.5, 0.3, 2, Schedule.step)
    old_meta = {"training": {"settings": {"arch": "gru", "batch_size": 8, "lr": 0.01, "seed": 3, "threads": 1}}}
    assert recorded_settings(old_meta)["batch_size"] == 8 and recorded_settings({}) == {}
    tuned = finetune_config(old_meta, epochs=2)
    assert (tuned.epochs, tuned.batch_size, tuned.seed, tuned.threads, tuned.warmup) == (2, 8, 3, 1, 0)


def test_a_checkpoint_with_the_old_names_resumes(tmp_path):
    pytest.importorskip("torch")
    from vidlens.train.loop import CHECKPOINT_FORMAT, _check_resumable

    config = TrainConfig(warmup=0.5, mixup=0.3, threads=1)
    old = {k: v for k, v in config.to_dict().items() if k not in ("warmup", "mixup", "threads")}
    saved = {"format": CHECKPOINT_FORMAT, "config": {**old, "warmup_epochs": 0.5, "mixup_alpha": 0.3,
                                                     "num_threads": 4}}
    _check_resumable(saved, config, tmp_path / "checkpoint.pt")  # threads may differ
    with pytest.raises(UsageError, match=r"mixup: 0\.3 -> 0\.0"):
        _check_resumable(saved, TrainConfig(warmup=0.5), tmp_path / "checkpoint.pt")


def test_the_enums_are_the_choices_of_the_models_and_the_evaluation():
    torch = pytest.importorskip("torch")  # noqa: F841
    from vidlens.train.models import ARCHITECTURES, ENSEMBLE_MODES
    from vidlens.train.report import SPLIT_CHOICES

    assert {a.value: a.input_kind for a in Arch} == {
        name: spec.input_kind for name, spec in ARCHITECTURES.items() if name != "ensemble"}
    assert tuple(m.value for m in FuseMode) == ENSEMBLE_MODES
    assert tuple(c.value for c in SplitChoice) == SPLIT_CHOICES
    assert api.Arch is Arch and api.TrainSettings is TrainSettings  # the API's public types
