"""T015 TorchSqueeze: ``x.squeeze(d)`` (a no-op on a non-1 axis, as in PyTorch), ``x.unsqueeze(d)`` -> ``jnp``."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    bind,
    code,
    dim_code,
    emit,
    op_name,
    shapes,
    unsupported,
)


def _squeeze(input, dim=None): ...


@register
class TorchSqueeze(Rule):
    code = "T015"
    name = "TorchSqueeze"
    summary = "x.squeeze(d) / x.unsqueeze(d) / torch.squeeze -> jnp.squeeze (only size-1 axes) / jnp.expand_dims"
    torch_functions = ("torch.squeeze", "torch.unsqueeze")
    tensor_methods = ("squeeze", "unsqueeze")
    call_signature = signature_of(_squeeze)
    doc = RuleDoc(
        what="`x.squeeze()`, `x.squeeze(d)`, `x.squeeze((d1, d2))`, `x.unsqueeze(d)`, and the torch functions.",
        why=(
            "PyTorch's `squeeze(d)` silently does nothing when axis d is not of size 1; `jnp.squeeze`\n"
            "raises. Shapes are static under `jit`, so the translation keeps PyTorch's meaning with a\n"
            "trace-time test: only the named axes of size 1 are squeezed. `unsqueeze(d)` is\n"
            "`jnp.expand_dims(x, d)` (negative d counts from the end of the result in both)."
        ),
        example=Example(
            torch="y = x.squeeze(1)",
            flax="y = jnp.squeeze(x, axis=tuple(a for a in (1,) if x.shape[a] == 1))",
        ),
        fidelity="Exact: shapes only.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        x = code(ctx, "input")
        dim = dim_code(ctx, "dim")
        if op == "unsqueeze":
            if dim is None:
                return unsupported(ctx, "`unsqueeze` needs a dim")
            return emit(f"jnp.expand_dims({x}, {dim})")
        if dim is None:
            return emit(f"jnp.squeeze({x})")
        value = literal_or_none(ctx, "dim")
        folded = squeezed_reshape(ctx.plain("input"), value) if reshaped_in_source(ctx) else None
        if folded is not None:
            ctx.note("the axis is 1 by the reshape just before: the squeeze is folded into it")
            return emit(folded)
        dims = f"({dim},)" if isinstance(value, int) or not isinstance(value, (tuple, list)) else dim
        if isinstance(value, int) or isinstance(value, (tuple, list)):
            return emit(bind(x, lambda v: f"jnp.squeeze({v}, axis=tuple(a for a in {dims} if {v}.shape[a] == 1))"))
        return emit(bind(x, lambda v: f"jnp.squeeze({v}, axis=tuple(a for a in (({dim},) if isinstance({dim}, int) else {dim}) if {v}.shape[a] == 1))"))

    def cases(self):
        @st.composite
        def squeeze_case(draw):
            if draw(st.integers(0, 5)) == 0:  # after a reshape that makes the axis 1 (folded), or not (kept)
                sizes = draw(st.sampled_from([("-1", "1"), ("1", "-1"), ("2", "1", "-1"), ("-1", "3", "1"), ("-1", "6")]))
                # (1, -1) names one axis twice at rank 2, which PyTorch refuses: only drawn at rank 3
                dim = draw(st.sampled_from([-1, 0, 1, (0, 1)] + ([(1, -1)] if len(sizes) == 3 else [])))
                return RuleCase(None, f"x.view({', '.join(sizes)}).squeeze({dim!r})", (2, 3))
            shape = shapes(draw, min_size=1, max_size=2)
            rank = len(shape)
            d = draw(st.integers(-rank, rank - 1))
            u = draw(st.integers(-rank - 1, rank))
            several = tuple(draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True)))
            forms = [f"x.squeeze({d})", f"torch.squeeze(x, {d})", "x.squeeze()", f"x.squeeze(dim={several!r})",
                     f"x.unsqueeze({u})", f"torch.unsqueeze(x, dim={u})", f"x.unsqueeze({u}).squeeze({u})"]
            if draw(st.booleans()):  # layout: squeezing/unsqueezing a conv output
                return RuleCase("nn.Conv2d(2, 1, 1)", draw(st.sampled_from(["self.layer(x).squeeze(1)", "self.layer(x).unsqueeze(2)",
                                                                          "self.layer(x).squeeze(-1)"])), (2, 2, 3, 1))
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return squeeze_case()


def reshaped_in_source(ctx) -> bool:
    """The squeezed value is a tensor's ``view``/``reshape`` in the user's code (not a method of ``self`` that
    happens to be called ``reshape``): only then is the translated input's ``.reshape`` that tensor's."""
    node = getattr(ctx, "node", None)
    if not isinstance(node, cst.Call):
        return False
    if isinstance(ctx.target, str):  # x.squeeze(d): the receiver
        receiver = node.func.value if isinstance(node.func, cst.Attribute) else None
    else:  # torch.squeeze(x, d): the first argument
        receiver = node.args[0].value if node.args and node.args[0].keyword is None else None
    return m.matches(receiver, m.Call(func=m.Attribute(value=~m.Name("self"), attr=m.Name("view") | m.Name("reshape"))))


def squeezed_reshape(value: cst.BaseExpression, dims) -> str | None:
    """``x.reshape(a, 1, b)`` squeezed at 1 as ``x.reshape(a, b)``: the source, when every squeezed axis is a
    literal 1 of a reshape with one size per argument (as ``view(-1, 1).squeeze(1)`` is translated); else None."""
    if isinstance(dims, int):
        dims = (dims,)
    if not isinstance(dims, (tuple, list)) or not all(isinstance(d, int) for d in dims):
        return None
    if not m.matches(value, m.Call(func=m.Attribute(attr=m.Name("reshape")), args=[m.AtLeastN(n=1)])):
        return None
    args = value.args
    if any(a.star or a.keyword is not None for a in args):
        return None
    rank = len(args)
    axes = {d % rank for d in dims if -rank <= d < rank}
    if len(axes) != len(dims) or not all(m.matches(args[a].value, m.Integer("1")) for a in axes):
        return None
    kept = [a.value for i, a in enumerate(args) if i not in axes]
    sizes = ", ".join(code_of(k) for k in kept) if kept else "()"
    return f"{code_of(value.func)}({sizes})"
