"""What the recurrent rules share: support-module sources, constructor signatures, layouts, cases.

Each emitted support module is self-contained (a reader of the translated file
sees the whole recurrence in one class); the sources are generated here from
one template so the three stacked layers cannot drift apart.

Design choice: the support modules keep PyTorch's parameters *as they are*
(``weight_ih_l0 (G*H, I)``, ``weight_hh_l0 (G*H, H)``, ``bias_ih_l0``,
``bias_hh_l0``).  Flax's own ``nn.RNN(nn.LSTMCell(H))`` stores one bias per gate
that is the *sum* ``b_ih + b_hh``; porting into it is possible but the sum
cannot be split back, so a Flax -> PyTorch round trip would not reproduce the
checkpoint, and gradients of the two biases could not be compared one by one.
"""

from __future__ import annotations

import inspect

import torch
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none
from translator.rules.base import NotLiteral, RuleCase, TensorMapping
from translator.weights.layouts import IDENTITY

P = inspect.Parameter


def _param(name, default=P.empty, annotation=P.empty, kind=P.POSITIONAL_OR_KEYWORD):
    return P(name, kind, default=default, annotation=annotation)


#: PyTorch's constructor signatures.  ``nn.LSTM/GRU/RNN.__init__`` are ``(*args, **kwargs)``
#: (they forward to ``RNNBase``), so the rewriter cannot bind keywords against them.
LSTM_SIGNATURE = inspect.Signature(
    [
        _param("input_size", annotation=int),
        _param("hidden_size", annotation=int),
        _param("num_layers", 1, int),
        _param("bias", True, bool),
        _param("batch_first", False, bool),
        _param("dropout", 0.0, float),
        _param("bidirectional", False, bool),
        _param("proj_size", 0, int),
        _param("device", None),
        _param("dtype", None),
    ]
)
GRU_SIGNATURE = inspect.Signature(
    [
        *[p for p in LSTM_SIGNATURE.parameters.values() if p.name not in ("proj_size", "device", "dtype")],
        _param("device", None, kind=P.KEYWORD_ONLY),
        _param("dtype", None, kind=P.KEYWORD_ONLY),
    ]
)
RNN_SIGNATURE = inspect.Signature(
    [
        _param("input_size", annotation=int),
        _param("hidden_size", annotation=int),
        _param("num_layers", 1, int),
        _param("nonlinearity", "tanh", str),
        *[p for p in GRU_SIGNATURE.parameters.values() if p.name in ("bias", "batch_first", "dropout", "bidirectional", "device", "dtype")],
    ]
)


# --------------------------------------------------------------------------- support sources

STACK_TEMPLATE = '''
class @NAME@(nn.Module):
    """@TORCH@ with PyTorch's parameters, gate order and call convention (rule @CODE@).

    Parameters keep PyTorch's names and layouts (``weight_ih_l{k}[_reverse]``
    (@GH@, in), ``weight_hh_l{k}`` (@GH@, H), ``bias_ih_l{k}``, ``bias_hh_l{k}``), so
    porting is the identity.  @GATES@
    ``__call__(input, hx=None)`` returns @RETURNS@ with PyTorch's shapes:
    output (L, N, D*H) or (N, L, D*H) with ``batch_first``, states
    (num_layers*D, N, H); an unbatched (L, input_size) input is accepted.
    """

    input_size: int
    hidden_size: int
    num_layers: int = 1@FIELDS@
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False

    @nn.compact
    def __call__(self, input, hx=None, deterministic: bool = True):
        hidden, directions = self.hidden_size, 2 if self.bidirectional else 1
        unbatched = input.ndim == 2
        if unbatched:  # (L, input_size): one sequence
            x = input[:, None]
        else:  # time-major inside: (L, N, features)
            x = jnp.swapaxes(input, 0, 1) if self.batch_first else input
        state_shape = (self.num_layers * directions, x.shape[1], hidden)
@INITIAL@
        bound = hidden**-0.5  # PyTorch's init: U(-1/sqrt(H), 1/sqrt(H)) for every tensor

        def init(key, shape):
            return jax.random.uniform(key, shape, jnp.float32, -bound, bound)

        finals = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:  # on every layer's output but the last, as PyTorch
                x = nn.Dropout(self.dropout)(x, deterministic=deterministic)
            outputs = []
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                w_ih = self.param(f"weight_ih{suffix}", init, (@G@ * hidden, x.shape[-1]))
                w_hh = self.param(f"weight_hh{suffix}", init, (@G@ * hidden, hidden))
                b_ih = self.param(f"bias_ih{suffix}", init, (@G@ * hidden,)) if self.bias else 0.0
                b_hh = self.param(f"bias_hh{suffix}", init, (@G@ * hidden,)) if self.bias else 0.0
                # every step's input projection at once, (L, N, @G@*H), with @PROJ_NOTE@
                x_proj = x @ w_ih.T + @PROJ_BIAS@

@STEP@

                index = layer * directions + direction
                # up to 8 steps unrolled: XLA fuses across steps (a loop pays per iteration); longer
                # sequences loop, as an unrolled program grows with the length (and its compile time)
                unroll = x.shape[0] <= 8
                carry, out = jax.lax.scan(step, @CARRY0@, x_proj, reverse=direction == 1, unroll=unroll)
                outputs.append(out)
                finals.append(carry)
            x = jnp.concatenate(outputs, axis=-1)  # [forward, backward] features
        output = x[:, 0] if unbatched else jnp.swapaxes(x, 0, 1) if self.batch_first else x
@FINAL@
'''

LSTM_STEP = '''
                def step(carry, x_t):
                    h, c = carry
                    i, f, g, o = jnp.split(x_t + h @ w_hh.T, 4, axis=-1)  # PyTorch's order
                    c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
                    h = nn.sigmoid(o) * jnp.tanh(c)
                    return (h, c), h
'''

GRU_STEP = '''
                def step(h, x_t):
                    x_r, x_z, x_n = jnp.split(x_t, 3, axis=-1)
                    h_r, h_z, h_n = jnp.split(h @ w_hh.T + b_hh, 3, axis=-1)
                    r = nn.sigmoid(x_r + h_r)
                    z = nn.sigmoid(x_z + h_z)
                    n = jnp.tanh(x_n + r * h_n)  # b_hn stays inside r * (...), as PyTorch
                    h = (1 - z) * n + z * h
                    return h, h
'''

RNN_STEP = '''
                def step(h, x_t):
                    pre = x_t + h @ w_hh.T
                    h = jnp.tanh(pre) if self.nonlinearity == "tanh" else nn.relu(pre)
                    return h, h
'''

LSTM_INITIAL = '''
        if hx is None:
            h0 = c0 = jnp.zeros(state_shape, x.dtype)
        else:
            h0, c0 = hx
            if unbatched:
                h0, c0 = h0[:, None], c0[:, None]
'''

SINGLE_INITIAL = '''
        if hx is None:
            h0 = jnp.zeros(state_shape, x.dtype)
        else:
            h0 = hx[:, None] if unbatched else hx
'''

LSTM_FINAL = '''
        h_n = jnp.stack([h for h, _ in finals])
        c_n = jnp.stack([c for _, c in finals])
        if unbatched:
            h_n, c_n = h_n[:, 0], c_n[:, 0]
        return output, (h_n, c_n)
'''

SINGLE_FINAL = '''
        h_n = jnp.stack(finals)
        return output, h_n[:, 0] if unbatched else h_n
'''


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        if value.startswith("\n") and value.endswith("\n"):  # a block of lines: its own lines in the template
            value = value.strip("\n")
        template = template.replace(f"@{key}@", value)
    return template.strip("\n") + "\n"


LSTM_SOURCE = _fill(
    STACK_TEMPLATE,
    NAME="TorchLSTM",
    PROJ_BIAS="(b_ih + b_hh)",
    PROJ_NOTE="both biases",
    TORCH="nn.LSTM",
    CODE="L050",
    G="4",
    GH="4*H",
    GATES="Gates in PyTorch's order i, f, g, o; both biases\n    are added.",
    RETURNS="``(output, (h_n, c_n))``",
    FIELDS="",
    INITIAL=LSTM_INITIAL,
    STEP=LSTM_STEP,
    CARRY0="(h0[index], c0[index])",
    FINAL=LSTM_FINAL,
)
GRU_SOURCE = _fill(
    STACK_TEMPLATE,
    NAME="TorchGRU",
    PROJ_BIAS="b_ih",
    PROJ_NOTE="b_ih (b_hh: in the gates)",
    TORCH="nn.GRU",
    CODE="L051",
    G="3",
    GH="3*H",
    GATES="Gates in PyTorch's order r, z, n, with\n    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).",
    RETURNS="``(output, h_n)``",
    FIELDS="",
    INITIAL=SINGLE_INITIAL,
    STEP=GRU_STEP,
    CARRY0="h0[index]",
    FINAL=SINGLE_FINAL,
)
RNN_SOURCE = _fill(
    STACK_TEMPLATE,
    NAME="TorchRNN",
    PROJ_BIAS="(b_ih + b_hh)",
    PROJ_NOTE="both biases",
    TORCH="nn.RNN",
    CODE="L052",
    G="1",
    GH="H",
    GATES="h' = tanh or relu(W_ih x + b_ih + W_hh h + b_hh).",
    RETURNS="``(output, h_n)``",
    FIELDS='\n    nonlinearity: str = "tanh"',
    INITIAL=SINGLE_INITIAL,
    STEP=RNN_STEP,
    CARRY0="h0[index]",
    FINAL=SINGLE_FINAL,
)


CELL_TEMPLATE = '''
class @NAME@(nn.Module):
    """@TORCH@ with PyTorch's parameters and call convention (rule @CODE@).

    Parameters keep PyTorch's names and layouts (``weight_ih`` (@GH@, in),
    ``weight_hh`` (@GH@, H), ``bias_ih``, ``bias_hh``), so porting is the identity.
    ``__call__(input, hx=None)`` returns @RETURNS@; a 1-D (unbatched) input is accepted.
    """

    input_size: int
    hidden_size: int
    bias: bool = True@FIELDS@

    @nn.compact
    def __call__(self, input, hx=None):
        hidden = self.hidden_size
        unbatched = input.ndim == 1
        x = input[None] if unbatched else input
@INITIAL@
        bound = hidden**-0.5  # PyTorch's init: U(-1/sqrt(H), 1/sqrt(H)) for every tensor

        def init(key, shape):
            return jax.random.uniform(key, shape, jnp.float32, -bound, bound)

        w_ih = self.param("weight_ih", init, (@G@ * hidden, self.input_size))
        w_hh = self.param("weight_hh", init, (@G@ * hidden, hidden))
        b_ih = self.param("bias_ih", init, (@G@ * hidden,)) if self.bias else 0.0
        b_hh = self.param("bias_hh", init, (@G@ * hidden,)) if self.bias else 0.0
@STEP@
'''

LSTM_CELL_INITIAL = '''
        if hx is None:
            h = c = jnp.zeros((x.shape[0], hidden), x.dtype)
        else:
            h, c = hx
            if unbatched:
                h, c = h[None], c[None]
'''

SINGLE_CELL_INITIAL = '''
        if hx is None:
            h = jnp.zeros((x.shape[0], hidden), x.dtype)
        else:
            h = hx[None] if unbatched else hx
'''

LSTM_CELL_STEP = '''
        i, f, g, o = jnp.split(x @ w_ih.T + b_ih + (h @ w_hh.T + b_hh), 4, axis=-1)  # PyTorch's order
        c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
        h = nn.sigmoid(o) * jnp.tanh(c)
        return (h[0], c[0]) if unbatched else (h, c)
'''

GRU_CELL_STEP = '''
        x_r, x_z, x_n = jnp.split(x @ w_ih.T + b_ih, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(h @ w_hh.T + b_hh, 3, axis=-1)
        r = nn.sigmoid(x_r + h_r)
        z = nn.sigmoid(x_z + h_z)
        n = jnp.tanh(x_n + r * h_n)  # b_hn stays inside r * (...), as PyTorch
        h = (1 - z) * n + z * h
        return h[0] if unbatched else h
'''

RNN_CELL_STEP = '''
        pre = x @ w_ih.T + b_ih + (h @ w_hh.T + b_hh)
        h = jnp.tanh(pre) if self.nonlinearity == "tanh" else nn.relu(pre)
        return h[0] if unbatched else h
'''

LSTM_CELL_SOURCE = _fill(
    CELL_TEMPLATE, NAME="TorchLSTMCell", TORCH="nn.LSTMCell", CODE="L053", G="4",
    GH="4*H", RETURNS="``(h', c')``",
    FIELDS="", INITIAL=LSTM_CELL_INITIAL, STEP=LSTM_CELL_STEP,
)
GRU_CELL_SOURCE = _fill(
    CELL_TEMPLATE, NAME="TorchGRUCell", TORCH="nn.GRUCell", CODE="L054", G="3",
    GH="3*H", RETURNS="``h'``",
    FIELDS="", INITIAL=SINGLE_CELL_INITIAL, STEP=GRU_CELL_STEP,
)
RNN_CELL_SOURCE = _fill(
    CELL_TEMPLATE, NAME="TorchRNNCell", TORCH="nn.RNNCell", CODE="L055", G="1",
    GH="H", RETURNS="``h'``",
    FIELDS='\n    nonlinearity: str = "tanh"', INITIAL=SINGLE_CELL_INITIAL, STEP=RNN_CELL_STEP,
)


# --------------------------------------------------------------------------- constructor translation


def support_call(ctx, support_name: str, options: tuple[tuple[str, object], ...]):
    """``SupportName(input_size, hidden_size, option=value, ...)``: options equal to PyTorch's default are left out.

    ``options`` lists (name, default) in the support module's field order.
    """
    keywords = {}
    for name, default in options:
        value = literal_or_none(ctx, name)
        if value is NotLiteral or value != default or type(value) is not type(default):
            keywords[name] = ctx.expr(name)
    if not ctx.is_default("dtype"):
        ctx.unsupported("`dtype=` is not translated yet (the support module computes in its input's dtype)")
    return call(support_name, [ctx.expr("input_size"), ctx.expr("hidden_size")], keywords)


def check_nonlinearity(ctx) -> None:
    value = literal_or_none(ctx, "nonlinearity")
    if value is NotLiteral:
        ctx.unsupported("`nonlinearity` must be a constant ('tanh' or 'relu')")
    elif value not in ("tanh", "relu"):
        ctx.unsupported(f"`nonlinearity={value!r}`: PyTorch accepts only 'tanh' or 'relu'")


def identity_layout(module: torch.nn.Module) -> list[TensorMapping]:
    """Every parameter under its own name: the support modules use PyTorch's names and layouts."""
    names = getattr(module, "_flat_weights_names", None) or [name for name, _ in module.named_parameters(recurse=False)]
    return [TensorMapping(name, ("params", name), IDENTITY) for name in names]


# --------------------------------------------------------------------------- equivalence cases


@st.composite
def stacked_case(draw, kind: str) -> RuleCase:
    """One ``nn.LSTM/GRU/RNN`` configuration, its input and what ``forward`` returns."""
    input_size = draw(st.integers(1, 4))
    hidden = draw(st.integers(1, 4))
    layers = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    batch_first = draw(st.booleans())
    bidirectional = draw(st.booleans())
    dropout = draw(st.sampled_from([0.0, 0.5])) if layers > 1 else 0.0  # eval mode: dropout is off
    seq = draw(st.integers(1, 4))
    batch = draw(st.integers(1, 2))
    unbatched = draw(st.integers(0, 5)) == 0
    args = [str(input_size), str(hidden)]
    if layers != 1:
        args.append(f"num_layers={layers}")
    if kind == "RNN":
        nonlinearity = draw(st.sampled_from(["tanh", "relu"]))
        if nonlinearity != "tanh" or draw(st.booleans()):
            args.append(f"nonlinearity={nonlinearity!r}")
    args += [f"bias={bias}", f"batch_first={batch_first}", f"bidirectional={bidirectional}"]
    if dropout:
        args.append(f"dropout={dropout}")
    init = f"nn.{kind}({', '.join(args)})"

    states = layers * (2 if bidirectional else 1)
    if unbatched:
        shape: tuple[int, ...] = (seq, input_size)
        first = "x[:1, :1]"  # (1, 1)
        state = f"{first}.expand({states}, {hidden})"
    else:
        shape = (batch, seq, input_size) if batch_first else (seq, batch, input_size)
        first = "x[:, :1, :1].transpose(0, 1)" if batch_first else "x[:1, :, :1]"  # (1, N, 1)
        state = f"{first}.expand({states}, {batch}, {hidden})"
    h0 = f"torch.tanh({state})"
    initial = f"({h0}, torch.sin({state}))" if kind == "LSTM" else h0
    forward = draw(
        st.sampled_from(
            [
                "self.layer(x)",  # everything: output and final state(s)
                "self.layer(x)[0]",
                "self.layer(x)[1][0]" if kind == "LSTM" else "self.layer(x)[1]",
                f"self.layer(x, {initial})",  # an initial state that depends on x (gradients flow into it)
            ]
        )
    )
    train = draw(st.booleans()) if not dropout else False  # train mode without dropout: same numbers
    return RuleCase(init, forward, shape, input_range=(-2.0, 2.0), train=train)


@st.composite
def cell_case(draw, kind: str) -> RuleCase:
    """One ``nn.LSTMCell/GRUCell/RNNCell`` configuration."""
    input_size = draw(st.integers(1, 4))
    hidden = draw(st.integers(1, 4))
    bias = draw(st.booleans())
    batch = draw(st.integers(1, 2))
    unbatched = draw(st.integers(0, 4)) == 0
    args = [str(input_size), str(hidden), f"bias={bias}"]
    if kind == "RNNCell":
        args.append(f"nonlinearity={draw(st.sampled_from(['tanh', 'relu']))!r}")
    init = f"nn.{kind}({', '.join(args)})"
    if unbatched:
        shape: tuple[int, ...] = (input_size,)
        state = f"x[:1].expand({hidden})"
    else:
        shape = (batch, input_size)
        state = f"x[:, :1].expand({batch}, {hidden})"
    h0 = f"torch.tanh({state})"
    initial = f"({h0}, torch.sin({state}))" if kind == "LSTMCell" else h0
    forward = draw(st.sampled_from(["self.layer(x)", f"self.layer(x, {initial})"]))
    if kind == "LSTMCell" and forward == "self.layer(x)" and draw(st.booleans()):
        forward = "self.layer(x)[1]"  # c'
    return RuleCase(init, forward, shape, input_range=(-2.0, 2.0))
