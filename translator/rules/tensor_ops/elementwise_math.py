"""T004 TorchUnaryMath: ``torch.exp(x)``, ``x.sqrt()``, ``x.abs()``... -> ``jnp`` ufuncs (layout kept)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import bind, code, emit, op_name, shapes, unsupported


def _unary(input, *, decimals=0, out=None): ...


#: torch name -> the JAX expression, ``{x}`` being the operand
UNARY = {
    "exp": "jnp.exp({x})",
    "expm1": "jnp.expm1({x})",
    "log": "jnp.log({x})",
    "log1p": "jnp.log1p({x})",
    "log2": "jnp.log2({x})",
    "log10": "jnp.log10({x})",
    "sqrt": "jnp.sqrt({x})",
    "rsqrt": "jax.lax.rsqrt({x})",
    "square": "jnp.square({x})",
    "neg": "jnp.negative({x})",
    "negative": "jnp.negative({x})",
    "sin": "jnp.sin({x})",
    "cos": "jnp.cos({x})",
    "tan": "jnp.tan({x})",
    "floor": "jnp.floor({x})",
    "ceil": "jnp.ceil({x})",
    "trunc": "jnp.trunc({x})",
    "round": "jnp.round({x})",
    "sign": "jnp.sign({x})",
    "reciprocal": "jnp.reciprocal({x})",
    "erf": "jax.lax.erf({x})",
}
#: PyTorch's gradient of |x| at 0 is sgn(0) = 0; jnp.abs's is 1: select on PyTorch's comparison
ABS = "jnp.where({x} == 0, 0, jnp.abs({x}))"
#: ops that need a positive operand in the generated cases
POSITIVE = {"log", "log1p", "log2", "log10", "sqrt", "rsqrt", "reciprocal"}


@register
class TorchUnaryMath(Rule):
    code = "T004"
    name = "TorchUnaryMath"
    summary = "torch.exp / x.sqrt() / x.abs() / torch.erf ... -> jnp ufuncs (elementwise: layout kept)"
    torch_functions = tuple(f"torch.{n}" for n in (*UNARY, "abs", "absolute")) + ("torch.special.erf",)
    tensor_methods = (*UNARY, "abs", "absolute")
    call_signature = signature_of(_unary)
    doc = RuleDoc(
        what=(
            "Elementwise math in function or method form: exp, expm1, log, log1p, log2, log10, sqrt,\n"
            "rsqrt, square, neg, sin, cos, tan, floor, ceil, trunc, round (decimals), sign, reciprocal,\n"
            "erf, abs. `math.*` on Python numbers is left as it is."
        ),
        why=(
            "JAX has no tensor methods for most of these and no `out=`: every op returns a new array.\n"
            "Being elementwise they work on channels-last values unchanged, so no transpose is\n"
            "inserted. One kink differs: the gradient of `jnp.abs` at exactly 0 is 1, PyTorch's is\n"
            "sgn(0) = 0, and exact zeros are common (ReLU outputs, padding); `abs` becomes a\n"
            "`jnp.where` on x == 0. `round` rounds half to even in both."
        ),
        example=Example(torch="y = x.abs().sqrt() + torch.exp(x)", flax="y = jnp.sqrt(jnp.where(x == 0, 0, jnp.abs(x))) + jnp.exp(x)"),
        fidelity="Same ufuncs: outputs within 1 ulp; gradients identical, including abs at 0.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        x = code(ctx, "input", plain=False)
        fact = ctx.fact("input")
        if op in ("abs", "absolute"):
            return emit(bind(x, lambda v: ABS.format(x=v)), fact)
        text = UNARY[op].format(x=x)
        if op == "round" and not ctx.is_default("decimals"):
            decimals = literal_or_none(ctx, "decimals")
            text = f"jnp.round({x}, {decimals!r})" if isinstance(decimals, int) else text
            if not isinstance(decimals, int):
                return unsupported(ctx, "`decimals` must be a constant integer")
        return emit(text, fact)

    def cases(self):
        names = sorted({*UNARY, "abs", "absolute"})

        @st.composite
        def unary_case(draw):
            op = draw(st.sampled_from(names))
            form = draw(st.sampled_from(["function", "method"]))
            # a method on a parenthesised expression is not dispatched by the rewriter yet: `x.exp().log()`
            arg = ("({x} * {x} + 0.5)" if form == "function" else "{x}.exp()") if op in POSITIVE else "{x}"
            extra = ""
            if op == "round" and draw(st.booleans()):
                extra = f"decimals={draw(st.integers(0, 2))}"
            if op == "erf" and form == "function" and draw(st.booleans()):
                forward = f"torch.special.erf({arg})"
            elif form == "function":
                forward = f"torch.{op}({arg}{', ' + extra if extra else ''})"
            else:
                forward = f"{arg}.{op}({extra})"
            if draw(st.booleans()):  # layout: an elementwise op on a conv output keeps it channels-last
                return RuleCase("nn.Conv2d(2, 3, 1)", forward.format(x="self.layer(x)"), (2, 2, 3, 3))
            return RuleCase(None, forward.format(x="x"), shapes(draw))

        return unary_case()
