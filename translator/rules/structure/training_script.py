"""S020 TorchTrainingScript and S021 TorchTrainingScriptConstruct: a training script's module-level code.

The translation lives in ``translator.training`` (``plan.py`` reads the roles and the optimisation step,
``script.py`` emits the JAX script, ``check_train.py`` compares the two step by step); the optimisers,
schedulers and clipping are the O0xx rules, the loss modules the C0xx rules.
"""

from __future__ import annotations

from translator.rules.base import DiagnosticRule, Example, RuleDoc
from translator.rules.registry import register

MODEL = "import torch\nimport torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n" \
        "        self.fc = nn.Linear(4, 2)\n\n    def forward(self, x):\n        return self.fc(x)\n\n"

SCRIPT_EXAMPLE = (
    "model = Net()\noptimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\ncriterion = nn.CrossEntropyLoss()\n"
    "for epoch in range(3):\n    for images, labels in train_loader:\n        optimizer.zero_grad()\n"
    "        outputs = model(images)\n        loss = criterion(outputs, labels)\n        loss.backward()\n        optimizer.step()\n"
)


@register
class TorchTrainingScript(DiagnosticRule):
    code = "S020"
    name = "TorchTrainingScript"
    summary = "a training script -> TrainState + jitted train_step(state, batch) + main(); placeholder loaders reported"
    doc = RuleDoc(
        what=(
            "Module-level code that trains a model of the file: the model, optimiser, scheduler and loss it builds,\n"
            "the loop around `optimizer.zero_grad(); loss.backward(); optimizer.step()`, evaluation under\n"
            "`torch.no_grad()`, `model.train()/eval()`, `.to(device)`, `.item()`, `torch.save`, and data made with\n"
            "`torch.rand`/`TensorDataset`/`DataLoader`. A placeholder loader (`train_loader = ...`) is reported\n"
            "(warning) and replaced by synthetic batches of what the model takes."
        ),
        why=(
            "PyTorch training mutates objects: gradients accumulate in `.grad` until `zero_grad`, `step()`\n"
            "updates parameters in place, batch norm updates its buffers during forward. JAX training is a pure\n"
            "function: `jax.value_and_grad` of a loss of the parameters returns fresh gradients, optax returns\n"
            "updates, and a `TrainState` carries parameters, optimiser state and batch statistics from one\n"
            "jitted step to the next. The step is the statements the loss depends on (found by data flow), so\n"
            "the Python loop around it stays as written; the mode is each call's `train` flag, dropout keys are\n"
            "folded with the step count, and schedules count updates instead of `scheduler.step()` calls.\n"
            "`torch2flax check-train` runs both scripts side by side and compares every step."
        ),
        example=Example(
            torch=MODEL + SCRIPT_EXAMPLE,
            flax=(
                "model = Net()\ncriterion = torch_cross_entropy\nlearning_rate = 0.001\noptimizer = optax.adam(learning_rate)\n...\n"
                "@jax.jit\ndef train_step(state, images, labels):\n    def loss_fn(params):\n"
                "        outputs = state.apply_fn({'params': params}, images)\n        loss = criterion(outputs, labels)\n"
                "        return loss\n\n"
                "    loss, grads = jax.value_and_grad(loss_fn)(state.params)\n"
                "    state = state.apply_gradients(grads=grads)\n    return state, loss\n...\n"
                "for epoch in range(3):\n    for images, labels in train_loader:\n"
                "        state, loss = train_step(state, images, labels)"
            ),
        ),
        fidelity=(
            "Checked step by step by `check-train` (loss, learning rate, every parameter and batch statistic, float32\n"
            "and float64): the seed's CNN script agrees to 3e-14 in float64 over 5 steps; 11 of 15 exercise-style\n"
            "scripts pass, the others are reported at their lines (benchmarks/training_trial.py)."
        ),
    )
    flagged_examples = (MODEL + "train_loader = ...\n" + SCRIPT_EXAMPLE,)


@register
class TorchTrainingScriptConstruct(DiagnosticRule):
    code = "S021"
    name = "TorchTrainingScriptConstruct"
    summary = "a training-script construct not translated yet (frozen params, a model's own tensors read, ...): reported"
    doc = RuleDoc(
        what=(
            "Constructs of a training script the S020 translation does not handle: reading the PyTorch model's own\n"
            "tensors (`model.fc.weight`), a model rebound to torch layers, two steps of one model in one pass, a\n"
            "model with batch norm called twice in one loss, a metric-driven scheduler (ReduceLROnPlateau), a\n"
            "random draw in a loop without a counter, an optimiser whose model cannot be told."
        ),
        why=(
            "Each would need the translation to guess: the parameters live in the TrainState under Flax names and\n"
            "layouts, batch statistics and RNG keys must be threaded explicitly, and a metric-driven schedule must\n"
            "be updated with that metric. Reported at the line, never translated silently."
        ),
        example=Example(torch="print(model.fc.weight.sum().item())", flax="# TODO(torch2flax): S021 `model.fc.weight` reads the PyTorch model's own tensor"),
        fidelity="Not translated: reported (exit code 1).",
    )
    flagged_examples = (
        MODEL + SCRIPT_EXAMPLE.replace("train_loader", "[(torch.randn(2, 4), torch.tensor([0, 1]))]")
        + "print(model.fc.weight.sum().item())\n",
    )
