"""The two Rich consoles every CLI module writes to: results on stdout, messages and progress on stderr.

One pair for the whole command line, so progress bars and messages from different modules share one
stderr console (Rich coordinates live displays per console).
"""

from __future__ import annotations

from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
out = Console()
