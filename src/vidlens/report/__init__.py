"""Human-readable output of a timeline: a self-contained HTML report that works offline.

The report lives next to ``timeline.json`` and the keyframes in the output folder and refers to
them by relative path, so the folder can be moved or shared as a whole.
"""

from .html import render_report, report_context, write_report
from .plot import timeline_svg

__all__ = ["render_report", "report_context", "timeline_svg", "write_report"]
