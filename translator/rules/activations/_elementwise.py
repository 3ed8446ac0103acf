"""The shared shape of elementwise activation rules: module, function and method forms.

An activation acts on each element, so it keeps whatever layout its input has
(no transpose is ever needed around it).  Subclasses name the torch forms, the
Flax function, and how constructor arguments map to its keywords.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none
from translator.rules.base import CallSpec, Emitted, LayerBuild, NotLiteral, Rule, RuleCase


class ElementwiseActivation(Rule):
    """Base for activations; ``keywords`` maps torch argument names to Flax keyword names."""

    flax_function: ClassVar[str]
    keywords: ClassVar[dict[str, str]] = {}
    #: torch's defaults for the mapped keywords; a keyword equal to its default is left out
    torch_defaults: ClassVar[dict[str, object]] = {}
    module_form: ClassVar[str]  # e.g. "nn.ReLU()" for the generated test
    function_forms: ClassVar[tuple[str, ...]] = ()  # e.g. ("torch.relu(x)", "F.relu(x)", "x.relu()")
    input_range: ClassVar[tuple[float, float]] = (-4.0, 4.0)

    def flax_keywords(self, ctx) -> dict[str, cst.BaseExpression]:
        out = {}
        for torch_name, flax_name in self.keywords.items():
            value = literal_or_none(ctx, torch_name)
            if value is NotLiteral or value != self.torch_defaults.get(torch_name, NotLiteral):
                out[flax_name] = ctx.expr(torch_name)
        return out

    def build_layer(self, ctx):
        keywords = self.flax_keywords(ctx)
        function = cst.parse_expression(self.flax_function)
        expr = call("partial", [function], keywords) if keywords else function
        return LayerBuild(expr, CallSpec(accepts="any", produces="same"))

    def emit_call(self, ctx):
        return Emitted(call(self.flax_function, [ctx.expr("input")], self.flax_keywords(ctx)), ctx.fact("input"))

    def cases(self):
        forms = [self.module_form, *self.function_forms]

        @st.composite
        def activation_case(draw):
            form = draw(st.sampled_from(forms))
            shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
            if form == self.module_form:
                return RuleCase(form, "self.layer(x)", shape, input_range=self.input_range)
            return RuleCase(None, form, shape, input_range=self.input_range)

        return activation_case()
