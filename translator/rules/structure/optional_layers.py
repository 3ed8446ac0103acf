"""S015 TorchOptionalLayer: a layer in one branch of ``__init__``, ``nn.Identity()`` (or None) in another.

The rewriting lives in ``translator.rewrite.init_forms`` (``A if c else B`` becomes an
``if`` statement), ``translator.rewrite.module_class`` (the identity branch assigns
``None``; ``settle_attributes`` records the attribute in ``identity_optional``) and
``translator.rewrite.body`` (``identity_optional_call``).
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


@register
class TorchOptionalLayer(Rule):
    code = "S015"
    name = "TorchOptionalLayer"
    summary = "self.proj = Layer(...) if cond else nn.Identity() -> None in setup for the identity; calls check it"
    doc = RuleDoc(
        what=(
            "An attribute that holds a layer (or a Sequential, or a model class of the file) in one\n"
            "branch of `__init__` and `nn.Identity()` in another: `nn.Linear(a, b) if a != b else\n"
            "nn.Identity()`, or the same written as an `if` statement."
        ),
        why=(
            "Flax has no Identity module, and a `setup` attribute cannot be replaced by a module in\n"
            "one configuration and a function in another without losing the layout and `train` handling\n"
            "the call needs. The identity branch assigns `None` (no parameters, as in PyTorch), and\n"
            "each call becomes `x if self.proj is None else self.proj(x)`: the choice is made in Python\n"
            "at trace time, so the compiled function contains only the branch that exists. A test of\n"
            "such an attribute against None in forward is reported, because None now also stands\n"
            "for the identity."
        ),
        example=Example(
            torch="self.proj = nn.Linear(a, b) if a != b else nn.Identity()\n...\ny = self.proj(x)",
            flax="if self.a != self.b:\n    self.proj = nn.Dense(self.b)\nelse:\n    self.proj = None\n...\ny = x if self.proj is None else self.proj(x)",
        ),
        fidelity="Exact: the same computation as the branch PyTorch built.",
    )

    def cases(self):
        @st.composite
        def optional_case(draw):
            width = draw(st.integers(1, 6))
            present = draw(st.booleans())
            layer = draw(st.sampled_from([
                f"nn.Linear({width}, {width})",
                f"nn.Sequential(nn.Linear({width}, {width}), nn.Dropout(0.1))",
                f"nn.LayerNorm({width})",
            ]))
            spelling = draw(st.sampled_from(["ifexp", "statement"]))
            prelude = f"PROJECT = {present}\n"
            if spelling == "ifexp":
                init = f"{layer} if PROJECT else nn.Identity()"
            else:
                init = f"nn.Identity()\nif PROJECT:\n    self.layer = {layer}"
            return RuleCase(init, "self.layer(torch.tanh(x)) * 2.0", (2, 3, width), prelude=prelude)

        return optional_case()
