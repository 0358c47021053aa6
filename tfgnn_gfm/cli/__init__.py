"""The ``gfm`` command-line interface."""

from tfgnn_gfm.cli.main import build_parser
from tfgnn_gfm.cli.main import main
