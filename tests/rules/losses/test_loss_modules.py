"""Loss modules (rules C001-C005) outside the catalogue's generated cases.

* ``translate_loss_module`` (the training-script translator's entry point): the emitted callable is
  executed and compared with the PyTorch module, loss and input gradient, for every loss module and
  reduction, including tensor ``weight``/``pos_weight`` and class-index targets;
* what it reports instead of guessing (legacy ``size_average``/``reduce``, a reduction that is not a
  constant, a loss with no rule), located at the constructor;
* PyTorch's edges the random cases do not reach (BCE at probabilities of exactly 0 and 1);
* a model holding a loss module: the class weight buffer is dropped from the port, saying why; a
  user-written loss module (a Dice loss) translates as any ``nn.Module`` of the file.
"""

from __future__ import annotations

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch import nn

from translator.equivalence.rule_cases import compare_module
from translator.equivalence.specs import InputSpec
from translator.naming import resolve
from translator.rewrite.context import FileContext, code_of
from translator.rewrite.pipeline import translate_source
from translator.rules.registry import all_rules
from translator.training.losses import translate_loss_module
from translator.weights.plan import plan_port

HEADER = "import torch\nimport torch.nn as nn\nfrom torch.nn import CrossEntropyLoss\n\ncriterion = "
EXEC_HEADER = "import jax\nimport jax.numpy as jnp\nfrom functools import partial\n"
RNG = np.random.default_rng(17)


def translate_constructor(constructor: str) -> tuple[str | None, FileContext]:
    """``criterion = <constructor>`` at module level, through ``translate_loss_module``: (expression source, file)."""
    resolved = resolve(HEADER + constructor + "\n")
    file = FileContext(resolved, "train.py")
    call = resolved.module.body[-1].body[0].value
    expression = translate_loss_module(call, file)
    return (code_of(expression) if expression is not None else None), file


def emitted_callable(constructor: str):
    expression, file = translate_constructor(constructor)
    assert expression is not None, file.diagnostics
    assert not file.diagnostics, file.diagnostics
    namespace: dict = {}
    exec(EXEC_HEADER + "\n\n".join(file.support.values()) + f"\ncriterion = {expression}\n", namespace)
    return namespace["criterion"], expression


# ----------------------------------------------------------------------------- inputs


def logits_and_indices(ignore: int | None = None, spatial: bool = False):
    shape = (5, 4, 3) if spatial else (6, 4)
    logits = RNG.standard_normal(shape).astype(np.float32) * 2
    target = RNG.integers(0, 4, size=(shape[0], *shape[2:]))
    if ignore is not None:
        target.reshape(-1)[1::3] = ignore  # a third of the targets ignored, the first one kept
    return logits, target.astype(np.int64)


def probabilities_target():
    logits = RNG.standard_normal((6, 4)).astype(np.float32)
    return logits, torch.softmax(torch.tensor(RNG.standard_normal((6, 4)), dtype=torch.float32), 1).numpy()


def regression_pair():
    prediction = RNG.standard_normal((4, 5)).astype(np.float32) * 2
    target = prediction.copy()
    target[:, :3] = RNG.standard_normal((4, 3))  # two columns of exact zero error: PyTorch's gradient there is 0
    return prediction, target


def probabilities_and_labels():
    probabilities = torch.sigmoid(torch.tensor(RNG.standard_normal((6, 3)) * 2, dtype=torch.float32)).numpy()
    return probabilities, (RNG.random((6, 3)) > 0.5).astype(np.float32)


def logits_and_labels():
    return RNG.standard_normal((6, 3)).astype(np.float32) * 3, RNG.random((6, 3)).astype(np.float32)


def log_probabilities_pair(log_target: bool = False):
    log_q = torch.log_softmax(torch.tensor(RNG.standard_normal((5, 4)), dtype=torch.float32), 1).numpy()
    p = torch.softmax(torch.tensor(RNG.standard_normal((5, 4)), dtype=torch.float32), 1)
    return log_q, (torch.log(p) if log_target else p).numpy()


def ranked_scores():
    first = RNG.standard_normal(7).astype(np.float32)
    second = np.round(RNG.standard_normal(7)).astype(np.float32)
    return first, second, np.where(RNG.random(7) > 0.5, 1.0, -1.0).astype(np.float32)


def signed_labels():
    return RNG.standard_normal((6, 3)).astype(np.float32) * 2, np.where(RNG.random((6, 3)) > 0.5, 1.0, -1.0).astype(np.float32)


REDUCTIONS = ("mean", "sum", "none")
#: (constructor, inputs): every loss module, every reduction, and each tensor argument
CASES = [
    *[(f"nn.CrossEntropyLoss(reduction={r!r})", lambda: logits_and_indices()) for r in REDUCTIONS],
    *[(f"nn.CrossEntropyLoss(weight=torch.tensor([0.5, 2.0, 1.0, 1.5]), ignore_index=0, reduction={r!r})",
       lambda: logits_and_indices(ignore=0, spatial=True)) for r in REDUCTIONS],
    ("CrossEntropyLoss(label_smoothing=0.1)", lambda: logits_and_indices(ignore=-100)),
    ("nn.CrossEntropyLoss(label_smoothing=0.2, weight=torch.linspace(0.5, 2.0, 4))", lambda: logits_and_indices(ignore=-100)),
    ("nn.CrossEntropyLoss(label_smoothing=0.1)", probabilities_target),
    *[(f"nn.NLLLoss(reduction={r!r}, weight=torch.tensor([1.0, 0.5, 2.0, 1.0]))", lambda: logits_and_indices(ignore=-100)) for r in REDUCTIONS],
    *[(f"nn.{m}(reduction={r!r})", regression_pair) for m in ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss") for r in REDUCTIONS],
    ("nn.SmoothL1Loss(beta=0.5)", regression_pair),
    ("nn.SmoothL1Loss(beta=0.0)", regression_pair),
    ("nn.HuberLoss(delta=2.0, reduction='sum')", regression_pair),
    *[(f"nn.BCELoss(reduction={r!r})", probabilities_and_labels) for r in REDUCTIONS],
    ("nn.BCELoss(weight=torch.tensor([1.0, 2.0, 0.5]))", probabilities_and_labels),
    *[(f"nn.BCEWithLogitsLoss(reduction={r!r})", logits_and_labels) for r in REDUCTIONS],
    ("nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0, 1.0, 0.5]))", logits_and_labels),
    ("nn.BCEWithLogitsLoss(weight=torch.tensor([2.0, 1.0, 1.0]), pos_weight=torch.full((3,), 4.0), reduction='sum')", logits_and_labels),
    *[(f"nn.KLDivLoss(reduction={r!r})", log_probabilities_pair) for r in (*REDUCTIONS, "batchmean")],
    ("nn.KLDivLoss(reduction='batchmean', log_target=True)", lambda: log_probabilities_pair(log_target=True)),
    *[(f"nn.MarginRankingLoss(margin=0.5, reduction={r!r})", ranked_scores) for r in REDUCTIONS],
    *[(f"nn.SoftMarginLoss(reduction={r!r})", signed_labels) for r in REDUCTIONS],
    *[(f"nn.MultiLabelSoftMarginLoss(weight=torch.tensor([1.0, 2.0, 0.5]), reduction={r!r})", logits_and_labels) for r in REDUCTIONS],
]


def torch_loss_and_grad(constructor: str, input: np.ndarray, *others: np.ndarray, cotangent: np.ndarray):
    """The loss of ``constructor``'s module on (input, *others) and the gradient of sum(loss * cotangent) in ``input``."""
    module = eval(constructor, {"torch": torch, "nn": nn, "CrossEntropyLoss": nn.CrossEntropyLoss})
    x = torch.tensor(input, requires_grad=True)
    loss = module(x, *map(torch.tensor, others))
    (loss * torch.tensor(cotangent)).sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def close(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(expected), initial=0.0)) + 1e-6, err_msg=what)


@pytest.mark.parametrize(("constructor", "inputs"), CASES, ids=[c for c, _ in CASES])
def test_translated_criterion_matches_torch(constructor, inputs):
    criterion, expression = emitted_callable(constructor)
    input, *others = inputs()
    expected_loss, _ = torch_loss_and_grad(constructor, input, *others, cotangent=np.ones(()))
    cotangent = RNG.standard_normal(expected_loss.shape).astype(np.float32)
    expected_loss, expected_grad = torch_loss_and_grad(constructor, input, *others, cotangent=cotangent)
    others = [jnp.asarray(o) for o in others]
    grad = jax.grad(lambda x: jnp.sum(criterion(x, *others) * cotangent))(jnp.asarray(input))
    close(criterion(jnp.asarray(input), *others), expected_loss, f"loss of {expression}")
    close(grad, expected_grad, f"input gradient of {expression}")


def test_translated_criterion_runs_under_jit():
    criterion, _ = emitted_callable("nn.CrossEntropyLoss(weight=torch.tensor([0.5, 2.0, 1.0, 1.5]), ignore_index=0)")
    logits, target = logits_and_indices(ignore=0)
    expected, _ = torch_loss_and_grad("nn.CrossEntropyLoss(weight=torch.tensor([0.5, 2.0, 1.0, 1.5]), ignore_index=0)", logits, target, cotangent=np.ones(()))
    close(jax.jit(criterion)(logits, target), expected, "jitted cross-entropy")


def test_emitted_expressions_read_like_the_constructor():
    assert translate_constructor("nn.CrossEntropyLoss()")[0] == "torch_cross_entropy"
    assert translate_constructor("nn.CrossEntropyLoss(label_smoothing=0.1)")[0] == "partial(torch_cross_entropy, label_smoothing=0.1)"
    assert translate_constructor("nn.NLLLoss()")[0] == "partial(torch_cross_entropy, log_probs=True)"
    assert translate_constructor("nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0]))")[0] == (
        "partial(torch_binary_cross_entropy_with_logits, pos_weight=jnp.asarray([3.0]))"
    )
    assert translate_constructor("nn.MSELoss()")[0] == "lambda input, target: jnp.mean(jnp.square(input - target))"


@pytest.mark.parametrize(
    ("constructor", "code", "message"),
    [
        ("nn.MSELoss(size_average=False)", "C002", "size_average"),
        ("nn.CrossEntropyLoss(reduce=False)", "C001", "size_average"),
        ("nn.BCELoss(reduction=mode)", "C003", "constant"),
        ("nn.KLDivLoss(reduction='batch')", "C005", "'batch'"),
        ("nn.CrossEntropyLoss(label_smoothing=smoothing)", "C001", "label_smoothing"),
        ("nn.CTCLoss()", "X001", "CTCLoss"),
        ("nn.Linear(3, 4)", "X001", "Linear"),
    ],
)
def test_untranslatable_constructor_is_reported_at_its_line(constructor, code, message):
    expression, file = translate_constructor(constructor)
    assert expression is None
    assert [(d.code, d.line) for d in file.diagnostics] == [(code, HEADER.count("\n") + 1)]
    assert message in file.diagnostics[0].message


def test_binary_cross_entropy_at_probabilities_zero_and_one():
    """PyTorch clamps each log at -100 and its backward divides by max(x(1 - x), 1e-12): finite everywhere."""
    criterion, _ = emitted_callable("nn.BCELoss(reduction='none')")
    input = np.array([0.0, 1.0, 0.0, 1.0, 0.5], np.float32)
    target = np.array([0.0, 1.0, 1.0, 0.0, 0.3], np.float32)
    expected_loss, expected_grad = torch_loss_and_grad("nn.BCELoss(reduction='none')", input, target, cotangent=np.ones(5, np.float32))
    loss, vjp = jax.vjp(lambda x: criterion(x, target), jnp.asarray(input))
    assert np.all(np.isfinite(expected_grad)) and float(np.max(expected_loss)) == 100.0
    close(loss, expected_loss, "clamped loss")
    close(vjp(jnp.ones(5))[0], expected_grad, "PyTorch's backward at the clamp")


MODEL_WITH_LOSS = """
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.fc = nn.Linear(4, classes)
        self.criterion = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)

    def forward(self, x):
        logits = self.fc(x)
        return self.criterion(logits, logits.argmax(dim=1))
"""


def test_model_holding_a_loss_translates_and_ports_without_its_weight_buffer():
    translation = translate_source(MODEL_WITH_LOSS, "classifier.py")
    assert not translation.diagnostics, translation.diagnostics
    expected = "self.criterion = partial(torch_cross_entropy, weight=jnp.asarray([1.0, 2.0, 0.5]), label_smoothing=0.1)"
    assert "".join(expected.split()) in "".join(translation.code.split())  # (black wraps the line)
    namespace: dict = {}
    exec(MODEL_WITH_LOSS, namespace)
    plan = plan_port(namespace["Classifier"]())
    assert [key for key, reason in plan.dropped if "C001" in reason] == ["criterion.weight"]
    compare_module(MODEL_WITH_LOSS, "Classifier", InputSpec("float32", (5, 4)), RNG.standard_normal((5, 4)).astype(np.float32))


USER_LOSS = """
import torch
import torch.nn as nn


class DiceLoss(nn.Module):
    def __init__(self, smooth=1.0):
        super().__init__()
        self.smooth = smooth

    def forward(self, pred, target):
        intersection = (pred * target).sum()
        return 1 - (2 * intersection + self.smooth) / (pred.sum() + target.sum() + self.smooth)


class Segmenter(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(2, 1, 1)
        self.dice = DiceLoss()

    def forward(self, x):
        return self.dice(torch.sigmoid(self.head(x)), (x[:, :1] > 0).float())
"""


def test_user_loss_module_translates_as_a_module_of_the_file():
    translation = translate_source(USER_LOSS, "dice.py")
    assert not translation.diagnostics, translation.diagnostics
    assert "class DiceLoss(nn.Module):" in translation.code and "def __call__(self, pred, target):" in translation.code
    compare_module(USER_LOSS, "Segmenter", InputSpec("float32", (2, 2, 3, 3)), RNG.standard_normal((2, 2, 3, 3)).astype(np.float32))


def test_every_loss_of_the_issue_has_a_rule():
    claimed = {c for rule in all_rules() for c in rule.torch_classes}
    for name in ("CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
                 "MarginRankingLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss"):
        assert f"torch.nn.{name}" in claimed, name


def test_functional_and_module_forms_share_one_support_function():
    model = textwrap.dedent(
        """
        import torch.nn as nn


        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.bce = nn.BCEWithLogitsLoss()

            def forward(self, x):
                return self.bce(x, x.sigmoid()) + F.binary_cross_entropy_with_logits(x, x.sigmoid())
        """
    )
    code = translate_source(model, "m.py").code
    assert code.count("def torch_binary_cross_entropy_with_logits(") == 1
    assert code.count("def torch_loss_reduction(") == 1
