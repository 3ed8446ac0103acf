"""A PyTorch training script's module-level code -> a JAX training script (rule S020).

The script keeps its shape: the same names, the same loops, the same prints. What changes
is where state lives. PyTorch mutates the model and optimiser in place
(``zero_grad(); loss.backward(); optimizer.step()``); the translation threads a
``TrainState`` (parameters, optimiser state, batch statistics) through a pure, jitted
``train_step(state, batch) -> (state, loss, ...)`` built from the statements the loss
depends on. Evaluation calls become a jitted ``eval_step``; ``model.train()/eval()``
become the ``train`` flag of each call; device moves disappear.

The emitted module has a contract ``check-train`` relies on (and a hand-edited translation
must keep): module-level ``model``, ``optimizer``, ``learning_rate`` (a float or an optax
schedule of the update count), ``create_train_state(rng, *model_inputs)`` and
``train_step(state, *step_inputs)`` returning the new state then the loss; the loops run
in ``main()``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from translator.diagnostics import Severity
from translator.naming import library_name
from translator.rewrite.body import BodyTranslator
from translator.rewrite.context import FileContext, code_of, parse_expr
from translator.rewrite.model import FileInfo
from translator.rules.base import Emitted
from translator.training.plan import (
    SEEDS,
    StepRegion,
    TrainingPlan,
    assigned_names,
    is_main_guard,
    method_call,
    other_trained_models,
    read_names,
    read_training_plan,
    strip_device_moves,
    walk_statements,
    without_main_guard,
)

SCRIPT = "S020"
#: a construct of a training script that is not translated (reported at its line)
SCRIPT_UNSUPPORTED = "S021"
HOST_METHODS = ("item", "tolist")
DROPPED_METHODS = ("zero_grad", "train", "eval", "to", "cuda", "cpu")
SAVE = ("torch.save",)
SYNTHETIC_BATCHES = 10
SYNTHETIC_SUPPORT = '''def synthetic_batches(key, arrays, count):
    """Stand-in data for a placeholder loader (rule S020): ``count`` batches, each a tuple with one array per
    (shape, dtype, integer range or None) -- normal floats, uniform integers."""
    batches = []
    for index in range(count):
        keys = jax.random.split(jax.random.fold_in(key, index), len(arrays))
        batch = []
        for k, (shape, dtype, bounds) in zip(keys, arrays):
            if bounds is None:
                batch.append(np.asarray(jax.random.normal(k, shape, dtype)))
            else:
                batch.append(np.asarray(jax.random.randint(k, shape, bounds[0], bounds[1], dtype)))
        batches.append(tuple(batch))
    return batches
'''

DATASETS = ("torch.utils.data.TensorDataset", "torch.utils.data.dataset.TensorDataset")
LOADERS = ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader")
ARRAY_DATA_SUPPORT = '''class ArrayDataset:
    """TensorDataset as arrays (rule S020): item i is the tuple of every array's row i."""

    def __init__(self, *arrays):
        self.arrays = tuple(np.asarray(a) for a in arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


class ArrayLoader:
    """DataLoader over an ArrayDataset (rule S020): numpy batches, reshuffled every epoch from ``key``."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, key=None):
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.key, self.epoch = key, 0

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = np.arange(n)
        if self.shuffle:
            order = np.asarray(jax.random.permutation(jax.random.fold_in(self.key, self.epoch), n))
        self.epoch += 1
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            if self.drop_last and len(index) < self.batch_size:
                break
            yield self.dataset[index]
'''



@dataclass(frozen=True)
class ModelFacts:
    """What the emitted step must pass to one model's ``apply``."""

    class_name: str
    takes_train: bool
    batch_stats: bool
    dropout: bool
    noise: bool
    has_state: bool


def translate_script(statements: Sequence[cst.BaseStatement], file: FileContext, info: FileInfo,
                     class_code: dict[str, str]) -> list[cst.BaseStatement] | None:
    """The JAX statements for a training script's module-level ``statements``, or None when they hold
    no optimisation step (the caller then leaves them out, rule S010)."""
    statements = without_main_guard(statements)
    plan = read_training_plan(statements, file, info)
    if not plan.trains:
        return None
    return ScriptEmitter(plan, file, info, class_code, list(statements)).emit()


def model_facts(class_name: str, info: FileInfo, class_code: dict[str, str]) -> ModelFacts:
    """Read from the translated classes (the model's and those it uses) which collections and RNG
    streams its ``apply`` needs."""
    seen, todo, text = set(), [class_name], ""
    while todo:
        name = todo.pop()
        if name in seen or name not in class_code:
            continue
        seen.add(name)
        text += class_code[name]
        todo.extend(other for other in class_code if other not in seen and other in class_code[name])
    cls = info.classes[class_name]
    return ModelFacts(
        class_name=class_name,
        takes_train=cls.needs_train,
        batch_stats="BatchNorm" in text or "batch_stats" in text,
        dropout="Dropout(" in text or "torch_dropout(" in text,
        noise="make_rng('noise')" in text or 'make_rng("noise")' in text,
        has_state=bool(cls.layers or cls.tensors or cls.submodules or cls.containers),
    )


@dataclass(frozen=True)
class StepNames:
    """What the translation calls one trained model's state, step, initialiser, optimiser and learning rate:
    ``state``/``train_step``/``create_train_state``/``optimizer``/``learning_rate`` when the script trains one
    model (the contract ``check-train`` reads), suffixed with the model's name when it trains several (a GAN)."""

    state: str
    step: str
    create: str
    optimizer: str
    learning_rate: str

    @classmethod
    def of(cls, model: str, several: bool) -> StepNames:
        if not several:
            return cls("state", "train_step", "create_train_state", "optimizer", "learning_rate")
        return cls(f"state_{model}", f"train_step_{model}", f"create_train_state_{model}", f"optimizer_{model}",
                   f"learning_rate_{model}")


@dataclass
class ScriptEmitter:
    plan: TrainingPlan
    file: FileContext
    info: FileInfo
    class_code: dict[str, str]
    statements: list[cst.BaseStatement]
    facts: dict[str, ModelFacts] = field(default_factory=dict)
    modes: dict[int, set[bool]] = field(default_factory=dict)
    definitions: list[str] = field(default_factory=list)
    eval_steps: dict[tuple[str, bool], str] = field(default_factory=dict)
    state_of: dict[str, str] = field(default_factory=dict)  # model variable -> its TrainState variable
    host: BodyTranslator | None = None
    draws: int = 0
    #: optimisers whose learning rate is an optax schedule (a function of the update count), not a number
    scheduled_optimizers: set[str] = field(default_factory=set)
    #: the loops around the host statement being translated (innermost last)
    loops: list = field(default_factory=list)
    #: each trained model's names in the translation, and which model each step trains
    names: dict[str, StepNames] = field(default_factory=dict)
    region_model: dict[int, str] = field(default_factory=dict)
    several: bool = False
    #: models whose state cannot be created before the loop: created at their first step instead
    lazy_states: set[str] = field(default_factory=set)
    #: id of each step -> the other trained models its loss calls (their states are arguments)
    step_others: dict[int, list] = field(default_factory=dict)
    created_lazily: set[str] = field(default_factory=set)

    def next_key(self) -> str:
        """The key of the script's next random draw: its ``key`` folded with the draw's number, and with the
        counters of the loops around it (a draw in a loop is a new draw on every pass, as in PyTorch)."""
        self.draws += 1
        key = f"jax.random.fold_in(key, {self.draws - 1})"
        for loop in self.loops:
            counter = loop_counter(loop)
            if counter is None:
                self.file.report(SCRIPT_UNSUPPORTED, "a random draw inside a loop without a counter (`for i in range(...)` "
                                 "or `enumerate(...)`): split the key on every pass (`key, sub = jax.random.split(key)`)", loop)
                continue
            key = f"jax.random.fold_in({key}, {counter})"
        return key

    # ------------------------------------------------------------------ the whole script
    def emit(self) -> list[cst.BaseStatement]:
        self.facts = {name: model_facts(cls, self.info, self.class_code) for name, cls in self.plan.models.items()}
        self.modes = call_modes(self.statements, self.plan)
        self.host = BodyTranslator(self.file, self.info, None, intercept=self.host_call, random_key=self.next_key)
        regions: list[tuple[StepRegion, str]] = []
        for region in self.plan.steps:
            model = self.trained_model(region)
            if model is None:
                return []
            if any(model == other for _, other in regions):
                self.file.report(SCRIPT_UNSUPPORTED, f"a second optimisation step of `{model}` in one pass: not translated yet",
                                 region.step)
                continue
            regions.append((region, model))
        several = len(regions) > 1
        for region, model in regions:
            self.names[model] = StepNames.of(model, several)
            self.state_of[model] = self.names[model].state
            self.region_model[id(region)] = model
        self.several = several
        split = first_running_statement(self.statements, self.plan)
        module_level, running = self.statements[:split], self.statements[split:]
        out: list[cst.BaseStatement] = []
        for statement in module_level:
            out.extend(self.host_statement(statement))
        for region, model in regions:
            out.extend(self.optimizer_statements(region, model))
        if self.draws and self.plan.seed is None:
            out.insert(0, cst.parse_statement("key = jax.random.key(0)  # PyTorch's global RNG: JAX keys are explicit values"))
        step_codes = [(region, self.train_step(region, model)) for region, model in regions]
        main_body: list[cst.BaseStatement] = [s for region, model in regions for s in self.state_creation(region, model)]
        for statement in running:
            main_body.extend(self.host_statement(statement))
        definitions = [*self.train_state_class([model for _, model in regions]),
                       *(s for region, model in regions for s in parse_statements(self.create_train_state(region, model))),
                       *(self.file.mark(s, region.backward) for region, code in step_codes for s in parse_statements(code)),
                       *[s for code in self.definitions for s in parse_statements(code)]]
        module_names = {n for st in out for n in assigned_names(st)} | set(self.plan.models) | set(self.plan.criteria)
        rebound = sorted(module_names & {n for st in main_body for n in assigned_names(st)})
        if rebound:  # `best = 0` before the loop, `best = max(best, acc)` in it: still the module's name, as in the script
            main_body.insert(0, cst.SimpleStatementLine([cst.Global([cst.NameItem(cst.Name(n)) for n in rebound])]))
        main = cst.FunctionDef(
            name=cst.Name("main"),
            params=cst.Parameters(),
            body=cst.IndentedBlock(body=main_body or [cst.SimpleStatementLine([cst.Pass()])]),
            leading_lines=[cst.EmptyLine(), cst.EmptyLine()],
        )
        guard = cst.parse_statement('if __name__ == "__main__":\n    main()\n')
        header = cst.EmptyLine(comment=cst.Comment(
            f"# {SCRIPT}: the training script, in JAX: a TrainState threaded through a jitted train_step "
            "(`torch2flax rules S020`)"))
        first, *rest = [*out, *definitions, main, guard]
        return [first.with_changes(leading_lines=[cst.EmptyLine(), header, *first.leading_lines]), *rest]

    def trained_model(self, region: StepRegion) -> str | None:
        model = self.plan.optimized_model.get(region.optimizer)
        if model is None:
            self.file.report(SCRIPT_UNSUPPORTED, f"cannot tell which model `{region.optimizer}` optimises (its first "
                             "argument should name `model.parameters()`)", self.plan.optimizers.get(region.optimizer, region.step))
        return model

    # ------------------------------------------------------------------ host code
    def host_block(self, statements: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        out: list[cst.BaseStatement] = []
        for statement in statements:
            out.extend(self.host_statement(statement))
        return out or [cst.SimpleStatementLine([cst.Pass()])]

    def host_statement(self, statement: cst.BaseStatement) -> list[cst.BaseStatement]:
        """One statement of the script outside the jitted step, translated in place."""
        for region in self.plan.steps:
            if id(region) not in self.region_model:
                continue
            if statement is region.step:
                return self.step_call(region)
            clip = isinstance(statement, cst.SimpleStatementLine) and any(
                getattr(small, "value", None) is call for small in statement.body for call in region.clips)
            if (any(statement is s for s in region.forward) or statement is region.backward or clip
                    or statement is region.zero_grad or any(statement is s for s in region.host)):
                return []  # part of a step (its host statements follow the step call)
        if isinstance(statement, cst.SimpleStatementLine):
            return self.host_simple(statement)
        if isinstance(statement, cst.For):
            self.host.bind_target(statement.target, Emitted(statement.target))
            iterable = self.host.plain(statement.iter)
            self.loops.append(statement)
            try:
                body = self.host_block(statement.body.body)
            finally:
                self.loops.pop()
            return [self.annotated(statement, statement.with_changes(iter=iterable, body=statement.body.with_changes(body=body)))]
        if isinstance(statement, cst.While):
            return [self.annotated(statement, statement.with_changes(test=self.host.plain(statement.test),
                                                                     body=statement.body.with_changes(body=self.host_block(statement.body.body))))]
        if isinstance(statement, cst.If):
            if is_main_guard(statement):
                return self.host_block(statement.body.body)
            orelse = statement.orelse
            if isinstance(orelse, cst.Else):
                orelse = orelse.with_changes(body=orelse.body.with_changes(body=self.host_block(orelse.body.body)))
            elif isinstance(orelse, cst.If):
                orelse = self.host_statement(orelse)[0]
            return [self.annotated(statement, statement.with_changes(test=self.host.plain(statement.test),
                                           body=statement.body.with_changes(body=self.host_block(statement.body.body)), orelse=orelse))]
        if isinstance(statement, cst.With) and self.is_no_grad(statement):
            self.file.note(SCRIPT, "`with torch.no_grad():` -> its body: outside jax.grad nothing is differentiated")
            return self.host_block(statement.body.body)
        return self.host.statement(statement)

    def is_no_grad(self, statement: cst.With) -> bool:
        return len(statement.items) == 1 and isinstance(statement.items[0].item, cst.Call) and library_name(
            self.file.resolved, statement.items[0].item.func) in ("torch.no_grad", "torch.inference_mode")

    def annotated(self, original: cst.CSTNode, statement: cst.BaseStatement) -> cst.BaseStatement:
        """``statement`` with the pending notes above it, mapped to the user's ``original`` (explain pages)."""
        notes = [cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in self.file.take_notes()]
        statement = statement.with_changes(leading_lines=[*statement.leading_lines, *notes]) if notes else statement
        return self.file.mark(statement, original)

    def host_simple(self, statement: cst.SimpleStatementLine) -> list[cst.BaseStatement]:
        small = statement.body[0] if len(statement.body) == 1 else None
        if small is not None and m.matches(small, m.Expr(value=m.Call())):
            call = small.value
            qualified = library_name(self.file.resolved, call.func) or ""
            receiver = method_call(statement, call.func.attr.value) if isinstance(call.func, cst.Attribute) else None
            if receiver in self.plan.models and call.func.attr.value in DROPPED_METHODS:
                self.file.note(SCRIPT, "model.train()/eval()/to(device) disappear: the mode is each call's `train` "
                               "flag, and JAX places arrays itself")
                return []
            if receiver in self.plan.optimizers and call.func.attr.value == "zero_grad":
                return []  # jax.grad returns fresh gradients: nothing accumulates
            if receiver in self.plan.schedulers and call.func.attr.value == "step":
                self.file.note(SCRIPT, "scheduler.step() disappears: the optax schedule reads the update count")
                return []
            if qualified in SEEDS:
                self.file.note(SCRIPT, "torch.manual_seed(s) -> jax.random.key(s): JAX has no global RNG state; "
                               "keys are split and passed explicitly")
                return [self.with_notes(statement, cst.parse_statement(f"key = jax.random.key({code_of(call.args[0].value)})"))]
        if small is not None and m.matches(small, m.Assign(targets=[m.AssignTarget(target=m.Name())])):
            name = small.targets[0].target.value
            value = strip_device_moves(small.value)
            if name in self.plan.models and m.matches(value, m.Call(func=m.Name(self.plan.models[name]))):
                return [self.with_notes(statement, statement.with_changes(body=[small.with_changes(value=self.model_construction(value))]))]
            if name in self.plan.models:
                self.file.report(SCRIPT_UNSUPPORTED, f"`{name}` is also bound to something other than a `{self.plan.models[name]}` "
                                 "(a model built from torch layers in the script): define it as an nn.Module class", statement)
                return [statement]
            if name in self.plan.optimizers or name in self.plan.schedulers:
                return []  # emitted together, once the data is defined (optimizer_statements)
            if name in self.plan.devices:
                self.file.note("T011", "devices disappear: JAX places arrays itself (jax.devices() lists them)")
                return []
            if name in self.plan.criteria:
                return [self.with_notes(statement, statement.with_changes(body=[small.with_changes(value=self.criterion(name))]))]
            if name in self.plan.placeholders:
                return [self.with_notes(statement, self.placeholder_loader(name, statement))]
            stripped = strip_device_moves(small.value)
            if stripped is not small.value and isinstance(stripped, cst.Name) and stripped.value == name:
                return []  # `model = model.to(device)`
        return self.host.statement(statement)

    def with_notes(self, original: cst.CSTNode, statement: cst.BaseStatement) -> cst.BaseStatement:
        return self.annotated(original, statement)

    def learning_rate_read(self, node: cst.CSTNode) -> Emitted | None:
        """``optimizer.param_groups[0]["lr"]`` / ``scheduler.get_last_lr()[0]``: the learning rate of the next
        update, read from the translation's ``learning_rate`` (a schedule is a function of the update count)."""
        group = m.Subscript(value=m.Subscript(value=m.Attribute(value=m.Name(), attr=m.Name("param_groups"))),
                            slice=[m.SubscriptElement(slice=m.Index(value=m.SimpleString()))])
        last = m.Subscript(value=m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("get_last_lr"))))
        optimizer = None
        if m.matches(node, group) and m.matches(node.slice[0].slice.value, m.SimpleString('"lr"') | m.SimpleString("'lr'")):
            optimizer = node.value.value.value.value
        elif m.matches(node, last):
            optimizer = self.plan.scheduled.get(node.value.func.value.value)
        model = self.plan.optimized_model.get(optimizer) if optimizer in self.plan.optimizers else None
        if model not in self.names:
            return None
        names = self.names[model]
        scheduled = optimizer in self.scheduled_optimizers
        return Emitted(cst.parse_expression(f"{names.learning_rate}({names.state}.step)" if scheduled else names.learning_rate))

    def host_call(self, body: BodyTranslator, node: cst.Call | cst.Subscript | cst.Attribute) -> Emitted | None:
        """Calls on the host: models run through jitted steps, ``.item()`` is a host read, saving writes bytes."""
        if isinstance(node, cst.Subscript):
            return self.learning_rate_read(node)
        if isinstance(node, cst.Attribute):  # `loader.dataset`: Python objects of the data pipeline keep their attributes
            return Emitted(node) if attribute_root(node) in self.plan.data_objects else None
        func = node.func
        if isinstance(func, cst.Name) and func.value in self.plan.models:
            return Emitted(self.stateless_call(func.value, node, body) or self.eval_call(func.value, node, body))
        root = attribute_root(func.value) if isinstance(func, cst.Attribute) else None
        if root in self.plan.models and isinstance(func.value, cst.Attribute):
            self.file.report(SCRIPT_UNSUPPORTED, f"`{code_of(func.value)}` reads the PyTorch model's own tensor: in JAX the "
                             f"parameters live in the TrainState (`state.params[...]`, Flax names and layouts: "
                             "`torch2flax port` prints the map)", node)
            return Emitted(node)
        if isinstance(func, cst.Attribute) and func.attr.value in HOST_METHODS:
            self.file.note(SCRIPT, "`.item()` on the host reads a device array: a sync point (fine outside jit; "
                           "accumulate arrays and read once per epoch to keep the device busy)")
            return Emitted(node.with_changes(func=func.with_changes(value=body.plain(func.value))))
        if isinstance(func, cst.Attribute) and func.attr.value == "numpy" and not node.args:
            return Emitted(parse_expr("np.asarray({x})", x=body.plain(func.value)))
        if (criterion := self.criterion_call(body, node)) is not None:
            return criterion
        qualified = library_name(self.file.resolved, func) or ""
        if qualified == "torch.cuda.is_available":
            self.file.note(SCRIPT, "torch.cuda.is_available() -> whether JAX sees a GPU (it places arrays there itself)")
            return Emitted(cst.parse_expression('any(d.platform == "gpu" for d in jax.devices())'))
        if qualified in ("builtins.int", "builtins.float", "builtins.bool"):  # on the host an array has a value
            return Emitted(node.with_changes(args=body.plain_args(node)))
        if qualified in DATASETS or qualified in LOADERS:
            return self.data_pipeline(body, node, qualified)
        if qualified in SAVE and len(node.args) >= 2:
            self.file.note(SCRIPT, "torch.save(model.state_dict(), path) -> the parameters serialised with "
                           "flax.serialization (msgpack): `torch2flax export` writes a PyTorch state dict")
            model = next((n.value for n in m.findall(node.args[0].value, m.Name()) if n.value in self.state_of), None)
            if model is None:
                self.file.report(SCRIPT_UNSUPPORTED, "torch.save of something other than a trained model's state dict",
                                 node)
                return Emitted(node)
            state = self.state_of[model]
            collections = '"params": ' + state + ".params" + (
                f', "batch_stats": {state}.batch_stats' if self.facts[model].batch_stats else "")
            return Emitted(parse_expr(f"pathlib.Path({{path}}).write_bytes(serialization.to_bytes({{{collections}}}))",
                                      path=body.plain(node.args[1].value)))
        return None

    def data_pipeline(self, body: BodyTranslator, node: cst.Call, qualified: str) -> Emitted:
        """``TensorDataset(X, y)`` -> ``ArrayDataset(X, y)``; ``DataLoader(ds, batch_size, shuffle, drop_last)`` ->
        ``ArrayLoader(...)``: numpy batches, reshuffled every epoch from the script's key."""
        import inspect

        from torch.utils.data import DataLoader

        from translator.rewrite.context import UnbindableCall, bind_arguments

        self.file.support.setdefault("ArrayDataset", ARRAY_DATA_SUPPORT)
        if qualified in DATASETS:
            self.file.note(SCRIPT, "TensorDataset -> ArrayDataset: the arrays themselves, indexed together")
            return Emitted(node.with_changes(func=cst.Name("ArrayDataset"), args=body.plain_args(node)))
        signature = inspect.signature(DataLoader.__init__)
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
        try:
            bound = bind_arguments(node, signature)
        except UnbindableCall as error:
            self.file.report(SCRIPT_UNSUPPORTED, f"DataLoader arguments cannot be read ({error})", node)
            return Emitted(node)
        ignored = {"num_workers", "pin_memory", "persistent_workers", "prefetch_factor", "pin_memory_device"}
        for name in bound:
            if name not in {"dataset", "batch_size", "shuffle", "drop_last"} | ignored:
                self.file.report(SCRIPT_UNSUPPORTED, f"DataLoader(..., {name}=...) is not translated (ArrayLoader takes "
                                 "dataset, batch_size, shuffle, drop_last)", node)
        self.file.note(SCRIPT, "DataLoader -> ArrayLoader: numpy batches in Python, as JAX input pipelines are "
                       "(workers and pinned memory are PyTorch's concerns)")
        args = [code_of(body.plain(bound["dataset"]))]
        args += [f"{name}={code_of(body.plain(bound[name]))}" for name in ("batch_size", "shuffle", "drop_last") if name in bound]
        if "shuffle" in bound and code_of(bound["shuffle"]) != "False":
            args.append(f"key={self.next_key()}")
        return Emitted(cst.parse_expression(f"ArrayLoader({', '.join(args)})"))

    # ------------------------------------------------------------------ roles
    def model_construction(self, call: cst.Call) -> cst.BaseExpression:
        self.file.note(SCRIPT, "the Flax model is a description: its parameters live in the TrainState, created "
                       "by model.init (create_train_state)")
        return call.with_changes(args=[a.with_changes(value=self.host.plain(a.value)) for a in call.args])

    def criterion(self, name: str) -> cst.BaseExpression:
        from translator.training.losses import translate_loss_module

        call = self.plan.criteria[name]
        translated = translate_loss_module(call, self.file, body=self.host)
        return translated if translated is not None else call

    def placeholder_loader(self, name: str, statement: cst.SimpleStatementLine) -> cst.BaseStatement:
        """``train_loader = ...``: synthetic batches of what the model takes (found by probing it), so the script
        runs; the user puts their data there."""
        from translator.training.shapes import probe_batch

        model = next(iter(self.plan.optimized_model.values()), None)
        criterion = next(iter(self.plan.criteria.values()), None)
        criterion_name = library_name(self.file.resolved, criterion.func) if criterion is not None else None
        probed = probe_batch(self.file.path, self.plan.models[model], self.plan.model_calls[model], criterion_name) if model else None
        if probed is None:
            self.file.report(SCRIPT, f"`{name} = ...` is a placeholder: put real batches there (a numpy iterable of "
                             "(inputs, targets)); `torch2flax check-train --input ... --target ...` supplies synthetic ones",
                             statement, Severity.WARNING)
            return statement
        specs = [spec for spec in probed if spec is not None]
        described = " and ".join(str(spec) for spec in specs)
        self.file.report(SCRIPT, f"`{name} = ...` is a placeholder: {SYNTHETIC_BATCHES} synthetic batches of {described} "
                         "(what the model takes) stand in so the script runs: put your data there", statement, Severity.WARNING)
        self.file.support.setdefault("synthetic_batches", SYNTHETIC_SUPPORT)
        arrays = ", ".join(f"({spec.shape!r}, {str(spec.dtype).replace('int64', 'int32')!r}, "
                           f"{(spec.low, spec.high) if spec.low is not None else None!r})" for spec in specs)
        return cst.parse_statement(f"{name} = synthetic_batches({self.next_key()}, [{arrays}], {SYNTHETIC_BATCHES})  "
                                   "# TODO(torch2flax): S020 your data here")

    def optimizer_statements(self, region: StepRegion, model: str) -> list[cst.BaseStatement]:
        """``learning_rate = ...`` (a float or an optax schedule) and ``optimizer = ...``, emitted once the data
        (a loader's length) is defined."""
        from translator.training.optim import (
            optimizer_base_learning_rate,
            translate_clip,
            translate_optimizer,
            translate_schedule,
        )

        optimizer_call = self.plan.optimizers[region.optimizer]
        lr_arg = optimizer_base_learning_rate(optimizer_call, self.file)  # torch's default written out when not given
        lines: list[cst.BaseStatement] = []
        momentum = None
        base = self.host.plain(lr_arg) if lr_arg is not None else None
        schedulers = [s for s, o in self.plan.scheduled.items() if o == region.optimizer]
        learning_rate: cst.BaseExpression | None = None
        names = self.names[model]
        if base is not None:
            lines.append(cst.parse_statement(f"{names.learning_rate} = {code_of(base)}"))
            learning_rate = cst.Name(names.learning_rate)
        for scheduler in schedulers[:1]:
            period = self.plan.schedule_period.get(scheduler)
            steps_per_epoch = None
            if period == "epoch":
                loader = self.plan.step_loop.iter if self.plan.step_loop is not None else None
                steps_per_epoch = cst.Name("steps_per_epoch")
                if loader is None:
                    self.file.report(SCRIPT_UNSUPPORTED, "a scheduler stepped per epoch, but the step's loop has no loader to "
                                     "count updates per epoch", self.plan.schedulers[scheduler])
                else:
                    lines.append(cst.parse_statement(f"steps_per_epoch = len({code_of(self.host.plain(loader_of(loader)))})"))
            schedule = translate_schedule(self.plan.schedulers[scheduler], self.file, base_learning_rate=base or cst.Float("0.001"),
                                          steps_per_epoch=steps_per_epoch)
            if schedule is not None and schedule.schedule is None:
                self.file.report(SCRIPT_UNSUPPORTED, "a scheduler that is a transformation updated with a metric "
                                 "(ReduceLROnPlateau: optax.contrib.reduce_on_plateau, updated once per scheduler.step(metric)) "
                                 "is not wired into the training step yet", self.plan.schedulers[scheduler])
            if schedule is not None and schedule.momentum is not None:
                momentum = schedule.momentum  # OneCycleLR / CyclicLR cycle the momentum (beta1) too
            if schedule is not None and schedule.schedule is not None:
                self.scheduled_optimizers.add(region.optimizer)
                lines = [line for line in lines if not code_of(line).startswith(f"{names.learning_rate} =")]
                lines.append(cst.parse_statement(f"{names.learning_rate} = {code_of(schedule.schedule)}"))
            if len(schedulers) > 1:
                self.file.report(SCRIPT_UNSUPPORTED, "more than one scheduler on one optimizer", self.plan.schedulers[schedulers[1]])
        clips = [c for c in (translate_clip(call, self.file) for call in region.clips) if c is not None]
        optimizer = translate_optimizer(optimizer_call, self.file, learning_rate=learning_rate, clip=clips, momentum=momentum,
                                        definitions=self.module_definitions())
        expr = optimizer.transform if optimizer is not None else optimizer_call
        lines.append(cst.parse_statement(f"{names.optimizer} = {code_of(expr)}"))
        notes = [cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in self.file.take_notes()]
        if notes and lines:
            lines[0] = lines[0].with_changes(leading_lines=[*notes])
        return lines

    def module_definitions(self) -> dict[str, cst.BaseExpression]:
        """Module-level ``name = value`` of the script (parameter lists, ``no_decay`` names) for the optimizer rules."""
        definitions = {}
        for statement in self.statements:
            if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])):
                definitions[statement.body[0].targets[0].target.value] = statement.body[0].value
        return definitions

    # ------------------------------------------------------------------ the step
    def model_inputs(self, region: StepRegion, model: str) -> list[cst.BaseExpression] | None:
        calls = [c for s in region.forward for c in m.findall(s, m.Call(func=m.Name(model)))]
        if not calls:
            self.file.report(SCRIPT_UNSUPPORTED, f"the loss does not call `{model}`", region.backward)
            return None
        return [a.value for a in calls[0].args if a.keyword is None]

    def create_train_state(self, region: StepRegion, model: str) -> str:
        facts = self.facts[model]
        inputs = self.model_inputs(region, model) or []
        names = [f"x{i}" for i in range(len(inputs))] if not all(isinstance(x, cst.Name) for x in inputs) else [x.value for x in inputs]
        extra = ""
        if facts.batch_stats:
            extra += ', batch_stats=variables["batch_stats"]'
        if facts.dropout or facts.noise:
            extra += ", dropout_key=dropout_key"
        init_rngs = "rng" if not (facts.dropout or facts.noise) else "params_key"
        split = "    params_key, dropout_key = jax.random.split(rng)\n" if facts.dropout or facts.noise else ""
        cls = "TrainState" if self.has_state_class else "train_state.TrainState"
        step_names = self.names[model]
        return (
            f"def {step_names.create}(rng, {', '.join(names)}):\n"
            f'    """The model\'s variables and the optimiser state. Flax initialises parameters its own way:\n'
            f'    to start from PyTorch\'s weights, port them (`torch2flax port`) and pass them as `params`."""\n'
            f"{split}"
            f"    variables = {model}.init({init_rngs}, {', '.join(names)})\n"
            f'    return {cls}.create(apply_fn={model}.apply, params=variables["params"], tx={step_names.optimizer}{extra})\n'
        )

    @property
    def has_state_class(self) -> bool:
        return any(f.batch_stats or f.dropout or f.noise for model, f in self.facts.items() if model in self.names)

    def train_state_class(self, models: list[str]) -> list[cst.BaseStatement]:
        """``TrainState`` with the fields the trained models need (defaults when models differ in them)."""
        facts = [self.facts[model] for model in models]
        default = " = None" if len(models) > 1 else ""
        fields = []
        if any(f.batch_stats for f in facts):
            fields.append(f"    batch_stats: Any{default}  # running statistics, updated by the step (PyTorch mutates buffers)")
        if any(f.dropout or f.noise for f in facts):
            fields.append(f"    dropout_key: jax.Array{default}  # folded with the step count: a fresh dropout mask every step")
        if not fields:
            return []
        return parse_statements("class TrainState(train_state.TrainState):\n" + "\n".join(fields) + "\n")

    def state_creation(self, region: StepRegion, model: str) -> list[cst.BaseStatement]:
        inputs = self.model_inputs(region, model) or []
        loop = self.plan.step_loop
        lines = []
        from_batch = {n.value for n in m.findall(loop_target(loop), m.Name())} if isinstance(loop, cst.For) else set()
        unbound = set().union(*(read_names(x) for x in inputs)) & set(region.inputs) & from_batch if inputs else set()
        if unbound:
            if loop is None or not isinstance(loop, cst.For):
                self.file.report(SCRIPT_UNSUPPORTED, "cannot tell where the model's first inputs come from", region.backward)
            else:
                lines.append(f"{code_of(loop_target(loop))} = next(iter({code_of(self.host.plain(loader_of(loop.iter)))}))"
                             "  # a first batch: the parameter shapes")
        module_level = {n for st in self.statements[:first_running_statement(self.statements, self.plan)]
                        for n in assigned_names(st)}
        samples = []
        for x in inputs:
            names = read_names(x)
            if names <= module_level | from_batch:
                samples.append(x)
            elif isinstance(x, cst.Name) and (source := indexed_source(x.value, region.block)) in module_level:
                samples.append(cst.Name(source))  # `xb = X[idx]`: X has the same trailing shape
            else:  # made in the loop (`z = torch.randn(...)`): the state is created at the first step
                self.lazy_states.add(model)
        names = self.names[model]
        if model in self.lazy_states:
            lines.append(f"{names.state} = None  # created at the first step, from the first batch's shapes")
            return [s for line in lines[-1:] for s in parse_statements(line + "\n")]
        args = ", ".join(code_of(self.host.plain(x)) for x in samples)
        seed = self.plan.seed if self.plan.seed is not None else 0
        lines.append(f"{names.state} = {names.create}(jax.random.key({seed}), {args})")
        return [s for line in lines for s in parse_statements(line + "\n")]

    def forward_translator(self, model: str, facts: ModelFacts, uses: dict, region: StepRegion) -> BodyTranslator:
        def intercept(body: BodyTranslator, node: cst.Call | cst.Subscript) -> Emitted | None:
            if isinstance(node, cst.Subscript) and id(node) in region.hoisted:  # a batch cut on the host
                return Emitted(cst.Name(region.hoisted[id(node)]))
            if isinstance(node, (cst.Subscript, cst.Attribute)):
                return None
            func = node.func
            if isinstance(func, cst.Name) and func.value == model:
                uses["calls"] += 1
                return Emitted(self.apply_call(model, node, body))
            if isinstance(func, cst.Name) and func.value in self.names:  # another trained model: its current state
                return Emitted(self.other_model_call(func.value, node, body))
            if isinstance(func, cst.Name) and func.value in self.plan.models:
                return Emitted(self.stateless_call(func.value, node, body) or self.eval_call(func.value, node, body))
            return self.criterion_call(body, node)

        return BodyTranslator(self.file, self.info, None, intercept=intercept)

    def criterion_call(self, body: BodyTranslator, node: cst.Call) -> Emitted | None:
        """``criterion(outputs, labels)``: the loss module became a pure function of the same arguments."""
        if isinstance(node.func, cst.Name) and node.func.value in self.plan.criteria:
            return Emitted(node.with_changes(args=body.plain_args(node)))
        return None

    def apply_call(self, model: str, node: cst.Call, body: BodyTranslator) -> cst.BaseExpression:
        facts = self.facts[model]
        modes = self.modes.get(id(node), {True})
        train = True in modes
        if len(modes) > 1:
            self.file.report(SCRIPT_UNSUPPORTED, f"`{model}` is in training mode on some passes here and in evaluation "
                             "mode on others (a model.eval() not undone by model.train()): the translation uses training mode",
                             node, Severity.WARNING)
        variables = '{"params": params' + (', "batch_stats": state.batch_stats}' if facts.batch_stats else "}")
        args = [code_of(body.plain(a.value)) if a.keyword is None else f"{a.keyword.value}={code_of(body.plain(a.value))}" for a in node.args]
        if facts.takes_train:
            args.append(f"train={train}")
        if train and (facts.dropout or facts.noise):
            streams = ", ".join(f'"{s}": dropout_key' for s, used in (("dropout", facts.dropout), ("noise", facts.noise)) if used)
            args.append(f"rngs={{{streams}}}")
        if train and facts.batch_stats:
            args.append('mutable=["batch_stats"]')
        return cst.parse_expression(f"state.apply_fn({variables}, {', '.join(args)})")

    def other_model_call(self, other: str, node: cst.Call, body: BodyTranslator) -> cst.BaseExpression:
        """A call, inside one model's loss, of another trained model (a GAN's discriminator in the generator's
        loss): applied with that model's current state, which this step does not update."""
        facts = self.facts[other]
        train = True in self.modes.get(id(node), {True})
        if train and (facts.batch_stats or facts.dropout or facts.noise):
            self.file.report(SCRIPT_UNSUPPORTED, f"`{other}` is called in training mode inside another model's loss: its "
                             "batch statistics / dropout in that step are not translated yet", node)
        state = self.names[other].state
        variables = f'{{"params": {state}.params' + (f', "batch_stats": {state}.batch_stats}}' if facts.batch_stats else "}")
        args = [code_of(body.plain(a.value)) if a.keyword is None else f"{a.keyword.value}={code_of(body.plain(a.value))}" for a in node.args]
        if facts.takes_train:
            args.append(f"train={train}")
        self.file.note(SCRIPT, "another model inside this loss: applied with its current state (gradients reach the "
                       "inputs, and only this step's model is updated, as with PyTorch's separate optimisers)")
        return cst.parse_expression(f"{state}.apply_fn({variables}, {', '.join(args)})")

    def train_step(self, region: StepRegion, model: str) -> str:
        facts = self.facts[model]
        uses = {"calls": 0}
        body = self.forward_translator(model, facts, uses, region)
        lines: list[str] = []
        mutable = facts.batch_stats and any(True in self.modes.get(id(c), {True})
                                            for s in region.forward for c in m.findall(s, m.Call(func=m.Name(model))))
        for statement in region.forward:
            if mutable and m.findall(statement, m.Call(func=m.Name(model))):
                calls = list(m.findall(statement, m.Call(func=m.Name(model))))
                if not m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())],
                                                                                 value=m.Call(func=m.Name(model)))])):
                    if len(calls) > 1 or uses["calls"]:
                        self.file.report(SCRIPT_UNSUPPORTED, "a model with batch norm called more than once in the loss: "
                                         "each call updates the batch statistics; not translated yet", statement)
                        continue
                    # `loss = criterion(model(x), y)`: the call (which also returns updated statistics) goes first
                    uses["calls"] += 1
                    lines.extend(f"# {n}" for n in self.file.take_notes())
                    lines.append(f"outputs_, updates = {code_of(self.apply_call(model, calls[0], body))}")
                    from translator.rewrite.body import ReplaceNode

                    rewritten = statement.visit(ReplaceNode(calls[0], cst.Name("outputs_")))
                    self.file.origin = statement  # diagnostics in the rewritten line point at the user's line
                    try:
                        lines.extend(cst.Module(body=[t]).code.rstrip("\n") for t in body.statement(rewritten))
                    finally:
                        self.file.origin = None
                    continue
                uses["calls"] += 1
                target = statement.body[0].targets[0].target.value
                call = self.apply_call(model, statement.body[0].value, body)
                lines.extend(f"# {n}" for n in self.file.take_notes())
                lines.append(f"{target}, updates = {code_of(call)}")
                continue
            for translated in body.statement(statement):
                lines.append(cst.Module(body=[translated]).code.rstrip("\n"))
        aux = [name for name in region.outputs if name != region.loss]
        if mutable:
            aux.append("updates")
        returns = f"return {region.loss}" + (f", ({', '.join(aux)}{',' if len(aux) == 1 else ''})" if aux else "")
        value_and_grad = ("(loss, ({aux}{comma})), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)"
                          .format(aux=", ".join(aux), comma="," if len(aux) == 1 else "") if aux
                          else "loss, grads = jax.value_and_grad(loss_fn)(state.params)")
        if region.loss != "loss":
            value_and_grad = value_and_grad.replace("(loss,", f"({region.loss},", 1).replace("loss, grads", f"{region.loss}, grads", 1)
        update = "state = state.apply_gradients(grads=grads" + (', batch_stats=updates["batch_stats"]' if mutable else "") + ")"
        others = [o for o in other_trained_models(region, self.plan) if o in self.names]  # the order check-train passes
        self.step_others[id(region)] = others
        inputs = ", ".join([*(self.names[o].state for o in others), *(name for name, _ in region.arguments)])
        returned = ", ".join(name for name in region.outputs)
        key = ("    dropout_key = jax.random.fold_in(state.dropout_key, state.step)  # a new mask every step\n"
               if facts.dropout or facts.noise else "")
        where = self.file.resolved.position(region.step)[0]
        forward = textwrap.indent("\n".join(lines), "        ")
        return (
            "@jax.jit\n"
            f"def {self.names[model].step}(state, {inputs}):\n"
            f'    """One optimisation step (line {where}: zero_grad, loss.backward(), {region.optimizer}.step()) as a pure\n'
            f'    function: the gradients of the loss with respect to the parameters, then the optimiser update."""\n'
            f"{key}"
            "\n"
            "    def loss_fn(params):\n"
            f"{forward}\n"
            f"        {returns}\n"
            "\n"
            f"    {value_and_grad}\n"
            f"    {update}\n"
            f"    return state, {returned}\n"
        )

    def step_call(self, region: StepRegion) -> list[cst.BaseStatement]:
        model = self.region_model[id(region)]
        names = self.names[model]
        outputs = ", ".join(region.outputs)
        arguments = ", ".join([*(self.names[o].state for o in self.step_others.get(id(region), [])),
                               *(code_of(self.host.plain(expr)) for _, expr in region.arguments)])
        call = cst.parse_statement(f"{names.state}, {outputs} = {names.step}({names.state}, {arguments})")
        notes = [f"# {SCRIPT}: zero_grad/backward/step -> one jitted {names.step} (gradients are returned, not accumulated)"]
        call = call.with_changes(leading_lines=[cst.EmptyLine(comment=cst.Comment(n)) for n in notes])
        created = []
        for needed in [model, *self.step_others.get(id(region), [])]:  # states made at the first step that uses them
            if needed in self.lazy_states and needed not in self.created_lazily:
                self.created_lazily.add(needed)
                own = next(r for r in self.plan.steps if self.region_model.get(id(r)) == needed)
                inputs = ", ".join(code_of(self.host.plain(x)) for x in self.model_inputs(own, needed) or [])
                seed = self.plan.seed if self.plan.seed is not None else 0
                state = self.names[needed].state
                created += parse_statements(f"if {state} is None:\n    {state} = {self.names[needed].create}(jax.random.key({seed}), {inputs})\n")
        return [*created, self.file.mark(call, region.step),
                *(s for statement in region.host for s in self.host_statement(statement))]

    def stateless_call(self, name: str, node: cst.Call, body: BodyTranslator) -> cst.BaseExpression | None:
        """``criterion(pred, y)`` for an instance of a module of the file that holds no parameters (a DiceLoss):
        ``criterion.apply({}, pred, y)``; None for a module with state."""
        facts = self.facts[name]
        if facts.has_state or name in self.plan.optimized_model.values():
            return None
        self.file.note(SCRIPT, "a module without parameters is applied with empty variables: `module.apply({}, ...)`")
        args = [a.with_changes(value=body.plain(a.value)) for a in node.args]
        return cst.parse_expression(f"{name}.apply({{}})").with_changes(args=[cst.Arg(cst.Dict([])), *args])

    def eval_call(self, model: str, node: cst.Call, body: BodyTranslator) -> cst.BaseExpression:
        facts = self.facts[model]
        modes = self.modes.get(id(node), {True})
        train = True in modes
        if facts.takes_train and train and (facts.batch_stats or facts.dropout or facts.noise):
            self.file.report(SCRIPT_UNSUPPORTED, f"`{model}` is called here in training mode outside the optimisation "
                             "step (no model.eval() before it): PyTorch applies dropout / batch statistics and updates "
                             "running statistics; call model.eval() first", node)
        name = "eval_step" if not train or not facts.takes_train else "predict_step"
        key = (model, train)
        if key not in self.eval_steps:
            name = name if name not in self.eval_steps.values() else f"{name}_{len(self.eval_steps)}"
            self.eval_steps[key] = name
            variables = '{"params": state.params' + (', "batch_stats": state.batch_stats}' if facts.batch_stats else "}")
            flag = f", train={train}" if facts.takes_train else ""
            self.definitions.append(
                "@jax.jit\n"
                f"def {name}(state, *inputs):\n"
                f'    """`{model}(...)` outside the optimisation step: a forward pass with the current parameters'
                f'{" in evaluation mode" if facts.takes_train and not train else ""}."""\n'
                f"    return state.apply_fn({variables}, *inputs{flag})\n"
            )
        args = ", ".join(code_of(body.plain(a.value)) for a in node.args)
        return cst.parse_expression(f"{self.eval_steps[key]}({self.state_of.get(model, 'state')}, {args})")


# --------------------------------------------------------------------------- helpers


def parse_statements(code: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(code).body)


def first_running_statement(statements: Sequence[cst.BaseStatement], plan: TrainingPlan) -> int:
    """Where the script starts training: its first top-level statement holding an optimisation step. What
    comes before is module level (data, the model, the optimiser: the translation's definitions use them),
    the rest runs in ``main()``."""
    steps = {id(region.step) for region in plan.steps}
    for index, statement in enumerate(statements):
        if any(id(inner) in steps for inner in walk_statements([statement])):
            return index
    return len(statements)


def loop_counter(loop: cst.For) -> str | None:
    """The name counting a loop's passes: ``i`` in ``for i in range(...)`` / ``for i, x in enumerate(...)``."""
    if m.matches(loop.iter, m.Call(func=m.Name("range"))) and isinstance(loop.target, cst.Name):
        return loop.target.value
    if m.matches(loop.iter, m.Call(func=m.Name("enumerate"))) and m.matches(loop.target, m.Tuple(elements=[m.Element(value=m.Name()), m.ZeroOrMore()])):
        return loop.target.elements[0].value.value
    return None


def indexed_source(name: str, block: Sequence[cst.BaseStatement]) -> str | None:
    """``X`` when ``block`` binds ``name = X[...]`` (or ``a, name = Y[...], X[...]``): a batch selected from data."""
    for statement in block:
        for assign in m.findall(statement, m.Assign()):
            for target in assign.targets:
                pairs = [(target.target, assign.value)]
                if isinstance(target.target, cst.Tuple) and isinstance(assign.value, cst.Tuple):
                    pairs = list(zip((e.value for e in target.target.elements), (e.value for e in assign.value.elements), strict=False))
                for bound, value in pairs:
                    if m.matches(bound, m.Name(name)) and m.matches(value, m.Subscript(value=m.Name())):
                        return value.value.value
    return None


def attribute_root(expr: cst.BaseExpression) -> str | None:
    """``model`` for ``model.fc.weight`` (None when the chain does not start at a name)."""
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def loader_of(iterable: cst.BaseExpression) -> cst.BaseExpression:
    """The loader of ``for ... in enumerate(loader)`` / ``tqdm(loader)`` / ``loader``."""
    while m.matches(iterable, m.Call(func=m.Name("enumerate") | m.Name("tqdm"))) and iterable.args:
        iterable = iterable.args[0].value
    return iterable


def loop_target(loop: cst.For) -> cst.BaseExpression:
    """The batch's target of ``for images, labels in loader`` (``for i, (x, y) in enumerate(loader)``: ``x, y``)."""
    if m.matches(loop.iter, m.Call(func=m.Name("enumerate"))) and m.matches(loop.target, m.Tuple(elements=[m.Element(), m.Element()])):
        inner = loop.target.elements[1].value
        return inner.with_changes(lpar=[], rpar=[]) if isinstance(inner, cst.Tuple) else inner
    return loop.target


def call_modes(statements: Sequence[cst.BaseStatement], plan: TrainingPlan) -> dict[int, set[bool]]:
    """For each call of a model (by node id): the modes (True: training) it may run in, following
    ``model.train()``/``model.eval()`` through the script in execution order (loop bodies twice)."""
    modes: dict[int, set[bool]] = {}
    state = dict.fromkeys(plan.models, True)  # a new PyTorch module is in training mode

    def walk(block: Sequence[cst.BaseStatement]) -> None:
        for statement in block:
            for model in plan.models:
                if method_call(statement, "train") == model:
                    call = statement.body[0].value
                    state[model] = not (call.args and code_of(call.args[0].value) == "False")
                elif method_call(statement, "eval") == model:
                    state[model] = False
            if isinstance(statement, (cst.For, cst.While)):
                walk(statement.body.body)
                walk(statement.body.body)
            elif isinstance(statement, (cst.If, cst.With)):
                walk(statement.body.body)
                if isinstance(getattr(statement, "orelse", None), cst.Else):
                    walk(statement.orelse.body.body)
            else:
                for call in m.findall(statement, m.Call(func=m.Name())):
                    if call.func.value in plan.models:
                        modes.setdefault(id(call), set()).add(state[call.func.value])

    walk(statements)
    return modes


