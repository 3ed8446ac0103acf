"""A017 TorchSoftsign: ``nn.Softsign``, ``F.softsign`` -> ``nn.soft_sign``."""

from __future__ import annotations

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _softsign(input): ...


@register
class TorchSoftsign(KinkCases, ElementwiseActivation):
    code = "A017"
    name = "TorchSoftsign"
    summary = "nn.Softsign / F.softsign -> nn.soft_sign"
    torch_classes = ("torch.nn.Softsign",)
    torch_functions = ("torch.nn.functional.softsign",)
    call_signature = signature_of(_softsign)
    flax_function = "nn.soft_sign"
    module_form = "nn.Softsign()"
    function_templates = ("F.softsign({x})",)
    doc = RuleDoc(
        what="The Softsign module and `F.softsign`: x / (1 + |x|).",
        why=(
            "`nn.soft_sign` is `jax.nn.soft_sign`, the same formula (note the underscore in the JAX\n"
            "name). |x| has a kink at 0, but x / (1 + |x|) is differentiable there: the gradient at\n"
            "exactly 0 is 1 in both."
        ),
        example=Example(torch="x = F.softsign(self.fc(x))", flax="x = nn.soft_sign(self.fc(x))"),
        fidelity="Equal within float32 tolerance (measured <= 1.9e-6 on outputs and gradients).",
    )
