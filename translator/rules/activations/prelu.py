"""A006 TorchPReLU: ``nn.PReLU()`` (one slope) -> ``TorchPReLU()``, a support module with PyTorch's kink.

Not ``nn.PReLU``: it branches on ``x >= 0``, so its gradient at exactly 0 is 1
where PyTorch's is the learned slope (measured: 1 vs 0.3).  The support module
keeps Flax's parameter name and shape (``params/negative_slope``, a scalar).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import numpy as np
from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.activations._custom import shapes, shifted
from translator.rules.base import (
    CallSpec,
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    TensorMapping,
)
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY, LayoutTransform

SUPPORT_NAME = "TorchPReLU"
SUPPORT = '''
class TorchPReLU(nn.Module):
    """PReLU with one learned slope and PyTorch's gradient at 0 (rule A006).

    ``nn.PReLU`` computes ``where(x >= 0, ...)``, whose gradient at exactly 0 is 1;
    PyTorch uses ``x > 0``, whose gradient there is the slope.
    """

    negative_slope_init: float = 0.25
    #: per-channel slopes (PyTorch's num_parameters): broadcast along axis 1, the input is in PyTorch's layout
    num_parameters: int = 1

    @nn.compact
    def __call__(self, x):
        shape = () if self.num_parameters == 1 else (self.num_parameters,)
        slope = self.param("negative_slope", nn.initializers.constant(self.negative_slope_init), shape)
        if self.num_parameters > 1:
            slope = slope.reshape((-1,) + (1,) * (x.ndim - 2) if x.ndim > 1 else (-1,))
        return jnp.where(x > 0, x, jnp.asarray(slope, x.dtype) * x)
'''




@dataclass(frozen=True)
class SlopeToScalar(LayoutTransform):
    """``PReLU.weight`` of shape ``[1]`` <-> the scalar ``negative_slope`` (a reshape, exact)."""

    def to_flax(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array).reshape(())

    def to_torch(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array).reshape((1,))

    def flax_shape(self, torch_shape: tuple[int, ...]) -> tuple[int, ...]:
        return ()

    def describe(self) -> str:
        return f"{self.name}: {self.torch_layout} -> {self.flax_layout} (reshape)"


PRELU_WEIGHT_TO_SLOPE = SlopeToScalar("prelu_weight_to_slope", "[1]", "[] (scalar)")


@register
class TorchPReLU(Rule):
    code = "A006"
    name = "TorchPReLU"
    summary = "nn.PReLU() -> TorchPReLU(), a support module; weight [1] -> negative_slope (scalar), [C] per channel"
    torch_classes = ("torch.nn.PReLU",)
    doc = RuleDoc(
        what="The PReLU module with one learned slope (`num_parameters=1`, the default) or one per channel.",
        why=(
            "`nn.PReLU` has the same parameter (a scalar `negative_slope`) but computes\n"
            "`where(x >= 0, x, slope * x)`: at exactly x = 0 its input gradient is 1, where PyTorch's\n"
            "kernel (`x > 0`) gives the slope (measured: 1 vs 0.3). Exact zeros are common (ReLU\n"
            "outputs, zero padding; PITFALLS.md section 4), so the translation emits a six-line support\n"
            "module, `TorchPReLU`, with PyTorch's comparison and Flax's parameter name and shape. Its\n"
            "init is PyTorch's 0.25 (Flax's default is 0.01; irrelevant once weights are ported). The\n"
            "weight [1] ports to the scalar by a reshape. Per-channel slopes (`num_parameters=C`) have no\n"
            "Flax layer either: the same module holds a `(C,)` slope broadcast along PyTorch's channel\n"
            "axis (axis 1; the input is brought to PyTorch's layout)."
        ),
        example=Example(
            torch="self.act = nn.PReLU()\nx = self.act(self.conv(x))",
            flax="self.act = TorchPReLU()  # weight [1] -> negative_slope []\nx = self.act(self.conv(x))",
        ),
        fidelity=(
            "Exact: outputs and input gradients identical, including the gradient at exactly x = 0;\n"
            "slope gradient equal within float32 tolerance (a sum; measured 1.6e-5 abs, r 1e-6)."
        ),
    )

    def build_layer(self, ctx):
        count = literal_or_none(ctx, "num_parameters")
        channels = "" if count == 1 else f"num_parameters={cst.Module([]).code_for_node(ctx.expr('num_parameters'))}"
        if not ctx.is_default("dtype"):
            ctx.unsupported("`dtype=` is not translated yet (Flax uses `param_dtype`)")
        init = literal_or_none(ctx, "init")
        keywords = ", ".join(k for k in ("" if init == 0.25 else f"negative_slope_init={_code(ctx, init)}", channels) if k)
        # one slope is elementwise (any layout); per-channel slopes broadcast along PyTorch's channel axis
        spec = CallSpec(accepts="any", produces="same") if count == 1 else CallSpec(accepts="plain", produces="plain")
        return LayerBuild(
            cst.parse_expression(f"{SUPPORT_NAME}({keywords})"),
            spec,
            notes=("PReLU -> TorchPReLU (support code below): PyTorch's gradient at x = 0, weight [1] -> scalar slope",),
            support=((SUPPORT_NAME, SUPPORT),),
        )

    def weight_layout(self, module):
        layout = PRELU_WEIGHT_TO_SLOPE if module.num_parameters == 1 else IDENTITY
        return [TensorMapping("weight", ("params", "negative_slope"), layout)]

    def cases(self):
        @st.composite
        def prelu_case(draw):
            init = draw(st.sampled_from(["nn.PReLU()", "nn.PReLU(init=0.1)", "nn.PReLU(1, 0.5)", "per-channel"]))
            kink = draw(st.sampled_from([0.0, 0.0, 1.0]))
            if init == "per-channel":  # one slope per channel, also after a channels-last conv
                if draw(st.booleans()):
                    return RuleCase("nn.PReLU(num_parameters=3)\nself.conv = nn.Conv2d(2, 3, 1)",
                                    f"self.layer(self.conv({shifted('x', kink)}))", (2, 2, 3, 3))
                return RuleCase("nn.PReLU(3, init=0.1)", f"self.layer({shifted('x', kink)})", draw(st.sampled_from([(2, 3), (2, 3, 4)])))
            return RuleCase(init, f"self.layer({shifted('x', kink)})", draw(shapes()))

        return prelu_case()


def _code(ctx, value) -> str:
    if value is NotLiteral:
        return cst.Module([]).code_for_node(ctx.expr("init"))
    return repr(float(value))
