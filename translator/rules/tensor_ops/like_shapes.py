"""T043 TorchViewAs: ``x.view_as(y)`` / ``x.reshape_as(y)`` -> ``x.reshape(y.shape)`` (both in PyTorch's layout)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, paren, shapes


def _view_as(input, other): ...


@register
class TorchViewAs(Rule):
    code = "T043"
    name = "TorchViewAs"
    summary = "x.view_as(y) / x.reshape_as(y) -> x.reshape(y.shape), both in PyTorch's layout"
    tensor_methods = ("view_as", "reshape_as")
    call_signature = signature_of(_view_as)
    doc = RuleDoc(
        what="`x.view_as(y)`, `x.reshape_as(y)`: x's values in y's shape.",
        why=(
            "JAX has no views: every reshape is a new array (XLA makes it free when it can), so\n"
            "`view_as` and `reshape_as` are both `reshape(y.shape)`; `view`'s requirement of a\n"
            "contiguous x has no counterpart. A reshape reads elements in row-major order, so a\n"
            "channels-last x goes back to PyTorch's layout first, and the shape is y's PyTorch shape."
        ),
        example=Example(torch="out = out.view_as(x)", flax="out = out.reshape(x.shape)"),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        return emit(f"{paren(code(ctx, 'input'))}.reshape({paren(code(ctx, 'other'))}.shape)")

    def cases(self):
        @st.composite
        def view_as_case(draw):
            shape = shapes(draw, min_rank=2)
            op = draw(st.sampled_from(["view_as", "reshape_as"]))
            forms = [
                f"x.flatten().{op}(x)",
                f"x.reshape(-1, {shape[-1]}).{op}(x) * 2",
                f"x.{op}(x.flatten())",
                "x.transpose(0, 1).reshape_as(x)",  # not contiguous: PyTorch's view_as refuses it
                f"x.sum(0).{op}(x[0])",
            ]
            if draw(st.booleans()):  # layout: conv output back to the input's shape, or the input as the conv's
                return RuleCase("nn.Conv2d(2, 2, 1)", draw(st.sampled_from([
                    f"self.layer(x).{op}(x) + x", f"x.flatten(1).{op}(self.layer(x)) + self.layer(x)",
                    "self.layer(x).flatten(1).reshape_as(self.layer(x))"])), (2, 2, 3, 4))
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return view_as_case()
