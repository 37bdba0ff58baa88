"""Usage errors over every command: exit 2 with Click's message, never 1 ("internal error"), never a hang.

The commands are enumerated from the app itself, so a command or a numeric option added later is
checked too (an option without bounds fails the absurd-value test).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer.main

from vidlens.cli import app, main

CLI = [sys.executable, "-m", "vidlens.cli"]


def _leaves(command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        return [(path, command)]
    return [leaf for name, sub in sorted(subcommands.items()) for leaf in _leaves(sub, (*path, name))]


LEAVES = _leaves(typer.main.get_command(app))
IDS = [" ".join(path) for path, _ in LEAVES]


def _arguments(command) -> list[str]:
    """A placeholder for each required argument, so parsing reaches the options."""
    return ["placeholder" for p in command.params if p.param_type_name == "argument" and p.required]


def _numeric_options(command) -> list[tuple[str, str]]:
    """(option flag, "int" or "float") for each numeric option of ``command``."""
    found = []
    for param in command.params:
        if param.param_type_name != "option":
            continue
        if hasattr(param, "type_descriptor"):  # Typer 0.29 parses with its own types
            annotation = param.type_descriptor.annotation
            kinds = {a for a in (annotation, *typing.get_args(annotation)) if a in (int, float)}
            kind = kinds.pop().__name__ if kinds else ""
        else:
            kind = {"integer": "int", "float": "float"}.get(getattr(param.type, "name", ""), "")
        if kind:
            found.append((max(param.opts, key=len), kind))
    return found


def test_the_commands_are_enumerated() -> None:
    assert {"analyze", "shots", "index", "search", "train", "library stats", "vault lock"} <= set(IDS)


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_an_unknown_option_is_exit_2_with_clicks_message(path, command, capsys) -> None:
    assert main([*path, "--no-such-option"]) == 2
    assert "No such option: --no-such-option" in capsys.readouterr().err


@pytest.mark.parametrize(("path", "command"), [leaf for leaf in LEAVES if _arguments(leaf[1])],
                         ids=[i for i, leaf in zip(IDS, LEAVES, strict=True) if _arguments(leaf[1])])
def test_a_missing_argument_is_exit_2(path, command, capsys) -> None:
    assert main(list(path)) == 2
    assert "Missing argument" in capsys.readouterr().err


NUMERIC = [(path, flag, kind, command) for path, command in LEAVES for flag, kind in _numeric_options(command)]


@pytest.mark.parametrize(("path", "flag", "kind", "command"), NUMERIC,
                         ids=[f"{' '.join(p)} {f}" for p, f, _, _ in NUMERIC])
def test_every_numeric_option_refuses_text_nan_and_absurd_values(path, flag, kind, command, capsys) -> None:
    absurd = ["abc", "100000000000000000000", "-100000000000000000000"] + (["nan", "inf", "1e308"]
                                                                          if kind == "float" else ["1e20"])
    for value in absurd:
        assert main([*path, flag, value, *_arguments(command)]) == 2, (flag, value)
        message = capsys.readouterr().err
        assert f"Invalid value for '{flag}'" in message and "Traceback" not in message, message


def test_an_unknown_command_and_a_dash_path_are_usage_errors(capsys, tmp_path: Path) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err
    assert main(["info", "-clip.mp4"]) == 2  # Click reads it as options: its message, exit 2
    assert "No such option" in capsys.readouterr().err
    assert main(["info", "--", "-clip.mp4"]) == 2  # after --, it is a path: the usual one-line error
    assert "-clip.mp4: no such file" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_exit_2(tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked.mp4"
    locked.write_bytes(b"\0" * 1000)
    locked.chmod(0)
    assert main(["info", str(locked)]) == 2
    assert "error:" in capsys.readouterr().err


def test_paths_that_are_not_files_say_what_they_are(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    (tmp_path / "gone.mp4").symlink_to(tmp_path / "deleted.mp4")
    os.mkfifo(tmp_path / "pipe.mp4")
    expected = {"a.mp4": "a symbolic link loop", "gone.mp4": "a dangling symbolic link",
                "pipe.mp4": "a named pipe (FIFO), not a file", "missing.mp4": "no such file"}
    for name, reason in expected.items():
        assert main(["info", str(tmp_path / name)]) == 2
        assert f"{name}: {reason}" in capsys.readouterr().err


def test_a_huge_frame_size_is_named_not_device_busy(tmp_path: Path, capsys) -> None:
    huge = tmp_path / "huge.y4m"
    huge.write_bytes(b"YUV4MPEG2 W20000 H20000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\0" * 1000)
    assert main(["info", str(huge)]) == 2
    message = capsys.readouterr().err
    assert "20000x20000" in message and "busy" not in message, message


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    from tests.support.synth import moving_gradient_clip

    return moving_gradient_clip(tmp_path_factory.mktemp("usage") / "clip.mp4")


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_a_range_outside_the_video_is_exit_2(short_clip: Path, tmp_path: Path) -> None:
    result = _run("analyze", short_clip, "-o", tmp_path / "out", "--start", "100s", "-q")
    assert result.returncode == 2, result.stderr
    assert "the range is outside the video" in result.stderr and "1.900s" in result.stderr
    assert not (tmp_path / "out").exists()
    result = _run("text", short_clip, "--start", "50f", "-q")
    assert result.returncode == 2 and "outside the video" in result.stderr, result.stderr


def test_an_empty_range_names_both_ends(short_clip: Path, capsys) -> None:
    assert main(["shots", str(short_clip), "--end", "0s", "-q"]) == 2
    assert "--end 0s is not after --start 0s" in capsys.readouterr().err


def test_an_unknown_object_class_or_detector_is_exit_2(short_clip: Path, capsys) -> None:
    assert main(["objects", str(short_clip), "--classes", "unicorn", "-q"]) == 2
    message = capsys.readouterr().err
    assert "unknown class 'unicorn'" in message and "toothbrush" in message  # every class is named
    assert main(["objects", str(short_clip), "--detector", "yolo99", "-q"]) == 2
    assert "nanodet, centernet" in capsys.readouterr().err


def test_text_at_an_absurd_sampling_rate_takes_every_frame_without_hanging(short_clip: Path, capsys) -> None:
    from vidlens import pipeline
    from vidlens.analyzers.text import TextAnalyzer

    timeline = pipeline.run(short_clip, [TextAnalyzer(fps=1e9)], hash_file=False).timeline
    assert timeline.analysis["frames_sampled"]["text"] == 20


def test_verbose_shows_the_traceback_of_a_failed_analyzer(short_clip: Path, tmp_path: Path, monkeypatch,
                                                           caplog) -> None:
    from vidlens.analyzers.keyframes import KeyframesAnalyzer

    def broken(self, context):
        raise AttributeError("'NoneType' object has no attribute 'shape'")

    monkeypatch.setattr(KeyframesAnalyzer, "finish", broken)  # stands for a bug in an analyzer
    with caplog.at_level(logging.DEBUG, logger="vidlens"):
        assert main(["analyze", str(short_clip), "-o", str(tmp_path / "quiet"), "-q"]) == 0
    assert not any(r.exc_info for r in caplog.records)  # without --verbose: a warning, no traceback
    caplog.clear()
    assert main(["--verbose", "analyze", str(short_clip), "-o", str(tmp_path / "loud"), "-q"]) == 0
    failures = [r for r in caplog.records if r.exc_info and r.exc_info[0] is AttributeError]
    assert failures and "keyframes" in failures[0].getMessage()


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_every_command_takes_json(path, command) -> None:
    assert "--json" in {opt for param in command.params for opt in param.opts}


def test_json_output_parses(short_clip: Path, tmp_path: Path, capsys) -> None:
    import json

    for args in (["version", "--all"], ["models"], ["info", str(short_clip)], ["shots", str(short_clip), "-q"],
                 ["text", str(short_clip), "-q"], ["library", "stats", "--library", str(tmp_path / "none")]):
        code = main([*args, "--json"])
        captured = capsys.readouterr()
        if args[0] == "library":  # no library there: a usage error, and nothing on stdout
            assert code == 2 and captured.out == "", captured
            continue
        assert code == 0, (args, captured.err)
        assert json.loads(captured.out), args
    assert main(["shots", str(short_clip), "-q", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shots"][0]["start"]["frame"] == 0


def test_tables_in_a_pipe_are_plain_and_whole() -> None:
    result = subprocess.run([*CLI, "models"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header[:2] == ["name", "variant"] and rows
    assert all(len(row) == len(header) for row in rows)
    assert "…" not in result.stdout and "all_minilm_l6_v2" in [row[0] for row in rows]  # names were cut at 80


def test_an_oserror_outside_vidlens_code_is_disk_full_or_a_named_path(short_clip: Path, monkeypatch, capsys) -> None:
    """An unwrapped ENOSPC (which also names a path) is exit 4, not the exit 2 of a refused path."""
    import errno

    from vidlens import api

    for code, number in ((4, errno.ENOSPC), (2, errno.EACCES)):
        def refuse(path, number=number):
            raise OSError(number, os.strerror(number), str(path))

        monkeypatch.setattr(api, "probe", refuse)  # stands for a file system refusing the write
        assert main(["info", str(short_clip)]) == code
        message = capsys.readouterr().err
        assert "internal error" not in message and str(short_clip) in message, message
