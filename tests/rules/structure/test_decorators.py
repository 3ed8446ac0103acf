"""S018/S012 on methods: compile decorators go, a `@torch.no_grad()` method or a `return` inside
`with torch.no_grad():` returns `jax.lax.stop_gradient(...)`, and the check sees the difference."""

from __future__ import annotations

import pytest

from translator.api import translate_file
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec

MODEL = """\
import torch
import torch.nn as nn


@torch.jit.script
def gelu(x):
    return x * 0.5 * (1.0 + torch.erf(x / 1.4142135))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.head = nn.Linear(3, 3)

    @torch.no_grad()
    def frozen(self, x):
        return self.fc(x), self.head(self.fc(x))

    def frozen_block(self, x):
        with torch.no_grad():
            y = self.head(x)
            return y * 2.0

    @torch.jit.export
    def features(self, x):
        return gelu(self.fc(x))

    @torch.jit.unused
    def unused(self, x):
        return x

    @staticmethod
    def scale(x):
        return x * 0.5

    @torch.jit.ignore
    def forward(self, x):
        a, b = self.frozen(x)
        return self.head(a) + b + self.frozen_block(self.features(x)) + self.scale(self.fc(x))
"""


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "decorated.py"
    path.write_text(MODEL)
    return path


def test_decorators_translate_and_check(model_path):
    translation = translate_file(str(model_path))
    assert translation.ok, translation.diagnostics
    code = translation.code
    lines = [line for line in code.splitlines() if not line.strip().startswith("#")]
    assert not [line for line in lines if "torch." in line], code
    assert "y = jax.lax.stop_gradient(y)" not in code  # after the block's return: dead
    assert [line.strip() for line in lines if line.strip().startswith("@")] == ["@staticmethod"], code
    assert "return jax.lax.stop_gradient((self.fc(x), self.head(self.fc(x))))" in code, code
    assert "return jax.lax.stop_gradient(y * 2.0)" in code, code
    assert "# S018: @torch.jit.script -> removed" in code and "# S018: @torch.jit.ignore -> removed" in code
    assert "# S018: @torch.jit.export, @torch.jit.unused" not in code  # one note per decorator list
    report = check(str(model_path), "Net", [parse_spec("float32[2,4]")], examples=2)
    assert report.ok, report.to_json()


def test_the_check_fails_without_the_stopped_gradients(model_path, tmp_path):
    """The model is sensitive to the rule: the translation with its stop_gradient calls removed fails."""
    code = translate_file(str(model_path)).code
    unstopped = code.replace("jax.lax.stop_gradient(", "(")
    assert unstopped != code
    flax_path = tmp_path / "unstopped_flax.py"
    flax_path.write_text(unstopped)
    report = check(str(model_path), "Net", [parse_spec("float32[2,4]")], flax_source=str(flax_path), examples=1,
                   stages=("spec", "numeric"))
    assert not report.ok


@pytest.mark.parametrize("decorator", ["@torch.compile", '@torch.compile(mode="reduce-overhead")', "@no_grad()", "@torch.inference_mode()"])
def test_decorator_spellings(decorator):
    """Resolved by qualified name (an imported `no_grad` too); the call form and the bare name alike."""
    from translator.rewrite.pipeline import translate_source

    source = (
        "import torch\nimport torch.nn as nn\nfrom torch import no_grad\n\n\n"
        f"class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 3)\n\n"
        f"    {decorator}\n    def forward(self, x):\n        return self.fc(x)\n"
    )
    translation = translate_source(source, "net.py")
    assert not [d for d in translation.diagnostics if d.severity.name == "ERROR"], translation.diagnostics
    stops = "compile" not in decorator
    assert ("return jax.lax.stop_gradient(self.fc(x))" in translation.code) == stops, translation.code
    assert "\n    @" not in translation.code, translation.code


def test_check_runs_a_compiled_forward_eagerly(tmp_path):
    """`@torch.compile` on the PyTorch side: the check's reference is the eager run (no inductor build)."""
    path = tmp_path / "compiled.py"
    path.write_text(MODEL.replace("    @torch.jit.ignore\n    def forward", "    @torch.compile\n    def forward"))
    assert "@torch.compile" in path.read_text()
    report = check(str(path), "Net", [parse_spec("float32[2,4]")], examples=1)
    assert report.ok, report.to_json()


AUTOCAST_OFF = [
    'torch.autocast("cuda", enabled=False)',
    'torch.amp.autocast("cuda", enabled=False)',
    "torch.autocast(device_type=x.device.type, enabled=False)",
    "torch.cuda.amp.autocast(False)",
    "torch.autocast(x.device.type, torch.float32)",
]


def autocast_source(form: str, context: str) -> str:
    head = "import torch\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 3)\n\n"
    if form == "with":
        return head + f"    def forward(self, x):\n        with {context}:\n            y = self.fc(x).float()\n        return y * 2.0\n"
    return head + f"    @{context}\n    def forward(self, x):\n        return self.fc(x) * 2.0\n"


@pytest.mark.parametrize("form", ["with", "decorator"])
@pytest.mark.parametrize("context", AUTOCAST_OFF)
def test_autocast_off_keeps_the_body(form, context):
    """Autocast switched off (the float32 idiom of rotary embeddings and norms): the body as written, no leftover."""
    from translator.rewrite.pipeline import translate_source

    if form == "decorator" and "x.device" in context:
        context = context.replace("x.device.type", '"cpu"')  # a decorator cannot read the input
    translation = translate_source(autocast_source(form, context), "net.py")
    assert translation.ok, translation.diagnostics
    code_lines = [line for line in translation.code.splitlines() if not line.strip().startswith("#")]
    assert not [line for line in code_lines if "torch." in line or "autocast" in line], translation.code
    assert "autocast off" in translation.code  # the note says why it went


@pytest.mark.parametrize("context", ['torch.autocast("cpu", dtype=torch.bfloat16)', 'torch.autocast("cuda")'])
def test_autocast_on_is_reported(context):
    """Mixed precision changes the numbers: not translated, reported at its line."""
    from translator.rewrite.pipeline import translate_source

    translation = translate_source(autocast_source("with", context), "net.py")
    assert not translation.ok and any(d.line == 11 and d.code == "X001" for d in translation.errors), translation.diagnostics


def test_check_passes_with_autocast_off(tmp_path):
    path = tmp_path / "autocast_off.py"
    path.write_text(autocast_source("with", AUTOCAST_OFF[2]))
    report = check(str(path), "Net", [parse_spec("float32[2,4]")], examples=1, stages=("spec", "numeric"))
    assert report.ok, report.to_json()
