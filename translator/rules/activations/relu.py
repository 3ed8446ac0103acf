"""A001 TorchReLU: ``nn.ReLU``, ``torch.relu``, ``F.relu``, ``x.relu()`` -> ``nn.relu``."""

from __future__ import annotations

from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _relu(input, inplace=False): ...


@register
class TorchReLU(ElementwiseActivation):
    code = "A001"
    name = "TorchReLU"
    summary = "nn.ReLU / torch.relu / F.relu -> nn.relu"
    torch_classes = ("torch.nn.ReLU",)
    torch_functions = ("torch.relu", "torch.nn.functional.relu")
    tensor_methods = ("relu",)
    call_signature = signature_of(_relu)
    flax_function = "nn.relu"
    module_form = "nn.ReLU()"
    function_forms = ("torch.relu(x)", "F.relu(x)", "x.relu()")
    doc = RuleDoc(
        what="The ReLU module, the `torch.relu`/`F.relu` functions and the `.relu()` method.",
        why=(
            "In Flax an activation is a plain function (`nn.relu` is `jax.nn.relu`); there is no module\n"
            "object and no `inplace`: JAX arrays are immutable and XLA fuses the op anyway. Its gradient\n"
            "at exactly 0 is 0 in both frameworks."
        ),
        example=Example(torch="x = torch.relu(self.fc1(x))", flax="x = nn.relu(self.fc1(x))"),
        fidelity="Exact (outputs and gradients identical, including at x = 0).",
    )
