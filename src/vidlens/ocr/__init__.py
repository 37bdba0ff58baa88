"""On-screen text: a cheap gate deciding which frames need reading, the OCR engine, and the merging
of repeated readings into timed text segments. The ``text`` analyzer wires them into the pipeline."""

from .engine import OcrEngine, Reading
from .gate import GateResult, GateVerdict, TextGate
from .segments import TextSegment, merge_readings

__all__ = ["GateResult", "GateVerdict", "OcrEngine", "Reading", "TextGate", "TextSegment", "merge_readings"]
