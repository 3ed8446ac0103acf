"""The seed document's questions answered by runnable examples: autograd vs jax.grad
(examples/autograd_vs_grad.py) and pmap's successor, a data-parallel train step over a device mesh
(examples/data_parallel_train_step.py), each checked on the figures it prints."""

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_autograd_and_jax_grad_give_the_same_gradients():
    differences = runpy.run_path(str(ROOT / "examples" / "autograd_vs_grad.py"))["main"]()
    assert len(differences) == 8
    accumulated = next(label for label in differences if "no zero_grad" in label)
    # PyTorch's second backward() doubled .grad: it equals twice JAX's fresh gradient
    assert differences[accumulated] < 1e-6
    assert max(differences.values()) < 1e-6, differences


def test_data_parallel_step_over_8_cpu_devices_equals_the_one_device_step():
    environment = {name: value for name, value in os.environ.items() if name != "XLA_FLAGS"}
    environment["JAX_PLATFORMS"] = "cpu"  # the script itself asks XLA for 8 host devices
    completed = subprocess.run([sys.executable, str(ROOT / "examples" / "data_parallel_train_step.py")],
                               capture_output=True, text=True, timeout=300, env=environment)
    assert completed.returncode == 0, completed.stderr[-3000:]
    printed = completed.stdout
    assert printed.startswith("8 cpu devices, mesh {'data': 8}, batch 64 (8 per device)")
    assert "each device holds (8, 16)" in printed

    def figure(label):
        return float(re.search(rf"{re.escape(label)}\s+([0-9.e+-]+)", printed).group(1))

    for quantity in ("parameters,  jit over the mesh:", "parameters,  shard_map:",
                     "batch stats, jit over the mesh:", "batch stats, shard_map:"):
        assert figure(quantity) < 1e-6, (quantity, printed)
    losses = [line.split()[1:] for line in printed.splitlines() if re.match(r"\s+\d+\s+\d", line)]
    assert len(losses) == 3, printed
    assert all(max(map(float, row)) - min(map(float, row)) < 1e-5 for row in losses), losses
    # without synchronisation, each device's batch-norm mean is far from the global batch's
    per_device = float(re.search(r"DDP-style BatchNorm\): ([0-9.]+) from the global mean", printed).group(1))
    assert per_device > 0.5
