"""A011 TorchSiLU: ``nn.SiLU``, ``F.silu`` -> ``nn.silu`` (x * sigmoid(x), a.k.a. swish)."""

from __future__ import annotations

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _silu(input, inplace=False): ...


@register
class TorchSiLU(KinkCases, ElementwiseActivation):
    code = "A011"
    name = "TorchSiLU"
    summary = "nn.SiLU / F.silu -> nn.silu"
    torch_classes = ("torch.nn.SiLU",)
    torch_functions = ("torch.nn.functional.silu",)
    call_signature = signature_of(_silu)
    flax_function = "nn.silu"
    module_form = "nn.SiLU()"
    function_templates = ("F.silu({x})",)
    input_range = (-8.0, 8.0)
    doc = RuleDoc(
        what="The SiLU module and `F.silu`: x * sigmoid(x).",
        why=(
            "`nn.silu` is `jax.nn.silu` (also exported as `nn.swish`): the same smooth function, so\n"
            "nothing but the spelling changes. Flax has no module object and no `inplace`."
        ),
        example=Example(torch="x = F.silu(self.conv1(x))", flax="x = nn.silu(self.conv1(x))"),
        fidelity="Equal within float32 tolerance (measured <= 1.9e-6 on outputs and gradients).",
    )
