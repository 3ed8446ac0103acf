"""Optional layers (rule S015) and containers grown in ``__init__`` (rule S005): the vit-pytorch shapes."""

import textwrap

import pytest

from translator.cli import main
from translator.rewrite.pipeline import translate_source

VIT_BLOCKS = textwrap.dedent('''\
    import torch
    from torch import nn
    from torch.nn import Module, ModuleList


    class FeedForward(Module):
        def __init__(self, dim, hidden_dim, dropout=0.0):
            super().__init__()
            self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_dim, dim))

        def forward(self, x):
            return self.net(x)


    class Attention(Module):
        def __init__(self, dim, heads=8, dim_head=64):
            super().__init__()
            inner = dim_head * heads
            project_out = not (heads == 1 and dim_head == dim)
            self.heads = heads
            self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
            self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(0.1)) if project_out else nn.Identity()

        def forward(self, x):
            b, n, _ = x.shape
            q, k, v = self.to_qkv(x).chunk(3, dim=-1)
            q, k, v = (t.reshape(b, n, self.heads, -1).transpose(1, 2) for t in (q, k, v))
            out = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
            return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


    class Transformer(Module):
        def __init__(self, dim, depth, heads, dim_head, mlp_dim, num_classes=0):
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.layers = ModuleList([])
            for _ in range(depth):
                self.layers.append(ModuleList([Attention(dim, heads=heads, dim_head=dim_head), FeedForward(dim, mlp_dim)]))
            self.to_latent = nn.Identity()
            self.head = nn.Linear(dim, num_classes) if num_classes > 0 else None

        def forward(self, x):
            for attn, ff in self.layers:
                x = attn(x) + x
                x = ff(x) + x
            x = self.to_latent(self.norm(x))
            if self.head is None:
                return x
            return self.head(x)
''')


def test_grown_container_becomes_a_local_list_assigned_once():
    translation = translate_source(VIT_BLOCKS, "vit_blocks.py")
    assert not translation.errors, translation.diagnostics
    code = translation.code
    assert "        layers = []\n" in code and "            layers.append(\n" in code and "self.layers = layers" in code
    assert "self.layers.append" not in code
    assert "self.to_out = None" in code  # the identity branch
    assert "to_latent" not in code  # an attribute that is always the identity needs no line at all
    assert "lambda _v: _v if self.to_out is None else run_sequential(self.to_out, _v, train=train)" in code


@pytest.mark.parametrize(
    ("kwargs", "projects"),
    [('{"dim": 8, "depth": 2, "heads": 2, "dim_head": 4, "mlp_dim": 16, "num_classes": 3}', True),
     ('{"dim": 8, "depth": 1, "heads": 1, "dim_head": 8, "mlp_dim": 16}', False)],
)
def test_both_branches_check_against_pytorch(tmp_path, capsys, kwargs, projects):
    path = tmp_path / "vit_blocks.py"
    path.write_text(VIT_BLOCKS)
    args = ["check", str(path), "--class", "Transformer", "--kwargs", kwargs, "--input", "float32[2,5,8]", "--examples", "2"]
    assert main([*args, "--stages", "spec,numeric"]) == 0, capsys.readouterr()


def test_a_none_test_of_an_attribute_that_may_be_the_identity_is_reported():
    source = textwrap.dedent('''\
        from torch import nn


        class Net(nn.Module):
            def __init__(self, project=True):
                super().__init__()
                self.proj = nn.Linear(4, 4) if project else nn.Identity()

            def forward(self, x):
                if self.proj is not None:
                    x = self.proj(x)
                return x
    ''')
    translation = translate_source(source, "net.py")
    assert [(d.code, d.line) for d in translation.errors] == [("S015", 10)]


def test_an_inline_layer_in_a_branch_other_than_the_identity_is_still_reported():
    source = textwrap.dedent('''\
        from torch import nn


        class Net(nn.Module):
            def __init__(self, gelu=True):
                super().__init__()
                self.act = nn.GELU() if gelu else nn.ReLU()

            def forward(self, x):
                return self.act(x)
    ''')
    translation = translate_source(source, "net.py")
    assert translation.errors and all(d.line in (7, 10) for d in translation.errors), translation.diagnostics


def test_sequential_elements_chosen_at_run_time_and_grown_containers_match_pytorch():
    from translator.equivalence.rule_cases import compare_case
    from translator.rules.base import RuleCase

    prelude = "def FeedForward(dim):\n    return nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(0.1))\n"
    init = "nn.ModuleList([nn.ModuleList([nn.Linear(3, 3), FeedForward(3)]) for _ in range(2)])"
    compare_case(RuleCase(init, "sum(ff(lin(x)) for lin, ff in self.layer)", (2, 3), prelude=prelude))
    grown = "nn.ModuleList([])\nfor _ in range(2):\n    self.layer.append(nn.Linear(3, 3))\nself.layer += [nn.Linear(3, 2)]"
    compare_case(RuleCase(grown, "self.layer[2](self.layer[1](self.layer[0](x)))", (2, 3)))


def test_an_optional_layer_matches_pytorch_in_both_configurations():
    from translator.equivalence.rule_cases import compare_case
    from translator.rules.base import RuleCase

    for present in (True, False):
        init = "nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.1)) if PROJECT else nn.Identity()"
        compare_case(RuleCase(init, "self.layer(torch.tanh(x)) * 2.0", (2, 4, 3), prelude=f"PROJECT = {present}\n"))


def test_enumerate_over_a_container_of_pairs_binds_both_elements():
    source = VIT_BLOCKS.replace("for attn, ff in self.layers:", "for index, (attn, ff) in enumerate(self.layers):")
    translation = translate_source(source, "vit_blocks.py")
    assert not translation.errors, translation.diagnostics
    assert "x = attn(x, train=train) + x" in translation.code


def test_diagnostics_inside_generated_methods_point_at_the_users_call():
    source = textwrap.dedent('''\
        from torch import nn


        class Tokenizer(nn.Module):
            def __init__(self, activation=None):
                super().__init__()
                self.conv_layers = nn.Sequential(*[
                    nn.Sequential(nn.Linear(3, 3), nn.Identity() if activation is None else activation())
                    for _ in range(2)
                ])

            def forward(self, x):
                return self.conv_layers(x)
    ''')
    translation = translate_source(source, "tok.py")
    assert translation.errors and all(d.line > 1 for d in translation.diagnostics), translation.diagnostics


def test_a_container_grown_where_it_cannot_become_a_local_is_reported():
    source = textwrap.dedent('''\
        from torch import nn


        class Net(nn.Module):
            def __init__(self, deep=True):
                super().__init__()
                if deep:
                    self.layers = nn.ModuleList()
                else:
                    self.layers = nn.ModuleList([nn.Linear(3, 3)])
                self._grow()
                self.layers.append(nn.Linear(3, 3))

            def _grow(self):
                self.layers.append(nn.Linear(3, 3))

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
    ''')
    translation = translate_source(source, "net.py")
    grown = sorted(d.line for d in translation.errors if d.code == "S005" and "is grown after it is assigned" in d.message)
    assert grown == [12, 15], translation.diagnostics
