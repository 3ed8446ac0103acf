"""S004 TorchLayout: NCHW at the module boundary, NHWC inside, transposes only where needed."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


@register
class TorchLayout(Rule):
    code = "S004"
    name = "TorchLayout"
    summary = "NCHW at the boundary, NHWC inside: one transpose in, one before any axis-sensitive op"
    doc = RuleDoc(
        what=(
            "Every value flowing between convolutions, pools and elementwise ops in `forward`. The\n"
            "translator tracks which values are channels-last; a transpose is inserted when a value\n"
            "reaches an op that needs the other layout (a conv needs NHWC; flatten, view, indexing,\n"
            "dim arguments, Linear and returns need PyTorch's NCHW)."
        ),
        why=(
            "XLA's convolutions in Flax are channels-last by default (`nn.Conv` takes (N, H, W, C)).\n"
            "Keeping NCHW at the module boundary means the translated model takes the same inputs and\n"
            "gives the same outputs as the PyTorch one, and flattening in NCHW order means ported\n"
            "Linear weights need no permutation. Anything not known to be layout-agnostic gets\n"
            "PyTorch's layout, so an unknown op can cost a transpose but never give a wrong axis."
        ),
        example=Example(
            torch="self.conv = nn.Conv2d(3, 8, 3)\nx = torch.relu(self.conv(x))\nx = torch.flatten(x, 1)",
            flax=(
                'self.conv = nn.Conv(8, kernel_size=(3, 3), padding="VALID")\n'
                "x = nn.relu(self.conv(jnp.transpose(x, (0, 2, 3, 1))))\n"
                "x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)"
            ),
        ),
        fidelity="Exact: transposes move values without arithmetic.",
    )

    def cases(self):
        @st.composite
        def layout_case(draw):
            channels = draw(st.integers(1, 3))
            size = draw(st.integers(3, 7))
            forward = draw(
                st.sampled_from(
                    [
                        "torch.flatten(torch.relu(self.layer(x)), 1)",
                        "self.layer(x) + 1.0",
                        "self.layer(x).size(1) * self.layer(x)",
                        "self.layer(x).view(x.size(0), -1)",
                    ]
                )
            )
            return RuleCase(f"nn.Conv2d({channels}, 2, 3)", forward, (2, channels, size, size))

        return layout_case()
