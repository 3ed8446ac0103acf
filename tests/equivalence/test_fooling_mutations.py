"""Translations that fooled ``check`` before it compared trained-like state, replayed random draws, every
output leaf, every parameter name and every buffer (issue 15): each is caught at the right stage, and the
correct translation of the same source passes, so the failure is the mistake."""

import textwrap

import pytest

from reference_models import CATALOGUE
from translator.equivalence.check import STAGES, check
from translator.equivalence.specs import parse_spec
from translator.rewrite.pipeline import translate_source

BATCH_NORM_CNN = """
import torch.nn as nn


class B(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))
"""

SDPA_DROPOUT = """
import torch.nn as nn
import torch.nn.functional as F


class Attn(nn.Module):
    def __init__(self, dim=8, heads=2, p=0.3):
        super().__init__()
        self.heads = heads
        self.p = p
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, n, d))
"""

TIED_HEAD_FIRST = """
import torch.nn as nn


class Tied(nn.Module):
    def __init__(self, vocab=20, dim=8):
        super().__init__()
        self.head = nn.Linear(dim, vocab, bias=False)
        self.embed = nn.Embedding(vocab, dim)
        self.head.weight = self.embed.weight

    def forward(self, tokens):
        return self.head(self.embed(tokens).tanh())
"""

DROPOUT_MLP = """
import torch.nn as nn


class Drop(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(self.drop(self.fc1(x).relu()))
"""

EMA = """
import torch
import torch.nn as nn


class EMA(nn.Module):
    def __init__(self, dim=4):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.register_buffer("ema", torch.zeros(dim))

    def forward(self, x):
        y = self.fc(x)
        out = y - self.ema
        if self.training:
            self.ema.mul_(0.9).add_(0.1 * y.mean(0).detach())
        return out
"""

EMA_FLAX = """
import flax.linen as nn
import jax
import jax.numpy as jnp


class EMA(nn.Module):
    dim: int = 4

    @nn.compact
    def __call__(self, x, train: bool = False):
        y = nn.Dense(self.dim, name="fc")(x)
        ema = self.variable("buffers", "ema", lambda: jnp.zeros(self.dim))
        out = y - ema.value
        if train:
            ema.value = 0.9 * ema.value + 0.1 * jax.lax.stop_gradient(y.mean(0))
        return out
"""

HEADS = """
import torch.nn as nn


class Heads(nn.Module):
    def __init__(self, dim=6, classes=5):
        super().__init__()
        self.fc = nn.Linear(dim, classes)
        self.proj = nn.Linear(dim, 3)

    def forward(self, x):
        logits = self.fc(x)
        return {"logits": logits, "index": logits.argmax(-1) + 50000, "features": self.proj(x)}
"""

HEADS_FLAX = """
import flax.linen as nn
import jax.numpy as jnp


class Heads(nn.Module):
    dim: int = 6
    classes: int = 5

    def setup(self):
        self.fc = nn.Dense(self.classes)
        self.proj = nn.Dense(3)

    def __call__(self, x):
        logits = self.fc(x)
        return {"logits": logits, "index": jnp.argmax(logits, -1) + 50000, "features": self.proj(x)}
"""

VAE = next(m for m in CATALOGUE if m.class_name == "VAE")


def write(tmp_path, name: str, torch_source: str, flax_source: str | None = None, replace: tuple[str, str] | None = None):
    """The PyTorch file, its correct Flax file (translated unless given) and, with ``replace``, a broken one."""
    torch_file = tmp_path / f"{name}.py"
    torch_file.write_text(textwrap.dedent(torch_source))
    code = textwrap.dedent(flax_source) if flax_source else translate_source(torch_file.read_text(), str(torch_file)).code
    good = tmp_path / f"{name}_flax.py"
    good.write_text(code)
    bad = None
    if replace is not None:
        old, new = replace
        assert old in code, f"the translation no longer contains {old!r}:\n{code}"
        bad = tmp_path / f"{name}_broken.py"
        bad.write_text(code.replace(old, new))
    return torch_file, good, bad


def run(torch_file, class_name, flax_file, spec, train=False, examples=2, stages=STAGES, kwargs=None):
    return check(torch_file, class_name, [parse_spec(spec)], kwargs, flax_source=flax_file, examples=examples, train=train,
                 stages=stages)


@pytest.mark.parametrize("mutation", [
    ("mean, var = running_mean.value, running_var.value", "mean, var = 0 * running_mean.value, running_var.value"),
    ("mean, var = running_mean.value, running_var.value", "mean, var = running_mean.value, 0 * running_var.value + 1"),
], ids=["running-mean-ignored", "running-var-ignored"])
def test_batch_norm_ignoring_running_statistics_is_caught_in_eval_mode(tmp_path, mutation):
    """At PyTorch's initial statistics (mean 0, var 1) these were invisible; trained-like ones show them."""
    torch_file, good, bad = write(tmp_path, "bn", BATCH_NORM_CNN, replace=mutation)
    assert run(torch_file, "B", good, "float32[2,3,6,6]", stages="spec,numeric").ok
    report = run(torch_file, "B", bad, "float32[2,3,6,6]", stages="spec,numeric")
    assert report.verdict == "fail" and report.stage == "numeric"
    assert report.divergence is not None and report.divergence.torch_module == "bn"


def test_attention_scale_wrong_with_sdpa_dropout_is_caught_in_train_mode(tmp_path):
    """Dropout inside SDPA is replayed, not left on: the float32 floor no longer swallows a 64 % error."""
    torch_file, good, bad = write(tmp_path, "attn", SDPA_DROPOUT, replace=("torch_sdpa(q, k, v, ", "torch_sdpa(q, k, v, scale=0.3, "))
    passing = run(torch_file, "Attn", good, "float32[2,5,8]", train=True, stages="spec,numeric")
    assert passing.ok and passing.draws == 1, passing.to_json()
    report = run(torch_file, "Attn", bad, "float32[2,5,8]", train=True, stages="spec,numeric")
    assert report.verdict == "fail" and report.stage == "numeric"
    assert report.errors["output"].max_rel > 1e-2


def test_tied_weight_gradients_zeroed_are_caught(tmp_path):
    """Head registered before the embedding: PyTorch names the tied tensor `head.weight`, the port keeps
    `embed.weight`; both names are compared now."""
    torch_file, good, bad = write(tmp_path, "tied", TIED_HEAD_FIRST,
                                  replace=("return self.embed.attend(", "return jax.lax.stop_gradient(self.embed.attend("))
    bad.write_text("import jax\n" + bad.read_text().replace("self.embed(tokens)))", "self.embed(tokens))))"))
    passing = run(torch_file, "Tied", good, "int64[2,5]:0..20", stages="spec,numeric")
    assert passing.ok
    assert {"grad:head.weight", "grad:embed.weight"} <= passing.compared
    report = run(torch_file, "Tied", bad, "int64[2,5]:0..20", stages="spec,numeric")
    assert report.verdict == "fail" and not report.errors["grad_params"].within(report.tolerance)


def test_ema_buffer_not_updated_is_caught_by_the_api_default(tmp_path):
    torch_file, good, bad = write(tmp_path, "ema", EMA, EMA_FLAX,
                                  replace=("ema.value = 0.9 * ema.value + ", "ema.value = ema.value + 0 * "))
    assert run(torch_file, "EMA", good, "float32[3,4]", train=True).ok
    report = check(torch_file, "EMA", [parse_spec("float32[3,4]")], flax_source=bad, examples=2, train=True)  # API defaults
    assert report.verdict == "fail" and report.stage == "numeric"
    assert not report.errors["state"].within(report.tolerance)


def test_ema_buffer_the_translation_leaves_unchanged_fails(tmp_path):
    """The buffer is ported but the translation never writes it: its value after the forward pass differs."""
    flax_source = """
import flax.linen as nn


class EMA(nn.Module):
    dim: int = 4

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(self.dim, name="fc")(x)
"""
    torch_file, good, _ = write(tmp_path, "ema", EMA, flax_source)
    report = run(torch_file, "EMA", good, "float32[3,4]", train=True, stages="spec,numeric")
    assert report.verdict == "fail" and not report.errors["state"].within(report.tolerance)
    assert "output" in report.compared and "buffer:ema" in report.compared


@pytest.mark.parametrize("mutation, stage", [
    (("jnp.argmax(logits, -1) + 50000", "jnp.argmax(logits, -1) + 50004"), "numeric"),
    (('"features": self.proj(x)}', '"features": self.proj(x).astype(jnp.float16)}'), "spec"),
    ((', "features": self.proj(x)}', "}"), "spec"),
], ids=["integer-off-by-4", "dtype-float16", "dict-key-missing"])
def test_output_values_dtypes_and_structure_are_compared(tmp_path, mutation, stage):
    replace, expected_stage = mutation, stage
    torch_file, good, bad = write(tmp_path, "heads", HEADS, HEADS_FLAX, replace=replace)
    passing = run(torch_file, "Heads", good, "float32[3,6]", stages="spec,numeric")
    assert passing.ok, passing.to_json()
    assert {"output['index']", "output['logits']", "output['features']"} <= passing.compared
    report = run(torch_file, "Heads", bad, "float32[3,6]", stages="spec,numeric")
    assert report.verdict == "fail" and report.stage == expected_stage, report.to_json()


def test_reparameterisation_with_wrong_std_is_caught(tmp_path):
    """Random draws are replayed, not zeroed: `mu + eps * std` is compared with non-zero eps."""
    good = translate_source(VAE.path.read_text(), str(VAE.path)).code
    assert "std = jnp.exp(0.5 * logvar)" in good
    bad = tmp_path / "vae_broken.py"
    bad.write_text(good.replace("std = jnp.exp(0.5 * logvar)", "std = jnp.exp(0.5 * logvar) + 1"))
    specs = [parse_spec(s) for s in VAE.inputs]
    report = check(VAE.path, VAE.class_name, specs, VAE.kwargs, flax_source=bad, examples=2, train=True, stages="spec,numeric")
    assert report.verdict == "fail" and report.stage == "numeric" and report.draws == 1


def test_dropout_rate_changed_is_caught_in_train_mode(tmp_path):
    torch_file, good, bad = write(tmp_path, "drop", DROPOUT_MLP, replace=("nn.Dropout(rate=0.3)", "nn.Dropout(rate=0.5)"))
    assert run(torch_file, "Drop", good, "float32[4,6]", train=True, stages="spec,numeric").ok
    report = run(torch_file, "Drop", bad, "float32[4,6]", train=True, stages="spec,numeric")
    assert report.verdict == "fail" and report.stage == "numeric"
    assert report.divergence is not None and report.divergence.torch_module in ("drop", "fc2")


def test_dropout_left_deterministic_in_train_mode_is_caught(tmp_path):
    torch_file, _, bad = write(tmp_path, "drop", DROPOUT_MLP, replace=("deterministic=not train", "deterministic=True"))
    report = run(torch_file, "Drop", bad, "float32[4,6]", train=True, stages="spec,numeric")
    assert report.verdict == "fail" and report.stage == "spec" and "not drawn by the translation" in report.failure


CONV_NORM_STACK = """
import torch.nn as nn


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(6)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        y = self.act(self.bn(self.conv(x))).mean((2, 3))
        return self.fc(self.norm(y))
"""


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("mutation, module", [
    # GELU becomes a function (no module output to capture): the first captured output after it differs
    (("approximate=False", "approximate=True"), ("act", "norm")),
    (("epsilon=1e-05, ", "epsilon=1e-2, "), ("norm",)),
    (('y = y * self.param("scale"', 'y = 1.5 * y * self.param("scale"'), ("bn",)),
], ids=["gelu-approximation", "layer-norm-eps", "batch-norm-scale"])
def test_a_broken_layer_is_localised_in_both_modes(tmp_path, mutation, module, train):
    torch_file, _, bad = write(tmp_path, "stack", CONV_NORM_STACK, replace=mutation)
    report = run(torch_file, "Stack", bad, "float32[3,3,5,5]", train=train, stages="spec,numeric", examples=3)
    assert report.verdict == "fail" and report.stage == "numeric", report.to_json()
    assert report.divergence is not None and report.divergence.torch_module in module, report.divergence


# --------------------------------------------------------------------------- found in review: draws built from uniforms
DROP_PATH = """
import torch.nn as nn


def drop_path(x, drop_prob: float = 0.0, training: bool = False):
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    return x * x.new_empty(shape).bernoulli_(keep_prob) / keep_prob


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(x + drop_path(self.fc(x), 0.2, self.training))
"""

DROP_PATH_FLAX = """
import flax.linen as nn
import jax


def drop_path(x, rng, drop_prob, train):
    if drop_prob == 0.0 or not train:
        return x
    keep_prob = 1 - drop_prob
    mask = jax.random.bernoulli(rng, keep_prob, (x.shape[0],) + (1,) * (x.ndim - 1))
    return x * mask / keep_prob


class Res(nn.Module):
    def setup(self):
        self.fc = nn.Dense(8)
        self.head = nn.Dense(3)

    def __call__(self, x, train: bool = False):
        return self.head(x + drop_path(self.fc(x), self.make_rng("dropout") if train else None, 0.2, train))
"""

RANDOM_TOKENS = """
import torch
import torch.nn as nn


class RandInt(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)

    def forward(self, x):
        return self.emb(torch.randint(0, 10, x.shape)) + x.unsqueeze(-1)
"""

RANDOM_TOKENS_FLAX = """
import flax.linen as nn
import jax


class RandInt(nn.Module):
    def setup(self):
        self.emb = nn.Embed(10, 4)

    def __call__(self, x):
        return self.emb(jax.random.randint(self.make_rng("noise"), x.shape, 0, 10)) + x[..., None]
"""

LAYER_SCALE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.gamma = nn.Parameter(1e-6 * torch.ones(d))
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        return self.head(x + self.gamma * self.fc2(F.gelu(self.fc1(x))))
"""

UNRECORDED = """
import torch
import torch.nn as nn


class Jitter(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        h = self.fc(x)
        return h + 1e-4 * torch.empty_like(h).exponential_()
"""

UNRECORDED_FLAX = """
import flax.linen as nn


class Jitter(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(8, name="fc")(x)  # the noise dropped
"""


def test_a_bernoulli_with_the_wrong_probability_is_caught(tmp_path):
    """Masks are `u < p` from PyTorch's uniforms on both sides: a translation asking for p=0.2 where PyTorch keeps
    0.8 gets other masks (the replayed mask used to ignore the translation's p)."""
    torch_file, good, bad = write(tmp_path, "res", DROP_PATH, DROP_PATH_FLAX,
                                  replace=("jax.random.bernoulli(rng, keep_prob,", "jax.random.bernoulli(rng, drop_prob,"))
    assert run(torch_file, "Res", good, "float32[4,8]", train=True, stages="spec,numeric").ok
    report = run(torch_file, "Res", bad, "float32[4,8]", train=True, stages="spec,numeric")
    assert report.verdict == "fail" and report.stage == "numeric"


def test_random_integers_with_the_wrong_range_are_caught(tmp_path):
    torch_file, good, bad = write(tmp_path, "tokens", RANDOM_TOKENS, RANDOM_TOKENS_FLAX, replace=("x.shape, 0, 10)", "x.shape, 0, 5)"))
    assert run(torch_file, "RandInt", good, "float32[3,5]", stages="spec,numeric").ok
    report = run(torch_file, "RandInt", bad, "float32[3,5]", stages="spec,numeric")
    assert report.verdict == "fail" and report.stage == "numeric"


def test_a_branch_behind_a_tiny_layer_scale_is_compared(tmp_path):
    """A layer scale of 1e-6 gets a trained-like magnitude: a translation that stops the gradient into the
    branch it gates (or changes its activation) no longer hides behind it."""
    torch_file, good, bad = write(tmp_path, "block", LAYER_SCALE, replace=("self.fc2(nn.gelu(", "self.fc2(jax.lax.stop_gradient(nn.gelu("))
    code = bad.read_text()
    bad.write_text("import jax\n" + code.replace("approximate=False)))", "approximate=False))))", 1))
    assert run(torch_file, "Block", good, "float32[4,8]", stages="spec,numeric").ok
    report = run(torch_file, "Block", bad, "float32[4,8]", stages="spec,numeric")
    assert report.verdict == "fail" and not report.errors["grad_params"].within(report.tolerance)


def test_randomness_check_cannot_record_is_inconclusive_never_a_pass(tmp_path):
    torch_file, flax_file, _ = write(tmp_path, "jitter", UNRECORDED, UNRECORDED_FLAX)
    report = run(torch_file, "Jitter", flax_file, "float32[4,8]", stages="spec,numeric")
    assert report.verdict == "inconclusive" and "does not record" in report.failure


def test_torch_normal_gives_no_gradient_as_in_pytorch(tmp_path):
    """`torch.normal(mu, 0.5)` has no gradient to `mu` in PyTorch: the faithful translation stops it."""
    source = """
import torch
import torch.nn as nn


class Norm(nn.Module):
    def __init__(self):
        super().__init__()
        self.mu = nn.Linear(8, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(torch.normal(self.mu(x), 0.5))
"""
    faithful = """
import flax.linen as nn
import jax


class Norm(nn.Module):
    def setup(self):
        self.mu = nn.Dense(4)
        self.out = nn.Dense(2)

    def __call__(self, x):
        mu = jax.lax.stop_gradient(self.mu(x))
        return self.out(mu + 0.5 * jax.random.normal(self.make_rng("noise"), mu.shape))
"""
    torch_file, good, bad = write(tmp_path, "norm", source, faithful, replace=("jax.lax.stop_gradient(self.mu(x))", "self.mu(x)"))
    assert run(torch_file, "Norm", good, "float32[4,8]", stages="spec,numeric").ok
    assert run(torch_file, "Norm", bad, "float32[4,8]", stages="spec,numeric").verdict == "fail"


def test_in_place_dropout_keeps_pytorchs_gradient(tmp_path):
    source = """
import torch.nn as nn


class InplaceDrop(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.drop = nn.Dropout(0.3, inplace=True)
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc2(self.drop(self.fc(x)).tanh())
"""
    torch_file, good, _ = write(tmp_path, "inplace", source)
    report = run(torch_file, "InplaceDrop", good, "float32[4,8]", train=True, stages="spec,numeric")
    assert report.ok and report.draws == 1, report.to_json()
