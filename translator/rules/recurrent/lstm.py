"""L050 TorchLSTM: ``nn.LSTM`` -> ``TorchLSTM`` (PyTorch's parameters, gate order and call convention)."""

from __future__ import annotations

from translator.rules._emit import literal_or_none
from translator.rules.base import CallSpec, Example, LayerBuild, NotLiteral, Rule, RuleDoc
from translator.rules.recurrent._common import (
    LSTM_SIGNATURE,
    LSTM_SOURCE,
    identity_layout,
    stacked_case,
    support_call,
)
from translator.rules.registry import register

SUPPORT_NAME = "TorchLSTM"
OPTIONS = (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False))


@register
class TorchLSTM(Rule):
    code = "L050"
    name = "TorchLSTM"
    summary = "nn.LSTM -> TorchLSTM: lax.scan over time, gates i,f,g,o, both biases, PyTorch's parameter names"
    torch_classes = ("torch.nn.LSTM",)
    constructor_signature = LSTM_SIGNATURE
    doc = RuleDoc(
        what=(
            "`nn.LSTM(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)` and its\n"
            "call `lstm(x)` / `lstm(x, (h0, c0))` -> `(output, (h_n, c_n))`, batched or unbatched (2-D) input."
        ),
        why=(
            "Flax's `nn.RNN(nn.LSTMCell(H))` runs one layer in one direction with batch-major input; layers,\n"
            "directions, `batch_first=False` and the (h_n, c_n) stack are the caller's job. Its parameters\n"
            "differ too: one Dense per gate, and a single bias per gate that is PyTorch's b_ih + b_hh (the\n"
            "sum cannot be split back, so a Flax -> PyTorch round trip would not reproduce the checkpoint).\n"
            "Its carry is (c, h) where PyTorch passes (h0, c0). Measured traps: gate order i,f,o,g instead of\n"
            "i,f,g,o: 0.511; dropping b_hh: 0.116 (28%); initial_carry=(h0, c0): 0.837.\n"
            "The translation therefore emits a `TorchLSTM` module that keeps PyTorch's parameters as they\n"
            "are (weight_ih_l{k}[_reverse] (4H, in), weight_hh_l{k} (4H, H), bias_ih_l{k}, bias_hh_l{k}),\n"
            "so the port is the identity and bit-exact both ways, and runs each layer and direction with\n"
            "`jax.lax.scan` over time (time-major inside; the input projection of all steps is one matmul;\n"
            "sequences of up to 8 steps unrolled, `unroll=True`, which XLA fuses across steps).\n"
            "Inter-layer dropout uses nn.Dropout (rng 'dropout') when `deterministic=False` (i.e. train).\n"
            "The Flax-native form, for a 1-layer unidirectional LSTM, is\n"
            "    nn.RNN(nn.LSTMCell(H), time_major=not batch_first, return_carry=True)(x, initial_carry=(c0, h0))\n"
            "with, for gate j in i,f,g,o (rows jH:(j+1)H): i{j}/kernel = W_ih[rows].T,\n"
            "h{j}/kernel = W_hh[rows].T, h{j}/bias = b_ih[rows] + b_hh[rows].\n"
            "Not translated: `proj_size > 0` (LSTM with projections) and packed sequences (flagged)."
        ),
        example=Example(
            torch="self.lstm = nn.LSTM(32, 64, num_layers=2, batch_first=True)\nout, (h_n, c_n) = self.lstm(x)",
            flax=(
                "self.lstm = TorchLSTM(32, 64, num_layers=2, batch_first=True)\n"
                "out, (h_n, c_n) = self.lstm(x, deterministic=not train)\n"
                "# Flax-native alternative (1 layer, weights regrouped, b_ih + b_hh summed):\n"
                "# out = nn.RNN(nn.LSTMCell(64))(x, initial_carry=(c0[0], h0[0]))"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance: output, h_n, c_n and every gradient (measured on CPU with\n"
            "1-2 layers, both directions, batch_first both, initial states: output <= 2.4e-7 abs, parameter\n"
            "gradients <= 1e-6 relative to the largest). Weights port bit-exactly both ways. In training\n"
            "mode, inter-layer dropout draws different masks than PyTorch (as every dropout)."
        ),
    )

    def build_layer(self, ctx):
        proj_size = literal_or_none(ctx, "proj_size")
        if proj_size is NotLiteral or proj_size != 0:
            ctx.unsupported("`proj_size > 0` (LSTM with projections) is not translated yet")
        return LayerBuild(
            support_call(ctx, SUPPORT_NAME, OPTIONS),
            CallSpec(accepts="plain", produces="plain", train_kwarg=("deterministic", True)),
            notes=("LSTM -> TorchLSTM: PyTorch's parameter names and layouts (identity port), lax.scan over time",),
            support=((SUPPORT_NAME, LSTM_SOURCE),),
        )

    def weight_layout(self, module):
        return identity_layout(module)

    def cases(self):
        return stacked_case("LSTM")
