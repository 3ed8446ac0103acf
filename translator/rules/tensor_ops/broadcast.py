"""T016 TorchExpandRepeat: ``expand``/``expand_as`` -> ``broadcast_to``; ``repeat`` -> ``tile``; ``repeat_interleave`` -> ``repeat``."""

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
    paren,
    shapes,
    unsupported,
)


def _expand(input, *sizes, dim=None, output_size=None): ...


def operand_without_expand_as(operand: cst.BaseExpression, other: cst.BaseExpression) -> tuple[cst.BaseExpression, str | None]:
    """``y`` for ``y.expand_as(x)`` beside ``x`` in an elementwise op (an SE block's ``x * y.expand_as(x)``), and
    the note that says why: expand_as requires ``y`` to broadcast to ``x``'s shape, which the op then does by
    itself (with ``x`` in whichever layout it has). ``(operand, None)`` otherwise."""
    if m.matches(operand, m.Call(func=m.Attribute(attr=m.Name("expand_as")), args=[m.Arg(keyword=None, star="")])) and (
            isinstance(other, cst.Name) and m.matches(operand.args[0].value, m.Name(other.value))):
        return operand.func.value, (f"`.expand_as({other.value})` beside `{other.value}` in an elementwise op is the op's "
                                    "own broadcasting: left to it")
    return operand, None


def size_list(ctx) -> list[str] | None:
    """The sizes as source entries, from varargs or one tuple/list literal; None for one opaque value."""
    elements = [e.value for e in ctx.expr("sizes").elements] if not ctx.is_default("sizes") else []
    if len(elements) == 1 and isinstance(elements[0], (cst.Tuple, cst.List)):
        elements = [e.value for e in elements[0].elements]
    elif len(elements) == 1:
        value = literal_or_none(ctx, "sizes")
        if not (isinstance(value, tuple) and isinstance(value[0], int)):
            return None  # x.shape, a variable: one shape value
    return [code_of(e) for e in elements]


@register
class TorchExpandRepeat(Rule):
    code = "T016"
    name = "TorchExpandRepeat"
    summary = "x.expand / expand_as -> jnp.broadcast_to (-1 keeps a size); repeat -> jnp.tile; repeat_interleave -> jnp.repeat"
    torch_functions = ("torch.repeat_interleave", "torch.broadcast_to")
    tensor_methods = ("expand", "expand_as", "repeat", "repeat_interleave", "broadcast_to")
    call_signature = signature_of(_expand)
    doc = RuleDoc(
        what="`x.expand(n, -1, 4)`, `x.expand_as(y)`, `x.repeat(2, 1)`, `x.repeat_interleave(2, dim=1)`, `torch.broadcast_to`.",
        why=(
            "PyTorch's `expand` is a zero-copy view; `jnp.broadcast_to` is its value (XLA does not\n"
            "materialise it until needed). `-1` means \"keep this size\", which JAX does not know: it\n"
            "becomes `x.shape[i]`, counted from the end since expand may add leading axes. PyTorch's\n"
            "`repeat` tiles whole copies (NumPy's `tile`), while `jnp.repeat` repeats each element\n"
            "(PyTorch's `repeat_interleave`): the names cross over. `repeat_interleave` with a tensor of\n"
            "counts has a data-dependent size; it needs concrete counts (or `total_repeat_length`) under jit."
        ),
        example=Example(torch="y = x.expand(4, -1, -1).repeat(1, 2, 1)", flax="y = jnp.tile(jnp.broadcast_to(x, (4, x.shape[-2], x.shape[-1])), (1, 2, 1))"),
        fidelity="Exact; gradients of broadcast/tile/repeat sum over the copies in both.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        x = code(ctx, "input")
        if op == "expand_as":
            return emit(f"jnp.broadcast_to({x}, {paren(code_of(ctx.expr('sizes').elements[0].value))}.shape)")
        if op == "repeat_interleave":
            elements = ctx.expr("sizes").elements if not ctx.is_default("sizes") else []
            if len(elements) == 0:
                return unsupported(ctx, "`repeat_interleave(x)` of a count tensor has a data-dependent size")
            dim = dim_code(ctx, "dim") if not ctx.is_default("dim") else (code_of(elements[1].value) if len(elements) > 1 else None)
            extra = [] if ctx.is_default("output_size") else [f"total_repeat_length={code_of(ctx.expr('output_size'))}"]
            args = [x, code_of(elements[0].value), *([f"axis={dim}"] if dim is not None else []), *extra]
            return emit(f"jnp.repeat({', '.join(args)})")
        sizes = size_list(ctx)
        if sizes is None:  # one opaque shape (x.shape, a variable)
            shape = code_of(ctx.expr("sizes").elements[0].value)
            if op == "repeat":
                return emit(f"jnp.tile({x}, {shape})")
            return emit(f"jnp.broadcast_to({x}, {shape})")
        if op == "repeat":
            return emit(f"jnp.tile({x}, ({', '.join(sizes)}{',' if len(sizes) == 1 else ''}))")
        n = len(sizes)
        if "-1" not in sizes:
            return emit(f"jnp.broadcast_to({x}, ({', '.join(sizes)}{',' if n == 1 else ''}))")
        return emit(bind(x, lambda v: f"jnp.broadcast_to({v}, ({', '.join(f'{v}.shape[{i - n}]' if s == '-1' else s for i, s in enumerate(sizes))}{',' if n == 1 else ''}))"))

    def cases(self):
        @st.composite
        def expand_case(draw):
            shape = shapes(draw, max_rank=3, max_size=3)
            rank = len(shape)
            lead = draw(st.integers(0, 1))
            target = [draw(st.integers(1, 3))] * lead + [draw(st.sampled_from([-1, 3])) if s == 1 else draw(st.sampled_from([-1, s])) for s in shape]
            reps = [draw(st.integers(1, 2)) for _ in range(rank + draw(st.integers(0, 1)))]
            d = draw(st.integers(-rank, rank - 1))
            forms = [
                f"x.expand({', '.join(map(str, target))})", f"x.expand({tuple(target)!r})", "x.expand_as(x * 2)",
                f"torch.broadcast_to(x, {tuple(s if s != -1 else shape[i - len(target)] for i, s in enumerate(target))!r})",
                f"x.broadcast_to({tuple(target)!r})",
                f"x.repeat({', '.join(map(str, reps))})", f"x.repeat({tuple(reps)!r})", "x.expand(x.shape)",
                f"x.repeat_interleave(2, dim={d})", f"torch.repeat_interleave(x, 3, {d})", "x.repeat_interleave(2)",
            ]
            if draw(st.booleans()):  # layout: tiling a conv output along its channels
                return RuleCase("nn.Conv2d(2, 1, 1)", draw(st.sampled_from(["self.layer(x).expand(-1, 3, -1, -1)", "self.layer(x).repeat(1, 2, 1, 1)",
                                                                          "self.layer(x).repeat_interleave(2, dim=1)"])), (2, 2, 3, 3))
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return expand_case()
