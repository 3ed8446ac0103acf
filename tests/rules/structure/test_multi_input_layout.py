"""S004 across modules for forwards of several inputs: a U-Net's up block (`forward(self, x1, x2)`) takes both
channels-last, a time-conditioned block (`forward(self, x, t)`) takes `x` channels-last and `t` as it is, and
the callers pass their channels-last values straight in (by position, by keyword, from a ModuleList loop).
Shapes of channels-last values are read in place (`x.size()[2]`, `x.shape[-1]`, `n, c, h, w = x.shape`).
Each model is translated, the transposes in the methods that matter counted, and checked against PyTorch
(outputs and gradients)."""

from __future__ import annotations

import re
import textwrap

import pytest

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"

DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)
"""

# milesial/Pytorch-UNet's up block: the skip's size read with `.size()[i]`, the upsampled map padded to it
UNET = DOUBLE_CONV + """

class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_channels=3, n_classes=2):
        super().__init__()
        self.inc = DoubleConv(n_channels, 8)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(8, 16))
        self.up1 = Up(16, 8)
        self.outc = nn.Conv2d(8, n_classes, kernel_size=1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x = self.up1(x2, x1)
        return self.outc(x)
"""

# a diffusion model's residual block: the time embedding stays in PyTorch's layout; called by keyword and
# from a ModuleList; a flag with a default is passed as it is
TIME = """
class TimeBlock(nn.Module):
    def __init__(self, c, emb):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.emb = nn.Linear(emb, c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x, t, use_time=True):
        h = F.silu(self.conv1(x))
        n, c, height, width = h.shape
        if use_time:
            h = h + self.emb(t)[:, :, None, None]
        return x + self.conv2(h) * (c / width)


class Net(nn.Module):
    def __init__(self, c=4, emb=3):
        super().__init__()
        self.stem = nn.Conv2d(2, c, 3, padding=1)
        self.first = TimeBlock(c, emb)
        self.blocks = nn.ModuleList([TimeBlock(c, emb) for _ in range(2)])
        self.head = nn.Conv2d(c, 2, 1)

    def forward(self, x, t):
        h = self.first(self.stem(x), t=t)
        for block in self.blocks:
            h = block(h, t)
        return self.head(h)
"""


def method_source(code: str, cls: str, method: str) -> str:
    """The source of ``cls.method`` in a translation after `def method(` (up to the next method or class)."""
    body = code.split(f"class {cls}(", 1)[1]
    body = body.split(f"    def {method}(", 1)[1]
    return re.split(r"\n    def |\nclass |\n# Support code", body, maxsplit=1)[0]


def translated(tmp_path, name: str, source: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(source))
    translation = translate_file(str(path))
    assert translation.ok, translation.diagnostics
    return translation.code


def test_a_unet_up_block_takes_both_inputs_channels_last(tmp_path):
    code = translated(tmp_path, "unet", UNET)
    up = method_source(code, "Up", "channels_last")
    assert up.startswith("self, x1, x2"), up
    assert "jnp.transpose" not in up  # sizes read in place, the skip joined channels-last
    assert "x2.shape[1] - x1.shape[1]" in up and "jnp.concatenate([x2, x1], axis=3)" in up
    boundary = method_source(code, "Up", "__call__")
    assert boundary.count("jnp.transpose(") == 3  # both inputs in, the result out
    model = method_source(code, "UNet", "__call__")
    assert "self.up1.channels_last(x2, x1, train=train)" in model
    assert model.count("jnp.transpose(") == 2  # the model's input and output only
    path = str(tmp_path / "unet.py")
    for cls, specs in (("UNet", ["float32[2,3,8,8]"]), ("Up", ["float32[2,16,3,4]", "float32[2,8,7,9]"])):
        kwargs = {"cin": 16, "cout": 8} if cls == "Up" else None
        report = check(path, cls, [parse_spec(s) for s in specs], kwargs=kwargs, examples=2)
        assert report.ok, report.to_json()


def test_a_conditioned_block_takes_its_map_channels_last_and_the_rest_as_passed(tmp_path):
    code = translated(tmp_path, "time", TIME)
    block = method_source(code, "TimeBlock", "channels_last")
    assert block.startswith("self, x, t, use_time=True"), block
    assert "n, height, width, c = h.shape" in block
    boundary = method_source(code, "TimeBlock", "__call__")
    assert "jnp.transpose(x, (0, 2, 3, 1)), t, use_time" in boundary
    model = method_source(code, "Net", "__call__")
    assert "self.first.channels_last(self.stem(jnp.transpose(x, (0, 2, 3, 1))), t=t)" in model
    # the loop over the ModuleList keeps `h` channels-last from pass to pass (S004 in loops)
    assert "for block in self.blocks:\n            h = block.channels_last(h, t)\n" in model
    assert model.count("jnp.transpose(") == 2
    report = check(str(tmp_path / "time.py"), "Net", [parse_spec("float32[2,2,5,6]"), parse_spec("float32[2,3]")], examples=2)
    assert report.ok, report.to_json()
    # the block on its own: the boundary moves `x` and passes `t` as it is
    report = check(str(tmp_path / "time.py"), "TimeBlock", [parse_spec("float32[2,4,5,6]"), parse_spec("float32[2,3]")],
                   kwargs={"c": 4, "emb": 3}, examples=2)
    assert report.ok, report.to_json()


def test_a_call_whose_arguments_cannot_be_bound_keeps_pytorchs_layout(tmp_path):
    code = translated(tmp_path, "star", TIME.replace(
        "        for block in self.blocks:\n            h = block(h, t)",
        "        for block in self.blocks:\n            h = block(*(h, t))",
    ))
    model = method_source(code, "Net", "__call__")
    assert "block(*(" in model and "block.channels_last(*" not in model
    report = check(str(tmp_path / "star.py"), "Net", [parse_spec("float32[2,2,5,6]"), parse_spec("float32[2,3]")], examples=2)
    assert report.ok, report.to_json()


@pytest.mark.parametrize(("dim", "joined"), [(1, "axis=1"), (-3, "axis=-3"), (2, "axis=2")])
def test_a_cat_of_one_channels_last_and_one_plain_value_joins_in_pytorchs_layout(dim, joined, tmp_path):
    """A tie keeps PyTorch's layout (the result may go anywhere); only a module's plan takes the plain input
    channels-last, as in the U-Net above."""
    code = translated(tmp_path, "cat", f"""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(2, 2, 3, padding=1)

            def forward(self, x):
                return torch.cat([self.conv(x), x], dim={dim})
        """)
    model = method_source(code, "Net", "__call__")
    assert joined in model and model.count("jnp.transpose(") == 2
    report = check(str(tmp_path / "cat.py"), "Net", [parse_spec("float32[2,2,4,4]")], examples=2)
    assert report.ok, report.to_json()


# a DDPM U-Net as tutorials write it: the block's input goes through a GroupNorm first and into the residual,
# the time embedding (a `forward` argument's projection, rank unknown) is broadcast with `[:, :, None, None]`,
# and the down block returns a tuple (the downsampled map and the skip)
DIFFUSION = """
class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.norm1 = nn.GroupNorm(2, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(2, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, t):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(t))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class Down(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.res = ResBlock(cin, cout, tdim)
        self.down = nn.Conv2d(cout, cout, 3, stride=2, padding=1)

    def forward(self, x, t):
        h = self.res(x, t)
        return self.down(h), h


class TinyUNet(nn.Module):
    def __init__(self, ch=4, tdim=6):
        super().__init__()
        self.time = nn.Sequential(nn.Linear(tdim, tdim), nn.SiLU())
        self.inc = nn.Conv2d(3, ch, 3, padding=1)
        self.down1 = Down(ch, ch * 2, tdim)
        self.mid = ResBlock(ch * 2, ch * 2, tdim)
        self.up = nn.ConvTranspose2d(ch * 2, ch * 2, 2, stride=2)
        self.dec = ResBlock(ch * 4, ch, tdim)
        self.out = nn.Conv2d(ch, 3, 1)

    def forward(self, x, t):
        temb = self.time(t)
        d, skip = self.down1(self.inc(x), temb)
        u = self.up(self.mid(d, temb))
        return self.out(self.dec(torch.cat([u, skip], dim=1), temb))
"""


def test_a_diffusion_unet_runs_channels_last_from_its_input_to_its_output(tmp_path):
    """Three causes of transposes between modules, each fixed: a block input that a GroupNorm (any rank) and
    a convolution (rank 4) both take is taken at rank 4; `emb[:, :, None, None]` meets the map channels-last
    as `emb[:, None, None, :]`; a forward returning a tuple of channels-last maps is planned too."""
    code = translated(tmp_path, "diffusion", DIFFUSION)
    block = method_source(code, "ResBlock", "channels_last")
    assert "h = h + self.temb(nn.silu(t))[:, None, None, :]" in block, block
    assert "jnp.transpose" not in block and "moveaxis" not in block
    down = method_source(code, "Down", "channels_last")
    assert "return self.down(h), h" in down and "jnp.transpose" not in down
    assert "tuple(\n" in method_source(code, "Down", "__call__")  # each item moved back at the boundary
    model = method_source(code, "TinyUNet", "__call__")
    assert "d, skip = self.down1.channels_last(" in model
    assert "jnp.concatenate([u, skip], axis=3)" in model
    assert model.count("jnp.transpose(") == 2, model  # the model's input and output only
    path = str(tmp_path / "diffusion.py")
    for cls, specs, kwargs in (
        ("TinyUNet", ["float32[2,3,8,8]", "float32[2,6]"], None),
        ("Down", ["float32[2,4,6,6]", "float32[2,6]"], {"cin": 4, "cout": 8, "tdim": 6}),
    ):
        report = check(path, cls, [parse_spec(s) for s in specs], kwargs=kwargs, examples=2)
        assert report.ok, report.to_json()


def test_a_tuple_with_a_plain_item_is_returned_in_pytorchs_layout(tmp_path):
    code = translated(tmp_path, "pair", """
        class Pair(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(2, 4, 3, padding=1)
                self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

            def forward(self, x, scale):
                h = self.conv2(self.conv(x))
                return h * scale, h.flatten(1)


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.pair = Pair()
                self.conv = nn.Conv2d(4, 2, 1)

            def forward(self, x):
                h, flat = self.pair(x, 2.0)
                return self.conv(h), flat.sum(1)
        """)
    pair = code.split("class Pair(", 1)[1].split("class Net(", 1)[0]
    assert "def channels_last" not in pair and "return (h * scale, " not in pair
    report = check(str(tmp_path / "pair.py"), "Net", [parse_spec("float32[2,2,5,5]")], examples=2)
    assert report.ok, report.to_json()


def test_a_per_channel_subscript_of_higher_rank_is_not_passed_silently(tmp_path):
    """`v[:, :, None, None]` is read as rank 4 where `v`'s rank is unknown (the idiom); a `v` of rank 3 makes a
    rank-5 result in PyTorch, which the translation's rank-4 layout cannot hold: `check` fails, loudly."""
    translated(tmp_path, "rank", """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(2, 3, 3, padding=1)
                self.emb = nn.Linear(4, 3)

            def forward(self, x, t):
                return self.conv(x) + self.emb(t)[:, :, None, None]
        """)
    path = str(tmp_path / "rank.py")
    assert check(path, "Net", [parse_spec("float32[2,2,5,5]"), parse_spec("float32[2,4]")], examples=2).ok
    report = check(path, "Net", [parse_spec("float32[2,2,5,5]"), parse_spec("float32[2,1,4]")], examples=2)
    assert not report.ok, report.to_json()


# the block above with an identity skip: `x` reaches a layer of known rank only through the GroupNorm
PRE_NORM = DIFFUSION.split("\n\nclass Down", 1)[0].replace(
    "        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()\n", "").replace(
    "return h + self.skip(x)", "return x + h") + """

class Net(nn.Module):
    def __init__(self, c=4, tdim=6):
        super().__init__()
        self.inc = nn.Conv2d(3, c, 3, padding=1)
        self.b1 = ResBlock(c, c, tdim)
        self.b2 = ResBlock(c, c, tdim)
        self.out = nn.Conv2d(c, 3, 1)

    def forward(self, x, t):
        return self.out(self.b2(self.b1(self.inc(x), t), t))
"""


def test_a_pre_norm_block_learns_its_inputs_rank_from_the_conv_after_the_norm(tmp_path):
    """`x` reaches a layer of known rank only through a GroupNorm (any rank) and an activation, and is added
    to the block's output: the conv after the norm says `x` has rank 4 (`Fact.rank_of`), so the block is
    planned channels-last and the model transposes at its input and output only."""
    code = translated(tmp_path, "prenorm", PRE_NORM)
    block = method_source(code, "ResBlock", "channels_last")
    assert "jnp.transpose" not in block and "moveaxis" not in block and "self.skip" not in block, block
    model = method_source(code, "Net", "__call__")
    assert model.count("jnp.transpose(") == 2, model
    report = check(str(tmp_path / "prenorm.py"), "Net", [parse_spec("float32[2,3,6,6]"), parse_spec("float32[2,6]")], examples=2)
    assert report.ok, report.to_json()
