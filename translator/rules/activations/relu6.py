"""A004 TorchReLU6: ``nn.ReLU6``, ``F.relu6`` -> ``nn.relu6`` (gradient 0 at both kinks, as in PyTorch)."""

from __future__ import annotations

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _relu6(input, inplace=False): ...


@register
class TorchReLU6(KinkCases, ElementwiseActivation):
    code = "A004"
    name = "TorchReLU6"
    summary = "nn.ReLU6 / F.relu6 -> nn.relu6 (not jnp.clip: its gradient is 0.5 at 0 and 6)"
    torch_classes = ("torch.nn.ReLU6",)
    torch_functions = ("torch.nn.functional.relu6",)
    call_signature = signature_of(_relu6)
    flax_function = "nn.relu6"
    module_form = "nn.ReLU6()"
    function_templates = ("F.relu6({x})",)
    kinks = (0.0, 6.0)
    input_range = (-3.0, 9.0)
    doc = RuleDoc(
        what="The ReLU6 module and `F.relu6`: min(max(x, 0), 6).",
        why=(
            "Flax activations are plain functions; `nn.relu6` is `jax.nn.relu6`. The obvious\n"
            "`jnp.clip(x, 0, 6)` has the same values but the wrong gradient at the kinks: 0.5 at x = 0\n"
            "and x = 6 where PyTorch gives 0 (PITFALLS.md section 4). Exact zeros are common (ReLU\n"
            "outputs, zero padding), and a peer translator fails MobileNetV2's parameter gradients by\n"
            "up to 87% of a tensor's norm from this alone. `jax.nn.relu6` gives 0 at both, like PyTorch."
        ),
        example=Example(torch="x = F.relu6(self.bn1(self.conv1(x)))", flax="x = nn.relu6(self.bn1(self.conv1(x)))"),
        fidelity="Exact: outputs and gradients identical, including gradient 0 at exactly x = 0 and x = 6.",
    )
