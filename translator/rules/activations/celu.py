"""A009 TorchCELU: ``nn.CELU(alpha)``, ``torch.celu``, ``F.celu`` -> ``nn.celu(x, alpha=...)``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _celu(input, alpha=1.0, inplace=False): ...


@register
class TorchCELU(KinkCases, ElementwiseActivation):
    code = "A009"
    name = "TorchCELU"
    summary = "nn.CELU(alpha) / torch.celu / F.celu -> nn.celu(x, alpha=alpha)"
    torch_classes = ("torch.nn.CELU",)
    torch_functions = ("torch.celu", "torch.nn.functional.celu")
    call_signature = signature_of(_celu)
    flax_function = "nn.celu"
    keywords = {"alpha": "alpha"}
    torch_defaults = {"alpha": 1.0}
    module_form = "nn.CELU()"
    doc = RuleDoc(
        what="The CELU module, `torch.celu` and `F.celu`: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).",
        why=(
            "`nn.celu` is `jax.nn.celu` with the same `alpha` (default 1.0 in both); a non-default alpha\n"
            "becomes a keyword, and a module `partial(nn.celu, alpha=...)`. CELU is C1-smooth, so the\n"
            "gradient at 0 is 1 in both (measured with alpha = 2)."
        ),
        example=Example(
            torch="self.act = nn.CELU(alpha=2.0)\nx = self.act(x)",
            flax="self.act = partial(nn.celu, alpha=2.0)\nx = self.act(x)",
        ),
        fidelity="Equal within float32 tolerance (measured <= 1.9e-6 on outputs and gradients).",
    )

    def case_forms(self, draw):
        alpha = draw(st.sampled_from((1.0, 0.5, 2.0, 3.0)))
        forms = [
            (f"nn.CELU(alpha={alpha})", "self.layer({x})"),
            ("nn.CELU()", "self.layer({x})"),
            (None, f"F.celu({{x}}, {alpha})"),
            (None, f"torch.celu({{x}}, alpha={alpha})"),
            (None, "F.celu({x})"),
        ]
        init, template = draw(st.sampled_from(forms))
        return init, template, (0.0,)
