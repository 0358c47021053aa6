"""``python -m tfgnn_gfm.cli``: ``gfm`` without its console script."""

import sys

from tfgnn_gfm.cli.gfm import main

if __name__ == "__main__":
  sys.exit(main())
