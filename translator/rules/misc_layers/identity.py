"""L032 TorchIdentity: ``nn.Identity`` -> the value itself."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import CallSpec, Emitted, Example, LayerBuild, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


def identity_layer() -> LayerBuild:
    """A layer whose call is its input: no setup line, the call written as the input (``nn.Identity``, and
    any layer configured to do nothing, such as ``nn.Dropout(0.0)``)."""
    return LayerBuild(None, CallSpec(accepts="any", produces="same"),
                      inline=lambda call_ctx: Emitted(call_ctx.expr("input"), call_ctx.fact("input")))


@register
class TorchIdentity(Rule):
    code = "L032"
    name = "TorchIdentity"
    summary = "nn.Identity() -> the input, unchanged (no setup line)"
    torch_classes = ("torch.nn.Identity",)
    doc = RuleDoc(
        what="`nn.Identity(*args, **kwargs)`, often a placeholder for an optional layer.",
        why="A Flax module needs no placeholder: the call is replaced by its input.",
        example=Example(torch="self.proj = nn.Identity()\ny = self.proj(x)", flax="y = x"),
        fidelity="Exact.",
    )

    def build_layer(self, ctx):
        return identity_layer()

    def cases(self):
        return st.just(RuleCase("nn.Identity()", "self.layer(x) * 2.0", (2, 3)))
