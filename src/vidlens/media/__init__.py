"""The media layer: the only code in vidlens that talks to PyAV/FFmpeg.

``probe`` reads the facts of a file, ``VideoReader`` yields its frames in presentation order with
exact indices and times (feeding the audio track to an ``AudioTap`` in the same pass), and
``writers`` turn frames back into files.
"""

import av

from .audio import AudioChunk, AudioSpec, AudioTap
from .info import VideoInfo, probe
from .reader import DecodedFrame, DecodeStats, VideoReader
from .sampling import FrameSpec, Sampler


def library_versions() -> str:
    """PyAV and the FFmpeg libraries it was built with, for bug reports."""
    libs = ", ".join(f"{name} {'.'.join(map(str, v))}" for name, v in av.library_versions.items())
    return f"pyav {av.__version__} ({libs})"


__all__ = [
    "AudioChunk",
    "AudioSpec",
    "AudioTap",
    "DecodeStats",
    "DecodedFrame",
    "FrameSpec",
    "Sampler",
    "VideoInfo",
    "VideoReader",
    "library_versions",
    "probe",
]
