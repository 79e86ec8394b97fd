"""``python -m costgraph``: the command line (see `costgraph.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
