"""``python -m journeyflow.cli``: the ``journeyflow`` command."""

import sys

from journeyflow.cli import main

sys.exit(main())
