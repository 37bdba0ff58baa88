"""A sweep over every command with hostile arguments: never exit 1 ("internal error"), never a traceback,
never a hang.

Each required argument of each command (enumerated from the app, so new commands are swept too) is
given, in turn, every kind of path a careless or hostile user can pass; the other arguments get a
valid-looking stand-in. Runs in-process (an alarm turns a hang into a failure) with the library,
``HOME`` and caches inside the test's folder.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import typer.main

from vidlens.cli import app, main

from .test_cli_usage import _arguments, _leaves

LEAVES = _leaves(typer.main.get_command(app))

#: Kinds of path a user can pass where a video, a folder or a model is expected.
HOSTILE = ["missing", "empty", "random", "text", "folder", "fifo", "link_loop", "dangling_link", "dev_null",
           "odd_name", "huge_header", "dash"]


def _make_hostile(tmp: Path) -> dict[str, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    paths = {name: tmp / f"{name}.mp4" for name in HOSTILE}
    paths["empty"].write_bytes(b"")
    paths["random"].write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    paths["text"].write_text("not a video\n" * 100)
    paths["folder"].mkdir()
    os.mkfifo(paths["fifo"])
    paths["link_loop"].symlink_to(paths["link_loop"])
    paths["dangling_link"].symlink_to(tmp / "deleted.mp4")
    paths["dev_null"] = Path("/dev/null")
    paths["odd_name"] = tmp / "new\nline ünï 'quote\" $x;.mp4"
    paths["odd_name"].write_bytes(b"\x00" * 4096)
    paths["huge_header"].write_bytes(b"YUV4MPEG2 W20000 H20000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\0" * 100)
    paths["dash"] = Path("-o")
    return paths


CASES = [(path, command, slot, kind) for path, command in LEAVES for slot in range(len(_arguments(command)))
         for kind in HOSTILE]


def _alarm(signum, frame):
    raise TimeoutError("the command hung")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    return _make_hostile(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize(("path", "command", "slot", "kind"), CASES,
                         ids=[f"{' '.join(p)}[{s}]={k}" for p, _, s, k in CASES])
def test_no_hostile_path_is_an_internal_error(path, command, slot, kind, hostile, tmp_path, monkeypatch,
                                              capsys) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIDLENS_LIBRARY", str(tmp_path / "library"))
    monkeypatch.chdir(tmp_path)
    arguments = [str(hostile["text"]) for _ in _arguments(command)]
    arguments[slot] = str(hostile[kind])
    extra = []
    options = {opt for param in command.params for opt in param.opts}
    if "--output" in options:
        extra = ["--output", str(tmp_path / "out")]
    if "--passphrase-file" in options:
        (tmp_path / "pass").write_text("a long enough passphrase\n")
        extra += ["--passphrase-file", str(tmp_path / "pass")]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        code = main([*path, *extra, "--", *arguments] if kind == "dash" else [*path, *extra, *arguments])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    captured = capsys.readouterr()
    assert code in (0, 2), (code, captured.err)
    assert "Traceback" not in captured.err and "internal error" not in captured.err, captured.err
    if code == 2:
        assert captured.err.strip(), "exit 2 without a message"


def _path_options(command) -> list[str]:
    """The long flag of each option of ``command`` that takes a path."""
    import typing

    flags = []
    for param in command.params:
        if param.param_type_name != "option":
            continue
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        if annotation is None:
            continue
        inner = {a for arg in typing.get_args(annotation) for a in (arg, *typing.get_args(arg))}
        if Path in {annotation} | inner:
            flags.append(max(param.opts, key=len))
    return flags


#: Options naming something vidlens writes; every other path option is read.
WRITTEN = {"--output", "--preview", "--export-clips", "--library", "--cache"}
PATH_OPTIONS = [(path, command, flag) for path, command in LEAVES for flag in _path_options(command)
                if path[0] not in ("train", "evaluate", "predict", "explain", "export")]  # model commands: see
# tests/train/test_cli_train.py::test_a_real_model_with_hostile_inputs_is_never_an_internal_error


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    from vidlens.media.encode import encode_video

    path = tmp_path_factory.mktemp("sweep") / "clip.mp4"
    ramp = np.linspace(0, 255, 64, dtype=np.float32)
    encode_video(path, [np.broadcast_to(np.roll(ramp, 3 * i)[None, :, None], (48, 64, 3)).astype(np.uint8)
                        for i in range(10)], fps=10)
    return path


@pytest.mark.parametrize(("path", "command", "flag"), PATH_OPTIONS,
                         ids=[f"{' '.join(p)} {f}" for p, _, f in PATH_OPTIONS])
def test_no_hostile_path_option_is_an_internal_error(path, command, flag, clip, tmp_path, monkeypatch,
                                                     capsys) -> None:
    """Every path option, given every hostile kind of path: exit 0 or 2, the hostile paths unchanged."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIDLENS_LIBRARY", str(tmp_path / "library"))
    monkeypatch.chdir(tmp_path)
    hostile = _make_hostile(tmp_path / "hostile")
    kinds = ["folder", "fifo", "link_loop", "dangling_link"] + (
        ["random", "huge_header"] if (flag == "--output" and path[0] == "analyze") or flag not in WRITTEN else [])
    arguments = ["cat"] if path[0] == "search" else [str(clip) for _ in _arguments(command)]
    extra = ["--encrypt"] if flag == "--passphrase-file" else []
    if path[0] in ("annotate", "anonymize") and flag != "--output":
        extra += ["--output", str(tmp_path / "out.mp4")]
    for kind in kinds:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(60)
        try:
            code = main([*path, *extra, flag, str(hostile[kind]), *arguments])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        captured = capsys.readouterr()
        assert code in (0, 2), (kind, code, captured.err)
        assert "Traceback" not in captured.err and "internal error" not in captured.err, (kind, captured.err)
    assert hostile["fifo"].is_fifo() and hostile["link_loop"].is_symlink() and hostile["folder"].is_dir()
    assert hostile["random"].stat().st_size == 50_000


def test_a_device_is_refused_as_an_output_before_anything_is_written() -> None:
    from vidlens.errors import UsageError
    from vidlens.paths import check_output_path

    with pytest.raises(UsageError, match="a device"):  # an atomic rename would replace /dev/null itself
        check_output_path(Path("/dev/null"))
    assert Path("/dev/null").is_char_device()


def test_an_output_that_is_the_input_or_of_the_wrong_kind_is_refused(clip, tmp_path, capsys) -> None:
    before = clip.read_bytes()
    for command in ("shots", "text", "objects"):
        assert main([command, str(clip), "-o", str(clip), "-q"]) == 2
        assert "refusing to overwrite it" in capsys.readouterr().err
    assert clip.read_bytes() == before
    (tmp_path / "a_file").write_text("mine")
    assert main(["analyze", str(clip), "-o", str(tmp_path / "a_file"), "-q"]) == 2
    assert "the output folder is a file" in capsys.readouterr().err
    assert main(["shots", str(clip), "-o", str(tmp_path), "-q"]) == 2
    assert "the output is a folder" in capsys.readouterr().err
    assert (tmp_path / "a_file").read_text() == "mine"


def _text_options(command) -> list[str]:
    import typing

    flags = []
    for param in command.params:
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        if param.param_type_name != "option" or annotation is None:
            continue
        inner = {a for arg in typing.get_args(annotation) for a in (arg, *typing.get_args(arg))}
        if str in {annotation} | inner:
            flags.append(max(param.opts, key=len))
    return flags


TEXT_OPTIONS = [(path, command, flag) for path, command in LEAVES for flag in _text_options(command)
                if path[0] not in ("train", "evaluate", "predict", "explain", "export", "vault", "forget")]
JUNK = ["", ",", ",,", "nan", "-1", "1e400", "99999999999999999999s", "\N{COLLISION SYMBOL}", "x" * 100_000]


@pytest.fixture(scope="module")
def small_library(clip, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sweep_library")
    assert main(["index", str(clip), "--library", str(folder), "--fast", "-q"]) == 0
    return folder


@pytest.mark.parametrize(("path", "command", "flag"), TEXT_OPTIONS,
                         ids=[f"{' '.join(p)} {f}" for p, _, f in TEXT_OPTIONS])
def test_no_junk_text_option_is_an_internal_error(path, command, flag, clip, small_library, tmp_path,
                                                  monkeypatch, capsys) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIDLENS_LIBRARY", str(small_library))
    arguments = ["cat"] if path[0] == "search" else [str(clip) for _ in _arguments(command)]
    extra = {"annotate": ["-o", str(tmp_path / "o.mp4")], "anonymize": ["-o", str(tmp_path / "o.mp4")],
             "analyze": ["-o", str(tmp_path / "out")], "index": ["--library", str(tmp_path / "lib")]}.get(path[0], [])
    for value in JUNK:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(60)
        try:
            code = main([*path, *extra, flag, value, *arguments])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        captured = capsys.readouterr()
        assert code in (0, 2), (value[:20], code, captured.err)
        assert "Traceback" not in captured.err and "internal error" not in captured.err, (value[:20], captured.err)
        if value.strip(",") == "" and value and flag in ("--analyzers", "--classes", "--signals"):
            assert code == 2 and "names nothing" in captured.err  # not silently the default


def test_search_filters_that_cannot_match_are_usage_errors(small_library, capsys) -> None:
    assert main(["search", "cat", "--library", str(small_library), "--object", "unicorn"]) == 2
    assert "unknown class 'unicorn'" in capsys.readouterr().err
    assert main(["search", "cat", "--library", str(small_library), "--start", "5", "--end", "2"]) == 2
    assert "end 2s is not after start 5s" in capsys.readouterr().err
