"""What a training script does, read from its module-level code (issue 17).

:func:`read_training_plan` finds the roles of a script's names (the model, its
optimiser, scheduler and loss, placeholder loaders, devices) and the optimisation
step: the statements of a loop body from the forward pass to ``optimizer.step()``.
The emitter (:mod:`translator.training.script`) and ``check-train``
(:mod:`translator.training.check_train`) both work from this plan, so the step
that is translated is the step that is checked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from translator.naming import library_name
from translator.rewrite.aliasing import name_reads
from translator.rewrite.context import FileContext
from translator.rewrite.model import FileInfo

OPTIMIZER_PREFIX = "torch.optim."
SCHEDULER_PREFIX = "torch.optim.lr_scheduler."
LOSS_SUFFIX = "Loss"
CLIPS = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_",
         "torch.nn.utils.clip_grad.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_value_")
DEVICE_CALLS = ("torch.device",)
SEEDS = ("torch.manual_seed", "torch.random.manual_seed")


@dataclass
class StepRegion:
    """One optimisation step inside a block of statements.

    ``forward`` are the statements (in order) the loss depends on: they run inside the
    differentiated function; ``host`` are the other statements of the block up to the
    optimiser step, run on the host after the step; ``clips`` are gradient-clipping calls
    between ``backward()`` and ``step()``.
    """

    block: tuple[cst.BaseStatement, ...]
    forward: list[cst.SimpleStatementLine]
    host: list[cst.BaseStatement]
    before: list[cst.BaseStatement]
    after: list[cst.BaseStatement]
    loss: str
    optimizer: str
    backward: cst.SimpleStatementLine
    step: cst.SimpleStatementLine
    zero_grad: cst.SimpleStatementLine | None
    clips: list[cst.Call] = field(default_factory=list)
    #: names the forward statements read that are bound outside them (the jitted step's inputs)
    inputs: list[str] = field(default_factory=list)
    #: names the forward statements bind that are read after the step (returned by the step)
    outputs: list[str] = field(default_factory=list)
    #: the jitted step's parameters and the host expression each receives: an input name as itself, or a
    #: batch cut from data with a loop counter (``X[i:i + 25]``), which jit could not trace, cut on the host
    arguments: list[tuple[str, cst.BaseExpression]] = field(default_factory=list)
    #: id of each hoisted subscript in ``forward`` -> the parameter that replaces it
    hoisted: dict[int, str] = field(default_factory=dict)


@dataclass
class TrainingPlan:
    """The roles of a script's names and its optimisation steps."""

    models: dict[str, str] = field(default_factory=dict)  # variable -> user class
    model_calls: dict[str, cst.Call] = field(default_factory=dict)  # variable -> its constructor call
    optimizers: dict[str, cst.Call] = field(default_factory=dict)
    optimized_model: dict[str, str] = field(default_factory=dict)  # optimizer -> model variable
    schedulers: dict[str, cst.Call] = field(default_factory=dict)
    scheduled: dict[str, str] = field(default_factory=dict)  # scheduler -> optimizer
    criteria: dict[str, cst.Call] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    placeholders: set[str] = field(default_factory=set)  # `train_loader = ...`
    data_objects: set[str] = field(default_factory=set)  # datasets and loaders (Python objects, not arrays)
    steps: list[StepRegion] = field(default_factory=list)
    #: scheduler -> "batch" or "epoch": where its ``.step()`` is called relative to the optimisation step
    schedule_period: dict[str, str] = field(default_factory=dict)
    #: the loop whose body holds the step, and its iterable (a loader, or None for full-batch steps)
    step_loop: cst.For | None = None
    epoch_loop: cst.For | cst.While | None = None
    seed: int | None = None

    @property
    def trains(self) -> bool:
        return bool(self.steps)


def read_training_plan(statements: Sequence[cst.BaseStatement], file: FileContext, info: FileInfo) -> TrainingPlan:
    """The plan of the module-level ``statements`` (a plan with no steps when nothing trains)."""
    plan = TrainingPlan()
    for statement in statements:
        read_role(statement, plan, file, info)
    for block, loops in blocks(statements, ()):
        for step in find_steps(block, plan):
            plan.steps.append(step)
            plan.step_loop = loops[-1] if loops else None  # over batches (or over epochs, full-batch)
            plan.epoch_loop = loops[-2] if len(loops) >= 2 else None
            locate_scheduler_steps(plan, block, loops)
    for region in plan.steps:
        region.inputs, region.outputs = step_interface(region, statements, plan)
        region.arguments, region.hoisted = step_arguments(region)
    return plan


def read_role(statement: cst.BaseStatement, plan: TrainingPlan, file: FileContext, info: FileInfo) -> None:
    """Record what a module-level assignment binds: a model, optimizer, scheduler, loss, device, placeholder."""
    if isinstance(statement, cst.If) and is_main_guard(statement):
        for inner in statement.body.body:
            read_role(inner, plan, file, info)
        return
    if not m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])):
        if m.matches(statement, m.SimpleStatementLine(body=[m.Expr(value=m.Call())])):
            call = statement.body[0].value
            if library_name(file.resolved, call.func) in SEEDS and call.args:
                try:
                    plan.seed = int(cst.Module([]).code_for_node(call.args[0].value), 0)
                except ValueError:
                    pass
        return
    assign = statement.body[0]
    name = assign.targets[0].target.value
    value = strip_device_moves(assign.value)
    if isinstance(value, cst.Ellipsis):
        plan.placeholders.add(name)
        return
    if not isinstance(value, cst.Call):
        return
    if isinstance(value.func, cst.Name) and value.func.value in info.classes:
        plan.models[name] = value.func.value
        plan.model_calls[name] = value
        return
    qualified = library_name(file.resolved, value.func) or ""
    if qualified.startswith("torch.utils.data."):
        plan.data_objects.add(name)
    elif qualified in DEVICE_CALLS:
        plan.devices.add(name)
    elif qualified.startswith(SCHEDULER_PREFIX):
        plan.schedulers[name] = value
        first = value.args[0].value if value.args else None
        if isinstance(first, cst.Name):
            plan.scheduled[name] = first.value
    elif qualified.startswith(OPTIMIZER_PREFIX):
        plan.optimizers[name] = value
        model = optimized_model(value, plan)
        if model is not None:
            plan.optimized_model[name] = model
    elif qualified.startswith("torch.nn.") and qualified.endswith(LOSS_SUFFIX):
        plan.criteria[name] = value


def optimized_model(call: cst.Call, plan: TrainingPlan) -> str | None:
    """The model whose parameters the optimizer's first argument names (``model.parameters()``,
    ``model.fc.parameters()``, parameter groups over one model)."""
    if not call.args:
        return None
    for name in m.findall(call.args[0].value, m.Name()):
        if name.value in plan.models:
            return name.value
    return None


def strip_device_moves(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``Model(...).to(device)`` / ``.cuda()`` / ``.cpu()`` -> ``Model(...)``: JAX places arrays itself."""
    while m.matches(expr, m.Call(func=m.Attribute(attr=m.Name("to") | m.Name("cuda") | m.Name("cpu")))):
        expr = expr.func.value
    return expr


def without_main_guard(statements: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """The script's statements with ``if __name__ == "__main__":`` replaced by its body (the translation
    has its own ``main()``)."""
    out: list[cst.BaseStatement] = []
    for statement in statements:
        if isinstance(statement, cst.If) and is_main_guard(statement) and statement.orelse is None:
            out.extend(statement.body.body)
        else:
            out.append(statement)
    return out


def is_main_guard(node: cst.If) -> bool:
    return m.matches(node.test, m.Comparison(left=m.Name("__name__"), comparisons=[m.ComparisonTarget(
        operator=m.Equal(), comparator=m.SimpleString('"__main__"') | m.SimpleString("'__main__'"))]))


def block_of(node: cst.CSTNode) -> tuple[cst.BaseStatement, ...]:
    body = getattr(node, "body", None)
    return tuple(getattr(body, "body", ()))


def blocks(statements: Sequence[cst.BaseStatement], loops: tuple) -> Iterator[tuple[tuple[cst.BaseStatement, ...], tuple]]:
    """Every block of statements (the module's, and those of loops, ``with`` and ``if``), with the
    loops around it (innermost last; a loop whose body is the block is included)."""
    yield tuple(statements), loops
    for statement in statements:
        if isinstance(statement, (cst.For, cst.While)):
            yield from blocks(block_of(statement), (*loops, statement))
        elif isinstance(statement, (cst.With, cst.If)):
            yield from blocks(block_of(statement), loops)
            orelse = getattr(statement, "orelse", None)
            if isinstance(orelse, cst.Else):
                yield from blocks(block_of(orelse), loops)


def method_call(statement: cst.BaseStatement, method: str) -> str | None:
    """``name`` when ``statement`` is ``name.method(...)`` alone on its line."""
    if m.matches(statement, m.SimpleStatementLine(body=[m.Expr(value=m.Call(func=m.Attribute(value=m.Name(), attr=m.Name(method))))])):
        return statement.body[0].value.func.value.value
    return None


def find_steps(block: Sequence[cst.BaseStatement], plan: TrainingPlan) -> list[StepRegion]:
    """Every optimisation step in ``block`` (a GAN's loop body holds two)."""
    steps: list[StepRegion] = []
    begin = 0
    while (step := find_step(block, plan, begin)) is not None:
        steps.append(step)
        begin = next(i for i, s in enumerate(block) if s is step.step) + 1
    return steps


def find_step(block: Sequence[cst.BaseStatement], plan: TrainingPlan, begin: int = 0) -> StepRegion | None:
    """The first optimisation step in ``block`` from ``begin``: ``loss.backward()`` followed by ``optimizer.step()``."""
    backward_at = next((i for i, s in enumerate(block) if i >= begin and method_call(s, "backward") is not None), None)
    if backward_at is None:
        return None
    step_at = next((i for i in range(backward_at + 1, len(block)) if method_call(block[i], "step") in plan.optimizers), None)
    if step_at is None:
        return None
    optimizer = method_call(block[step_at], "step")
    zero_at = next((i for i, s in enumerate(block) if i >= begin and method_call(s, "zero_grad") in (optimizer, *plan.models)), None)
    loss = method_call(block[backward_at], "backward")
    needed = {loss}
    forward_indices: set[int] = set()
    # the loss's dependencies, wherever zero_grad stands -- back past an earlier step in the block too (a GAN's
    # generator loss reads `fake = G(z)`, computed before the discriminator's step: its graph reaches G)
    for i in range(backward_at - 1, -1, -1):
        statement = block[i]
        if i != zero_at and isinstance(statement, cst.SimpleStatementLine) and assigned_names(statement) & needed:
            forward_indices.add(i)
            needed |= read_names(statement)
    forward_indices -= data_preparation(block, sorted(forward_indices), plan)
    start = max(min(forward_indices, default=backward_at), begin)  # what precedes `begin` belongs to the earlier step
    host = [s for i, s in enumerate(block[start:backward_at], start) if i not in forward_indices and i != zero_at
            and not any(method_call(s, name) is not None for name in ("zero_grad", "backward", "step"))]
    clips = []
    for statement in block[backward_at + 1:step_at]:
        if m.matches(statement, m.SimpleStatementLine(body=[m.Expr(value=m.Call())])):
            clips.append(statement.body[0].value)
        else:
            host.append(statement)
    return StepRegion(
        block=tuple(block),
        forward=[block[i] for i in sorted(forward_indices)],
        host=host,
        before=[s for i, s in enumerate(block[:start]) if i != zero_at],
        after=[s for i, s in enumerate(block[step_at + 1:], step_at + 1) if i != zero_at],
        loss=loss,
        optimizer=optimizer,
        backward=block[backward_at],
        step=block[step_at],
        zero_grad=block[zero_at] if zero_at is not None else None,
        clips=clips,
    )


def data_preparation(block: Sequence[cst.BaseStatement], forward: list[int], plan: TrainingPlan) -> set[int]:
    """The forward statements that only select or shape the batch (``idx = perm[i:i + bs]``, ``xb = X[idx]``):
    they depend on no model call, so they run on the host before the step and their results are the step's
    inputs (slicing with a loop counter is not traceable under jit)."""
    callers = set(plan.models)
    dependent: set[str] = set()
    preparation: set[int] = set()
    for i in forward:
        statement = block[i]
        calls_model = any(c.func.value in callers for c in m.findall(statement, m.Call(func=m.Name())))
        if calls_model or read_names(statement) & dependent:
            dependent |= assigned_names(statement)
        else:
            preparation.add(i)
    return preparation


def locate_scheduler_steps(plan: TrainingPlan, block: Sequence[cst.BaseStatement], loops: tuple) -> None:
    """Each scheduler's ``.step()``: in the step's own block (per batch) or in an enclosing loop (per epoch)."""
    for scheduler in plan.schedulers:
        if any(method_call(s, "step") == scheduler for s in block):
            plan.schedule_period[scheduler] = "batch"
        elif any(method_call(s, "step") == scheduler for loop in loops for s in walk_statements(block_of(loop))):
            plan.schedule_period[scheduler] = "epoch"


def walk_statements(statements: Sequence[cst.BaseStatement]) -> Iterator[cst.BaseStatement]:
    for block, _ in blocks(statements, ()):
        yield from block


def assigned_names(node: cst.CSTNode) -> set[str]:
    names = set()
    for target in m.findall(node, m.AssignTarget() | m.AugAssign() | m.AnnAssign() | m.For()):
        bound = getattr(target, "target", None)
        if bound is not None:
            names |= {n.value for n in m.findall(bound, m.Name())}
    return names


def read_names(node: cst.CSTNode) -> set[str]:
    """The names read in ``node`` (stores, attribute names and keywords excluded)."""
    return set(name_reads(node))


def step_interface(region: StepRegion, statements: Sequence[cst.BaseStatement], plan: TrainingPlan) -> tuple[list[str], list[str]]:
    """(inputs, outputs) of the step: free names of the forward statements that are data (not the model,
    loss, optimizer or a library name), and the names it binds that anything else reads."""
    bound: set[str] = set()
    inputs: list[str] = []
    roles = set(plan.models) | set(plan.criteria) | set(plan.optimizers) | set(plan.schedulers) | plan.devices
    data_names = {name for s in walk_statements(statements) if not is_literal_assignment(s) for name in assigned_names(s)}
    for statement in region.forward:
        for name in sorted(read_names(statement)):
            if name not in bound and name not in roles and name in data_names and name not in inputs:
                inputs.append(name)
        bound |= assigned_names(statement)
    forward_ids = {id(s) for s in region.forward}
    elsewhere: set[str] = set()
    for statement in walk_statements(statements):
        if id(statement) not in forward_ids and isinstance(statement, cst.SimpleStatementLine):
            elsewhere |= read_names(statement)
        elif isinstance(statement, (cst.For, cst.While, cst.If)):
            elsewhere |= read_names(getattr(statement, "iter", None) or getattr(statement, "test", cst.Name("_")))
    outputs = [region.loss] + sorted((bound & elsewhere) - {region.loss})
    return inputs, outputs


def is_literal_assignment(statement: cst.BaseStatement) -> bool:
    """``BATCH = 32`` / ``SOS, EOS = 0, 1``: a constant the translation keeps at module level (not a step input)."""
    import ast

    if not m.matches(statement, m.SimpleStatementLine(body=[m.Assign()])):
        return False
    try:
        ast.literal_eval(cst.Module([]).code_for_node(statement.body[0].value).strip())
    except (ValueError, SyntaxError):
        return False
    return True


def step_arguments(region: StepRegion) -> tuple[list[tuple[str, cst.BaseExpression]], dict[int, str]]:
    """The step's parameters: each batch the forward cuts from data with a computed index (``X[i:i + 25]``,
    read only from the step's inputs) becomes a parameter cut on the host; the inputs still read otherwise
    stay parameters of their own."""
    inputs = set(region.inputs)
    hoisted: dict[int, str] = {}
    arguments: list[tuple[str, cst.BaseExpression]] = []
    taken = set(inputs)

    class Cuts(cst.CSTVisitor):
        def visit_Subscript(self, node: cst.Subscript) -> bool:
            names = read_names(node)
            dynamic = any(read_names(element.slice) for element in node.slice)
            if isinstance(node.value, cst.Name) and node.value.value in inputs and names <= inputs and dynamic:
                name = f"{node.value.value}_batch"
                while name in taken:
                    name += "_"
                taken.add(name)
                hoisted[id(node)] = name
                arguments.append((name, node))
                return False
            return True

    class ReadsOutsideCuts(cst.CSTVisitor):
        def __init__(self):
            self.names: set[str] = set()

        def visit_Subscript(self, node: cst.Subscript) -> bool:
            return id(node) not in hoisted

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)
            return False

        def visit_Arg(self, node: cst.Arg) -> bool:
            node.value.visit(self)
            return False

        def visit_Name(self, node: cst.Name) -> None:
            self.names.add(node.value)

    for statement in region.forward:
        statement.visit(Cuts())
    reads = ReadsOutsideCuts()
    for statement in region.forward:
        statement.visit(reads)
    kept = [(name, cst.Name(name)) for name in region.inputs if name in reads.names]
    return kept + arguments, hoisted


def other_trained_models(region: StepRegion, plan: TrainingPlan) -> list[str]:
    """The trained models other than ``region``'s own that its loss calls, in order of first call: their
    current states are arguments of the translated step (a GAN's discriminator in the generator's loss)."""
    own = plan.optimized_model.get(region.optimizer)
    trained = set(plan.optimized_model.values())
    others: list[str] = []
    for statement in region.forward:
        for call in m.findall(statement, m.Call(func=m.Name())):
            name = call.func.value
            if name in trained and name != own and name not in others:
                others.append(name)
    return others
