"""T025 TorchUnflatten: ``nn.Unflatten``, ``x.unflatten``, ``torch.unflatten`` -> ``reshape`` in PyTorch's layout."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import (
    CallSpec,
    Emitted,
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    signature_of,
)
from translator.rules.registry import register
from translator.rules.tensor_ops._common import paren


def _unflatten(input, dim, sizes): ...


def unflatten_expr(ctx, dim, sizes_code: str) -> Emitted:
    """``x`` with axis ``dim`` split into ``sizes`` (one entry may be -1), in PyTorch's layout."""
    if dim is NotLiteral or dim is None:
        ctx.unsupported("`dim` must be a constant")
        return Emitted(ctx.expr("input"))
    plain = ctx.plain("input")
    x = paren(code_of(plain), plain)
    return Emitted(cst.parse_expression(f"{x}.reshape({new_shape(x, dim, sizes_code)})"))


def new_shape(x: str, dim: int, sizes_code: str) -> str:
    """The arguments of ``x.reshape`` that split axis ``dim`` into ``sizes``: the sizes written out where
    they are a literal tuple or list (``x.shape[0], 64, 7, 7, *x.shape[2:]``), else concatenated as a tuple."""
    sizes = cst.parse_expression(sizes_code)
    if not isinstance(sizes, (cst.Tuple, cst.List)) or any(isinstance(e, cst.StarredElement) for e in sizes.elements):
        tail = "" if dim == -1 else f" + {x}.shape[{dim + 1}:]"
        return f"{x}.shape[:{dim}] + tuple({sizes_code}){tail}"
    head = {0: [], 1: [f"{x}.shape[0]"]}.get(dim, [f"*{x}.shape[:{dim}]"])
    tail = [] if dim == -1 else [f"*{x}.shape[{dim + 1}:]"]
    return ", ".join([*head, *(code_of(e.value) for e in sizes.elements), *tail])


@register
class TorchUnflatten(Rule):
    code = "T025"
    name = "TorchUnflatten"
    summary = "nn.Unflatten(dim, sizes) / x.unflatten(dim, sizes) -> reshape of that axis, in PyTorch's layout"
    torch_classes = ("torch.nn.Unflatten",)
    torch_functions = ("torch.unflatten",)
    tensor_methods = ("unflatten",)
    call_signature = signature_of(_unflatten)
    doc = RuleDoc(
        what="Splitting one axis into several: `nn.Unflatten(1, (C, H, W))`, `x.unflatten(-1, (heads, d))`.",
        why=(
            "A reshape in JAX as in PyTorch; the translation applies it to the value in PyTorch's\n"
            "layout (NCHW), so a following convolution gets one transpose to NHWC and the decoder's\n"
            "ported weights see the features in PyTorch's order. Like `nn.Flatten`, the layer has no\n"
            "Flax object: its calls become the reshape."
        ),
        example=Example(
            torch="self.unflatten = nn.Unflatten(1, (64, 7, 7))\nx = self.unflatten(x)",
            flax="x = x.reshape(x.shape[0], 64, 7, 7, *x.shape[2:])",
        ),
        fidelity="Exact: a reshape moves no values.",
    )

    def build_layer(self, ctx):
        dim, sizes = literal_or_none(ctx, "dim"), code_of(ctx.expr("unflattened_size"))
        if literal_or_none(ctx, "unflattened_size") is NotLiteral:
            # sizes computed in __init__ (`(2 * width, f, f)`) exist only in setup: keep them in a closure there
            if dim is NotLiteral or dim is None:
                ctx.unsupported("`dim` must be a constant")
                return None
            function = cst.parse_expression(f"lambda x: x.reshape({new_shape('x', dim, sizes)})")
            return LayerBuild(function, CallSpec(accepts="plain", produces="plain"))

        def inline(call_ctx):
            return unflatten_expr(call_ctx, dim, sizes)

        return LayerBuild(None, CallSpec(accepts="any", produces="plain"), inline=inline)

    def emit_call(self, ctx):
        return unflatten_expr(ctx, literal_or_none(ctx, "dim"), code_of(ctx.plain("sizes")))

    def cases(self):
        @st.composite
        def unflatten_case(draw):
            a, b = draw(st.integers(1, 3)), draw(st.integers(1, 3))
            lead = draw(st.integers(1, 3))
            form = draw(st.sampled_from(["module", "method", "function", "negative"]))
            shape = (lead, a * b)
            if form == "module":
                sizes = draw(st.sampled_from([f"({a}, {b})", f"(x_{a}, {b})"]))  # literal, or computed in __init__
                prelude = f"x_{a} = {a}\n" if "x_" in sizes else ""
                return RuleCase(f"nn.Unflatten(1, {sizes})", "self.layer(x).sum(1)", shape, prelude=prelude)
            if form == "method":
                return RuleCase(None, draw(st.sampled_from([f"x.unflatten(1, ({a}, -1)) * 2.0", f"x.unflatten(0, ({lead}, 1)).sum(1)",
                                                            "x.unsqueeze(1).unflatten(-2, [1, 1]).sum((1, 2))"])), shape)
            if form == "function":
                return RuleCase(None, f"torch.unflatten(x, 1, [{a}, {b}]).mean(-1)", shape)
            return RuleCase(None, f"x.unflatten(-1, ({a}, {b})).sum(-2)", shape)

        return unflatten_case()
