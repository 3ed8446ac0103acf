"""S017 TorchInitialisation: weight-initialisation code in ``__init__`` -> left out, with a warning.

The detection lives in ``translator.rewrite.initialisation``; ``translate_init`` drops the
statements (and methods passed to ``self.apply``) and reports them.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


@register
class TorchInitialisation(Rule):
    code = "S017"
    name = "TorchInitialisation"
    summary = "nn.init.* / t.data.normal_() / self.apply(init_fn) in __init__ -> left out (warning: initialisers differ)"
    doc = RuleDoc(
        what=(
            "Weight initialisation in the constructor: `nn.init.kaiming_normal_(self.conv.weight)`,\n"
            "`m.bias.data.zero_()`, loops over `self.modules()` doing so, and `self.apply(self._init_weights)`\n"
            "with a method that only initialises."
        ),
        why=(
            "PyTorch creates tensors in `__init__` and overwrites them in place. A Flax module has no\n"
            "variables until `model.init(key, x)`, and each layer takes an initialiser function\n"
            "(`nn.Dense(n, kernel_init=nn.initializers.zeros)`); Flax's defaults also differ from\n"
            "PyTorch's (Dense: lecun_normal kernel and zero bias; Linear: kaiming_uniform(a=sqrt(5)) and a\n"
            "uniform bias). The translation is checked and used with ported weights, which replace every\n"
            "initial value, so this code is left out and reported as a warning: translation and check\n"
            "go on. To train the Flax model from scratch like PyTorch, pass the matching initialisers."
        ),
        example=Example(
            torch="self.fc = nn.Linear(4, 2)\nnn.init.zeros_(self.fc.bias)",
            flax="self.fc = nn.Dense(2)\n# TODO(torch2flax): S017 weight initialisation left out ...",
        ),
        fidelity="Outputs and gradients are exact after porting; only the initial values of an unported model differ.",
    )

    def cases(self):
        @st.composite
        def initialisation_case(draw):
            width = draw(st.integers(1, 5))
            form = draw(st.sampled_from([
                "nn.init.zeros_(self.layer.bias)",
                "nn.init.kaiming_normal_(self.layer.weight, mode='fan_out')",
                "self.layer.weight.data.normal_(0, 0.02)",
                "for m in self.modules():\n    if isinstance(m, nn.Linear):\n        nn.init.trunc_normal_(m.weight, std=0.02)\n        if m.bias is not None:\n            nn.init.constant_(m.bias, 0)",
            ]))
            return RuleCase(f"nn.Linear({width}, 3)\n{form}", "self.layer(x)", (2, width))

        return initialisation_case()
