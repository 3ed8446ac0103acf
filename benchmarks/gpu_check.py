"""The full check (spec, numeric, behavioral) of every reference model on the GPU, in one go.

Per model: the errors of each stage (worst relative error of the numeric and
behavioral quantities), the wall time, and the number of XLA compiles.  Both
frameworks run on CUDA with TF32 off (``check --device gpu``); the script exits
1 if any model fails, 2 if there is no GPU.  It runs on the CPU too
(``--device cpu``), to test its logic on a machine without one:

    python benchmarks/gpu_check.py                      # all models, GPU, eval then train mode
    python benchmarks/gpu_check.py --device cpu --models MLP,LeNet5 --examples 2 --modes eval
    python benchmarks/gpu_check.py --json results.json  # also write every report

Budget (the target is one run under ~8 minutes on an H200 host): on this project's loaded 2-core CPU
box, train mode over all 13 models took 562 s with 2 examples each (compile-dominated; MobileNetV2
alone 199 s), eval mode about as much.  Not yet measured on a GPU (no device was available when it was
written); if a run is too slow there, `--modes train` halves it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_models import CATALOGUE  # noqa: E402
from translator.diagnostics import UsageError  # noqa: E402
from translator.equivalence.check import STAGES, check  # noqa: E402
from translator.equivalence.device import gpu_problem  # noqa: E402
from translator.equivalence.specs import parse_spec  # noqa: E402


def worst_rel(errors: dict) -> str:
    if not errors:
        return "-"
    name, value = max(errors.items(), key=lambda kv: kv[1])
    return f"{value:.2e} ({name})"


def run_model(model, device: str, examples: int, train: bool, seed: int) -> dict:
    started = time.perf_counter()
    report = check(model.path, model.class_name, [parse_spec(s) for s in model.inputs_for(train)], model.kwargs,
                   examples=examples, seed=seed, train=train, device=device, stages=STAGES)
    result = report.to_json()
    result["wall_s"] = time.perf_counter() - started
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    parser.add_argument("--models", help="comma-separated class names (default: the whole catalogue)")
    parser.add_argument("--examples", type=int, default=3)
    parser.add_argument("--modes", default="eval,train", help="eval, train or both (comma-separated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="write every report here")
    args = parser.parse_args(argv)

    if args.device == "gpu" and gpu_problem():
        print(f"gpu_check: no GPU available: {gpu_problem()}", file=sys.stderr)
        return 2
    models = CATALOGUE
    if args.models:
        wanted = [n.strip() for n in args.models.split(",") if n.strip()]
        known = {m.class_name for m in CATALOGUE}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            print(f"gpu_check: unknown model(s) {', '.join(unknown)}; one of {', '.join(sorted(known))}", file=sys.stderr)
            return 2
        models = [m for m in CATALOGUE if m.class_name in wanted]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    print(f"{'model':<18} {'mode':<5} {'spec':<6} {'numeric worst rel':<28} {'behavioral worst rel':<26} "
          f"{'ok':<4} {'wall s':>7} {'compiles':>8}", flush=True)
    results, failed, started = [], 0, time.perf_counter()
    for model in models:
        for mode in modes:
            try:
                result = run_model(model, args.device, args.examples, mode == "train", args.seed)
            except (UsageError, Exception) as error:  # one model's crash must not hide the others' figures
                print(f"{model.class_name:<18} {mode:<5} ERROR {type(error).__name__}: {error}", flush=True)
                failed += 1
                continue
            stages = result["stages"]
            numeric = stages["numeric"].get("max_rel_err", {})
            behavioral = stages["behavioral"].get("max_rel_err", {})
            failed += not result["ok"]
            print(f"{model.class_name:<18} {mode:<5} {stages['spec']['status']:<6} {worst_rel(numeric):<28} "
                  f"{worst_rel(behavioral):<26} {'yes' if result['ok'] else 'NO':<4} {result['wall_s']:>7.1f} "
                  f"{result['compiles']:>8}", flush=True)
            if not result["ok"]:
                print(f"    {result['failure']}", flush=True)
            results.append({"model": model.class_name, "mode": mode, **result})
    print(f"{len(results)} checks, {failed} failed, {time.perf_counter() - started:.0f} s in all ({args.device})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
