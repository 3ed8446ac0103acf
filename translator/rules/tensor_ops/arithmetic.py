"""T005 TorchArithmetic: ``torch.add(x, y, alpha=a)``, ``x.div(y, rounding_mode=...)``, pow, maximum/minimum."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.base import PLAIN, Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    code,
    emit,
    op_name,
    paren,
    shapes,
    shared_fact,
    unsupported,
)


def _binary(input, other=None, *, alpha=1, rounding_mode=None, exponent=None, out=None): ...


FUNCTIONS = {
    "add": "jnp.add",
    "sub": "jnp.subtract",
    "subtract": "jnp.subtract",
    "mul": "jnp.multiply",
    "multiply": "jnp.multiply",
    "div": "jnp.divide",
    "divide": "jnp.divide",
    "true_divide": "jnp.divide",
    "pow": "jnp.power",
    "maximum": "jnp.maximum",
    "minimum": "jnp.minimum",
    "fmod": "jnp.fmod",
    "remainder": "jnp.remainder",
}


TRUNC_DIVIDE = "torch_trunc_divide"
TRUNC_DIVIDE_SOURCE = '''
def torch_trunc_divide(x, y):
    """torch.div(x, y, rounding_mode='trunc') (T005): integers stay integers, as in PyTorch (jnp.trunc of a
    true division would return floats, and lose exactness above 2**24)."""
    dtype = jnp.result_type(x, y)
    if jnp.issubdtype(dtype, jnp.integer):
        return jax.lax.div(jnp.asarray(x, dtype), jnp.asarray(y, dtype))  # C division: rounds toward zero
    return jnp.trunc(jnp.divide(x, y))
'''


@register
class TorchArithmetic(Rule):
    code = "T005"
    name = "TorchArithmetic"
    summary = "torch.add/sub/mul/div/pow/maximum/minimum and methods -> jnp (alpha, rounding_mode kept)"
    torch_functions = tuple(f"torch.{n}" for n in FUNCTIONS)
    tensor_methods = tuple(FUNCTIONS)
    call_signature = signature_of(_binary)
    doc = RuleDoc(
        what=(
            "Binary elementwise arithmetic in function or method form: add/sub with `alpha=`,\n"
            "mul, div (also `rounding_mode='trunc'|'floor'`), true_divide, pow, maximum, minimum,\n"
            "fmod, remainder. The operators `+ - * / **` are handled by the rewriter directly."
        ),
        why=(
            "JAX arrays have no arithmetic methods and no in-place forms (`add_`): each op returns a new\n"
            "array. `alpha` is folded in (x + alpha * y). `div(rounding_mode='floor')` is\n"
            "`jnp.floor_divide` (Python's `//`); `'trunc'` is the support function `torch_trunc_divide`:\n"
            "`jax.lax.div` on integers (integers stay integers, as in PyTorch: an index stays an index),\n"
            "`jnp.trunc(x / y)` on floats; both have zero gradient in both frameworks. Integer /\n"
            "integer is true division in both. Broadcasting\n"
            "follows NumPy in both, so the layout is kept only when both operands share it."
        ),
        example=Example(torch="y = torch.add(x, r, alpha=0.5)", flax="y = jnp.add(x, 0.5 * r)"),
        fidelity="Same arithmetic; maximum/minimum split the gradient 0.5/0.5 at ties in both (PITFALLS 4).",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        other_name = "exponent" if op == "pow" and not ctx.is_default("exponent") else "other"
        if ctx.is_default(other_name):
            return unsupported(ctx, f"`{op}` needs a second operand")
        fact = shared_fact(ctx, ("input", other_name))
        keep = fact is not None
        x, y = code(ctx, "input", plain=not keep), code(ctx, other_name, plain=not keep)
        alpha = literal_or_none(ctx, "alpha")
        if alpha != 1:
            if op not in ("add", "sub", "subtract"):
                return unsupported(ctx, f"`alpha=` is not an argument of `{op}`")
            scale = repr(alpha) if alpha is not NotLiteral else paren(code(ctx, "alpha", plain=False))
            y = f"{scale} * {paren(y)}"
        mode = literal_or_none(ctx, "rounding_mode")
        if mode is not None:
            if op not in ("div", "divide") or mode not in ("trunc", "floor"):
                return unsupported(ctx, f"`rounding_mode={mode!r}` is not translated for `{op}`")
            if mode == "trunc":  # integers stay integers (C division), as in PyTorch; floats truncate
                ctx.support(TRUNC_DIVIDE, TRUNC_DIVIDE_SOURCE)
                return emit(f"{TRUNC_DIVIDE}({x}, {y})", fact or PLAIN)
            return emit(f"jnp.floor_divide({x}, {y})", fact or PLAIN)
        return emit(f"{FUNCTIONS[op]}({x}, {y})", fact or PLAIN)

    def cases(self):
        @st.composite
        def binary_case(draw):
            op = draw(st.sampled_from(sorted(FUNCTIONS)))
            base, other = "{x}", draw(st.sampled_from(["{x} * 0.5 + 1.0", "{x} * {x}", "1.5", "{x}[..., :1]"]))
            if op in ("maximum", "minimum") and other == "1.5":
                other = "{x}.round()"  # torch.maximum takes tensors only; rounded values tie with x often
            extra = ""
            if op in ("add", "sub", "subtract") and draw(st.booleans()):
                extra = f", alpha={draw(st.sampled_from([2, 0.5, -1]))}"
            if op in ("div", "divide", "true_divide", "fmod", "remainder"):
                other = draw(st.sampled_from(["({x} * {x} + 0.5)", "2.5", "({x}[..., :1] * {x}[..., :1] + 0.5)"]))
                if op in ("div", "divide") and draw(st.booleans()):
                    extra = f", rounding_mode={draw(st.sampled_from(['trunc', 'floor']))!r}"
            if op == "pow":
                base, other = draw(st.sampled_from([("{x}", "2"), ("{x}", "3"), ("({x} * {x} + 0.5)", "{x}"), ("({x} * {x} + 0.5)", "0.5")]))
            if draw(st.booleans()):
                forward = f"torch.{op}({base}, {other}{extra})"
            else:  # a method on a parenthesised expression is not dispatched by the rewriter yet
                forward = f"{base.replace('({x} * {x} + 0.5)', '{x}.exp()')}.{op}({other}{extra})"
            if draw(st.booleans()):  # layout: two conv outputs, or one and a scalar, stay channels-last
                return RuleCase("nn.Conv2d(2, 2, 1)", forward.format(x="self.layer(x)"), (1, 2, 3, 3))
            return RuleCase(None, forward.format(x="x"), shapes(draw))

        return binary_case()
