"""Found by the monai/diffusers trial: a Sequential subclass filled by add_module, a subclass of a model class
of the file, and an optional tensor argument every caller passes."""

from math import pi, sqrt

import torch
import torch.nn as nn
from einops import rearrange, repeat
from torch.amp import autocast


class ConvAct(nn.Sequential):
    def __init__(self, cin=4, cout=8):
        super().__init__()
        self.add_module("conv", nn.Conv2d(cin, cout, 3, padding=1))
        self.add_module("act", nn.ReLU())


class Block(nn.Module):
    def __init__(self, cin=4, cout=8):
        super().__init__()
        self.conv1 = ConvAct(cin, cout)

    def forward(self, x):
        return self.conv1(x)


class Base(nn.Module):
    def __init__(self, c=4):
        super().__init__()
        self.fc = nn.Linear(c, c)

    def forward(self, x):
        return self.fc(x)


class Child(Base):
    def __init__(self, c=4):
        super().__init__(c)

    def forward(self, x):
        return super().forward(x) + x


class OptArg(nn.Module):
    """forward(x, emb=None) where emb is always given: checked from the built model."""

    def __init__(self, d=16):
        super().__init__()
        self.linear = nn.Linear(d, 2 * d)
        self.norm = nn.LayerNorm(d, elementwise_affine=False)
        self.silu = nn.SiLU()

    def forward(self, x, emb=None):
        emb = self.linear(self.silu(emb))
        shift, scale = emb.chunk(2, dim=1)
        return self.norm(x) * (1 + scale[:, None]) + shift[:, None]


class FP32LayerNorm(nn.LayerNorm):
    """diffusers' layer norm in float32: a subclass of a torch layer with its own forward."""

    def forward(self, inputs):
        origin_dtype = inputs.dtype
        return nn.functional.layer_norm(
            inputs.float(), self.normalized_shape, self.weight.float() if self.weight is not None else None,
            self.bias.float() if self.bias is not None else None, self.eps,
        ).to(origin_dtype)


class SkipIfGiven(nn.Module):
    """monai's UpCat branch: `torch.jit.isinstance` on a traced tensor must take the tensor's branch."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, extra: "torch.Tensor | None"):
        if extra is not None and torch.jit.isinstance(extra, torch.Tensor):
            x = x + extra
        return self.fc(x)


def make(kind):
    return {"conv": nn.Conv2d}[kind](4, 8, 1)  # a factory by name: the source translation stops here


class Projected(nn.Module):
    """monai's SEBlock: a constructor argument named like the attribute it decides (`project`)."""

    def __init__(self, project=True):
        super().__init__()
        self.body = make("conv")
        self.project = nn.Conv2d(4, 8, 1) if project else None

    def forward(self, x):
        return self.body(x) + self.project(x)


class MetadataDecisions(nn.Module):
    """Decisions libraries take on metadata (diffusers' `gate.device.type == "mps"`, `self.weight.dtype in
    [...]`, monai's `len(x.shape)`): fx alone refuses each; the trace reads them on the built model."""

    def __init__(self, dim=8):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        if x.device.type == "mps" and x.dtype == torch.float16:
            x = x.float()
        if self.weight.dtype in [torch.float16, torch.bfloat16]:
            x = x.to(self.weight.dtype)
        if len(x.shape) == 4:  # an image: channels-first to tokens
            b, c, h, w = x.shape
            x = x.reshape(b, c, h * w).transpose(1, 2)
        y = self.proj(x) * self.weight
        for _ in range(x.dim() - 2):
            y = y.mean(1)
        return y


class DeprecatedArguments(nn.Module):
    """diffusers' `forward(self, x, *args, **kwargs)`, kept for deprecated arguments no caller passes."""

    def __init__(self, dim=8):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * dim)

    def forward(self, hidden_states, *args, gate_first=False, **kwargs):
        if len(args) > 0 or kwargs.get("scale", None) is not None:
            raise ValueError("the `scale` argument is deprecated")
        value, gate = self.proj(hidden_states).chunk(2, dim=-1)
        return (gate * value.sigmoid()) if gate_first else value * torch.nn.functional.gelu(gate)


class TimeBlock(nn.Module):
    """diffusers' ResnetBlock2D: `temb` is required, and a parent without a time embedding passes `temb=None`."""

    def __init__(self, dim=8, temb_dim=None):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.time = nn.Linear(temb_dim, dim) if temb_dim else None

    def forward(self, x, temb, scale=1.0):
        h = self.proj(x)
        if temb is not None:
            h = h + self.time(temb)
        return h * scale


class EncoderBlocks(nn.Module):
    """Calls its blocks with a constant `temb=None` and a constant positional scale."""

    def __init__(self, dim=8):
        super().__init__()
        self.blocks = nn.ModuleList([TimeBlock(dim), TimeBlock(dim)])

    def forward(self, x):
        for block in self.blocks:
            x = block(x, temb=None) + block(x, None, 0.5)
        return x


class Processor:
    """diffusers' attention processors: a plain object whose __call__ the module's forward delegates to."""

    def __call__(self, attn, x, mask=None, temb=None):
        if temb is not None:
            x = x + attn.time(temb)
        return attn.proj(x)


class KwargsAttention(nn.Module):
    """`forward(self, x, mask=None, **cross_attention_kwargs)` filtered against the processor's parameters."""

    def __init__(self, dim=8):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.time = nn.Linear(dim, dim)
        self.processor = Processor()

    def forward(self, x, mask=None, **cross_attention_kwargs):
        import inspect

        accepted = set(inspect.signature(self.processor.__call__).parameters)
        cross_attention_kwargs = {k: v for k, v in cross_attention_kwargs.items() if k in accepted}
        return self.processor(self, x, mask=mask, **cross_attention_kwargs)


class MidBlock(nn.Module):
    """Passes `temb` into the attention's **kwargs: a tensor to one, None to the other."""

    def __init__(self, dim=8):
        super().__init__()
        self.attentions = nn.ModuleList([KwargsAttention(dim), KwargsAttention(dim)])

    def forward(self, x, temb):
        x = self.attentions[0](x, temb=temb)
        return self.attentions[1](x, temb=None)


class FirFilter(nn.Module):
    """diffusers' FIR up/downsampling: a kernel made from a list at call time, cast to the input's dtype."""

    def __init__(self, channels=4):
        super().__init__()
        self.channels = channels
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        kernel = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float32)
        kernel = torch.outer(kernel, kernel)
        kernel = (kernel / kernel.sum()).to(x.dtype)
        weight = kernel[None, None].repeat(self.channels, 1, 1, 1)
        return torch.nn.functional.conv2d(self.proj(x), weight, padding=1, groups=self.channels)


class TokenMixer(nn.Module):
    """monai's SABlock: einops layers (their forward caches recipes by shape: fx cannot trace it), and
    HighResBlock's `torch.as_tensor` of a tensor (the tensor itself)."""

    def __init__(self, dim=8, heads=2):
        super().__init__()
        from einops.layers.torch import Rearrange, Reduce

        self.to_heads = Rearrange("b n (h d) -> b h n d", h=heads)
        self.pool = Reduce("b h n d -> b n d", "mean")
        self.proj = nn.Linear(dim // heads, dim)

    def forward(self, x):
        return self.proj(self.pool(self.to_heads(x))) + torch.as_tensor(x)


class EinopsFunctions(nn.Module):
    """vit-pytorch's forwards: einops functions on traced tensors (its backends do not know fx's proxies)."""

    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.heads = heads
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.to_qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x):
        from einops import rearrange, repeat

        b = x.shape[0]
        x = torch.cat((repeat(self.cls_token, "1 1 d -> b 1 d", b=b), x), dim=1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        attention = (q @ k.transpose(-1, -2)).softmax(dim=-1)
        return rearrange(attention @ v, "b h n d -> b n (h d)")


class DeviceMoves(nn.Module):
    """Hugging Face's `position_embeds.to(inputs_embeds.device)` and `torch.arange(n, device=x.device)`."""

    def __init__(self, vocab=11, dim=8, positions=16):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(positions, dim)

    def forward(self, input_ids):
        embeds = self.wte(input_ids)
        positions = torch.arange(embeds.shape[1], device=embeds.device).unsqueeze(0)
        return embeds + self.wpe(positions).to(embeds.device)


class AttributeProbes(nn.Module):
    """Hugging Face's `is_jax_jit_tracing(x)`: `hasattr(x, "jax")` is False for a tensor (and for its traced
    value); `math.floor` of a traced size."""

    def __init__(self, dim=8):
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        import math

        if hasattr(x, "jax"):
            x = x * 0
        keep = math.floor(x.shape[1] / 2)
        return self.proj(x)[:, :keep]


class MaybeBias(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, bias=None):
        return self.proj(x) if bias is None else self.proj(x) + bias


class SharedCaller(nn.Module):
    """One instance called with a tensor and without: one trace cannot take both `None` branches."""

    def __init__(self, dim=8):
        super().__init__()
        self.block = MaybeBias(dim)

    def forward(self, x):
        return self.block(self.block(x), x)


class WindowMixer(nn.Module):
    """A layer option whose forward reads its input's shape by unpacking (fx needs a call's values for it)."""

    def __init__(self, dim=8):
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, length, _, _device = *x.shape, x.device
        return self.proj(x).reshape(batch, length, -1)


class LayerOptions(nn.Module):
    """jet_vit's RandomLayerSelector: every option is built (its weights are in the state dict), the
    configuration's key calls one; the others never run on any input."""

    def __init__(self, dim=8, attn_layer="linear"):
        super().__init__()
        import random

        self.options = nn.ModuleDict({"window": WindowMixer(dim), "linear": nn.Linear(dim, dim)})
        self.attn_layer = attn_layer
        self.choose = random.choice

    def forward(self, x):
        key = self.choose(self.attn_layer) if isinstance(self.attn_layer, tuple) else self.attn_layer
        return self.options[key](x) + x


class EinopsPacking(nn.Module):
    """vit_1d's class token: `einops.pack`/`unpack` (defined in einops.packing, named so by fx)."""

    def __init__(self, dim=8):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        from einops import pack, repeat, unpack

        cls_tokens = repeat(self.cls_token, "d -> b d", b=x.shape[0])
        x, ps = pack([cls_tokens, x], "b * d")
        x = self.proj(x)
        cls_tokens, _ = unpack(x, ps, "b * d")
        return cls_tokens


class SqrtPool(nn.Module):
    """pit's Pool: `int(sqrt(n))` of a traced size (fx records math's functions as calls)."""

    def __init__(self, dim=8):
        super().__init__()
        self.proj = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x):
        tokens = rearrange(x, "b (h w) c -> b c h w", h=int(sqrt(x.shape[1])))
        return rearrange(self.proj(tokens), "b c h w -> b (h w) c")


class RotaryTable(nn.Module):
    """rvt's AxialRotaryEmbedding: a forward under `@autocast(...)` (fx patches the decorator's globals, not
    this file's einops functions), `torch.linspace(..., steps=n)` and `.to(x)` (x's dtype when traced)."""

    def __init__(self, dim=8):
        super().__init__()
        self.register_buffer("scales", torch.linspace(1.0, 5.0, dim // 4))

    @autocast("cuda", enabled=False)
    def forward(self, x):
        n = int(sqrt(x.shape[-2]))
        seq = torch.linspace(-1.0, 1.0, steps=n, device=x.device).unsqueeze(-1)
        seq = seq * self.scales[None, :].to(x) * pi
        table = torch.cat((repeat(seq, "i d -> i j d", j=n).sin(), repeat(seq, "j d -> i j d", i=n).cos()), dim=-1)
        return x * repeat(rearrange(table, "i j d -> (i j) d"), "n d -> () n (d k)", k=2)


class TensorOrList(nn.Module):
    """torchvision's and densenet-pytorch's _DenseLayer: `isinstance(inputs, Tensor)` picks how the input is
    read (fx's proxies are not tensors: the trace took the list branch)."""

    def __init__(self, dim=8):
        super().__init__()
        self.norm = nn.BatchNorm2d(dim)
        self.conv = nn.Conv2d(dim, 4, 1)

    def forward(self, inputs):
        features = [inputs] if isinstance(inputs, torch.Tensor) else inputs
        return self.conv(self.norm(torch.cat(features, 1)).relu())


class DenseStack(nn.ModuleDict):
    """densenet's DenseBlock: a ModuleDict subclass whose forward iterates its own items."""

    def __init__(self, dim=4, layers=2):
        super().__init__()
        for i in range(layers):
            self.add_module(f"layer{i + 1}", TensorOrList(dim + 4 * i))

    def forward(self, x):
        features = [x]
        for _, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class RankBranches(nn.Module):
    """monai's UpCat: a branch not taken on the input's rank (`if x.ndim == 5`: False) is asserted False."""

    def __init__(self, dim=4):
        super().__init__()
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        if x.ndim == 5:
            x = x.mean(2)
        return self.proj(x)


ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU}


class RepeatedActivation(nn.Module):
    """diffusers' AutoencoderTinyBlock: one activation module, from a lookup by name, twice in a Sequential
    (the built model holds the same module at `conv.1` and `conv.3`)."""

    def __init__(self, dim=4, act_fn="silu"):
        super().__init__()
        act = ACTIVATIONS[act_fn]()
        self.conv = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1), act, nn.Conv2d(dim, dim, 3, padding=1), act)

    def forward(self, x):
        return self.conv(x) + x


class CheckedDown(nn.Module):
    """diffusers' Downsample2D: `assert hidden_states.shape[1] == self.channels` before a strided conv (fx writes
    the shape read as `getattr_1 = x.shape`, `getitem = getattr_1[1]`, ...)."""

    def __init__(self, channels=4):
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        assert x.shape[1] == self.channels
        n, c, h, w = x.shape
        return self.conv(x) * (c / self.channels) + h / w


class CheckedEncoder(nn.Module):
    """Two checked downsamplers in a row: channels-last from one to the next (no transpose in between)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.downs = nn.ModuleList([CheckedDown(4), CheckedDown(4)])

    def forward(self, x):
        x = self.stem(x)
        for down in self.downs:
            x = down(x)
        return x


def conv_norm_act(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU())


class LoopedBlocks(nn.Module):
    """Residual blocks from a factory, run by an enumerate loop: fx unrolls it (tests/instance/test_loops.py)."""

    def __init__(self, channels=4, depth=3):
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.ModuleList([conv_norm_act(channels) for _ in range(depth)])
        self.head = nn.Linear(channels, 5)

    def forward(self, x):
        x = self.stem(x)
        for _, block in enumerate(self.blocks):
            x = x + block(x)
        return self.head(x.mean((2, 3)))
