"""The ``gfm`` command-line interface."""

from tfgnn_gfm.cli.gfm import build_parser, main
