"""T014 TorchPermute: ``x.permute``, ``x.transpose(a, b)``, ``x.t()``, ``x.T``, ``movedim`` -> ``jnp.transpose``/``swapaxes``."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import (
    Example,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    plain_of_rank,
    signature_of,
    to_channels_last_perm,
)
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, op_name, shapes, unsupported


def _permute(input, *dims): ...


@register
class TorchPermute(Rule):
    code = "T014"
    name = "TorchPermute"
    summary = "x.permute / x.transpose(a, b) / x.t() / x.T / movedim / swapaxes -> jnp.transpose / swapaxes"
    torch_functions = ("torch.permute", "torch.transpose", "torch.t", "torch.swapaxes", "torch.swapdims", "torch.movedim")
    tensor_methods = ("permute", "transpose", "t", "T", "mT", "swapaxes", "swapdims", "movedim")
    call_signature = signature_of(_permute)
    doc = RuleDoc(
        what="Axis reorders: `x.permute(0, 2, 1)`, `x.transpose(1, 2)`, `torch.transpose(x, 0, 1)`, `x.t()`, `x.T`, `x.mT`, `x.movedim(a, b)`.",
        why=(
            "`jnp.transpose(x, axes)` is PyTorch's `permute` (a full permutation); PyTorch's\n"
            "`transpose(a, b)` swaps two axes, which is `jnp.swapaxes`, not `jnp.transpose`. JAX has no\n"
            "views: the result is a new array (XLA usually fuses it away). The axes refer to PyTorch's\n"
            "layout, so a channels-last value is first put back (XLA cancels the two transposes);\n"
            "`x.permute(0, 2, 3, 1)` right after a conv is recognised as the layout it already has."
        ),
        example=Example(torch="y = x.transpose(1, 2).permute(0, 2, 1)", flax="y = jnp.transpose(jnp.swapaxes(x, 1, 2), (0, 2, 1))"),
        fidelity="Exact: values move without arithmetic.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        dims = [code_of(e.value) for e in ctx.expr("dims").elements] if not ctx.is_default("dims") else []
        if op == "permute":
            if len(dims) == 1:
                perm = literal_or_none(ctx, "dims")
                perm = perm[0] if isinstance(perm, tuple) and len(perm) == 1 else NotLiteral
                axes = repr(tuple(perm)) if isinstance(perm, (tuple, list)) else dims[0]
            else:
                axes = f"({', '.join(dims)})"
            fact = ctx.fact("input")
            if fact.channels_last and axes == repr(to_channels_last_perm(fact.rank)):
                return emit(code(ctx, "input", plain=False))  # the value is already laid out this way
            return emit(f"jnp.transpose({code(ctx, 'input')}, {axes})")
        fact, swapped = ctx.fact("input"), literal_or_none(ctx, "dims")
        if (op in ("transpose", "swapaxes", "swapdims") and fact.channels_last and fact.rank == 3
                and isinstance(swapped, tuple) and len(swapped) == 2 and all(isinstance(d, int) for d in swapped)
                and {d % 3 for d in swapped} == {1, 2}):
            # (N, C, L) -> (N, L, C) of a channels-last (N, L, C) array is the array itself (a patch embedding's tokens)
            return emit(code(ctx, "input", plain=False), plain_of_rank(3))
        x = code(ctx, "input")
        if op in ("t", "T"):
            return emit(f"{x}.T" if isinstance(cst.parse_expression(x), (cst.Name, cst.Attribute)) else f"jnp.transpose({x})")
        if op == "mT":
            return emit(f"jnp.swapaxes({x}, -2, -1)")
        if len(dims) != 2:
            return unsupported(ctx, f"`{op}` takes two dims")
        if op == "movedim":
            return emit(f"jnp.moveaxis({x}, {dims[0]}, {dims[1]})")
        return emit(f"jnp.swapaxes({x}, {dims[0]}, {dims[1]})")

    def cases(self):
        @st.composite
        def permute_case(draw):
            shape = shapes(draw, min_rank=2)
            rank = len(shape)
            perm = tuple(draw(st.permutations(range(rank))))
            a, b = draw(st.integers(-rank, rank - 1)), draw(st.integers(-rank, rank - 1))
            forms = [
                f"x.permute{perm!r}" if rank > 1 else "x.permute(0)", f"x.permute({perm!r})", f"torch.permute(x, {perm!r})",
                f"x.transpose({a}, {b})", f"torch.transpose(x, {a}, {b})", f"x.swapaxes({a}, {b})", f"x.movedim({a}, {b})",
                f"torch.movedim(x, {a}, {b})", "x.mT", f"torch.swapaxes(x, {a}, {b})", f"torch.swapdims(x, {a}, {b})",
                f"x.swapdims({a}, {b})",
            ]
            if rank == 2:
                forms += ["x.t()", "x.T", "torch.t(x)"]
            if draw(st.booleans()):  # layout: permutes of a conv output (the NHWC one is free)
                forward = draw(st.sampled_from(["self.layer(x).permute(0, 2, 3, 1)", "self.layer(x).transpose(1, 3)",
                                                "self.layer(x).permute(0, 1, 3, 2) * 2", "self.layer(x).movedim(1, -1)"]))
                return RuleCase("nn.Conv2d(2, 3, 1)", forward, (2, 2, 3, 4))
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return permute_case()
