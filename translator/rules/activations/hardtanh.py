"""A015 TorchHardtanh: ``nn.Hardtanh(lo, hi)``, ``F.hardtanh`` -> nested ``jnp.where`` on PyTorch's comparisons.

Not ``nn.hard_tanh``: it has fixed bounds (-1, 1) and gradient 1 at them, where
PyTorch's is 0; not ``jnp.clip``: its gradient there is 0.5.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.activations._custom import KinkCases, WhereActivation, argument
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False): ...


@register
class TorchHardtanh(KinkCases, WhereActivation):
    code = "A015"
    name = "TorchHardtanh"
    summary = "nn.Hardtanh(lo, hi) / F.hardtanh -> jnp.where(x <= lo, lo, jnp.where(x >= hi, hi, x))"
    torch_classes = ("torch.nn.Hardtanh",)
    torch_functions = ("torch.nn.functional.hardtanh",)
    call_signature = signature_of(_hardtanh)
    module_form = "nn.Hardtanh()"
    doc = RuleDoc(
        what="The Hardtanh module and `F.hardtanh`: x clamped to [min_val, max_val] (default [-1, 1]).",
        why=(
            "PyTorch's backward is `(x <= min_val || x >= max_val) ? 0 : grad`: gradient 0 *at* the\n"
            "bounds. `jax.nn.hard_tanh` (fixed bounds -1, 1) gives 1 at x = -1 and x = 1, and\n"
            "`jnp.clip` gives 0.5 (both measured; PITFALLS.md section 4), and exact bound values are\n"
            "common after clamping or saturation. The translation writes PyTorch's comparisons out as\n"
            "nested `jnp.where`s; a module becomes a lambda in `setup`."
        ),
        example=Example(
            torch="self.act = nn.Hardtanh(-2.0, 2.0)",
            flax="self.act = lambda x: jnp.where(x <= -2.0, -2.0, jnp.where(x >= 2.0, 2.0, x))",
        ),
        fidelity="Exact: outputs and gradients identical, including gradient 0 at exactly min_val and max_val.",
    )

    def arguments(self, ctx):
        bounds = {"lo": argument(ctx, "min_val"), "hi": argument(ctx, "max_val")}
        # the module also takes the deprecated aliases min_value / max_value, which win when given
        for alias, key in (("min_value", "lo"), ("max_value", "hi")):
            if not ctx.is_default(alias) and literal_or_none(ctx, alias) is not None:
                bounds[key] = argument(ctx, alias)
        return bounds

    def body(self, x, args):
        lo, hi = args["lo"], args["hi"]
        return f"jnp.where({x} <= {lo}, {lo}, jnp.where({x} >= {hi}, {hi}, {x}))"

    def case_forms(self, draw):
        lo = draw(st.sampled_from((-1.0, -2.0, 0.0, -0.5)))
        hi = draw(st.sampled_from((1.0, 3.0, 6.0, 0.5)))
        forms = [
            (f"nn.Hardtanh({lo}, {hi})", "self.layer({x})"),
            (f"nn.Hardtanh(min_val={lo}, max_val={hi})", "self.layer({x})"),
            ("nn.Hardtanh()", "self.layer({x})"),
            (None, f"F.hardtanh({{x}}, {lo}, {hi})"),
            (None, f"F.hardtanh({{x}}, min_val={lo}, max_val={hi})"),
            (None, "F.hardtanh({x})"),
        ]
        init, template = draw(st.sampled_from(forms))
        if init == "nn.Hardtanh()" or template == "F.hardtanh({x})":
            lo, hi = -1.0, 1.0
        return init, template, (0.0, lo, hi)

