"""``torch2flax check-train``: a training script and its translation, step by step.

Both sides start from the same weights (PyTorch's, ported) and take the same batches.
The PyTorch side runs the script's own set-up (model, optimiser, scheduler, loss, data)
and, K times, its own step statements (``zero_grad``; the forward and loss; ``backward``;
clipping; ``step``; a per-epoch ``scheduler.step()`` every ``steps_per_epoch`` steps).
The JAX side imports the translation (its ``main()`` does not run) and calls its
``train_step``. After every step the loss, the learning rate used, every parameter and
the batch statistics are compared, against PyTorch float32 with the float64 run as the
floor (the policy of ``check``: per element, the bound grows with the step count because
rounding compounds).

Placeholder loaders (``train_loader = ...``) and ``--input``/``--target`` make synthetic
batches, given to both sides; otherwise the script's own data is used (its loader's
batches, or the full-batch tensors the step reads).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import tempfile
import types
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
import numpy as np

from translator.diagnostics import UsageError
from translator.equivalence.specs import InputSpec
from translator.equivalence.tolerance import LAYER_RTOL, Tolerance, error_of
from translator.training.plan import TrainingPlan, walk_statements, without_main_guard

#: batches per epoch when check-train makes the data (a per-epoch scheduler then steps within a few steps)
SYNTHETIC_BATCHES_PER_EPOCH = 2
QUANTITIES = ("loss", "lr", "params", "state")


@dataclass
class StepErrors:
    step: int
    loss_torch: float
    loss_jax: float
    lr_torch: float
    lr_jax: float | None
    errors: dict[str, float]  # quantity -> max relative error, JAX float32 against PyTorch float32
    failing: list[str]
    errors64: dict[str, float] = field(default_factory=dict)  # the same, both in float64
    model: str | None = None  # the model this step trained, when the script trains several


@dataclass
class TrainCheckReport:
    script: str
    steps: int
    translated: str | None = None
    per_step: list[StepErrors] = field(default_factory=list)
    failure: str | None = None
    data: str = ""
    rtol: float = LAYER_RTOL["float32"]
    #: errors the translator reported (lines left untranslated), with file:line
    diagnostics: list[str] = field(default_factory=list)

    @property
    def first_divergence(self) -> dict | None:
        for step in self.per_step:
            if step.failing:
                return {"step": step.step, "quantity": step.failing[0]}
        return None

    @property
    def ok(self) -> bool:
        return self.failure is None and len(self.per_step) == self.steps and self.first_divergence is None

    @property
    def max_rel_err(self) -> dict[str, float]:
        return {q: max((s.errors.get(q, 0.0) for s in self.per_step), default=0.0) for q in QUANTITIES}

    @property
    def max_rel_err_float64(self) -> dict[str, float]:
        return {q: max((s.errors64.get(q, 0.0) for s in self.per_step), default=0.0) for q in QUANTITIES}

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "steps": len(self.per_step),
            "max_rel_err": self.max_rel_err,
            "max_rel_err_float64": self.max_rel_err_float64,
            "first_divergence": self.first_divergence,
            "failure": self.failure,
            "diagnostics": self.diagnostics,
            "data": self.data,
            "tolerance": {"rtol_per_step": self.rtol, "rtol_per_step_float64": FLOAT64_RTOL,
                          "policy": "a quantity diverges when JAX float32 vs PyTorch float32 (element-wise, rtol*(k+1)*max|ref| "
                                    "at step k, relaxed to 10x PyTorch's own float32-vs-float64 error, capped at 100x) and "
                                    "JAX float64 vs PyTorch float64 (rtol 1e-8*(k+1)) both disagree"},
            "per_step": [
                {"step": s.step, "model": s.model, "loss": {"torch": s.loss_torch, "jax": s.loss_jax},
                 "lr": {"torch": s.lr_torch, "jax": s.lr_jax},
                 "max_rel_err": s.errors, "max_rel_err_float64": s.errors64, "failing": s.failing}
                for s in self.per_step
            ],
        }


def check_train(script: str | Path, inputs: list[InputSpec] | None = None, target: InputSpec | None = None, steps: int = 5,
                translated: str | Path | None = None, seed: int = 0) -> TrainCheckReport:
    """Run the script's training steps in PyTorch and in its translation, and compare them step by step."""
    import torch

    from translator.naming import resolve
    from translator.rewrite.context import FileContext
    from translator.rewrite.pipeline import discover, translate_source
    from translator.training.plan import read_training_plan
    from translator.training.script import first_running_statement

    path = Path(script)
    source = path.read_text()
    try:
        compile(source, str(path), "exec", dont_inherit=True)  # CPython's own message and position are the clearest
    except SyntaxError as error:
        raise UsageError(f"{path}:{error.lineno}:{error.offset or 1}: syntax error: {error.msg}") from None
    report = TrainCheckReport(script=str(path), steps=steps, translated=str(translated) if translated else None)
    resolved = resolve(source)
    file = FileContext(resolved, str(path))
    info = discover(resolved.module, file)
    statements = [s for s in without_main_guard(resolved.module.body) if not isinstance(s, (cst.ClassDef, cst.FunctionDef))
                  and not is_import(s)]
    plan = read_training_plan(statements, file, info)
    if not plan.trains:
        raise UsageError(f"{path}: no training step found (a loop with `loss.backward()` then `optimizer.step()`)")
    from translator.training.plan import other_trained_models
    from translator.training.script import StepNames

    regions = plan.steps
    models = [plan.optimized_model.get(region.optimizer) for region in regions]
    if None in models:
        raise UsageError(f"{path}: cannot tell which model `{regions[models.index(None)].optimizer}` optimises")
    if len(set(models)) != len(models):
        raise UsageError(f"{path}: a model is trained by two steps in one pass; check-train compares one step per model")
    names = {model: StepNames.of(model, len(models) > 1) for model in models}
    region = regions[0]
    if translated is None:
        translation = translate_source(source, str(path))
        # lines left untranslated are reported; the steps are still compared (an untranslated line inside the
        # step leaves PyTorch code there, and the step fails to run)
        report.diagnostics = [d.format() for d in translation.errors]
        flax_code = translation.code
    else:
        flax_code = Path(translated).read_text()

    split = first_running_statement(statements, plan)
    setup_ids = {id(s) for s in statements[:split]}
    setup = [s for s in without_main_guard(resolved.module.body) if id(s) in setup_ids or is_import(s)
             or isinstance(s, (cst.ClassDef, cst.FunctionDef))]
    batches = synthetic_batches(plan, region, inputs, target, steps, seed, path, file)
    report.data = "synthetic (--input/--target or a placeholder loader)" if batches is not None else "the script's own"

    from translator.equivalence.draws import (
        DrawMismatch,
        DrawTape,
        recording,
        replaying_jax,
        replaying_torch,
    )

    torch.manual_seed(plan.seed if plan.seed is not None else seed)
    data_draws = DrawTape()
    torch32 = run_setup(setup, path, plan, batches, data_draws, seed)
    missing = [model for model in models if model not in torch32]
    if missing:
        raise UsageError(f"{path}: `{missing[0]}` is not built before the training loop")
    initial = {model: {k: v.detach().clone().numpy() for k, v in torch32[model].state_dict().items()} for model in models}
    torch64 = float64_twin(torch32, setup, path, plan)

    trainings = {id(st) for r in regions for st in statements[split:] if any(id(x) == id(r.step) for x in walk_statements([st]))}
    if len(trainings) != 1:
        raise UsageError(f"{path}: the optimisation steps sit in different top-level loops; check-train compares one loop")
    training = next(st for st in statements[split:] if id(st) in trainings)
    try:
        captures, scheduler_steps = capture_step_inputs(torch32, training, path, plan, regions, steps, batches)
    except UsageError as error:
        report.failure = str(error)
        return report

    try:  # the script's data is made from the same draws on the JAX side
        import jax.numpy as jnp

        arrays = [jnp.asarray(a) for a in data_draws.arrays()]  # what jax.random returns: arrays, not numpy
        with replaying_jax(arrays, data_draws.kinds, [d.call for d in data_draws.draws]):
            module = import_translation(flax_code, plan, batches, [n.step for n in names.values()] + [n.create for n in names.values()])
    except DrawMismatch as error:
        report.failure = f"the translation makes its data from other random draws than the script: {error}"
        return report
    compiled = [compile(step_source(r), str(path), "exec") for r in regions]
    per_epoch = [s for s in plan.schedulers if plan.schedule_period.get(s) == "epoch"]

    import jax

    first_inputs: dict[str, tuple] = {}  # each model's inputs at its first call: the shapes its state is made with
    def remember(model: str):
        def hook(_module, args) -> None:  # returning anything else would replace the module's inputs
            first_inputs.setdefault(model, args)
        return hook

    hooks = [torch32[model].register_forward_pre_hook(remember(model)) for model in models]
    states32: dict[str, object] = {}
    states64: dict[str, object] = {}
    updates = dict.fromkeys(models, 0)
    for k, (index, batch) in enumerate(captures):
        region, model = regions[index], models[index]
        losses, lrs = {}, {}
        tape = DrawTape()  # this step's draws (dropout masks, sampling): recorded once, replayed everywhere
        for name, namespace, dtype in (("torch", torch32, torch.float32), ("torch64", torch64, torch.float64)):
            for input_name, value in batch.items():
                namespace[input_name] = as_torch(value, dtype)
            lrs[name] = float(namespace[region.optimizer].param_groups[0]["lr"])
            namespace[region.optimizer].zero_grad()
            draws = recording(tape, seed * 1000 + k) if name == "torch" else replaying_torch(tape)
            try:
                with draws, default_dtype(dtype):  # tensors the model makes in forward follow its precision
                    exec(compiled[index], namespace)
            except Exception as error:
                report.failure = (f"the script's own step does not run alone at step {k} ({type(error).__name__}: {error}): "
                                  "check-train binds the step's inputs from the loader's batches or module-level data")
                return report
            losses[name] = float(namespace[region.loss].detach())
            for scheduler in per_epoch:  # as many scheduler.step() calls as the script's loop made by now
                while namespace.setdefault("__t2f_scheduled__", {}).get(scheduler, 0) < scheduler_steps[k + 1].get(scheduler, 0):
                    namespace[scheduler].step()
                    namespace["__t2f_scheduled__"][scheduler] = namespace["__t2f_scheduled__"].get(scheduler, 0) + 1
        others = other_trained_models(region, plan)
        for needed in [model, *others]:
            if needed in states32:
                continue
            if needed not in first_inputs:
                report.failure = f"`{needed}` was not called before step {k}: its state cannot be made"
                return report
            arguments = [to_numpy(x) for x in first_inputs[needed]]
            try:
                create = getattr(module, names[needed].create)
                states32[needed] = initial_state(create, torch32[needed], initial[needed], arguments, np.float32)
                with jax.enable_x64(True):
                    states64[needed] = initial_state(create, torch32[needed], initial[needed], arguments, np.float64)
            except UsageError:
                raise
            except Exception as error:
                report.failure = f"the translation's {names[needed].create} fails: {type(error).__name__}: {' '.join(str(error).split())[:300]}"
                return report
        if len(states32) == len(models):
            for hook in hooks:
                hook.remove()
        lr_jax = learning_rate_at(module, names[model].learning_rate, updates[model])
        updates[model] += 1
        if tape.unrecorded:
            report.failure = f"step {k}: PyTorch drew random numbers check-train does not record: not compared"
            return report
        step = getattr(module, names[model].step)
        try:
            states32[model], loss32 = jax_step(step, states32[model], [states32[o] for o in others], batch, region, np.float32, tape)
            with jax.enable_x64(True):
                states64[model], loss64 = jax_step(step, states64[model], [states64[o] for o in others], batch, region,
                                                   np.float64, tape)
        except DrawMismatch as error:
            report.failure = f"step {k}: the translation's random draws are not PyTorch's: {error}"
            return report
        except Exception as error:  # the translation's step does not run: say where, never a traceback
            report.failure = (f"the translated {names[model].step} fails at step {k}: {type(error).__name__}: "
                              f"{' '.join(str(error).split())[:300]}")
            return report
        errors = compare_step(k, (states32[model], loss32), (states64[model], loss64), losses, lrs, lr_jax,
                              torch32[model], torch64[model])
        errors.model = model if len(models) > 1 else None
        report.per_step.append(errors)
    return report


def is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body)


def synthetic_batches(plan: TrainingPlan, region, inputs, target, steps: int, seed: int, path: Path, file) -> list[dict] | None:
    """Batches for the step's inputs from ``--input``/``--target``, or for a placeholder loader from what the
    model takes (probed, as the translation does); None: the script's own data is used."""
    loader = plan.step_loop.iter if plan.step_loop is not None else None
    placeholder = loader is not None and any(n.value in plan.placeholders for n in _names(loader))
    if not inputs and target is None:
        if not placeholder:
            return None
        from translator.naming import library_name
        from translator.training.shapes import probe_batch

        model = plan.optimized_model.get(region.optimizer)
        criterion = next(iter(plan.criteria.values()), None)
        probed = probe_batch(str(path), plan.models[model], plan.model_calls[model],
                             library_name(file.resolved, criterion.func) if criterion is not None else None) if model else None
        if probed is None:
            raise UsageError("the script's loader is a placeholder (`... = ...`) and the model's input could not be "
                             "probed: give --input SPEC (and --target SPEC) for synthetic batches")
        inputs, target = [probed[0]], probed[1]
    from translator.training.script import loop_target

    specs = [*(inputs or []), *([target] if target is not None else [])]
    if plan.step_loop is None or not placeholder and loader is None:
        names = region.inputs
    else:
        target_node = loop_target(plan.step_loop)
        names = [n.value for n in _names(target_node)]
    if len(names) != len(specs):
        raise UsageError(f"the step reads {len(names)} batch value(s) ({', '.join(names)}) but {len(specs)} spec(s) were given")
    rng = np.random.default_rng(seed)
    count = SYNTHETIC_BATCHES_PER_EPOCH if plan.schedule_period else max(1, min(steps, SYNTHETIC_BATCHES_PER_EPOCH))
    return [{name: draw(spec.resolve(), rng) for name, spec in zip(names, specs, strict=True)} for _ in range(count)]


def _names(node: cst.CSTNode) -> list[cst.Name]:
    import libcst.matchers as m

    return list(m.findall(node, m.Name()))


def draw(spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.is_float:
        return rng.standard_normal(spec.shape).astype(spec.dtype)
    if spec.dtype == "bool":
        return rng.integers(0, 2, spec.shape).astype(bool)
    return rng.integers(spec.low, spec.high, spec.shape).astype(spec.dtype)


@contextlib.contextmanager
def default_dtype(dtype):
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def as_torch(value: np.ndarray, float_dtype):
    import torch

    tensor = torch.from_numpy(np.array(value))
    return tensor.to(float_dtype) if tensor.is_floating_point() else tensor


def run_setup(setup: list[cst.BaseStatement], path: Path, plan: TrainingPlan, batches, tape, seed: int) -> dict:
    """The script's set-up statements run in a fresh namespace (its prints kept off stdout). Random draws
    other than the models' initialisation are recorded on ``tape`` (the translation's data replays them);
    placeholders get the synthetic batches."""
    import torch

    from translator.equivalence.draws import recording

    namespace: dict = {"__name__": "__check_train__", "__file__": str(path)}
    try:
        with contextlib.redirect_stdout(io.StringIO()), recording(tape, seed):
            for statement in setup:
                before = len(tape.draws)
                exec(compile(cst.Module(body=[statement]).code, str(path), "exec"), namespace)
                if assigned_role(statement) in plan.models:
                    del tape.draws[before:]  # initial weights: ported, not drawn by the translation
    except Exception as error:
        raise UsageError(f"{path}: the script's set-up failed: {type(error).__name__}: {error}") from None
    for name in plan.placeholders:
        if batches is not None:
            namespace[name] = [tuple(as_torch(v, torch.float32) for v in b.values()) for b in batches]  # the loop target's order
    return namespace


def assigned_role(statement: cst.BaseStatement) -> str | None:
    """The name a ``name = ...`` statement binds."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 and isinstance(statement.body[0], cst.Assign):
        target = statement.body[0].targets[0].target
        return target.value if isinstance(target, cst.Name) else None
    return None


def float64_twin(namespace: dict, setup: list[cst.BaseStatement], path: Path, plan: TrainingPlan) -> dict:
    """The set-up in float64 with the same values: tensors and models (their initial state) converted,
    then the optimiser, scheduler and loss statements run again over them."""
    import copy

    import torch

    twin = {}
    for name, value in namespace.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            twin[name] = value.detach().double()
        elif isinstance(value, torch.nn.Module):
            twin[name] = copy.deepcopy(value).double()
        else:
            twin[name] = value
    roles = set(plan.optimizers) | set(plan.schedulers) | set(plan.criteria)
    for statement in setup:
        if assigned_role(statement) in roles:
            exec(compile(cst.Module(body=[statement]).code, str(path), "exec"), twin)
    return twin


class _Enough(Exception):
    """Raised from the shadow run's optimizer.step once the steps to compare have been seen."""


def capture_step_inputs(namespace: dict, training: cst.BaseStatement, path: Path, plan: TrainingPlan, regions, steps: int,
                        batches) -> tuple[list[tuple[int, dict]], list[dict[str, int]]]:
    """The script's own training loop, run on a copy of its state until ``steps`` optimiser steps: for each step,
    which of ``regions`` it was and the values of that step's inputs (the batch, whatever names the loss reads),
    and how many times each scheduler had stepped by then (``counts[k]``: before step k)."""
    import copy

    import torch

    movable = {k: v for k, v in namespace.items() if not isinstance(v, (types.ModuleType, type, types.FunctionType))
               and not k.startswith("__")}
    shadow = {**namespace, **copy.deepcopy(movable)}
    captured: list[tuple[int, dict]] = []
    counts: list[dict[str, int]] = [{}]
    scheduled: dict[str, int] = {}

    for index, region in enumerate(regions):
        optimizer = shadow[region.optimizer]

        def step(*args, _index=index, _region=region, _original=optimizer.step, **kwargs):
            captured.append((_index, {name: to_numpy(shadow[name]) for name in _region.inputs if name in shadow}))
            result = _original(*args, **kwargs)
            counts.append(dict(scheduled))
            if len(captured) >= steps:
                raise _Enough
            return result

        optimizer.step = step
    for name in plan.schedulers:
        scheduler = shadow.get(name)
        if scheduler is not None:
            def counted(*args, _name=name, _original=scheduler.step, **kwargs):
                scheduled[_name] = scheduled.get(_name, 0) + 1
                counts[-1] = dict(scheduled)
                return _original(*args, **kwargs)
            scheduler.step = counted
    state = torch.get_rng_state()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(cst.Module(body=[training]).code, str(path), "exec"), shadow)
    except _Enough:
        pass
    except Exception as error:
        raise UsageError(f"the script's training loop fails when run: {type(error).__name__}: {error}") from None
    finally:
        torch.set_rng_state(state)
    if not captured:
        raise UsageError("the script's training loop took no optimisation step")
    for index, values in captured:
        missing = [n for n in regions[index].inputs if n not in values]
        if missing:
            raise UsageError(f"the step reads {', '.join(missing)}, which the script does not bind where check-train can read it")
    while len(counts) <= len(captured):
        counts.append(dict(counts[-1]))
    return captured, counts


def to_numpy(value) -> np.ndarray:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def import_translation(code: str, plan: TrainingPlan, batches, required: list[str]) -> types.ModuleType:
    """The translated script as a module (``main()`` does not run); placeholder loaders get the batches."""
    directory = Path(tempfile.mkdtemp(prefix="t2f_check_train_"))
    file = directory / "translated_script.py"
    file.write_text(code)
    spec = importlib.util.spec_from_file_location("translated_script", file)
    module = importlib.util.module_from_spec(spec)
    if batches is not None and plan.placeholders:  # the placeholder loaders' statements take check-train's batches
        module.__dict__["__t2f_batches__"] = [tuple(b.values()) for b in batches]
        code = cst.parse_module(code).visit(ReplacePlaceholders(plan.placeholders)).code
    sys.modules["translated_script"] = module  # dataclasses (Flax modules) look their module up there
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, str(file), "exec"), module.__dict__)
    except Exception as error:
        raise UsageError(f"the translated script does not import: {type(error).__name__}: {error}") from None
    for name in required:
        if not hasattr(module, name):
            raise UsageError(f"the translated script defines no `{name}` (see `torch2flax rules S020` for the contract)")
    return module


class ReplacePlaceholders(cst.CSTTransformer):
    """``train_loader = <anything>`` at module level -> ``train_loader = __t2f_batches__``."""

    def __init__(self, names: set[str]):
        self.names = names

    def visit_FunctionDef(self, node) -> bool:
        return False

    def visit_ClassDef(self, node) -> bool:
        return False

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        if len(updated.targets) == 1 and isinstance(updated.targets[0].target, cst.Name) and updated.targets[0].target.value in self.names:
            return updated.with_changes(value=cst.Name("__t2f_batches__"))
        return updated


def step_source(region) -> str:
    """The PyTorch statements of one step (forward, backward, clipping, step), as a module."""
    statements = [*region.forward, region.backward, *(cst.SimpleStatementLine([cst.Expr(c)]) for c in region.clips), region.step]
    return "\n".join(cst.Module(body=[s.with_changes(leading_lines=[])]).code.strip() for s in statements) + "\n"


def initial_state(create, torch_model, state_dict: dict[str, np.ndarray], model_inputs: list, dtype):
    """The translation's TrainState from its ``create(rng, *model_inputs)``, with PyTorch's initial weights
    (``state_dict``) ported into it, in ``dtype``."""
    import jax

    from translator.weights.port import port_state_dict

    _, variables = port_state_dict(torch_model, {k: v.copy() for k, v in state_dict.items()})
    state = create(jax.random.key(0), *[cast(x, dtype) for x in model_inputs])
    changes = {"params": jax.tree_util.tree_map(lambda x: cast(x, dtype), variables["params"])}
    if "batch_stats" in variables and hasattr(state, "batch_stats"):
        changes["batch_stats"] = jax.tree_util.tree_map(lambda x: cast(x, dtype), variables["batch_stats"])
    state = state.replace(**changes)
    return state.replace(opt_state=state.tx.init(state.params))


def cast(value, dtype) -> np.ndarray:
    """A copy of ``value`` with floating arrays in ``dtype`` (integers unchanged)."""
    array = np.array(value)
    return array.astype(dtype) if np.issubdtype(array.dtype, np.floating) else array


def jax_step(step, state, others: list, batch: dict, region, dtype, tape):
    """One call of the translation's step function (``train_step``), with the states of the other trained models
    its loss calls; PyTorch's draws of this step are replayed at its ``jax.random`` calls (as arguments of a
    jitted wrapper of the undecorated step: one compile)."""
    inputs = [cast(step_argument(expr, batch), dtype) for _, expr in region.arguments]
    if not tape.draws:
        outputs = step(state, *others, *inputs)
    else:
        draws = [cast(a, dtype) if np.issubdtype(a.dtype, np.floating) else a for a in tape.arrays()]
        outputs = replayed(step)(state, draws, tape.kinds, tuple(d.call for d in tape.draws), *others, *inputs)
    return outputs[0], float(np.asarray(outputs[1]))


def step_argument(expr: cst.BaseExpression, batch: dict) -> np.ndarray:
    """The value a step parameter receives: an input of the batch, or a batch cut from one (``X[i:i + 25]``,
    evaluated on the captured values: numpy indexes as PyTorch does)."""
    if isinstance(expr, cst.Name):
        return batch[expr.value]
    return np.asarray(eval(cst.Module([]).code_for_node(expr), {"__builtins__": {}}, dict(batch)))


#: the replaying function of each step function, dropped with it: an ``id`` would be reused by a later
#: script's step once this one is collected, and the stale entry would run the other script's step
_REPLAYED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def replayed(step):
    """``step`` (undecorated: ``jax.jit`` keeps it as ``__wrapped__``) jitted with the recorded draws as an
    argument, made once per step function."""
    import functools

    import jax

    from translator.equivalence.draws import replaying_jax

    known = _REPLAYED.get(step)
    if known is not None:
        return known
    raw = getattr(step, "__wrapped__", step)

    @functools.partial(jax.jit, static_argnums=(2, 3))
    def run(state, draws, kinds, calls, *rest):
        with replaying_jax(draws, kinds, calls):
            return raw(state, *rest)

    _REPLAYED[step] = run
    return run


def learning_rate_at(module, name: str, count: int) -> float | None:
    """The translation's learning rate for update ``count``: its ``learning_rate`` number, or the schedule at it."""
    lr = getattr(module, name, None)
    if lr is None:
        return None
    return float(lr(count)) if callable(lr) else float(lr)


#: float64 on both sides: rounding (~1e-16) amplified by the steps cannot reach this, a semantic difference does
FLOAT64_RTOL = 1e-8


def compare_step(k: int, jax32, jax64, losses: dict, lrs: dict, lr_jax, model32, model64) -> StepErrors:
    """Step ``k`` judged twice: JAX float32 against PyTorch float32 (the ``check`` policy, PyTorch's float64
    run as the floor) and JAX float64 against PyTorch float64 (``FLOAT64_RTOL``). A quantity diverges when
    both disagree: float32 rounding amplified by the optimiser (Adam divides by sqrt(v) + eps: near-zero
    gradients move by up to lr) explains a float32-only difference, and a translation pinned to float32
    somewhere a float64-only one; a semantic difference shows in both."""
    from translator.weights.plan import flatten_variables
    from translator.weights.port import port_state_dict

    def ported(model) -> dict[str, np.ndarray]:
        state_dict = {name: value.detach().cpu().double().numpy() if value.is_floating_point() else value.detach().cpu().numpy()
                      for name, value in model.state_dict().items()}
        return flatten_variables(port_state_dict(model, state_dict)[1])

    def variables(state) -> dict[str, np.ndarray]:
        stats = getattr(state, "batch_stats", None)
        return flatten_variables({"params": state.params, **({"batch_stats": stats} if stats is not None else {})})

    reference, exact = ported(model32), ported(model64)
    (state32, loss32), (state64, loss64) = jax32, jax64
    side32, side64 = variables(state32), variables(state64)
    tolerance32 = Tolerance(rtol=LAYER_RTOL["float32"] * (k + 1), atol=1e-7)
    tolerance64 = Tolerance(rtol=FLOAT64_RTOL * (k + 1), atol=1e-12)
    errors: dict[str, float] = {}
    errors64: dict[str, float] = {}
    failing: list[str] = []

    def judge(quantity: str, actual32, actual64, expected32, expected64) -> None:
        error32 = error_of(actual32, expected32, floor_reference=expected64, tolerance=tolerance32)
        error64 = error_of(actual64, expected64, tolerance=tolerance64)
        errors[quantity] = max(errors.get(quantity, 0.0), error32.max_rel)
        errors64[quantity] = max(errors64.get(quantity, 0.0), error64.max_rel)
        if not error32.within(tolerance32) and not error64.within(tolerance64) and quantity not in failing:
            failing.append(quantity)

    judge("loss", np.array([loss32]), np.array([loss64]), np.array([losses["torch"]]), np.array([losses["torch64"]]))
    if lr_jax is not None:
        judge("lr", np.array([lr_jax]), np.array([lr_jax]), np.array([lrs["torch"]]), np.array([lrs["torch64"]]))
    for key, value in reference.items():
        quantity = "state" if key.startswith("batch_stats") else "params"
        if key not in side32 or key not in side64:
            failing.append(f"{quantity} ({key} missing in the translation)")
            continue
        judge(quantity, np.asarray(side32[key]), np.asarray(side64[key]), value, exact.get(key))
    return StepErrors(k, losses["torch"], loss32, lrs["torch"], lr_jax, errors, failing, errors64)


def print_train_table(report: TrainCheckReport, console) -> None:
    """The step-by-step comparison as a rich table, then the verdict."""
    from rich.table import Table

    if report.failure is not None and not report.per_step:
        console.print(f"FAIL: {report.failure}", markup=False, style="red")
        return
    table = Table(title=f"{Path(report.script).name}: {len(report.per_step)} step(s), {report.data} data")
    for column in ("step", "loss (PyTorch)", "loss (JAX)", "lr", "rel err loss f32/f64", "params f32/f64", "state f32/f64", "pass"):
        table.add_column(column, justify="right")

    def pair(step: StepErrors, quantity: str) -> str:
        if quantity not in step.errors:
            return "-"
        return f"{step.errors[quantity]:.1e} / {step.errors64.get(quantity, 0):.1e}"

    for step in report.per_step:
        table.add_row(
            str(step.step), f"{step.loss_torch:.6g}", f"{step.loss_jax:.6g}", f"{step.lr_torch:.3g}",
            pair(step, "loss"), pair(step, "params"), pair(step, "state"),
            "[green]yes[/green]" if not step.failing else f"[red]NO: {', '.join(step.failing)}[/red]",
        )
    console.print(table)
    for diagnostic in report.diagnostics:
        console.print(f"not translated (outside the compared step): {diagnostic}", style="yellow", markup=False)
    divergence = report.first_divergence
    if report.ok:
        console.print(f"PASS: {len(report.per_step)} steps: the loss, the learning rate, every parameter and batch "
                      f"statistic agree (float32: rtol {report.rtol:g} per step over PyTorch's own float32 error; "
                      f"float64: rtol {FLOAT64_RTOL:g} per step)", style="green", markup=False)
    elif divergence is not None:
        console.print(f"FAIL: first divergence at step {divergence['step']}: {divergence['quantity']}", style="red", markup=False)
    else:
        console.print(f"FAIL: {report.failure}", style="red", markup=False)
