"""Synthetic platform data with planted structure."""

from tfgnn_gfm.synth.generator import SynthConfig
from tfgnn_gfm.synth.generator import SyntheticPlatform
from tfgnn_gfm.synth.generator import generate
