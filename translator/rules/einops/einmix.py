"""E006 TorchEinopsEinMix: ``einops.layers.torch.EinMix`` -> ``einops.layers.flax.EinMix``; weight and bias port as they are."""

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
    TensorMapping,
)
from translator.rules.einops._cases import layer_spelling
from translator.rules.einops._pattern import sizes_expr
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY

#: (pattern, weight_shape, bias_shape or None, lengths, input shape): token mixing, channel mixing, grouped input
TEMPLATES = (
    ("b t c -> b t d", "c d", "d", {"c": 3, "d": 4}, (2, 5, 3)),
    ("b t c -> b t d", "c d", None, {"c": 2, "d": 3}, (1, 4, 2)),
    ("b t c -> b s c", "t s", "s", {"t": 4, "s": 2}, (2, 4, 3)),
    ("b c h w -> b d h w", "c d", "d", {"c": 2, "d": 3}, (2, 2, 3, 3)),
    ("b (t k) c -> b t d", "k c d", "d", {"k": 2, "c": 3, "d": 2}, (2, 4, 3)),
    ("b t c -> b t (g d)", "t c g d", "g d", {"t": 3, "c": 2, "g": 2, "d": 2}, (1, 3, 2)),
)


@register
class TorchEinopsEinMix(Rule):
    code = "E006"
    name = "TorchEinopsEinMix"
    summary = "einops.layers.torch.EinMix -> einops.layers.flax.EinMix (weight and bias port unchanged)"
    torch_classes = ("einops.layers.torch.EinMix",)
    doc = RuleDoc(
        what="`EinMix(pattern, weight_shape, bias_shape=None, **lengths)` from einops.layers.torch (MLP-Mixer style layers).",
        why=(
            "einops ships the same layer for Flax: `einops.layers.flax.EinMix(pattern, weight_shape,\n"
            "bias_shape, sizes={...})` builds the same einsum, and its `weight`/`bias` parameters have the\n"
            "shapes PyTorch's have (both come from einops' shared mixin), so porting copies them as they are.\n"
            "The pattern is fixed in setup, so the input is given in PyTorch's layout. (einops 0.8's Flax\n"
            "EinMix initialises uniform in [0, bound), PyTorch's in [-bound, bound): only training from\n"
            "scratch differs.)"
        ),
        example=Example(
            torch="self.mix = EinMix('b t c -> b t d', weight_shape='c d', bias_shape='d', c=64, d=128)",
            flax="self.mix = einops_flax.EinMix('b t c -> b t d', weight_shape='c d', bias_shape='d', sizes={'c': 64, 'd': 128})",
        ),
        fidelity=(
            "Equal within float32 tolerance: the same einsum on the same weights (measured over 20 drawn\n"
            "cases: output 1.1e-7, weight gradient 1.5e-7 relative)."
        ),
    )

    def build_layer(self, ctx):
        keywords = {"weight_shape": ctx.expr("weight_shape")}
        if not ctx.is_default("bias_shape"):
            keywords["bias_shape"] = ctx.expr("bias_shape")
        keywords["sizes"] = sizes_expr(ctx)
        return LayerBuild(
            call("einops_flax.EinMix", [ctx.expr("pattern")], keywords),
            CallSpec(accepts="plain", produces="plain"),
            notes=("EinMix -> einops' own Flax EinMix: same einsum, weight and bias of the same shapes",),
        )

    def weight_layout(self, module):
        mappings = [TensorMapping("weight", ("params", "weight"), IDENTITY)]  # [*weight_shape] both sides
        if module.bias is not None:
            mappings.append(TensorMapping("bias", ("params", "bias"), IDENTITY))
        return mappings

    def cases(self):
        @st.composite
        def einmix_case(draw):
            pattern, weight, bias, lengths, shape = draw(st.sampled_from(TEMPLATES))
            prelude, layer = layer_spelling(draw, "EinMix")
            keywords = "".join(f", {k}={v}" for k, v in lengths.items())
            bias_arg = f", bias_shape={bias!r}" if bias is not None else ""
            source = draw(st.sampled_from(["x", f"F.max_pool{len(shape) - 2}d(x, 1)"]))
            return RuleCase(f"{layer}({pattern!r}, weight_shape={weight!r}{bias_arg}{keywords})", f"self.layer({source})",
                            shape, prelude=prelude)

        return einmix_case()
