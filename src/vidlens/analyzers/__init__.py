"""Analyzers: one analysis per module, each a consumer of sampled frames that adds to the timeline."""

from .base import Analyzer, AnalyzerContext, FrameBatch, TimelinePart
from .registry import ANALYZERS, DEFAULT_ANALYZERS, create_analyzers

__all__ = [
    "ANALYZERS",
    "DEFAULT_ANALYZERS",
    "Analyzer",
    "AnalyzerContext",
    "FrameBatch",
    "TimelinePart",
    "create_analyzers",
]
