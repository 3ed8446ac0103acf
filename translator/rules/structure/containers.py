"""S005 TorchContainers: ``nn.Sequential``, ``nn.ModuleList``, ``nn.ModuleDict``.

The rewriting lives in ``translator.rewrite.containers`` (containers hold other
rules' layers); this entry holds what it teaches and how their weights are named.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


@register
class TorchContainers(Rule):
    code = "S005"
    name = "TorchContainers"
    summary = "nn.Sequential / ModuleList / ModuleDict -> lists and dicts of layers in setup(); Sequentials run by one shared loop"
    torch_classes = ("torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict")
    doc = RuleDoc(
        what="`nn.Sequential(...)` (also from an OrderedDict or `*layers`), `nn.ModuleList([...])`, `nn.ModuleDict({...})` (or `dict(a=...)`, or `[(key, layer), ...]`).",
        why=(
            "In Flax's `setup()`, a list or dict of modules assigned to an attribute registers each one\n"
            "under `<attr>_<index>` (`<attr>_<key>`): `features.0.weight` ports to\n"
            "`params/features_0/kernel`. Flax's own `nn.Sequential` cannot pass `train` to dropout or\n"
            "batch norm, nor change layout between a convolution and a Linear, so a Sequential is run by\n"
            "one loop the whole file shares, `run_sequential(layers, x, train)`: where its layers take the\n"
            "flag under different keywords (`use_running_average=not train`, `deterministic=not train`,\n"
            "`train=train`) an `isinstance` test picks each one's. The call site converts the input once\n"
            "(`run_sequential(self.features, <NHWC input>)` for a stack of convolutions, whose output stays\n"
            "channels-last). A Sequential whose layout changes inside (a convolution then a Flatten) keeps a\n"
            "method `_run_<attr>` of its own, its runs of layers still folded into `run_sequential(self.encoder[:4], x)`;\n"
            "one built differently in branches of `__init__` is chosen by its length. Loops over a ModuleList stay\n"
            "loops (also over a slice with literal bounds, `self.blocks[1:]`, or `reversed(self.blocks)`), and a\n"
            "loop that torch.fx unrolled while tracing a built model (`self.blocks[0](x)`, `self.blocks[1](...)`)\n"
            "is written back as one when its passes are the same statements (translator/instance/loops.py).\n"
            "Flax freezes a list once it is assigned in `setup()`, so a container built empty and grown\n"
            "(`self.layers.append(...)`, `+=`) is grown in a local list and assigned once, after its last change."
        ),
        example=Example(
            torch="self.features = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1))\ny = self.features(x)",
            flax=(
                "self.features = [nn.Dense(8), nn.relu, nn.Dropout(rate=0.1)]\n"
                "y = run_sequential(self.features, x, train=train)\n\n"
                "def run_sequential(layers, x, train: bool = False):\n"
                "    for layer in layers:\n"
                "        if isinstance(layer, nn.Dropout):\n"
                "            x = layer(x, deterministic=not train)\n"
                "        else:\n"
                "            x = layer(x)\n"
                "    return x"
            ),
        ),
        fidelity="Exact (structure only); each layer is as exact as its own rule.",
    )

    def child_path(self, flax_prefix: tuple[str, ...], child: str) -> tuple[str, ...]:
        """Flax's name for a container's child: ``features`` + ``0`` -> ``features_0``."""
        return (*flax_prefix[:-1], f"{flax_prefix[-1]}_{child}")

    def cases(self):
        @st.composite
        def container_case(draw):
            width = draw(st.integers(1, 6))
            form = draw(st.sampled_from([
                "sequential", "ordered", "list", "conv_sequential", "dict", "grown", "elements", "flags", "conflict", "nested",
            ]))
            if form == "flags":  # layers taking `train` under different keywords, one loop channels-last in and out
                init = (f"nn.Sequential(nn.Conv2d({width}, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), "
                        "nn.Dropout(0.2), nn.Conv2d(4, 2, 1))")
                return RuleCase(init, "self.layer(x).mean((2, 3))", (2, width, 4, 4))
            if form == "conflict":  # a batch norm that takes no flag is not run by the loop that gives it one
                init = (f"nn.Sequential(nn.BatchNorm1d({width}, track_running_stats=False), nn.Linear({width}, {width}), "
                        f"nn.BatchNorm1d({width}), nn.Tanh())")
                return RuleCase(init, "self.layer(x)", (4, width))
            if form == "nested":  # a Sequential inside a Sequential
                init = f"nn.Sequential(nn.Linear({width}, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 4)), nn.Tanh(), nn.Linear(4, 3))"
                return RuleCase(init, "self.layer(x)", (2, width))
            if form == "elements":  # Sequentials as elements chosen at run time: `run_sequential(ff, x, train=train)`
                prelude = "def FeedForward(dim):\n    return nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(0.1))\n"
                init = f"nn.ModuleList([nn.ModuleList([nn.Linear({width}, {width}), FeedForward({width})]) for _ in range(2)])"
                return RuleCase(init, "sum(ff(lin(x)) for lin, ff in self.layer)", (2, width), prelude=prelude)
            if form == "grown":  # built empty and grown in a loop: a local list in setup, assigned once
                init = (
                    f"nn.ModuleList([])\nfor _ in range(2):\n    self.layer.append(nn.Linear({width}, {width}))\n"
                    "self.layer += [nn.Linear({width}, 3)]".replace("{width}", str(width))
                )
                return RuleCase(init, "self.layer[2](self.layer[1](self.layer[0](x)))", (2, width))
            if form == "dict":
                spelling = draw(st.sampled_from([
                    f"{{'a': nn.Linear({width}, 3), 'b': nn.Tanh()}}",
                    f"dict(a=nn.Linear({width}, 3), b=nn.Tanh())",
                    f"[['a', nn.Linear({width}, 3)], ('b', nn.Tanh())]",
                ]))
                return RuleCase(f"nn.ModuleDict({spelling})", "self.layer['b'](self.layer['a'](x))", (2, width))
            if form == "sequential":
                return RuleCase(f"nn.Sequential(nn.Linear({width}, 5), nn.ReLU(), nn.Linear(5, 3))", "self.layer(x)", (2, width))
            if form == "ordered":
                init = f"nn.Sequential(OrderedDict([('fc', nn.Linear({width}, 4)), ('act', nn.Tanh())]))"
                return RuleCase(init, "self.layer(x)", (2, width))
            if form == "list":
                return RuleCase(f"nn.ModuleList([nn.Linear({width}, {width}) for _ in range(3)])", "self.layer[2](self.layer[0](x))", (2, width))
            init = f"nn.Sequential(nn.Conv2d({width}, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 2))"
            return RuleCase(init, "self.layer(x)", (2, width, 4, 4))

        return container_case()
