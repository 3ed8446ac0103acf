"""Attention rules (L040-L044): fixed cases for each option, the port round trip, and the traps.

The catalogue test draws random cases; these pin the options one by one, so a
failure names the option, and show that the oracle catches the measured traps
(mask polarity, head split) when they are planted in the emitted module.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from translator.equivalence.rule_cases import compare_case
from translator.rules.attention import multihead_attention, scaled_dot_product_attention
from translator.rules.attention._support import TORCH_SDPA
from translator.rules.base import RuleCase
from translator.weights.plan import flatten_variables, plan_port

CAUSAL_1 = "torch.triu(torch.ones(x.size(1), x.size(1), dtype=torch.bool), 1)"
CAUSAL_0 = "torch.triu(torch.ones(x.size(0), x.size(0), dtype=torch.bool), 1)"
KPM_BATCH_FIRST = "x[..., 0] > x[:, :1, 0]"  # position 0 never masked: no fully masked row
KPM_SEQ_FIRST = "x[..., 0].transpose(0, 1) > x[:1, :, 0].transpose(0, 1)"

MHA_CASES = {
    "seq_first": RuleCase("nn.MultiheadAttention(4, 2)", "self.layer(x, x, x)[0]", (3, 2, 4)),
    "batch_first": RuleCase("nn.MultiheadAttention(4, 2, batch_first=True)", "self.layer(x, x, x)[0]", (2, 3, 4)),
    "weights_averaged": RuleCase("nn.MultiheadAttention(4, 2, batch_first=True)", "self.layer(x, x, x)[1]", (2, 5, 4)),
    "weights_per_head": RuleCase(
        "nn.MultiheadAttention(4, 2)", "self.layer(x, x, x, average_attn_weights=False)[1]", (5, 2, 4)
    ),
    "no_bias": RuleCase("nn.MultiheadAttention(6, 2, bias=False)", "self.layer(x, x, x)[0]", (3, 2, 6)),
    "key_padding_bool": RuleCase(
        "nn.MultiheadAttention(4, 2, batch_first=True)", f"self.layer(x, x, x, key_padding_mask={KPM_BATCH_FIRST})[0]", (2, 5, 4)
    ),
    "key_padding_seq_first": RuleCase(
        "nn.MultiheadAttention(4, 2)", f"self.layer(x, x, x, key_padding_mask={KPM_SEQ_FIRST})[1]", (5, 2, 4)
    ),
    "key_padding_float": RuleCase(
        "nn.MultiheadAttention(4, 1, batch_first=True)",
        f"self.layer(x, x, x, key_padding_mask=torch.zeros_like(x[..., 0]).masked_fill({KPM_BATCH_FIRST}, -2.0))[0]",
        (2, 4, 4),
    ),
    "attn_mask_bool": RuleCase(
        "nn.MultiheadAttention(4, 2, batch_first=True)", f"self.layer(x, x, x, attn_mask={CAUSAL_1})[0]", (2, 5, 4)
    ),
    "attn_mask_float": RuleCase(
        "nn.MultiheadAttention(4, 2)",
        "self.layer(x, x, x, attn_mask=torch.triu(torch.ones(x.size(0), x.size(0), dtype=x.dtype), 1) * -1.5)[0]",
        (4, 2, 4),
    ),
    "attn_mask_per_head": RuleCase(
        "nn.MultiheadAttention(4, 2, batch_first=True)",
        "self.layer(x, x, x, attn_mask=torch.triu(torch.ones(4, 3, 3, dtype=torch.bool), 1), average_attn_weights=False)[1]",
        (2, 3, 4),
    ),
    "both_masks_causal_hint": RuleCase(
        "nn.MultiheadAttention(4, 2, batch_first=True)",
        f"self.layer(x, x, x, key_padding_mask={KPM_BATCH_FIRST}, attn_mask={CAUSAL_1}, is_causal=True)[0]",
        (2, 5, 4),
    ),
    "no_weights": RuleCase(
        "nn.MultiheadAttention(4, 2)", f"self.layer(x, x, x, attn_mask={CAUSAL_0}, need_weights=False)[0]", (4, 2, 4)
    ),
    "kdim_vdim": RuleCase(
        "nn.MultiheadAttention(4, 2, kdim=3, vdim=5, batch_first=True)",
        "self.layer(x, torch.tanh(x[..., :3]), x[..., :1].repeat(1, 1, 5) * 0.5)[0]",
        (2, 3, 4),
    ),
    "cross_lengths": RuleCase(
        "nn.MultiheadAttention(4, 2, batch_first=True)", "self.layer(x, x[:, :2], x[:, :2] * 2)[1]", (2, 5, 4)
    ),
    "unbatched": RuleCase("nn.MultiheadAttention(4, 2)", f"self.layer(x, x, x, attn_mask={CAUSAL_0})[0]", (3, 4)),
    "dropout_eval": RuleCase("nn.MultiheadAttention(4, 2, dropout=0.3)", "self.layer(x, x, x)[0]", (3, 2, 4)),
    "train_no_dropout": RuleCase("nn.MultiheadAttention(4, 2)", "self.layer(x, x, x)[0]", (3, 2, 4), train=True),
}


@pytest.mark.parametrize("name", MHA_CASES)
def test_multihead_attention_option(name):
    compare_case(MHA_CASES[name], seed=1)


@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"kdim": 3, "vdim": 5}])
def test_multihead_attention_port_round_trip_is_bit_exact(kwargs):
    layer = torch.nn.MultiheadAttention(4, 2, **kwargs)
    plan = plan_port(layer)
    state = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    variables = plan.to_flax(state)
    flat = flatten_variables(variables)
    assert flat["params/out_proj/kernel"].shape == (4, 4)
    if not kwargs.get("kdim"):
        np.testing.assert_array_equal(flat["params/in_proj_weight"], state["in_proj_weight"])  # packed [q; k; v], copied
    back = plan.to_torch(variables)
    assert back.keys() == state.keys()
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value)


@pytest.mark.parametrize(
    ("planted", "case"),
    [
        # the key-padding mask read with Flax's polarity (True = attend)
        (
            ("kpm = key_padding_mask[:, None, None, :]", "kpm = ~key_padding_mask[:, None, None, :]"),
            "key_padding_bool",
        ),
        # E split as (head_dim, heads) instead of PyTorch's (heads, head_dim): self-attention's packed projection
        (
            (
                "q, k, v = (t.reshape(n, length, heads, head_dim) for t in jnp.split(packed, 3, axis=-1))",
                "q, k, v = (t.reshape(n, length, head_dim, heads).swapaxes(-1, -2) for t in jnp.split(packed, 3, axis=-1))",
            ),
            "batch_first",
        ),
        # ... and the separate projections of a query that is not the key
        (
            (
                "q = (query @ w_q.T + b_q).reshape(n, length, heads, head_dim)",
                "q = (query @ w_q.T + b_q).reshape(n, length, head_dim, heads).swapaxes(-1, -2)",
            ),
            "cross_lengths",
        ),
    ],
    ids=["mask_polarity", "head_split", "head_split_cross"],
)
def test_the_oracle_catches_planted_traps(monkeypatch, planted, case):
    old, new = planted
    name, source = multihead_attention.SUPPORT[0]
    assert old in source
    monkeypatch.setattr(multihead_attention, "SUPPORT", ((name, source.replace(old, new)),))
    with pytest.raises(AssertionError, match="output"):
        compare_case(MHA_CASES[case], seed=1)


SDPA = "F.scaled_dot_product_attention"
SDPA_CASES = {
    "plain_4d": RuleCase(None, f"{SDPA}(x, torch.tanh(x), x * 0.5)", (2, 2, 4, 3)),
    "plain_2d": RuleCase(None, f"{SDPA}(x, torch.tanh(x), x * 0.5)", (4, 3)),
    "bool_mask_true_attends": RuleCase(None, f"{SDPA}(x, x, x, attn_mask=x[..., :1, :1] >= x[..., 0].unsqueeze(-2))", (2, 5, 3)),
    # the last query sees no key: PyTorch's safe softmax gives 0, and zero gradient
    "fully_masked_row": RuleCase(
        None, f"{SDPA}(x, x, x, attn_mask=torch.triu(torch.ones(x.size(-2), x.size(-2), dtype=torch.bool), 1))", (2, 4, 3)
    ),
    "float_mask_from_x": RuleCase(None, f"{SDPA}(x, x, x * 2, attn_mask=torch.tanh(x @ x.transpose(-2, -1)))", (2, 4, 3)),
    "causal": RuleCase(None, f"{SDPA}(x, torch.tanh(x), x, is_causal=True)", (2, 2, 5, 3)),
    "causal_short_keys": RuleCase(None, f"{SDPA}(x, x[..., :2, :], x[..., :2, :] * 0.5, is_causal=True)", (2, 5, 3)),
    "scale": RuleCase(None, f"{SDPA}(x, x, x, scale=0.3)", (2, 4, 3)),
    "gqa": RuleCase(None, f"{SDPA}(x, torch.tanh(x[:, :1]), x[:, :1] * 0.5, enable_gqa=True)", (2, 2, 4, 3)),
    "dropout_eval": RuleCase(None, f"{SDPA}(x, x, x, dropout_p=0.5 if self.training else 0.0)", (2, 4, 3)),
}


@pytest.mark.parametrize("name", SDPA_CASES)
def test_scaled_dot_product_attention_option(name):
    compare_case(SDPA_CASES[name], seed=2)


def test_sdpa_bool_mask_polarity_is_the_opposite_of_multihead_attention(monkeypatch):
    """A bool mask read with nn.MultiheadAttention's polarity (True = blocked) is caught by the oracle."""
    planted = TORCH_SDPA.replace("jnp.where(attn_mask, scores, -jnp.inf)", "jnp.where(attn_mask, -jnp.inf, scores)")
    assert planted != TORCH_SDPA
    monkeypatch.setattr(scaled_dot_product_attention, "TORCH_SDPA", planted)
    with pytest.raises(AssertionError, match="output"):
        compare_case(SDPA_CASES["bool_mask_true_attends"], seed=2)


ENC = "nn.TransformerEncoderLayer"
DEC = "nn.TransformerDecoderLayer"
TRANSFORMER_CASES = {
    "encoder_layer_defaults_seq_first": RuleCase(f"{ENC}(4, 2, 8)", "self.layer(x)", (3, 2, 4)),
    "encoder_layer_pre_norm_gelu": RuleCase(
        f"{ENC}(6, 2, 5, dropout=0.0, activation='gelu', batch_first=True, norm_first=True)", "self.layer(x)", (2, 4, 6)
    ),
    "encoder_layer_functional_gelu_eps_no_bias": RuleCase(
        f"{ENC}(4, 1, 3, activation=F.gelu, layer_norm_eps=1e-3, bias=False)", "self.layer(x)", (3, 2, 4)
    ),
    "encoder_layer_masks": RuleCase(
        f"{ENC}(4, 2, 8, dropout=0.0, batch_first=True)",
        f"self.layer(x, src_mask={CAUSAL_1}, src_key_padding_mask={KPM_BATCH_FIRST}, is_causal=True)",
        (2, 5, 4),
    ),
    "encoder_layer_float_mask_train": RuleCase(
        f"{ENC}(4, 2, 8, dropout=0.0)",
        "self.layer(x, src_mask=torch.triu(torch.ones(x.size(0), x.size(0), dtype=x.dtype), 1) * -1.5)",
        (4, 2, 4),
        train=True,
    ),
    "decoder_layer_defaults": RuleCase(f"{DEC}(4, 2, 8)", "self.layer(x, torch.tanh(x))", (3, 2, 4)),
    "decoder_layer_pre_norm_masks_short_memory": RuleCase(
        f"{DEC}(4, 2, 6, dropout=0.0, batch_first=True, norm_first=True, activation='gelu')",
        f"self.layer(x, x[:, :2] * 0.5, tgt_mask={CAUSAL_1}, tgt_key_padding_mask={KPM_BATCH_FIRST}, "
        "memory_key_padding_mask=x[:, :2, 0] > x[:, :1, 0], tgt_is_causal=True)",
        (2, 4, 4),
    ),
    "encoder_two_layers_norm": RuleCase(
        f"nn.TransformerEncoder({ENC}(4, 2, 6, dropout=0.0, batch_first=True), 2, norm=nn.LayerNorm(4))",
        f"self.layer(x, mask={CAUSAL_1}, src_key_padding_mask={KPM_BATCH_FIRST})",
        (2, 5, 4),
    ),
    "encoder_three_layers_train": RuleCase(
        f"nn.TransformerEncoder({ENC}(3, 1, 4, dropout=0.0, norm_first=True), 3)", "self.layer(x)", (4, 2, 3), train=True
    ),
}


@pytest.mark.parametrize("name", TRANSFORMER_CASES)
def test_transformer_option(name):
    compare_case(TRANSFORMER_CASES[name], seed=3)


def test_transformer_encoder_ports_part_by_part():
    """The encoder's tensors port through its parts' rules, under PyTorch's names; the round trip is bit-exact."""
    layer = torch.nn.TransformerEncoderLayer(4, 2, 6, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(4), enable_nested_tensor=False)
    plan = plan_port(encoder)
    paths = {t.torch_key: t.flax_key for t in plan.tensors}
    assert paths["layers.1.self_attn.in_proj_weight"] == "params/layers_1/self_attn/in_proj_weight"
    assert paths["layers.0.self_attn.out_proj.weight"] == "params/layers_0/self_attn/out_proj/kernel"
    assert paths["layers.0.linear1.weight"] == "params/layers_0/linear1/kernel"
    assert paths["layers.1.norm2.weight"] == "params/layers_1/norm2/scale"
    assert paths["norm.bias"] == "params/norm/bias"
    state = {k: v.detach().numpy() for k, v in encoder.state_dict().items()}
    back = plan.to_torch(plan.to_flax(state))
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value)
