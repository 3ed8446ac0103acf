"""``torch2flax check`` stages on the command line: --stages, the per-stage JSON and table, B dims,
--replay (the reproducing command), --device gpu without a GPU, and the GPU script's logic on CPU."""

import json
import shlex
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import run_cli  # noqa: E402  (tests/ is on sys.path)

from translator.equivalence.device import gpu_problem
from translator.rewrite.pipeline import translate_source

ROOT = Path(__file__).resolve().parents[2]

TANH_MLP = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    class T(nn.Module):
        def __init__(self, width=8):
            super().__init__()
            self.fc = nn.Linear(6, width)
            self.out = nn.Linear(width, 3)

        def forward(self, x):
            return self.out(nn.functional.gelu(self.fc(x)))
    """
)


run = run_cli


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "t.py"
    path.write_text(TANH_MLP)
    return path


@pytest.fixture
def broken(tmp_path, model):
    flax = tmp_path / "t_flax.py"
    flax.write_text(translate_source(TANH_MLP, str(model)).code.replace("approximate=False", "approximate=True"))
    return flax


def test_json_has_stages_and_every_old_field(capsys, model):
    code, out, err = run(capsys, "check", model, "--class", "T", "--input", "float32[B,6]", "--examples", "3", "--json")
    assert code == 0
    result = json.loads(out)
    for key in ("ok", "class", "examples", "seed", "stage", "mode", "max_abs_err", "max_rel_err", "float32_floor",
                "tolerance", "worst_parameter", "failure", "divergence"):
        assert key in result
    stages = result["stages"]
    assert stages["spec"]["ok"] and stages["spec"]["errors"] == []
    assert stages["numeric"]["ok"] and set(stages["numeric"]["max_rel_err"]) == {"output", "grad_input", "grad_params", "state"}
    assert stages["behavioral"]["ok"] and stages["behavioral"]["steps"] == 3
    assert {"params", "update"} <= set(stages["behavioral"]["max_abs_err"])
    assert result["reproduce"] is None and result["compiles"] >= 1


def test_stages_flag_and_steps(capsys, model):
    code, out, err = run(capsys, "check", model, "--class", "T", "--input", "float32[4,6]", "--examples", "2",
                         "--stages", "spec,numeric", "--json")
    assert code == 0
    stages = json.loads(out)["stages"]
    assert stages["behavioral"] == {"ok": None, "status": "not requested", "seconds": 0.0}
    code, out, err = run(capsys, "check", model, "--class", "T", "--input", "float32[4,6]", "--examples", "1",
                         "--steps", "5", "--json")
    assert code == 0 and json.loads(out)["stages"]["behavioral"]["steps"] == 5


def test_table_has_one_line_per_stage(capsys, model):
    code, out, err = run(capsys, "check", model, "--class", "T", "--kwargs", '{"width": 5}', "--input", "float32[4,6]",
                         "--examples", "2")
    assert code == 0
    lines = out.splitlines()
    for stage in ("spec", "numeric", "behavioral"):
        assert sum(line.lstrip("│┃ ").startswith(stage) for line in lines) == 1, out
    assert "after 3 steps: update" in out and "PASS" in out


def test_failure_table_prints_the_reproducing_command(capsys, model, broken):
    code, out, err = run(capsys, "check", model, "--class", "T", "--kwargs", '{"width": 5}', "--input", "float32[B,6]",
                         "--flax", broken, "--examples", "10")
    assert code == 1
    assert "FAILED at the numeric stage" in out and "skipped" in out
    command = out.split("reproduce this example with:")[1].strip().splitlines()[0]
    argv = shlex.split(command)
    assert argv[:3] == ["torch2flax", "check", str(model)] and "--replay" in argv and '{"width": 5}' in argv
    code, out, err = run(capsys, *argv[1:], "--json")
    assert code == 1 and json.loads(out)["examples"] == 1 and json.loads(out)["stages"]["numeric"]["ok"] is False


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--stages", "spec,speed"), "--stages"),
        (("--replay", "B=2;g=1"), "--replay"),
        (("--steps", "0"), "--steps"),
        (("--input", "float32[b,6]"), "--input"),
    ],
)
def test_bad_usage_is_one_line(capsys, model, extra, message):
    argv = ["check", model, "--class", "T", *(() if "--input" in extra else ("--input", "float32[4,6]")), *extra]
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_device_gpu_without_a_gpu(capsys, model):
    if gpu_problem() is None:
        pytest.skip("a GPU is available here")
    code, out, err = run(capsys, "check", model, "--class", "T", "--input", "float32[4,6]", "--device", "gpu")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "no GPU available" in err


@pytest.mark.gpu
def test_device_gpu(capsys, model):
    if gpu_problem() is not None:
        pytest.skip(f"no GPU: {gpu_problem()}")
    code, out, err = run(capsys, "check", model, "--class", "T", "--input", "float32[B,6]", "--examples", "3",
                         "--device", "gpu", "--json")
    assert code == 0 and json.loads(out)["device"] == "gpu"


def test_gpu_check_script_logic_on_cpu(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import gpu_check

    code = gpu_check.main(["--device", "cpu", "--models", "SimpleCNN", "--examples", "1", "--modes", "eval,train"])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [line for line in out.splitlines() if line.startswith("SimpleCNN")]
    assert len(rows) == 2 and all("yes" in row for row in rows)
    assert "2 checks, 0 failed" in out
    assert gpu_check.main(["--device", "cpu", "--models", "NoSuchNet"]) == 2
    sys.modules.pop("gpu_check", None)
