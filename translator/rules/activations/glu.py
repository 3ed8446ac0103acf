"""A022 TorchGLU: ``nn.GLU(dim)``, ``F.glu`` -> ``nn.glu(x, axis=...)``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.activations._axis import AxisActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _glu(input, dim=-1): ...


@register
class TorchGLU(AxisActivation):
    dtype_cases = False  # F.glu takes no dtype
    code = "A022"
    name = "TorchGLU"
    summary = "nn.GLU(dim) / F.glu -> nn.glu(x, axis=dim), axis remapped for NHWC"
    torch_classes = ("torch.nn.GLU",)
    torch_functions = ("torch.nn.functional.glu",)
    call_signature = signature_of(_glu)
    flax_function = "nn.glu"
    implicit = False
    torch_module = "nn.GLU"
    function_templates = ("F.glu({x}, {dim})", "F.glu({x}, dim={dim})")
    doc = RuleDoc(
        what="The GLU module and `F.glu`: split the input in two halves a, b along `dim` (default -1), a * sigmoid(b).",
        why=(
            "`nn.glu` (`jax.nn.glu`) splits the same way (first half gated by the second) and also\n"
            "defaults to the last axis, but the last axis of a channels-last value is not PyTorch's\n"
            "last dim: the axis is always written, and remapped on channels-last values (NCHW dim=1\n"
            "-> NHWC axis=-1), so no transpose is needed."
        ),
        example=Example(
            torch="self.conv = nn.Conv1d(8, 16, 3)\nh = F.glu(self.conv(x), dim=1)",
            flax=(
                'self.conv = nn.Conv(16, kernel_size=(3,), padding="VALID")\n'
                "h = nn.glu(self.conv(jnp.transpose(x, (0, 2, 1))), axis=-1)  # the conv output is channels-last"
            ),
        ),
        fidelity="Equal within float32 tolerance (a split, a sigmoid and a product).",
    )

    def shape_for(self, draw, rank, dim):
        shape = list(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
        shape[dim] *= 2  # GLU halves `dim`: it must be even
        return tuple(shape)
