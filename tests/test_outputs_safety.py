"""Every writer refuses an output that is, or links to, its input video (it would destroy the source)."""

from __future__ import annotations

import os

import pytest

from vidlens import api
from vidlens.errors import UsageError
from vidlens.summary import summarize


def _writers(video, out):
    return [
        lambda: api.anonymize(video, out),
        lambda: api.annotate(video, out),
        lambda: summarize(video, output=out),
        lambda: summarize(video, preview=out),
        lambda: api.analyze(video, analyzers=["shots"], output_dir=out),
    ]


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("writer", range(5))
def test_output_equal_to_input_is_refused(make_video, tmp_path, link, writer):
    video = make_video()
    before = video.read_bytes()
    out = {"same": video, "symlink": tmp_path / "link.mp4", "hardlink": tmp_path / "hard.mp4"}[link]
    if link == "symlink":
        os.symlink(video, out)
    elif link == "hardlink":
        os.link(video, out)
    with pytest.raises(UsageError) as err:
        _writers(video, out)[writer]()
    assert str(video) in str(err.value) or str(out) in str(err.value)
    assert video.read_bytes() == before


def test_export_clips_into_the_input_file_is_refused(make_video):
    video = make_video()
    before = video.read_bytes()
    moment = {"path": str(video), "start": {"frame": 0}, "end": {"frame": 5}}
    with pytest.raises(UsageError):
        api.export_clips([moment], video)
    assert video.read_bytes() == before


def test_cli_exits_2_naming_both_paths(make_video, capsys):
    from vidlens.cli import main

    video = make_video()
    assert main(["anonymize", str(video), "-o", str(video)]) == 2
    assert str(video) in capsys.readouterr().err


@pytest.mark.parametrize("command", ["anonymize", "annotate"])
def test_a_timeline_of_another_video_is_refused(make_video, tmp_path, command):
    from tests.conftest import gradient_frames

    first = make_video("a.mp4")
    other = make_video("b.mp4", frames=[255 - f for f in gradient_frames(30)])  # same size, other content
    api.analyze(first, analyzers=["shots"], output_dir=tmp_path / "out")
    with pytest.raises(UsageError, match="sha256"):
        getattr(api, command)(other, tmp_path / "x.mp4", timeline=tmp_path / "out" / "timeline.json")
