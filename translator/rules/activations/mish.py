"""A012 TorchMish: ``nn.Mish``, ``F.mish`` -> ``jax.nn.mish`` (``flax.linen`` does not re-export it)."""

from __future__ import annotations

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _mish(input, inplace=False): ...


@register
class TorchMish(KinkCases, ElementwiseActivation):
    code = "A012"
    name = "TorchMish"
    summary = "nn.Mish / F.mish -> jax.nn.mish"
    torch_classes = ("torch.nn.Mish",)
    torch_functions = ("torch.nn.functional.mish",)
    call_signature = signature_of(_mish)
    flax_function = "jax.nn.mish"
    module_form = "nn.Mish()"
    function_templates = ("F.mish({x})",)
    input_range = (-8.0, 8.0)
    doc = RuleDoc(
        what="The Mish module and `F.mish`: x * tanh(softplus(x)).",
        why=(
            "`flax.linen` re-exports most of `jax.nn` but not `mish`, so the translation calls\n"
            "`jax.nn.mish` directly (a module becomes the function itself, no `partial` needed)."
        ),
        example=Example(torch="x = F.mish(self.fc1(x))", flax="x = jax.nn.mish(self.fc1(x))"),
        fidelity=(
            "Equal within float32 tolerance; Mish has the largest error of the smooth activations\n"
            "(measured <= 1.9e-6 on outputs, <= 2.9e-6 on gradients)."
        ),
    )
