"""A018 TorchLogSigmoid: ``nn.LogSigmoid``, ``F.logsigmoid`` -> ``nn.log_sigmoid``."""

from __future__ import annotations

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _logsigmoid(input): ...


@register
class TorchLogSigmoid(KinkCases, ElementwiseActivation):
    code = "A018"
    name = "TorchLogSigmoid"
    summary = "nn.LogSigmoid / F.logsigmoid -> nn.log_sigmoid"
    torch_classes = ("torch.nn.LogSigmoid",)
    torch_functions = ("torch.nn.functional.logsigmoid",)
    call_signature = signature_of(_logsigmoid)
    flax_function = "nn.log_sigmoid"
    module_form = "nn.LogSigmoid()"
    function_templates = ("F.logsigmoid({x})",)
    input_range = (-30.0, 30.0)
    doc = RuleDoc(
        what="The LogSigmoid module and `F.logsigmoid`: log(sigmoid(x)) = -softplus(-x).",
        why=(
            "`nn.log_sigmoid` is `jax.nn.log_sigmoid`, computed stably as -softplus(-x) like PyTorch's\n"
            "kernel, so large negative inputs give -x rather than log(0) = -inf. Do not write\n"
            "`jnp.log(nn.sigmoid(x))`: it underflows to -inf below x ~ -88 in float32."
        ),
        example=Example(torch="lp = F.logsigmoid(self.fc(x))", flax="lp = nn.log_sigmoid(self.fc(x))"),
        fidelity="Equal within float32 tolerance (measured <= 1.9e-6 on outputs and gradients).",
    )
