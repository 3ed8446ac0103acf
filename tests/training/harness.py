"""The step-by-step harness of the training rules: PyTorch's optimizer or scheduler against the optax code
the translator emits for it (``translator.training.optim``), exec'd.

Optimizers: a small model's parameters (two linear layers and a layer norm, float64 on both sides, the
same initial values) take ``steps`` updates from the same synthetic gradients (a quadratic pull towards
a target plus a fixed random term per step, so the trajectory depends on every earlier update); the
result is the largest parameter difference. Schedulers: torch's ``get_last_lr()`` after each
``scheduler.step()`` against the optax schedule at the first update count of each epoch (and every
count in between, which must hold the same value when stepped per epoch).
"""

from __future__ import annotations

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from torch import nn, optim
from torch.optim import lr_scheduler

from translator.naming import resolve
from translator.rewrite.context import FileContext, code_of
from translator.training.optim import translate_clip, translate_optimizer, translate_schedule

PRELUDE = """\
import math
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim import lr_scheduler
from torch.optim.lr_scheduler import StepLR
"""


class TranslationReported(AssertionError):
    """The translator reported the construct instead of translating it."""


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 2)


#: torch parameter name -> (Flax path, transposed)
FLAX_NAMES = {"weight": ("kernel", True), "bias": ("bias", False)}


def _flax_path(name: str, param: torch.Tensor) -> tuple[tuple[str, ...], bool]:
    *modules, leaf = name.split(".")
    if modules == ["norm"]:
        return ("norm", "scale" if leaf == "weight" else "bias"), False
    flax_leaf, transposed = FLAX_NAMES[leaf]
    return (*modules, flax_leaf), transposed and param.ndim == 2


def torch_model(seed: int = 0) -> Model:
    torch.manual_seed(seed)
    model = Model().double()
    with torch.no_grad():
        model.norm.weight.uniform_(0.5, 1.5)
        model.norm.bias.uniform_(-0.5, 0.5)
    return model


def to_flax(model: nn.Module) -> dict:
    tree: dict = {}
    for name, param in model.named_parameters():
        path, transposed = _flax_path(name, param)
        value = param.detach().numpy().copy()
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = jnp.asarray(value.T if transposed else value)
    return tree


def synthetic_gradients(model: nn.Module, step: int, seed: int) -> dict[str, np.ndarray]:
    """Torch-layout gradients for each parameter: 2 (p - target) + noise, fixed per (seed, step)."""
    rng = np.random.default_rng(seed * 1000 + step)
    grads = {}
    for index, (name, param) in enumerate(model.named_parameters()):
        value = param.detach().numpy()
        target = np.random.default_rng(index).normal(size=value.shape)
        grads[name] = 2 * (value - target) * (1 + index % 3) + rng.normal(size=value.shape) * 0.5
    return grads


def _grads_tree(model: nn.Module, grads: dict[str, np.ndarray]) -> dict:
    tree: dict = {}
    for name, param in model.named_parameters():
        path, transposed = _flax_path(name, param)
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = jnp.asarray(grads[name].T if transposed else grads[name])
    return tree


def _first_call(source: str) -> tuple[FileContext, object]:
    resolved = resolve(source)
    file = FileContext(resolved, "script.py")
    statement = resolved.module.body[-1].body[0]
    return file, statement.value


def _exec(file: FileContext, expressions: dict[str, str]) -> dict:
    support = "\n\n".join(file.support[name] for name in sorted(file.support))
    body = "\n".join(f"{name} = {text}" for name, text in expressions.items())
    namespace: dict = {}
    code = f"import math\nimport jax\nimport jax.numpy as jnp\nimport optax\n\n{support}\n\n{body}\n"
    exec(compile(code, "<translation>", "exec"), namespace)
    return namespace


def _reported(file: FileContext) -> None:
    errors = [d.format() for d in file.diagnostics if d.severity.value == "error"]
    if errors:
        raise TranslationReported("; ".join(errors))


def translate_optimizer_text(torch_text: str, clip_text: str | None = None, schedule: str | None = None) -> tuple[str, FileContext]:
    """The optax code (and file context: support, diagnostics) the translator emits for ``torch_text``."""
    clip_source = f"clip = {clip_text}\n" if clip_text else ""
    file, call = _first_call(f"{PRELUDE}{clip_source}optimizer = {torch_text}\n")
    clips = []
    if clip_text:
        clip_call = file.resolved.module.body[-2].body[0].value
        clip = translate_clip(clip_call, file)
        _reported(file)
        clips.append(clip)
    lr = cst_expr(schedule) if schedule else None
    translated = translate_optimizer(call, file, clip=clips, learning_rate=lr)
    _reported(file)
    assert translated is not None
    return code_of(translated.transform), file


def cst_expr(text: str):
    import libcst as cst

    return cst.parse_expression(text)


def optimizer_difference(torch_text: str, steps: int = 20, *, optax_text: str | None = None, clip_text: str | None = None,
                         schedule_text: str | None = None, seed: int = 0, dtype: str = "float64") -> float:
    """Largest parameter difference after ``steps`` updates, relative to max(1, largest parameter): torch's
    optimizer vs the translation of ``torch_text`` (or ``optax_text``, a hand-written optax expression, for
    the known-wrong mappings). ``clip_text`` clips between backward and step; ``schedule_text`` (over
    ``optimizer``) is stepped after every update and drives the translation's rate (and momentum)."""
    model = torch_model(seed)
    if dtype == "float32":
        model = model.float()
    if schedule_text:  # the scheduler call handed to translate_optimizer: one schedule per parameter group
        file, scheduler_call = _first_call(f"{PRELUDE}optimizer = {torch_text}\nscheduler = {schedule_text}\n")
        optimizer_call = file.resolved.module.body[-2].body[0].value
        translated_optimizer = translate_optimizer(optimizer_call, file, scheduler=scheduler_call)
        _reported(file)
        translated = code_of(translated_optimizer.transform)
    else:
        translated, file = translate_optimizer_text(torch_text, clip_text)
    namespace = _exec(file, {"tx": optax_text or translated})
    optimizer = eval(torch_text, {"optim": optim, "model": model, "torch": torch})
    scheduler = eval(schedule_text, {"optimizer": optimizer, "lr_scheduler": lr_scheduler}) if schedule_text else None
    clip = eval(f"lambda: {clip_text}", {"torch": torch, "model": model, "nn": nn}) if clip_text else None
    with jax.enable_x64(dtype == "float64"):
        params = jax.tree.map(lambda a: a.astype(dtype), to_flax(model))
        tx = namespace["tx"]
        state = tx.init(params)

        @jax.jit
        def update(params, state, grads):
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        for step in range(steps):
            grads = synthetic_gradients(model, step, seed)
            optimizer.zero_grad()
            for name, param in model.named_parameters():
                param.grad = torch.from_numpy(grads[name].copy()).to(param.dtype)  # clipping works in place
            if clip is not None:
                clip()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            flax_grads = jax.tree.map(lambda a: a.astype(dtype), _grads_tree(model, {k: v for k, v in grads.items()}))
            # the JAX side gets the same gradients: computed from the torch parameters before this step
            params, state = update(params, state, flax_grads)
        expected = jax.tree.leaves(to_flax(model))
        scale = max(1.0, max(float(jnp.max(jnp.abs(b))) for b in expected))
        return max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(params), expected, strict=True)) / scale


def translate_schedule_text(schedule_text: str, optimizer_text: str, steps_per_epoch: int | str | None) -> tuple[object, FileContext]:
    """The translation of ``schedule_text`` over ``optimizer_text`` (its base lr), ``steps_per_epoch`` updates
    per ``scheduler.step()`` (a number or a name; None: per update)."""
    file, call = _first_call(f"{PRELUDE}optimizer = {optimizer_text}\nscheduler = {schedule_text}\n")
    optimizer_call = file.resolved.module.body[-2].body[0].value
    optimizer = translate_optimizer(optimizer_call, file)
    _reported(file)
    spe = None if steps_per_epoch is None else cst_expr(str(steps_per_epoch))
    translated = translate_schedule(call, file, base_learning_rate=optimizer.base_learning_rate, steps_per_epoch=spe)
    _reported(file)
    assert translated is not None
    return translated, file


def torch_lrs(schedule_text: str, optimizer_text: str, epochs: int) -> list[float]:
    """torch's learning rate during each of ``epochs`` epochs: ``get_last_lr()`` before the first step,
    then after each ``scheduler.step()``."""
    model = torch_model()
    optimizer = eval(optimizer_text, {"optim": optim, "model": model})
    scheduler = eval(schedule_text, {"optimizer": optimizer, "lr_scheduler": lr_scheduler, "math": __import__("math")})
    lrs = []
    for _ in range(epochs):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return lrs


def schedule_difference(schedule_text: str, optimizer_text: str, epochs: int, steps_per_epoch: int | None,
                        *, optax_text: str | None = None, count_dtype: str = "int64") -> float:
    """Largest difference, relative to the largest lr, between torch's lr and the translated schedule at every
    update count of ``epochs`` epochs (``steps_per_epoch`` updates each; None: one update per step).

    ``count_dtype="int64"`` checks the formula in float64; ``"int32"`` is what optax passes (its update
    count is int32, and JAX divides int32 in float32: schedules then carry float32 rounding)."""
    translated, file = translate_schedule_text(schedule_text, optimizer_text, steps_per_epoch)
    namespace = _exec(file, {"schedule": optax_text or code_of(translated.schedule)})
    expected = torch_lrs(schedule_text, optimizer_text, epochs)
    per = steps_per_epoch or 1
    with jax.enable_x64(True):
        counts = jnp.arange(epochs * per, dtype=count_dtype)
        got = np.asarray(jax.jit(jax.vmap(namespace["schedule"]))(counts), dtype=np.float64)
    want = np.repeat(np.asarray(expected), per)
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-12))


def indent(text: str) -> str:
    return textwrap.indent(text, "    ")


def plateau_metrics(epochs: int, seed: int = 0) -> list[float]:
    """A metric that improves, plateaus with noise, and improves again: every branch of the scheduler."""
    rng = np.random.default_rng(seed)
    base = np.concatenate([np.linspace(1.0, 0.5, epochs // 4), np.full(epochs - epochs // 4, 0.5)])
    base[epochs // 2:] -= np.linspace(0, 0.2, epochs - epochs // 2) * (np.arange(epochs - epochs // 2) % 5 == 0)
    return list(base + rng.normal(scale=0.005, size=epochs))


def plateau_difference(schedule_text: str, optimizer_text: str, epochs: int, *, optax_text: str | None = None) -> float:
    """ReduceLROnPlateau: torch's lr after each ``scheduler.step(metric)`` against ``base * state.scale`` of
    the translated transformation updated once per epoch with the same metric (relative to the base lr)."""
    translated, file = translate_schedule_text(schedule_text, optimizer_text, None)
    assert translated.needs_value and translated.schedule is None
    namespace = _exec(file, {"plateau": optax_text or code_of(translated.transform)})
    metrics = plateau_metrics(epochs)
    model = torch_model()
    optimizer = eval(optimizer_text, {"optim": optim, "model": model})
    scheduler = eval(schedule_text, {"optimizer": optimizer, "lr_scheduler": lr_scheduler})
    base = optimizer.param_groups[0]["lr"]
    with jax.enable_x64(True):
        plateau = namespace["plateau"]
        params = {"w": jnp.zeros(2)}
        state = plateau.init(params)
        update = jax.jit(lambda state, value: plateau.update(params, state, value=value)[1])
        worst = 0.0
        for metric in metrics:
            scheduler.step(metric)
            state = update(state, jnp.asarray(metric))
            worst = max(worst, abs(float(state.scale) * base - optimizer.param_groups[0]["lr"]) / base)
    return worst
