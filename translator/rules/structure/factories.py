"""S006 TorchLayerFactory: module-level functions that build layers (``conv3x3``)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


@register
class TorchLayerFactory(Rule):
    code = "S006"
    name = "TorchLayerFactory"
    summary = "def conv3x3(...): return nn.Conv2d(...) -> the same function returning the Flax layer"
    doc = RuleDoc(
        what="A module-level function that constructs and returns a layer, as torchvision's `conv3x3`.",
        why=(
            "The function is translated like constructor code, so it returns the Flax layer; the\n"
            "translator also records *what* it returns, so a call of `self.conv1 = conv3x3(...)` in\n"
            "`forward` gets the right layout (a convolution is channels-last). A function whose result\n"
            "cannot be told from its code is reported rather than guessed."
        ),
        example=Example(
            torch="def conv3x3(i, o, stride=1):\n    return nn.Conv2d(i, o, 3, stride, 1, bias=False)",
            flax="def conv3x3(i, o, stride=1):\n    return nn.Conv(o, kernel_size=(3, 3), strides=(stride,) * 2, padding=1, use_bias=False, conv_general_dilated=conv_for_cpu)",
        ),
        fidelity="Exact (structure only); the layer is as exact as its own rule.",
    )

    def cases(self):
        @st.composite
        def factory_case(draw):
            channels = draw(st.integers(1, 3))
            stride = draw(st.integers(1, 2))
            prelude = "def conv3x3(i, o, stride=1):\n    return nn.Conv2d(i, o, kernel_size=3, stride=stride, padding=1, bias=False)\n"
            forward = draw(st.sampled_from(["self.layer(x)", "torch.flatten(self.layer(x), 1)"]))
            return RuleCase(f"conv3x3({channels}, 2, {stride})", forward, (1, channels, 4, 4), prelude=prelude)

        return factory_case()
