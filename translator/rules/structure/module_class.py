"""S001-S003: the shape of a translated module (class, forward, train flag).

The transformation itself lives in ``translator.rewrite.module_class`` (it is
the frame every other rule writes into); these entries hold what it teaches.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


@register
class TorchModuleClass(Rule):
    code = "S001"
    name = "TorchModuleClass"
    summary = "class M(nn.Module) with __init__ -> flax.linen.Module dataclass with setup()"
    doc = RuleDoc(
        what="A subclass of `torch.nn.Module`: its constructor parameters, `super().__init__()` in any spelling, and the layers it assigns to `self`.",
        why=(
            "A Flax module is a frozen dataclass: constructor parameters become typed fields (same names,\n"
            "defaults kept), and layers are declared in `setup()` (or inline with `@nn.compact`). We use\n"
            "`setup()`: it keeps PyTorch's attribute names as submodule names, so `fc1.weight` ports to\n"
            "`params/fc1/kernel`, and constructor code stays where the user wrote it. The module holds no\n"
            "weights: `init` returns them as a separate pytree of variables."
        ),
        example=Example(
            torch=(
                "class MLP(nn.Module):\n    def __init__(self, d):\n        super().__init__()\n        self.fc = nn.Linear(d, d)\n\n"
                "    def forward(self, x):\n        return self.fc(x)"
            ),
            flax=(
                "class MLP(nn.Module):\n    d: int\n\n    def setup(self):\n        self.fc = nn.Dense(self.d)\n\n"
                "    def __call__(self, x):\n        return self.fc(x)"
            ),
        ),
        fidelity="Structural: exact. Checked by every equivalence test.",
    )

    def cases(self):
        @st.composite
        def two_layer_case(draw):
            width = draw(st.integers(1, 8))
            return RuleCase(f"nn.Linear({width}, {width})", "self.layer(self.layer(x))", (2, width))

        return two_layer_case()


@register
class TorchForward(Rule):
    code = "S002"
    name = "TorchForward"
    summary = "forward(self, ...) -> __call__(self, ...)"
    doc = RuleDoc(
        what="The `forward` method.",
        why=(
            "Flax calls `__call__` (PyTorch's `__call__` runs hooks and then `forward`). Variables are\n"
            "passed explicitly: `model.apply(variables, x)` instead of `model(x)`."
        ),
        example=Example(torch="def forward(self, x):\n    return self.fc(x)", flax="def __call__(self, x):\n    return self.fc(x)"),
        fidelity="Exact.",
    )

    def cases(self):
        @st.composite
        def forward_case(draw):
            width = draw(st.integers(1, 8))
            return RuleCase(f"nn.Linear({width}, 3)", "self.layer(x) * 2.0", (3, width))

        return forward_case()


@register
class TorchTrainingFlag(Rule):
    code = "S003"
    name = "TorchTrainingFlag"
    summary = "self.training / model.train() -> a `train` argument threaded through __call__"
    doc = RuleDoc(
        what="`self.training`, and layers whose behaviour depends on the mode (dropout, batch norm).",
        why=(
            "A Flax module is immutable and has no mode: behaviour that PyTorch switches with\n"
            "`model.train()`/`model.eval()` is selected by an argument, `train: bool = False`, passed\n"
            "down to every submodule that needs it. Dropout then also needs a 'dropout' RNG stream:\n"
            "`model.apply(variables, x, train=True, rngs={'dropout': key})`."
        ),
        example=Example(
            torch="if self.training:\n    x = x * 2.0",
            flax="def __call__(self, x, train: bool = False):\n    if train:\n        x = x * 2.0",
        ),
        fidelity="Exact in eval mode; train mode is checked separately (random streams differ).",
    )

    def cases(self):
        @st.composite
        def training_case(draw):
            width = draw(st.integers(1, 6))
            train = draw(st.booleans())
            return RuleCase(f"nn.Linear({width}, {width})", "self.layer(x) if self.training else x", (2, width), train=train)

        return training_case()
