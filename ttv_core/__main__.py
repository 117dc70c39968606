"""``python -m ttv_core``: see :mod:`ttv_core.cli`."""

import sys

from .cli import main

sys.exit(main())
