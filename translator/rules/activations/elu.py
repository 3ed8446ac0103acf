"""A007 TorchELU: ``nn.ELU(alpha)``, ``F.elu`` -> ``nn.elu(x, alpha=...)``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.activations._custom import KinkCases
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _elu(input, alpha=1.0, inplace=False): ...


ALPHAS = (1.0, 0.5, 2.0, 0.1)


@register
class TorchELU(KinkCases, ElementwiseActivation):
    code = "A007"
    name = "TorchELU"
    summary = "nn.ELU(alpha) / F.elu -> nn.elu(x, alpha=alpha)"
    torch_classes = ("torch.nn.ELU",)
    torch_functions = ("torch.nn.functional.elu",)
    call_signature = signature_of(_elu)
    flax_function = "nn.elu"
    keywords = {"alpha": "alpha"}
    torch_defaults = {"alpha": 1.0}
    module_form = "nn.ELU()"
    doc = RuleDoc(
        what="The ELU module and `F.elu`: x for x > 0, alpha * (exp(x) - 1) otherwise.",
        why=(
            "`nn.elu` is `jax.nn.elu`, a function with the same `alpha` (default 1.0 in both), so a\n"
            "non-default alpha is passed as a keyword and a module becomes `partial(nn.elu, alpha=...)`.\n"
            "Both use `x > 0` for the linear branch, so the gradient at exactly 0 is alpha in both."
        ),
        example=Example(
            torch="self.act = nn.ELU(alpha=0.5)\nx = self.act(x)",
            flax="self.act = partial(nn.elu, alpha=0.5)\nx = self.act(x)",
        ),
        fidelity="Equal within float32 tolerance (measured <= 1.9e-6 on outputs and gradients); gradient at 0 identical.",
    )

    def case_forms(self, draw):
        alpha = draw(st.sampled_from(ALPHAS))
        forms = [
            (f"nn.ELU(alpha={alpha})", "self.layer({x})"),
            ("nn.ELU()", "self.layer({x})"),
            (None, f"F.elu({{x}}, {alpha})"),
            (None, f"F.elu({{x}}, alpha={alpha})"),
            (None, "F.elu({x})"),
        ]
        init, template = draw(st.sampled_from(forms))
        return init, template, (0.0,)
