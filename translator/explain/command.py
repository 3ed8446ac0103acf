"""The command-line entry points of the teaching pages (``translator.cli`` only parses and calls).

* ``torch2flax explain FILE [--class NAME] [--input SPEC ... --kwargs JSON] [-o PAGE.html]``:
  without ``-o``, the two columns on the terminal; with it, the page (and, given ``--input``,
  the check results of ``--class`` on it).
* ``torch2flax rules --html DIR``: the catalogue page ``DIR/index.html``.
"""

from __future__ import annotations

from rich.console import Console

from translator.diagnostics import UsageError


def run_explain(args, stdout: Console, stderr: Console) -> int:
    """Exit 0 when the file translates cleanly, 1 when it has constructs not translated (shown)."""
    from translator.explain.mapping import explain_file
    from translator.explain.page import explain_page, write_page

    explained = explain_file(args.source)
    if args.class_name and args.class_name not in explained.translation.classes:
        raise UsageError(f"{args.source}: no model class `{args.class_name}` in the translation "
                         f"(classes: {', '.join(explained.translation.classes)})")
    if args.input and not args.class_name:
        raise UsageError("--input checks a model: name it with --class NAME")
    if not args.output:
        if args.input:
            raise UsageError("check results are drawn on the page: add -o PAGE.html")
        from translator.explain.terminal import print_two_columns

        print_two_columns(explained, stdout)
        return 1 if explained.translation.errors else 0
    sections = ()
    if args.input:
        from translator.equivalence.specs import parse_spec
        from translator.explain.check_section import check_section
        from translator.loading import parse_kwargs

        specs = [parse_spec(s) for s in args.input]
        stderr.print(f"checking {args.class_name} ({args.examples} examples) ...", markup=False)
        sections = (check_section(args.source, args.class_name, specs, parse_kwargs(args.kwargs), args.examples,
                                  args.seed, args.build),)
    path = write_page(explain_page(explained, sections), args.output)
    counts = explained.counts()
    stderr.print(f"wrote {path}: {counts['translated_lines']} of {counts['code_lines']} code lines mapped, "
                 f"{counts['rules']} rules, {counts['errors']} not translated, {counts['warnings']} fidelity notes"
                 + ("; check results included" if sections else "") + " (open it in a browser; it works offline)",
                 markup=False)
    return 1 if explained.translation.errors else 0


def run_rules_html(directory: str, stderr: Console) -> int:
    from translator.explain.catalogue_page import write_catalogue
    from translator.rules.registry import all_rules

    path = write_catalogue(directory)
    stderr.print(f"wrote {path}: {len(all_rules())} rules, searchable by code and PyTorch name", markup=False)
    return 0
