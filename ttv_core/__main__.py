"""``python -m ttv_core``: see :mod:`ttv_core.run.cli`."""

import sys

from .run.cli import main

sys.exit(main())
