"""The statistical dropout check (``--train``, part of the behavioral stage).

Dropout masks come from different random streams, so the numeric stage turns
dropout off on both sides.  What *can* be checked is the distribution: every
``flax.linen.Dropout`` call of the translation is intercepted
(``nn.intercept_methods``) with dropout on (a ``'dropout'`` rng), and for its
input ``x`` and output ``y`` at the positions where ``x != 0``:

* ``y / x`` is either 0 or ``1/(1-p)`` (inverted dropout, as PyTorch; within
  ``SCALE_RTOL``), and
* the fraction ``d/n`` of dropped positions is within ``Z`` binomial standard
  deviations of ``p``: ``|d/n - p| <= Z * sqrt(p(1-p)/n) + 1/(2n)``
  (``Z = 5``: a false alarm has probability ~6e-7 per layer), where ``p`` is the
  rate of the PyTorch ``nn.Dropout`` module at the same path (so a rate
  translated as keep-probability, ``rate=1-p``, is caught) or, for dropout
  inside a support module (an LSTM's inter-layer dropout), the Flax rate.

Every PyTorch dropout module with ``p > 0`` that runs in the forward pass must
have a Flax ``nn.Dropout`` call at its path (a translation that left dropout
deterministic in train mode, or dropped it, fails).  ``ROUNDS`` keys are drawn
so that the count ``n`` is large enough to see a rate that is off by a few percent.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import flax.linen as flax_nn
import jax
import numpy as np
import torch

from translator.equivalence.pair import restore_buffers, saved_buffers

Z = 5.0
SCALE_RTOL = 1e-5
ROUNDS = 4


def dropout_modules(model: torch.nn.Module) -> dict[str, float]:
    """PyTorch dropout modules with ``p > 0``: name -> p."""
    return {name: float(m.p) for name, m in model.named_modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0}


def has_dropout(model: torch.nn.Module) -> bool:
    if dropout_modules(model):
        return True
    return any(
        isinstance(m, (torch.nn.RNNBase, torch.nn.MultiheadAttention)) and getattr(m, "dropout", 0) > 0 for m in model.modules()
    )


@dataclass
class DropoutLayer:
    torch_module: str | None  # None: a dropout inside a support module (no PyTorch module of its own)
    flax_module: str
    rate: float
    positions: int = 0  # n: nonzero inputs seen
    dropped: int = 0
    max_scale_err: float = 0.0  # max |(y/x) * (1-p) - 1| over kept positions

    @property
    def fraction(self) -> float:
        return self.dropped / self.positions if self.positions else float("nan")

    @property
    def bound(self) -> float:
        if not self.positions:
            return float("inf")
        return Z * float(np.sqrt(self.rate * (1 - self.rate) / self.positions)) + 0.5 / self.positions

    @property
    def ok(self) -> bool:
        return self.positions > 0 and abs(self.fraction - self.rate) <= self.bound and self.max_scale_err <= SCALE_RTOL

    def to_json(self) -> dict:
        return {
            "torch_module": self.torch_module, "flax_module": self.flax_module, "rate": self.rate,
            "positions": self.positions, "dropped_fraction": self.fraction, "bound": self.bound,
            "max_scale_err": self.max_scale_err, "ok": self.ok,
        }


@dataclass
class DropoutCheck:
    layers: list[DropoutLayer] = field(default_factory=list)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and all(layer.ok for layer in self.layers)

    def to_json(self) -> dict:
        return {"ok": self.ok, "z": Z, "layers": [layer.to_json() for layer in self.layers], "failure": self.failure}


def called_torch_dropouts(pair, inputs) -> dict[str, float]:
    """Dropout modules (p > 0) that run in PyTorch's forward pass on these inputs."""
    expected = dropout_modules(pair.torch_model)
    called: dict[str, float] = {}
    modules = dict(pair.torch_model.named_modules())

    def hook(module, args, output, name):
        called[name] = expected[name]  # returns None: the output is unchanged

    handles = [modules[name].register_forward_hook(lambda m, a, o, name=name: hook(m, a, o, name)) for name in expected]
    saved = saved_buffers(pair.torch_model)
    try:
        with torch.no_grad():
            pair.torch_model(*[torch.from_numpy(np.array(x)).to(pair.torch_device) for x in inputs])
    finally:
        for handle in handles:
            handle.remove()
        restore_buffers(pair.torch_model, saved)
    return called


def flax_dropout_calls(pair, inputs, rounds: int = ROUNDS):
    """(path, rate, [(x, y) per round]) for every ``nn.Dropout`` call in a train-mode forward pass."""
    model = pair.flax_model
    takes_train = "train" in inspect.signature(type(model).__call__).parameters
    rest = {k: v for k, v in pair.variables.items() if k != "params"}
    mutable = sorted(rest) or False
    meta: list[tuple[tuple[str, ...], float]] = []

    def run(variables, args, key):
        calls = []

        def interceptor(next_fun, call_args, call_kwargs, context):
            out = next_fun(*call_args, **call_kwargs)
            if isinstance(context.module, flax_nn.Dropout) and context.method_name == "__call__":
                meta.append((tuple(context.module.path), float(context.module.rate)))
                calls.append((call_args[0], out))
            return out

        with flax_nn.intercept_methods(interceptor):
            model.apply(variables, *args, rngs={"dropout": key, "noise": key}, mutable=mutable, **({"train": True} if takes_train else {}))
        return calls

    run = jax.jit(run)
    args = [jax.device_put(x) for x in inputs]
    per_round = [run(pair.variables, args, jax.random.PRNGKey(1000 + r)) for r in range(rounds)]
    return [(path, rate, [(np.asarray(rnd[i][0]), np.asarray(rnd[i][1])) for rnd in per_round]) for i, (path, rate) in enumerate(meta)]


def enclosing_rate(path: tuple[str, ...], names: dict[str, tuple[str, ...]], modules: dict) -> float | None:
    """The dropout rate of the PyTorch module whose translation holds the Flax dropout at ``path`` (an LSTM's
    inter-layer dropout inside its support module): the rate comes from PyTorch, never from the translation."""
    by_path = {flax_path: name for name, flax_path in names.items()}
    for length in range(len(path) - 1, 0, -1):
        name = by_path.get(tuple(path[:length]))
        if name is not None:
            rate = getattr(modules[name], "dropout", None)
            return float(rate) if isinstance(rate, (int, float)) else None
    return None


def check_dropout(pair, inputs, rounds: int = ROUNDS) -> DropoutCheck:
    from translator.equivalence.localise import flax_names

    result = DropoutCheck()
    try:
        expected = called_torch_dropouts(pair, inputs)
        calls = flax_dropout_calls(pair, inputs, rounds)
    except Exception as error:
        result.failure = f"the dropout check could not run: {type(error).__name__}: {error}"
        return result
    names = flax_names(pair.torch_model)
    by_flax_path = {path: name for name, path in names.items() if name in expected}
    modules = dict(pair.torch_model.named_modules())
    layers: dict[tuple[str, ...], DropoutLayer] = {}
    for path, _flax_rate, samples in calls:
        torch_name = by_flax_path.get(path)
        rate = expected[torch_name] if torch_name is not None else enclosing_rate(path, names, modules)
        if rate is None or rate <= 0:  # no PyTorch rate to hold it to (replayed and compared numerically instead)
            continue
        layer = layers.setdefault(path, DropoutLayer(torch_name, "/".join(path), rate))
        for x, y in samples:
            x, y = x.astype(np.float64), y.astype(np.float64)
            live = (x != 0) & np.isfinite(x)
            dropped = live & (y == 0)
            kept = live & (y != 0)
            layer.positions += int(live.sum())
            layer.dropped += int(dropped.sum())
            if kept.any():
                ratio = y[kept] / x[kept] * (1 - rate)
                layer.max_scale_err = max(layer.max_scale_err, float(np.abs(ratio - 1).max()))
    result.layers = list(layers.values())
    missing = sorted(set(expected) - {layer.torch_module for layer in result.layers})
    problems = [f"`{name}` (p={expected[name]:g}) has no Flax nn.Dropout call in train mode" for name in missing]
    for layer in result.layers:
        if not layer.ok:
            where = f"`{layer.torch_module}` (Flax `{layer.flax_module}`)" if layer.torch_module else f"Flax `{layer.flax_module}`"
            problems.append(
                f"dropout {where}: dropped {layer.fraction:.4f} of {layer.positions} (p={layer.rate:g}, allowed "
                f"+-{layer.bound:.4f}), kept values scaled within {layer.max_scale_err:.2g} of 1/(1-p)"
            )
    if problems:
        result.failure = "dropout check: " + "; ".join(problems)
    return result
