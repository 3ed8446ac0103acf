"""A021 TorchSoftmin: ``nn.Softmin(dim)``, ``F.softmin`` -> ``nn.softmax(-x, axis=...)``."""

from __future__ import annotations

from translator.rules.activations._axis import AxisActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _softmin(input, dim=None, _stacklevel=3, dtype=None): ...


@register
class TorchSoftmin(AxisActivation):
    code = "A021"
    name = "TorchSoftmin"
    summary = "nn.Softmin(dim) / F.softmin -> nn.softmax(-x, axis=dim)"
    torch_classes = ("torch.nn.Softmin",)
    torch_functions = ("torch.nn.functional.softmin",)
    call_signature = signature_of(_softmin)
    flax_function = "nn.softmax"
    negate = True
    torch_module = "nn.Softmin"
    function_templates = ("F.softmin({x}, {dim})", "F.softmin({x}, dim={dim})")
    doc = RuleDoc(
        what="The Softmin module and `F.softmin`: softmax of the negated input along `dim`.",
        why=(
            "JAX has no softmin; PyTorch defines it as softmax(-x), which is what is emitted. The\n"
            "axis follows the softmax rules: always written, remapped on channels-last values, and\n"
            "PyTorch's implicit dim (0 for 0-, 1- and 3-D inputs, else 1) when `dim` is omitted."
        ),
        example=Example(torch="w = F.softmin(d, dim=-1)", flax="w = nn.softmax(-d, axis=-1)"),
        fidelity="Equal within float32 tolerance (negation is exact; softmax measured 3e-8 / 2.2e-7).",
    )
