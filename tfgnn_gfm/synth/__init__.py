"""Synthetic platform data with planted structure."""

from tfgnn_gfm.synth.generator import SynthConfig, SyntheticPlatform, generate
from tfgnn_gfm.synth.stage import synth
