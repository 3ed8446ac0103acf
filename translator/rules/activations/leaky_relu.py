"""A005 TorchLeakyReLU: ``nn.LeakyReLU(s)``, ``F.leaky_relu`` -> ``jnp.where(x > 0, x, s * x)``.

Not ``nn.leaky_relu``: it branches on ``x >= 0``, so its gradient at exactly 0
is 1 where PyTorch's is the slope (measured: 1 vs 0.2).
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.activations._custom import KinkCases, WhereActivation, argument
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _leaky_relu(input, negative_slope=0.01, inplace=False): ...


@register
class TorchLeakyReLU(KinkCases, WhereActivation):
    code = "A005"
    name = "TorchLeakyReLU"
    summary = "nn.LeakyReLU(s) / F.leaky_relu -> jnp.where(x > 0, x, s * x) (nn.leaky_relu's gradient at 0 is 1)"
    torch_classes = ("torch.nn.LeakyReLU",)
    torch_functions = ("torch.nn.functional.leaky_relu",)
    call_signature = signature_of(_leaky_relu)
    module_form = "nn.LeakyReLU()"
    doc = RuleDoc(
        what="The LeakyReLU module and `F.leaky_relu`: x for x > 0, negative_slope * x otherwise.",
        why=(
            "`nn.leaky_relu` (`jax.nn.leaky_relu`) has the same values and default slope (0.01), but it\n"
            "branches on `x >= 0`, so at exactly x = 0 its gradient is 1 where PyTorch's kernel\n"
            "(`x > 0 ? grad : grad * slope`) gives the slope (measured: 1 vs 0.2 with slope 0.2).\n"
            "Exact zeros are common (ReLU outputs, zero padding; PITFALLS.md section 4), so the\n"
            "translation writes PyTorch's comparison out as a `jnp.where`. A module becomes a lambda in\n"
            "`setup`; a function applied to an expression binds it once through a lambda, so the\n"
            "expression (say a dropout) is never evaluated twice."
        ),
        example=Example(
            torch="self.act = nn.LeakyReLU(0.2)\nh = F.leaky_relu(h, 0.2)",
            flax="self.act = lambda x: jnp.where(x > 0, x, 0.2 * x)\nh = jnp.where(h > 0, h, 0.2 * h)",
        ),
        fidelity="Exact: outputs and gradients identical, including gradient = slope at exactly x = 0.",
    )

    def arguments(self, ctx):
        return {"slope": argument(ctx, "negative_slope")}

    def body(self, x, args):
        return f"jnp.where({x} > 0, {x}, {args['slope']} * {x})"

    def case_forms(self, draw):
        slope = draw(st.sampled_from((0.01, 0.2, 0.1, 0.5, 0.0)))
        forms = [
            (f"nn.LeakyReLU({slope})", "self.layer({x})"),
            (f"nn.LeakyReLU(negative_slope={slope})", "self.layer({x})"),
            ("nn.LeakyReLU()", "self.layer({x})"),
            (None, f"F.leaky_relu({{x}}, {slope})"),
            (None, f"F.leaky_relu({{x}}, negative_slope={slope})"),
            (None, "F.leaky_relu({x})"),
        ]
        init, template = draw(st.sampled_from(forms))
        return init, template, (0.0,)
