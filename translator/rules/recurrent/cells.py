"""L053-L055: ``nn.LSTMCell`` / ``nn.GRUCell`` / ``nn.RNNCell`` -> support cells with PyTorch's parameters.

One step of the recurrence, called as PyTorch does: ``cell(x)`` or
``cell(x, hx)`` returns ``(h', c')`` (LSTM) or ``h'``.  The parameters keep
PyTorch's names and layouts (``weight_ih``, ``weight_hh``, ``bias_ih``,
``bias_hh``), so the port is the identity.
"""

from __future__ import annotations

from translator.rules.base import CallSpec, Example, LayerBuild, Rule, RuleDoc
from translator.rules.recurrent._common import (
    GRU_CELL_SOURCE,
    LSTM_CELL_SOURCE,
    RNN_CELL_SOURCE,
    cell_case,
    check_nonlinearity,
    identity_layout,
    support_call,
)
from translator.rules.registry import register


class _TorchCell(Rule):
    support_name: str
    support_source: str
    options: tuple[tuple[str, object], ...] = (("bias", True),)

    def build_layer(self, ctx):
        if "nonlinearity" in dict(self.options):
            check_nonlinearity(ctx)
        return LayerBuild(
            support_call(ctx, self.support_name, self.options),
            CallSpec(accepts="plain", produces="plain"),
            notes=(f"{self.support_name[5:]} -> {self.support_name}: PyTorch's parameter names and layouts (identity port)",),
            support=((self.support_name, self.support_source),),
        )

    def weight_layout(self, module):
        return identity_layout(module)

    def cases(self):
        return cell_case(self.support_name[5:])


@register
class TorchLSTMCell(_TorchCell):
    code = "L053"
    name = "TorchLSTMCell"
    summary = "nn.LSTMCell -> TorchLSTMCell: one step, gates i,f,g,o, both biases, returns (h', c')"
    torch_classes = ("torch.nn.LSTMCell",)
    support_name = "TorchLSTMCell"
    support_source = LSTM_CELL_SOURCE
    doc = RuleDoc(
        what="`nn.LSTMCell(input_size, hidden_size, bias)` and its call `cell(x)` / `cell(x, (h, c))` -> `(h', c')`.",
        why=(
            "Flax's `nn.LSTMCell(H)` takes the carry as (c, h), returns `((c', h'), h')`, and stores one\n"
            "Dense per gate with the bias sum b_ih + b_hh (not splittable back). Measured traps: gate\n"
            "order i,f,o,g instead of i,f,g,o: 0.511; dropping b_hh: 0.116; carry (h, c) for (c, h): 0.837.\n"
            "The translation emits a `TorchLSTMCell` that keeps PyTorch's parameters as they are\n"
            "(weight_ih (4H, in), weight_hh (4H, H), bias_ih, bias_hh) and PyTorch's call convention.\n"
            "The Flax-native form is `(c, h), _ = nn.LSTMCell(H)((c, h), x)` with, per gate j in i,f,g,o,\n"
            "i{j}/kernel = W_ih[rows].T, h{j}/kernel = W_hh[rows].T, h{j}/bias = b_ih[rows] + b_hh[rows]."
        ),
        example=Example(
            torch="self.cell = nn.LSTMCell(10, 20)\nh, c = self.cell(x, (h, c))",
            flax="self.cell = TorchLSTMCell(10, 20)\nh, c = self.cell(x, (h, c))",
        ),
        fidelity="Equal within float32 tolerance (outputs and gradients); weights port bit-exactly both ways.",
    )


@register
class TorchGRUCell(_TorchCell):
    code = "L054"
    name = "TorchGRUCell"
    summary = "nn.GRUCell -> TorchGRUCell: one step, gates r,z,n with b_hn inside r*(...), returns h'"
    torch_classes = ("torch.nn.GRUCell",)
    support_name = "TorchGRUCell"
    support_source = GRU_CELL_SOURCE
    doc = RuleDoc(
        what="`nn.GRUCell(input_size, hidden_size, bias)` and its call `cell(x)` / `cell(x, h)` -> `h'`.",
        why=(
            "PyTorch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); folding b_hn into the input bias is\n"
            "off by 0.211 (25%). Flax's `nn.GRUCell(H)` computes the same, but returns `(h', h')`, takes\n"
            "the carry first, and sums the r and z biases (not splittable back). The translation emits a\n"
            "`TorchGRUCell` with PyTorch's parameters (weight_ih (3H, in), weight_hh (3H, H), bias_ih,\n"
            "bias_hh) and call convention. The Flax-native form is `h, _ = nn.GRUCell(H)(h, x)` with\n"
            "i{r,z}/bias = b_ih + b_hh (rows), in/bias = b_in, hn/bias = b_hn, kernels = row blocks .T."
        ),
        example=Example(
            torch="self.cell = nn.GRUCell(10, 20)\nh = self.cell(x, h)",
            flax="self.cell = TorchGRUCell(10, 20)\nh = self.cell(x, h)",
        ),
        fidelity="Equal within float32 tolerance (outputs and gradients); weights port bit-exactly both ways.",
    )


@register
class TorchRNNCell(_TorchCell):
    code = "L055"
    name = "TorchRNNCell"
    summary = "nn.RNNCell -> TorchRNNCell: h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh)"
    torch_classes = ("torch.nn.RNNCell",)
    support_name = "TorchRNNCell"
    support_source = RNN_CELL_SOURCE
    options = (("bias", True), ("nonlinearity", "tanh"))
    doc = RuleDoc(
        what="`nn.RNNCell(input_size, hidden_size, bias, nonlinearity)` and its call `cell(x)` / `cell(x, h)` -> `h'`.",
        why=(
            "Flax's `nn.SimpleCell(H)` returns `(h', h')`, takes the carry first and sums the two biases.\n"
            "The translation emits a `TorchRNNCell` with PyTorch's parameters (weight_ih (H, in),\n"
            "weight_hh (H, H), bias_ih, bias_hh) and call convention; 'relu' uses nn.relu (gradient 0 at\n"
            "0, as PyTorch). The Flax-native form is `h, _ = nn.SimpleCell(H)(h, x)` with i/kernel = W_ih.T,\n"
            "h/kernel = W_hh.T, h/bias = b_ih + b_hh."
        ),
        example=Example(
            torch="self.cell = nn.RNNCell(10, 20, nonlinearity='relu')\nh = self.cell(x, h)",
            flax="self.cell = TorchRNNCell(10, 20, nonlinearity='relu')\nh = self.cell(x, h)",
        ),
        fidelity="Equal within float32 tolerance (outputs and gradients); weights port bit-exactly both ways.",
    )
