"""T051 TorchCrossEntropy: ``F.cross_entropy`` / ``F.nll_loss`` -> ``torch_cross_entropy`` (ignore_index, weight, label smoothing)."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules.base import Emitted, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.losses._support import constant, keywords, read_reduction
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, op_name


def _cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                   label_smoothing=0.0): ...


SUPPORT_NAME = "torch_cross_entropy"
SUPPORT = '''
def torch_cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, log_probs=False):
    """F.cross_entropy / F.nll_loss (T051): classes on axis 1 (axis 0 unbatched), PyTorch's reductions.

    Integer targets are class indices: `ignore_index` entries add nothing and the mean divides by the
    summed weight of the other targets. Float targets are class probabilities.
    """
    axis = 0 if logits.ndim == 1 else 1
    classes = logits.shape[axis]
    logp = logits if log_probs else jax.nn.log_softmax(logits, axis=axis)
    weight = jnp.ones((classes,), logp.dtype) if weight is None else weight
    weight_shape = [1] * logp.ndim
    weight_shape[axis] = classes
    class_weight = weight.reshape(weight_shape)
    if not jnp.issubdtype(target.dtype, jnp.integer):  # class probabilities
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        loss = -jnp.sum(logp * target * class_weight, axis=axis)
        if reduction == "mean":
            return jnp.sum(loss) / (logp.size // classes)
        return jnp.sum(loss) if reduction == "sum" else loss
    valid = target != ignore_index
    safe = jnp.where(valid, target, 0)
    picked = jnp.take_along_axis(logp, jnp.expand_dims(safe, axis), axis=axis).squeeze(axis)
    target_weight = jnp.where(valid, weight[safe], 0)
    loss = -picked * target_weight
    if label_smoothing:
        smooth = jnp.where(valid, -jnp.sum(logp * class_weight, axis=axis), 0)
    if reduction == "mean":
        # every target ignored: PyTorch's loss is 0/0 = nan and its gradient zero (not nan)
        total = jnp.sum(target_weight)
        none = total == 0
        divisor = jnp.where(none, 1, total)
        loss = jnp.where(none, jnp.nan, jnp.sum(loss) / divisor)
        if label_smoothing:
            smooth = jnp.where(none, jnp.nan, jnp.sum(smooth) / divisor)
    elif reduction == "sum":
        loss = jnp.sum(loss)
        if label_smoothing:
            smooth = jnp.sum(smooth)
    if label_smoothing:
        return (1 - label_smoothing) * loss + label_smoothing / classes * smooth
    return loss
'''


def cross_entropy_keywords(ctx, nll: bool, tensor_code=None) -> list[str] | None:
    """The keyword arguments of ``torch_cross_entropy`` for a cross-entropy / NLL call or constructor.

    Shared by ``F.cross_entropy``/``F.nll_loss`` (T051) and ``nn.CrossEntropyLoss``/``nn.NLLLoss``
    (C001); None once an argument that cannot be translated is reported.  ``tensor_code`` reads
    the ``weight`` tensor (see :func:`translator.rules.losses._support.keywords`).
    """
    if read_reduction(ctx) is None:
        return None
    if nll and not ctx.is_default("label_smoothing"):
        ctx.unsupported("`nll_loss` has no `label_smoothing`")
        return None
    if not nll and not constant(ctx, "label_smoothing"):
        return None
    fixed = keywords(ctx, ("weight",), tensor_code) + keywords(ctx, ("ignore_index", "reduction") if nll else ("ignore_index", "reduction", "label_smoothing"))
    return [*fixed, "log_probs=True"] if nll else fixed


@register
class TorchCrossEntropy(Rule):
    code = "T051"
    name = "TorchCrossEntropy"
    summary = "F.cross_entropy / F.nll_loss (weight, ignore_index, reduction, label_smoothing) -> torch_cross_entropy"
    torch_functions = ("torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss")
    call_signature = signature_of(_cross_entropy)
    doc = RuleDoc(
        what=(
            "`F.cross_entropy(logits, target, weight=None, ignore_index=-100, reduction='mean',\n"
            "label_smoothing=0.0)` with class-index targets (N,) / (N, d1, ...) or class-probability\n"
            "targets shaped like the logits; `F.nll_loss(log_probs, target, weight, ignore_index,\n"
            "reduction)`. Classes are on axis 1 (axis 0 for an unbatched (C,) input)."
        ),
        why=(
            "optax's `softmax_cross_entropy_with_integer_labels` has no ignore_index, no class weights,\n"
            "no label smoothing and no reduction, and puts classes last. PyTorch's mean is not a plain\n"
            "mean: targets equal to `ignore_index` (-100 by default, the usual padding label) add\n"
            "nothing and the sum is divided by the summed weight of the other targets (their count\n"
            "without `weight`); label smoothing mixes in the mean of -log p over the classes, weighted\n"
            "and normalised the same way. `torch_cross_entropy` writes that out; whether a target holds\n"
            "indices or probabilities is read from its dtype (static under jit). The class axis is\n"
            "PyTorch's: a channels-last (segmentation) output goes back to PyTorch's layout first."
        ),
        example=Example(
            torch="loss = F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)",
            flax="loss = torch_cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)  # support function",
        ),
        fidelity=(
            "Equal within float32 rounding, gradients too. All targets ignored gives nan (0/0) in both.\n"
            "Out-of-range labels raise in PyTorch; JAX clamps the gather (a wrong, finite loss)."
        ),
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        fixed = cross_entropy_keywords(ctx, nll=op == "nll_loss", tensor_code=lambda name: code(ctx, name))
        if fixed is None:
            return Emitted(cst.Name("None"))
        ctx.support(SUPPORT_NAME, SUPPORT)
        return emit(f"{SUPPORT_NAME}({', '.join([code(ctx, 'input'), code(ctx, 'target'), *fixed])})")

    def cases(self):
        @st.composite
        def cross_entropy_case(draw):
            classes = draw(st.integers(2, 5))
            batch = draw(st.integers(1, 4))
            extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
            shape = draw(st.sampled_from([(batch, classes, *extra), (classes,)]))
            # class-index targets from x; some set to the ignored label
            index = "x.argmin(dim=1)" if len(shape) > 1 else "x.argmin()"
            row = "x[:, 0]" if len(shape) > 1 else "x[0]"
            ignore = draw(st.sampled_from([-100, 0, 1]))
            targets = [index, f"torch.where({row} > 0.8, -100, {index})", f"torch.where({row} > 0.3, {ignore}, {index})"]
            target = draw(st.sampled_from(targets)) if len(shape) > 1 else index  # one unbatched target: never ignored
            args = []
            if target == targets[2] and ignore != -100:  # the -100 of the second form is the default ignore_index
                args.append(f"ignore_index={ignore}")
            if draw(st.booleans()):
                args.append(f"reduction={draw(st.sampled_from(['mean', 'sum', 'none']))!r}")
            if draw(st.booleans()):
                args.append(f"weight=torch.linspace(0.5, 2.0, {classes}, dtype=x.dtype)")
            function = draw(st.sampled_from(["cross_entropy", "cross_entropy", "nll_loss"]))
            if function == "cross_entropy" and draw(st.booleans()):
                args.append(f"label_smoothing={draw(st.sampled_from([0.1, 0.25]))}")
            logits = "x * 2" if function == "cross_entropy" else "F.log_softmax(x * 2, dim=0 if x.dim() == 1 else 1)"
            if function == "cross_entropy" and draw(st.integers(0, 4)) == 0:  # probability targets
                target = "torch.softmax(x.detach() * 0.5, dim=0 if x.dim() == 1 else 1)"
                args = [a for a in args if not a.startswith("ignore_index")]
            forward = f"F.{function}({', '.join([logits, target, *args])})"
            # 'mean' over only-ignored targets is nan in both frameworks: keep at least one target
            if "torch.where" in target:
                forward = forward.replace(target, f"torch.cat([{index}.flatten()[:1], {target}.flatten()[1:]]).reshape({index}.shape)")
            if draw(st.booleans()) and len(shape) > 1 and not extra:  # layout: logits from a conv over (N, C, H, W)
                return RuleCase("nn.Conv2d(2, 3, 1)", "F.cross_entropy(self.layer(x), self.layer(x).argmax(1), ignore_index=1)", (2, 2, 3, 3))
            return RuleCase(None, forward, shape)

        return cross_entropy_case()
