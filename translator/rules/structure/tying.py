"""S013 TorchWeightTying: ``self.head.weight = self.embed.weight`` -> ``self.embed.attend(x)``.

The rewriting lives in ``translator.rewrite.module_class`` (``tie_weights``) and
``translator.rewrite.body`` (the head's calls); the port plan drops the tied
name (``translator.weights.plan.tie_shared_parameters``).
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


@register
class TorchWeightTying(Rule):
    code = "S013"
    name = "TorchWeightTying"
    summary = "head.weight = embed.weight (either direction) -> embed.attend(x): one table, no head layer"
    doc = RuleDoc(
        what=(
            "Weight tying between an `nn.Embedding` and a bias-free `nn.Linear` output head, written\n"
            "`self.lm_head.weight = self.wte.weight` or the other way round (GPT-2, nanoGPT)."
        ),
        why=(
            "In PyTorch tying makes two modules hold the same Parameter object. Flax variables are\n"
            "plain arrays in a tree, so two modules cannot share one; instead the head is not built\n"
            "and its calls use the embedding's own table: `nn.Embed.attend(x)` computes\n"
            "`x @ embedding.T`, exactly the tied Linear. Gradients from both uses add up in one\n"
            "array, as they do in PyTorch. The port keeps the Embedding's name and drops the head's\n"
            "(checking the checkpoint holds the same values under both, when it stores both)."
        ),
        example=Example(
            torch="self.wte = nn.Embedding(V, D)\nself.lm_head = nn.Linear(D, V, bias=False)\nself.lm_head.weight = self.wte.weight\n...\nlogits = self.lm_head(x)",
            flax="self.wte = nn.Embed(self.V, self.D)\n...\nlogits = self.wte.attend(x)",
        ),
        fidelity="Exact: the same matrix product with the same (single) table.",
    )

    def cases(self):
        @st.composite
        def tying_case(draw):
            vocab, dim = draw(st.integers(3, 12)), draw(st.integers(2, 6))
            head_first = draw(st.booleans())
            tie = "self.head.weight = self.layer.weight" if head_first else "self.layer.weight = self.head.weight"
            init = f"nn.Embedding({vocab}, {dim})\nself.head = nn.Linear({dim}, {vocab}, bias=False)\n{tie}"
            return RuleCase(init, "self.head(torch.tanh(self.layer(x)))", (2, 5), input_dtype="int64", input_range=(0, vocab))

        return tying_case()
