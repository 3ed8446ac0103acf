"""A PyTorch model and its Flax translation, with ported weights, run side by side.

:class:`ModelPair` computes, for one batch of inputs and one random cotangent
``g``, the outputs of both models and the gradients of ``sum(out * g)`` with
respect to every floating-point input and every parameter (Flax gradients are
mapped back to PyTorch's layout through the port plan, so each gradient is
compared under its PyTorch name).  The Flax side is jitted once per input shape.

Both models hold the same *trained-like* state (``state.py``: norm statistics, scales and shifts
away from their initial values), PyTorch's random draws are recorded and replayed to its float64
twin and to the translation (``draws.py``), and everything is compared: every output leaf (with
its structure and dtype), every input gradient, every parameter's gradient under each of its
names, every buffer after the forward pass; what cannot be compared is listed as uncompared.
"""

from __future__ import annotations

import collections.abc
import inspect
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import torch

from translator.equivalence.draws import (
    DrawMismatch,
    DrawTape,
    native_dropout_disabled,
    native_random_paths,
    recording,
    replaying_jax,
    replaying_torch,
)
from translator.equivalence.specs import InputSpec
from translator.equivalence.state import load_into, trained_like_state
from translator.equivalence.ties import NUDGES, NearTies, flipping_near_ties, nudged_inputs
from translator.equivalence.tolerance import Error, Tolerance, error_of, worst
from translator.weights.plan import PortPlan, Variables, flatten_variables

jax.config.update("jax_enable_x64", False)


class SpecMismatch(Exception):
    """The translation's structure differs from PyTorch's (variables, output shapes or dtypes)."""


@dataclass
class Comparison:
    """Errors of one example: outputs, input gradients, parameter gradients (per tensor too), buffers.

    ``compared`` names every quantity compared (``output[0]``, ``grad:fc.weight``, ``buffer:bn.running_mean``);
    ``uncompared`` every one that exists but could not be compared, with why (a failure);
    ``not_ported`` buffers the port plan leaves out on purpose, with its reason.
    """

    output: Error
    grad_input: Error
    grad_params: Error
    per_parameter: dict[str, Error] = field(default_factory=dict)
    #: the buffers after the forward pass (running statistics in train mode, any state a forward updates)
    state: Error = field(default_factory=Error)
    compared: list[str] = field(default_factory=list)
    uncompared: list[str] = field(default_factory=list)
    not_ported: list[str] = field(default_factory=list)
    #: the random draws PyTorch made and the translation replayed
    draws: int = 0
    #: near-tie windows in max pools, counted when a quantity was outside its bound (``ties.py``)
    near_ties: NearTies | None = None
    #: PyTorch drew randomness that ``draws.py`` does not record: the example cannot be decided
    unrecorded: bool = False


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A host copy of a tensor (from any device)."""
    return tensor.detach().cpu().numpy().copy()


def torch_dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def path_text(path) -> str:
    """A pytree path as text, lists and tuples alike: ``[0]``, ``['logits']``, ``.hidden``."""
    parts = []
    for key in path:
        if isinstance(key, jax.tree_util.SequenceKey):
            parts.append(f"[{key.idx}]")
        elif isinstance(key, jax.tree_util.DictKey):
            parts.append(f"[{key.key!r}]")
        elif isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(f".{key.name}")
        else:
            parts.append(str(key))
    return "".join(parts)  # "" for a bare tensor: named `output`, `output[0]`, `output['logits']`


def output_leaves(out, is_array) -> list[tuple[str, object]]:
    """(path, leaf) for every array leaf of a model's output (tuples, lists, dicts, nests; a mapping
    of another class, such as Hugging Face's ``ModelOutput``, as the dict it holds)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(plain_containers(out))
    return [(path_text(path), leaf) for path, leaf in leaves if is_array(leaf)]


def plain_containers(out):
    """``out`` with every mapping that is not a dict of JAX's own (an ``OrderedDict`` subclass) as a dict."""
    if isinstance(out, collections.abc.Mapping) and type(out) not in (dict, collections.OrderedDict):
        return {k: plain_containers(v) for k, v in out.items()}
    if isinstance(out, dict):
        return {k: plain_containers(v) for k, v in out.items()}
    if type(out) in (tuple, list):
        return type(out)(plain_containers(v) for v in out)
    return out


def same_dtype_kind(flax_dtype, torch_dtype_name: str) -> bool:
    """Output dtypes agree: floats exactly; integers of any width (JAX computes in int32 unless x64 is on)."""
    flax_dtype = np.dtype(flax_dtype)
    torch_np = np.dtype(torch_dtype_name) if torch_dtype_name != "bfloat16" else None
    if torch_dtype_name == "bfloat16":
        return flax_dtype.name == "bfloat16"
    if np.issubdtype(torch_np, np.bool_) or np.issubdtype(flax_dtype, np.bool_):
        return flax_dtype == torch_np
    if np.issubdtype(torch_np, np.integer):
        return np.issubdtype(flax_dtype, np.integer)
    return flax_dtype == torch_np


@dataclass
class TorchRun:
    """One PyTorch forward and backward: outputs (with paths and dtypes), gradients, buffers, draws."""

    paths: list[str]
    outputs: list[np.ndarray]
    dtypes: list[str]
    cotangent: list[np.ndarray]
    grad_inputs: list[np.ndarray]
    grad_params: dict[str, np.ndarray]
    buffers: dict[str, np.ndarray]
    buffers_before: dict[str, np.ndarray]
    tape: DrawTape


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
    #: the state is the user's checkpoint (``check --weights``): never replaced by a trained-like one
    fixed_state: bool = False
    #: the translation came from the built model: its traced methods (``translator.instance``)
    traced: list = field(default_factory=list)
    _grad_fn: object = None

    def __post_init__(self):
        self.torch_model.to(self.torch_device)
        self.torch_model.train(self.train)
        self.float_positions = [i for i, s in enumerate(self.specs) if s.is_float]
        self.initial_state = {k: to_numpy(v) for k, v in self.torch_model.state_dict().items()}
        self.state_seed: int | None = None
        names = flax_module_paths(self.torch_model)
        self.native_random = [names[n] for n in native_random_paths(self.torch_model) if n in names]

    # ----------------------------------------------------------------- state
    def use_trained_like_state(self, seed: int | None) -> None:
        """Give both models the trained-like state drawn from ``seed`` (``state.py``); ``None`` or a
        fixed state (``--weights``) keeps the current one."""
        if seed is None or self.fixed_state or seed == self.state_seed:
            return
        self.set_state(trained_like_state(self.torch_model, seed, base=self.initial_state))
        self.state_seed = seed

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """The same values in the PyTorch model, its float64 twin and the Flax variables (through the port)."""
        load_into(self.torch_model, state)
        if getattr(self, "_reference64", None) is not None:
            load_into(self._reference64, state)
        self.variables = self.plan.to_flax(state)

    # ----------------------------------------------------------------- structure (the Spec stage)
    def check_structure(self, inputs: tuple[np.ndarray, ...]) -> None:
        """Raise :class:`SpecMismatch` unless variables and outputs have PyTorch's shapes."""
        key = jax.random.PRNGKey(0)
        try:
            expected = jax.eval_shape(self.flax_model.init, key, *[jnp.asarray(x) for x in inputs])
        except Exception as error:
            raise SpecMismatch(self.explain_init_failure(key, inputs, error)) from None
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

    def explain_init_failure(self, key, inputs, error: Exception) -> str:
        """Why initialisation failed: under tracing only (``jax.jit``; data-dependent shapes, Python
        control flow on values, boolean-mask indexing), or at all."""
        reason = f"{type(error).__name__}: {error}".strip()
        traced = isinstance(error, (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
                                    jax.errors.TracerIntegerConversionError, jax.errors.TracerArrayConversionError,
                                    jax.errors.NonConcreteBooleanIndexError))
        if not traced:
            try:  # eagerly, with concrete values: does it run outside of jit?
                with jax.disable_jit():
                    self.flax_model.init(key, *[jnp.asarray(x) for x in inputs])
                traced = True
            except Exception:
                traced = False
        if traced:
            return ("the Flax module runs eagerly but fails under jax.jit (traced values have no concrete value: "
                    "a shape, index or Python branch depends on data, e.g. boolean-mask indexing or "
                    f"`x.at[mask].set(...)`): {reason.splitlines()[0]}")
        return f"the Flax module does not initialise on these inputs: {reason}"

    # ----------------------------------------------------------------- running both sides
    def flax_loss(self):
        """``loss(params, rest, float_inputs, other_inputs, cotangent, draws, draw_kinds) -> (sum(out * g), (out, state))``.

        ``draws`` are PyTorch's recorded random draws (``draws.py``), replayed at the translation's
        ``jax.random`` calls; ``draw_kinds`` (static) their kinds.  Every non-parameter collection is
        mutable in both modes, so a buffer the forward pass updates is returned and compared.
        """
        model, floats, train = self.flax_model, self.float_positions, self.train
        takes_train = "train" in inspect.signature(type(model).__call__).parameters
        native = self.native_random

        def loss(params, rest, float_inputs, other_inputs, cotangent, draws, draw_kinds):
            mutable = sorted(rest) or False
            args = list(other_inputs)
            for position, value in zip(floats, float_inputs):
                args[position] = value
            kwargs = {"train": True} if train and takes_train else {}
            # the streams exist so the translated code runs as written; the values drawn are PyTorch's
            kwargs["rngs"] = {"noise": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(0)}
            with replaying_jax(draws, draw_kinds), native_dropout_disabled(torch.nn.Identity(), native):
                result = model.apply({"params": params, **rest}, *args, mutable=mutable, **kwargs)
            out, state = result if mutable else (result, {})
            leaves = [leaf for _, leaf in output_leaves(out, is_jax_array)]
            total = sum((jnp.vdot(leaf.astype(jnp.float32), g) for leaf, g in zip(leaves, cotangent)
                         if jnp.issubdtype(leaf.dtype, jnp.floating)), jnp.zeros((), jnp.float32))  # float with integer outputs only
            return total, (out, state)

        return loss

    def _flax_grad_fn(self):
        """The jitted ``(params, rest, floats, others, cotangent, draws, kinds) -> ((loss, (out, state)), (dparams, dfloats))``.

        The non-parameter variables are an argument, not constants: the behavioral stage calls the
        same compiled function with its updated state (one compile per input shape for both).
        """
        if self._grad_fn is None:
            self._grad_fn = jax.jit(jax.value_and_grad(self.flax_loss(), argnums=(0, 2), has_aux=True), static_argnums=(6,))
        return self._grad_fn

    def compare_in_mode(self, inputs, cotangent_seed: int = 0, state_seed: int | None = None) -> Comparison:
        """:meth:`compare` in the pair's mode, with the trained-like state of ``state_seed`` (``None``: as is)."""
        self.use_trained_like_state(state_seed)
        return self.compare(inputs, cotangent_seed)

    def run_torch(self, inputs, cotangent_seed: int, model: torch.nn.Module | None = None, tape: DrawTape | None = None) -> TorchRun:
        """PyTorch's forward and backward; records its draws into a new tape, or replays ``tape``."""
        model = self.torch_model if model is None else model
        # a forward updates buffers in place (running statistics, non-persistent ones too): restore them so every
        # example starts equal
        saved = saved_buffers(model)
        try:
            with native_dropout_disabled(model):
                if tape is None:
                    tape = DrawTape()
                    seed = draw_seed(cotangent_seed, self.state_seed)
                    torch.manual_seed(seed)  # what is drawn unrecorded is at least the same each time the example runs
                    with recording(tape, seed=seed):
                        return self._run_torch(model, inputs, cotangent_seed, tape, float64=model is not self.torch_model)
                with replaying_torch(tape):
                    return self._run_torch(model, inputs, cotangent_seed, tape, float64=model is not self.torch_model)
        finally:
            restore_buffers(model, saved)

    @property
    def reference64(self) -> torch.nn.Module:
        """A float64 copy of the PyTorch model: measures float32's own error (the floor)."""
        if getattr(self, "_reference64", None) is None:
            from translator.weights.parametrized import copy_module

            self._reference64 = copy_module(self.torch_model).double()
        return self._reference64

    def _run_torch(self, model: torch.nn.Module, inputs, cotangent_seed: int, tape: DrawTape, float64: bool = False) -> TorchRun:
        tensors = [torch.from_numpy(np.array(x)).to(self.torch_device) for x in inputs]
        for position in self.float_positions:
            if float64:
                tensors[position] = tensors[position].double()
            tensors[position].requires_grad_(True)
        model.zero_grad(set_to_none=True)
        before = {name: to_numpy(b) for name, b in model.named_buffers(remove_duplicate=False)}
        out = model(*tensors)
        named = output_leaves(out, lambda leaf: isinstance(leaf, torch.Tensor))
        leaves = [leaf for _, leaf in named]
        rng = np.random.default_rng(cotangent_seed)
        cotangent = [rng.standard_normal(tuple(leaf.shape)).astype(np.float32) for leaf in leaves]
        total = sum((leaf * torch.from_numpy(g).to(leaf.device, leaf.dtype)).sum()
                    for leaf, g in zip(leaves, cotangent) if leaf.is_floating_point() and leaf.requires_grad)
        if isinstance(total, torch.Tensor):
            total.backward()
        grads_in = [to_numpy(tensors[p].grad) if tensors[p].grad is not None else np.zeros(inputs[p].shape, np.float32) for p in self.float_positions]
        grads_params = {
            name: (to_numpy(p.grad) if p.grad is not None else np.zeros(tuple(p.shape), np.float32))
            for name, p in model.named_parameters(remove_duplicate=False)
        }
        buffers = {name: to_numpy(b) for name, b in model.named_buffers(remove_duplicate=False)}
        dtypes = [str(leaf.dtype).removeprefix("torch.") for leaf in leaves]
        return TorchRun([p for p, _ in named], [to_numpy(leaf) for leaf in leaves], dtypes, cotangent, grads_in,
                        grads_params, buffers, before, tape)

    def run_flax(self, inputs, cotangent, tape: DrawTape | None = None, variables: Variables | None = None, grad_fn=None):
        """The translation's outputs (with paths), input gradients, parameter gradients and updated variables
        (both under PyTorch's names), with PyTorch's draws replayed (``grad_fn``: another compiled step)."""
        variables = self.variables if variables is None else variables
        tape = tape or DrawTape()
        floats = [jax.device_put(inputs[p]) for p in self.float_positions]
        others = [jax.device_put(x) if i not in self.float_positions else None for i, x in enumerate(inputs)]
        rest = {k: v for k, v in variables.items() if k != "params"}
        (_, (out, state)), (grad_params, grad_inputs) = (grad_fn or self._flax_grad_fn())(
            variables.get("params", {}), rest, floats, others, [jax.device_put(g) for g in cotangent],
            [jax.device_put(d) for d in tape.arrays()], tape.kinds,
        )
        named = output_leaves(out, is_jax_array)
        torch_grads = self.plan.to_torch({"params": jax.tree_util.tree_map(np.asarray, grad_params), **rest})
        updated = self.plan.to_torch({**variables, **jax.tree_util.tree_map(np.asarray, state)})
        return named, [np.asarray(g) for g in grad_inputs], torch_grads, updated

    def run_flax64(self, inputs, cotangent, tape: DrawTape):
        """:meth:`run_flax` in float64 (``jax.enable_x64``; parameters, buffers, float inputs and cotangent
        widened): the translation's own float32 error, measured as the float64 floor measures PyTorch's.
        None when the translation does not run so (a dtype it fixes, a draw it cannot take in float64)."""
        def wide(value):
            value = np.asarray(value)
            return value.astype(np.float64) if np.issubdtype(value.dtype, np.floating) else value

        try:
            with jax.enable_x64(True):
                variables = jax.tree_util.tree_map(wide, self.variables)
                inputs = [wide(x) if i in self.float_positions else x for i, x in enumerate(inputs)]
                # its own compiled function: nothing traced in float64 is cached where the float32 runs look
                grad_fn = jax.jit(jax.value_and_grad(self.flax_loss(), argnums=(0, 2), has_aux=True), static_argnums=(6,))
                named, grad_in, grad_params, state = self.run_flax(inputs, [wide(g) for g in cotangent], tape, variables,
                                                                   grad_fn)
                return [np.asarray(leaf) for _, leaf in named], grad_in, grad_params, state
        except Exception:  # noqa: BLE001 - no float64 run: the float32 policy alone decides, as before
            return None

    # ----------------------------------------------------------------- one example
    def compare(self, inputs: tuple[np.ndarray, ...], cotangent_seed: int = 0) -> Comparison:
        ran = self.run_torch(inputs, cotangent_seed)
        try:
            flax_named, flax_grad_in, flax_grad_params, flax_state = self.run_flax(inputs, ran.cotangent, ran.tape)
        except DrawMismatch as error:
            raise SpecMismatch(f"random draws differ: {error}") from None
        except Exception:
            self.check_outputs(ran, self.flax_output_shapes(inputs, ran))  # a structure difference explains it
            raise
        try:
            exact = self.run_torch(inputs, cotangent_seed, self.reference64, tape=ran.tape)
        except Exception:  # the model makes float32 tensors of its own (a mask): no float64 floor, strict bound
            exact = None
        self.check_outputs(ran, flax_named)
        flax_out = [np.asarray(leaf) for _, leaf in flax_named]
        comparison = self.judge(ran, flax_out, flax_grad_in, flax_grad_params, flax_state, exact)
        quantities = ("output", "grad_input", "grad_params", "state")
        if self.float_positions and any(getattr(comparison, q).failing or getattr(comparison, q).undecided for q in quantities):
            # outside the bound: is PyTorch itself that sensitive here (near ties in a max pool)?
            with flipping_near_ties(self.torch_model, np.random.default_rng(cotangent_seed)) as ties:
                nudged = [self.run_torch(nudged_inputs(inputs, self.float_positions, cotangent_seed + k), cotangent_seed,
                                         tape=ran.tape) for k in range(NUDGES)]
            ties.windows = {name: count // NUDGES for name, count in ties.windows.items()}
            comparison = self.judge(ran, flax_out, flax_grad_in, flax_grad_params, flax_state, exact, nudged, ties)
            if exact is not None and any(getattr(comparison, q).failing or getattr(comparison, q).undecided for q in quantities):
                # still outside: does the translation, run in float64, agree with PyTorch's float64 run (float64 decides)?
                wide = self.run_flax64(inputs, ran.cotangent, ran.tape)
                if wide is not None:
                    comparison = self.judge(ran, flax_out, flax_grad_in, flax_grad_params, flax_state, exact, nudged, ties, wide)
        return comparison

    def judge(self, ran: TorchRun, flax_out, flax_grad_in, flax_grad_params, flax_state, exact: TorchRun | None,
              nudged: list[TorchRun] | None = None, ties: NearTies | None = None, wide=None) -> Comparison:
        """Every quantity of one example judged element by element (``tolerance.error_of``): against the float64
        floor, and -- given runs on nudged inputs -- against PyTorch's own sensitivity there (per element, the
        most any nudged run moved); given the translation's float64 run (``wide``: outputs, input gradients,
        parameter gradients, state), against both frameworks' float32 errors where the float64 runs agree."""
        near = ties.total if ties is not None else 0
        wide_out, wide_grad_in, wide_grad_params, wide_state = wide if wide is not None else (None, None, {}, {})

        def moved(a, b):
            if a is None or b is None:
                return None
            return np.max([np.abs(np.asarray(a, np.float64) - np.asarray(x, np.float64)) for x in b], axis=0)

        def judged(actual, reference, floor, scale=None, nudged_reference=None, actual64=None, quantity_floor=None):
            return error_of(actual, reference, scale, floor, self.tolerance, moved(reference, nudged_reference), near, actual64,
                            quantity_floor)

        def across(runs, get):  # the same quantity in every nudged run
            return None if not runs else [get(run) for run in runs]

        exact_out = exact.outputs if exact is not None else [None] * len(ran.outputs)
        nudged_out = [across(nudged, lambda r, i=i: r.outputs[i]) for i in range(len(ran.outputs))]
        compared = [f"output{p}" for p in ran.paths]
        output = worst((judged(a, b, c, None, d, e) for a, b, c, d, e in
                        zip(flax_out, ran.outputs, exact_out, nudged_out, wide_out or [None] * len(flax_out))), self.tolerance)
        exact_grad_in = exact.grad_inputs if exact is not None else [None] * len(ran.grad_inputs)
        nudged_grad_in = [across(nudged, lambda r, i=i: r.grad_inputs[i]) for i in range(len(ran.grad_inputs))]
        grad_input = worst(
            (judged(a, b, c, None, d, e) for a, b, c, d, e in
             zip(flax_grad_in, ran.grad_inputs, exact_grad_in, nudged_grad_in, wide_grad_in or [None] * len(flax_grad_in))),
            self.tolerance,
        )
        compared += [f"grad_input[{p}]" for p in self.float_positions]
        aliases = dict(self.plan.tied)
        scale = max((float(np.abs(g).max()) for g in ran.grad_params.values() if g.size), default=0.0)
        # parameter gradients are one quantity (one scale): the float64-settled bound uses their largest floor
        params_floor = max((float(np.nanmax(np.abs(np.asarray(g, np.float64) - exact.grad_params[name]))) for name, g in
                            ran.grad_params.items() if g.size and exact is not None and name in exact.grad_params), default=0.0)
        per_parameter, uncompared = {}, []
        frozen = {name for name, p in self.torch_model.named_parameters(remove_duplicate=False) if not p.requires_grad}
        for name, grad in ran.grad_params.items():
            if name in frozen:  # PyTorch computes no gradient; Flax differentiates every param (a value is compared)
                continue
            source = name if name in flax_grad_params else aliases.get(name)
            if source not in flax_grad_params:
                uncompared.append(f"grad:{name} (the port maps this parameter to no Flax variable)")
                continue
            per_parameter[name] = judged(flax_grad_params[source], grad, exact.grad_params.get(name) if exact else None,
                                         scale, across(nudged, lambda r, name=name: r.grad_params[name]),
                                         wide_grad_params.get(source), params_floor)
        compared += [f"grad:{name}" for name in per_parameter]
        state, buffers_compared, buffers_uncompared, not_ported = self.buffer_errors(ran, flax_state, exact, wide_state)
        comparison = Comparison(output, grad_input, worst(per_parameter.values(), self.tolerance), per_parameter, state,
                                compared + buffers_compared, uncompared + buffers_uncompared, not_ported, len(ran.tape))
        comparison.near_ties = ties if ties is not None and ties.total else None
        comparison.not_ported += [f"grad:{name} (requires_grad=False: no gradient in PyTorch)" for name in sorted(frozen)]
        comparison.unrecorded = ran.tape.unrecorded
        return comparison

    def flax_output_shapes(self, inputs, ran: TorchRun):
        """(path, ShapeDtypeStruct) of the translation's outputs, without running it (``jax.eval_shape``)."""
        loss = self.flax_loss()
        floats = [inputs[p] for p in self.float_positions]
        others = [x if i not in self.float_positions else None for i, x in enumerate(inputs)]
        rest = {k: v for k, v in self.variables.items() if k != "params"}
        no_cotangent = []  # sum over zip(leaves, []) is 0: the loss does not need PyTorch's output structure
        _, (out, _) = jax.eval_shape(lambda *a: loss(*a, ran.tape.kinds), self.variables.get("params", {}), rest, floats,
                                     others, no_cotangent, ran.tape.arrays())
        return output_leaves(out, lambda leaf: hasattr(leaf, "shape") and hasattr(leaf, "dtype"))

    def check_outputs(self, ran: TorchRun, flax_named) -> None:
        """Raise :class:`SpecMismatch` unless the outputs have PyTorch's structure, shapes and dtypes."""
        flax_paths = [p for p, _ in flax_named]
        if flax_paths != ran.paths:
            missing = [f"output{p}" for p in ran.paths if p not in flax_paths]
            extra = [f"output{p}" for p in flax_paths if p not in ran.paths]
            detail = "; ".join(filter(None, [missing and f"missing in Flax: {', '.join(missing)}",
                                             extra and f"only in Flax: {', '.join(extra)}"]))
            raise SpecMismatch(f"output structure differs: PyTorch returns {len(ran.paths)} tensor(s), Flax {len(flax_paths)}"
                               + (f" ({detail})" if detail else ""))
        for (path, leaf), torch_leaf, torch_dtype_name in zip(flax_named, ran.outputs, ran.dtypes):
            if tuple(leaf.shape) != tuple(torch_leaf.shape):
                raise SpecMismatch(f"output{path}: Flax shape {tuple(leaf.shape)}, PyTorch shape {tuple(torch_leaf.shape)}")
            if not same_dtype_kind(leaf.dtype, torch_dtype_name):
                raise SpecMismatch(f"output{path}: Flax dtype {np.dtype(leaf.dtype).name}, PyTorch dtype {torch_dtype_name}")

    def buffer_errors(self, ran: TorchRun, flax_state: dict, exact: TorchRun | None, wide_state: dict | None = None):
        """Every buffer after the forward pass: compared where the translation holds it; one it does not hold
        is a failure if PyTorch's forward changed it (state the translation loses), else a constant of
        the architecture (checked through the outputs)."""
        dropped = dict(self.plan.dropped)
        errors, compared, uncompared, not_ported = [], [], [], []
        for name, value in ran.buffers.items():
            if name in flax_state:
                floor = exact.buffers.get(name) if exact is not None else None
                errors.append(error_of(flax_state[name], value, None, floor, self.tolerance,
                                       actual_float64=(wide_state or {}).get(name)))
                compared.append(f"buffer:{name}")
            elif name in dropped:
                not_ported.append(f"buffer:{name} ({dropped[name]})")
            elif not np.array_equal(value, ran.buffers_before.get(name), equal_nan=value.dtype.kind == "f"):
                uncompared.append(f"buffer:{name} (PyTorch's forward updates it; the translation does not hold it)")
            else:
                compared.append(f"buffer:{name} (constant, checked through the outputs)")
        return worst(errors, self.tolerance), compared, uncompared, not_ported


def draw_seed(*seeds) -> int:
    """The private generator's seed of one example's draws (from its cotangent and state seeds)."""
    return int(np.random.SeedSequence([s or 0 for s in seeds]).generate_state(1)[0])


def saved_buffers(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every buffer (persistent or not) and parameter, to undo what a forward pass changes."""
    return {name: t.detach().clone() for name, t in [*model.named_buffers(remove_duplicate=False),
                                                      *model.named_parameters(remove_duplicate=False)]}


def restore_buffers(model: torch.nn.Module, saved: dict[str, torch.Tensor]) -> None:
    current = dict([*model.named_buffers(remove_duplicate=False), *model.named_parameters(remove_duplicate=False)])
    with torch.no_grad():
        for name, value in saved.items():
            current[name].copy_(value)


def is_jax_array(leaf) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray)) or hasattr(leaf, "aval")


def flax_module_paths(torch_model: torch.nn.Module) -> dict[str, tuple[str, ...]]:
    from translator.equivalence.localise import flax_names

    try:
        return flax_names(torch_model)
    except Exception:
        return {}
