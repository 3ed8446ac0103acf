"""Port a GPT-2-small-sized checkpoint (124M parameters) and compare with the bound: numpy alone.

    python benchmarks/port_benchmark.py [--keep DIR]

Builds the model below (nn.Embedding / nn.Linear / nn.LayerNorm, so the rules port it),
saves its state dict as ``.pt`` and ``.safetensors`` in a temporary directory, then, each
in a fresh process so the peak resident set size is its own:

* ``port``: ``torch2flax``'s ``port_checkpoint`` to ``.msgpack`` (plan on the meta
  device, tensors read lazily and converted one by one, streaming writer);
* ``bound``: numpy doing the same work by hand: read every tensor, transpose the Linear
  weights into contiguous copies, keep the results, and write their bytes to one file.

Before timing, each process builds one tiny layer on the ``meta`` device: the first such
build in a process imports ``torch._dynamo`` (seconds; a one-off cost ``port`` pays on a cold
start), printed apart.  It prints wall time and peak RSS (``resource.getrusage``), both absolute and above the
process's RSS after its imports (torch + jax + flax take several hundred MB on their own).
Nothing is asserted: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn

HERE = Path(__file__).resolve()


class Attention(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        q, k, v = self.c_attn(x).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1)
        return self.c_proj(weights @ v)


class MLP(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.c_fc = nn.Linear(d_model, 4 * d_model)
        self.c_proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        return self.c_proj(torch.nn.functional.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2Small(nn.Module):
    def __init__(self, vocab_size=50257, context=1024, d_model=768, layers=12):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, d_model)
        self.wpe = nn.Embedding(context, d_model)
        self.h = nn.ModuleList([Block(d_model) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


def rss_mb() -> float:
    """Current resident set size (psutil if installed, else /proc)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


# --------------------------------------------------------------------------- one measurement (child process)
def measure(kind: str, weights: Path, output: Path) -> dict:
    import flax  # noqa: F401  (both measurements pay the same imports)
    import numpy as np

    from translator.weights.checkpoint import open_checkpoint
    from translator.weights.port import port_checkpoint

    # The first meta-device initialisation in a process imports torch._dynamo (~10 s on a slow
    # disk, paid once per process, not per model): timed apart so the columns compare the work.
    start = time.perf_counter()
    with torch.device("meta"):
        nn.Embedding(2, 2)
    warmup = time.perf_counter() - start
    base = rss_mb()
    start = time.perf_counter()
    if kind == "port":
        result = port_checkpoint(HERE, "GPT2Small", weights, output)
        tensors = len(result.plan.tensors)
    else:  # the bound: the same reads, transposes and copies, by hand
        source = open_checkpoint(weights)
        out = {}
        for key in source.keys():
            array = source.get(key)
            is_linear_weight = key.endswith(".weight") and array.ndim == 2 and not key.startswith(("wte", "wpe"))
            out[key] = np.ascontiguousarray(array.T) if is_linear_weight else array
        with open(output, "wb") as f:
            for array in out.values():
                f.write(memoryview(array.reshape(-1).view(np.uint8)))
        tensors = len(out)
    seconds = time.perf_counter() - start
    return {"kind": kind, "seconds": seconds, "warmup": warmup, "peak_mb": peak_mb(), "base_mb": base, "tensors": tensors}


def run_child(kind: str, weights: Path, output: Path) -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    done = subprocess.run(
        [sys.executable, str(HERE), "--measure", kind, str(weights), str(output)],
        capture_output=True, text=True, env=env, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} on {weights.name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="DIR", help="write the checkpoints here and keep them")
    parser.add_argument("--measure", nargs=3, metavar=("KIND", "WEIGHTS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, weights, output = args.measure
        print(json.dumps(measure(kind, Path(weights), Path(output))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        model = GPT2Small()
        state = model.state_dict()
        params = sum(v.numel() for v in state.values())
        nbytes = sum(v.numel() * v.element_size() for v in state.values())
        from safetensors.torch import save_file

        checkpoints = [folder / "gpt2.pt", folder / "gpt2.safetensors"]
        torch.save(state, checkpoints[0])
        save_file(state, str(checkpoints[1]))
        del model, state
        print(f"GPT2Small: {params / 1e6:.1f}M parameters, {nbytes / 2**20:.0f} MiB float32, {len(checkpoints)} checkpoints in {folder}")
        print(f"{'input':20s} {'job':6s} {'tensors':>7s} {'time s':>8s} {'peak RSS MiB':>13s} {'above imports':>14s}"
              f" {'first meta init s':>18s}")
        for weights in checkpoints:
            for kind in ("bound", "port"):
                output = folder / f"out-{kind}-{weights.suffix[1:]}.{'msgpack' if kind == 'port' else 'raw'}"
                r = run_child(kind, weights, output)
                print(
                    f"{weights.name:20s} {kind:6s} {r['tensors']:7d} {r['seconds']:8.2f} {r['peak_mb']:13.0f} "
                    f"{r['peak_mb'] - r['base_mb']:14.0f} {r['warmup']:18.2f}"
                )
                output.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
