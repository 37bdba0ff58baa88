"""The library end to end: index generated reels of real photos, search by word, synonym, on-screen text and
example image, and keep the catalog right through re-indexing, changes, deletions and a kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.library import ReelShot, make_reel, photo_path
from vidlens import api
from vidlens.library.ingest import ingest, prune
from vidlens.library.library import Library
from vidlens.library.search import Filters, find_duplicates, search, search_like
from vidlens.media import VideoReader

ANALYZERS = ("shots", "labels", "segments", "text")
REEL_A = [ReelShot("coffee.png", 3), ReelShot("chelsea.png", 3, "OPEN LATE"), ReelShot("rocket.jpg", 3)]
REEL_B = [ReelShot("astronaut.png", 3), ReelShot("fruits.jpg", 3), ReelShot("motorcycle_left.png", 3, "SALE TODAY")]


def _need(*names: str) -> None:
    missing = [n for n in names if photo_path(n) is None]
    if missing:
        pytest.skip(f"photos not installed: {missing}")


@pytest.fixture(scope="module")
def reels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need(*(s.photo for s in REEL_A + REEL_B))
    folder = tmp_path_factory.mktemp("reels")
    make_reel(folder / "a.mp4", REEL_A)
    make_reel(folder / "b.mp4", REEL_B)
    return folder


@pytest.fixture(scope="module")
def library(reels: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("library")
    with Library(folder) as lib:
        report = ingest(lib, [reels], analyzers=ANALYZERS)
    assert sorted(Path(p).name for p in report.added) == ["a.mp4", "b.mp4"] and not report.failed
    return folder


def _truth(reels: Path, video: str, photo: str) -> dict:
    shots = json.loads((reels / f"{video}.truth.json").read_text())["shots"]
    return next(s for s in shots if s["photo"] == photo)


@pytest.mark.parametrize(("query", "video", "photo"), [
    ("cat", "a.mp4", "chelsea.png"),  # a label word (tiger cat, Egyptian cat)
    ("feline", "a.mp4", "chelsea.png"),  # a synonym no label says
    ("spacecraft", "a.mp4", "rocket.jpg"),
    ("hot drink", "a.mp4", "coffee.png"),  # a paraphrase of espresso / cup
    ("citrus fruit", "b.mp4", "fruits.jpg"),
    ("open late", "a.mp4", "chelsea.png"),  # on-screen words
    ("sale", "b.mp4", "motorcycle_left.png"),
])
def test_words_find_the_right_video_and_time_range_first(library: Path, reels: Path, query: str, video: str,
                                                         photo: str) -> None:
    with Library(library, create=False) as lib:
        moments = search(lib, query, limit=3)
    top = moments[0]
    truth = _truth(reels, video, photo)
    assert Path(top.path).name == video, [m.to_dict() for m in moments]
    assert top.start["frame"] == truth["start"] and top.end["frame"] == truth["end"], top.to_dict()
    assert top.start["timecode"] and top.thumbnail and Path(top.thumbnail).stat().st_size > 0


def test_on_screen_words_are_the_evidence(library: Path) -> None:
    with Library(library, create=False) as lib:
        top = search(lib, "open late", limit=1)[0]
    assert top.evidence["bm25"]["matched"] == ["open", "late"] and top.evidence["text"] == ["OPEN LATE"]


def test_each_signal_alone_and_filters(library: Path, reels: Path) -> None:
    with Library(library, create=False) as lib:
        for signal_name in ("facts", "conse"):
            top = search(lib, "feline", limit=1, signals=(signal_name,))[0]
            cat_shot = _truth(reels, "a.mp4", "chelsea.png")
            assert Path(top.path).name == "a.mp4" and top.start["frame"] == cat_shot["start"]
        assert search(lib, "feline", signals=("bm25",)) == []  # no tag says feline: full text alone cannot
        only_b = search(lib, "cat", limit=10, filters=Filters(path="*b.mp4"))
        assert only_b and {Path(m.path).name for m in only_b} == {"b.mp4"}
        late = search(lib, "cat", limit=10, filters=Filters(start=6.0))
        assert late and all(m.end["time"] > 6.0 for m in late)
        tagged = search(lib, "animal", limit=10, filters=Filters(labels=("tiger cat",)))
        assert [Path(m.path).name for m in tagged] == ["a.mp4"]
        assert search(lib, "cat", filters=Filters(labels=("no such label",))) == []
        assert all(m.duration >= 5 for m in search(lib, "cat", filters=Filters(min_duration=5)))


def test_example_image_finds_its_shot(library: Path, reels: Path) -> None:
    with Library(library, create=False) as lib:
        for video, photo in (("a.mp4", "chelsea.png"), ("b.mp4", "fruits.jpg")):
            top = search_like(lib, photo_path(photo), limit=2)[0]
            truth = _truth(reels, video, photo)
            assert Path(top.path).name == video and top.start["frame"] == truth["start"], top.to_dict()


def test_example_clip_finds_its_source(library: Path, reels: Path, tmp_path: Path) -> None:
    _need("rocket.jpg")
    clip = make_reel(tmp_path / "rocket_clip.mp4", [ReelShot("rocket.jpg", 1.5)], size=(256, 144))
    assert clip.shots
    with Library(library, create=False) as lib:
        top = search_like(lib, tmp_path / "rocket_clip.mp4", limit=1)[0]
    assert Path(top.path).name == "a.mp4" and top.start["frame"] == _truth(reels, "a.mp4", "rocket.jpg")["start"]


def test_reindex_is_a_no_op_and_changes_are_seen(reels: Path, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    shutil.copytree(reels, folder)
    lib_dir = tmp_path / "lib"
    with Library(lib_dir) as lib:
        first = ingest(lib, [folder], analyzers=("shots", "labels", "segments"))
        assert len(first.added) == 2
        generation = lib.catalog.generation
        again = ingest(lib, [folder], analyzers=("shots", "labels", "segments"))
        assert again.added == again.updated == [] and len(again.unchanged) == 2
        assert lib.catalog.generation == generation  # nothing was written

        os.utime(folder / "a.mp4", ns=(time.time_ns(), time.time_ns() + 10**9))  # same bytes, new mtime
        touched = ingest(lib, [folder], analyzers=("shots", "labels", "segments"))
        assert [Path(p).name for p in touched.touched] == ["a.mp4"] and not touched.updated

        make_reel(folder / "b.mp4", [ReelShot("chelsea.png", 2), ReelShot("coffee.png", 2)])  # new content
        changed = ingest(lib, [folder], analyzers=("shots", "labels", "segments"))
        assert [Path(p).name for p in changed.updated] == ["b.mp4"]
        cats = [m for m in search(lib, "cat", limit=5) if Path(m.path).name == "b.mp4"]
        assert cats and cats[0].start["frame"] == 0 and cats[0].end["frame"] == 20

        (folder / "a.mp4").rename(folder / "moved.mp4")  # a move is recognised by content
        moved = ingest(lib, [folder], analyzers=("shots", "labels", "segments"))
        assert [Path(p).name for p in moved.touched] == ["moved.mp4"] and not moved.added

        (folder / "moved.mp4").unlink()
        assert [Path(p).name for p in prune(lib)] == ["moved.mp4"]
        assert {Path(v.path).name for v in lib.catalog.videos()} == {"b.mp4"}
        assert all(Path(m.path).name == "b.mp4" for m in search(lib, "rocket", limit=10))
        assert lib.check()["ok"]


def test_bad_files_are_listed_and_the_rest_indexed(reels: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(reels / "a.mp4", folder / "good.mp4")
    (folder / "notes.mp4").write_text("this is not a video\n")
    (folder / "empty.mkv").write_bytes(b"")
    with Library(tmp_path / "lib") as lib:
        report = ingest(lib, [folder, tmp_path / "missing"], analyzers=("shots", "labels", "segments"))
    assert [Path(p).name for p in report.added] == ["good.mp4"]
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"notes.mp4", "empty.mkv", "missing"} and all(failed.values())


def test_lost_index_files_are_rebuilt_from_the_catalog(library: Path, tmp_path: Path) -> None:
    copy = tmp_path / "lib"
    shutil.copytree(library, copy)
    shutil.rmtree(copy / "vectors")
    with Library(copy, create=False) as lib:
        top = search(lib, "feline", limit=1)[0]
        assert Path(top.path).name == "a.mp4" and set(lib.rebuilt) >= {"facts", "conse"}
    (copy / "vectors" / "visual.faiss").write_bytes(b"garbage")
    with Library(copy, create=False) as lib:
        assert search_like(lib, photo_path("chelsea.png"), limit=1)[0].path.endswith("a.mp4")
        assert "visual" in lib.rebuilt


_KILL_SCRIPT = """
import sys
from vidlens.library.ingest import ingest
from vidlens.library.library import Library
with Library(sys.argv[1]) as lib:
    ingest(lib, [sys.argv[2]], analyzers=("shots", "labels", "segments", "text"))
"""


def test_killed_mid_ingest_the_library_opens_checks_and_resumes(reels: Path, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(4):
        shutil.copy(reels / ("a.mp4" if i % 2 == 0 else "b.mp4"), folder / f"v{i}.mp4")
        with (folder / f"v{i}.mp4").open("ab") as f:
            f.write(bytes([i]))  # distinct content, same pictures
    lib_dir = tmp_path / "lib"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(lib_dir), str(folder)],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    catalog = lib_dir / "catalog.sqlite"
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if catalog.exists():
            try:
                with sqlite3.connect(catalog, timeout=1) as db:
                    committed = db.execute("SELECT count(*) FROM videos").fetchone()[0]
            except sqlite3.Error:
                committed = 0
            if committed >= 1:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Library(lib_dir, create=False) as lib:
        assert lib.check()["ok"]
        done = {v.path for v in lib.catalog.videos()}
        assert 1 <= len(done) < 4
        report = ingest(lib, [folder], analyzers=("shots", "labels", "segments", "text"))
        assert set(report.unchanged) == done and len(report.added) == 4 - len(done) and not report.failed
        assert lib.check()["ok"] and len(lib.catalog.videos()) == 4
        assert search(lib, "feline", limit=1)[0].path.endswith(("v0.mp4", "v2.mp4"))


def test_duplicates_and_repeated_segments(reels: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(reels / "a.mp4", folder / "original.mp4")
    make_reel(folder / "reupload.mp4", REEL_A, size=(256, 144))  # same pictures, other size and encode
    make_reel(folder / "shares_intro.mp4", [ReelShot("coffee.png", 3), ReelShot("astronaut.png", 3)])
    with Library(tmp_path / "lib") as lib:
        ingest(lib, [folder], analyzers=("shots", "labels", "segments"))
        found = find_duplicates(lib, threshold=0.9)
    videos = [d for d in found if d.kind == "video"]
    assert len(videos) == 1, [d.to_dict() for d in found]
    assert {Path(videos[0].a["path"]).name, Path(videos[0].b["path"]).name} == {"original.mp4", "reupload.mp4"}
    intro = [d for d in found if d.kind == "segment" and "shares_intro.mp4" in (Path(d.a["path"]).name,
                                                                                Path(d.b["path"]).name)]
    assert intro, [d.to_dict() for d in found]
    for d in intro:
        side = d.a if Path(d.a["path"]).name == "shares_intro.mp4" else d.b
        assert side["start"]["frame"] == 0 and side["end"]["frame"] == 30
    # the table outputs (not only JSON) of dupes and library stats
    from vidlens.cli import main

    assert main(["dupes", "--library", str(tmp_path / "lib")]) == 0
    header, *rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]  # piped: plain, whole rows
    assert header == ["kind", "video A", "range A", "video B", "range B", "similarity"]
    assert sorted(r[0] for r in rows) == sorted(d.kind for d in found), rows
    assert all(len(r) == 6 and r[1].endswith(".mp4") and r[3].endswith(".mp4") for r in rows), rows
    assert main(["library", "stats", "--library", str(tmp_path / "lib")]) == 0
    assert "3 videos (0 partial)" in capsys.readouterr().out


def test_export_clips_cut_the_moments(library: Path, tmp_path: Path) -> None:
    moments = api.search("feline", library=library, limit=2)
    clips = api.export_clips(moments, tmp_path / "clips")
    assert len(clips) == 2
    for clip, moment in zip(clips, moments):
        frames = sum(1 for _ in VideoReader(clip["path"], audio=False))
        assert frames == moment["end"]["frame"] - moment["start"]["frame"]
        assert clip["method"] in ("copy", "re-encode")


@pytest.mark.parametrize("how", ["words", "image", "clip"])
def test_search_table_output_names_the_video_and_why(library: Path, reels: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str], how: str) -> None:
    """The default (table) output of every kind of query, not only JSON: --like once crashed in it."""
    from vidlens.cli import main

    query = {"words": ["open late"], "image": ["--like", str(photo_path("chelsea.png"))],
             "clip": ["--like", str(reels / "a.mp4")]}[how]
    assert main(["search", *query, "--library", str(library), "-n", "2"]) == 0
    shown = capsys.readouterr().out
    assert "a.mp4" in shown and ("visual #1" in shown if how != "words" else "words: open, late" in shown), shown


def test_cli_index_search_stats(reels: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "vidlens.cli", *args], capture_output=True, text=True, env=env,
                              timeout=300)

    done = run("index", str(reels / "a.mp4"), "--library", str(lib), "--fast", "--json")
    assert done.returncode == 0, done.stderr
    assert [Path(p).name for p in json.loads(done.stdout)["added"]] == ["a.mp4"]
    found = run("search", "kitten", "--library", str(lib), "--format", "json", "-n", "1")
    assert found.returncode == 0, found.stderr
    top = json.loads(found.stdout)["moments"][0]
    assert top["start"]["frame"] == 30 and top["end"]["frame"] == 60
    assert run("search", "--library", str(lib)).returncode == 2  # neither a query nor --like
    assert run("search", "cat", "--library", str(tmp_path / "none")).returncode == 2  # no library there
    stats = run("library", "stats", "--library", str(lib), "--json")
    assert stats.returncode == 0 and json.loads(stats.stdout)["videos"] == 1
    assert run("library", "check", "--library", str(lib)).returncode == 0


def test_ctrl_c_stops_cleanly_and_keeps_no_partial_video(reels: Path, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(4):
        shutil.copy(reels / "a.mp4", folder / f"v{i}.mp4")
        with (folder / f"v{i}.mp4").open("ab") as f:
            f.write(bytes([i]))
    lib_dir = tmp_path / "lib"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "vidlens.cli", "index", str(folder), "--library", str(lib_dir),
                             "--analyzers", "shots,labels,segments,text"], env=env, stderr=subprocess.PIPE, text=True,
                            # as from a terminal: a test run started in the background inherits SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(lib_dir / "catalog.sqlite", timeout=1) as db:
                if db.execute("SELECT count(*) FROM videos").fetchone()[0] >= 1:
                    break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    if proc.returncode != 130:  # say why a video came out partial: that is the bug to look for
        with sqlite3.connect(lib_dir / "catalog.sqlite") as db:
            stderr += repr(db.execute("SELECT path, warnings FROM videos WHERE NOT complete").fetchall())
    assert proc.returncode == 130, stderr
    assert "run the same command again" in stderr and "Traceback" not in stderr
    with Library(lib_dir, create=False) as lib:
        videos = lib.catalog.videos()
        assert videos and all(v.complete for v in videos) and lib.check()["ok"]
        report = ingest(lib, [folder], analyzers=("shots", "labels", "segments", "text"))
        assert len(report.unchanged) == len(videos) and len(report.added) == 4 - len(videos)


def test_two_workers_index_the_same_as_one(reels: Path, tmp_path: Path) -> None:
    events: list[str] = []
    with Library(tmp_path / "lib") as lib:
        report = ingest(lib, [reels], workers=2, analyzers=("shots", "labels", "segments"),
                        progress=lambda event, detail: events.append(event))
        assert sorted(Path(p).name for p in report.added) == ["a.mp4", "b.mp4"] and not report.failed
        assert events[0] == "plan" and events.count("done") == 2 and "frames" in events
        top = search(lib, "feline", limit=1)[0]
        assert Path(top.path).name == "a.mp4" and top.start["frame"] == 30 and lib.check()["ok"]


def test_export_copies_packets_when_the_moment_starts_on_a_keyframe(tmp_path: Path) -> None:
    from tests.support.samples import vtest

    source = vtest()
    if source is None:
        pytest.skip("opencv-doc's vtest.avi is not installed")
    moment = {"path": str(source), "start": {"frame": 0}, "end": {"frame": 100}}
    (clip,) = api.export_clips([moment], tmp_path)
    assert clip["method"] == "copy"
    assert sum(1 for _ in VideoReader(clip["path"], audio=False)) == 100


def test_index_lists_pipes_dangling_links_and_link_loops_with_a_reason(reels: Path, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(reels / "a.mp4", folder / "a.mp4")
    os.mkfifo(folder / "pipe.mp4")
    (folder / "gone.mp4").symlink_to(tmp_path / "deleted.mp4")
    (folder / "loop.mp4").symlink_to(folder / "loop.mp4")
    with Library(tmp_path / "lib") as lib:
        report = ingest(lib, [folder, folder / "loop.mp4"], analyzers=("shots",))
    assert [Path(p).name for p in report.added] == ["a.mp4"]
    reasons = {Path(p).name: why for p, why in report.failed}
    assert reasons == {"gone.mp4": f"a dangling symbolic link (to {tmp_path / 'deleted.mp4'}, which does not exist)",
                       "loop.mp4": "a symbolic link loop", "pipe.mp4": "a named pipe (FIFO), not a file"}
    assert len(report.failed) == 4  # the loop named on the command line is listed as well as the one found
