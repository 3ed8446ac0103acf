"""T050 TorchRegressionLoss: ``F.mse_loss`` / ``l1_loss`` / ``smooth_l1_loss`` / ``huber_loss`` with ``reduction``."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.base import (
    PLAIN,
    Emitted,
    Example,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    signature_of,
)
from translator.rules.losses._support import read_reduction
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    bind,
    code,
    emit,
    op_name,
    paren,
    shapes,
    shared_fact,
    unsupported,
)
from translator.rules.tensor_ops.elementwise_math import ABS


def _loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0, *, delta=1.0, weight=None): ...


#: the elementwise loss of the difference ``{d}``; ``{a}`` is its zero-safe absolute value (T004)
ELEMENTWISE = {
    "mse_loss": "jnp.square({d})",
    "l1_loss": "{a}",
    "smooth_l1_loss": "jnp.where({a} < {k}, 0.5 * jnp.square({d}) / {k}, {a} - 0.5 * {k})",
    "huber_loss": "jnp.where({a} < {k}, 0.5 * jnp.square({d}), {k} * ({a} - 0.5 * {k}))",
}
REDUCE = {"mean": "jnp.mean({l})", "sum": "jnp.sum({l})", "none": "{l}"}


def regression_loss_arguments(ctx, op: str) -> tuple[str, float] | None:
    """``(reduction, k)`` of a regression loss call or constructor (``k``: smooth_l1's beta, huber's delta).

    Shared by the functions (T050) and ``nn.MSELoss``/``L1Loss``/``SmoothL1Loss``/``HuberLoss`` (C002);
    None once an argument that cannot be translated is reported.
    """
    reduction = read_reduction(ctx)
    if reduction is None:
        return None
    k = 1.0
    if op in ("smooth_l1_loss", "huber_loss"):
        k = literal_or_none(ctx, "delta" if op == "huber_loss" else "beta")
        if k is NotLiteral:
            ctx.unsupported("`beta` (smooth_l1_loss) / `delta` (huber_loss) must be constants")
            return None
    return reduction, float(k)


def regression_loss_code(op: str, reduction: str, k: float, input: str, target: str) -> str:
    """The loss ``op`` of the sources ``input`` and ``target``, reduced (smooth_l1 with beta 0 is l1)."""
    if op == "smooth_l1_loss" and k == 0:
        op = "l1_loss"
    difference = f"{paren(input)} - {paren(target)}"

    def loss(d):
        return ELEMENTWISE[op].format(d=d, a=ABS.format(x=d), k=repr(k))

    return REDUCE[reduction].format(l=bind(difference, loss))


@register
class TorchRegressionLoss(Rule):
    code = "T050"
    name = "TorchRegressionLoss"
    summary = "F.mse_loss / l1_loss / smooth_l1_loss(beta) / huber_loss(delta), reduction mean|sum|none -> jnp"
    torch_functions = tuple(f"torch.nn.functional.{n}" for n in ELEMENTWISE)
    call_signature = signature_of(_loss)
    doc = RuleDoc(
        what=(
            "`F.mse_loss(input, target, reduction='mean')`, `F.l1_loss`, `F.smooth_l1_loss(..., beta=1.0)`,\n"
            "`F.huber_loss(..., delta=1.0)`, with reduction 'mean', 'sum' or 'none' (the deprecated\n"
            "`size_average`/`reduce` are reported)."
        ),
        why=(
            "Flax has no loss functions (optax has some, with other defaults and no reduction): the\n"
            "loss is written out in `jnp`. The absolute value uses PyTorch's gradient at 0 (sgn(0) = 0,\n"
            "where `jnp.abs` gives 1): a prediction equal to its target passes no gradient in either.\n"
            "smooth_l1 with beta = 0 is l1, as in PyTorch. Input and target broadcast in both."
        ),
        example=Example(torch="loss = F.mse_loss(pred, target)", flax="loss = jnp.mean(jnp.square(pred - target))"),
        fidelity="Equal within float32 rounding (the mean sums in another order); gradients too, including at zero error.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("weight"):
            return unsupported(ctx, f"`weight=` of `{op}` is not translated")
        if (op == "huber_loss" and not ctx.is_default("beta")) or (op != "huber_loss" and not ctx.is_default("delta")):
            return unsupported(ctx, "`beta` belongs to smooth_l1_loss, `delta` to huber_loss")
        arguments = regression_loss_arguments(ctx, op)
        if arguments is None:
            return Emitted(cst.Name("None"))
        reduction, k = arguments
        fact = shared_fact(ctx, ("input", "target"))
        keep = fact is not None and reduction == "none"
        loss = regression_loss_code(op, reduction, k, code(ctx, "input", plain=not keep), code(ctx, "target", plain=not keep))
        return emit(loss, fact if keep else PLAIN)

    def cases(self):
        @st.composite
        def loss_case(draw):
            op = draw(st.sampled_from(sorted(ELEMENTWISE)))
            shape = shapes(draw)
            target = draw(st.sampled_from(["x.round()", "torch.tanh(x)", "x * 0.5 + 0.25", "torch.zeros_like(x)"]))  # round: exact zero errors
            args = []
            if draw(st.booleans()):
                args.append(f"reduction={draw(st.sampled_from(['mean', 'sum', 'none']))!r}")
            if op == "smooth_l1_loss" and draw(st.booleans()):
                args.append(f"beta={draw(st.sampled_from([0.0, 0.5, 2.0]))}")
            if op == "huber_loss" and draw(st.booleans()):
                args.append(f"delta={draw(st.sampled_from([0.5, 2.0]))}")
            forward = f"F.{op}({', '.join(['x * 1.5', target, *args])})"
            if draw(st.booleans()):  # layout: a loss between two conv outputs
                return RuleCase("nn.Conv2d(2, 2, 1)", f"F.{op}(self.layer(x), self.layer(x).round(), {', '.join(args)})", (1, 2, 3, 3))
            return RuleCase(None, forward, shape)

        return loss_case()
