"""T032 TorchLerp: ``torch.lerp(x, end, weight)`` / ``x.lerp(end, weight)`` -> ``x + weight * (end - x)``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import PLAIN, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    bind,
    code,
    emit,
    paren,
    shapes,
    shared_fact,
    unsupported,
)


def _lerp(input, end, weight, *, out=None): ...


@register
class TorchLerp(Rule):
    code = "T032"
    name = "TorchLerp"
    summary = "torch.lerp(x, end, w) / x.lerp(end, w) -> x + w * (end - x) (elementwise: a shared layout is kept)"
    torch_functions = ("torch.lerp",)
    tensor_methods = ("lerp",)
    call_signature = signature_of(_lerp)
    doc = RuleDoc(
        what="`torch.lerp(x, end, 0.1)`, `x.lerp(end, w)` with a scalar or tensor weight (in-place `lerp_` is reported).",
        why=(
            "JAX has no `lerp`. The formula is the definition PyTorch documents, `x + w * (end - x)`;\n"
            "PyTorch evaluates `end - (end - x) * (1 - w)` for |w| >= 0.5 (exact at w = 1), which\n"
            "differs by float32 rounding only. The gradients are the same expressions in both:\n"
            "1 - w for x, w for end, end - x for w. Elementwise: when every tensor operand is\n"
            "channels-last the result stays channels-last."
        ),
        example=Example(torch="tokens = tokens.lerp(attn_out, alpha)", flax="tokens = tokens + alpha * (attn_out - tokens)"),
        fidelity="Outputs within float32 rounding (one rounding apart from PyTorch's two-branch formula); same gradients.",
    )

    def emit_call(self, ctx):
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        fact = shared_fact(ctx, ("input", "end", "weight"))
        keep = fact is not None
        x, end, weight = (code(ctx, n, plain=not keep) for n in ("input", "end", "weight"))
        return emit(bind(x, lambda v: f"{v} + {paren(weight)} * ({end} - {v})"), fact or PLAIN)

    def cases(self):
        @st.composite
        def lerp_case(draw):
            weight = draw(st.sampled_from(["0.25", "0.75", "1.0", "x.sigmoid()", "x[..., :1].sigmoid()"]))
            if draw(st.booleans()):  # two conv outputs stay channels-last
                forward = f"self.layer(x).lerp(self.layer(x).tanh(), {weight.replace('x', 'self.layer(x)')})"
                return RuleCase("nn.Conv2d(2, 2, 1)", forward, (1, 2, 3, 3))
            form = draw(st.sampled_from(["torch.lerp(x, x * x, {w})", "x.lerp(x.exp(), {w})", "x.tanh().lerp(x, {w})"]))
            return RuleCase(None, form.format(w=weight), shapes(draw))

        return lerp_case()
