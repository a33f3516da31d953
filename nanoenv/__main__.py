"""``python -m nanoenv …``: the same as the ``nanoenv`` command."""

import sys

from nanoenv.cli import main

if __name__ == "__main__":
    sys.exit(main())
