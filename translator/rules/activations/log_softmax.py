"""A020 TorchLogSoftmax: ``nn.LogSoftmax(dim)``, ``torch.log_softmax``, ``F.log_softmax``, ``x.log_softmax`` -> ``nn.log_softmax``."""

from __future__ import annotations

from translator.rules.activations._axis import AxisActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _log_softmax(input, dim=None, _stacklevel=3, dtype=None): ...


@register
class TorchLogSoftmax(AxisActivation):
    code = "A020"
    name = "TorchLogSoftmax"
    summary = "nn.LogSoftmax(dim) / F.log_softmax / x.log_softmax -> nn.log_softmax(x, axis=dim)"
    torch_classes = ("torch.nn.LogSoftmax",)
    torch_functions = ("torch.log_softmax", "torch.nn.functional.log_softmax")
    tensor_methods = ("log_softmax",)
    call_signature = signature_of(_log_softmax)
    flax_function = "nn.log_softmax"
    torch_module = "nn.LogSoftmax"
    function_templates = ("F.log_softmax({x}, {dim})", "torch.log_softmax({x}, dim={dim})", "{x}.log_softmax({dim})")
    doc = RuleDoc(
        what="The LogSoftmax module, `torch.log_softmax`/`F.log_softmax` and the `.log_softmax(dim)` method.",
        why=(
            "`nn.log_softmax` (`jax.nn.log_softmax`) is computed stably (x - max - log-sum-exp) like\n"
            "PyTorch's, but defaults to `axis=-1`, while PyTorch's `dim` is layout-dependent and, when\n"
            "omitted, implicit (dim 0 for 0-, 1- and 3-D inputs, else 1). The axis is always written and\n"
            "remapped on channels-last values (NCHW dim=1 -> NHWC axis=-1). Same traps as softmax\n"
            "(measured 0.93 for Flax's default axis on NCHW). Do not write `jnp.log(nn.softmax(x))`:\n"
            "it gives -inf where a probability underflows."
        ),
        example=Example(
            torch="logp = F.log_softmax(self.fc(x), dim=1)",
            flax="logp = nn.log_softmax(self.fc(x), axis=1)",
        ),
        fidelity="Equal within float32 tolerance (measured 3e-8 on outputs, 2.2e-7 on gradients, as softmax).",
    )
