"""Random draws compared, not switched off: PyTorch's draws recorded, replayed to its float64 twin and to Flax.

Two frameworks' generators never produce the same numbers, and switching randomness off hides
whatever multiplies a draw (a VAE's ``mu + eps * std`` compared as ``mu``; dropout in train mode
never compared; PITFALLS.md section 8).  So every random draw the PyTorch model makes during
one run is *recorded* at its call (:func:`recording`), and the same values are *replayed*:

* to the float64 PyTorch twin that measures float32's floor (:func:`replaying_torch`), so the
  floor is not inflated by a second set of draws (PITFALLS.md section 7);
* to the translation, at its ``jax.random`` calls in the same order (:func:`replaying_jax`),
  where the values are arguments of the jitted function (one compile serves every example).

What is recorded is the *standard* draw a sampler is built on: ``z`` for ``torch.randn``,
``torch.normal(mean, std)`` and ``normal_``; ``u`` uniform in [0, 1) for ``torch.rand`` and
``uniform_``, and for everything made from a uniform: bernoulli masks (``u < p``: ``torch.bernoulli``,
``x.bernoulli()``, ``bernoulli_``, the keep masks of ``F.dropout``, ``F.dropout1d/2d/3d``, the attention dropout of
``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention``) and bounded integers
(``low + floor(u * (high - low))``: ``torch.randint``).  The JAX side builds its values from the same
standard draw with *its own* arguments, as ``jax.random`` does (``bernoulli(key, p)`` is ``u < p``):
a translation that asks for another probability or range gets other values.  ``torch.multinomial``
and ``torch.randperm`` are recorded as the integers drawn.  Draws are matched by call order and
kind; a draw taken channels-last by the translation (a ``Dropout2d`` mask ``(N, 1, 1, C)`` for
PyTorch's ``(N, C, 1, 1)``) gets the recorded values moved the same way, and a draw of the same size
in another shape (``(B * H, L, S)`` vs ``(B, H, L, S)``) is reshaped.  Any other difference --
another kind, another size, more or fewer draws -- raises :class:`DrawMismatch`: the check says so
instead of comparing two different random experiments.

Recorded draws come from a private generator seeded per example, so an example draws the same
values every time it runs (``--replay``, Hypothesis's shrinking).  PyTorch's global generators
must not move during the recorded run: if they do, something drew that is not recorded here (a
sampler bound by ``from torch import rand`` before the patch, ``exponential_``, ``F.rrelu``), the
tape says ``unrecorded`` and the example is inconclusive, never a pass.  Randomness inside
PyTorch's native kernels (the inter-layer dropout of ``nn.LSTM``/``nn.GRU``/``nn.RNN``) is switched
off on both sides (:func:`native_dropout_disabled`) and checked statistically by the behavioral stage.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F

_ORIGINAL_RAND = torch.rand

#: the kinds of standard draw: bernoulli masks and bounded integers are made from uniform draws
NORMAL, UNIFORM, INTEGERS = "normal", "uniform", "integers"


class DrawMismatch(Exception):
    """The translation's random draws are not PyTorch's (another kind, size or number)."""


@dataclass(frozen=True)
class RecordedDraw:
    """One standard draw of the PyTorch run: its kind, values (numpy) and the call that made it."""

    kind: str
    values: np.ndarray
    call: str

    def describe(self) -> str:
        return f"{self.call} ({self.kind}{list(self.values.shape)})"


@dataclass
class DrawTape:
    """The draws of one PyTorch run, in call order; ``unrecorded`` names randomness drawn some other way."""

    draws: list[RecordedDraw] = field(default_factory=list)
    #: the global generator moved during the run: something drew that this module does not record
    unrecorded: bool = False

    def __len__(self) -> int:
        return len(self.draws)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(d.kind for d in self.draws)

    def arrays(self) -> list[np.ndarray]:
        """The values as the translation receives them (float32, or int32 for integer draws)."""
        return [d.values.astype(np.int32 if d.kind == INTEGERS else np.float32) for d in self.draws]


# --------------------------------------------------------------------------- the PyTorch side
class _TorchDraws:
    """Record (``tape`` grows) or replay (``cursor`` walks ``tape``) standard draws on the PyTorch side.

    Draws come from a private generator state seeded per run, never from PyTorch's global one:
    the same example draws the same values every time (``--replay``, Hypothesis's shrinking), and a
    move of the global generator during the run can only be a draw this module does not record.
    """

    def __init__(self, tape: DrawTape, replay: bool, seed: int):
        self.tape, self.replay, self.cursor = tape, replay, 0
        self.state = torch.Generator().manual_seed(seed % 2**63).get_state()

    def private(self, make):
        """``make()`` with the global CPU generator switched to this run's private state."""
        saved = torch.get_rng_state()
        torch.set_rng_state(self.state)
        try:
            return make()
        finally:
            self.state = torch.get_rng_state()
            torch.set_rng_state(saved)

    def take(self, kind: str, shape, call: str, make) -> torch.Tensor:
        """The standard draw of ``shape`` for this call (on the CPU): ``make()`` recorded, or the recorded one."""
        shape = tuple(int(d) for d in shape)
        if not self.replay:
            value = self.private(make)
            self.tape.draws.append(RecordedDraw(kind, value.detach().cpu().numpy().copy(), call))
            return value
        if self.cursor >= len(self.tape.draws):
            raise DrawMismatch(f"the PyTorch run drew more than the {len(self.tape.draws)} recorded draws at {call}")
        recorded = self.tape.draws[self.cursor]
        self.cursor += 1
        if recorded.kind != kind or tuple(recorded.values.shape) != shape:
            raise DrawMismatch(f"draw {self.cursor}: {call} {kind}{list(shape)}, recorded {recorded.describe()}")
        return torch.as_tensor(recorded.values)

    def normal(self, shape, call: str) -> torch.Tensor:
        return self.take(NORMAL, shape, call, lambda: _ORIGINAL["randn"](tuple(shape)))

    def uniform(self, shape, call: str) -> torch.Tensor:
        return self.take(UNIFORM, shape, call, lambda: _ORIGINAL["rand"](tuple(shape)))


_ORIGINAL = {"randn": torch.randn, "rand": torch.rand}


def _like(template: torch.Tensor, value: torch.Tensor, dtype=None) -> torch.Tensor:
    return value.to(device=template.device, dtype=dtype or template.dtype)


def _shape_of(args, kwargs) -> tuple[int, ...]:
    """The size of ``torch.randn(2, 3)``, ``torch.rand((2, 3))``, ``torch.randint(0, 5, (2, 3))``, ``size=``."""
    if "size" in kwargs:
        return tuple(kwargs["size"])
    sizes = [a for a in args if isinstance(a, (tuple, list, torch.Size))]
    if sizes:
        return tuple(sizes[-1])
    return tuple(int(a) for a in args)


def _factory_options(kwargs) -> dict:
    return {k: kwargs[k] for k in ("dtype", "device", "requires_grad") if k in kwargs}


def _randint_bounds(args, kwargs) -> tuple[int, int]:
    """(low, high) of ``randint(high, size)``, ``randint(low, high, size)``, ``randint_like(x, [low,] high)``."""
    bounds = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
    low, high = (0, bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1]) if len(bounds) >= 2 else (0, None)
    return kwargs.get("low", low), kwargs.get("high", high)


def _patched_samplers(state: _TorchDraws) -> list[tuple[object, str, object]]:
    """(owner, name, replacement) for every PyTorch sampler recorded here.

    Each is rebuilt from a standard draw: ``z`` (normal), or ``u`` uniform in [0, 1) from which
    bernoulli masks (``u < p``) and integers (``low + floor(u * (high - low))``) are made, as
    ``jax.random.bernoulli`` and ``randint`` are from theirs: a translation that asks for another
    probability or range gets other values, not PyTorch's.
    """
    multinomial, randperm = torch.multinomial, torch.randperm

    def made(value, kwargs, default_dtype=None):
        options = _factory_options(kwargs)
        dtype = options.get("dtype") or default_dtype or torch.get_default_dtype()
        out = value.to(device=options.get("device", "cpu"), dtype=dtype)
        return out.requires_grad_(True) if options.get("requires_grad") else out

    def randn(*args, **kwargs):
        return made(state.normal(_shape_of(args, kwargs), "torch.randn"), kwargs)

    def rand(*args, **kwargs):
        return made(state.uniform(_shape_of(args, kwargs), "torch.rand"), kwargs)

    def randn_like(input, **kwargs):
        return _like(input, state.normal(input.shape, "torch.randn_like"), kwargs.get("dtype"))

    def rand_like(input, **kwargs):
        return _like(input, state.uniform(input.shape, "torch.rand_like"), kwargs.get("dtype"))

    def integers_from(u, low, high):
        return low + torch.floor(u * (high - low)).to(torch.int64)

    def randint(*args, **kwargs):
        low, high = _randint_bounds(args, kwargs)
        u = state.uniform(_shape_of([a for a in args if not isinstance(a, int)], kwargs), "torch.randint")
        return made(integers_from(u, low, high), kwargs, torch.int64)

    def randint_like(input, *args, **kwargs):
        low, high = _randint_bounds(args, kwargs)
        return _like(input, integers_from(state.uniform(input.shape, "torch.randint_like"), low, high), kwargs.get("dtype"))

    def bernoulli(input, p=None, **kwargs):
        probs = input if p is None else p
        u = _like(input, state.uniform(input.shape, "torch.bernoulli"))
        return (u < probs).to(input.dtype)

    def normal(*args, **kwargs):
        mean, std = _normal_arguments(args, kwargs)
        shape = kwargs.get("size") or (args[2] if len(args) > 2 else None)
        if shape is None:
            shape = torch.broadcast_shapes(*(t.shape for t in (mean, std) if isinstance(t, torch.Tensor)))
        z = state.normal(shape, "torch.normal")
        like = next((t for t in (mean, std) if isinstance(t, torch.Tensor)), None)
        value = (mean + std * (_like(like, z) if like is not None else z)).detach()  # no gradient, as PyTorch's
        return value if like is not None else made(value, kwargs)

    def recorded_integers(original, name):
        def sample(*args, **kwargs):
            out = state.private(lambda: original(*args, **kwargs))
            return _like(out, state.take(INTEGERS, out.shape, name, lambda: out))
        return sample

    def overwrite(self, value):
        """In place, as PyTorch's samplers: the old values get no gradient (a leaf is written under no_grad)."""
        if self.is_leaf and self.requires_grad:
            with torch.no_grad():
                return self.copy_(value)
        return self.copy_(value.detach())

    def tensor_normal_(self, mean=0.0, std=1.0, *, generator=None):
        return overwrite(self, mean + std * _like(self, state.normal(self.shape, "Tensor.normal_")))

    def tensor_uniform_(self, a=0.0, b=1.0, *, generator=None, **kwargs):
        a, b = kwargs.get("from", a), kwargs.get("to", b)
        return overwrite(self, a + (b - a) * _like(self, state.uniform(self.shape, "Tensor.uniform_")))

    def tensor_bernoulli(self, p=None, *, generator=None):
        u = _like(self, state.uniform(self.shape, "Tensor.bernoulli"))
        return (u < (self if p is None else p)).to(self.dtype)

    def tensor_bernoulli_(self, p=0.5, *, generator=None):
        u = _like(self, state.uniform(self.shape, "Tensor.bernoulli_"))
        return overwrite(self, (u < p).to(self.dtype))

    return [
        (torch, "randn", randn),
        (torch, "randn_like", randn_like),
        (torch, "rand", rand),
        (torch, "rand_like", rand_like),
        (torch, "randint", randint),
        (torch, "randint_like", randint_like),
        (torch, "bernoulli", bernoulli),
        (torch, "multinomial", recorded_integers(multinomial, "torch.multinomial")),
        (torch, "randperm", recorded_integers(randperm, "torch.randperm")),
        (torch, "normal", normal),
        (torch.Tensor, "normal_", tensor_normal_),
        (torch.Tensor, "uniform_", tensor_uniform_),
        (torch.Tensor, "bernoulli", tensor_bernoulli),
        (torch.Tensor, "bernoulli_", tensor_bernoulli_),
        *_patched_dropouts(state),
    ]


def _normal_arguments(args, kwargs):
    mean = kwargs.get("mean", args[0] if args else 0.0)
    std = kwargs.get("std", args[1] if len(args) > 1 else 1.0)
    return mean, std


def _keep_mask(state: _TorchDraws, shape, like: torch.Tensor, p: float, call: str) -> torch.Tensor:
    """A recorded (or replayed) keep mask of ``shape``: ``u < 1 - p``, as ``jax.random.bernoulli(key, 1 - p)`` makes it."""
    return state.uniform(shape, call).to(like.device) < (1.0 - p)


def _apply_keep(x: torch.Tensor, keep: torch.Tensor, p: float, inplace: bool) -> torch.Tensor:
    """Inverted dropout with the given mask, computed as Flax does (``where(keep, x / (1 - p), 0)``)."""
    out = torch.where(keep, x / (1.0 - p), torch.zeros((), dtype=x.dtype, device=x.device))
    return x.copy_(out) if inplace else out  # in place with autograd, as PyTorch's own in-place dropout


def _patched_dropouts(state: _TorchDraws) -> list[tuple[object, str, object]]:
    originals = {name: getattr(F, name) for name in ("dropout", "dropout1d", "dropout2d", "dropout3d", "scaled_dot_product_attention")}

    def dropout(input, p=0.5, training=True, inplace=False):
        if not training or p == 0.0 or p == 1.0:
            return originals["dropout"](input, p, training, inplace)
        return _apply_keep(input, _keep_mask(state, input.shape, input, p, "F.dropout"), p, inplace)

    def feature_dropout(name: str, spatial: int):
        def drop(input, p=0.5, training=True, inplace=False):
            if not training or p == 0.0 or p == 1.0:
                return originals[name](input, p, training, inplace)
            batched = input.dim() >= spatial + 2 or (name == "dropout2d" and input.dim() == 3)
            channels = 2 if batched else 1
            shape = (*input.shape[:channels], *([1] * (input.dim() - channels)))
            return _apply_keep(input, _keep_mask(state, shape, input, p, f"F.{name}"), p, inplace)
        return drop

    def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        if dropout_p <= 0.0:
            return originals["scaled_dot_product_attention"](
                query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale,
                enable_gqa=enable_gqa)
        return _attention_with_recorded_dropout(state, query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)

    return [
        (F, "dropout", dropout),
        (F, "dropout1d", feature_dropout("dropout1d", 1)),
        (F, "dropout2d", feature_dropout("dropout2d", 2)),
        (F, "dropout3d", feature_dropout("dropout3d", 3)),
        (F, "scaled_dot_product_attention", sdpa),
    ]


def _attention_with_recorded_dropout(state, query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    """``F.scaled_dot_product_attention`` written out (PyTorch's documented reference), its dropout mask recorded."""
    length, source = query.size(-2), key.size(-2)
    scale = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    if enable_gqa and key.size(-3) != query.size(-3):
        repeats = query.size(-3) // key.size(-3)
        key, value = key.repeat_interleave(repeats, -3), value.repeat_interleave(repeats, -3)
    scores = query @ key.transpose(-2, -1) * scale
    allowed = None
    if is_causal:
        allowed = torch.ones(length, source, dtype=torch.bool, device=query.device).tril()
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        allowed = attn_mask if allowed is None else allowed & attn_mask
    elif attn_mask is not None:
        scores = scores + attn_mask
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    weights = torch.nan_to_num(weights, nan=0.0)  # a query with every key masked attends to nothing
    keep = _keep_mask(state, weights.shape, weights, dropout_p, "F.scaled_dot_product_attention(dropout_p)")
    return _apply_keep(weights, keep, dropout_p, False) @ value


@contextlib.contextmanager
def _patched(replacements):
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in replacements]
    for owner, name, replacement in replacements:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _global_generators() -> list:
    states = [torch.get_rng_state()]
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states += list(torch.cuda.get_rng_state_all())
    return states


@contextlib.contextmanager
def recording(tape: DrawTape, seed: int = 0):
    """Every PyTorch draw made meanwhile is appended to ``tape`` (and used as drawn), from a private generator
    seeded with ``seed``; if PyTorch's global generators move meanwhile, ``tape.unrecorded`` is set."""
    state = _TorchDraws(tape, replay=False, seed=seed)
    before = _global_generators()
    with _patched(_patched_samplers(state)):
        yield tape
    after = _global_generators()
    tape.unrecorded = len(before) != len(after) or any(not torch.equal(a, b) for a, b in zip(before, after))


@contextlib.contextmanager
def replaying_torch(tape: DrawTape):
    """PyTorch's draws meanwhile take ``tape``'s values in order (the float64 twin of a recorded run)."""
    state = _TorchDraws(tape, replay=True, seed=0)
    with _patched(_patched_samplers(state)):
        yield
    if state.cursor != len(tape.draws):
        raise DrawMismatch(f"the PyTorch run drew {state.cursor} of the {len(tape.draws)} recorded draws")


# --------------------------------------------------------------------------- the JAX side
def adapt(values, shape: Sequence[int], call: str, recorded: str):
    """The recorded values in the shape the translation asks for: as they are, moved channels-last, or
    reshaped (same size); anything else raises :class:`DrawMismatch`."""
    shape = tuple(int(d) for d in shape)
    if tuple(values.shape) == shape:
        return values
    if values.ndim >= 3 and tuple(np.moveaxis(np.empty(values.shape, bool), 1, -1).shape) == shape:
        return jnp.moveaxis(values, 1, -1)
    if math.prod(values.shape) == math.prod(shape):
        return jnp.reshape(values, shape)
    raise DrawMismatch(f"the translation's {call}{list(shape)} does not match PyTorch's draw {recorded}")


class _JaxDraws:
    def __init__(self, values: Sequence, kinds: Sequence[str], calls: Sequence[str]):
        self.values, self.kinds, self.calls, self.cursor = list(values), tuple(kinds), tuple(calls), 0

    def take(self, kind: str, shape, call: str):
        if self.cursor >= len(self.values):
            raise DrawMismatch(
                f"the translation calls jax.random.{call}{list(shape)} after PyTorch's {len(self.values)} draw(s) "
                "were used up: it draws where PyTorch does not")
        i = self.cursor
        self.cursor += 1
        recorded = f"{self.calls[i] if i < len(self.calls) else '#' + str(i + 1)} ({self.kinds[i]}{list(self.values[i].shape)})"
        if self.kinds[i] != kind:
            raise DrawMismatch(f"draw {i + 1}: the translation calls jax.random.{call} where PyTorch drew {recorded}")
        return adapt(self.values[i], shape, f"jax.random.{call}", recorded)


@contextlib.contextmanager
def replaying_jax(values: Sequence, kinds: Sequence[str], calls: Sequence[str] = ()):
    """``jax.random.normal/uniform/bernoulli/randint`` meanwhile return PyTorch's recorded draws in order.

    Initialisers Flax evaluates inside ``Scope.param``/``Scope.variable`` (to check an existing
    variable's shape) draw as usual: they are not draws of the forward pass.  ``values`` may be tracers (the draws are an argument of the jitted function).  On exit every
    recorded draw must have been taken.
    """
    from flax.core.scope import Scope

    state = _JaxDraws(values, kinds, calls)
    originals = {name: getattr(jax.random, name) for name in ("normal", "uniform", "bernoulli", "randint")}
    initialising = [0]  # > 0 inside Scope.param/variable: Flax evaluates initialisers to check shapes

    def normal(key, shape=(), dtype=jnp.float32, *args, **kwargs):
        if initialising[0]:
            return originals["normal"](key, shape, dtype, *args, **kwargs)
        return state.take(NORMAL, shape, "normal").astype(dtype)

    def uniform(key, shape=(), dtype=jnp.float32, minval=0.0, maxval=1.0, *args, **kwargs):
        if initialising[0]:
            return originals["uniform"](key, shape, dtype, minval, maxval, *args, **kwargs)
        u = state.take(UNIFORM, shape, "uniform")
        return (minval + (maxval - minval) * u).astype(dtype)

    def bernoulli(key, p=0.5, shape=None, *args, **kwargs):
        if initialising[0]:
            return originals["bernoulli"](key, p, shape, *args, **kwargs)
        shape = jnp.shape(p) if shape is None else shape
        return state.take(UNIFORM, shape, "bernoulli") < p  # as jax.random.bernoulli: the translation's own p

    def randint(key, shape, minval, maxval, dtype=jnp.int32, *args, **kwargs):
        if initialising[0]:
            return originals["randint"](key, shape, minval, maxval, dtype, *args, **kwargs)
        u = state.take(UNIFORM, shape, "randint")  # the translation's own bounds
        return (minval + jnp.floor(u * (maxval - minval))).astype(dtype)

    def not_a_draw(method):
        def wrapped(self, *args, **kwargs):
            initialising[0] += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                initialising[0] -= 1
        return wrapped

    replacements = [(jax.random, "normal", normal), (jax.random, "uniform", uniform),
                    (jax.random, "bernoulli", bernoulli), (jax.random, "randint", randint),
                    (Scope, "param", not_a_draw(Scope.param)), (Scope, "variable", not_a_draw(Scope.variable))]
    with _patched(replacements):
        yield
    if state.cursor != len(state.values):
        missing = [state.calls[i] if i < len(state.calls) else state.kinds[i] for i in range(state.cursor, len(state.values))]
        raise DrawMismatch(
            f"PyTorch drew {len(state.values)} random tensor(s), the translation {state.cursor}: not drawn by the "
            f"translation: {', '.join(missing)} (a dropout left deterministic in train mode, or a sampler dropped)")


# --------------------------------------------------------------------------- native randomness
NATIVE_RANDOM = (torch.nn.RNNBase,)


@contextlib.contextmanager
def native_dropout_disabled(torch_model: torch.nn.Module, flax_paths: Sequence[tuple[str, ...]] = ()):
    """Dropout that PyTorch draws inside a native kernel (the inter-layer dropout of ``nn.LSTM``/``GRU``/``RNN``)
    is switched off: ``dropout = 0`` on the PyTorch modules, and Flax's ``nn.Dropout`` calls under
    ``flax_paths`` (those modules' Flax paths) return their input while the translation is traced."""
    import flax.linen as flax_nn

    saved = []
    for module in torch_model.modules():
        if isinstance(module, NATIVE_RANDOM) and getattr(module, "dropout", 0):
            saved.append((module, module.dropout))
            module.dropout = 0.0
    original = flax_nn.Dropout.__call__
    prefixes = [tuple(p) for p in flax_paths]

    def call(self, inputs, deterministic=None, rng=None):
        path = tuple(self.scope.path) if self.scope is not None else ()
        if any(path[: len(prefix)] == prefix for prefix in prefixes):
            return inputs
        return original(self, inputs, deterministic=deterministic, rng=rng)

    flax_nn.Dropout.__call__ = call
    try:
        yield
    finally:
        flax_nn.Dropout.__call__ = original
        for module, value in saved:
            module.dropout = value


def native_random_paths(torch_model: torch.nn.Module) -> list[str]:
    """Names of submodules whose randomness PyTorch draws natively (dropout > 0 in an RNN)."""
    return [name for name, m in torch_model.named_modules() if isinstance(m, NATIVE_RANDOM) and getattr(m, "dropout", 0)]
