"""S004 TorchLayout: NCHW at the model's boundary, NHWC inside and between modules, transposes only where needed."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register

#: classes of the file whose forward runs channels-last: a residual block, and a stack of them in a Sequential
BLOCKS = """\
class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.norm = nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x))) + x


class Stack(nn.Module):
    def __init__(self, c, n):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(c) for _ in range(n)])

    def forward(self, x):
        return self.blocks(x)


class Merge(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(2 * c, c, 3, padding=1)

    def forward(self, x1, x2, gain=1.0):
        n, c, h, w = x2.shape
        return self.conv(torch.cat([x2, x1[:, :, : x2.size()[2], :w]], dim=1)) * gain


class NormBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = nn.GroupNorm(1, c)
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv(torch.relu(self.norm(x)))


class Split(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.block = NormBlock(c)
        self.down = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        h = self.block(x)
        return self.down(h), h


class Looped(nn.Module):
    def __init__(self, c, n):
        super().__init__()
        self.blocks = nn.ModuleList([Block(c) for _ in range(n)])

    def forward(self, x):
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 1:
                break
        return x
"""


@register
class TorchLayout(Rule):
    code = "S004"
    name = "TorchLayout"
    summary = "NCHW at the model's boundary, NHWC inside and between modules: transposes only where an op needs NCHW"
    doc = RuleDoc(
        what=(
            "Every value flowing between convolutions, pools, elementwise ops and the modules of the file.\n"
            "In one function the translator tracks which values are channels-last; a transpose is inserted\n"
            "when a value reaches an op that needs the other layout (a conv needs NHWC; flatten, view,\n"
            "indexing, most dim arguments, Linear need PyTorch's NCHW; `torch.cat` joins channels-last\n"
            "tensors channels-last along the axis where `dim` lives).\n"
            "Across modules: a class whose `forward` takes tensors that go straight into channels-last\n"
            "ops and returns a channels-last value (a ResNet block, a U-Net's double conv) is translated\n"
            "with those inputs and its output channels-last, into a method `channels_last`, when that needs\n"
            "fewer transposes than PyTorch's layout. With several inputs each is planned on its own (a U-Net\n"
            "up block's `forward(self, x1, x2)` takes both channels-last; `forward(self, x, t)` takes `x` so\n"
            "and `t` as it is). Its `__call__` is a thin boundary in PyTorch's layout (transpose in,\n"
            "`channels_last`, transpose out). The other classes of the file call `block.channels_last(x)`\n"
            "with channels-last values, by position or keyword (the shared Sequential loop too), so no\n"
            "transpose stands between two modules that both run channels-last. Classes are planned\n"
            "callees first, so a class's own plan already sees its submodules' channels-last methods.\n"
            "A class no other class of the file builds (the model) keeps one `__call__` in PyTorch's layout.\n"
            "Loops: each pass starts and ends in the same layouts; a value channels-last on entry stays so\n"
            "when the body leaves it so at no more transposes per pass (`for block in self.blocks: x =\n"
            "block(x)`), anything else is in PyTorch's layout at the pass's ends (a value no later pass and\n"
            "no code after the loop reads is left as it is), and a `break` or `continue` moves values to the\n"
            "loop's layouts first. A value in PyTorch's layout that each pass reads, rebinds and moves\n"
            "channels-last (`for s in self.stages: x = x + s(x)` on the model's input) is moved once before\n"
            "the loop when the passes then need fewer transposes. Shapes of channels-last values are read in place:\n"
            "`x.size()[2]` -> `x.shape[1]`, `n, c, h, w = x.shape` -> `n, h, w, c = x.shape`.\n"
            "A PyTorch-layout operand of an elementwise op whose rank the code spells (`y.view(b, c, 1, 1)`,\n"
            "`emb[:, :, None, None]` of a Linear's output of a pooled map) and equals the channels-last\n"
            "operand's is moved channels-last instead of the map (`emb[:, None, None, :]`); a rank the code\n"
            "does not spell (a parameter, one a loop changes) is not guessed, except in that idiom: a subscript\n"
            "adding size-1 axes up to the map's rank (`self.temb(t)[:, :, None, None]`, `t` a `forward`\n"
            "argument) is read as having that rank, since a higher one would raise the map's rank (`check`\n"
            "shows it). An input a GroupNorm (any rank) takes is planned at the rank of the layer its output\n"
            "reaches (`self.conv1(F.silu(self.norm1(x)))` beside `x + h`), and a `forward` returning a tuple\n"
            "of channels-last maps (`return self.down(h), h`) is planned too: its boundary moves each item\n"
            "back, and callers unpack or index the items channels-last."
        ),
        why=(
            "XLA's convolutions in Flax are channels-last by default (`nn.Conv` takes (N, H, W, C)).\n"
            "Keeping NCHW at the model's boundary means the translated model takes the same inputs and\n"
            "gives the same outputs as the PyTorch one, and flattening in NCHW order means ported\n"
            "Linear weights need no permutation. Inside, a Flax model is channels-last throughout (as\n"
            "Flax's own ImageNet ResNet is): a transpose per submodule boundary is memory traffic XLA\n"
            "does not always cancel. Any class can be the model (`check --class Block`, `port`), so a\n"
            "class planned channels-last still has `__call__` in PyTorch's layout, and any call site that\n"
            "does not know the plan (a container of mixed kinds) calls it and stays correct. Anything not\n"
            "known to be layout-agnostic gets PyTorch's layout, so an unknown op can cost a transpose but\n"
            "never give a wrong axis. Parameter names and shapes are unchanged: ported weights are too."
        ),
        example=Example(
            torch=(
                "class Block(nn.Module):\n"
                "    def __init__(self, c):\n"
                "        super().__init__()\n"
                "        self.conv = nn.Conv2d(c, c, 3, padding=1)\n\n"
                "    def forward(self, x):\n"
                "        return torch.relu(self.conv(x)) + x\n\n\n"
                "class Net(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.stem = nn.Conv2d(3, 8, 3)\n"
                "        self.block = Block(8)\n"
                "        self.head = nn.Linear(8 * 4 * 4, 10)\n\n"
                "    def forward(self, x):\n"
                "        x = self.block(self.stem(x))\n"
                "        return self.head(torch.flatten(x, 1))"
            ),
            flax=(
                "class Block(nn.Module):\n"
                "    ...\n\n"
                "    def __call__(self, x):  # the boundary, in PyTorch's layout\n"
                "        return jnp.transpose(self.channels_last(jnp.transpose(x, (0, 2, 3, 1))), (0, 3, 1, 2))\n\n"
                "    def channels_last(self, x):  # forward, NHWC in and out\n"
                "        return nn.relu(self.conv(x)) + x\n\n\n"
                "class Net(nn.Module):\n"
                "    ...\n\n"
                "    def __call__(self, x):\n"
                "        x = self.block.channels_last(self.stem(jnp.transpose(x, (0, 2, 3, 1))))\n"
                "        return self.head(jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1))"
            ),
        ),
        fidelity="Exact: transposes move values without arithmetic.",
    )

    def cases(self):
        @st.composite
        def layout_case(draw):
            channels = draw(st.integers(1, 3))
            size = draw(st.integers(3, 7))
            if draw(st.booleans()):  # a module of the file planned channels-last, called from another one
                layer = draw(st.sampled_from([
                    f"Block({channels})", f"Stack({channels}, {draw(st.integers(1, 3))})", f"Looped({channels}, {draw(st.integers(1, 3))})",
                    f"NormBlock({channels})", f"Split({channels})",
                ]))
                if layer.startswith("Split"):  # a tuple of channels-last maps, unpacked or indexed
                    call = draw(st.sampled_from(["self.layer(x)[1] * 2.0", "torch.flatten(self.layer(x)[0], 1)",
                                                 "sum(t.mean((2, 3)) for t in self.layer(x))"]))
                    return RuleCase(layer, call, (2, channels, size, size), prelude=BLOCKS)
                if draw(st.booleans()):  # a module of several inputs, called by position or keyword
                    call = draw(st.sampled_from(["self.layer(x, x)", "self.layer(x, x2=x, gain=0.5)", "self.layer(x1=x, x2=x)"]))
                    return RuleCase(f"Merge({channels})", call, (2, channels, size, size), prelude=BLOCKS)
                forward = draw(
                    st.sampled_from(
                        [
                            "self.layer(x)",
                            "torch.flatten(self.layer(x), 1)",
                            "self.layer(self.layer(x) * 2.0)",
                            "torch.cat([self.layer(x), x], dim=1)",
                            "torch.cat([self.layer(x), self.layer(x)], dim=-3)",
                            "self.layer(x).mean((2, 3))",
                        ]
                    )
                )
                return RuleCase(layer, forward, (2, channels, size, size), prelude=BLOCKS)
            forward = draw(
                st.sampled_from(
                    [
                        "torch.flatten(torch.relu(self.layer(x)), 1)",
                        "self.layer(x) + 1.0",
                        "self.layer(x).size(1) * self.layer(x)",
                        "self.layer(x).view(x.size(0), -1)",
                    ]
                )
            )
            return RuleCase(f"nn.Conv2d({channels}, 2, 3)", forward, (2, channels, size, size))

        return layout_case()
