"""The ``torch2flax`` command line: translate, port, export, check, rules, demo.

Exit codes: 0 success; 1 the work was done but found a problem (untranslatable
constructs, a check outside tolerance); 2 bad usage or input (nothing written); 3 the
tool's own failure (one line, nothing written).
Machine-readable output (``check --json``) goes to stdout alone; diagnostics
and progress go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from translator.diagnostics import Severity, TranslationFailed, UsageError

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- translate
def cmd_translate(args) -> int:
    from translator.rewrite.pipeline import translate_source
    from translator.weights.checkpoint import write_atomically

    if Path(args.source).is_dir():
        return translate_directory(Path(args.source), args)
    source = read_source(args.source)
    if args.class_name or args.build:
        translation = translate_one_model(args)
    else:
        translation = translate_source(source, args.source, notes=not args.no_notes)
    for diagnostic in translation.diagnostics:
        stderr.print(diagnostic.format(), markup=False, style="red" if diagnostic.severity is Severity.ERROR else "yellow")
    if args.output:
        write_atomically(Path(args.output), lambda tmp: tmp.write_text(translation.code))
        stderr.print(f"wrote {args.output} ({', '.join(translation.classes)})", markup=False)
    else:
        sys.stdout.write(translation.code)
    return 1 if translation.errors else 0


def translate_one_model(args):
    """``translate --class NAME``: the source's translation, or the built model's when the source
    cannot be translated as written (said on stderr, with the methods that were traced)."""
    from translator.instance.translate import translate_model
    from translator.loading import parse_kwargs

    class_name = args.class_name or ""
    chosen = translate_model(args.source, class_name, kwargs=parse_kwargs(args.kwargs), build=args.build,
                             notes=not args.no_notes, examples=example_inputs(args))
    if chosen.built is not None:
        if chosen.source_errors:
            why = (f"{len(chosen.source_errors)} construct(s) its source translation cannot express, first: "
                   f"{chosen.source_errors[0].format()}")
        else:
            why = "--build" if args.build else f"the source translation holds no class `{args.class_name}` (it subclasses a torch layer)"
        stderr.print(f"note: translated from the built model ({why}); traced: {', '.join(chosen.traced) or 'none'}",
                     markup=False)
    return chosen.translation


def example_inputs(args) -> tuple | None:
    """``translate --input``: tensors a traced forward's decisions on metadata read."""
    from translator.equivalence.specs import example_tensors, parse_spec

    return example_tensors([parse_spec(s) for s in args.input]) if getattr(args, "input", None) else None


def translate_directory(source: Path, args) -> int:
    """``translate pkg/ -o out/``: every file with a model, each self-contained (rule S014), same layout."""
    from translator.rewrite.pipeline import translate_source
    from translator.weights.checkpoint import write_atomically

    if not args.output:
        raise UsageError(f"{source}: translating a directory needs -o OUT_DIR")
    target = Path(args.output)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target}: exists and is not a directory")
    failed, written = False, []
    for path in sorted(source.rglob("*.py")):
        try:
            translation = translate_source(read_source(str(path)), str(path), notes=not args.no_notes)
        except UsageError as error:
            if "no torch.nn.Module subclass" in str(error):
                continue  # helpers, __init__.py, scripts: nothing to translate
            raise
        for diagnostic in translation.diagnostics:
            stderr.print(diagnostic.format(), markup=False, style="red" if diagnostic.severity is Severity.ERROR else "yellow")
        failed |= bool(translation.errors)
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out, lambda tmp, code=translation.code: tmp.write_text(code))
        written.append(f"{out} ({', '.join(translation.classes)})")
    if not written:
        raise UsageError(f"{source}: no file with a torch.nn.Module subclass")
    stderr.print("wrote " + "\n      ".join(written), markup=False)
    return 1 if failed else 0


def read_source(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        return file.read_text()
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a UTF-8 text file") from None


# --------------------------------------------------------------------------- port and export
PROGRESS_MIN_TENSORS = 32  # smaller ports finish before a bar is worth drawing


def cmd_port(args) -> int:
    from translator.loading import parse_kwargs
    from translator.weights.port import port_checkpoint

    read_source(args.source)
    with progress_bar("porting") as progress:
        result = port_checkpoint(
            args.source, args.class_name, args.weights, args.output, parse_kwargs(args.kwargs), args.force,
            key=args.key, strip_prefix=args.strip_prefix, dtype=args.dtype, progress=progress, build=args.build,
        )
    print_notes(result.notes)
    table = Table(title=f"{args.class_name}: {len(result.plan.tensors)} tensors, {result.parameter_count:,} values")
    for column in ("PyTorch key", "shape", "Flax variable", "shape", "layout", "rule"):
        table.add_column(column)
    for t in result.plan.tensors:
        table.add_row(t.torch_key, str(t.torch_shape), t.flax_key, str(t.flax_shape), escape(t.transform.describe()), t.rule)
    stdout.print(table)
    stdout.print(f"wrote {args.output}", markup=False)
    return 0


def cmd_export(args) -> int:
    from translator.loading import parse_kwargs
    from translator.weights.port import export_checkpoint

    read_source(args.source)
    with progress_bar("exporting") as progress:
        result = export_checkpoint(
            args.source, args.class_name, args.weights, args.output, parse_kwargs(args.kwargs), args.force,
            dtype=args.dtype, progress=progress,
        )
    print_notes(result.notes)
    table = Table(title=f"{args.class_name}: {len(result.plan.tensors)} tensors, {result.parameter_count:,} values")
    for column in ("Flax variable", "shape", "PyTorch key", "shape", "layout", "rule"):
        table.add_column(column)
    for t in result.plan.tensors:
        table.add_row(t.flax_key, str(t.flax_shape), t.torch_key, str(t.torch_shape), escape(t.transform.describe()), t.rule)
    stdout.print(table)
    stdout.print(f"wrote {args.output}", markup=False)
    return 0


def print_notes(notes) -> None:
    for note in notes:
        stderr.print(f"note: {note}", markup=False)


class progress_bar:
    """A rich progress bar on stderr for ports with many tensors, only when stderr is a terminal.

    Used as ``with progress_bar("porting") as progress: port_checkpoint(..., progress=progress)``:
    the port calls ``progress(plan)`` once it knows how many tensors there are.
    """

    def __init__(self, label: str):
        self.label = label
        self.bar = None

    def __enter__(self):
        return self.start

    def start(self, plan):
        if len(plan.tensors) < PROGRESS_MIN_TENSORS or not sys.stderr.isatty():
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=stderr, transient=True)
        self.bar.start()
        task = self.bar.add_task(self.label, total=len(plan.tensors))
        return lambda tensor: self.bar.advance(task)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


# --------------------------------------------------------------------------- check
def cmd_check(args) -> int:
    """``check``; with ``--json`` stdout carries exactly one JSON object: whatever the user's file and
    models print (at import, or during forward) goes to stderr."""
    from translator.loading import parse_kwargs, recording_ran_statements

    read_source(args.source)
    if not args.class_name and not args.build:
        raise UsageError("check needs --class NAME (or --build EXPR)")
    with user_output_to_stderr(args.json), recording_ran_statements() as ran:
        from translator.equivalence.check import check
        from translator.equivalence.specs import parse_spec
        from translator.equivalence.tolerance import Tolerance

        specs = [parse_spec(s) for s in args.input or []]
        kwargs = parse_kwargs(args.kwargs)
        tolerance = Tolerance(rtol=args.rtol) if args.rtol is not None else Tolerance()
        try:
            report = check(args.source, args.class_name, specs, kwargs, args.flax, args.examples, args.seed, tolerance,
                           train=args.train, stages=args.stages, steps=args.steps, device=args.device, replay=args.replay,
                           weights=args.weights, build=args.build)
        except TranslationFailed as error:
            for diagnostic in error.diagnostics:
                stderr.print(diagnostic.format(), markup=False, style="red")
            report, failed = None, error
    ran_json = [r.to_json() for r in ran]
    if report is None:
        if args.json:
            print(json.dumps({"ok": False, "class": args.class_name, "examples": 0, "failure": str(failed),
                              "diagnostics": [d.format() for d in failed.diagnostics], "ran": ran_json}))
        return 1
    if args.json:
        print(json.dumps({**report.to_json(), "ran": ran_json}))
    else:
        print_check_table(report)
    return 0 if report.ok else 1


@contextlib.contextmanager
def user_output_to_stderr(active: bool):
    """While active, anything written to stdout -- ``print`` in the user's file or models, rich, even
    C code writing to file descriptor 1 -- goes to stderr instead, so stdout can carry JSON alone."""
    if not active:
        yield
        return
    original = sys.stdout
    for stream in (original, sys.__stdout__):
        flush_quietly(stream)
    saved = duplicate_stdout_fd()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for stream in (original, sys.__stdout__, sys.stderr):  # what was buffered for stdout lands on stderr too
            flush_quietly(stream)
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def duplicate_stdout_fd() -> int | None:
    """Point file descriptor 1 at stderr's; returns a copy of the old one to restore (None if there is none)."""
    try:
        saved = os.dup(1)
    except OSError:
        return None
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(saved)
        return None
    return saved


def flush_quietly(stream) -> None:
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError):
        pass


def print_check_table(report) -> None:
    mode = "train mode, PyTorch's dropout masks replayed" if report.train else "eval mode"
    state = "trained-like state per example" if report.state == "trained-like" else f"weights {report.state}"
    device = "" if report.device == "cpu" else f", {report.device}"
    if report.traced:
        stdout.print(f"translated from the built model (its source cannot be translated as written); "
                     f"traced: {', '.join(report.traced)}", markup=False)
    table = Table(title=f"{report.class_name}: {report.examples} examples (seed {report.seed}, {mode}, {state}{device})")
    for column in ("quantity", "max abs error", "max rel error", "tolerance", "pass"):
        table.add_column(column, justify="right" if column != "quantity" else "left")
    numeric_run = report.stages["numeric"].status in ("passed", "failed", "inconclusive")
    for quantity in report.quantities if numeric_run else ():
        error = report.errors[quantity]
        passed = error.within(report.tolerance)
        verdict = ("[green]yes[/green]" + (" (relaxed)" if error.relaxed or error.tie_relaxed or error.settled else "")) if passed else (
            "[yellow]undecided[/yellow]" if error.inconclusive(report.tolerance) else "[red]NO[/red]")
        table.add_row(
            quantity,
            f"{error.max_abs:.3e}",
            f"{error.max_rel:.3e}",
            f"{report.tolerance.rtol:.0e} rel",
            verdict,
        )
    behavioral = report.behavioral
    if behavioral is not None:
        for quantity in behavioral.quantities:
            error = behavioral.errors[quantity]
            table.add_row(
                f"after {behavioral.steps} steps: {quantity}",
                f"{error.max_abs:.3e}",
                f"{error.max_rel:.3e}",
                f"{behavioral.tolerance.rtol:.0e} rel",
                "[green]yes[/green]" if error.within(behavioral.tolerance) else "[red]NO[/red]",
            )
    if numeric_run or behavioral is not None:
        stdout.print(table)
    stage_table = Table(title="stages")
    for column in ("stage", "result", "detail", "seconds"):
        stage_table.add_column(column, justify="right" if column == "seconds" else "left")
    for name, stage in report.stages.items():
        style = {"passed": "green", "failed": "red", "inconclusive": "yellow"}.get(stage.status, "dim")
        stage_table.add_row(name, f"[{style}]{stage.status}[/{style}]", escape(stage_detail(report, name)),
                            f"{stage.seconds:.1f}" if stage.status in ("passed", "failed", "inconclusive") else "")
    stdout.print(stage_table)
    if report.worst_parameter:
        stdout.print(f"largest parameter-gradient error: {report.worst_parameter}", markup=False)
    compared = report.compared_json()
    if compared["of"]:
        stdout.print(f"compared {compared['quantities']} of {compared['of']} quantities (outputs, gradients, buffers)"
                     + (f"; {compared['draws_replayed']} random draw(s) of PyTorch replayed" if compared["draws_replayed"] else ""),
                     markup=False)
    for quantity, relaxed in report.relaxed_json().items():
        if "elements" in relaxed:
            stdout.print(f"relaxed: {quantity}, {relaxed['elements']} element(s) up to {relaxed['to_rel']:.2g} rel, "
                         f"{relaxed['reason']}", markup=False)
        if "tie_breaking" in relaxed:
            ties = relaxed["tie_breaking"]
            where = ", ".join(f"`{name}` {count}" for name, count in ties["where"].items())
            stdout.print(f"relaxed: {quantity}, {ties['elements']} element(s) explained by tie-breaking in max pools "
                         f"(near-tie windows: {where})", markup=False)
        if "float64_settled" in relaxed:
            settled = relaxed["float64_settled"]
            stdout.print(f"relaxed: {quantity}, {settled['elements']} element(s) past PyTorch's own float32 error there but within "
                         f"10x its largest on the quantity; in float64 the translation agrees with PyTorch to "
                         f"{settled['float64_gap']:.1e} rel (float32 rounding of an ill-conditioned quantity)", markup=False)
    if report.verdict == "inconclusive":
        stdout.print("[yellow]INCONCLUSIVE[/yellow] (not a pass):")
        stdout.print(report.failure, markup=False)
        if report.reproduce:
            stdout.print("reproduce this example with:", markup=False)
            stdout.print(report.reproduce, markup=False)
    elif report.failure:
        stdout.print(f"[red]FAILED at the {report.stage} stage:[/red]")
        stdout.print(report.failure, markup=False)
        if report.divergence is not None:
            stdout.print(report.divergence.describe(), markup=False)
        if report.reproduce:
            stdout.print("reproduce this example with:", markup=False)
            stdout.print(report.reproduce, markup=False)
    else:
        passed = ", ".join(n for n, s in report.stages.items() if s.status == "passed")
        stdout.print(f"[green]PASS[/green]: outputs and gradients agree within tolerance (stages passed: {passed})")


def stage_detail(report, name: str) -> str:
    stage = report.stages[name]
    if stage.status not in ("passed", "failed", "inconclusive"):
        return "an earlier stage did not pass" if stage.status == "skipped" else ""
    if name == "spec":
        return "variables and output shapes match" if stage.status == "passed" else (stage.failure or "").splitlines()[0]
    if name == "numeric":
        worst = max((report.errors[q] for q in report.quantities), key=lambda e: e.max_rel)
        sizes = f", batch sizes {','.join(map(str, sorted(report.batch_sizes)))}" if len(report.batch_sizes) > 1 else ""
        return f"{report.examples} examples{sizes}, worst rel {worst.max_rel:.2e}, {report.grad_compiles} compile(s)"
    result = report.behavioral
    if result is None:
        return ""
    if result.nothing_to_train:
        return "no parameters: nothing to train"
    worst = max((result.errors[q] for q in result.quantities), key=lambda e: e.max_rel)
    text = f"{result.steps} SGD steps (lr {result.learning_rate:.2g}), worst rel {worst.max_rel:.2e}"
    if result.dropout is not None:
        text += "; dropout " + ", ".join(
            f"{layer.flax_module} {layer.fraction:.3f} of {layer.positions} (p={layer.rate:g})" for layer in result.dropout.layers
        )
    return text


# --------------------------------------------------------------------------- rules
def cmd_check_train(args) -> int:
    """``check-train``: exit 0 when every step matches, 1 when a step diverges (or the script does not
    translate), 2 on bad usage; with ``--json`` stdout carries exactly one JSON object."""
    read_source(args.source)
    with user_output_to_stderr(args.json):
        from translator.equivalence.specs import parse_spec
        from translator.training.check_train import check_train, print_train_table

        inputs = [parse_spec(s) for s in args.input or []]
        target = parse_spec(args.target) if args.target else None
        report = check_train(args.source, inputs, target, steps=args.steps, translated=args.translated, seed=args.seed)
    if args.html:
        from translator.explain.training_section import write_training_page

        page = write_training_page(report, args.html)
        stderr.print(f"wrote {page}", markup=False)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print_train_table(report, stdout)
    return 0 if report.ok else 1


def cmd_rules(args) -> int:
    from translator.rules.registry import all_rules, rule_by_code

    if args.html:
        from translator.explain.command import run_rules_html

        return run_rules_html(args.html, stderr)
    if args.code:
        rule = rule_by_code(args.code)
        if rule is None:
            raise UsageError(f"no rule {args.code!r}; `torch2flax rules` lists them")
        stdout.print(rule.explain(), markup=False)
        return 0
    table = Table(title="torch2flax rules")
    table.add_column("code")
    table.add_column("rule")
    table.add_column("translates")
    for rule in all_rules():
        table.add_row(rule.code, rule.name, rule.summary)
    stdout.print(table)
    return 0


# --------------------------------------------------------------------------- explain
def cmd_explain(args) -> int:
    from translator.explain.command import run_explain

    return run_explain(args, stdout, stderr)


# --------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from translator.demo import run_demo

    return run_demo(stdout)


# --------------------------------------------------------------------------- parser
def add_build_argument(parser) -> None:
    parser.add_argument("--build", metavar="EXPR",
                        help="a Python expression evaluated in SRC's namespace that builds the model, for constructors "
                             "that take modules or config objects: --build 'LoRALinear(nn.Linear(16, 8), rank=4)'")


def add_example_input_argument(parser) -> None:
    parser.add_argument("--input", action="append", metavar="SPEC",
                        help="with --class/--build: an example input, DTYPE[DIMS] (once per input); a forward traced on "
                             "the built model takes its decisions on ranks and dtypes (len(x.shape), x.ndim) from them")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torch2flax",
        description="Translate PyTorch models to Flax (linen), port their weights, check equivalence.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("translate", help="translate a PyTorch model file to Flax")
    p.add_argument("source", metavar="SRC.py", help="a model file, or a package directory (each model file translated)")
    p.add_argument("-o", "--output", metavar="OUT.py", help="write here instead of stdout (a directory for a directory)")
    p.add_argument("--no-notes", action="store_true", help="leave out the teaching notes")
    p.add_argument("--class", dest="class_name", metavar="NAME",
                   help="translate this model; built from --kwargs and translated from the instance when its source cannot be")
    p.add_argument("--kwargs", metavar="JSON", help="constructor arguments (JSON object or Python dict literal)")
    add_build_argument(p)
    add_example_input_argument(p)
    p.set_defaults(run=cmd_translate)

    p = verbs.add_parser("port", help="port a PyTorch checkpoint to Flax variables")
    p.add_argument("source", metavar="SRC.py")
    p.add_argument("--class", dest="class_name", required=True, metavar="NAME")
    p.add_argument("--kwargs", metavar="JSON", help="constructor arguments (JSON object or Python dict literal)")
    p.add_argument("--weights", required=True, metavar="CKPT",
                   help=".pt/.pth/.bin, .safetensors, or a sharded checkpoint's *.index.json")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help=".msgpack, .safetensors, or a directory (no suffix, or a trailing /) for Orbax")
    p.add_argument("--key", metavar="KEY", help="the entry holding the state dict in a wrapping checkpoint (default: recognised)")
    p.add_argument("--strip-prefix", metavar="PREFIX", help="remove this prefix from every key (default: module./model. recognised)")
    p.add_argument("--dtype", metavar="DTYPE", help="float32, float16 or bfloat16: cast floating tensors (default: keep each one's)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    add_build_argument(p)
    p.set_defaults(run=cmd_port)

    p = verbs.add_parser("export", help="export Flax variables back to a PyTorch state dict")
    p.add_argument("source", metavar="SRC.py")
    p.add_argument("--class", dest="class_name", required=True, metavar="NAME")
    p.add_argument("--kwargs", metavar="JSON", help="constructor arguments (JSON object or Python dict literal)")
    p.add_argument("--weights", required=True, metavar="VARS", help=".msgpack, .safetensors, or an Orbax directory")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help=".pt/.pth/.bin (torch.save) or .safetensors")
    p.add_argument("--dtype", metavar="DTYPE", help="float32, float16 or bfloat16: cast floating tensors (default: keep each one's)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(run=cmd_export)

    p = verbs.add_parser("check", help="check a translation's outputs and gradients against PyTorch")
    p.add_argument("source", metavar="SRC.py")
    p.add_argument("--class", dest="class_name", metavar="NAME", help="the model class (required unless --build)")
    p.add_argument("--kwargs", metavar="JSON")
    p.add_argument("--input", action="append", metavar="SPEC", help="DTYPE[DIMS] or DTYPE[DIMS]:LOW..HIGH; once per input")
    p.add_argument("--flax", metavar="FLAX.py", help="use this translation instead of translating SRC")
    p.add_argument("--examples", type=int, default=10, metavar="N")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--rtol", type=float, default=None, help="norm-wise relative tolerance (default 1e-4)")
    p.add_argument("--train", action="store_true", help="training mode: batch statistics and running-stat updates (dropout off)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--stages", default="spec,numeric,behavioral", metavar="LIST",
                   help="comma-separated subset of spec,numeric,behavioral (default: all); a stage runs only if the earlier ones pass")
    p.add_argument("--steps", type=int, default=3, metavar="K", help="SGD steps of the behavioral stage (default 3)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="run both frameworks here; gpu: CUDA with TF32 off on both sides")
    p.add_argument("--replay", metavar="RECIPE", help="run the one example a failed check printed (B=..;g=..;in0=..)")
    p.add_argument("--weights", metavar="CKPT",
                   help="check with these PyTorch weights instead of random ones (anything `port` reads)")
    add_build_argument(p)
    p.set_defaults(run=cmd_check)

    p = verbs.add_parser("check-train", help="run a training script and its translation side by side, step by step")
    p.add_argument("source", metavar="SCRIPT.py")
    p.add_argument("--input", action="append", metavar="SPEC", help="a batch input, DTYPE[DIMS] (synthetic batches); once per input")
    p.add_argument("--target", metavar="SPEC", help="the batch's target, DTYPE[DIMS] or DTYPE[DIMS]:LOW..HIGH")
    p.add_argument("--steps", type=int, default=5, metavar="K", help="optimisation steps to compare (default 5)")
    p.add_argument("--translated", metavar="FILE", help="use this (hand-edited) translation instead of translating SCRIPT")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--html", metavar="PAGE", help="also write the explain page of the script with loss and error per step")
    p.set_defaults(run=cmd_check_train)

    p = verbs.add_parser("rules", help="list the rule catalogue, or explain one rule")
    p.add_argument("code", nargs="?", metavar="CODE")
    p.add_argument("--html", metavar="DIR", help="write the catalogue as one searchable page, DIR/index.html")
    p.set_defaults(run=cmd_rules)

    p = verbs.add_parser("explain", help="PyTorch beside its Flax translation, line by line (terminal, or -o PAGE.html)")
    p.add_argument("source", metavar="SRC.py")
    p.add_argument("-o", "--output", metavar="PAGE.html", help="write a self-contained page (works offline) instead of printing")
    p.add_argument("--class", dest="class_name", metavar="NAME", help="the model class that --input checks")
    p.add_argument("--input", action="append", metavar="SPEC", help="with -o: add check results for --class (as `check`)")
    p.add_argument("--kwargs", metavar="JSON", help="constructor arguments (JSON object or Python dict literal)")
    p.add_argument("--examples", type=int, default=5, metavar="N", help="check examples (default 5)")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    add_build_argument(p)
    p.set_defaults(run=cmd_explain)

    p = verbs.add_parser("demo", help="translate, port and check the bundled seed models")
    p.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        stderr.print(f"torch2flax {args.verb}: error: {error}", markup=False)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the tool's own failure: one line, exit 3 (1: not translated, 2: bad usage)
        frames = traceback.extract_tb(error.__traceback__)
        ours = [f for f in frames if "/translator/" in f.filename] or frames
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
        stderr.print(f"torch2flax {args.verb}: internal error: {type(error).__name__}: {' '.join(str(error).split())[:300]} "
                     f"(at {where}); please report it with the input that caused it", markup=False)
        return 3


if __name__ == "__main__":
    sys.exit(main())
