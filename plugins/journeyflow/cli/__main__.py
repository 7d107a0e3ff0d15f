"""``python -m journeyflow.cli``: the ``journeyflow`` command."""

import sys

from journeyflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
