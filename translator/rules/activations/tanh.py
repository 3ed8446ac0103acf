"""A003 TorchTanh: ``nn.Tanh``, ``torch.tanh``, ``F.tanh``, ``x.tanh()`` -> ``nn.tanh``."""

from __future__ import annotations

from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _tanh(input): ...


@register
class TorchTanh(ElementwiseActivation):
    code = "A003"
    name = "TorchTanh"
    summary = "nn.Tanh / torch.tanh / F.tanh -> nn.tanh"
    torch_classes = ("torch.nn.Tanh",)
    torch_functions = ("torch.tanh", "torch.nn.functional.tanh")
    tensor_methods = ("tanh",)
    call_signature = signature_of(_tanh)
    flax_function = "nn.tanh"
    module_form = "nn.Tanh()"
    function_forms = ("torch.tanh(x)", "F.tanh(x)", "x.tanh()")
    doc = RuleDoc(
        what="The Tanh module, `torch.tanh`/`F.tanh` and the `.tanh()` method.",
        why="Flax activations are functions, not modules; `nn.tanh` is `jnp.tanh`.",
        example=Example(torch="h = torch.tanh(self.fc(x))", flax="h = nn.tanh(self.fc(x))"),
        fidelity="Equal within float32 tolerance (measured <= 1.9e-6 on outputs and gradients).",
    )
