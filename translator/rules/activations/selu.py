"""A008 TorchSELU: ``nn.SELU``, ``torch.selu``, ``F.selu`` -> ``nn.selu``."""

from __future__ import annotations

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _selu(input, inplace=False): ...


@register
class TorchSELU(KinkCases, ElementwiseActivation):
    code = "A008"
    name = "TorchSELU"
    summary = "nn.SELU / torch.selu / F.selu -> nn.selu"
    torch_classes = ("torch.nn.SELU",)
    torch_functions = ("torch.selu", "torch.nn.functional.selu")
    call_signature = signature_of(_selu)
    flax_function = "nn.selu"
    module_form = "nn.SELU()"
    function_templates = ("torch.selu({x})", "F.selu({x})")
    doc = RuleDoc(
        what="The SELU module, `torch.selu` and `F.selu`: scale * elu(x, alpha) with the fixed constants.",
        why=(
            "`nn.selu` is `jax.nn.selu`; both use the same constants (alpha = 1.6732632423543772,\n"
            "scale = 1.0507009873554805) and the same `x > 0` branch, so the gradient at exactly 0 is\n"
            "scale * alpha (1.7581) in both. There is no module object and no `inplace` in Flax."
        ),
        example=Example(torch="x = torch.selu(self.fc1(x))", flax="x = nn.selu(self.fc1(x))"),
        fidelity="Equal within float32 tolerance (measured <= 1.9e-6 on outputs and gradients).",
    )
