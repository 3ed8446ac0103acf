"""L040 TorchMultiheadAttention: ``nn.MultiheadAttention`` -> ``TorchMultiheadAttention`` (PyTorch's packed layout).

Flax's ``nn.MultiHeadDotProductAttention`` splits each projection into per-head
kernels and reads masks the other way round; the translation instead emits a
small module whose variables are PyTorch's own (``in_proj_weight``,
``in_proj_bias``, ``out_proj``) and whose call takes PyTorch's arguments, so the
port is a copy and the masks mean what they meant.
"""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none
from translator.rules.attention._support import TORCH_MULTIHEAD_ATTENTION
from translator.rules.base import (
    CallSpec,
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    TensorMapping,
)
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY, LINEAR_WEIGHT_TO_KERNEL

SUPPORT_NAME = "TorchMultiheadAttention"
SUPPORT = ((SUPPORT_NAME, TORCH_MULTIHEAD_ATTENTION),)
#: constructor arguments passed on when not at their default (PyTorch name, Flax field, default)
FIELDS = (("dropout", "dropout", 0.0), ("bias", "bias", True), ("batch_first", "batch_first", False), ("kdim", "kdim", None), ("vdim", "vdim", None))


def attention_weight_layout(module) -> list[TensorMapping]:
    """The tensors of an ``nn.MultiheadAttention``: copied under their own names, ``out_proj`` as a Dense."""
    if module._qkv_same_embed_dim:
        mappings = [TensorMapping("in_proj_weight", ("params", "in_proj_weight"), IDENTITY)]
    else:
        mappings = [TensorMapping(f"{p}_proj_weight", ("params", f"{p}_proj_weight"), IDENTITY) for p in "qkv"]
    if module.in_proj_bias is not None:
        mappings.append(TensorMapping("in_proj_bias", ("params", "in_proj_bias"), IDENTITY))
    mappings.append(TensorMapping("out_proj.weight", ("params", "out_proj", "kernel"), LINEAR_WEIGHT_TO_KERNEL))
    if module.out_proj.bias is not None:
        mappings.append(TensorMapping("out_proj.bias", ("params", "out_proj", "bias"), IDENTITY))
    return mappings


@register
class TorchMultiheadAttention(Rule):
    code = "L040"
    name = "TorchMultiheadAttention"
    summary = "nn.MultiheadAttention -> TorchMultiheadAttention (PyTorch's packed in_proj weights, masks and call)"
    torch_classes = ("torch.nn.MultiheadAttention",)
    doc = RuleDoc(
        what=(
            "`nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first, kdim, vdim)` and its\n"
            "call `attn(query, key, value, key_padding_mask, need_weights, attn_mask,\n"
            "average_attn_weights, is_causal)` -> `(output, weights or None)`."
        ),
        why=(
            "Flax's counterpart, `nn.MultiHeadDotProductAttention(num_heads, qkv_features, out_features)`,\n"
            "returns only the output (weights via `sow_weights`), keeps one Dense per projection with\n"
            "kernels split per head (query/kernel (E, H, D), out/kernel (H, D, E)), is batch-first, and\n"
            "takes a boolean `mask` that is True where a query *may* attend. PyTorch packs the three\n"
            "projections as rows [q; k; v] of `in_proj_weight` (3E, E), is sequence-first by default,\n"
            "and its bool masks are True where attention is *blocked*, while float masks are *added*\n"
            "to the scores. A port into Flax's layout must split E as (H, D), heads major: the (D, H)\n"
            "split raises no shape error and is 42% off (measured 1.12 max abs); a key_padding_mask passed\n"
            "without inverting is also 42% off, and a float mask cast to bool 0.83 off. The translation\n"
            "therefore emits `TorchMultiheadAttention`, a short einsum module whose variables are\n"
            "PyTorch's own (`in_proj_weight`, `in_proj_bias`, or `q/k/v_proj_weight` when kdim/vdim\n"
            "differ, and an `out_proj` Dense), and whose call takes PyTorch's arguments with PyTorch's\n"
            "meaning: porting is a copy (only out_proj.weight is transposed), a round trip is\n"
            "bit-exact, and masks need no rewriting. Attention dropout uses `deterministic=not train`\n"
            "and the 'dropout' rng."
        ),
        example=Example(
            torch=(
                "self.attn = nn.MultiheadAttention(64, 8, batch_first=True)\n"
                "y, w = self.attn(x, x, x, key_padding_mask=pad)"
            ),
            flax=(
                "self.attn = TorchMultiheadAttention(embed_dim=64, num_heads=8, batch_first=True)\n"
                "y, w = self.attn(x, x, x, key_padding_mask=pad, deterministic=not train)"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance: outputs, averaged or per-head weights and gradients, with\n"
            "bool, float and key-padding masks, both batch layouts, unbatched input and kdim/vdim.\n"
            "Rows with every key masked are NaN with need_weights=True and 0 without, as in PyTorch.\n"
            "`add_bias_kv` and `add_zero_attn` are not translated. `is_causal` is a hint as in PyTorch:\n"
            "attn_mask must be given and is the mask used. Train-mode dropout masks differ (RNG)."
        ),
    )

    def build_layer(self, ctx):
        for flag in ("add_bias_kv", "add_zero_attn"):
            if literal_or_none(ctx, flag) is not False:
                ctx.unsupported(f"`{flag}=True` is not translated yet")
        for argument in ("device", "dtype"):
            if not ctx.is_default(argument):
                ctx.unsupported(f"`{argument}=` is not translated yet")
        keywords: dict[str, cst.BaseExpression] = {"embed_dim": ctx.expr("embed_dim"), "num_heads": ctx.expr("num_heads")}
        for torch_name, flax_name, default in FIELDS:
            value = literal_or_none(ctx, torch_name)
            if value is NotLiteral or value != default or (default is None and value is not None):
                keywords[flax_name] = ctx.expr(torch_name)
        return LayerBuild(
            call(SUPPORT_NAME, [], keywords),
            CallSpec(accepts="plain", produces="plain", train_kwarg=("deterministic", True)),
            notes=(
                "MultiheadAttention -> TorchMultiheadAttention: PyTorch's packed in_proj weights and mask "
                "convention (bool True = blocked); returns (output, weights)",
            ),
            support=SUPPORT,
        )

    def weight_layout(self, module):
        return attention_weight_layout(module)

    def cases(self):
        @st.composite
        def attention_case(draw):
            heads = draw(st.sampled_from([1, 2]))
            embed = heads * draw(st.integers(1, 4))
            batch_first = draw(st.booleans())
            batch, length = draw(st.integers(1, 2)), draw(st.integers(1, 5))
            bias = draw(st.booleans())
            dropout = draw(st.sampled_from([0.0, 0.0, 0.3]))
            kv = draw(st.sampled_from(["same", "same", "kdim"]))
            args = [str(embed), str(heads)]
            if dropout:
                args.append(f"dropout={dropout}")
            if not bias:
                args.append("bias=False")
            if batch_first:
                args.append("batch_first=True")
            key, value = "x", "x"
            if kv == "kdim":
                kdim, vdim = draw(st.integers(1, 6)), draw(st.integers(1, 6))
                args += [f"kdim={kdim}", f"vdim={vdim}"]
                key = f"torch.tanh(x[..., :1].repeat(1, 1, {kdim}))"
                value = f"x[..., :1].repeat(1, 1, {vdim}) * 0.5"
            query = "x"
            # sequence axis of x and key-padding mask from x, position 0 never masked (no fully masked rows)
            seq = 1 if batch_first else 0
            kpm = "x[..., 0] > x[:, :1, 0]" if batch_first else "x[..., 0].transpose(0, 1) > x[:1, :, 0].transpose(0, 1)"
            extra = []
            mask = draw(st.sampled_from(["none", "kpm", "causal_bool", "float", "both", "kpm_float", "per_head_bool"]))
            causal = f"torch.triu(torch.ones(x.size({seq}), x.size({seq}), dtype=torch.bool), 1)"
            if mask in ("kpm", "both"):
                extra.append(f"key_padding_mask={kpm}")
            if mask == "kpm_float":
                extra.append(f"key_padding_mask=torch.zeros({batch}, {length}).masked_fill({kpm}, -2.0)")  # (N, S)
            if mask in ("causal_bool", "both"):
                extra.append(f"attn_mask={causal}")
            if mask == "float":
                extra.append(f"attn_mask=torch.triu(torch.ones(x.size({seq}), x.size({seq}), dtype=x.dtype), 1) * -1.5")
            if mask == "per_head_bool":  # (N * heads, L, S)
                extra.append(f"attn_mask=torch.triu(torch.ones({batch * heads}, {length}, {length}, dtype=torch.bool), 1)")
            if mask in ("causal_bool",) and draw(st.booleans()):
                extra.append("is_causal=True")
            weights = draw(st.sampled_from(["output", "output", "averaged", "per_head", "no_weights"]))
            index = "[0]"
            if weights == "averaged":
                index = "[1]"
            elif weights == "per_head":
                extra.append("average_attn_weights=False")
                index = "[1]"
            elif weights == "no_weights":
                extra.append("need_weights=False")
            forward = f"self.layer({', '.join([query, key, value, *extra])}){index}"
            shape = (batch, length, embed) if batch_first else (length, batch, embed)
            if draw(st.integers(0, 7)) == 0 and mask in ("none", "causal_bool", "float") and kv == "same":
                shape = (length, embed)  # unbatched
                forward = forward.replace(f"x.size({seq})", "x.size(0)")
            train = not dropout and draw(st.booleans())  # dropout masks differ between frameworks: eval only
            return RuleCase(f"nn.MultiheadAttention({', '.join(args)})", forward, shape, train=train)

        return attention_case()
