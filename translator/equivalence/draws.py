"""Random draws compared, not switched off: PyTorch's draws recorded, replayed to its float64 twin and to Flax.

Two frameworks' generators never produce the same numbers, and switching randomness off hides
whatever multiplies a draw (a VAE's ``mu + eps * std`` compared as ``mu``; dropout in train mode
never compared; PITFALLS.md section 8).  So every random draw the PyTorch model makes during
one run is *recorded* at its call (:func:`recording`), and the same values are *replayed*:

* to the float64 PyTorch twin that measures float32's floor (:func:`replaying_torch`), so the
  floor is not inflated by a second set of draws (PITFALLS.md section 7);
* to the translation, at its ``jax.random`` calls in the same order (:func:`replaying_jax`),
  where the values are arguments of the jitted function (one compile serves every example).

What is recorded is the *standard* draw a sampler is built on: ``z`` for
``torch.randn``/``torch.normal(mean, std)``/``normal_``, ``u`` in [0, 1) for
``torch.rand``/``uniform_``, the keep mask of every dropout (``F.dropout``,
``F.dropout1d/2d/3d``, the attention dropout of ``F.scaled_dot_product_attention`` and of
``nn.MultiheadAttention``), 0/1 draws of ``torch.bernoulli``, integers of ``torch.randint``,
``torch.multinomial`` and ``torch.randperm``.  On the JAX side ``normal``, ``uniform``,
``bernoulli`` and ``randint`` take the recorded values (``uniform`` scaled to its
``minval``/``maxval``).  Draws are matched by call order and kind; a draw taken
channels-last by the translation (a ``Dropout2d`` mask ``(N, 1, 1, C)`` for PyTorch's
``(N, C, 1, 1)``) gets the recorded values moved the same way, and a draw of the same size in
another shape (``(B * H, L, S)`` vs ``(B, H, L, S)``) is reshaped.  Any other difference --
another kind, another size, more or fewer draws -- raises :class:`DrawMismatch`: the check
says so instead of comparing two different random experiments.

Randomness inside PyTorch's native kernels cannot be recorded (the inter-layer dropout of
``nn.LSTM``/``nn.GRU``/``nn.RNN``): there dropout is switched off on both sides
(:func:`native_dropout_disabled`) and the behavioral stage checks it statistically.  A draw
made by a sampler this module does not patch shows up as a float32-vs-float64 disagreement
of PyTorch with itself, which the tolerance reports as inconclusive, never as a pass.
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

#: the kinds of standard draw
NORMAL, UNIFORM, BERNOULLI, INTEGERS = "normal", "uniform", "bernoulli", "integers"


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
    """The draws of one PyTorch run, in call order."""

    draws: list[RecordedDraw] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.draws)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(d.kind for d in self.draws)

    def arrays(self) -> list[np.ndarray]:
        """The values as the translation receives them (float32, bool or int32)."""
        return [jax_value(d) for d in self.draws]


def jax_value(draw: RecordedDraw) -> np.ndarray:
    if draw.kind == BERNOULLI:
        return draw.values.astype(bool)
    if draw.kind == INTEGERS:
        return draw.values.astype(np.int32)
    return draw.values.astype(np.float32)


# --------------------------------------------------------------------------- the PyTorch side
class _TorchDraws:
    """Record (``tape`` grows) or replay (``cursor`` walks ``tape``) standard draws on the PyTorch side."""

    def __init__(self, tape: DrawTape, replay: bool):
        self.tape, self.replay, self.cursor = tape, replay, 0

    def take(self, kind: str, like: torch.Tensor, call: str, make) -> torch.Tensor:
        """The standard draw for this call: made by ``make()`` and recorded, or the recorded one."""
        if not self.replay:
            value = make()
            self.tape.draws.append(RecordedDraw(kind, value.detach().cpu().numpy().copy(), call))
            return value
        if self.cursor >= len(self.tape.draws):
            raise DrawMismatch(f"the PyTorch run drew more than the {len(self.tape.draws)} recorded draws at {call}")
        recorded = self.tape.draws[self.cursor]
        self.cursor += 1
        if recorded.kind != kind or tuple(recorded.values.shape) != tuple(like.shape):
            raise DrawMismatch(f"draw {self.cursor}: {call} {kind}{list(like.shape)}, recorded {recorded.describe()}")
        return torch.as_tensor(recorded.values).to(device=like.device, dtype=like.dtype)


def _patched_samplers(state: _TorchDraws) -> list[tuple[object, str, object]]:
    """(owner, name, replacement) for every PyTorch sampler recorded here."""
    randn, rand, randn_like, rand_like = torch.randn, torch.rand, torch.randn_like, torch.rand_like
    randint, randint_like, normal, bernoulli = torch.randint, torch.randint_like, torch.normal, torch.bernoulli
    multinomial, randperm = torch.multinomial, torch.randperm
    tensor_bernoulli = torch.Tensor.bernoulli_

    def direct(kind, original, name):
        def sample(*args, **kwargs):
            out = original(*args, **kwargs)
            return state.take(kind, out, name, lambda: out)
        return sample

    def torch_normal(*args, **kwargs):
        out = normal(*args, **kwargs)  # mean + std * z: record z
        mean, std = _normal_arguments(args, kwargs)
        z = state.take(NORMAL, out, "torch.normal", lambda: randn_like(out))
        return (mean + std * z).to(out.dtype)

    def tensor_normal_(self, mean=0.0, std=1.0, *, generator=None):
        with torch.no_grad():
            z = state.take(NORMAL, self, "Tensor.normal_", lambda: randn_like(self))
            return self.copy_(mean + std * z)

    def tensor_uniform_(self, a=0.0, b=1.0, *, generator=None, **kwargs):
        a, b = kwargs.get("from", a), kwargs.get("to", b)
        with torch.no_grad():
            u = state.take(UNIFORM, self, "Tensor.uniform_", lambda: rand_like(self))
            return self.copy_(a + (b - a) * u)

    def tensor_bernoulli_(self, p=0.5, *, generator=None):
        with torch.no_grad():
            drawn = state.take(BERNOULLI, self, "Tensor.bernoulli_", lambda: tensor_bernoulli(self.clone(), p))
            return self.copy_(drawn)

    return [
        (torch, "randn", direct(NORMAL, randn, "torch.randn")),
        (torch, "randn_like", direct(NORMAL, randn_like, "torch.randn_like")),
        (torch, "rand", direct(UNIFORM, rand, "torch.rand")),
        (torch, "rand_like", direct(UNIFORM, rand_like, "torch.rand_like")),
        (torch, "randint", direct(INTEGERS, randint, "torch.randint")),
        (torch, "randint_like", direct(INTEGERS, randint_like, "torch.randint_like")),
        (torch, "bernoulli", direct(BERNOULLI, bernoulli, "torch.bernoulli")),
        (torch, "multinomial", direct(INTEGERS, multinomial, "torch.multinomial")),
        (torch, "randperm", direct(INTEGERS, randperm, "torch.randperm")),
        (torch, "normal", torch_normal),
        (torch.Tensor, "normal_", tensor_normal_),
        (torch.Tensor, "uniform_", tensor_uniform_),
        (torch.Tensor, "bernoulli_", tensor_bernoulli_),
        *_patched_dropouts(state),
    ]


def _normal_arguments(args, kwargs):
    mean = kwargs.get("mean", args[0] if args else 0.0)
    std = kwargs.get("std", args[1] if len(args) > 1 else 1.0)
    return mean, std


def _keep_mask(state: _TorchDraws, shape, like: torch.Tensor, p: float, call: str) -> torch.Tensor:
    """A recorded (or replayed) keep mask of ``shape``: True with probability ``1 - p``."""
    template = torch.empty(tuple(shape), dtype=torch.bool, device=like.device)
    mask = state.take(BERNOULLI, template, call, lambda: _ORIGINAL_RAND(tuple(shape), device=like.device) >= p)
    return mask.to(torch.bool)


def _apply_keep(x: torch.Tensor, keep: torch.Tensor, p: float, inplace: bool) -> torch.Tensor:
    """Inverted dropout with the given mask, computed as Flax does (``where(keep, x / (1 - p), 0)``)."""
    out = torch.where(keep, x / (1.0 - p), torch.zeros((), dtype=x.dtype, device=x.device))
    if inplace:
        with torch.no_grad():
            x.copy_(out)
        return x
    return out


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


@contextlib.contextmanager
def recording(tape: DrawTape):
    """Every PyTorch draw made meanwhile is appended to ``tape`` (and used as drawn)."""
    state = _TorchDraws(tape, replay=False)
    with _patched(_patched_samplers(state)):
        yield tape


@contextlib.contextmanager
def replaying_torch(tape: DrawTape):
    """PyTorch's draws meanwhile take ``tape``'s values in order (the float64 twin of a recorded run)."""
    state = _TorchDraws(tape, replay=True)
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
        return state.take(BERNOULLI, shape, "bernoulli").astype(bool)

    def randint(key, shape, minval, maxval, dtype=jnp.int32, *args, **kwargs):
        if initialising[0]:
            return originals["randint"](key, shape, minval, maxval, dtype, *args, **kwargs)
        return state.take(INTEGERS, shape, "randint").astype(dtype)

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
