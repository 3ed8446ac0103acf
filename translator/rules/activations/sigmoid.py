"""A002 TorchSigmoid: ``nn.Sigmoid``, ``torch.sigmoid``, ``F.sigmoid``, ``x.sigmoid()`` -> ``nn.sigmoid``."""

from __future__ import annotations

from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _sigmoid(input): ...


@register
class TorchSigmoid(ElementwiseActivation):
    code = "A002"
    name = "TorchSigmoid"
    summary = "nn.Sigmoid / torch.sigmoid / F.sigmoid -> nn.sigmoid"
    torch_classes = ("torch.nn.Sigmoid",)
    torch_functions = ("torch.sigmoid", "torch.nn.functional.sigmoid")
    tensor_methods = ("sigmoid",)
    call_signature = signature_of(_sigmoid)
    flax_function = "nn.sigmoid"
    module_form = "nn.Sigmoid()"
    function_forms = ("torch.sigmoid(x)", "F.sigmoid(x)", "x.sigmoid()")
    input_range = (-8.0, 8.0)
    doc = RuleDoc(
        what="The Sigmoid module, `torch.sigmoid`/`F.sigmoid` and the `.sigmoid()` method.",
        why="Flax activations are functions, not modules; `nn.sigmoid` is `jax.nn.sigmoid`.",
        example=Example(torch="x = torch.sigmoid(self.conv1(x))", flax="x = nn.sigmoid(self.conv1(x))"),
        fidelity="Equal within float32 tolerance (measured <= 1.9e-6 on outputs and gradients).",
    )
