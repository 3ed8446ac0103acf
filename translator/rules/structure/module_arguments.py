"""S016 TorchModuleArgument: a module passed to a constructor, ``PreNorm(dim, Attention(...))``.

The rewriting lives in ``translator.rewrite.module_arguments`` (what every construction
in the file passes), ``translator.rewrite.body`` (a call of the field is a call of a
container element of those kinds) and ``translator.weights.plan.flax_attribute_name``
(``self.fn = fn`` keeps its name).
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register

WRAPPER = '''
class Residual(nn.Module):
    def __init__(self, fn, scale=1.0):
        super().__init__()
        self.fn = fn
        self.scale = scale

    def forward(self, x):
        return self.fn(x) * self.scale + x


class Mlp(nn.Module):
    def __init__(self, dim, p=0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(p), nn.Linear(2 * dim, dim))

    def forward(self, x):
        return self.net(x)


class Gate(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        return torch.sigmoid(self.proj(x)) * x
'''


@register
class TorchModuleArgument(Rule):
    code = "S016"
    name = "TorchModuleArgument"
    summary = "a module passed to a constructor (PreNorm(dim, Attention(...))) -> a field holding the Flax module"
    doc = RuleDoc(
        what=(
            "A constructor parameter that receives a module and is stored as is (`self.fn = fn`), as in\n"
            "`PreNorm(dim, FeedForward(dim))` or `Residual(Attention(...))`, when every construction of\n"
            "the class in the file passes a new instance of a class of the file."
        ),
        why=(
            "A Flax module is a dataclass: a submodule built in the caller's `setup()` and passed as a\n"
            "field is adopted by the module that receives it, under the field's name, so\n"
            "`layers.0.fn.net.0.weight` ports to `params/layers_0/fn/net_0/kernel`. What the field\n"
            "holds decides how to call it (the `train` flag), and that is only known at the\n"
            "constructions: the translator reads all of them, and reports the call when one passes\n"
            "something it cannot name (a variable, a torch layer), or the classes differ in taking `train`."
        ),
        example=Example(
            torch=(
                "class FeedForward(nn.Module):\n"
                "    def __init__(self, dim):\n"
                "        super().__init__()\n"
                "        self.net = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(0.1))\n\n"
                "    def forward(self, x):\n"
                "        return self.net(x)\n\n\n"
                "class PreNorm(nn.Module):\n"
                "    def __init__(self, dim, fn):\n"
                "        super().__init__()\n"
                "        self.norm = nn.LayerNorm(dim)\n"
                "        self.fn = fn\n\n"
                "    def forward(self, x):\n"
                "        return self.fn(self.norm(x))\n\n\n"
                "class Block(nn.Module):\n"
                "    def __init__(self, dim):\n"
                "        super().__init__()\n"
                "        self.ff = PreNorm(dim, FeedForward(dim))\n\n"
                "    def forward(self, x):\n"
                "        return self.ff(x)"
            ),
            flax=(
                "class PreNorm(nn.Module):\n"
                "    dim: Any\n"
                "    fn: Any\n"
                "    ...\n\n"
                "    def __call__(self, x, train: bool = False):  # train: fn (FeedForward) has dropout\n"
                "        return self.fn(self.norm(x), train=train)\n\n\n"
                "class Block(nn.Module):\n"
                "    ...\n\n"
                "    def setup(self):\n"
                "        self.ff = PreNorm(self.dim, FeedForward(self.dim))"
            ),
        ),
        fidelity="Exact (structure only); the wrapped module is as exact as its own translation.",
    )

    def cases(self):
        @st.composite
        def argument_case(draw):
            width = draw(st.integers(1, 5))
            inner = draw(st.sampled_from([f"Mlp({width})", f"Mlp({width}, p=0.1)", f"Gate(dim={width})"]))
            scale = draw(st.sampled_from(["", ", scale=0.5"]))
            return RuleCase(f"Residual({inner}{scale})", "self.layer(x)", (2, 3, width), prelude=WRAPPER)

        return argument_case()
