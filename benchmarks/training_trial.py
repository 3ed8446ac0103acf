"""The training-script trial (issue 17): translate each exercise-style script and run check-train on it.

    python benchmarks/training_trial.py [--steps K] [SCRIPT ...]

Prints, per script: PASS (check-train passed; lines outside the step may still be reported), FAIL (a step
diverged, or the step did not run), DIAGNOSED (the translation reported the lines it could not translate
and check-train could not compare), with the codes reported; then the totals.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "training" / "scripts"


def run_one(path: Path, steps: int) -> tuple[str, str, float]:
    from translator.diagnostics import UsageError
    from translator.rewrite.pipeline import translate_source
    from translator.training.check_train import check_train

    start = time.perf_counter()
    translation = translate_source(path.read_text(), str(path))
    codes = sorted({d.code for d in translation.errors})
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            report = check_train(path, steps=steps)
    except UsageError as error:
        return "DIAGNOSED", f"{','.join(codes) or '-'}; check-train: {' '.join(str(error).split())[:150]}", time.perf_counter() - start
    seconds = time.perf_counter() - start
    if report.ok:
        errors = report.max_rel_err
        return "PASS", f"loss {errors['loss']:.1e}, params {errors['params']:.1e} (f32); untranslated: {','.join(codes) or '-'}", seconds
    if report.failure is not None:
        return "DIAGNOSED" if codes else "FAIL", f"{','.join(codes) or '-'}; {report.failure[:150]}", seconds
    return "FAIL", f"diverged at {report.first_divergence}; {','.join(codes) or '-'}", seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scripts", nargs="*", type=Path)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    scripts = args.scripts or sorted(SCRIPTS.glob("*.py"))
    totals: dict[str, int] = {}
    for path in scripts:
        verdict, detail, seconds = run_one(path, args.steps)
        totals[verdict] = totals.get(verdict, 0) + 1
        print(f"{verdict:10s} {path.name:38s} {seconds:5.1f}s  {detail}", flush=True)
    print("totals: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())) + f" of {len(scripts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
