"""T046 TorchCumprod: ``torch.cumprod(x, dim)`` / ``x.cumprod(dim)`` -> ``jnp.cumprod(x, axis=dim)``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import PLAIN, Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import axes_for, code, emit, shapes, unsupported


def _cumprod(input, dim, *, dtype=None, out=None): ...


@register
class TorchCumprod(Rule):
    code = "T046"
    name = "TorchCumprod"
    summary = "torch.cumprod(x, dim, dtype=) / x.cumprod(dim) -> jnp.cumprod(x, axis=dim) (channels-last kept)"
    torch_functions = ("torch.cumprod",)
    tensor_methods = ("cumprod",)
    call_signature = signature_of(_cumprod)
    doc = RuleDoc(
        what="`torch.cumprod(x, dim)`, `x.cumprod(dim=1)`, with `dtype=`.",
        why=(
            "NumPy spells `dim` as `axis`, and PyTorch's `dim` is required (NumPy's default flattens).\n"
            "A scan keeps every axis, so a channels-last operand is scanned in place along the\n"
            "remapped axis. Both frameworks differentiate the products exactly, zeros included (no\n"
            "division by the input)."
        ),
        example=Example(torch="p = torch.cumprod(1 - alpha, dim=-1)", flax="p = jnp.cumprod(1 - alpha, axis=-1)"),
        fidelity="Same products in the same order: outputs and gradients within float32 rounding.",
    )

    def emit_call(self, ctx):
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        dim = literal_or_none(ctx, "dim")
        if isinstance(dim, int):
            fact = ctx.fact("input")
            if fact.channels_last and fact.rank and -fact.rank <= dim < fact.rank:
                x, axis, fact = axes_for(ctx, dim, True)
            else:
                x, axis, fact = code(ctx, "input"), repr(dim), PLAIN
        elif dim is NotLiteral:
            x, axis, fact = code(ctx, "input"), code_of(ctx.expr("dim")), PLAIN
        else:
            return unsupported(ctx, f"`dim={dim!r}`: cumprod takes one dim")
        dtype = "" if ctx.is_default("dtype") else f", dtype={code_of(ctx.expr('dtype'))}"
        return emit(f"jnp.cumprod({x}, axis={axis}{dtype})", fact)

    def cases(self):
        @st.composite
        def cumprod_case(draw):
            shape = shapes(draw)
            rank = len(shape)
            dim = draw(st.integers(-rank, rank - 1))
            forms = [f"torch.cumprod(x, {dim})", f"x.cumprod(dim={dim})", f"torch.cumprod(x, dim={dim}, dtype=torch.float32)",
                     "torch.cumprod(1 - torch.sigmoid(x), -1)"]
            if draw(st.booleans()):  # layout: a scan over channels or a spatial axis of a conv output
                d = draw(st.sampled_from([1, 2, -1]))
                return RuleCase("nn.Conv2d(2, 3, 1)", f"self.layer(x).cumprod({d})", (1, 2, 3, 3))
            return RuleCase(None, draw(st.sampled_from(forms)), shape, input_range=(-1.5, 1.5))

        return cumprod_case()
