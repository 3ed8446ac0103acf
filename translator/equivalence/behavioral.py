"""The behavioral stage: a few steps of plain SGD in both frameworks, then every parameter compared.

Outputs and gradients agreeing on single examples (the numeric stage) does not
prove that *training* agrees: an optimiser step feeds one framework's errors
into the next forward pass, and state that only matters across steps (running
statistics, a parameter the translation re-creates instead of reading) shows up
only here.  Both sides start from the ported weights and take ``steps`` steps of
plain SGD (``torch.optim.SGD`` and ``optax.sgd``, no momentum or weight decay,
learning rate ``LEARNING_RATE``) on the numeric stage's loss ``sum(out * g)``
with one fixed batch and cotangent, drawn once from the input strategies with
the check's seed (at scale 1, no offset: a trained model is fed normalised
data, and an SGD step on an input of scale 100 is a step of ~100x the size).

Compared afterwards, under PyTorch's names through the port plan:

* ``params``: every parameter's final value (norm-wise per tensor);
* ``update``: every parameter's displacement ``theta_k - theta_0``, measured
  against the largest displacement in the model (as gradients are: some
  displacements are mathematically zero and both sides return rounding noise);
  this is the sensitive figure, as the ported starting values cancel out;
* ``state`` (``--train``): running statistics after the k steps.

Errors compound per step, so the bound is ``steps`` times the numeric stage's
(``rtol * steps``); a PyTorch float64 run of the same steps gives the float32
floor, as in the numeric stage.  With ``--train`` and dropout in the model, the
statistical dropout check (``dropout.py``) runs here too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import jax
import numpy as np
import optax
import torch

from translator.equivalence.draws import (
    DrawMismatch,
    DrawTape,
    native_dropout_disabled,
    recording,
    replaying_torch,
)
from translator.equivalence.dropout import DropoutCheck, check_dropout, has_dropout
from translator.equivalence.pair import ModelPair, SpecMismatch, draw_seed, to_numpy
from translator.equivalence.specs import BATCH_RANGE, TRAIN_BATCH_RANGE, InputSpec
from translator.equivalence.strategies import Draw, Recipe
from translator.equivalence.tolerance import Error, Tolerance, error_of, worst
from translator.weights.parametrized import copy_module

DEFAULT_STEPS = 3
#: the requested learning rate; the one used is capped so that the first step moves no parameter by
#: more than MAX_STEP (lr <= MAX_STEP / max|dL/dtheta| at the start, the same lr on both sides).
#: sum(out * g) grows with the output's size, and a batch norm over two values (MobileNetV2 in train
#: mode, 1x1 maps at the end) has gradients of ~1e2: there lr 1e-2 moved weights by O(1) and PyTorch's
#: own float32 run left its float64 run by 42% (measured), i.e. no longer a test of the port.
LEARNING_RATE = 1e-2
MAX_STEP = 1e-2
QUANTITIES = ("params", "update", "state")


@dataclass
class BehavioralResult:
    steps: int
    learning_rate: float
    tolerance: Tolerance
    recipe: Recipe | None = None
    errors: dict[str, Error] = field(default_factory=lambda: {q: Error() for q in QUANTITIES})
    worst_parameter: str | None = None
    dropout: DropoutCheck | None = None
    failure: str | None = None
    train: bool = False
    requested_learning_rate: float = LEARNING_RATE
    #: the model has no parameters: nothing to train (the stage passes, and says so)
    nothing_to_train: bool = False
    #: random draws PyTorch made over all steps, replayed to the translation
    draws: int = 0

    @property
    def quantities(self) -> tuple[str, ...]:
        return QUANTITIES if self.train else QUANTITIES[:2]

    @property
    def ok(self) -> bool:
        return (
            self.failure is None
            and all(self.errors[q].within(self.tolerance) for q in self.quantities)
            and (self.dropout is None or self.dropout.ok)
        )

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "steps": self.steps,
            "optimizer": "sgd",
            "learning_rate": self.learning_rate,
            "requested_learning_rate": self.requested_learning_rate,
            "batch": None if self.recipe is None else str(self.recipe),
            "max_abs_err": {q: self.errors[q].max_abs for q in self.quantities},
            "max_rel_err": {q: self.errors[q].max_rel for q in self.quantities},
            "float32_floor": {q: self.errors[q].floor for q in self.quantities},
            "tolerance": {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol},
            "worst_parameter": self.worst_parameter,
            "dropout": None if self.dropout is None else self.dropout.to_json(),
            "draws_replayed": self.draws,
            "note": "no parameters: nothing to train" if self.nothing_to_train else None,
            "failure": self.failure,
        }


def behavioral_tolerance(tolerance: Tolerance, steps: int) -> Tolerance:
    return Tolerance(rtol=tolerance.rtol * max(steps, 1), atol=tolerance.atol * max(steps, 1))


def draw_batch(specs: list[InputSpec], seed: int, train: bool) -> Recipe:
    """The batch: one :class:`Draw` per input, seeded by ``seed`` (scale 1, no offset, no zeros).

    A ``B`` dimension takes the largest batch size the numeric stage draws (batch statistics of
    a larger batch are better conditioned).
    """
    rng = random.Random(seed)
    batch = (TRAIN_BATCH_RANGE if train else BATCH_RANGE)[1]
    return Recipe(tuple(Draw(rng.randrange(2**32)) for _ in specs), rng.randrange(2**31), batch, rng.randrange(2**31))


def run_behavioral(pair: ModelPair, specs: list[InputSpec], seed: int, steps: int = DEFAULT_STEPS,
                   learning_rate: float = LEARNING_RATE, tolerance: Tolerance | None = None) -> BehavioralResult:
    tolerance = behavioral_tolerance(tolerance or pair.tolerance, steps)
    result = BehavioralResult(steps, learning_rate, tolerance, train=pair.train, requested_learning_rate=learning_rate)
    result.recipe = recipe = draw_batch(specs, seed, pair.train)
    inputs = recipe.arrays(specs)
    if not any(True for _ in pair.torch_model.parameters()):
        result.nothing_to_train = True
        return result
    pair.use_trained_like_state(recipe.state_seed)
    try:
        final32, final64, final_flax, initial, learning_rate, result.draws = train_both(pair, inputs, recipe, steps, learning_rate)
        result.learning_rate = learning_rate
    except (DrawMismatch, SpecMismatch) as error:
        result.failure = f"random draws differ: {error}"
        return result
    except Exception as error:  # an exception inside either model is a finding, not a crash
        result.failure = f"{type(error).__name__}: {error}"
        return result
    compare(result, pair, initial, final32, final64, final_flax)
    if not result.ok and result.failure is None:
        failing = [q for q in result.quantities if not result.errors[q].within(tolerance)]
        result.failure = "after {} SGD steps outside tolerance: {}".format(
            steps, ", ".join(f"{q} {result.errors[q].max_rel:.3g} rel" for q in failing))
    if pair.train and has_dropout(pair.torch_model):
        result.dropout = check_dropout(pair, inputs)
        if not result.dropout.ok and result.failure is None:
            result.failure = result.dropout.failure
    return result


def train_both(pair: ModelPair, inputs, recipe: Recipe, steps: int, learning_rate: float):
    learning_rate = capped_learning_rate(pair, inputs, recipe.cotangent_seed, learning_rate)
    torch32 = copy_module(pair.torch_model)
    initial = {k: to_numpy(v) for k, v in torch32.state_dict().items()}
    final32, cotangent, tapes = train_torch(pair, torch32, inputs, recipe.cotangent_seed, steps, learning_rate)
    try:
        final64, _, _ = train_torch(pair, copy_module(pair.reference64), inputs, recipe.cotangent_seed, steps, learning_rate,
                                    float64=True, tapes=tapes)
    except Exception:  # the model makes float32 tensors of its own: no float64 floor (as the numeric stage)
        final64 = {}
    if any(tape.unrecorded for tape in tapes):
        raise DrawMismatch("PyTorch drew random numbers that check does not record during training: inconclusive")
    final_flax = train_flax(pair, inputs, cotangent, steps, learning_rate, tapes)
    return final32, final64, final_flax, initial, learning_rate, sum(len(t) for t in tapes)


def capped_learning_rate(pair: ModelPair, inputs, cotangent_seed: int, learning_rate: float) -> float:
    grads = pair.run_torch(inputs, cotangent_seed).grad_params
    largest = max((float(np.abs(g).max()) for g in grads.values() if g.size), default=0.0)
    return min(learning_rate, MAX_STEP / largest) if largest > 0 else learning_rate


def compare(result: BehavioralResult, pair: ModelPair, initial, final32, final64, final_flax) -> None:
    aliases = dict(pair.plan.tied)
    for name, _ in pair.torch_model.named_parameters(remove_duplicate=False):  # tied names read their owner's value
        if name not in final_flax and aliases.get(name) in final_flax:
            final_flax[name] = final_flax[aliases[name]]
    parameters = [name for name, _ in pair.torch_model.named_parameters(remove_duplicate=False) if name in final_flax]
    missing = [name for name, _ in pair.torch_model.named_parameters(remove_duplicate=False) if name not in final_flax]
    if missing:
        result.failure = "not compared (no Flax variable): " + ", ".join(missing)
    buffers = {name for name, _ in pair.torch_model.named_buffers(remove_duplicate=False)}
    tolerance = result.tolerance
    displacement = {k: final32[k].astype(np.float64) - initial[k] for k in parameters}
    scale = max((float(np.abs(d).max()) for d in displacement.values() if d.size), default=0.0)
    per_parameter = {
        k: error_of(final_flax[k] - initial[k], displacement[k], scale,
                    None if k not in final64 else final64[k] - initial[k], tolerance)
        for k in parameters
    }
    result.errors["update"] = worst(per_parameter.values(), tolerance)
    if per_parameter:
        result.worst_parameter = max(per_parameter, key=lambda k: per_parameter[k].max_abs / per_parameter[k].allowed(tolerance))
    result.errors["params"] = worst((error_of(final_flax[k], final32[k], None, final64.get(k), tolerance) for k in parameters), tolerance)
    result.errors["state"] = worst(
        (error_of(final_flax[k], final32[k], None, final64.get(k), tolerance) for k in final_flax if k in buffers and k in final32),
        tolerance,
    )


def train_torch(pair: ModelPair, model: torch.nn.Module, inputs, cotangent_seed: int, steps: int, lr: float, float64=False,
                tapes: list[DrawTape] | None = None):
    """``steps`` SGD steps on ``sum(out * g)``: the final state dict, the cotangent used, and each step's
    random draws (recorded, or ``tapes`` replayed: the float64 twin)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    tensors = [torch.from_numpy(np.array(x)).to(pair.torch_device) for x in inputs]
    if float64:
        tensors = [t.double() if i in pair.float_positions else t for i, t in enumerate(tensors)]
    cotangent = None
    recorded = []
    with native_dropout_disabled(model):
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            tape = DrawTape() if tapes is None else tapes[step]
            with recording(tape, seed=draw_seed(cotangent_seed, step)) if tapes is None else replaying_torch(tape):
                out = model(*tensors)
            recorded.append(tape)
            leaves = [leaf for leaf in jax.tree_util.tree_leaves(out) if isinstance(leaf, torch.Tensor)]
            if cotangent is None:
                rng = np.random.default_rng(cotangent_seed)
                cotangent = [rng.standard_normal(tuple(leaf.shape)).astype(np.float32) for leaf in leaves]
            total = sum((leaf * torch.from_numpy(g).to(leaf.device, leaf.dtype)).sum()
                        for leaf, g in zip(leaves, cotangent) if leaf.is_floating_point() and leaf.requires_grad)
            if isinstance(total, torch.Tensor):
                total.backward()
            optimizer.step()
    return {k: to_numpy(v) for k, v in model.state_dict().items()}, cotangent, recorded


def train_flax(pair: ModelPair, inputs, cotangent, steps: int, lr: float, tapes: list[DrawTape]):
    """The same steps with ``optax.sgd``; the final variables under PyTorch's names.

    The gradient is the numeric stage's compiled function (no second compile of the model), the
    optimiser update a small jitted function of its own.
    """
    optimizer = optax.sgd(lr)

    @jax.jit
    def update(params, opt_state, grads):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    floats = [jax.device_put(inputs[p]) for p in pair.float_positions]
    others = [jax.device_put(x) if i not in pair.float_positions else None for i, x in enumerate(inputs)]
    params = jax.tree_util.tree_map(jax.device_put, pair.variables.get("params", {}))
    rest = {k: v for k, v in pair.variables.items() if k != "params"}
    opt_state = optimizer.init(params)
    cot = [jax.device_put(g) for g in cotangent]
    for step in range(steps):
        draws = [jax.device_put(d) for d in tapes[step].arrays()]
        (_, (_, new_state)), (grads, _) = pair._flax_grad_fn()(params, rest, floats, others, cot, draws, tapes[step].kinds)
        params, opt_state = update(params, opt_state, grads)
        rest = {**rest, **new_state}
    variables = jax.tree_util.tree_map(np.asarray, {"params": params, **rest})
    return pair.plan.to_torch(variables)
