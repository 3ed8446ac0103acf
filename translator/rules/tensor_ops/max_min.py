"""T009 TorchMaxMin: ``torch.max(x, dim)`` -> (values, indices); ``max(x)``, ``max(x, y)``, argmax/argmin."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import PLAIN, Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    axes_for,
    bind,
    code,
    emit,
    op_name,
    shapes,
    unsupported,
)


def _max(input, dim=None, keepdim=False, *, other=None, out=None): ...


ARG = {"max": "jnp.argmax", "min": "jnp.argmin"}


@register
class TorchMaxMin(Rule):
    code = "T009"
    name = "TorchMaxMin"
    summary = "torch.max/min (all, with dim -> (values, indices), or elementwise), argmax/argmin, .values/.indices"
    torch_functions = ("torch.max", "torch.min", "torch.argmax", "torch.argmin")
    tensor_methods = ("max", "min", "argmax", "argmin", "values", "indices")
    call_signature = signature_of(_max)
    doc = RuleDoc(
        what=(
            "`torch.max(x)` (a scalar), `torch.max(x, dim, keepdim)` (a (values, indices) pair, also read as\n"
            "`.values`/`.indices` or `[0]`/`[1]`), `torch.max(x, y)` (elementwise), the same for min, and\n"
            "argmax/argmin with or without dim."
        ),
        why=(
            "One PyTorch name, three operations; JAX spells them `jnp.max`, argmax + take_along_axis, and\n"
            "`jnp.maximum`. The pair becomes a plain tuple (JAX has no named tuple here). Gradients at\n"
            "ties differ by construction: `max(x, dim)` sends the whole gradient to the index it returns\n"
            "(the first maximum), while `jnp.max(x, axis)` splits it among tied maxima; the values are\n"
            "therefore gathered at the argmax. The full `max(x)` splits evenly in both."
        ),
        example=Example(
            torch="v, i = torch.max(x, dim=1)",
            flax="v, i = (jnp.take_along_axis(x, jnp.argmax(x, axis=1, keepdims=True), axis=1).squeeze(1), jnp.argmax(x, axis=1))",
        ),
        fidelity="Exact values and first-index ties; indices are int32 in JAX (int64 in PyTorch) unless x64 is on.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if op in ("values", "indices"):
            return self.field(ctx, op)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into existing tensors; JAX arrays are immutable: assign the result")
        if not ctx.is_default("other"):
            return emit(f"jnp.{op}imum({code(ctx, 'input')}, {code(ctx, 'other')})")
        dim = literal_or_none(ctx, "dim")
        keepdim = literal_or_none(ctx, "keepdim")
        if keepdim is NotLiteral:
            return unsupported(ctx, "`keepdim` must be a constant: it decides the result's shape")
        if dim is NotLiteral:
            second = code_of(ctx.expr("dim"))
            if op.startswith("arg"):
                keep = ", keepdims=True" if keepdim else ""
                return emit(f"jnp.{op}({code(ctx, 'input')}, axis={second}{keep})")
            if ctx.fact("dim").scalar or second.startswith("self."):
                return unsupported(ctx, f"cannot tell whether `{second}` is a dim or a tensor: write `dim={second}` or `torch.{op}imum`")
            ctx.note(f"`torch.{op}(x, y)` with a tensor `y` is elementwise: `jnp.{op}imum`")
            return emit(f"jnp.{op}imum({code(ctx, 'input')}, {code(ctx, 'dim')})")
        if not (dim is None or isinstance(dim, int)):
            return unsupported(ctx, f"`dim={dim!r}`: max/min/argmax take one dim (use amax/amin for several)")
        if op.startswith("arg"):
            x, axis, fact = axes_for(ctx, dim, keepdim, order_free=False)
            keep = ", keepdims=True" if keepdim else ""
            return emit(f"jnp.{op}({x}{', axis=' + axis if axis is not None else ''}{keep})", fact)
        if dim is None:
            x, _, fact = axes_for(ctx, None, False)
            return emit(f"jnp.{op}({x})", fact)
        x, axis, fact = axes_for(ctx, dim, keepdim)
        if fact.channels_last:  # a pair has no single layout: both go back to PyTorch's
            x, axis = code(ctx, "input"), repr(dim)
        arg = ARG[op]
        if keepdim:
            text = bind(x, lambda v: f"(jnp.take_along_axis({v}, {arg}({v}, axis={axis}, keepdims=True), axis={axis}), {arg}({v}, axis={axis}, keepdims=True))")
        else:
            text = bind(x, lambda v: f"(jnp.take_along_axis({v}, {arg}({v}, axis={axis}, keepdims=True), axis={axis}).squeeze({axis}), {arg}({v}, axis={axis}))")
        return emit(text, PLAIN)

    def field(self, ctx, op):
        """``pair.values`` -> ``pair[0]``; a call ``d.values()`` (a dict) is left as it is."""
        receiver = code(ctx, "input", plain=False)
        if isinstance(getattr(ctx, "node", None), cst.Call):
            return emit(f"{receiver}.{op}()")
        return emit(f"{receiver}[{0 if op == 'values' else 1}]")

    def cases(self):
        @st.composite
        def max_case(draw):
            op = draw(st.sampled_from(["max", "min"]))
            shape = shapes(draw)
            rank = len(shape)
            dim = draw(st.integers(-rank, rank - 1))
            keep = draw(st.sampled_from(["", ", keepdim=True"]))
            x = draw(st.sampled_from(["x", "x.round()"]))  # rounded inputs tie often
            forms = [
                f"torch.{op}({x})",
                f"torch.{op}({x}, dim={dim}{keep})[0] * 2 + torch.{op}({x}, {dim}{keep})[1]",
                f"{x}.{op}({dim}{keep}).values",
                f"({x}.{op}(dim={dim}{keep}).values, {x}.{op}({dim}{keep}).indices)",
                f"torch.{op}({x}, {x} * 0.5)",
                f"torch.{op}({x}, other={x}[..., :1])",
                f"{x}.sum() * 0 + {x}.arg{op}(dim={dim}{keep}).float()",
                f"{x}.sum() * 0 + torch.arg{op}({x}).float()",
            ]
            if draw(st.booleans()):  # layout: max over channels or a spatial axis of a conv output
                d = draw(st.sampled_from([1, 2, -1]))
                forward = draw(st.sampled_from([
                    f"self.layer(x).{op}(dim={d}{keep})[0]",
                    f"self.layer(x).arg{op}({d}{keep}).float() + self.layer(x).{op}()",
                    f"self.layer(x).sum() * 0 + self.layer(x).round().arg{op}().float()",
                ]))
                return RuleCase("nn.Conv2d(2, 3, 1)", forward, (2, 2, 3, 3))
            return RuleCase(None, draw(st.sampled_from(forms)), shape, input_range=(-2.0, 2.0))

        return max_case()
