"""vidlens: local-first video understanding with one frame-exact timeline for every analysis."""

__version__ = "0.1.0"
