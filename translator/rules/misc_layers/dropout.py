"""L030 TorchDropout: ``nn.Dropout``, ``nn.Dropout1d/2d/3d`` -> ``nn.Dropout(rate, broadcast_dims)``."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none
from translator.rules.base import CallSpec, Example, LayerBuild, Rule, RuleCase, RuleDoc
from translator.rules.misc_layers.identity import identity_layer
from translator.rules.registry import register

CHANNEL_DROPOUT = {torch.nn.Dropout1d: 1, torch.nn.Dropout2d: 2, torch.nn.Dropout3d: 3}


@register
class TorchDropout(Rule):
    code = "L030"
    name = "TorchDropout"
    summary = "nn.Dropout(p) -> nn.Dropout(rate=p)(x, deterministic=not train); channel dropout via broadcast_dims"
    torch_classes = ("torch.nn.Dropout", "torch.nn.Dropout1d", "torch.nn.Dropout2d", "torch.nn.Dropout3d")
    doc = RuleDoc(
        what="`nn.Dropout(p)` and the channel-wise `nn.Dropout1d/2d/3d(p)`.",
        why=(
            "Flax layers have no train/eval state: dropout takes `deterministic=not train`, and needs a\n"
            "random stream: `apply(variables, x, train=True, rngs={'dropout': key})`. Both scale kept\n"
            "values by 1/(1-p). Channel dropout zeroes whole feature maps: on channels-last input that\n"
            "is `broadcast_dims` over the spatial axes. The random masks of the two frameworks never\n"
            "match, so train-mode equivalence is statistical (drop rate and scaling), not elementwise."
        ),
        example=Example(
            torch="self.drop = nn.Dropout(0.5)\nx = self.drop(x)",
            flax="self.drop = nn.Dropout(rate=0.5)\nx = self.drop(x, deterministic=not train)",
        ),
        fidelity=(
            "Exact in eval mode; in train mode same drop rate and scaling (measured 0.301 vs 0.297 at p=0.3).\n"
            "A literal `p=0` drops nothing in either mode: the call becomes its input, as `nn.Identity`'s (L032)."
        ),
    )

    def build_layer(self, ctx):
        if ctx.literal("inplace") if not ctx.is_default("inplace") else False:
            ctx.note("`inplace=True` is dropped: JAX arrays are immutable")
        if not ctx.is_default("p") and literal_or_none(ctx, "p") == 0:
            # what a built model's trace writes for a configured-off dropout (diffusers' blocks): no layer, no flag
            ctx.note("Dropout(p=0) drops nothing in either mode: the call is its input (no setup line, no `train` flag)")
            return identity_layer()
        spatial = CHANNEL_DROPOUT.get(ctx.target)
        keywords = {"rate": ctx.expr("p")}
        if spatial is None:
            spec = CallSpec(accepts="any", produces="same", train_kwarg=("deterministic", True))
        else:
            from libcst import parse_expression

            keywords["broadcast_dims"] = parse_expression(repr(tuple(range(1, spatial + 1))))
            spec = CallSpec(accepts="channels_last", rank=spatial + 2, produces="channels_last", train_kwarg=("deterministic", True))
        return LayerBuild(
            call("nn.Dropout", [], keywords),
            spec,
            notes=("Dropout: `deterministic=not train`; training needs rngs={'dropout': key} in apply()",),
        )

    def cases(self):
        @st.composite
        def dropout_case(draw):
            p = draw(st.sampled_from([0.0, 0.1, 0.5]))
            kind = draw(st.sampled_from(["", "1d", "2d", "3d"]))
            shape = {"": (2, 3), "1d": (2, 3, 4), "2d": (2, 3, 4, 4), "3d": (2, 3, 4, 4, 4)}[kind]
            return RuleCase(f"nn.Dropout{kind}({p})", "self.layer(x)", shape)

        return dropout_case()
