"""Source in, Flax source out: parse, resolve names, translate classes, emit.

Data flows one way: source -> :func:`resolve` -> class discovery -> rules
rewrite each class (in dependency order, so a submodule's ``train`` flag is
known before its callers) -> imports scheduled -> formatted code.
"""

from __future__ import annotations

import ast
import pydoc
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import black
import isort
import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from translator.diagnostics import Diagnostic, NoModelClass, Severity, UsageError
from translator.naming import is_torch_name, library_name, resolve
from translator.rewrite.body import BodyTranslator
from translator.rewrite.containers import container_kind
from translator.rewrite.context import FileContext, RedundantArgumentParens, code_of
from translator.rewrite.custom_gradients import translate_custom_gradient
from translator.rewrite.decorators import read_decorators, stop_returned_gradients
from translator.rewrite.line_map import LineMarks, MappedBlock, mapped_code
from translator.rewrite.local_imports import LOCAL_IMPORTS, merge_local_imports
from translator.rewrite.model import ClassInfo, FileInfo
from translator.rewrite.module_arguments import module_arguments
from translator.rewrite.module_class import SetupExpressions, is_torch_module_base, translate_class
from translator.rules.registry import rule_for_qualified_name

SCRIPT_CODE = "S010"
TORCH_IMPORT = m.Import(names=[m.ZeroOrMore(), m.ImportAlias(name=m.Name("torch") | m.Attribute()), m.ZeroOrMore()])

#: imports the emitted code may use; each is kept only where the code uses it
FLAX_IMPORTS = (
    ("flax.linen", None, "nn"),
    ("jax", None, None),
    ("jax.numpy", None, "jnp"),
    ("functools", "partial", None),
    ("typing", "Any", None),
    ("einops", None, None),
    ("einops.layers", "flax", "einops_flax"),
    ("optax", None, None),
    ("flax.training", "train_state", None),
    ("flax", "serialization", None),
    ("numpy", None, "np"),
    ("pathlib", None, None),
)


@dataclass(frozen=True)
class Translation:
    """The Flax code for one file and what the translator reported about it."""

    code: str
    diagnostics: tuple[Diagnostic, ...]
    classes: tuple[str, ...]
    class_info: dict[str, ClassInfo] = field(default_factory=dict, compare=False)
    #: which Flax lines each user statement became (``translate_source(..., line_map=True)``; else empty)
    line_map: tuple[MappedBlock, ...] = field(default=(), compare=False)

    @property
    def constant_buffers(self) -> dict[str, frozenset[str]]:
        """Class name -> the persistent buffers its translation computes in setup (rule S009), which the
        port checks against the checkpoint instead of storing (``plan_port(..., constant_buffers=)``)."""
        return {name: frozenset(c.constant_buffers) for name, c in self.class_info.items() if c.constant_buffers}

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def ok(self) -> bool:
        return not self.errors


def translate_source(source: str, path: str = "<source>", notes: bool = True, line_map: bool = False,
                     buffer_values: bool = True) -> Translation:
    """Translate a PyTorch model file's source to Flax (raises :class:`UsageError` on bad input).

    ``line_map``: also record which Flax lines each user statement became (:attr:`Translation.line_map`);
    the code is the same either way.  ``buffer_values=False``: the buffers' values in ``source`` are
    placeholders (the built model's regenerated source), so every persistent buffer stays a variable."""
    try:
        ast.parse(source, path)  # CPython's own message and position are the clearest
    except SyntaxError as error:
        raise UsageError(f"{path}:{error.lineno}:{error.offset or 1}: syntax error: {error.msg}") from None
    merged = merge_local_imports(source, path)
    source = merged.text
    try:
        resolved = resolve(source)
    except cst.ParserSyntaxError as error:
        raise UsageError(f"{path}:{error.raw_line}:{error.raw_column + 1}: syntax error: {error.message}") from None
    file = FileContext(resolved, path, notes_enabled=notes, marks=LineMarks(source.splitlines()) if line_map else None,
                       buffer_values=buffer_values)
    module = resolved.module
    info = discover(module, file)
    if not info.classes:
        raise NoModelClass(f"{path}: no torch.nn.Module subclass found; nothing to translate")

    factories = {
        s.name.value: guarded(translate_factory, s, file, info)
        for s in module.body
        if isinstance(s, cst.FunctionDef) and builds_layers(s, file)
    }
    custom_gradients = {  # before the models: their calls of `Fn.apply` need to know what Fn became
        s.name.value: guarded(translate_custom_gradient, s, file, info)
        for s in module.body if isinstance(s, cst.ClassDef) and s.name.value in info.autograd_functions
    }
    translated_classes: dict[str, cst.ClassDef] = {}
    class_nodes = {s.name.value: s for s in module.body if isinstance(s, cst.ClassDef) and s.name.value in info.classes}
    info.module_arguments = module_arguments(class_nodes, info)
    info.submodule_classes = built_inside(module, info)
    for name in dependency_order(class_nodes, info):
        translated_classes[name] = guarded(translate_class, class_nodes[name], file, info)

    body: list[cst.BaseStatement] = []
    script: list[tuple[int, cst.BaseStatement]] = []  # module-level script code, with where it stood in the output
    for index, statement in enumerate(module.body):
        if isinstance(statement, cst.ClassDef) and statement.name.value in translated_classes:
            body.append(translated_classes[statement.name.value])
        elif isinstance(statement, cst.FunctionDef) and statement.name.value in factories:
            body.append(factories[statement.name.value])
        elif isinstance(statement, cst.FunctionDef):
            body.append(guarded(translate_function, statement, file, info))
        elif m.matches(statement, m.SimpleStatementLine(body=[m.Import() | m.ImportFrom()])):
            if not imports_torch(statement):
                body.append(statement)
        elif index == 0 and m.matches(statement, m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString())])):
            continue  # the original docstring is replaced by ours
        elif is_constant(statement, file):
            body.append(statement)
        elif isinstance(statement, cst.ClassDef) and statement.name.value in info.autograd_functions:
            translated = custom_gradients.get(statement.name.value)
            body.extend(translated if isinstance(translated, list) else [statement])  # reported (X007): kept by its TODO
        elif isinstance(statement, cst.ClassDef) and any(
            is_torch_name(library_name(file.resolved, base.value) or "") for base in statement.bases
        ):
            bases = ", ".join(library_name(file.resolved, b.value) or "" for b in statement.bases)
            file.report(
                "S001",
                f"`{statement.name.value}` subclasses `{bases}`: subclasses of torch layers and containers are not "
                "translated yet (subclass nn.Module and hold the layer as an attribute)",
                statement,
            )
        else:
            script.append((len(body), statement))
    script_code = translate_script_code(script, file, info, translated_classes)
    if file.support:
        support = cst.parse_module("\n\n".join(file.support[name] for name in sorted(file.support)))
        first, *rest = support.body
        header = cst.EmptyLine(comment=cst.Comment("# Support code the rules above rely on (each cites its rule)."))
        body.extend([first.with_changes(leading_lines=[cst.EmptyLine(), header]), *rest])
    body.extend(script_code)  # after the definitions and support code its module-level lines use
    brought = "".join(
        f"\n{LOCAL_IMPORTS}: {', '.join(names)} from {Path(module_path).name} (imported by the file) are translated here too."
        for module_path, names in merged.brought
    )
    docstring = cst.SimpleStatementLine(
        body=[cst.Expr(cst.SimpleString(f'"""Flax (linen) translation of {Path(path).name}, generated by torch2flax.{NOTE_HINT if notes else ""}{brought}\n"""'))]
    )
    out = module.with_changes(body=[docstring, *body], header=[])
    out = schedule_imports(out).visit(RedundantArgumentParens()).visit(BracketContinuedValues())
    report_leftover_torch(out, module, file)
    try:
        code = format_code(out.code)
    except Exception as error:  # black cannot parse what was emitted: never a traceback, never a quiet pass
        code = out.code
        file.report(INTERNAL, f"the emitted code does not parse ({type(error).__name__}: {' '.join(str(error).split())[:160]}); "
                              "please report it", module)
    code, blocks = mapped_code(code, file.marks, merged.locate, path)
    return Translation(
        code=code,
        diagnostics=tuple(
            [Diagnostic(LOCAL_IMPORTS, message, where, line, 1) for where, line, message in merged.problems]
            + [merged.remap(d) for d in file.diagnostics]
        ),
        classes=tuple(info.classes),
        class_info=dict(info.classes),
        line_map=blocks,
    )


def report_leftover_torch(out: cst.Module, source: cst.Module, file: FileContext) -> None:
    """The translation imports no torch: a `torch.<name>` still in its code (not a comment) would fail where it
    runs (`assert version.parse(torch.__version__) ...` copied into setup). Each is reported at the source's
    first such reference, unless a diagnostic already stands on that line (code kept under its TODO)."""
    if any(m.matches(s, m.SimpleStatementLine(body=[m.Import() | m.ImportFrom()])) and imports_torch(s) for s in out.body):
        return
    torch_attribute = m.Attribute(value=m.Name("torch"), attr=m.Name())
    left = {node.attr.value for node in m.findall(out, torch_attribute)}
    first_use: dict[str, cst.Attribute] = {}
    for node in m.findall(source, torch_attribute):  # one walk: in source order, so the first per name
        first_use.setdefault(node.attr.value, node)
    reported_lines = {d.line for d in file.diagnostics}
    for name in sorted(left):
        origin = first_use.get(name)
        if origin is None or origin not in file.resolved.positions:
            continue
        if file.resolved.position(origin)[0] in reported_lines:
            continue
        file.report("X001", f"`torch.{name}` is left in the translation as written (no rule reads it "
                                           "there); the Flax file has no torch: rewrite or remove this use", origin)


def translate_script_code(script: list[tuple[int, cst.BaseStatement]], file: FileContext, info: FileInfo,
                          classes: dict[str, cst.ClassDef]) -> list[cst.BaseStatement]:
    """Module-level script code: a training script becomes its JAX form, placed at the end of the file
    (rule S020); anything else is left out with a warning (rule S010)."""
    if not script:
        return []
    from translator.training.script import translate_script

    class_code = {name: code_of(node) for name, node in classes.items()}
    translated = guarded(lambda _node, f, i: translate_script([s for _, s in script], f, i, class_code), script[0][1], file, info)
    if isinstance(translated, list):
        return translated
    for _, statement in script:
        file.report(
            SCRIPT_CODE,
            "module-level script code (instantiation, training, I/O) is not part of the model; left out",
            statement,
            Severity.WARNING,
        )
    return []


#: the translator's own failure on a construct: reported there (exit 1), the construct left as it was
INTERNAL = "I001"


def guarded(translate, node: cst.CSTNode, file: FileContext, info: FileInfo):
    """``translate(node, file, info)``; an exception inside the rewriter becomes an ``I001`` diagnostic at
    ``node`` and the node is kept untranslated (a fallback such as the built model can still take over)."""
    try:
        return translate(node, file, info)
    except Exception as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        file.report(INTERNAL, f"the translator failed here ({type(error).__name__}: {error}, at {Path(frame.filename).name}:"
                              f"{frame.lineno}); the PyTorch code is left as it is: please report it", node)
        return node


class BracketContinuedValues(cst.CSTTransformer):
    """Parentheses around a statement's value that spans lines outside any bracket.

    A rewrite that drops a call around its argument (``nn.ModuleList([a] +\\n [b])`` becomes
    ``[a] +\\n [b]``) keeps the source's line break, which Python allows only inside brackets."""

    def leave_SimpleStatementLine(self, original, updated):
        if parses(updated):
            return updated
        wrapped = updated.with_changes(body=[bracketed(s) for s in updated.body])
        return wrapped if parses(wrapped) else updated


def parses(statement: cst.SimpleStatementLine) -> bool:
    try:
        ast.parse(cst.Module(body=[statement]).code)
        return True
    except SyntaxError:
        return False


def bracketed(statement: cst.BaseSmallStatement) -> cst.BaseSmallStatement:
    value = getattr(statement, "value", None)
    if isinstance(value, cst.BaseExpression) and not getattr(value, "lpar", ()):
        return statement.with_changes(value=value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]))
    return statement


NOTE_HINT = (
    "\n\nComments cite the rule that produced a line; `torch2flax rules CODE` explains it.\n"
    "Inputs and outputs keep PyTorch's layout (NCHW); convolutions run channels-last (NHWC) inside."
)


AUTOGRAD_FUNCTION = ("torch.autograd.Function", "torch.autograd.function.Function")


def discover(module: cst.Module, file: FileContext) -> FileInfo:
    """The user's nn.Module subclasses (direct or through another such class) and helper functions."""
    info = FileInfo()
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef):
            info.functions.add(statement.name.value)
        if not isinstance(statement, cst.ClassDef):
            continue
        for base in statement.bases:
            if library_name(file.resolved, base.value) in AUTOGRAD_FUNCTION:  # translated (S022) or reported (X007)
                info.autograd_functions.add(statement.name.value)
            if is_torch_module_base(file, base.value):
                info.classes[statement.name.value] = ClassInfo(statement.name.value)
            elif m.matches(base.value, m.Name()) and base.value.value in info.classes:
                file.report(
                    "S001",
                    f"`{statement.name.value}` subclasses the user module `{base.value.value}`: inheritance between "
                    "models is not translated yet",
                    statement,
                )
    return info


def dependency_order(classes: dict[str, cst.ClassDef], info: FileInfo) -> list[str]:
    """Classes ordered so that each comes after the user classes it instantiates."""
    uses = {
        name: {
            call.func.value
            for call in m.findall(node, m.Call(func=m.Name()))
            if call.func.value in classes and call.func.value != name
        }
        | {ref.class_name for kinds in info.module_arguments.get(name, {}).values() for ref in kinds if ref.class_name != name}
        for name, node in classes.items()
    }
    ordered: list[str] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in ordered or name in stack:
            return
        for dependency in sorted(uses[name]):
            visit(dependency, (*stack, name))
        ordered.append(name)

    for name in classes:
        visit(name, ())
    return ordered


def built_inside(module: cst.Module, info: FileInfo) -> set[str]:
    """The classes of the file that another class or a function of the file builds (its submodules); a class
    only the script code or the user builds keeps one ``__call__`` (rule S004)."""
    built: set[str] = set()
    for statement in module.body:
        if not isinstance(statement, (cst.ClassDef, cst.FunctionDef)):
            continue
        own = statement.name.value if isinstance(statement, cst.ClassDef) else None
        built |= {node.value for node in m.findall(statement, m.Name()) if node.value in info.classes and node.value != own}
    return built


def builds_layers(node: cst.FunctionDef, file: FileContext) -> bool:
    """A module-level function that constructs torch layers (``conv3x3``, ``make_layers``)."""
    for call in m.findall(node, m.Call()):
        qualified = library_name(file.resolved, call.func)
        rule = rule_for_qualified_name(qualified) if qualified else None
        if (rule is not None and rule.torch_classes and isinstance(pydoc.locate(qualified), type)) or container_kind(qualified):
            return True
    return False


def translate_factory(node: cst.FunctionDef, file: FileContext, info: FileInfo) -> cst.FunctionDef:
    """Translate a layer factory like ``__init__`` code, and record what it returns for its callers."""
    builder = SetupExpressions(file, info, ClassInfo(node.name.value), {})
    translated = node.visit(builder)
    kinds = []
    for statement in m.findall(translated, m.Return()):
        if statement.value is not None:
            kinds.append(builder.kind_of(statement.value))
    distinct = {id(k) for k in kinds}
    if len(distinct) == 1 and kinds[0] is not None:
        info.factories[node.name.value] = kinds[0]
    else:
        file.report("S006", f"`{node.name.value}` builds layers but what it returns cannot be told from its code", node)
    file.note("S006", "a function that builds layers is translated like __init__ code; its callers know what it returns")
    notes = [cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in file.take_notes()]
    return file.mark(translated.with_changes(leading_lines=[*translated.leading_lines, *notes]), node)


def translate_function(node: cst.FunctionDef, file: FileContext, info: FileInfo) -> cst.FunctionDef:
    decorators = read_decorators(node, file)
    translator = BodyTranslator(file, info, None)
    params = translator.parameters(node.params)
    body = translator.block(node.body.body)
    if decorators.stops_gradient:
        body = stop_returned_gradients(body)
    return file.mark(node.with_changes(decorators=decorators.kept, params=params, body=node.body.with_changes(body=body),
                                       leading_lines=[*node.leading_lines, *decorators.comments]), node)


def imports_torch(statement: cst.SimpleStatementLine) -> bool:
    node = statement.body[0]
    if isinstance(node, cst.ImportFrom):
        module = code_of(node.module) if node.module is not None else ""
        return module == "torch" or module.startswith(("torch.", "torchvision"))
    return any(code_of(alias.name).split(".")[0] in ("torch", "torchvision") for alias in node.names)


#: module-level calls that make plain Python types, kept as written
PLAIN_TYPES = ("collections.namedtuple", "typing.NamedTuple", "typing.TypeVar")


def is_constant(statement: cst.BaseStatement, file: FileContext) -> bool:
    """A module-level assignment of a Python literal (``EPS = 1e-5``, ``SIZES = (64, 128)``) or of a plain
    Python type (``Config = namedtuple("Config", [...])``)."""
    if not m.matches(statement, m.SimpleStatementLine(body=[m.Assign() | m.AnnAssign()])):
        return False
    value = statement.body[0].value
    if value is None or isinstance(value, cst.Ellipsis):
        return False
    if isinstance(value, cst.Call) and library_name(file.resolved, value.func) in PLAIN_TYPES:
        return True  # `Config = namedtuple(...)`: a plain Python type the classes may use (a field's default)
    try:
        ast.literal_eval(code_of(value).strip())
    except (ValueError, SyntaxError):
        return False
    return True


def schedule_imports(module: cst.Module) -> cst.Module:
    """Add the Flax/JAX imports the emitted code may use, then drop every import it does not use."""
    context = CodemodContext()
    for module_name, obj, alias in FLAX_IMPORTS:
        AddImportsVisitor.add_needed_import(context, module_name, obj, alias)
    module = AddImportsVisitor(context).transform_module(module)
    # RemoveImportsVisitor names a relative import's module from the package it sits in; the output has
    # none, so give it one deep enough for the file's deepest `from ..` (the name is never written)
    depth = max((len(s.body[0].relative) for s in module.body
                 if m.matches(s, m.SimpleStatementLine(body=[m.ImportFrom()]))), default=0)
    package = ".".join(["translation"] * (depth + 1))
    context = CodemodContext(wrapper=cst.MetadataWrapper(module), full_package_name=package,
                             full_module_name=f"{package}.module")
    for statement in module.body:
        if m.matches(statement, m.SimpleStatementLine(body=[m.Import() | m.ImportFrom()])):
            RemoveImportsVisitor.remove_unused_import_by_node(context, statement.body[0])
    return context.wrapper.visit(RemoveImportsVisitor(context))


def format_code(code: str) -> str:
    """Imports sorted (isort) and code formatted (black), as a hand-written file would be."""
    code = isort.code(code, profile="black", line_length=100)
    return black.format_str(code, mode=black.Mode(line_length=100))
