"""E003 TorchEinopsReduce: ``einops.reduce`` / ``Reduce`` layer -> ``einops.reduce`` on the jax array."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import call
from translator.rules.base import (
    CallSpec,
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    signature_of,
)
from translator.rules.einops._cases import grouped, layer_spelling, left_sides, spelling
from translator.rules.einops._pattern import (
    axes_lengths,
    literal_axes_lengths,
    pattern_literal,
    sizes_expr,
    sizes_keywords,
    string,
)
from translator.rules.einops.rearrange import emit_einops
from translator.rules.registry import register

#: every reduction einops names (``einops.einops._reductions``); callables are not translated
REDUCTIONS = ("min", "max", "sum", "mean", "prod", "any", "all")


def _reduce(tensor, pattern, reduction, **axes_lengths): ...


def named_reduction(ctx) -> str | None:
    """The reduction as one of einops' names, or None (reported) for a callable or an expression."""
    try:
        reduction = ctx.literal("reduction")
    except NotLiteral:  # a callable or a variable
        reduction = None
    if reduction not in REDUCTIONS:
        ctx.unsupported(
            f"reduction `{reduction if reduction is not None else '<expression>'}` is not translated: only einops' "
            f"named reductions {', '.join(REDUCTIONS)} (a callable would receive a jax array and PyTorch axes)"
        )
        return None
    return reduction


@register
class TorchEinopsReduce(Rule):
    code = "E003"
    name = "TorchEinopsReduce"
    summary = "einops.reduce / einops.layers.torch.Reduce -> einops.reduce on the jax array (pattern read channels-last)"
    torch_functions = ("einops.reduce",)
    torch_classes = ("einops.layers.torch.Reduce",)
    call_signature = signature_of(_reduce)
    doc = RuleDoc(
        what=(
            "`einops.reduce(x, pattern, reduction, **lengths)` and the layer `Reduce(pattern, reduction)`,\n"
            "with every reduction einops names: min, max, sum, mean, prod, any, all."
        ),
        why=(
            "The same call runs on a jax array. Global average pooling after a convolution,\n"
            "`Reduce('b c h w -> b c', 'mean')`, reads the NHWC output as 'b h w c -> b c': no transpose.\n"
            "The layer becomes the call at its call site (a Flax module would add nothing: it has no\n"
            "parameters); with axis lengths that are not constants it becomes `einops_flax.Reduce` in\n"
            "setup. A callable reduction is reported: it would receive a jax array."
        ),
        example=Example(
            torch="self.conv = nn.Conv2d(3, 8, 3)\nself.pool = Reduce('b c h w -> b c', 'mean')\ny = self.pool(self.conv(x))",
            flax=(
                'self.conv = nn.Conv(8, kernel_size=(3, 3), padding="VALID", conv_general_dilated=conv_for_cpu)\n'
                "y = einops.reduce(self.conv(jnp.transpose(x, (0, 2, 3, 1))), 'b h w c -> b c', 'mean')  # NHWC"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance: sums may accumulate in a different order (measured over 20\n"
            "drawn cases: output 8e-8, input gradient 1.1e-7 relative); max/min split the gradient evenly\n"
            "between ties in both."
        ),
    )

    def emit_call(self, ctx):
        reduction = named_reduction(ctx)
        if reduction is None:
            return None
        return emit_einops(ctx, "reduce", "tensor", pattern_literal(ctx, "pattern"), ctx.expr("pattern"),
                           [ctx.expr("reduction")], axes_lengths(ctx))

    def build_layer(self, ctx):
        reduction = named_reduction(ctx)
        pattern, sizes = pattern_literal(ctx, "pattern"), literal_axes_lengths(ctx)
        if pattern is None or sizes is None:
            flax = call("einops_flax.Reduce", [ctx.expr("pattern"), ctx.expr("reduction")], {"sizes": sizes_expr(ctx)})
            return LayerBuild(flax, CallSpec(accepts="plain", produces="plain"),
                              notes=("Reduce with lengths that are not constants -> einops_flax.Reduce",))
        return LayerBuild(
            None,
            CallSpec(accepts="any", produces="plain"),
            inline=lambda call_ctx: emit_einops(call_ctx, "reduce", "input", pattern, string(pattern),
                                                [string(reduction)], sizes_keywords(sizes)),
        )

    def cases(self):
        @st.composite
        def reduce_case(draw):
            left = draw(left_sides())
            kept = [a for a in left.axes if draw(st.booleans())]
            pattern = f"{' '.join(left.left)} -> {draw(grouped(kept))}"
            reduction = draw(st.sampled_from(("min", "max", "sum", "mean", "prod")))
            if draw(st.booleans()):
                prelude, function = spelling(draw, "reduce")
                forward = f"{function}({left.input()}, {pattern!r}, {reduction!r}{left.keywords()})"
                return RuleCase(None, forward, left.shape, prelude=prelude)
            prelude, layer = layer_spelling(draw, "Reduce")
            return RuleCase(f"{layer}({pattern!r}, {reduction!r}{left.keywords()})", f"self.layer({left.input()})",
                            left.shape, prelude=prelude)

        return reduce_case()
