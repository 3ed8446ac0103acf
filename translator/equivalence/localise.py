"""Divergence localisation: the first submodule whose output differs, and the rule that translated it.

Both models are run once more on the failing input, capturing every
submodule's output: PyTorch through forward hooks (in execution order), Flax
through ``capture_intermediates``.  Submodules are paired by the same naming
the port plan uses (``features.0`` is ``features_0``); a Flax output that is
channels-last is compared after moving its last axis back to position 1.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import torch

from translator.equivalence.tolerance import Error, Tolerance, error_of
from translator.rules.registry import rule_for_object
from translator.weights.plan import flax_attribute_name


@dataclass(frozen=True)
class Divergence:
    """Where the two models first disagree."""

    torch_module: str  # "features.3"
    flax_module: str  # "features_3"
    error: Error
    rule: str | None  # code of the rule that translated this layer (None: a user module)
    explanation: str
    #: every submodule output is within the tolerance (only gradients differ): this is the first one past
    #: the float32 noise level ``NOISE_RTOL`` instead
    below_tolerance: bool = False

    def describe(self) -> str:
        where = f"`{self.torch_module}` (Flax `{self.flax_module}`)"
        rule = f" translated by {self.rule}: {self.explanation}" if self.rule else f" ({self.explanation})"
        first = "first divergence" if not self.below_tolerance else (
            f"outputs of every submodule are within tolerance; the first past float32 noise ({NOISE_RTOL:g} rel)")
        return f"{first} at {where}: max abs {self.error.max_abs:.3g}, rel {self.error.max_rel:.3g};{rule}"


#: a submodule output this far from PyTorch's is more than float32 rounding (PITFALLS.md section 3: correct
#: layers measure <= 1.3e-6); used when only gradients are outside the tolerance
NOISE_RTOL = 5e-6


def flax_names(model: torch.nn.Module) -> dict[str, tuple[str, ...]]:
    """Every torch submodule name -> its Flax module path, by the rules' naming (as the port plan)."""
    names: dict[str, tuple[str, ...]] = {}

    def walk(module, torch_name: str, flax_path: tuple[str, ...]):
        names[torch_name] = flax_path
        rule = rule_for_object(type(module))
        if rule is not None and rule.torch_classes and not hasattr(rule, "child_path"):
            return
        for child_name, child in module.named_children():
            if rule is not None and hasattr(rule, "child_path"):
                child_path = rule.child_path(flax_path, child_name)
            else:
                child_path = (*flax_path, flax_attribute_name(type(module), child_name))
            walk(child, f"{torch_name}.{child_name}" if torch_name else child_name, child_path)

    walk(model, "", ())
    return names


def torch_outputs(model: torch.nn.Module, inputs, device: str = "cpu") -> list[tuple[str, torch.nn.Module, np.ndarray]]:
    """(name, module, output) for every submodule that returned a tensor, in execution order."""
    captured = []
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(module, args, output, name=name):
            leaves = [o for o in jax.tree_util.tree_leaves(output) if isinstance(o, torch.Tensor)]
            if leaves:
                captured.append((name, module, leaves[0].detach().cpu().numpy().copy()))

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*[torch.from_numpy(np.array(x)).to(device) for x in inputs])
    finally:
        for handle in handles:
            handle.remove()
    return captured


def flax_outputs(pair, inputs) -> dict[tuple[str, ...], list[np.ndarray]]:
    """Every Flax submodule's output at each of its calls, in call order (a shared layer is called more than once)."""
    rngs = {"noise": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(0)}
    takes_train = "train" in inspect.signature(type(pair.flax_model).__call__).parameters
    kwargs = {"train": True, "rngs": rngs} if pair.train and takes_train else {"rngs": rngs}
    mutable = ["intermediates", *sorted(k for k in pair.variables if k != "params")]
    _, state = pair.flax_model.apply(
        pair.variables, *[jnp.asarray(x) for x in inputs], capture_intermediates=True, mutable=mutable, **kwargs
    )
    found: dict[tuple[str, ...], list[np.ndarray]] = {}

    def walk(tree, path):
        for key, value in tree.items():
            if key == "__call__":  # a tuple: one output per call
                calls = [jax.tree_util.tree_leaves(output) for output in value]
                found[path] = [np.asarray(leaves[0]) if leaves else None for leaves in calls]
            elif isinstance(value, dict):
                walk(value, (*path, key))

    walk(jax.tree_util.tree_map(lambda v: v, dict(state.get("intermediates", {}))), ())
    return found


def as_torch_layout(flax_value: np.ndarray, torch_value: np.ndarray) -> np.ndarray:
    """Flax's output in PyTorch's layout: as it is, or channels-last with its last axis moved back to 1.

    The shapes decide unless both readings fit them (as many channels as each spatial size: 8
    channels on an 8x8 map, ``(N, 8, 8, 8)`` either way). Then the layout is a property of the
    translation the localiser cannot see (a channels-last ``nn.Conv``, a layer that keeps its
    input's layout, a hand-written ``--flax`` module), and the reading closer to PyTorch's value is
    taken: the other one is a transposition of the same values, not a difference.
    """
    candidates = []
    if flax_value.shape == torch_value.shape:
        candidates.append(flax_value)
    if flax_value.ndim >= 3 and np.moveaxis(flax_value, -1, 1).shape == torch_value.shape:
        candidates.append(np.moveaxis(flax_value, -1, 1))
    if not candidates:
        return flax_value  # neither fits: error_of reports the shape mismatch
    return min(candidates, key=lambda candidate: error_of(candidate, torch_value).max_abs)


def localise(pair, inputs, tolerance: Tolerance) -> Divergence | None:
    """The first submodule (in PyTorch's execution order) whose output is outside tolerance."""
    from translator.equivalence.draws import (
        DrawTape,
        native_dropout_disabled,
        recording,
        replaying_jax,
    )

    names = flax_names(pair.torch_model)
    tape = DrawTape()  # as in the stage that failed: PyTorch's draws replayed to the translation
    with native_dropout_disabled(pair.torch_model), recording(tape):
        torch_side = list(torch_outputs(pair.torch_model, inputs, pair.torch_device))
    with replaying_jax(tape.arrays(), tape.kinds), native_dropout_disabled(torch.nn.Identity(), pair.native_random):
        with_flax = flax_outputs(pair, inputs)
    paired = []
    calls: dict[str, int] = {}
    for torch_name, module, torch_value in torch_side:
        call = calls[torch_name] = calls.get(torch_name, -1) + 1  # the n-th call of a layer is paired with Flax's n-th
        flax_path = names.get(torch_name)
        if flax_path is None or call >= len(with_flax.get(flax_path, ())) or with_flax[flax_path][call] is None:
            continue
        paired.append((torch_name, module, flax_path, as_torch_layout(with_flax[flax_path][call], torch_value), torch_value))
    noise = Tolerance(rtol=min(NOISE_RTOL, tolerance.rtol), atol=tolerance.atol)
    for bound, below in ((tolerance, False), (noise, True)):  # gradients alone can differ: then the first past noise
        for torch_name, module, flax_path, flax_value, torch_value in paired:
            error = error_of(flax_value, torch_value, tolerance=bound)
            if not error.within(bound):
                rule = rule_for_object(type(module))
                explanation = rule.summary if rule is not None else f"user module {type(module).__name__}"
                return Divergence(torch_name, "/".join(flax_path), error, rule.code if rule else None, explanation, below)
    return None
