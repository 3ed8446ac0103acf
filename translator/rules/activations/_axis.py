"""The shared shape of activations along one axis: softmax, log_softmax, softmin, glu.

The axis is PyTorch's ``dim``; on a channels-last value it is remapped to where
that dim lives (NCHW dim=1 -> NHWC axis=-1), so no transpose is needed and the
result stays channels-last.  A non-constant ``dim`` on a channels-last value is
transposed back to PyTorch's layout first.  ``dim=None`` follows PyTorch's
implicit rule (0 for 0-, 1- and 3-D inputs, else 1), which needs the rank.

A module form has no Flax object: its ``setup`` line disappears and each call
becomes the function, so the layout of the value it is applied to is known.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.activations._custom import fresh_name, operand
from translator.rules.base import (
    PLAIN,
    CallSpec,
    Emitted,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    torch_dim_to_channels_last_axis,
)


def implicit_dim(rank: int) -> int:
    """PyTorch's ``_get_softmax_dim``: the dim used when none is given."""
    return 0 if rank in (0, 1, 3) else 1


class AxisActivation(Rule):
    """``flax_function(x, axis=...)``; subclasses set the function and whether the input is negated."""

    flax_function: ClassVar[str]
    negate: ClassVar[bool] = False
    #: whether ``dim=None`` means PyTorch's implicit dim (softmax family) or is invalid
    implicit: ClassVar[bool] = True
    torch_module: ClassVar[str]  # "nn.Softmax", for cases
    function_templates: ClassVar[tuple[str, ...]] = ()  # "F.softmax({x}, {dim})"
    #: the functional forms take ``dtype=`` (softmax, log_softmax, softmin)
    dtype_cases: ClassVar[bool] = True

    def apply(self, ctx, dim, dim_expr: cst.BaseExpression, dtype: str | None = None) -> Emitted:
        """The call on ``ctx``'s input for a dim that is a literal, None, or :data:`NotLiteral`; ``dtype``
        (code) casts the input first, as PyTorch's ``dtype=`` does."""
        fact = ctx.fact("input")
        if dim is None:
            if fact.rank is None:
                ctx.unsupported(
                    f"`{self.name[5:]}` without `dim`: PyTorch picks dim 0 for 0-, 1- and 3-D inputs and 1 "
                    "otherwise, and the rank of this input is not known here; pass `dim=` explicitly"
                )
                return Emitted(ctx.expr("input"), fact)
            dim = implicit_dim(fact.rank)
            ctx.note(f"no `dim`: PyTorch's implicit dim for a {fact.rank}-D input is {dim}")
        if dim is NotLiteral:
            x, axis, out = ctx.plain("input"), code_of(dim_expr), PLAIN
        elif fact.channels_last:
            axis = torch_dim_to_channels_last_axis(dim, fact.rank)
            x, axis, out = ctx.expr("input"), str(-1 if axis == fact.rank - 1 else axis), fact
        else:
            x, axis, out = ctx.expr("input"), str(dim), fact
        if dtype is not None:
            x = cst.parse_expression(f"{operand(x)}.astype({dtype})")
        code = operand(x) if self.negate else code_of(x)
        return Emitted(cst.parse_expression(self.call_code(code, axis)), out)

    def call_code(self, x: str, axis: str) -> str:
        """``x`` is code that binds tighter than unary minus (a name, a call, a parenthesised expression)."""
        return f"{self.flax_function}({'-' if self.negate else ''}{x}, axis={axis})"

    def emit_call(self, ctx):
        dtype = None
        if "dtype" in ctx.signature.parameters and not ctx.is_default("dtype"):
            dtype = code_of(ctx.expr("dtype"))  # PyTorch casts the input to it before the op (HF: softmax in float32)
            ctx.note(f"`dtype=`: the input is cast to {dtype} first, as PyTorch does")
        return self.apply(ctx, literal_or_none(ctx, "dim"), ctx.expr("dim"), dtype)

    def build_layer(self, ctx):
        dim, dim_expr = literal_or_none(ctx, "dim"), ctx.expr("dim")
        if dim is NotLiteral:
            # the expression may name a constructor local: keep it in setup, on PyTorch's layout
            axis = code_of(dim_expr)
            if self.negate:
                name = fresh_name(axis)
                expr = cst.parse_expression(f"lambda {name}: {self.call_code(name, axis)}")
            else:
                expr = cst.parse_expression(f"partial({self.flax_function}, axis={axis})")
            return LayerBuild(expr, CallSpec(accepts="plain", produces="plain"))

        def inline(call_ctx):
            return self.apply(call_ctx, dim, dim_expr)

        return LayerBuild(None, CallSpec(accepts="any", produces="same"), inline=inline)

    # ------------------------------------------------------------------ cases
    def draw_dim(self, draw, rank: int) -> int | None:
        return draw(st.sampled_from([None, *range(-rank, rank)])) if self.implicit else draw(st.integers(-rank, rank - 1))

    def shape_for(self, draw, rank: int, dim: int | None) -> tuple[int, ...]:
        return tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))

    def cases(self):
        @st.composite
        def axis_case(draw):
            kind = draw(st.sampled_from(["module", "function", "channels_last"]))
            if kind == "channels_last":
                # a conv output is channels-last: exercises the dim remapping (and the implicit dim with a rank)
                rank = draw(st.sampled_from([3, 4]))
                dim = self.draw_dim(draw, rank) if self.implicit else draw(st.integers(-rank, rank - 1))
                shape = self.shape_for(draw, rank, dim)
                channels = shape[1]
                conv = f"nn.Conv{rank - 2}d({channels}, {channels}, 1)"
                templates = [t for t in self.function_templates if t.startswith("F.") or dim is not None]
                template = draw(st.sampled_from(templates))
                x = "self.layer(x)"
                return RuleCase(conv, self.fill(template, x, dim), shape)
            rank = draw(st.integers(1, 4))
            dim = draw(st.integers(-rank, rank - 1))  # plain inputs have no known rank: dim is required
            shape = self.shape_for(draw, rank, dim)
            if kind == "module":
                return RuleCase(f"{self.torch_module}(dim={dim})", "self.layer(x)", shape)
            call = self.fill(draw(st.sampled_from(self.function_templates)), "x", dim)
            if self.dtype_cases and draw(st.booleans()):  # `dtype=`: the input cast first (the reference runs in float64)
                call = call[:-1] + ", dtype=x.dtype)"
            return RuleCase(None, call, shape)

        return axis_case()

    @staticmethod
    def fill(template: str, x: str, dim: int | None) -> str:
        """The template's call on ``x``; with ``dim=None`` the dim argument (positional or keyword) is left out."""
        if dim is None:
            return template.replace(", dim={dim}", "").replace(", {dim}", "").replace("{dim}", "").format(x=x)
        return template.format(x=x, dim=dim)

