"""``python -m vidlens.cli``: the same as the ``vidlens`` command."""

import sys

from . import main

sys.exit(main())
