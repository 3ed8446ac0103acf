"""E001 TorchEinopsRearrange: ``einops.rearrange`` / ``Rearrange`` layer -> ``einops.rearrange`` on the jax array."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import call
from translator.rules.base import (
    CallSpec,
    Example,
    LayerBuild,
    Rule,
    RuleCase,
    RuleDoc,
    signature_of,
)
from translator.rules.einops._cases import grouped, layer_spelling, left_sides, spelling
from translator.rules.einops._pattern import (
    axes_lengths,
    channels_last_pattern,
    einops_call,
    layout_input,
    literal_axes_lengths,
    pattern_literal,
    sizes_expr,
    sizes_keywords,
    string,
)
from translator.rules.registry import register


def _rearrange(tensor, pattern, **axes_lengths): ...


def emit_einops(ctx, function: str, tensor: str, pattern: str | None, pattern_expr, extra: list, sizes: list):
    """``einops.<function>(x, pattern, *extra, **sizes)``, the pattern rewritten for a channels-last ``x``."""
    x, rewritten = layout_input(ctx, tensor, pattern, channels_last_pattern)
    pattern_arg = string(rewritten) if rewritten != pattern else pattern_expr
    return einops_call(f"einops.{function}", [x, pattern_arg, *extra, *sizes])


@register
class TorchEinopsRearrange(Rule):
    code = "E001"
    name = "TorchEinopsRearrange"
    summary = "einops.rearrange / einops.layers.torch.Rearrange -> einops.rearrange on the jax array (pattern read channels-last)"
    torch_functions = ("einops.rearrange",)
    torch_classes = ("einops.layers.torch.Rearrange",)
    call_signature = signature_of(_rearrange)
    doc = RuleDoc(
        what=(
            "`einops.rearrange(x, pattern, **lengths)` in any import spelling, and the layer\n"
            "`einops.layers.torch.Rearrange(pattern, **lengths)` (alone or in nn.Sequential)."
        ),
        why=(
            "einops dispatches on the array type, so the same call runs on a jax array. The layer becomes\n"
            "that call at its call site (no setup line, nothing in the parameter tree), which is what one\n"
            "writes by hand in JAX and lets the pattern see the input's layout; with axis lengths that are\n"
            "not constants it becomes `einops.layers.flax.Rearrange(pattern, sizes={...})` in setup.\n"
            "A convolution's output is channels-last (NHWC) here, so 'b c h w -> b (h w) c' would read\n"
            "the wrong axes: the left side is rewritten to name the axes in NHWC order ('b h w c -> ...'),\n"
            "which also saves the transpose. Where that cannot be proved (the channel axis inside `...`,\n"
            "a pattern that is not a constant) the input is transposed back to PyTorch's layout first."
        ),
        example=Example(
            torch="self.conv = nn.Conv2d(3, 8, 3)\nx = self.conv(x)\nx = rearrange(x, 'b c h w -> b (h w) c')",
            flax=(
                'self.conv = nn.Conv(8, kernel_size=(3, 3), padding="VALID", conv_general_dilated=conv_for_cpu)\n'
                "x = self.conv(jnp.transpose(x, (0, 2, 3, 1)))  # NHWC\n"
                "x = einops.rearrange(x, 'b h w c -> b (h w) c')"
            ),
        ),
        fidelity="Exact: values move without arithmetic; the output has PyTorch's layout (measured 0 over 20 drawn cases).",
    )

    def emit_call(self, ctx):
        return emit_einops(ctx, "rearrange", "tensor", pattern_literal(ctx, "pattern"), ctx.expr("pattern"), [], axes_lengths(ctx))

    def build_layer(self, ctx):
        pattern, sizes = pattern_literal(ctx, "pattern"), literal_axes_lengths(ctx)
        if pattern is None or sizes is None:
            flax = call("einops_flax.Rearrange", [ctx.expr("pattern")], {"sizes": sizes_expr(ctx)})
            return LayerBuild(flax, CallSpec(accepts="plain", produces="plain"),
                              notes=("Rearrange with lengths that are not constants -> einops_flax.Rearrange (from einops.layers import flax as einops_flax)",))
        return LayerBuild(
            None,
            CallSpec(accepts="any", produces="plain"),
            inline=lambda call_ctx: emit_einops(call_ctx, "rearrange", "input", pattern, string(pattern), [], sizes_keywords(sizes)),
        )

    def cases(self):
        @st.composite
        def rearrange_case(draw):
            left = draw(left_sides())
            pattern = f"{' '.join(left.left)} -> {draw(grouped(left.axes))}"
            form = draw(st.sampled_from(["function", "layer", "layer-module"]))
            if form == "function":
                prelude, function = spelling(draw, "rearrange")
                forward = f"{function}({left.input()}, {pattern!r}{left.keywords()})"
                return RuleCase(None, forward, left.shape, prelude=prelude)
            prelude, layer = layer_spelling(draw, "Rearrange")
            keywords = left.keywords()
            if form == "layer-module":  # lengths that are not constants: the flax layer in setup
                prelude += "\nK = " + str(left.lengths.get("k", 1))
                keywords = ", k=K" if left.lengths else ""
            return RuleCase(f"{layer}({pattern!r}{keywords})", f"self.layer({left.input()})", left.shape, prelude=prelude)

        return rearrange_case()
