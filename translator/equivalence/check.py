"""``check``: translate (or load) a model, port its weights, and let Hypothesis look for a difference.

Three stages, each run only if the ones before it passed (``stages=`` / ``--stages``):

* ``spec``: the translation initialises, and every ported variable exists in it with PyTorch's shape;
* ``numeric``: outputs and gradients over Hypothesis examples (``B`` dimensions drawn, one compile
  per distinct input shape: the jitted function is cached by shape);
* ``behavioral``: a few SGD steps in both frameworks, then every parameter (and running statistic)
  compared; with ``--train`` and dropout, the statistical dropout check (``behavioral.py``).

The report carries the worst error over all examples for each quantity, the
tolerance, and -- on a numeric failure -- the example Hypothesis shrank to and a
command line that reproduces it (``--replay RECIPE``: the example rebuilt from the
numbers it was drawn from, ``strategies.Recipe``).
"""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, given, reporting, settings
from hypothesis import seed as hypothesis_seed

from translator.diagnostics import Diagnostic, TranslationFailed, UsageError
from translator.equivalence.behavioral import (
    DEFAULT_STEPS,
    LEARNING_RATE,
    BehavioralResult,
    run_behavioral,
)
from translator.equivalence.compiles import CompileCounter
from translator.equivalence.device import on_device, torch_device
from translator.equivalence.localise import Divergence, localise
from translator.equivalence.pair import ModelPair, SpecMismatch, restore_buffers, saved_buffers
from translator.equivalence.specs import (
    BATCH_RANGE,
    TRAIN_BATCH_RANGE,
    InputSpec,
    example_tensors,
    resolve_all,
)
from translator.equivalence.state import load_into
from translator.equivalence.strategies import Recipe, recipes
from translator.equivalence.tolerance import FLOOR_CAP, Error, Tolerance, worst
from translator.loading import class_from, import_source, instantiate, module_from_code
from translator.weights.plan import plan_port

QUANTITIES = ("output", "grad_input", "grad_params")
STAGES = ("spec", "numeric", "behavioral")
#: the Python API's default, as the command line's: all three (a buffer only a training step shows, an
#: EMA the forward pass updates, is caught by the behavioral stage)
API_STAGES = STAGES


def parse_stages(stages) -> tuple[str, ...]:
    """``"spec,numeric"`` or an iterable of names -> the stages in pipeline order."""
    names = [n.strip() for n in (stages.split(",") if isinstance(stages, str) else stages) if n.strip()]
    unknown = [n for n in names if n not in STAGES]
    if unknown or not names:
        raise UsageError(f"--stages {','.join(names)!r}: a comma-separated subset of {','.join(STAGES)}")
    return tuple(n for n in STAGES if n in names)


@dataclass
class StageResult:
    """One stage's verdict: ``status`` is passed, failed, skipped (an earlier stage failed) or not requested."""

    name: str
    status: str = "not requested"
    failure: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool | None:
        return {"passed": True, "failed": False}.get(self.status)


@dataclass
class CheckReport:
    """What ``check`` found: per-quantity worst errors over all examples, and the verdict."""

    class_name: str
    examples: int
    seed: int
    tolerance: Tolerance
    errors: dict[str, Error] = field(default_factory=lambda: {q: Error() for q in (*QUANTITIES, "state")})
    worst_parameter: str | None = None
    failure: str | None = None
    train: bool = False
    divergence: Divergence | None = None
    stage: str = "numeric"
    diagnostics: tuple[Diagnostic, ...] = ()
    #: per-stage verdicts (``stage`` above is the failing stage, or the last one run)
    stages: dict[str, StageResult] = field(default_factory=lambda: {n: StageResult(n) for n in STAGES})
    behavioral: BehavioralResult | None = None
    #: on a numeric failure: the shrunk example (``Recipe``) and the command line that replays it
    recipe: str | None = None
    reproduce: str | None = None
    batch_sizes: set = field(default_factory=set)
    device: str = "cpu"
    #: XLA compilations during the whole check: total, and of the check's own jitted gradient function
    compiles: int = 0
    grad_compiles: int = 0
    compile_seconds: float = 0.0
    seconds: float = 0.0
    #: what the numeric stage compared, what exists but could not be (a failure), what the port leaves out
    compared: set = field(default_factory=set)
    uncompared: set = field(default_factory=set)
    not_ported: set = field(default_factory=set)
    #: random draws PyTorch made per example, replayed to the translation (the largest count seen)
    draws: int = 0
    #: some example drew randomness ``draws.py`` does not record: the numeric stage cannot decide
    unrecorded: bool = False
    #: where the state came from: "trained-like" (drawn per example) or the checkpoint's path
    state: str = "trained-like"
    #: max-pool windows with near ties (PyTorch name -> windows), where an example was outside its bound
    near_ties: dict = field(default_factory=dict)
    #: the source could not be translated as written: the built model was, these methods traced
    traced: list = field(default_factory=list)

    @property
    def quantities(self) -> tuple[str, ...]:
        return (*QUANTITIES, "state")

    @property
    def ok(self) -> bool:
        return (
            self.failure is None
            and all(e.within(self.tolerance) for e in self.errors.values())
            and not any(r.status in ("failed", "inconclusive") for r in self.stages.values())
        )

    @property
    def verdict(self) -> str:
        """``pass``, ``fail``, or ``inconclusive`` (nothing failed, but float32 itself cannot decide)."""
        if self.ok:
            return "pass"
        if any(r.status == "failed" for r in self.stages.values()):
            return "fail"
        return "inconclusive" if any(r.status == "inconclusive" for r in self.stages.values()) else "fail"

    @property
    def numeric_ok(self) -> bool:
        return all(self.errors[q].within(self.tolerance) for q in self.quantities) and not self.uncompared

    @property
    def numeric_inconclusive(self) -> bool:
        errors = [self.errors[q] for q in self.quantities]
        return (not self.uncompared and all(e.within(self.tolerance) or e.inconclusive(self.tolerance) for e in errors)
                and any(e.inconclusive(self.tolerance) for e in errors))

    def relaxed_json(self) -> dict:
        """Quantities whose bound the float32 floor relaxed: how many elements, to what relative bound."""
        relaxed = {}
        for quantity in self.quantities:
            error = self.errors[quantity]
            entry = {}
            if error.relaxed:
                entry.update(elements=error.relaxed, to_rel=error.relaxed_to, reason="PyTorch's own float32 error here (its float64 run, or ulp-level nudges of the input)")
            if error.tie_relaxed:
                entry["tie_breaking"] = {"elements": error.tie_relaxed, "windows": sum(self.near_ties.values()),
                                         "where": dict(self.near_ties),
                                         "reason": "near ties in max-type ops: the frameworks' rounding picks different winners"}
            if error.settled:
                entry["float64_settled"] = {
                    "elements": error.settled, "float64_gap": error.float64_gap,
                    "reason": "float32 rounding of an ill-conditioned quantity: within 10x PyTorch's own largest float32 "
                              "error on it, and the translation run in float64 agrees with PyTorch's float64 run"}
            if entry:
                relaxed[quantity] = entry
        return relaxed

    def undecided_json(self) -> dict:
        return {q: {"elements": e.undecided, "max_rel": e.max_rel, "float32_floor": e.floor}
                for q in self.quantities if (e := self.errors[q]).undecided or e.no_finite_reference}

    def compared_json(self) -> dict:
        exists = len(self.compared) + len(self.uncompared)
        return {"quantities": len(self.compared), "of": exists, "uncompared": sorted(self.uncompared),
                "not_ported": sorted(self.not_ported), "draws_replayed": self.draws}

    def record(self, comparison) -> None:
        self.examples += 1
        self.compared.update(comparison.compared)
        self.uncompared.update(comparison.uncompared)
        self.not_ported.update(comparison.not_ported)
        self.draws = max(self.draws, comparison.draws)
        self.unrecorded = self.unrecorded or comparison.unrecorded
        if comparison.near_ties is not None:
            for name, windows in comparison.near_ties.windows.items():
                self.near_ties[name] = max(self.near_ties.get(name, 0), windows)
        for quantity in self.quantities:
            self.errors[quantity] = worst([self.errors[quantity], getattr(comparison, quantity)], self.tolerance)
        if comparison.per_parameter:
            name, _ = max(comparison.per_parameter.items(), key=lambda kv: kv[1].max_rel)
            if self.errors["grad_params"] is comparison.grad_params:
                self.worst_parameter = name

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "class": self.class_name,
            "examples": self.examples,
            "seed": self.seed,
            "stage": self.stage,
            "mode": "train" if self.train else "eval",
            "max_abs_err": {q: self.errors[q].max_abs for q in self.quantities},
            "max_rel_err": {q: self.errors[q].max_rel for q in self.quantities},
            "float32_floor": {q: self.errors[q].floor for q in self.quantities},
            "tolerance": {"rtol": self.tolerance.rtol, "atol": self.tolerance.atol,
                          "norm": "per element |a-b| <= rtol*max|ref| + atol; relaxed to 10x PyTorch's own float32 "
                                  "error at that element, at most 100*rtol*max|ref| (beyond: inconclusive)"},
            "relaxed": self.relaxed_json(),
            "undecided": self.undecided_json(),
            "compared": self.compared_json(),
            "state": self.state,
            "worst_parameter": self.worst_parameter,
            "failure": self.failure,
            "divergence": None if self.divergence is None else {
                "torch_module": self.divergence.torch_module,
                "flax_module": self.divergence.flax_module,
                "rule": self.divergence.rule,
                "explanation": self.divergence.explanation,
                "max_abs_err": self.divergence.error.max_abs,
                "max_rel_err": self.divergence.error.max_rel,
            },
            "reproduce": self.reproduce,
            "device": self.device,
            "compiles": self.compiles,
            "seconds": self.seconds,
            "stages": self.stages_json(),
            "traced": self.traced,
        }

    def stages_json(self) -> dict:
        spec, numeric, behavioral = (self.stages[n] for n in STAGES)
        out = {
            "spec": {"ok": spec.ok, "status": spec.status, "errors": [] if spec.failure is None else spec.failure.splitlines(),
                     "seconds": spec.seconds},
            "numeric": {"ok": numeric.ok, "status": numeric.status, "seconds": numeric.seconds},
            "behavioral": {"ok": behavioral.ok, "status": behavioral.status, "seconds": behavioral.seconds},
        }
        if numeric.status in ("passed", "failed"):
            out["numeric"].update(
                examples=self.examples,
                batch_sizes=sorted(self.batch_sizes),
                max_abs_err={q: self.errors[q].max_abs for q in self.quantities},
                max_rel_err={q: self.errors[q].max_rel for q in self.quantities},
                float32_floor={q: self.errors[q].floor for q in self.quantities},
                tolerance={"rtol": self.tolerance.rtol, "atol": self.tolerance.atol},
                relaxed=self.relaxed_json(),
                compared=self.compared_json(),
                worst_parameter=self.worst_parameter,
                grad_compiles=self.grad_compiles,
                failure=numeric.failure,
                recipe=self.recipe,
                reproduce=self.reproduce,
            )
        if self.behavioral is not None:
            out["behavioral"].update({k: v for k, v in self.behavioral.to_json().items() if k != "ok"})
        return out


#: the docstring line of a translation made from the built model (``translator.instance``)
BUILT_MARK = "Translated from the built `"


def build_pair(
    source: str | os.PathLike,
    class_name: str,
    specs: list[InputSpec],
    kwargs: dict | None = None,
    flax_source: str | os.PathLike | None = None,
    seed: int = 0,
    train: bool = False,
    tolerance: Tolerance | None = None,
    device: str = "cpu",
    weights: str | os.PathLike | None = None,
    build: str | None = None,
) -> tuple[ModelPair, tuple[Diagnostic, ...]]:
    """Both models with ported weights; raises :class:`TranslationFailed` if the translation has errors.

    ``weights`` is the user's checkpoint (anything ``port`` reads): both models hold it, and no
    trained-like state replaces it.  Without it the pair starts from PyTorch's initialisation (seeded
    by ``seed``) and each example gives both a trained-like state (``ModelPair.use_trained_like_state``).
    """
    from translator.instance.translate import build_model, promote_constants, translate_model

    kwargs = kwargs or {}
    torch.manual_seed(seed)
    if build is not None:
        torch_model = build_model(source, None, build=build).float()
        class_name = type(torch_model).__name__
    else:
        torch_cls = class_from(import_source(source, {class_name}), class_name, str(source))
        torch_model = instantiate(torch_cls, kwargs, str(source)).float()
    diagnostics: tuple[Diagnostic, ...] = ()
    traced: list[str] = []
    flax_kwargs = kwargs
    built = False  # the translation is of the built model (translator.instance)
    if flax_source is None:
        chosen = translate_model(source, class_name, torch_model, build=build, inputs=len(specs),
                                 examples=example_tensors(specs))
        translation, diagnostics, traced = chosen.translation, chosen.translation.diagnostics, chosen.traced
        if chosen.built is not None:
            if translation.errors:
                raise TranslationFailed(list(chosen.source_errors) + list(translation.errors))
            promote_constants(torch_model, chosen.built.regenerated.constants)
            flax_kwargs, built = {}, True
        try:
            flax_module = module_from_code(translation.code, f"{Path(source).stem}_flax")
        except (UsageError, Exception):
            if not translation.errors:
                raise
            if chosen.built is not None:
                raise TranslationFailed(list(translation.errors)) from None
            # untranslated code elsewhere in the file runs at import (defaults, decorators, module-level
            # names): the built model's translation holds only what this class uses
            chosen = translate_built_instead(source, torch_model, translation, specs)
            translation, traced = chosen.translation, chosen.traced
            diagnostics = translation.diagnostics
            promote_constants(torch_model, chosen.built.regenerated.constants)
            flax_kwargs, built = {}, True
            flax_module = module_from_code(translation.code, f"{Path(source).stem}_flax")
    else:
        flax_module = import_source(flax_source)
        if BUILT_MARK in Path(flax_source).read_text():  # a translation of the built model: its constants too
            from translator.instance.regenerate import regenerate

            promote_constants(torch_model, regenerate(torch_model, len(specs)).constants)
            flax_kwargs, built = {}, True
    flax_cls = class_from(flax_module, class_name, str(flax_source or "the translation"))
    flax_model = instantiate(flax_cls, flax_kwargs, str(flax_source or "the translation"))
    plan = plan_port(torch_model, built, constant_buffers=None if flax_source is not None else translation.constant_buffers)
    if weights is not None:
        state = checkpoint_state(weights, plan, torch_model)
        load_into(torch_model, state)
    state = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    variables = plan.to_flax(state)
    pair = ModelPair(torch_model, flax_model, variables, plan, specs, train=train, tolerance=tolerance or Tolerance(),
                     torch_device=torch_device(device), fixed_state=weights is not None)
    pair.traced = traced
    return pair, diagnostics


def translate_built_instead(source, torch_model, translation, specs):
    """The built model's translation, for a class whose source translation is clean in its own lines but
    whose file does not import (``TranslationFailed`` with both translations' errors if it has errors too)."""
    from translator.instance.translate import ModelTranslation, translate_built

    built = translate_built(torch_model, str(source), inputs=len(specs), examples=example_tensors(specs))
    if built.translation.errors:
        raise TranslationFailed(list(translation.errors) + list(built.translation.errors))
    return ModelTranslation(built.translation, built, tuple(translation.errors), torch_model)


def checkpoint_state(path, plan, torch_model) -> dict[str, np.ndarray]:
    """The user's checkpoint as a full state dict of ``torch_model`` (tied names filled in); a checkpoint
    that does not fit raises :class:`~translator.diagnostics.PortError` naming the keys."""
    from translator.weights.checkpoint import open_checkpoint

    source = open_checkpoint(path, expected=set(torch_model.state_dict()))
    shapes = source.shapes()
    plan.validate(shapes)
    state = {}
    tied = dict(plan.tied)
    for key in torch_model.state_dict():
        stored = plan.stored_key(key, shapes)
        if stored is None and key in tied:
            stored = plan.stored_key(tied[key], shapes)
        if stored is not None:  # else a key the port drops (num_batches_tracked): the model's own value
            state[key] = np.asarray(source.get(stored))
    return state


def check(
    source: str | os.PathLike,
    class_name: str,
    specs: list[InputSpec],
    kwargs: dict | None = None,
    flax_source: str | os.PathLike | None = None,
    examples: int = 10,
    seed: int = 0,
    tolerance: Tolerance | None = None,
    train: bool = False,
    stages=API_STAGES,
    steps: int = DEFAULT_STEPS,
    learning_rate: float = LEARNING_RATE,
    device: str = "cpu",
    replay: str | None = None,
    weights: str | os.PathLike | None = None,
    build: str | None = None,
) -> CheckReport:
    """Check a translation: structure, then outputs and gradients over Hypothesis examples, then training.

    ``stages`` is a subset of ``STAGES = ("spec", "numeric", "behavioral")`` (or ``"spec,numeric"``);
    a stage runs only if the ones before it passed, and ``report.stages[name]`` holds each verdict
    (``report.behavioral`` the behavioral figures).  The default here is spec and numeric (the
    command line's is all three): pass ``stages=STAGES`` for the behavioral stage.
    ``train=True`` runs both models in training mode (batch statistics, and the
    updated running statistics compared as ``state``) with dropout disabled on
    both sides, since dropout masks cannot match elementwise (the behavioral stage
    checks dropout statistically instead).  ``device="gpu"`` runs both frameworks on
    CUDA with TF32 off.  ``replay`` runs the one example a failed check printed
    (``report.recipe``) instead of drawing examples.  ``weights`` checks with the user's checkpoint
    instead of a trained-like state drawn per example.  ``build`` is a Python expression that builds
    the model in the source file's namespace (``LoRALinear(nn.Linear(16, 8), rank=4)``); the
    translation then comes from the built model (``report.traced`` names the traced methods, as it
    does whenever the source cannot be translated as written).

    Random draws (samplers, dropout masks, attention dropout) are recorded in the PyTorch run and
    replayed to the translation (``draws.py``), in both modes.  ``report.verdict`` is ``pass``,
    ``fail`` or ``inconclusive`` (float32 itself cannot decide: never a pass).
    """
    if not specs:
        raise UsageError("check needs at least one --input SPEC, e.g. --input 'float32[4,1,28,28]'")
    if examples < 1:
        raise UsageError("--examples must be at least 1")
    if steps < 1:
        raise UsageError("--steps must be at least 1")
    stages = parse_stages(stages)
    recipe = Recipe.parse(replay, len(specs)) if replay is not None else None
    tolerance = tolerance or Tolerance()
    report = CheckReport(class_name, 0, seed, tolerance, train=train, device=device)
    if weights is not None:
        report.state = str(weights)
    started = time.perf_counter()
    with on_device(device), eager_pytorch(), CompileCounter() as compiles:
        try:
            run_stages(report, stages, recipe, source, class_name, specs, kwargs, flax_source, examples, seed,
                       tolerance, train, steps, learning_rate, device, weights, build)
        finally:
            report.compiles = compiles.total
            report.compile_seconds = compiles.seconds
            report.grad_compiles = sum(n for name, n in compiles.by_function.items() if "loss" in name)
            report.seconds = time.perf_counter() - started
    if report.stages["numeric"].status == "failed" and report.recipe is not None:
        report.reproduce = reproduce_command(source, class_name, specs, kwargs, flax_source, tolerance, train, device, report.recipe)
    return report


def eager_pytorch():
    """The reference is PyTorch's eager run: a ``@torch.compile``'d forward runs as written inside this context
    (its compiled form may round differently, its tensors would meet the checker's recorders inside dynamo, and
    compiling needs a C++ toolchain); the translation drops the decorator (rule S018)."""
    import torch._dynamo

    return torch._dynamo.config.patch(disable=True)


def run_stages(report, stages, recipe, source, class_name, specs, kwargs, flax_source, examples, seed,
               tolerance, train, steps, learning_rate, device, weights=None, build=None) -> None:
    for name in STAGES:
        if name in stages:
            report.stages[name].status = "pending"
    clock = time.perf_counter()
    spec_stage = report.stages["spec"]
    pair, report.diagnostics = build_pair(source, class_name, specs, kwargs, flax_source, seed, train=train,
                                          tolerance=tolerance, device=device, weights=weights, build=build)
    report.traced = pair.traced
    if build is not None:
        report.class_name = type(pair.torch_model).__name__
    if "spec" in stages:
        first = tuple(np.zeros(s.shape, dtype=np.float32 if s.is_float else s.dtype) for s in resolve_all(specs))
        try:
            pair.check_structure(first)
            spec_stage.status = "passed"
        except SpecMismatch as error:
            report.stage, report.failure = "spec", str(error)
            spec_stage.status, spec_stage.failure = "failed", str(error)
        spec_stage.seconds = time.perf_counter() - clock
        report.stage = "spec"
    for name, run in (("numeric", lambda: run_numeric(pair, specs, report, examples, seed, recipe)),
                      ("behavioral", lambda: run_behavioral_stage(pair, specs, report, seed, steps, learning_rate, tolerance))):
        if name not in stages:
            continue
        stage = report.stages[name]
        if any(r.status in ("failed", "skipped", "inconclusive") for r in report.stages.values()):
            stage.status = "skipped"
            continue
        clock = time.perf_counter()
        report.stage = name
        run()
        stage.seconds = time.perf_counter() - clock


def run_numeric(pair, specs, report, examples, seed, recipe) -> None:
    stage = report.stages["numeric"]
    if recipe is not None:
        replay_example(pair, specs, report, recipe)
    else:
        run_examples(pair, specs, report, examples, seed)
    if report.stage == "spec":  # a structural difference only visible on real outputs
        stage.status, stage.failure = "failed", report.failure
        report.stages["spec"].status, report.stages["spec"].failure = "failed", report.failure
        return
    if report.failure is None and report.uncompared:
        report.failure = "not compared: " + "; ".join(sorted(report.uncompared))
    if report.unrecorded:  # two different random experiments were compared: nothing can be concluded
        stage.status = "inconclusive"
        report.failure = ("inconclusive: PyTorch drew random numbers that check does not record (PyTorch's global "
                          "generator moved during the forward pass: a sampler bound before the check patched it, "
                          "`exponential_`, `F.rrelu`, ...), so the translation cannot be given the same draws"
                          + (f"; the comparison said: {report.failure}" if report.failure else ""))
    elif report.failure is None and report.numeric_ok:
        stage.status = "passed"
    elif report.failure is None and report.numeric_inconclusive:
        stage.status = "inconclusive"
        report.failure = inconclusive_reason(report)
    else:
        stage.status = "failed"
    stage.failure = report.failure


def inconclusive_reason(report) -> str:
    """Why float32 cannot decide: the quantities, their undecided elements, PyTorch's own float32 error."""
    parts = []
    for quantity, figures in report.undecided_json().items():
        error = report.errors[quantity]
        if error.no_finite_reference:
            parts.append(f"{quantity}: PyTorch's values are all NaN/inf, nothing to compare")
        else:
            parts.append(f"{quantity}: {figures['elements']} element(s) differ by up to {error.max_rel:.3g} rel where "
                         f"PyTorch's own float32 run is {error.floor / error.scale if error.scale else 0:.3g} rel off its "
                         f"float64 run (past the cap {FLOOR_CAP:g} x rtol)")
    return ("inconclusive: float32 cannot decide this example (ill-conditioned, near ties, or randomness that "
            "could not be matched): " + "; ".join(parts))


def run_behavioral_stage(pair, specs, report, seed, steps, learning_rate, tolerance) -> None:
    stage = report.stages["behavioral"]
    report.behavioral = result = run_behavioral(pair, specs, seed, steps, learning_rate, tolerance)
    stage.status = "passed" if result.ok else "failed"
    stage.failure = result.failure
    if not result.ok:
        report.failure = result.failure


def reproduce_command(source, class_name, specs, kwargs, flax_source, tolerance, train, device, recipe: str) -> str:
    """The ``torch2flax check`` command line that replays one example (the numeric stage only)."""
    argv = ["torch2flax", "check", str(source), "--class", class_name]
    if kwargs:
        text = json.dumps(kwargs) if _json_roundtrips(kwargs) else repr(kwargs)
        argv += ["--kwargs", text]
    for spec in specs:
        argv += ["--input", str(spec)]
    if flax_source is not None:
        argv += ["--flax", str(flax_source)]
    if tolerance.rtol != Tolerance().rtol:
        argv += ["--rtol", repr(tolerance.rtol)]
    if train:
        argv.append("--train")
    if device != "cpu":
        argv += ["--device", device]
    argv += ["--stages", "spec,numeric", "--replay", recipe]
    return shlex.join(argv)


def _json_roundtrips(kwargs: dict) -> bool:
    try:
        return json.loads(json.dumps(kwargs)) == kwargs
    except (TypeError, ValueError):
        return False


def numeric_failures(comparison, tolerance, strict: bool = False) -> list[str]:
    """The quantities outside tolerance; ``strict``: only those that fail (not merely inconclusive)."""
    return [q for q in (*QUANTITIES, "state")
            if not (e := getattr(comparison, q)).within(tolerance) and not (strict and e.inconclusive(tolerance))]


def replay_example(pair: ModelPair, specs: list[InputSpec], report: CheckReport, recipe: Recipe) -> None:
    """``--replay``: the one example a failed check printed, compared and (on failure) localised."""
    inputs = recipe.arrays(specs)
    report.batch_sizes.add(recipe.batch)
    try:
        comparison = pair.compare_in_mode(inputs, recipe.cotangent_seed, recipe.state_seed)
    except SpecMismatch as error:
        report.stage, report.failure = "spec", str(error)
        return
    except Exception as error:
        report.failure, report.recipe = f"{type(error).__name__}: {error}", str(recipe)
        return
    report.record(comparison)
    failing = numeric_failures(comparison, report.tolerance, strict=True)
    if failing:
        details = ", ".join(f"{q} {getattr(comparison, q).max_rel:.3g} rel" for q in failing)
        report.failure = f"outside tolerance: {details}\nexample: {recipe}"
        report.recipe = str(recipe)
        report.divergence = locate_divergence(pair, inputs, report.tolerance)
    elif numeric_failures(comparison, report.tolerance):
        report.recipe = str(recipe)


def run_examples(pair: ModelPair, specs: list[InputSpec], report: CheckReport, examples: int, seed: int) -> None:
    """Let Hypothesis draw inputs; on a difference, keep the shrunk example in the report."""
    messages: list[str] = []
    current: list = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink),
        print_blob=False,
        report_multiple_bugs=False,
    )
    @hypothesis_seed(seed)
    # No mean offset in train mode: with batch statistics, the gradient of any layer feeding a batch
    # norm is a sum that cancels to ~0, and both frameworks lose ~(offset/spread)*eps of it (measured
    # 7e-4 relative at offset 100x in both): that is float32's floor there, not a translation error.
    # The jitted Flax function is cached by input shape, so each distinct batch size compiles once.
    @given(recipe=recipes(specs, offset=not pair.train, batch_range=TRAIN_BATCH_RANGE if pair.train else BATCH_RANGE))
    def equivalent(recipe):
        current[:] = [recipe]  # Hypothesis replays the shrunk example last: this is it on failure
        report.batch_sizes.add(recipe.batch)
        comparison = pair.compare_in_mode(recipe.arrays(specs), recipe.cotangent_seed, recipe.state_seed)
        report.record(comparison)
        failing = numeric_failures(comparison, report.tolerance, strict=True)
        if failing:
            details = ", ".join(f"{q} {getattr(comparison, q).max_rel:.3g} rel" for q in failing)
            raise AssertionError(f"outside tolerance: {details}")

    with reporting.with_reporter(messages.append):
        try:
            equivalent()
        except SpecMismatch as error:
            report.stage, report.failure = "spec", str(error)
        except AssertionError as error:
            report.recipe = str(current[0]) if current else None
            report.failure = f"{error}\nexample: {report.recipe}".strip()
            if current:
                report.divergence = locate_divergence(pair, current[0].arrays(specs), report.tolerance)
        except Exception as error:  # an exception inside either model is a finding, not a crash
            report.failure = f"{type(error).__name__}: {error}"
            report.recipe = str(current[0]) if current else None


def locate_divergence(pair: ModelPair, inputs, tolerance: Tolerance):
    """Run the localisation on a failing input (PyTorch's buffers restored afterwards)."""
    saved = saved_buffers(pair.torch_model)
    try:
        return localise(pair, inputs, tolerance)
    except Exception:  # localisation is a diagnosis aid; its failure must not hide the finding
        return None
    finally:
        restore_buffers(pair.torch_model, saved)
