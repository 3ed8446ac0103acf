"""S014 TorchLocalImports: a model file's imports from its own project are followed and translated.

The splicing lives in ``translator.rewrite.local_imports``; this entry holds what it
teaches and the case that tests it (a block class in a sibling module).
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register

BLOCKS = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F

SCALE = {scale}


def widen(channels):
    return channels * 2


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, widen(channels), 3, padding=1)
        self.proj = nn.Conv2d(widen(channels), channels, 1)

    def forward(self, x):
        return x + SCALE * self.proj(F.gelu(self.conv(x)))
'''

#: the module the documented example imports from
EXAMPLE_BLOCKS = """\
import torch.nn as nn


class ResBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.conv(x)
"""


@register
class TorchLocalImports(Rule):
    code = "S014"
    name = "TorchLocalImports"
    summary = "from .blocks import Block (relative, absolute or sibling) -> Block translated into the same output file"
    doc = RuleDoc(
        what=(
            "Imports of the file's own project: `from .blocks import ResBlock`, `from mypkg.blocks import\n"
            "ResBlock`, or `from blocks import ResBlock` next to a script (`import *` too)."
        ),
        why=(
            "The Flax model needs Flax versions of the classes and helpers it uses, and `check` needs\n"
            "one module it can import. The translator reads the imported module, takes the\n"
            "definitions the file uses and what those need in turn (not the whole module), and\n"
            "translates them into the same output file; diagnostics name the file and line they come\n"
            "from. Installed libraries are never inlined. A whole package can be translated with\n"
            "`torch2flax translate pkg/ -o out/` (each model file self-contained)."
        ),
        example=Example(
            torch=(
                "# net.py, next to blocks.py (which defines `class ResBlock(nn.Module)`)\n"
                "from blocks import ResBlock\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.block = ResBlock(8)\n\n"
                "    def forward(self, x):\n"
                "        return self.block(x)"
            ),
            flax=(
                "class ResBlock(nn.Module):  # from blocks.py, translated into this file\n"
                "    channels: int\n"
                "    ...\n\n\n"
                "class Net(nn.Module):\n"
                "    def setup(self):\n"
                "        self.block = ResBlock(8)\n"
                "    ..."
            ),
            siblings=(("blocks.py", EXAMPLE_BLOCKS),),
        ),
        fidelity="As the rules that translate the brought-in definitions.",
    )

    def cases(self):
        @st.composite
        def local_import_case(draw):
            channels = draw(st.integers(1, 3))
            scale = draw(st.sampled_from([0.5, 1.0, 2.0]))
            module = draw(st.sampled_from(["s014_blocks", "s014_layers"]))
            # `from module import *` is left out: the check cannot build the PyTorch model yet (it runs only the
            # statements a class names, and a star import names nothing); tests/rules/structure/test_project_imports_rule.py
            spelling = f"from {module} import Block"
            return RuleCase(
                f"Block({channels})", "self.layer(x)", (1, channels, 4, 4), prelude=spelling,
                siblings=((f"{module}.py", BLOCKS.format(scale=scale)),),
            )

        return local_import_case()
