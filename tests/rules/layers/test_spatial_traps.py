"""Fixed trap configurations of the spatial layer rules (PITFALLS sections 1-2), checked against PyTorch.

The generated catalogue test draws only a few examples per rule in CI; these cases pin the
configurations where a naive mapping is measurably wrong, so each trap is checked on every run.
"""

import pytest

from translator.equivalence.rule_cases import compare_case
from translator.rewrite.pipeline import translate_source
from translator.rules.base import RuleCase

TRAPS = [
    # L002 padding_mode: Flax's 'REFLECT'/'CIRCULAR' ignore p; replicate has no Flax string
    RuleCase("nn.Conv2d(2, 3, 3, padding=2, padding_mode='reflect')", "self.layer(x)", (1, 2, 6, 6)),
    RuleCase("nn.Conv2d(2, 3, 3, padding=1, padding_mode='replicate')", "self.layer(x)", (1, 2, 5, 6)),
    RuleCase("nn.Conv1d(2, 3, 3, padding=1, padding_mode='circular')", "self.layer(x)", (2, 2, 7)),
    RuleCase("nn.Conv2d(2, 3, 4, padding='same', padding_mode='reflect', bias=False)", "self.layer(x)", (1, 2, 6, 6)),
    # L002 grouped: depthwise convolutions as shifted multiply-adds (strided, 'same', 1-D/3-D, bias); dilated
    # depthwise and grouped-but-not-depthwise ones go to lax unchanged
    RuleCase("nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4, bias=False)", "self.layer(x)", (2, 4, 7, 6)),
    RuleCase("nn.Conv1d(3, 3, 4, padding='same', groups=3)", "self.layer(x)", (2, 3, 9)),
    RuleCase("nn.Conv3d(2, 2, (3, 1, 2), stride=(1, 2, 1), padding=(1, 0, 1), groups=2)", "self.layer(x)", (1, 2, 4, 5, 3)),
    RuleCase("nn.Conv2d(3, 3, 3, padding=2, dilation=2, groups=3)", "self.layer(x)", (1, 3, 6, 6)),
    RuleCase("nn.Conv2d(4, 6, 3, padding=1, groups=2)", "self.layer(x)", (1, 4, 5, 5)),
    # L002 few input channels (<= 4) and out features (<= 16): one matmul of the kernel with the windows
    # (strided and dilated, 1-D 'same', 3-D); more features go to lax unchanged
    RuleCase("nn.Conv2d(3, 5, 4, stride=2, padding=1, dilation=2)", "self.layer(x)", (2, 3, 9, 8)),
    RuleCase("nn.Conv1d(1, 3, 5, padding='same', dilation=2, bias=False)", "self.layer(x)", (2, 1, 11)),
    RuleCase("nn.Conv3d(2, 3, (2, 3, 1), stride=(2, 1, 1), padding=(1, 0, 0))", "self.layer(x)", (1, 2, 5, 4, 3)),
    RuleCase("nn.Conv2d(3, 40, 3, padding=1)", "self.layer(x)", (1, 3, 5, 4)),
    # ... with 2-4 channels and a stride dividing the kernel on every axis: a stride-1 convolution of
    # s x s blocks (DCGAN's 4x4 stride 2; rows cut at the end, mixed strides, 1-D, 3-D, unequal padding)
    RuleCase("nn.Conv2d(3, 4, 4, 2, 1, bias=False)", "self.layer(x)", (2, 3, 9, 7)),
    RuleCase("nn.Conv2d(4, 6, (4, 3), stride=(2, 3), padding=(1, 2))", "self.layer(x)", (1, 4, 8, 10)),
    RuleCase("nn.Conv1d(2, 5, 4, stride=2, padding=3)", "self.layer(x)", (2, 2, 11)),
    RuleCase("nn.Conv3d(2, 3, 2, stride=2)", "self.layer(x)", (1, 2, 4, 5, 3)),
    RuleCase(None, "F.conv2d(x, torch.ones(3, 2, 4, 4) / 9, stride=2, padding=(2, 1))", (2, 2, 8, 8)),
    # L002 windows that tile the input (stride = kernel, no padding; patch embeddings): a reshape and one
    # matmul, rows past the last patch dropped (2-D, 1-D, 3-D with unequal sizes)
    RuleCase("nn.Conv2d(3, 40, 4, stride=4)", "self.layer(x)", (2, 3, 9, 8)),
    RuleCase("nn.Conv1d(6, 3, 2, stride=2, bias=False)", "self.layer(x)", (1, 6, 7)),
    RuleCase("nn.Conv3d(2, 3, (1, 2, 3), stride=(1, 2, 3))", "self.layer(x)", (1, 2, 2, 5, 6)),
    # ... or one window covering an axis, whatever the stride (a DCGAN discriminator's last layer; one axis
    # of each kind); two windows on an axis with stride 1 are not patches
    RuleCase("nn.Conv2d(6, 3, 4, 1, 0, bias=False)", "self.layer(x)", (2, 6, 4, 4)),
    RuleCase("nn.Conv2d(5, 3, (4, 2), stride=(1, 2))", "self.layer(x)", (1, 5, 4, 6)),
    RuleCase("nn.Conv2d(6, 20, 4, 1, 0)", "self.layer(x)", (1, 6, 5, 4)),
    # L010 MaxPool: ceil-mode overhang on an even size, dilation with ties (negative inputs, exact zeros)
    RuleCase("nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", "self.layer(x)", (2, 2, 8, 8)),
    RuleCase(None, "F.max_pool2d(x, 2, stride=2, dilation=2, ceil_mode=True)", (2, 2, 9, 8), input_range=(-1.0, 0.0)),
    RuleCase("nn.MaxPool1d(1, stride=2, ceil_mode=True)", "self.layer(x)", (2, 3, 2)),
    # L010 max_pool_tiles (stride = kernel): ties follow the first maximum; rows past the last window dropped
    RuleCase("nn.MaxPool2d(2)", "self.layer(x)", (2, 3, 7, 9), input_range=(-1.0, 0.0)),
    RuleCase(None, "F.max_pool3d(x, (2, 3, 1), stride=(2, 3, 1))", (1, 2, 5, 7, 3), input_range=(-1.0, 0.0)),
    RuleCase(None, "F.max_pool1d(x, 3)", (2, 2, 8), input_range=(-1.0, 0.0)),
    # L011 AvgPool: the ceil overhang is not counted, explicit padding is (count_include_pad=True)
    RuleCase("nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)", "self.layer(x)", (2, 2, 8, 8)),
    RuleCase(None, "F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)", (1, 2, 8, 7)),
    RuleCase("nn.AvgPool2d(2, divisor_override=3)", "self.layer(x)", (1, 2, 6, 6)),
    # L012 adaptive pools: overlapping bins, None entries, ties in max bins
    RuleCase("nn.AdaptiveAvgPool2d((3, 5))", "self.layer(x)", (2, 2, 10, 13)),
    RuleCase(None, "F.adaptive_max_pool2d(x, (7, None))", (1, 2, 10, 4), input_range=(-1.0, 0.0)),
    RuleCase("nn.AdaptiveAvgPool2d(1)", "self.layer(x)", (2, 3, 5, 4)),
    # L013 pixel shuffle on channels-last input: PyTorch's (c, i, j) channel order
    RuleCase("nn.Conv2d(8, 8, 1)", "F.pixel_shuffle(self.layer(x), 2)", (1, 8, 3, 2)),
    RuleCase(None, "F.pixel_unshuffle(x, 2)", (1, 2, 4, 6)),
    # L014 F.pad: the tuple starts at the last axis; reflect is not 'symmetric'
    RuleCase(None, "F.pad(x, (1, 2, 0, 1), mode='reflect')", (1, 2, 5, 6)),
    RuleCase("nn.Conv2d(2, 2, 1)", "F.pad(self.layer(x), (2, 0, 1, 1), mode='replicate')", (1, 2, 4, 5)),
    RuleCase(None, "F.pad(x, (-1, 2), value=1.5)", (2, 3, 5)),
    # L015 ConvTranspose: a = d(k-1) - p, output_padding on the high side, flipped kernel
    RuleCase("nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)", "self.layer(x)", (1, 3, 4, 4)),
    RuleCase("nn.ConvTranspose1d(2, 3, 5, stride=3, padding=1, output_padding=2)", "self.layer(x)", (2, 2, 5)),
    RuleCase("nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, dilation=2, bias=False)", "self.layer(x)", (1, 2, 4, 3)),
    # L015 strided -> SubPixelConvTranspose: phases no tap reaches (k < s), mixed strides, 3-D
    RuleCase("nn.ConvTranspose2d(2, 3, 2, stride=3, padding=1, output_padding=2)", "self.layer(x)", (2, 2, 4, 3)),
    RuleCase("nn.ConvTranspose2d(3, 2, (4, 3), stride=(2, 1), padding=(1, 0), bias=False)", "self.layer(x)", (1, 3, 5, 4)),
    RuleCase("nn.ConvTranspose3d(2, 2, 4, stride=2, padding=1)", "self.layer(x)", (1, 2, 3, 2, 4)),
    # more than 32 input channels: lax's forward, the derivative by separate phases
    RuleCase("nn.ConvTranspose2d(34, 2, 3, stride=2, padding=1, output_padding=1)", "self.layer(x)", (1, 34, 3, 4)),
    # kernel == stride, no padding (UNet's up-convolution): one matmul, interleaved
    RuleCase("nn.ConvTranspose2d(4, 2, 2, stride=2)", "self.layer(x)", (2, 4, 3, 5)),
    RuleCase("nn.ConvTranspose1d(2, 3, 3, stride=3, bias=False)", "self.layer(x)", (1, 2, 4)),
    # L016 interpolate: non-integer nearest ratios, align_corners both ways, non-integer scale_factor
    RuleCase(None, "F.interpolate(x, size=7)", (1, 2, 10)),
    RuleCase(None, "F.interpolate(x, scale_factor=1.5)", (1, 2, 7, 5)),
    RuleCase(None, "F.interpolate(x, size=(4, 7), mode='bilinear')", (1, 2, 10, 5)),
    RuleCase(None, "F.interpolate(x, scale_factor=1.5, mode='bilinear')", (1, 2, 7, 5)),
    RuleCase("nn.UpsamplingBilinear2d(scale_factor=2)", "self.layer(x)", (1, 2, 4, 5)),
    RuleCase("nn.Conv2d(2, 2, 1)", "F.interpolate(self.layer(x), size=(3, 8), mode='bilinear', align_corners=True)", (1, 2, 5, 5)),
    RuleCase(None, "F.interpolate(x, scale_factor=0.7, mode='nearest-exact')", (1, 2, 10, 9)),
]


@pytest.mark.parametrize("case", TRAPS, ids=lambda c: c.init or c.forward)
def test_trap(case):
    compare_case(case, seed=1)


@pytest.mark.parametrize(("init", "rewritten"), [
    ("nn.Conv2d(3, 8, 3)", True),  # few channels: one matmul on CPU
    ("nn.Conv2d(c, 8, 3)", True),  # not a constant: conv_for_cpu decides from the shapes
    ("nn.Conv2d(8, 8, 3, groups=8)", True),  # depthwise
    ("nn.Conv2d(16, 8, 3)", False),  # more than 4 input channels: nn.Conv's own
    ("nn.Conv2d(1, 32, 3)", False),  # more than 16 out features
    ("nn.Conv2d(1, 16, 3)", True),
    ("nn.Conv2d(8, 16, 3, groups=2)", False),  # grouped, not depthwise
    ("nn.Conv2d(3, 768, 16, stride=16)", True),  # patches
])
def test_conv_for_cpu_is_passed_only_where_a_rewrite_can_apply(init, rewritten):
    source = (
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, c=3):\n        super().__init__()\n"
        f"        self.conv = {init}\n\n    def forward(self, x):\n        return self.conv(x)\n"
    )
    code = translate_source(source).code
    assert ("conv_general_dilated=conv_for_cpu" in code) is rewritten
    assert ("def conv_for_cpu(" in code) is rewritten


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "path"), [
    ((2, 4, 4, 6), (4, 4), (1, 1), "VALID", "dot_general"),  # one window: the patches' matmul
    ((1, 4, 6, 5), (4, 2), (1, 2), "VALID", "dot_general"),  # one window on H, tiles on W
    ((1, 5, 4, 6), (4, 4), (1, 1), "VALID", "conv_general_dilated"),  # two windows on H: lax (6 channels)
    ((1, 4, 4, 6), (4, 4), (1, 1), ((1, 0), (0, 0)), "conv_general_dilated"),  # padded: lax
    ((2, 9, 7, 3), (4, 4), (2, 2), ((1, 1), (1, 1)), "window_strides=(1, 1)"),  # blocks of 2 x 2 pixels
    ((2, 9, 7, 1), (4, 4), (2, 2), ((1, 1), (1, 1)), "dot_general"),  # one channel: the windows' matmul
    ((2, 9, 7, 3), (3, 3), (2, 2), ((1, 1), (1, 1)), "dot_general"),  # a stride not dividing the kernel: same
])
def test_conv_for_cpu_takes_the_algorithm_its_shapes_call_for(shape, kernel, stride, padding, path):
    """On CPU: which algorithm ``conv_for_cpu`` traces to (its support code run as the translation runs it)."""
    import jax
    import jax.numpy as jnp

    from translator.rules.layers.conv import CONV_FOR_CPU

    namespace: dict = {}
    exec("import jax\nimport jax.numpy as jnp\nimport numpy as np\n" + CONV_FOR_CPU, namespace)
    x, w = jnp.ones(shape), jnp.ones((*kernel, shape[-1], 8))
    numbers = ("NHWC", "HWIO", "NHWC")  # as nn.Conv passes them
    jaxpr = str(jax.make_jaxpr(lambda x, w: namespace["conv_for_cpu"](x, w, stride, padding, dimension_numbers=numbers))(x, w))
    assert path in jaxpr
    assert ("conv_general_dilated" in jaxpr) == (path != "dot_general")
