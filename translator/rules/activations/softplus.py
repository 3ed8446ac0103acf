"""A016 TorchSoftplus: ``nn.Softplus(beta, threshold)``, ``F.softplus`` -> ``nn.softplus`` or a ``jnp.where``.

With PyTorch's defaults (beta=1, threshold=20) ``nn.softplus`` matches; otherwise
PyTorch's linear region above the threshold is written out.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.activations._custom import KinkCases, WhereActivation, argument
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import Example, RuleDoc, signature_of
from translator.rules.registry import register


def _softplus(input, beta=1.0, threshold=20.0): ...


def _is_default(ctx) -> bool:
    return literal_or_none(ctx, "beta") == 1 and literal_or_none(ctx, "threshold") == 20


@register
class TorchSoftplus(KinkCases, WhereActivation):
    code = "A016"
    name = "TorchSoftplus"
    summary = "nn.Softplus(beta, threshold) / F.softplus -> nn.softplus, or jnp.where for non-default beta/threshold"
    torch_classes = ("torch.nn.Softplus",)
    torch_functions = ("torch.nn.functional.softplus",)
    call_signature = signature_of(_softplus)
    flax_function = "nn.softplus"
    module_form = "nn.Softplus()"
    input_range = (-6.0, 6.0)
    doc = RuleDoc(
        what="The Softplus module and `F.softplus`: log(1 + exp(beta * x)) / beta, and x where beta * x > threshold.",
        why=(
            "`nn.softplus` (`jax.nn.softplus`) has neither `beta` nor `threshold`: it is the beta = 1\n"
            "curve everywhere. PyTorch switches to the identity where beta * x > threshold. With the\n"
            "defaults (1, 20) the two agree in float32 (measured 4.8e-7, also for |x| >> 20), so\n"
            "`nn.softplus` is used. Otherwise the translation writes PyTorch's branch out with the same\n"
            "comparison: ignoring the threshold (beta=2, threshold=1) errs by 0.157, ignoring beta by\n"
            "0.347 (measured, PITFALLS.md section 1). A module with non-default arguments becomes a\n"
            "lambda in `setup`."
        ),
        example=Example(
            torch="self.act = nn.Softplus(beta=2.0, threshold=1.0)",
            flax="self.act = lambda x: jnp.where(2.0 * x > 1.0, x, nn.softplus(2.0 * x) / 2.0)",
        ),
        fidelity=(
            "Equal within float32 tolerance (measured 6e-8 on outputs, 1.2e-7 on gradients), with the\n"
            "same branch as PyTorch at exactly beta * x = threshold."
        ),
    )

    def build_layer(self, ctx):
        if _is_default(ctx):
            return ElementwiseActivation.build_layer(self, ctx)
        return super().build_layer(ctx)

    def emit_call(self, ctx):
        if _is_default(ctx):
            return ElementwiseActivation.emit_call(self, ctx)
        return super().emit_call(ctx)

    def arguments(self, ctx):
        return {"beta": argument(ctx, "beta"), "threshold": argument(ctx, "threshold")}

    def body(self, x, args):
        beta, threshold = args["beta"], args["threshold"]
        if beta == "1.0":
            return f"jnp.where({x} > {threshold}, {x}, nn.softplus({x}))"
        return f"jnp.where({beta} * {x} > {threshold}, {x}, nn.softplus({beta} * {x}) / {beta})"

    def case_forms(self, draw):
        beta = draw(st.sampled_from((1.0, 2.0, 0.5, 4.0)))
        threshold = draw(st.sampled_from((20.0, 1.0, 2.0, 3.0)))
        forms = [
            (f"nn.Softplus({beta}, {threshold})", "self.layer({x})"),
            (f"nn.Softplus(beta={beta}, threshold={threshold})", "self.layer({x})"),
            (f"nn.Softplus(beta={beta})", "self.layer({x})"),
            ("nn.Softplus()", "self.layer({x})"),
            (None, f"F.softplus({{x}}, {beta}, {threshold})"),
            (None, f"F.softplus({{x}}, beta={beta}, threshold={threshold})"),
            (None, "F.softplus({x})"),
        ]
        init, template = draw(st.sampled_from(forms))
        if init == "nn.Softplus()" or template == "F.softplus({x})":
            beta, threshold = 1.0, 20.0
        elif "threshold" not in (init or template) and init is not None and "," not in init:
            threshold = 20.0
        # the switch point threshold / beta is exact for these values: x + it hits it exactly
        return init, template, (0.0, threshold / beta)
