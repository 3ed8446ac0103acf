"""What ``check`` costs per reference model: XLA compiles and wall time, per stage.

Compiles are counted from JAX's own monitoring events (every backend compile
records ``/jax/core/compile/backend_compile_duration``; see
``translator/equivalence/compiles.py``): ``total`` is every compile during the
check, ``grad`` those of the check's jitted gradient function (one per distinct
input shape; the behavioral stage reuses it).

    python benchmarks/check_cost.py [--examples 10] [--train] [--stages spec,numeric,behavioral] [ClassName ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_models import CATALOGUE  # noqa: E402
from translator.equivalence.check import check  # noqa: E402
from translator.equivalence.specs import parse_spec  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", metavar="ClassName")
    parser.add_argument("--examples", type=int, default=10)
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--stages", default="spec,numeric,behavioral")
    args = parser.parse_args(argv)
    models = [m for m in CATALOGUE if not args.models or m.class_name in args.models]
    print(f"{'model':<18} {'compiles':>8} {'grad':>5} {'compile s':>9} {'spec s':>7} {'numeric s':>9} "
          f"{'behav. s':>8} {'total s':>8} ok", flush=True)
    totals = [0, 0.0]
    for model in models:
        started = time.perf_counter()
        report = check(model.path, model.class_name, [parse_spec(s) for s in model.inputs_for(args.train)], model.kwargs,
                       examples=args.examples, train=args.train, stages=args.stages)
        wall = time.perf_counter() - started
        seconds = {name: stage.seconds for name, stage in report.stages.items()}
        totals[0] += report.compiles
        totals[1] += wall
        print(f"{model.class_name:<18} {report.compiles:>8} {report.grad_compiles:>5} {report.compile_seconds:>9.1f} "
              f"{seconds['spec']:>7.1f} {seconds['numeric']:>9.1f} {seconds['behavioral']:>8.1f} {wall:>8.1f} "
              f"{'yes' if report.ok else 'NO'}", flush=True)
    print(f"{'all':<18} {totals[0]:>8} {'':>5} {'':>9} {'':>7} {'':>9} {'':>8} {totals[1]:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
