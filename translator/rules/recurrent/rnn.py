"""L052 TorchRNN: ``nn.RNN`` (Elman, tanh or relu) -> ``TorchRNN``."""

from __future__ import annotations

from translator.rules.base import CallSpec, Example, LayerBuild, Rule, RuleDoc
from translator.rules.recurrent._common import (
    RNN_SIGNATURE,
    RNN_SOURCE,
    check_nonlinearity,
    identity_layout,
    stacked_case,
    support_call,
)
from translator.rules.registry import register

SUPPORT_NAME = "TorchRNN"
OPTIONS = (
    ("num_layers", 1),
    ("nonlinearity", "tanh"),
    ("bias", True),
    ("batch_first", False),
    ("dropout", 0.0),
    ("bidirectional", False),
)


@register
class TorchRNN(Rule):
    code = "L052"
    name = "TorchRNN"
    summary = "nn.RNN -> TorchRNN: lax.scan over time, h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh)"
    torch_classes = ("torch.nn.RNN",)
    constructor_signature = RNN_SIGNATURE
    doc = RuleDoc(
        what=(
            "`nn.RNN(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout,\n"
            "bidirectional)` and its call `rnn(x)` / `rnn(x, h0)` -> `(output, h_n)`, batched or unbatched."
        ),
        why=(
            "Flax's `nn.RNN(nn.SimpleCell(H))` runs one layer, one direction, batch-major, with the two\n"
            "PyTorch biases summed into one. The translation emits a `TorchRNN` module that keeps PyTorch's\n"
            "parameters as they are (weight_ih_l{k}[_reverse] (H, in), weight_hh_l{k} (H, H), bias_ih_l{k},\n"
            "bias_hh_l{k}), so the port is the identity and bit-exact both ways, and runs each layer and\n"
            "direction as a `jax.lax.scan` over time (up to 8 steps unrolled). `nonlinearity='relu'` uses nn.relu (gradient 0 at 0,\n"
            "as PyTorch). The Flax-native form, for one layer and direction, is\n"
            "    nn.RNN(nn.SimpleCell(H), time_major=not batch_first)(x, initial_carry=h0[0])\n"
            "with i/kernel = W_ih.T, h/kernel = W_hh.T, h/bias = b_ih + b_hh (SimpleCell is tanh by default;\n"
            "pass activation_fn=nn.relu for 'relu')."
        ),
        example=Example(
            torch="self.rnn = nn.RNN(8, 16, num_layers=2, nonlinearity='relu')\nout, h_n = self.rnn(x)",
            flax=(
                "self.rnn = TorchRNN(8, 16, num_layers=2, nonlinearity='relu')\n"
                "out, h_n = self.rnn(x, deterministic=not train)"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance: output, h_n and every gradient (measured on CPU over 1-2 layers,\n"
            "both directions, tanh and relu, initial states). Weights port bit-exactly both ways."
        ),
    )

    def build_layer(self, ctx):
        check_nonlinearity(ctx)
        return LayerBuild(
            support_call(ctx, SUPPORT_NAME, OPTIONS),
            CallSpec(accepts="plain", produces="plain", train_kwarg=("deterministic", True)),
            notes=("RNN -> TorchRNN: PyTorch's parameter names and layouts (identity port), lax.scan over time",),
            support=((SUPPORT_NAME, RNN_SOURCE),),
        )

    def weight_layout(self, module):
        return identity_layout(module)

    def cases(self):
        return stacked_case("RNN")
