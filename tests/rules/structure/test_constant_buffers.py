"""Rule S009: a persistent buffer that is a constant (a causal mask) is computed in setup, not stored as a
variable; the port checks the checkpoint's value against it, export writes it back, and every buffer that
is state (written by the class, passed in, drawn) stays a ported variable."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import run_cli
from translator import export_checkpoint, port_checkpoint
from translator.diagnostics import PortError
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec
from translator.rewrite.pipeline import translate_source
from translator.weights.plan import flatten_variables

MASKED = '''
import math
import torch
import torch.nn as nn


class Masked(nn.Module):
    def __init__(self, width=4, block=6):
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.register_buffer("mask", torch.tril(torch.ones(block, block)).view(1, block, block))
        position = torch.arange(block).unsqueeze(1)
        self.register_buffer("table", torch.sin(position * math.pi / block))  # reads a local: state

    def forward(self, x):
        T = x.shape[1]
        scores = self.proj(x) @ x.transpose(1, 2)
        scores = scores.masked_fill(self.mask[:, :T, :T] == 0, float("-inf"))
        return torch.softmax(scores, dim=-1) @ x + self.table[:T]
'''


def write(tmp_path, text=MASKED, name="masked.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_constant_mask_is_computed_in_setup_and_state_stays_a_variable(tmp_path):
    translation = translate_source(MASKED, "masked.py")
    assert translation.constant_buffers == {"Masked": frozenset({"mask"})}
    assert "self.mask = jnp.tril(jnp.ones((self.block, self.block))).reshape(1, self.block, self.block)" in translation.code
    assert '"buffers", "table"' in translation.code


@pytest.mark.parametrize("train", [False, True])
def test_the_masked_model_checks(tmp_path, train):
    report = check(write(tmp_path), "Masked", [parse_spec("float32[2,5,4]")], examples=3, train=train)
    assert report.verdict == "pass", report.failure


def test_port_checks_the_mask_and_export_writes_it_back(tmp_path):
    path = write(tmp_path)
    torch.manual_seed(0)
    model = __import__("runpy").run_path(str(path))["Masked"]()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    result = port_checkpoint(path, "Masked", tmp_path / "model.pt", tmp_path / "model.msgpack")
    keys = set(flatten_variables(result.variables))
    assert "buffers/table" in keys and not any(k.endswith("mask") for k in keys)
    assert ("mask", "a constant the translation computes in setup (S009); its value is checked") in result.plan.dropped
    exported = export_checkpoint(path, "Masked", tmp_path / "model.msgpack", tmp_path / "back.pt")
    assert not any("mask" in note for note in exported.notes)  # nothing lost: the value is the translation's
    back = torch.load(tmp_path / "back.pt")
    model.load_state_dict(back, strict=True)
    np.testing.assert_array_equal(back["mask"].numpy(), np.tril(np.ones((6, 6)))[None])


def test_a_checkpoint_whose_mask_was_changed_is_refused_naming_the_key(tmp_path, capsys):
    path = write(tmp_path)
    model = __import__("runpy").run_path(str(path))["Masked"]()
    state = model.state_dict()
    state["mask"][0, 0, 1] = 1.0  # one future position let through
    torch.save(state, tmp_path / "changed.pt")
    with pytest.raises(PortError, match=r"rule S009.*mask \(differs by up to 1\)"):
        port_checkpoint(path, "Masked", tmp_path / "changed.pt")
    code, out, err = run_cli(capsys, "port", path, "--class", "Masked", "--weights", tmp_path / "changed.pt",
                             "-o", tmp_path / "changed.msgpack")
    assert code != 0 and "mask" in err and not (tmp_path / "changed.msgpack").exists()


STATE = '''
import torch
import torch.nn as nn


def update(buffer):
    buffer.add_(1)


class Buffers(nn.Module):
    def __init__(self, table, width=3):
        super().__init__()
        self.register_buffer("ema", torch.zeros(width))            # written in forward
        self.register_buffer("counts", torch.zeros(width))         # written by subscript
        self.register_buffer("init_zeroed", torch.ones(width))     # torch.nn.init writes it
        self.register_buffer("passed", table)                      # a tensor passed in
        self.register_buffer("via_data", torch.ones(width))        # .data written
        self.register_buffer("helper", torch.ones(width))          # handed to a function of the file
        self.register_buffer("method", torch.ones(width))          # handed to a method of the class
        self.register_buffer("uninitialised", torch.empty(width))  # no value to compute
        self.register_buffer("kept", torch.full((width,), 2.0))    # a constant
        torch.nn.init.zeros_(self.init_zeroed)
        self.via_data.data = torch.zeros(width)

    def bump(self, buffer):
        return buffer

    def forward(self, x):
        self.ema.mul_(0.9).add_(0.1 * x.mean(0))
        self.counts[0] = 1.0
        update(self.helper)
        self.bump(self.method)
        return x * self.kept + self.ema + self.counts + self.init_zeroed + self.passed + self.via_data
'''


def test_buffers_that_are_state_stay_variables():
    translation = translate_source(STATE, "buffers.py")
    assert translation.constant_buffers == {"Buffers": frozenset({"kept"})}


def test_a_buffer_a_subclass_writes_stays_a_variable():
    source = MASKED + (
        "\n\nclass Decaying(Masked):\n    pass\n\n\nclass Writing(Decaying):\n"
        "    def forward(self, x):\n        self.mask.mul_(0.5)\n        return super().forward(x)\n"
    )
    assert "Masked" not in translate_source(source, "masked.py").constant_buffers


def test_the_built_models_buffers_stay_variables(tmp_path):
    """Its regenerated source holds placeholders (zeros) for every buffer: none may be taken as a constant.
    (fx writes the mask's fill value as a bare `-inf`: the regenerated source says `float("-inf")`.)"""
    path = write(tmp_path)
    report = check(path, "Masked", [parse_spec("float32[2,5,4]")], examples=2, build="Masked()")
    assert report.verdict == "pass", report.failure
    assert "Masked.forward" in report.traced


def test_a_boolean_mask_is_compared_exactly(tmp_path):
    path = write(tmp_path, MASKED.replace("torch.tril(torch.ones(block, block))", "torch.ones(block, block, dtype=torch.bool).tril()"),
                 "boolean.py")
    assert "mask" in translate_source(path.read_text(), "boolean.py").constant_buffers["Masked"]
    model = __import__("runpy").run_path(str(path))["Masked"]()
    state = model.state_dict()
    torch.save(state, tmp_path / "same.pt")
    assert port_checkpoint(path, "Masked", tmp_path / "same.pt").variables
    state["mask"][0, 5, 0] = False
    torch.save(state, tmp_path / "changed.pt")
    with pytest.raises(PortError, match=r"mask \(differs by up to 1\)"):
        port_checkpoint(path, "Masked", tmp_path / "changed.pt")
