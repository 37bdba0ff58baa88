#!/usr/bin/env bash
# Install the Debian packages vidlens uses, only those that are missing:
#   opencv-doc               real sample videos (Megamind.avi, vtest.avi, ...) for the demo and tests
#   forensics-samples-files  a 1080p phone clip and movie-hello.* in four containers
#   ffmpeg                   the ffmpeg CLI, used by tests and benchmarks as an anchor (vidlens itself
#                            decodes through PyAV, which bundles FFmpeg's libraries)
#   asterisk-core-sounds-en-wav  recorded human speech (voice prompts, CC-BY-SA-3.0) for the speech tests
#                            and the Silero VAD check in tools/convert_models.py
#   strace                   tests/test_offline.py traces vidlens' network system calls (no connection,
#                            no host look-up) with it
set -euo pipefail
packages=(opencv-doc forensics-samples-files ffmpeg asterisk-core-sounds-en-wav strace)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: not a Debian-like system; skipping ${missing[*]} (tests that need them will be skipped)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "note: not root and no sudo; skipping ${missing[*]} (tests that need them will be skipped)" >&2
    exit 0
  fi
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
