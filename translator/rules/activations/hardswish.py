"""A013 TorchHardswish: ``nn.Hardswish``, ``F.hardswish`` -> ``nn.hard_swish``."""

from __future__ import annotations

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _hardswish(input, inplace=False): ...


@register
class TorchHardswish(KinkCases, ElementwiseActivation):
    code = "A013"
    name = "TorchHardswish"
    summary = "nn.Hardswish / F.hardswish -> nn.hard_swish (same gradients at -3 and 3)"
    torch_classes = ("torch.nn.Hardswish",)
    torch_functions = ("torch.nn.functional.hardswish",)
    call_signature = signature_of(_hardswish)
    flax_function = "nn.hard_swish"
    module_form = "nn.Hardswish()"
    function_templates = ("F.hardswish({x})",)
    kinks = (0.0, -3.0, 3.0)
    input_range = (-5.0, 5.0)
    doc = RuleDoc(
        what="The Hardswish module and `F.hardswish`: x * relu6(x + 3) / 6.",
        why=(
            "`nn.hard_swish` is `jax.nn.hard_swish` = x * relu6(x + 3) / 6. It inherits relu6's\n"
            "gradient convention, which matches PyTorch at the kinks: at x = -3 the gradient is 0 in\n"
            "both and at x = 3 it is 1 in both (measured). A hand-written `x * jnp.clip(x + 3, 0, 6) / 6`\n"
            "would give -0.25 and 1.25 there (clip's 0.5 subgradient, PITFALLS.md section 4)."
        ),
        example=Example(torch="x = F.hardswish(self.conv1(x))", flax="x = nn.hard_swish(self.conv1(x))"),
        fidelity="Equal within float32 tolerance, including gradients at exactly x = -3 and x = 3.",
    )
