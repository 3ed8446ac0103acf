"""A014 TorchHardsigmoid: ``nn.Hardsigmoid``, ``F.hardsigmoid`` -> ``nn.hard_sigmoid``."""

from __future__ import annotations

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _hardsigmoid(input, inplace=False): ...


@register
class TorchHardsigmoid(KinkCases, ElementwiseActivation):
    code = "A014"
    name = "TorchHardsigmoid"
    summary = "nn.Hardsigmoid / F.hardsigmoid -> nn.hard_sigmoid (gradient 0 at -3 and 3 in both)"
    torch_classes = ("torch.nn.Hardsigmoid",)
    torch_functions = ("torch.nn.functional.hardsigmoid",)
    call_signature = signature_of(_hardsigmoid)
    flax_function = "nn.hard_sigmoid"
    module_form = "nn.Hardsigmoid()"
    function_templates = ("F.hardsigmoid({x})",)
    kinks = (0.0, -3.0, 3.0)
    input_range = (-5.0, 5.0)
    doc = RuleDoc(
        what="The Hardsigmoid module and `F.hardsigmoid`: relu6(x + 3) / 6.",
        why=(
            "`nn.hard_sigmoid` is `jax.nn.hard_sigmoid` = relu6(x + 3) / 6, the same formula and the\n"
            "same convention at the kinks: the gradient at exactly x = -3 and x = 3 is 0 in both\n"
            "(measured). Spelling it `jnp.clip(x / 6 + 0.5, 0, 1)` would give 1/12 there instead\n"
            "(clip's 0.5 subgradient, PITFALLS.md section 4)."
        ),
        example=Example(torch="s = F.hardsigmoid(self.fc(x))", flax="s = nn.hard_sigmoid(self.fc(x))"),
        fidelity="Equal within float32 tolerance, including gradient 0 at exactly x = -3 and x = 3.",
    )
