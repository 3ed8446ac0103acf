"""A019 TorchSoftmax: ``nn.Softmax(dim)``, ``torch.softmax``, ``F.softmax``, ``x.softmax`` -> ``nn.softmax(x, axis=...)``."""

from __future__ import annotations

from translator.rules.activations._axis import AxisActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _softmax(input, dim=None, _stacklevel=3, dtype=None): ...


@register
class TorchSoftmax(AxisActivation):
    code = "A019"
    name = "TorchSoftmax"
    summary = "nn.Softmax(dim) / torch.softmax / F.softmax / x.softmax -> nn.softmax(x, axis=dim), axis remapped for NHWC"
    torch_classes = ("torch.nn.Softmax",)
    torch_functions = ("torch.softmax", "torch.nn.functional.softmax")
    tensor_methods = ("softmax",)
    call_signature = signature_of(_softmax)
    flax_function = "nn.softmax"
    torch_module = "nn.Softmax"
    function_templates = ("F.softmax({x}, {dim})", "torch.softmax({x}, dim={dim})", "{x}.softmax({dim})")
    doc = RuleDoc(
        what="The Softmax module, `torch.softmax`/`F.softmax` and the `.softmax(dim)` method.",
        why=(
            "`nn.softmax` (`jax.nn.softmax`) defaults to `axis=-1`; PyTorch's `dim` is layout-dependent\n"
            "and, when omitted, implicit: dim 0 for 0-, 1- and 3-D inputs, else dim 1. The axis is\n"
            "always written. On a channels-last value (after a convolution) PyTorch's dim is remapped,\n"
            "so NCHW dim=1 becomes NHWC `axis=-1` with no transpose. Measured traps: Flax's default\n"
            "axis on NCHW: 0.93 max error; ignoring the implicit dim on a 3-D input: 0.706. Without\n"
            "`dim` and with an input of unknown rank, the translator asks for an explicit `dim`.\n"
            "`dtype=` (Hugging Face's `softmax(scores, dim=-1, dtype=torch.float32)`) casts the input first."
        ),
        example=Example(
            torch="self.conv = nn.Conv2d(3, 8, 3)\nself.softmax = nn.Softmax(dim=1)\nh = self.conv(x)\np = self.softmax(h)",
            flax=(
                'self.conv = nn.Conv(8, kernel_size=(3, 3), padding="VALID", conv_general_dilated=conv_for_cpu)\n'
                "h = self.conv(jnp.transpose(x, (0, 2, 3, 1)))  # NHWC\n"
                "p = nn.softmax(h, axis=-1)  # h is channels-last: dim 1 is the last axis"
            ),
        ),
        fidelity="Equal within float32 tolerance (measured 3e-8 on outputs, 2.2e-7 on gradients).",
    )
