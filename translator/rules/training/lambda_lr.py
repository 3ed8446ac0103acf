"""O038 TorchLambdaLR: ``LambdaLR(optimizer, lr_lambda)`` -> ``lr * lr_lambda(epoch)`` with the lambda made traceable."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.diagnostics import Severity
from translator.naming import library_name
from translator.rules._emit import code_of
from translator.rules.base import Example, RuleDoc, ScheduleBuild
from translator.rules.registry import register
from translator.rules.training._common import (
    ScheduleCase,
    TrainingRule,
    expression,
    operand,
    per_epoch,
)

#: math functions with a jnp function of the same name and meaning
MATH = {"cos", "sin", "tan", "exp", "log", "log2", "log10", "sqrt", "floor", "ceil", "tanh", "pi", "e", "inf", "log1p", "expm1"}
BUILTINS = {"min": "jnp.minimum", "max": "jnp.maximum", "abs": "jnp.abs"}


class _Traceable(cst.CSTTransformer):
    """The lambda's body rewritten to run on a traced epoch count: math -> jnp, min/max -> jnp.minimum/maximum,
    `a if c else b` -> jnp.where; anything else that would need a Python value is collected in ``problems``."""

    def __init__(self, resolved, parameter: str):
        self.resolved, self.parameter = resolved, parameter
        self.problems: list[str] = []

    def leave_Attribute(self, original, updated):
        name = library_name(self.resolved, original) or ""
        if name.startswith("math.") and name[5:] in MATH:
            return cst.parse_expression(f"jnp.{name[5:]}")
        if isinstance(original.value, cst.Name) and (library_name(self.resolved, original.value) or "") == "math":
            self.problems.append(f"`{code_of(original)}` has no jnp counterpart here")
        return updated

    def leave_Call(self, original, updated):
        name = library_name(self.resolved, original.func) or ""
        if name in ("builtins.min", "builtins.max", "builtins.abs") and len(updated.args) == 2 - (name == "builtins.abs"):
            return updated.with_changes(func=cst.parse_expression(BUILTINS[name.split(".")[1]]))
        if name == "builtins.float" and len(updated.args) == 1:
            return cst.parse_expression(f"{operand(code_of(updated.args[0].value))} * 1.0")
        if name.startswith("math.") or isinstance(updated.func, cst.Attribute) and code_of(updated.func).startswith("jnp."):
            return updated
        self.problems.append(f"the call `{code_of(original)}` is not known to run on a traced epoch")
        return updated

    def leave_IfExp(self, original, updated):
        return cst.parse_expression(f"jnp.where({code_of(updated.test)}, {code_of(updated.body)}, {code_of(updated.orelse)})")

    def leave_BooleanOperation(self, original, updated):
        self.problems.append(f"`{code_of(original)}`: `and`/`or` need Python booleans (write `&`/`|` of comparisons)")
        return updated


@register
class TorchLambdaLR(TrainingRule):
    code = "O038"
    name = "TorchLambdaLR"
    summary = "LambdaLR(lr_lambda) -> lambda epoch: lr * lr_lambda(epoch), with math/min/max/if made jnp"
    torch_schedulers = ("torch.optim.lr_scheduler.LambdaLR",)
    flagged_calls = ("lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda epoch: 0.9 ** epoch if epoch > 2 and epoch < 9 else 1.0)",)
    doc = RuleDoc(
        what="`lr_scheduler.LambdaLR(optimizer, lr_lambda)` with one `lambda epoch: ...` (or a named function).",
        why=(
            "torch calls the lambda with a Python int; the optax schedule runs under `jit` with a traced\n"
            "update count, where `math.cos`, `min` and `x if c else y` fail. The lambda is rewritten\n"
            "with `jnp` (math -> jnp, min/max -> jnp.minimum/maximum, conditional -> `jnp.where`) and\n"
            "evaluated at the epoch (`count // steps_per_epoch`); what needs a Python value (`and`,\n"
            "unknown calls) is reported. A named function is kept as it is, with a warning: it must be\n"
            "traceable."
        ),
        example=Example(
            torch="scheduler = lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda epoch: min(1.0, (epoch + 1) / 5))",
            flax="schedule = torch_epoch_schedule(lambda epoch: 0.01 * jnp.minimum(1.0, (epoch + 1) / 5), steps_per_epoch)",
        ),
        fidelity="Exact for the translated lambda (the rate at every update of the drawn runs, warm-up, power, cosine and conditional lambdas: 0; int32 count: 3.0e-8).",
    )

    def build_schedule(self, ctx, base_learning_rate, steps_per_epoch):
        function = ctx.expr("lr_lambda")
        lr = operand(code_of(base_learning_rate))
        if isinstance(function, cst.Lambda) and len(function.params.params) == 1:
            parameter = function.params.params[0].name.value
            traceable = _Traceable(ctx.file.resolved, parameter)
            body = function.body.visit(traceable)
            if traceable.problems:
                ctx.unsupported("the lr_lambda is not traceable: " + "; ".join(traceable.problems))
                return ScheduleBuild(None)
            inner = f"lambda {parameter}: {lr} * {operand(code_of(body))}"
        elif isinstance(function, cst.Name | cst.Attribute):
            ctx.file.report(self.code, f"`{code_of(function)}` is called with a traced epoch count: it must use jnp, not math "
                                       "or Python conditionals on the epoch", ctx.node, Severity.WARNING)
            inner = f"lambda epoch: {lr} * {code_of(function)}(epoch)"
        else:
            ctx.unsupported("`lr_lambda` must be one lambda or function (a list, one per parameter group, is not translated)")
            return ScheduleBuild(None)
        schedule, support = per_epoch(inner, steps_per_epoch)
        return ScheduleBuild(expression(schedule), support=support)

    def cases(self):
        lambdas = [
            "lambda epoch: 0.95 ** epoch",
            "lambda epoch: min(1.0, (epoch + 1) / 4)",
            "lambda e: 0.5 * (1 + math.cos(math.pi * e / 10))",
            "lambda epoch: (epoch + 1) / 3 if epoch < 3 else 0.9 ** (epoch - 3)",
        ]

        @st.composite
        def lambda_case(draw):
            return ScheduleCase(f"lr_scheduler.LambdaLR(optimizer, lr_lambda={draw(st.sampled_from(lambdas))})", 0.1, epochs=10,
                                steps_per_epoch=draw(st.sampled_from([None, 2, 3])))

        return lambda_case()
