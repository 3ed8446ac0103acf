from .blocks import conv3x3_block, get_activation_layer  # re-exported, as libraries do

__all__ = ["conv3x3_block", "get_activation_layer"]
