"""The trial scripts of tests/training/scripts are valid PyTorch training scripts that run fast.

All scripts run in one child process (PyTorch is imported once; each script runs with
``runpy`` as ``__main__`` in a scratch working directory, so a checkpoint it saves lands there).
The child reports, per script, whether it raised, how long it took and what it printed; the
tests assert each one ran, printed a finite loss every epoch, and that all of them together stay
under the budget the translator's trial relies on.
"""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent / "scripts"
SCRIPT_NAMES = sorted(path.name for path in SCRIPTS.glob("*.py"))
#: seconds for all scripts together, PyTorch's import included (issue 17, item 7)
TOTAL_BUDGET_S = 30.0
#: seconds the child may run before the test gives up on it
CHILD_TIMEOUT_S = 180

CHILD = r"""
import contextlib, io, json, os, runpy, sys, time, traceback
start = time.perf_counter()
import torch  # imported once for all scripts
import_s = time.perf_counter() - start
print(json.dumps({"import_s": import_s}))
for path in sys.argv[1:]:
    stdout = io.StringIO()
    began = time.perf_counter()
    error = None
    try:
        with contextlib.redirect_stdout(stdout):
            runpy.run_path(path, run_name="__main__")
    except BaseException:
        error = traceback.format_exc()
    print(json.dumps({"script": os.path.basename(path), "seconds": time.perf_counter() - began,
                      "stdout": stdout.getvalue(), "error": error}), flush=True)
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs every trial script once; maps the script's file name to its report, plus the import time."""
    scratch = tmp_path_factory.mktemp("trial_scripts")
    environment = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, *(str(SCRIPTS / name) for name in SCRIPT_NAMES)],
        cwd=scratch, env=environment, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    reports = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    by_script = {report["script"]: report for report in reports if "script" in report}
    by_script["<import torch>"] = next(report for report in reports if "import_s" in report)
    return by_script


def test_the_trial_has_the_scripts_the_issue_asks_for():
    assert len(SCRIPT_NAMES) >= 12
    listed = (SCRIPTS / "README.md").read_text()
    assert all(f"`{name}`" in listed for name in SCRIPT_NAMES), "every script is described in the README"


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_script_runs_and_prints_finite_losses(runs, name):
    report = runs[name]
    assert report["error"] is None, report["error"]
    lines = report["stdout"].splitlines()
    assert len(lines) >= 3, f"{name} prints progress every epoch: {lines}"
    numbers = [float(text) for text in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", report["stdout"])]
    assert numbers and all(math.isfinite(number) for number in numbers)
    assert "nan" not in report["stdout"].lower()


def test_all_scripts_together_run_within_budget(runs):
    total = runs["<import torch>"]["import_s"] + sum(
        report["seconds"] for name, report in runs.items() if name != "<import torch>")
    slowest = max((report["seconds"], name) for name, report in runs.items() if name != "<import torch>")
    assert total < TOTAL_BUDGET_S, f"{total:.1f} s in all; slowest {slowest[1]} ({slowest[0]:.1f} s)"
