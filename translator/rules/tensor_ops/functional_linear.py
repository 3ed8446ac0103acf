"""T048 TorchFunctionalLinear: ``F.linear(x, weight, bias)`` -> ``x @ weight.T + bias``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, paren, shapes, simple


def _linear(input, weight, bias=None): ...


#: a module holding a [out, in] weight and calling F.linear (LoRA layers, tied heads, custom Linear)
PRELUDE = '''
class Projection(nn.Module):
    def __init__(self, features_in, features_out, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(features_out, features_in) / features_in ** 0.5)
        self.bias = nn.Parameter(torch.randn(features_out) * 0.1) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)
'''


@register
class TorchFunctionalLinear(Rule):
    code = "T048"
    name = "TorchFunctionalLinear"
    summary = "F.linear(x, weight, bias) -> x @ weight.T + bias (weight in PyTorch's [out, in] layout)"
    torch_functions = ("torch.nn.functional.linear",)
    call_signature = signature_of(_linear)
    doc = RuleDoc(
        what="`F.linear(x, weight)`, `F.linear(x, weight, bias)`: a user-held `[out, in]` weight (custom Linear, LoRA, tied heads).",
        why=(
            "A Flax `nn.Dense` owns its kernel, stored `[in, out]`; a weight the model holds itself keeps\n"
            "PyTorch's `[out, in]` layout (it ports unchanged), so the call contracts x's last axis with\n"
            "the weight's last axis: `x @ weight.T`. A 1-D weight `[in]` gives one output per row in\n"
            "both (`.T` of a vector is the vector). x is in PyTorch's layout (features last). A bias held\n"
            "in an attribute may be None, as in PyTorch: it is added only when it is not."
        ),
        example=Example(torch="y = F.linear(x, self.weight, self.bias)", flax="y = x @ self.weight.T + (self.bias if self.bias is not None else 0)"),
        fidelity="Equal within float32 matmul rounding (JAX's CPU dot accumulates in another order).",
    )

    def emit_call(self, ctx):
        product = f"{paren(code(ctx, 'input'))} @ {paren(code(ctx, 'weight'))}.T"
        if ctx.is_default("bias"):
            return emit(product)
        bias = code(ctx, "bias")
        if bias == "None":
            return emit(product)
        if simple(bias):  # a held bias may be None (`self.bias = ... if bias else None`): PyTorch then adds nothing
            return emit(f"{product} + ({bias} if {bias} is not None else 0)")
        return emit(f"{product} + {paren(bias)}")

    def cases(self):
        @st.composite
        def linear_case(draw):
            lead = shapes(draw, 0, 2)
            features_in, features_out = draw(st.integers(1, 6)), draw(st.integers(1, 5))
            shape = (*lead, features_in)
            if draw(st.booleans()):
                return RuleCase(f"Projection({features_in}, {features_out}, bias={draw(st.booleans())})", "self.layer(x)", shape,
                                prelude=PRELUDE)
            init = f"nn.Parameter(torch.randn({features_out}, {features_in}))"
            forward = draw(st.sampled_from([
                "F.linear(x, self.layer)", "F.linear(x, self.layer, self.layer[:, 0])", "F.linear(x, self.layer, bias=None)",
                "F.linear(x * 2, weight=self.layer, bias=self.layer.sum(1))", "F.linear(torch.tanh(x), self.layer[0])",
            ]))
            return RuleCase(init, forward, shape)

        return linear_case()
