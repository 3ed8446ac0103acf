"""L051 TorchGRU: ``nn.GRU`` -> ``TorchGRU`` (PyTorch's parameters, gate order and call convention)."""

from __future__ import annotations

from translator.rules.base import CallSpec, Example, LayerBuild, Rule, RuleDoc
from translator.rules.recurrent._common import (
    GRU_SIGNATURE,
    GRU_SOURCE,
    identity_layout,
    stacked_case,
    support_call,
)
from translator.rules.registry import register

SUPPORT_NAME = "TorchGRU"
OPTIONS = (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False))


@register
class TorchGRU(Rule):
    code = "L051"
    name = "TorchGRU"
    summary = "nn.GRU -> TorchGRU: lax.scan over time, gates r,z,n with b_hn inside r*(...), PyTorch's parameter names"
    torch_classes = ("torch.nn.GRU",)
    constructor_signature = GRU_SIGNATURE
    doc = RuleDoc(
        what=(
            "`nn.GRU(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)` and its\n"
            "call `gru(x)` / `gru(x, h0)` -> `(output, h_n)`, batched or unbatched (2-D) input."
        ),
        why=(
            "PyTorch's GRU: r = s(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = tanh(W_in x + b_in +\n"
            "r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h, gates stacked r, z, n. Flax's\n"
            "`nn.RNN(nn.GRUCell(H))` computes the same but stores one Dense per gate with the r and z biases\n"
            "summed (b_ih + b_hh; not splittable back) and runs one layer, one direction, batch-major.\n"
            "Measured trap: folding b_hn into the input bias (outside r * (...)) is off by 0.211 (25%).\n"
            "The translation emits a `TorchGRU` module that keeps PyTorch's parameters as they are\n"
            "(weight_ih_l{k}[_reverse] (3H, in), weight_hh_l{k} (3H, H), bias_ih_l{k}, bias_hh_l{k}): the\n"
            "port is the identity, bit-exact both ways. Each layer and direction is a `jax.lax.scan` over\n"
            "time (time-major inside; up to 8 steps unrolled); inter-layer dropout uses nn.Dropout when `deterministic=False`.\n"
            "The Flax-native form, for a 1-layer unidirectional GRU, is\n"
            "    nn.RNN(nn.GRUCell(H), time_major=not batch_first)(x, initial_carry=h0[0])\n"
            "with i{r,z}/kernel = W_ih[rows].T, i{r,z}/bias = b_ih[rows] + b_hh[rows],\n"
            "h{r,z}/kernel = W_hh[rows].T, in/kernel, in/bias = b_in, hn/kernel, hn/bias = b_hn.\n"
            "Packed sequences are not translated (flagged)."
        ),
        example=Example(
            torch="self.gru = nn.GRU(32, 64, bidirectional=True)\nout, h_n = self.gru(x, h0)",
            flax=(
                "self.gru = TorchGRU(32, 64, bidirectional=True)\n"
                "out, h_n = self.gru(x, h0, deterministic=not train)\n"
                "# Flax-native alternative (1 layer, one direction, r/z biases summed):\n"
                "# out = nn.RNN(nn.GRUCell(64), time_major=True)(x, initial_carry=h0[0])"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance: output, h_n and every gradient (measured on CPU over 1-2 layers,\n"
            "both directions, batch_first both, initial states). Weights port bit-exactly both ways. In\n"
            "training mode, inter-layer dropout draws different masks than PyTorch (as every dropout)."
        ),
    )

    def build_layer(self, ctx):
        return LayerBuild(
            support_call(ctx, SUPPORT_NAME, OPTIONS),
            CallSpec(accepts="plain", produces="plain", train_kwarg=("deterministic", True)),
            notes=("GRU -> TorchGRU: PyTorch's parameter names and layouts (identity port), lax.scan over time",),
            support=((SUPPORT_NAME, GRU_SOURCE),),
        )

    def weight_layout(self, module):
        return identity_layout(module)

    def cases(self):
        return stacked_case("GRU")
