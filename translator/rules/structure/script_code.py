"""S010 TorchScriptCode: module-level script code is left out of the translation, with a warning."""

from __future__ import annotations

from translator.rules.base import DiagnosticRule, Example, RuleDoc
from translator.rules.registry import register


@register
class TorchScriptCode(DiagnosticRule):
    code = "S010"
    name = "TorchScriptCode"
    summary = "module-level script code (instantiation, optimisers, training loops) is left out, with a warning"
    doc = RuleDoc(
        what="Statements at module level other than imports, classes, functions and constants.",
        why=(
            "The translation is a model file. Training in JAX is a pure function of parameters,\n"
            "optimiser state and data (`optax` + `jax.grad` + `jax.jit`), not an object mutated in place;\n"
            "see `examples/train_lenet5.py` for the idiomatic loop."
        ),
        example=Example(torch="model = MLP(784, 128, 10)\noptimizer = optim.Adam(model.parameters())", flax="# left out (warning S010)"),
        fidelity="Not translated: reported as a warning (exit code unaffected).",
    )
    flagged_examples = (
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n        return x\n\nmodel = M()\n",
    )
