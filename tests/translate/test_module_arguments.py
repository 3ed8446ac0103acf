"""Modules passed to constructors (rule S016): translated when every construction is known, reported otherwise."""

import textwrap

from translator.rewrite.pipeline import translate_source
from translator.rules.structure.module_arguments import WRAPPER

HEADER = "import torch\nfrom torch import nn\n" + WRAPPER


def model(constructions: str) -> str:
    return HEADER + textwrap.dedent(f'''

        class Net(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.blocks = nn.ModuleList([{constructions}])

            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                return x
    ''')


def errors(source):
    return [(d.code, d.message) for d in translate_source(source, "net.py").errors]


def test_every_construction_passes_a_class_of_the_file():
    translation = translate_source(model("Residual(Mlp(dim, p=0.1)), Residual(Mlp(dim), scale=0.5)"), "net.py")
    assert not translation.errors, translation.diagnostics
    assert "        return (self.fn(x, train=train) * self.scale) + x" in translation.code
    assert "def setup" not in translation.code.split("class Residual")[1].split("class Mlp")[0]
    assert "    fn: Any" in translation.code


def test_a_torch_layer_or_a_variable_passed_in_is_reported():
    assert [c for c, _ in errors(model("Residual(nn.Linear(dim, dim))"))] == ["X005"]
    source = model("Residual(Mlp(dim))").replace("self.blocks = nn.ModuleList([Residual(Mlp(dim))])",
                                                 "inner = Mlp(dim)\n        self.blocks = nn.ModuleList([Residual(inner)])")
    assert [c for c, _ in errors(source)] == ["X005"]


def test_classes_that_differ_in_taking_train_are_reported():
    codes = errors(model("Residual(Mlp(dim, p=0.1)), Residual(Gate(dim))"))
    assert [c for c, _ in codes] == ["S005"] and "differ in whether they take `train`" in codes[0][1]
