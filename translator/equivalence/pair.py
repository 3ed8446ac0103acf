"""A PyTorch model and its Flax translation, with ported weights, run side by side.

:class:`ModelPair` computes, for one batch of inputs and one random cotangent
``g``, the outputs of both models and the gradients of ``sum(out * g)`` with
respect to every floating-point input and every parameter (Flax gradients are
mapped back to PyTorch's layout through the port plan, so each gradient is
compared under its PyTorch name).  The Flax side is jitted once per input shape.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import torch

from translator.equivalence.specs import InputSpec
from translator.equivalence.tolerance import Error, Tolerance, error_of, worst
from translator.weights.plan import PortPlan, Variables, flatten_variables

jax.config.update("jax_enable_x64", False)


class SpecMismatch(Exception):
    """The translation's structure differs from PyTorch's (variables, output shapes or dtypes)."""


@dataclass
class Comparison:
    """Errors of one example: outputs, input gradients, parameter gradients (per tensor too)."""

    output: Error
    grad_input: Error
    grad_params: Error
    per_parameter: dict[str, Error] = field(default_factory=dict)
    #: train mode: the updated running statistics (batch_stats vs PyTorch's buffers)
    state: Error = field(default_factory=Error)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A host copy of a tensor (from any device)."""
    return tensor.detach().cpu().numpy().copy()


def torch_dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


@dataclass
class ModelPair:
    torch_model: torch.nn.Module
    flax_model: object  # flax.linen.Module
    variables: Variables
    plan: PortPlan
    specs: list[InputSpec]
    train: bool = False
    tolerance: Tolerance = field(default_factory=Tolerance)
    #: where PyTorch runs: "cpu" or "cuda" (JAX's device is chosen by the caller, see ``device.py``)
    torch_device: str = "cpu"
    _grad_fn: object = None

    def __post_init__(self):
        self.torch_model.to(self.torch_device)
        self.torch_model.train(self.train)
        self.float_positions = [i for i, s in enumerate(self.specs) if s.is_float]

    # ----------------------------------------------------------------- structure (the Spec stage)
    def check_structure(self, inputs: tuple[np.ndarray, ...]) -> None:
        """Raise :class:`SpecMismatch` unless variables and outputs have PyTorch's shapes."""
        key = jax.random.PRNGKey(0)
        try:
            expected = jax.eval_shape(self.flax_model.init, key, *[jnp.asarray(x) for x in inputs])
        except Exception as error:
            raise SpecMismatch(f"the Flax module does not initialise on these inputs: {type(error).__name__}: {error}") from None
        flax_shapes = {k: tuple(v.shape) for k, v in flatten_variables(expected).items()}
        ported = {k: tuple(np.shape(v)) for k, v in flatten_variables(self.variables).items()}
        problems = []
        for k in sorted(set(flax_shapes) | set(ported)):
            if k not in ported:
                problems.append(f"{k}: created by the Flax module, not ported from PyTorch")
            elif k not in flax_shapes:
                parent = k.rsplit("/", 1)[0] + "/"
                if any(f.startswith(parent) for f in flax_shapes):  # its layer exists: this tensor was dropped
                    problems.append(f"{k}: ported from {self.plan.by_flax_key()[k].torch_key}, not used by the Flax module")
                # otherwise a layer this mode does not call (Flax creates variables lazily); apply ignores it
            elif flax_shapes[k] != ported[k]:
                problems.append(f"{k}: Flax expects {flax_shapes[k]}, port gives {ported[k]}")
        if problems:
            raise SpecMismatch("variables differ:\n  " + "\n  ".join(problems))

    # ----------------------------------------------------------------- running both sides
    def flax_loss(self):
        """``loss(params, rest, float_inputs, other_inputs, cotangent) -> (sum(out * g), (out, new_state))``."""
        model, floats, train = self.flax_model, self.float_positions, self.train
        takes_train = "train" in inspect.signature(type(model).__call__).parameters

        def loss(params, rest, float_inputs, other_inputs, cotangent):
            mutable = ["batch_stats"] if train and "batch_stats" in rest else False
            args = list(other_inputs)
            for position, value in zip(floats, float_inputs):
                args[position] = value
            kwargs = {"train": True} if train and takes_train else {}
            # dropout is disabled and random draws are zeroed (see `dropout_disabled`, `random_draws_zeroed`);
            # the streams exist so the translated code runs as written
            kwargs["rngs"] = {"noise": jax.random.PRNGKey(0), **({"dropout": jax.random.PRNGKey(0)} if train else {})}
            result = model.apply({"params": params, **rest}, *args, mutable=mutable, **kwargs)
            out, state = result if mutable else (result, {})
            leaves = jax.tree_util.tree_leaves(out)
            total = sum(jnp.vdot(leaf.astype(jnp.float32), g) for leaf, g in zip(leaves, cotangent))
            return total, (out, state)

        return loss

    def _flax_grad_fn(self):
        """The jitted ``(params, rest, floats, others, cotangent) -> ((loss, (out, state)), (dparams, dfloats))``.

        The non-parameter variables are an argument, not constants: the behavioral stage calls the
        same compiled function with its updated batch statistics (one compile per input shape for both).
        """
        if self._grad_fn is None:
            self._grad_fn = jax.jit(jax.value_and_grad(self.flax_loss(), argnums=(0, 2), has_aux=True))
        return self._grad_fn

    def compare_in_mode(self, inputs, cotangent_seed: int = 0) -> Comparison:
        """:meth:`compare`, with dropout disabled on both sides in train mode."""
        with random_draws_zeroed():
            if not self.train:
                return self.compare(inputs, cotangent_seed)
            with dropout_disabled(self.torch_model):
                return self.compare(inputs, cotangent_seed)

    def run_torch(self, inputs, cotangent_seed: int, model: torch.nn.Module | None = None):
        model = self.torch_model if model is None else model
        # a training-mode forward updates buffers in place: restore them so every example starts equal
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        try:
            return self._run_torch(model, inputs, cotangent_seed, float64=model is not self.torch_model)
        finally:
            model.load_state_dict(saved)

    @property
    def reference64(self) -> torch.nn.Module:
        """A float64 copy of the PyTorch model: measures float32's own error (the floor)."""
        if getattr(self, "_reference64", None) is None:
            import copy

            self._reference64 = copy.deepcopy(self.torch_model).double()
        return self._reference64

    def _run_torch(self, model: torch.nn.Module, inputs, cotangent_seed: int, float64: bool = False):
        tensors = [torch.from_numpy(np.array(x)).to(self.torch_device) for x in inputs]
        for position in self.float_positions:
            if float64:
                tensors[position] = tensors[position].double()
            tensors[position].requires_grad_(True)
        model.zero_grad(set_to_none=True)
        out = model(*tensors)
        leaves = [leaf for leaf in jax.tree_util.tree_leaves(out) if isinstance(leaf, torch.Tensor)]
        rng = np.random.default_rng(cotangent_seed)
        cotangent = [rng.standard_normal(tuple(leaf.shape)).astype(np.float32) for leaf in leaves]
        total = sum((leaf * torch.from_numpy(g).to(leaf.device, leaf.dtype)).sum() for leaf, g in zip(leaves, cotangent))
        total.backward()
        grads_in = [to_numpy(tensors[p].grad) if tensors[p].grad is not None else np.zeros(inputs[p].shape, np.float32) for p in self.float_positions]
        grads_params = {
            name: (to_numpy(p.grad) if p.grad is not None else np.zeros(tuple(p.shape), np.float32))
            for name, p in model.named_parameters()
        }
        state = {k: to_numpy(v) for k, v in model.state_dict().items()}
        return [to_numpy(leaf) for leaf in leaves], cotangent, grads_in, grads_params, state

    def run_flax(self, inputs, cotangent):
        floats = [jax.device_put(inputs[p]) for p in self.float_positions]
        others = [jax.device_put(x) if i not in self.float_positions else None for i, x in enumerate(inputs)]
        (_, (out, state)), (grad_params, grad_inputs) = self._flax_grad_fn()(
            self.variables.get("params", {}), self._non_params(), floats, others, [jax.device_put(g) for g in cotangent]
        )
        leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(out)]
        torch_grads = self.plan.to_torch({"params": jax.tree_util.tree_map(np.asarray, grad_params), **self._non_params()})
        new_state = {}
        if state:
            updated = {**self.variables, **jax.tree_util.tree_map(np.asarray, state)}
            new_state = self.plan.to_torch(updated)
        return leaves, [np.asarray(g) for g in grad_inputs], torch_grads, new_state

    def _non_params(self):
        return {k: v for k, v in self.variables.items() if k != "params"}

    # ----------------------------------------------------------------- one example
    def compare(self, inputs: tuple[np.ndarray, ...], cotangent_seed: int = 0) -> Comparison:
        torch_out, cotangent, torch_grad_in, torch_grad_params, torch_state = self.run_torch(inputs, cotangent_seed)
        flax_out, flax_grad_in, flax_grad_params, flax_state = self.run_flax(inputs, cotangent)
        try:
            exact_out, _, exact_grad_in, exact_grad_params, exact_state = self.run_torch(inputs, cotangent_seed, self.reference64)
        except Exception:  # the model makes float32 tensors of its own (a mask): no float64 floor, strict bound
            exact_out, exact_grad_in, exact_grad_params, exact_state = [None] * len(torch_out), [None] * len(torch_grad_in), {}, {}
        if len(torch_out) != len(flax_out):
            raise SpecMismatch(f"PyTorch returns {len(torch_out)} tensor(s), Flax {len(flax_out)}")
        for i, (a, b) in enumerate(zip(flax_out, torch_out)):
            if a.shape != b.shape:
                raise SpecMismatch(f"output {i}: Flax shape {a.shape}, PyTorch shape {b.shape}")
        output = worst((error_of(a, b, None, c) for a, b, c in zip(flax_out, torch_out, exact_out)), self.tolerance)
        grad_input = worst(
            (error_of(a, b, None, c) for a, b, c in zip(flax_grad_in, torch_grad_in, exact_grad_in)), self.tolerance
        )
        scale = max((float(np.abs(g).max()) for g in torch_grad_params.values() if g.size), default=0.0)
        per_parameter = {
            name: error_of(flax_grad_params[name], grad, scale, exact_grad_params.get(name))
            for name, grad in torch_grad_params.items()
            if name in flax_grad_params
        }
        buffers = {name for name, _ in self.torch_model.named_buffers()}
        state = worst(
            (
                error_of(flax_state[k], torch_state[k], None, exact_state.get(k))
                for k in flax_state
                if k in buffers and k in torch_state
            ),
            self.tolerance,
        )
        return Comparison(output, grad_input, worst(per_parameter.values(), self.tolerance), per_parameter, state)


#: the samplers rule T023 translates, on each side (PyTorch's functions, and what the translation calls)
TORCH_SAMPLERS = ("randn", "rand", "randn_like", "rand_like")
JAX_SAMPLERS = ("normal", "uniform")


@contextlib.contextmanager
def random_draws_zeroed():
    """Every ``torch.randn/rand(_like)`` and ``jax.random.normal/uniform`` returns zeros meanwhile.

    The two frameworks' generators can never produce the same numbers, so the numeric
    and behavioral stages compare a model that samples (a VAE's ``mu + eps * std``) with
    its draws fixed at zero on both sides -- the same model with ``eps = 0``. The Flax
    side is patched while the function is traced, so the compiled code holds the zeros.
    """
    import jax.numpy as jnp

    saved = [(torch, name, getattr(torch, name)) for name in TORCH_SAMPLERS]
    saved += [(jax.random, name, getattr(jax.random, name)) for name in JAX_SAMPLERS]

    def torch_zeros(original):
        def sample(*args, **kwargs):
            return torch.zeros_like(original(*args, **kwargs))
        return sample

    def jax_zeros(key, shape=(), dtype=jnp.float32, *args, **kwargs):
        return jnp.zeros(shape, dtype)

    for owner, name, original in saved:
        setattr(owner, name, torch_zeros(original) if owner is torch else jax_zeros)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@contextlib.contextmanager
def dropout_disabled(torch_model: torch.nn.Module):
    """Train mode without dropout, on both sides: batch norm uses batch statistics, dropout is off.

    Dropout masks come from different random streams and can never match
    elementwise, so the train-mode numeric check compares everything else
    (batch statistics, running-statistic updates, gradients) with dropout off:
    PyTorch's dropout modules get ``p = 0`` and Flax's ``nn.Dropout`` is made
    deterministic while the function is traced.
    """
    import flax.linen as flax_nn

    saved = []
    for module in torch_model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            saved.append((module, "p", module.p))
            module.p = 0.0
        elif isinstance(module, (torch.nn.MultiheadAttention, torch.nn.RNNBase)):
            saved.append((module, "dropout", module.dropout))
            module.dropout = 0.0
    original = flax_nn.Dropout.__call__

    def deterministic_call(self, inputs, deterministic=None, rng=None):
        return inputs

    flax_nn.Dropout.__call__ = deterministic_call
    try:
        yield
    finally:
        flax_nn.Dropout.__call__ = original
        for module, name, value in saved:
            setattr(module, name, value)
