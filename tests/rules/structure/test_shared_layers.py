"""One layer under several attribute names in ``__init__``: ``self.b = self.a`` and the chained
``self.q = self.k = layer`` (monai's SABlock writes ``self.to_q = self.to_k = self.to_v = nn.Identity()`` for
torchscript). A layer with no Flax object (an ``nn.Identity``, whose calls are written out where they happen)
has no attribute in ``setup``, so neither has a name for it: ``self.b = self.a`` was left in and the Flax
module did not initialise (``"M" object has no attribute "a"``), a translation with no diagnostic that
``check`` failed. A chained assignment of such a layer was an X001 stop."""

from __future__ import annotations

import pytest

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

ALIASED_IDENTITY = """\
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Identity()
        self.b = self.a
        self.c = nn.ReLU()
        self.d = self.c
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return self.d(self.lin(self.b(x)))
"""

CHAINED_BY_BRANCH = """\
import torch.nn as nn


class M(nn.Module):
    def __init__(self, combined: bool = True):
        super().__init__()
        if combined:
            self.qkv = nn.Linear(4, 12)
            self.to_q = self.to_k = nn.Identity()
        else:
            self.to_q = nn.Linear(4, 4)
            self.to_k = nn.Linear(4, 4)
            self.qkv = nn.Identity()
        self.combined = combined

    def forward(self, x):
        if self.combined:
            q, k, _ = self.qkv(x).chunk(3, dim=-1)
        else:
            q, k = self.to_q(x), self.to_k(x)
        return q * k
"""

CHAINED_LAYERS = """\
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = self.b = nn.Linear(4, 4)
        self.c = self.d = nn.GELU()
        self.p = self.q = nn.Identity()

    def forward(self, x):
        return self.d(self.b(self.c(self.a(self.p(self.q(x))))))
"""


@pytest.mark.parametrize("source, kwargs, absent, present", [
    (ALIASED_IDENTITY, {}, ["self.a", "self.b"], ["self.d = self.c"]),
    (CHAINED_BY_BRANCH, {"combined": True}, ["__inlined"], ["self.to_k = self.to_q"]),
    (CHAINED_BY_BRANCH, {"combined": False}, ["__inlined"], ["self.to_k = self.to_q"]),
    (CHAINED_LAYERS, {}, ["self.p", "self.q"], ["self.a = nn.Dense(4)\n        self.b = self.a",
                                                 "self.d = self.c"]),
], ids=["aliased-identity", "chained-by-branch-combined", "chained-by-branch-separate", "chained-layers"])
def test_a_layer_named_twice_is_one_layer_in_setup(source, kwargs, absent, present, tmp_path):
    path = tmp_path / "shared.py"
    path.write_text(source)
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    setup = translation.code.split("def setup(self):")[1].split("def __call__")[0]
    for text in absent:
        assert text not in setup, setup
    for text in present:
        assert text in setup, setup
    report = check(str(path), "M", [parse_spec("float32[2,4]")], kwargs, examples=2)
    assert report.ok, report.to_json()
    assert not report.traced  # the source's translation was checked, not the built model's



LOCAL_ACTIVATION = """\
import torch.nn as nn


class M(nn.Module):
    def __init__(self, c: int = 4):
        super().__init__()
        act = nn.SiLU()
        self.conv = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), act, nn.Conv2d(c, c, 3, padding=1), act)

    def forward(self, x):
        return self.conv(x) + x
"""


def test_a_local_activation_twice_in_a_sequential_is_known_where_it_is_used(tmp_path):
    """``act = nn.SiLU()`` named twice in a Sequential (diffusers' AutoencoderTinyBlock): the local is the Flax
    function, each element is known, and the shared runner runs the list (it was an S005 stop)."""
    path = tmp_path / "local.py"
    path.write_text(LOCAL_ACTIVATION)
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    assert "act = nn.silu" in translation.code and "run_sequential(self.conv" in translation.code
    report = check(str(path), "M", [parse_spec("float32[2,4,6,6]")], examples=2)
    assert report.ok and not report.traced, report.to_json()


def test_a_local_assigned_twice_is_not_guessed(tmp_path):
    """Which activation a local reassigned in a branch holds is not known statically: reported, not guessed."""
    path = tmp_path / "branch.py"
    path.write_text(LOCAL_ACTIVATION.replace("        act = nn.SiLU()\n",
                                             "        act = nn.SiLU()\n        if c > 8:\n            act = nn.ReLU()\n"))
    translation = translate_file(str(path))
    assert [d.code for d in translation.diagnostics if d.severity == "error"] == ["S005"], translation.diagnostics
