"""The media layer: the only code in vidlens that talks to PyAV/FFmpeg.

``probe`` reads the facts of a file, ``VideoReader`` yields its frames in presentation order with
exact indices and times, and ``writers`` turn frames back into files.
"""

from .info import VideoInfo, probe
from .reader import DecodedFrame, DecodeStats, VideoReader
from .sampling import FrameSpec, Sampler

__all__ = ["DecodeStats", "DecodedFrame", "FrameSpec", "Sampler", "VideoInfo", "VideoReader", "probe"]
