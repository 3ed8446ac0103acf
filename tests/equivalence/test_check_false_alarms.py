"""False alarms of ``check`` on correct translations (issue 15, items 7 and 8).

7. The localiser read a channels-last Flax output as NCHW whenever the two layouts have the same
   shape (as many channels as each spatial size: a conv with 8 channels on an 8x8 map), and
   reported a correct ``conv`` as the first divergence (rel 1.82).  Two more localiser false
   alarms of the same family: a layer called twice had every PyTorch call compared with Flax's
   first call, and in train mode a translation without a ``train`` argument made it raise.
8. A learned token initialised from ``torch.randn`` (``nn.Parameter(torch.randn(1, 1, d))``,
   translated to ``self.param(..., lambda key: jax.random.normal(key, ...))``) failed the spec stage
   with "random draws differ": Flax's ``apply`` evaluates a parameter's init function to check its
   shape, and that sampler call took (or ran past) PyTorch's recorded forward draws.
"""

import textwrap

import numpy as np
import pytest

from translator.equivalence.check import build_pair, check
from translator.equivalence.localise import as_torch_layout, localise
from translator.equivalence.specs import parse_spec
from translator.equivalence.tolerance import Tolerance
from translator.rewrite.pipeline import translate_source

# ------------------------------------------------------------------ 7: channels-last read back

CONV_BN_POOL = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, c=8):
            super().__init__()
            self.conv = nn.Conv2d(3, c, 3, padding=1)
            self.bn = nn.BatchNorm2d(c)
            self.pool = nn.AvgPool2d(3, 2, 1, count_include_pad=COUNT_INCLUDE_PAD)
            self.fc = nn.Linear(c * 4 * 4, 10)

        def forward(self, x):
            x = self.pool(self.bn(self.conv(x)))
            return self.fc(torch.flatten(x, 1))
    """
)
SPECS = [parse_spec("float32[4,3,8,8]")]  # 8 channels on an 8x8 map: NCHW and NHWC are both (4, 8, 8, 8)


def conv_bn_pool(tmp_path, count_include_pad: bool = False):
    path = tmp_path / f"net_{'pad' if count_include_pad else 'nopad'}.py"
    path.write_text(CONV_BN_POOL.replace("COUNT_INCLUDE_PAD", str(count_include_pad)))
    return path


def test_channels_last_output_is_read_back_when_the_shapes_coincide():
    nchw = np.random.default_rng(0).standard_normal((4, 8, 8, 8)).astype(np.float32)
    nhwc = np.ascontiguousarray(np.moveaxis(nchw, 1, -1))
    np.testing.assert_array_equal(as_torch_layout(nhwc, nchw), nchw)
    np.testing.assert_array_equal(as_torch_layout(nchw, nchw), nchw)  # a plain output stays as it is


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_localiser_finds_no_divergence_in_a_correct_conv_batchnorm_model(tmp_path, train):
    pair, _ = build_pair(conv_bn_pool(tmp_path), "Net", SPECS, {"c": 8}, train=train)
    x = np.random.default_rng(1).standard_normal((4, 3, 8, 8)).astype(np.float32)
    divergence = localise(pair, (x,), Tolerance())
    assert divergence is None, divergence.describe()


def test_check_localises_a_wrong_layer_past_a_square_conv(tmp_path):
    """The translation of the count_include_pad=True model checked against the False one: the pool
    differs (it is inline, not a Flax module), so the first captured output that differs is `fc`;
    `conv` and `bn` are right and must not be blamed."""
    source = conv_bn_pool(tmp_path, count_include_pad=False)
    wrong = tmp_path / "wrong_flax.py"
    wrong.write_text(translate_source(conv_bn_pool(tmp_path, count_include_pad=True).read_text(), "net.py").code)
    report = check(source, "Net", SPECS, {"c": 8}, flax_source=wrong, examples=1, train=True, stages="spec,numeric")
    assert report.stages["numeric"].status == "failed", report.failure
    assert report.divergence is not None
    assert report.divergence.torch_module == "fc", report.divergence.describe()


SHARED_LAYER = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 5)

        def forward(self, x):
            return self.fc(torch.tanh(self.fc(x)))
    """
)


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_localiser_pairs_each_call_of_a_shared_layer_and_runs_without_a_train_argument(tmp_path, train):
    """Each PyTorch call of a layer is compared with the same call on the Flax side (not always the
    first); in train mode a translation whose ``__call__`` takes no ``train`` is still run."""
    path = tmp_path / "twice.py"
    path.write_text(SHARED_LAYER)
    pair, _ = build_pair(path, "Twice", [parse_spec("float32[3,5]")], train=train)
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    divergence = localise(pair, (x,), Tolerance())
    assert divergence is None, divergence.describe()


# ------------------------------------------------------------------ 8: a learned token drawn from randn

TOKENS = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Repeat(nn.Module):
        def __init__(self, d=4):
            super().__init__()
            self.cls = nn.Parameter(torch.randn(1, 1, d))

        def forward(self, x):
            return torch.cat([self.cls.repeat(x.shape[0], 1, 1), x], dim=1)


    class Expand(nn.Module):
        def __init__(self, d=4):
            super().__init__()
            self.cls = nn.Parameter(torch.randn(1, 1, d))

        def forward(self, x):
            return torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)


    class Interleave(nn.Module):
        def __init__(self, d=4):
            super().__init__()
            self.cls = nn.Parameter(torch.randn(1, 1, d))

        def forward(self, x):
            return torch.cat([torch.repeat_interleave(self.cls, x.shape[0], dim=0), x], dim=1)


    class NoisyToken(nn.Module):
        # a randn-initialised token and a forward draw: the draw must reach the translation's sampler
        def __init__(self, d=4):
            super().__init__()
            self.cls = nn.Parameter(torch.randn(1, 1, d))

        def forward(self, x):
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
            return x + 0.1 * torch.randn_like(x)
    """
)


@pytest.fixture
def tokens(tmp_path):
    path = tmp_path / "tokens.py"
    path.write_text(TOKENS)
    return path


@pytest.mark.parametrize("class_name", ["Repeat", "Expand", "Interleave", "NoisyToken"])
def test_a_token_initialised_from_randn_passes_spec_and_numeric(tokens, class_name):
    report = check(tokens, class_name, [parse_spec("float32[B,3,4]")], examples=2, stages="spec,numeric")
    assert report.stages["spec"].status == "passed", report.failure
    assert report.stages["numeric"].status == "passed", report.failure
    assert report.ok, report.failure


def test_a_token_initialised_from_randn_passes_the_behavioral_stage(tokens):
    report = check(tokens, "Expand", [parse_spec("float32[B,3,4]")], examples=1, stages="spec,numeric,behavioral")
    assert report.stages["behavioral"].status == "passed", report.failure
    assert report.ok, report.failure
