"""C001 TorchCrossEntropyLoss: ``nn.CrossEntropyLoss`` / ``nn.NLLLoss`` -> T051's ``torch_cross_entropy``, as a callable."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.losses._support import (
    callable_code,
    constant_tensors,
    failed_layer,
    loss_layer,
)
from translator.rules.registry import register
from translator.rules.tensor_ops.cross_entropy import SUPPORT, SUPPORT_NAME, cross_entropy_keywords


@register
class TorchCrossEntropyLoss(Rule):
    code = "C001"
    name = "TorchCrossEntropyLoss"
    summary = "nn.CrossEntropyLoss / nn.NLLLoss (weight, ignore_index, reduction, label_smoothing) -> partial(torch_cross_entropy, ...)"
    torch_classes = ("torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss")
    tensor_arguments = ("weight",)
    doc = RuleDoc(
        what=(
            "`nn.CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)`\n"
            "and `nn.NLLLoss(weight=None, ignore_index=-100, reduction='mean')` held by a model\n"
            "(`self.criterion = ...` in `__init__`, `self.criterion(logits, target)` in `forward`).\n"
            "`weight` may be any tensor expression (`torch.tensor([1.0, 3.0])`); the deprecated\n"
            "`size_average`/`reduce` are reported."
        ),
        why=(
            "A loss module holds no state to train, so it becomes the pure function its functional\n"
            "form calls (T051's `torch_cross_entropy`, classes on axis 1, PyTorch's weighted mean over\n"
            "non-ignored targets), with the constructor's arguments fixed by `functools.partial`.\n"
            "optax's `softmax_cross_entropy_with_integer_labels` puts classes last and has no weight,\n"
            "ignore_index, label smoothing or reduction. The class weight is a buffer of the PyTorch\n"
            "module (in its state dict): the translation computes it in `setup` from the same argument\n"
            "and the port drops it, saying so."
        ),
        example=Example(
            torch="self.criterion = nn.CrossEntropyLoss(label_smoothing=0.1)\nloss = self.criterion(logits, target)",
            flax="self.criterion = partial(torch_cross_entropy, label_smoothing=0.1)\nloss = self.criterion(logits, target)",
        ),
        fidelity=(
            "Equal within float32 rounding, outputs and gradients, for every reduction, class weights,\n"
            "ignore_index and label smoothing (the functional rule T051's support function). A\n"
            "checkpoint's `criterion.weight` is not read: the constructor's value is used."
        ),
    )

    def build_layer(self, ctx):
        nll = getattr(ctx.target, "__name__", "") == "NLLLoss"
        fixed = cross_entropy_keywords(ctx, nll)
        if fixed is None:
            return failed_layer()
        note = f"{ctx.target.__name__} -> {SUPPORT_NAME} with the constructor's arguments fixed: a pure function, no Flax layer"
        return loss_layer(callable_code(SUPPORT_NAME, fixed), ((SUPPORT_NAME, SUPPORT),), note)

    def weight_layout(self, module):
        return constant_tensors(module, ("weight",), self.code)

    def cases(self):
        @st.composite
        def cross_entropy_loss_case(draw):
            classes = draw(st.integers(2, 5))
            extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
            shape = (draw(st.integers(1, 4)), classes, *extra)
            module = draw(st.sampled_from(["CrossEntropyLoss", "CrossEntropyLoss", "NLLLoss"]))
            args = []
            ignore = draw(st.sampled_from([None, 0, 2]))
            target = "x.argmin(dim=1)"
            if ignore is not None:  # some targets ignored, the first one kept ('mean' of nothing is nan in both)
                args.append(f"ignore_index={ignore}")
                target = f"torch.cat([x.argmin(dim=1).flatten()[:1], torch.where(x[:, 0] > 0.3, {ignore}, x.argmin(dim=1)).flatten()[1:]]).reshape(x.argmin(dim=1).shape)"
            if draw(st.booleans()):
                args.append(f"reduction={draw(st.sampled_from(['mean', 'sum', 'none']))!r}")
            weights = draw(st.sampled_from([None, "torch.tensor", "torch.linspace"]))
            if weights == "torch.tensor":
                args.append(f"weight=torch.tensor({[0.5 + 0.25 * i for i in range(classes)]})")
            elif weights == "torch.linspace":
                args.append(f"weight=torch.linspace(2.0, 0.5, {classes})")
            if module == "CrossEntropyLoss" and draw(st.booleans()):
                args.append(f"label_smoothing={draw(st.sampled_from([0.1, 0.3]))}")
            logits = "x * 2" if module == "CrossEntropyLoss" else "F.log_softmax(x * 2, dim=1)"
            if module == "CrossEntropyLoss" and ignore is None and draw(st.integers(0, 3)) == 0:  # probability targets
                target = "torch.softmax(x * 0.5, dim=1)"  # not detached: the gradient flows through the target too
            return RuleCase(f"nn.{module}({', '.join(args)})", f"self.layer({logits}, {target})", shape)

        return cross_entropy_loss_case()
