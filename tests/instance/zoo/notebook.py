"""Model classes as exercise notebooks write them (each pattern stops the source translation)."""


import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class PositionalEncoding(nn.Module):
    """The standard sinusoidal table, filled by slice assignment; numpy on a constant."""

    def __init__(self, d_model=8, max_len=16):
        super().__init__()
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-np.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.pe = pe.unsqueeze(0)  # a plain attribute, not a buffer
        self.freq = torch.arange(d_model).float() / d_model
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        return self.proj(x + self.pe[:, : x.size(1)]) * self.freq


class LayerNorm2d(nn.LayerNorm):
    """A subclass of a torch layer with its own forward (channels-first layer norm)."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class InitInHelper(nn.Module):
    """nn.init in a helper __init__ calls, a Parameter made in a lambda, a computed pad tuple,
    Sequential(*layers) holding a norm layer, a subclassed torch layer."""

    def __init__(self, channels=4, pad=1):
        super().__init__()
        make = lambda n: nn.Parameter(torch.randn(n) * 0.1)  # noqa: E731 (the notebook pattern)
        self.gain = make(channels)
        self.pad = tuple([pad] * 4)
        self.conv = nn.Conv2d(channels, channels, 3)
        self.norm = LayerNorm2d(channels)
        layers = [nn.Linear(channels, 8), nn.BatchNorm1d(8), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        self._init_weights()

    def _init_weights(self):
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                nn.init.zeros_(module.bias)

    def forward(self, x):
        x = F.pad(x, self.pad, mode="reflect")
        x = self.norm(self.conv(x)) * self.gain.view(1, -1, 1, 1)
        return self.mlp(x.mean(dim=(2, 3)))


class MoEConfig:
    def __init__(self, dim=8, experts=3, top_k=2):
        self.dim, self.experts, self.top_k = dim, experts, top_k


class Router(nn.Module):
    """A config object's attributes read in forward; experts in a ModuleDict iterated with .items()."""

    def __init__(self, config=None):
        super().__init__()
        self.config = config or MoEConfig()
        self.gate = nn.Linear(self.config.dim, self.config.experts)
        self.experts = nn.ModuleDict({f"e{i}": nn.Linear(self.config.dim, self.config.dim) for i in range(self.config.experts)})

    def forward(self, x):
        weights = F.softmax(self.gate(x), dim=-1)
        outputs = {}
        for i, (name, expert) in enumerate(self.experts.items()):
            outputs[name] = expert(x) * weights[..., i : i + 1]
        return sum(outputs.values()) / self.config.top_k


class LoRALinear(nn.Module):
    """A wrapper whose constructor takes a module (built with --build)."""

    def __init__(self, base, rank=2, alpha=4.0):
        super().__init__()
        self.base = base
        self.down = nn.Linear(base.in_features, rank, bias=False)
        self.up = nn.Linear(rank, base.out_features, bias=False)
        self.scaling = alpha / rank

    def forward(self, x):
        return self.base(x) + self.up(self.down(x)) * self.scaling


class Hooked(nn.Module):
    """A forward pre-hook of the user's (it doubles the input): reported, never dropped."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.fc.register_forward_pre_hook(lambda module, args: (args[0] * 2,))

    def forward(self, x):
        return self.fc(x).relu().sum(-1).exp().log()


class DataDependent(nn.Module):
    """Control flow on a tensor's value: fx cannot trace it; reported at the line."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.table = {"k": 1}

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x) * self.table["k"]
        return self.fc(-x)


class FrozenDraw(nn.Module):
    """A draw whose arguments are constants: tracing would freeze it; reported."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.table = {"k": 1}

    def forward(self, x):
        return self.fc(x) + torch.randn(4) * self.table["k"]


class TinyTransformer(nn.Module):
    """The notebook classic: an embedding, the sinusoidal table as a plain attribute, torch's encoder."""

    def __init__(self, vocab=11, d_model=8, heads=2, layers=2, max_len=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len).unsqueeze(1).float()
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.pe = pe
        layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):
        x = self.embed(tokens) * math.sqrt(self.embed.embedding_dim) + self.pe[: tokens.size(1)]
        return self.head(self.encoder(x))


class CellStack(nn.Module):
    """A container built by concatenating lists over two lines (S005 in the source: its elements are unknown)."""

    def __init__(self, a=4, b=8, n=3):
        super().__init__()
        self.cells = nn.ModuleList([nn.LSTMCell(a, b)] +
                                   [nn.LSTMCell(b, b) for _ in range(n - 1)])

    def forward(self, x):
        h = x
        for cell in self.cells:
            h, _ = cell(h)
        return h


class ScaleMixture(nn.Module):
    """Per-branch scales in a ParameterList grown in a loop, gates in a ParameterDict (translated from the
    source when written as one list; from the built model when grown like this)."""

    def __init__(self, dims=(3, 4)):
        super().__init__()
        self.scales = nn.ParameterList()
        for d in dims:
            self.scales.append(nn.Parameter(torch.ones(d) + 0.1 * torch.arange(d)))
        self.gates = nn.ParameterDict({"a": nn.Parameter(torch.ones(1)), "b": nn.Parameter(torch.full((1,), 0.5))})
        self.proj = nn.Linear(sum(dims), 5)

    def forward(self, x):
        parts = torch.split(x, [s.shape[0] for s in self.scales], dim=-1)
        y = self.proj(torch.cat([p * s for p, s in zip(parts, self.scales)], dim=-1))
        return y * self.gates["a"] + self.gates["b"] * len(self.scales)


class KVCache:
    """A notebook's key/value cache: a plain object whose `update` grows two tensors."""

    def __init__(self):
        self.k = self.v = None

    def update(self, k, v):
        self.k = k if self.k is None else torch.cat([self.k, k], dim=1)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=1)
        return self.k, self.v


class CachedAttention(nn.Module):
    """`cache.update(k, v)` on an optional cache object (not a tensor method); checked without a cache."""

    def __init__(self, dim=8):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.scale = dim ** -0.5

    def forward(self, x, cache=None):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        if cache is not None:
            k, v = cache.update(k, v)
        weights = torch.softmax(q @ k.transpose(1, 2) * self.scale, dim=-1)
        return weights @ v
