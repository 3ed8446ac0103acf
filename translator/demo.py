"""``torch2flax demo``: the three jobs, on the seed document's models, as a new user would run them."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.syntax import Syntax

import reference_models
from translator.diagnostics import UsageError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
REFERENCE = Path(reference_models.__file__).parent


def run_demo(console: Console) -> int:
    from translator.cli import print_check_table
    from translator.equivalence.check import STAGES, check
    from translator.equivalence.specs import parse_spec
    from translator.rewrite.pipeline import translate_source
    from translator.weights.port import port_checkpoint

    seed_cnn = EXAMPLES / "seed_cnn.py"
    if not seed_cnn.exists():
        raise UsageError(f"{seed_cnn}: the demo needs the source checkout (install with `pip install -e .`)")

    console.print(Rule("1. translate: the seed document's CNN (examples/seed_cnn.py)"))
    console.print("$ torch2flax translate examples/seed_cnn.py", markup=False)
    translation = translate_source(seed_cnn.read_text(), "examples/seed_cnn.py")
    console.print(Syntax(translation.code, "python", theme="ansi_dark"))
    for diagnostic in translation.diagnostics:
        console.print(diagnostic.format(), markup=False, style="yellow")
    console.print(f"{len(translation.diagnostics)} note(s): the placeholder loaders became synthetic batches (S020); "
                  "the training loop is a jitted train_step over a TrainState.")
    from translator.explain import explain_page, explain_source, write_page

    page = write_page(explain_page(explain_source(seed_cnn.read_text(), "examples/seed_cnn.py")),
                      Path(tempfile.gettempdir()) / "torch2flax-explain" / "seed_cnn.html")
    console.print(f"explain page (PyTorch beside Flax, every rule explained): {page.as_uri()}  "
                  "(`torch2flax explain examples/seed_cnn.py -o PAGE.html` writes it)", markup=False)

    lenet = REFERENCE / "lenet5.py"
    console.print(Rule("2. port: LeNet-5 weights from a PyTorch checkpoint"))
    with tempfile.TemporaryDirectory() as tmp:
        import torch

        from reference_models.lenet5 import LeNet5

        torch.manual_seed(0)
        checkpoint = Path(tmp) / "lenet5.pt"
        torch.save(LeNet5().state_dict(), checkpoint)
        output = Path(tmp) / "lenet5.msgpack"
        console.print(f"$ torch2flax port {lenet.relative_to(REPO)} --class LeNet5 --weights lenet5.pt -o lenet5.msgpack", markup=False)
        result = port_checkpoint(lenet, "LeNet5", checkpoint, output)
        for t in result.plan.tensors:
            console.print(f"  {t.torch_key:12s} {str(t.torch_shape):18s} -> {t.flax_key:26s} {t.transform.describe()}", markup=False)
        console.print(f"wrote {output.name}: {result.parameter_count:,} values, {output.stat().st_size:,} bytes")

    console.print(Rule("3. check: outputs and gradients, Hypothesis-drawn inputs"))
    console.print(f"$ torch2flax check {lenet.relative_to(REPO)} --class LeNet5 --input 'float32[4,1,28,28]' --examples 10", markup=False)
    report = check(lenet, "LeNet5", [parse_spec("float32[4,1,28,28]")], examples=10, stages=STAGES)
    print_check_table(report)

    from translator.training.check_train import check_train, print_train_table

    console.print(Rule("4. check-train: the seed's training loop, step by step (PyTorch's step vs the jitted train_step)"))
    console.print("$ torch2flax check-train examples/seed_cnn.py --steps 3", markup=False)
    trained = check_train(seed_cnn, steps=3)
    print_train_table(trained, console)
    return 0 if report.ok and translation.ok and trained.ok else 1
