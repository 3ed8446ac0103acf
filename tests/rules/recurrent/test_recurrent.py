"""Recurrent rules (L050-L055): explicit initial states, the identity port, the documented Flax-native form.

The catalogue test draws a few configurations per rule; these tests pin the
configurations that exercise every trap of PITFALLS.md (gate order, the two
biases, the (h, c) / (c, h) carry order, b_hn inside r * (...)) with initial
states passed as model inputs, so their gradients are compared too.
"""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from translator.equivalence.check import build_pair
from translator.equivalence.rule_cases import LAYER_TOLERANCE
from translator.equivalence.specs import InputSpec
from translator.loading import module_from_code
from translator.rewrite.pipeline import translate_source
from translator.weights.plan import plan_port

HEADER = "import torch\nimport torch.nn as nn\n\n\n"


def write_model(tmp_path, init: str, signature: str, body: str):
    source = HEADER + textwrap.dedent(
        f"""\
        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = {init}

            def forward(self, {signature}):
                return {body}
        """
    )
    path = tmp_path / "model.py"
    path.write_text(source)
    return path


def compare(tmp_path, init, signature, body, shapes, seed=0):
    path = write_model(tmp_path, init, signature, body)
    specs = [InputSpec("float32", shape) for shape in shapes]
    pair, _ = build_pair(path, "Model", specs, seed=seed, tolerance=LAYER_TOLERANCE)
    rng = np.random.default_rng(seed)
    inputs = tuple(rng.uniform(-2, 2, shape).astype(np.float32) for shape in shapes)
    pair.check_structure(inputs)
    comparison = pair.compare(inputs, cotangent_seed=seed)
    for quantity in ("output", "grad_input", "grad_params"):
        error = getattr(comparison, quantity)
        assert error.within(LAYER_TOLERANCE), (quantity, error.max_abs, error.max_rel)
    return comparison


# (init, x shape, state shape): L=3 steps, N=2, D*num_layers states
STACKED = [
    ("nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)", (2, 3, 3), (4, 2, 4)),
    ("nn.LSTM(2, 3, bias=False)", (3, 2, 2), (1, 2, 3)),
    ("nn.LSTM(3, 2, num_layers=2, dropout=0.5)", (3, 2, 3), (2, 2, 2)),
    ("nn.LSTM(3, 4, bidirectional=True)", (3, 3), (2, 4)),  # unbatched
]


@pytest.mark.parametrize("init, x_shape, state_shape", STACKED)
def test_lstm_with_initial_states(tmp_path, init, x_shape, state_shape):
    compare(tmp_path, init, "x, h0, c0", "self.layer(x, (h0, c0))", [x_shape, state_shape, state_shape])


GRU_AND_RNN = [
    ("nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True)", (2, 3, 3), (4, 2, 4)),
    ("nn.GRU(2, 3, bias=False)", (3, 2, 2), (1, 2, 3)),
    ("nn.GRU(3, 2, bidirectional=True)", (4, 3), (2, 2)),  # unbatched
    ("nn.RNN(3, 4, num_layers=2, nonlinearity='relu', bidirectional=True)", (3, 2, 3), (4, 2, 4)),
    ("nn.RNN(3, 4, 2, 'tanh', True, True)", (2, 3, 3), (2, 2, 4)),  # positional, batch_first
]


@pytest.mark.parametrize("init, x_shape, state_shape", GRU_AND_RNN)
def test_gru_and_rnn_with_initial_state(tmp_path, init, x_shape, state_shape):
    compare(tmp_path, init, "x, h0", "self.layer(x, h0)", [x_shape, state_shape])


# sequences longer than 8 steps run as a loop (lax.scan); shorter ones above are unrolled
LONG = [
    ("nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)", "x, h0, c0", "self.layer(x, (h0, c0))",
     [(2, 12, 3), (4, 2, 4), (4, 2, 4)]),
    ("nn.GRU(3, 4, bidirectional=True)", "x, h0", "self.layer(x, h0)", [(9, 2, 3), (2, 2, 4)]),
    ("nn.RNN(3, 4, nonlinearity='relu')", "x, h0", "self.layer(x, h0)", [(10, 3), (1, 4)]),  # unbatched
]


@pytest.mark.parametrize("init, signature, body, shapes", LONG)
def test_long_sequences_loop_over_time(tmp_path, init, signature, body, shapes):
    compare(tmp_path, init, signature, body, shapes)


@pytest.mark.parametrize("length, loops", [(8, False), (9, True)])
def test_short_sequences_are_unrolled(length, loops):
    """At most 8 steps: no loop in the compiled program (XLA fuses across steps); above, one per layer."""
    translation = translate("nn.LSTM(3, 4, num_layers=2)", "self.layer(x)[0]")
    model = module_from_code(translation.code, f"unroll_{length}_flax").Model()
    x = jnp.ones((length, 2, 3))
    variables = model.init(jax.random.PRNGKey(0), x)
    program = jax.jit(model.apply).lower(variables, x).as_text()
    assert ("while" in program) == loops


CELLS = [
    ("nn.LSTMCell(3, 4)", "x, h, c", "self.layer(x, (h, c))", [(2, 3), (2, 4), (2, 4)]),
    ("nn.LSTMCell(3, 4, bias=False)", "x, h, c", "self.layer(x, (h, c))", [(3,), (4,), (4,)]),
    ("nn.GRUCell(3, 4)", "x, h", "self.layer(x, h)", [(2, 3), (2, 4)]),
    ("nn.RNNCell(3, 4, nonlinearity='relu')", "x, h", "self.layer(x, h)", [(2, 3), (2, 4)]),
]


@pytest.mark.parametrize("init, signature, body, shapes", CELLS)
def test_cells_with_state(tmp_path, init, signature, body, shapes):
    compare(tmp_path, init, signature, body, shapes)


def test_cell_unrolled_over_a_sequence(tmp_path):
    """A Python loop over time steps, the usual way a cell is used."""
    path = tmp_path / "model.py"
    path.write_text(
        HEADER
        + textwrap.dedent(
            """\
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.cell = nn.LSTMCell(3, 4)

                def forward(self, x):
                    h = x[0, :, :1].expand(2, 4) * 0.5
                    c = torch.tanh(h)
                    for t in range(3):
                        h, c = self.cell(x[t], (h, c))
                    return h
            """
        )
    )
    shapes = [(3, 2, 3)]
    pair, _ = build_pair(path, "Model", [InputSpec("float32", s) for s in shapes], tolerance=LAYER_TOLERANCE)
    x = np.random.default_rng(1).uniform(-2, 2, shapes[0]).astype(np.float32)
    comparison = pair.compare((x,), cotangent_seed=1)
    assert comparison.output.within(LAYER_TOLERANCE) and comparison.grad_params.within(LAYER_TOLERANCE)


@pytest.mark.parametrize(
    "init",
    ["nn.LSTM(3, 4, num_layers=2, bidirectional=True)", "nn.GRU(3, 4, bias=False)", "nn.RNNCell(3, 4)", "nn.LSTMCell(3, 4)"],
)
def test_port_is_the_identity_and_round_trips_bit_exactly(init):
    model = eval(init, {"nn": torch.nn})
    plan = plan_port(model)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    variables = plan.to_flax(state)
    assert set(variables["params"]) == set(state)  # PyTorch's names, flat, nothing else
    back = plan.to_torch(variables)
    for key, value in state.items():
        assert back[key].dtype == value.dtype and np.array_equal(back[key], value), key


def translate(init: str, body: str = "self.layer(x)"):
    source = HEADER + f"class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.layer = {init}\n\n    def forward(self, x):\n        return {body}\n"
    return translate_source(source, "model.py")


def test_proj_size_is_reported():
    translation = translate("nn.LSTM(3, 4, proj_size=2)")
    assert any(d.code == "L050" and "proj_size" in d.message for d in translation.errors)


def test_keyword_arguments_bind():
    translation = translate("nn.GRU(input_size=3, hidden_size=4, batch_first=True, num_layers=2)")
    assert not translation.errors
    assert "TorchGRU(3, 4, num_layers=2, batch_first=True)" in translation.code
    assert "deterministic=not train" in translation.code


def test_inter_layer_dropout_is_active_in_training():
    translation = translate("nn.LSTM(3, 4, num_layers=2, dropout=0.5)", "self.layer(x)[0]")
    model = module_from_code(translation.code, "dropout_flax").Model()
    x = jnp.ones((3, 2, 3))
    variables = model.init(jax.random.PRNGKey(0), x)
    eval_out = model.apply(variables, x)
    train_a = model.apply(variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(1)})
    train_b = model.apply(variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(2)})
    assert np.array_equal(eval_out, model.apply(variables, x))
    assert not np.allclose(train_a, eval_out) and not np.allclose(train_a, train_b)


def test_documented_flax_native_lstm_form_matches():
    """The RuleDoc's Flax-native form (nn.RNN(nn.LSTMCell), biases summed, carry (c, h)) is right."""
    import flax.linen as fnn

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    h0, c0 = torch.randn(1, 2, 4), torch.randn(1, 2, 4)
    expected, (h_n, c_n) = lstm(x, (h0, c0))
    w_ih, w_hh, b_ih, b_hh = (t.detach().numpy() for t in (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0))
    params = {}
    for j, gate in enumerate("ifgo"):
        rows = slice(4 * j, 4 * (j + 1))
        params[f"i{gate}"] = {"kernel": w_ih[rows].T}
        params[f"h{gate}"] = {"kernel": w_hh[rows].T, "bias": b_ih[rows] + b_hh[rows]}
    rnn = fnn.RNN(fnn.LSTMCell(4), time_major=True, return_carry=True)
    (c, h), out = rnn.apply(
        {"params": {"cell": params}}, x.numpy(), initial_carry=(c0[0].numpy(), h0[0].numpy())
    )
    np.testing.assert_allclose(out, expected.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(h, h_n[0].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(c, c_n[0].detach().numpy(), atol=1e-6)
