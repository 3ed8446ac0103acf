"""Import the user's PyTorch model class and the translated Flax class.

A source file inside a package (a directory chain with ``__init__.py``) is
imported under its dotted package name, so its relative imports work; a loose
file is imported under a private name.  Every failure is a :class:`UsageError`.

:func:`import_for_class` runs only the top-level statements a class needs (its
definition, the imports, functions, classes and constants it uses, transitively):
a notebook exported as a script does not train, download, print or write files
when torch2flax builds its model.  A needed statement that is more than a plain
definition, import or constant (``data = load()`` used as a default) runs, and a
note on stderr says what ran and how long it took.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import json
import symtable
import sys
import time
import traceback
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from translator.diagnostics import UsageError
from translator.rewrite.local_imports import (
    _Module,
    _read,
    defined_names,
    needed_statements,
    used_names,
)


def package_root_and_name(path: Path) -> tuple[Path, str] | None:
    """For ``root/pkg/sub/mod.py`` with ``__init__.py`` in pkg and sub: ``(root, "pkg.sub.mod")``."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").exists():
        parts.insert(0, directory.name)
        directory = directory.parent
    if len(parts) == 1:
        return None
    return directory, ".".join(parts)


def import_source(path: str | Path, class_names: Iterable[str] | None = None) -> types.ModuleType:
    """Import a Python file as a module (under its package name when it has one).

    With ``class_names``, only what those classes need runs: see :func:`import_for_class`."""
    if class_names is not None:
        return import_for_class(path, class_names)
    path = Path(path).resolve()
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        located = package_root_and_name(path)
        if located is not None:
            root, name = located
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            if getattr(sys.modules.get(name), "__torch2flax_classes__", None) is not None:
                del sys.modules[name]  # a slice made for some classes (import_for_class): import the whole file
            return importlib.import_module(name)
        name = f"_torch2flax_src_{abs(hash(str(path)))}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        with script_directory_importable(path.parent):
            spec.loader.exec_module(module)
        return module
    except UsageError:
        raise
    except SyntaxError as error:
        raise UsageError(f"{error.filename}:{error.lineno}:{error.offset}: syntax error: {error.msg}") from None
    except Exception as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise UsageError(f"{frame.filename}:{frame.lineno}: importing {path.name} failed: {type(error).__name__}: {error}") from None


@contextlib.contextmanager
def script_directory_importable(directory: Path):
    """``from blocks import X`` next to a script works as when Python runs the script; the sibling
    modules it imported are forgotten afterwards, so another project's ``blocks`` is not mistaken for it."""
    before = set(sys.modules)
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        sys.path.remove(str(directory))
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin and Path(origin).resolve().parent == directory:
                del sys.modules[name]


# --------------------------------------------------------------------------- running only what a class needs
@dataclass(frozen=True)
class RanStatement:
    """A needed top-level statement that was more than a plain definition, import or constant."""

    path: str
    line: int
    text: str  # its first line, shortened
    seconds: float
    needed_by: tuple[str, ...]  # the classes it was run for

    def describe(self) -> str:
        return f"{self.path}:{self.line}: ran `{self.text}`, needed by {', '.join(self.needed_by)} ({self.seconds:.2f} s)"

    def to_json(self) -> dict:
        return {"path": self.path, "line": self.line, "statement": self.text, "seconds": round(self.seconds, 3),
                "needed_by": list(self.needed_by)}


_recorders: list[list[RanStatement]] = []


@contextlib.contextmanager
def recording_ran_statements() -> Iterator[list[RanStatement]]:
    """Collect, for a report, the :class:`RanStatement` of every :func:`import_for_class` in the block."""
    ran: list[RanStatement] = []
    _recorders.append(ran)
    try:
        yield ran
    finally:
        _recorders.remove(ran)


def import_for_class(path: str | Path, class_names: Iterable[str] | str) -> types.ModuleType:
    """A module holding ``class_names`` built by running only the top-level statements they need.

    What runs: the statements binding those names and, transitively, every top-level statement
    binding a global name they use (imports, functions, classes, constants, ``try``/``if`` blocks
    that bind such a name, ``X["k"] = v`` and ``X.append(v)`` on such a name), plus ``sys.path``
    edits, in source order.  Loops, ``if __name__ == "__main__":`` blocks and statements binding
    nothing the classes use (training, printing, I/O) do not run.  Each needed statement that is
    more than a plain definition, import or constant runs with a note on stderr saying what ran
    and how long it took (also collected by :func:`recording_ran_statements`).

    A loose file is run afresh under a private name.  A file inside a package keeps its package
    name, so relative imports work: the package's ``__init__`` runs first, as Python runs it; if
    that (or anything else) has already imported the whole file, that module is used as it is --
    there slicing is impossible and the file ran in full, as before.  Sibling modules it imports
    run in full.  A class bound only by dynamic code (``globals()[...] = ...``) is not found.
    Every failure is a :class:`UsageError` naming the file and line.
    """
    names = {class_names} if isinstance(class_names, str) else set(class_names)
    given, path = str(path), Path(path).resolve()
    if not path.is_file():
        raise UsageError(f"{given}: no such file")
    try:
        source = _read(path)
    except UnicodeDecodeError:
        raise UsageError(f"{given}: not a UTF-8 text file") from None
    statements = statements_for(source, names, given)
    located = package_root_and_name(path)
    if located is None:
        name = f"_torch2flax_src_{abs(hash(str(path)))}"
        with script_directory_importable(path.parent):
            return run_statements(source, statements, name, names)
    root, name = located
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    existing = reusable_module(name, names)
    if existing is None:
        import_module_reporting(name.rpartition(".")[0], path)  # the package's __init__ may import the file itself
        existing = reusable_module(name, names)
    return existing if existing is not None else run_statements(source, statements, name, names)


def statements_for(source: _Module, names: set[str], where: str) -> list[ast.stmt]:
    """The top-level statements to run for ``names``, in source order (``__future__`` imports left out:
    they become compiler flags); a class bound by no top-level statement is an error."""
    body = source.tree.body
    imported = {n for s in body if isinstance(s, (ast.Import, ast.ImportFrom)) for n in defined_names(s)}

    def binds(statement: ast.stmt) -> set[str]:
        return runtime_binds(statement, imported)

    bound = {n for s in body for n in binds(s)}
    for name in sorted(names - bound):
        available = sorted(s.name for s in body if isinstance(s, ast.ClassDef))
        raise UsageError(f"{where}: no class `{name}` (classes defined there: {', '.join(available) or 'none'})")
    prelude = [s for s in body if edits_sys_path(s)]
    wanted = names | {n for s in prelude for n in global_uses(s)}
    needed = needed_statements(source, wanted, binds=binds, uses=global_uses, every_binding=True)
    chosen = {id(s): s for s in [*prelude, *needed] if not is_future_import(s)}
    return sorted(chosen.values(), key=lambda s: s.lineno)


def runtime_binds(statement: ast.stmt, imported: set[str]) -> set[str]:
    """The global names a top-level statement binds or changes, for deciding what must run.

    Loops and ``if __name__ == "__main__":`` bind nothing here (they never run); an expression
    statement changes ``X`` when it calls a method on it (``X.append(v)``), unless ``X`` is an
    imported module (``torch.manual_seed(0)``, ``os.makedirs(...)``)."""
    if isinstance(statement, (ast.For, ast.AsyncFor, ast.While)) or is_main_guard(statement):
        return set()
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return set() if is_future_import(statement) else defined_names(statement)
    if isinstance(statement, ast.Expr):
        call = statement.value
        root = root_name(call.func) if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) else None
        return {root} if root is not None and root not in imported else set()
    return module_scope_bindings(statement) | mutated_roots(statement)


def module_scope_bindings(statement: ast.stmt) -> set[str]:
    """Names the statement binds at module scope (assignment, import, def, class, ``with ... as``)."""
    table = statement_symtable(statement)
    if table is None:
        return defined_names(statement)
    return {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}


def mutated_roots(statement: ast.stmt) -> set[str]:
    """``X`` for ``X[k] = v``, ``X.a = v``, ``X.a += v`` -- here or in the blocks of an ``if``/``try``/``with``."""
    roots: set[str] = set()
    if isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        roots |= {root_name(t) for t in targets if isinstance(t, (ast.Attribute, ast.Subscript))} - {None}
    elif isinstance(statement, (ast.If, ast.Try, ast.With, ast.AsyncWith)):
        blocks = [getattr(statement, field, []) for field in ("body", "orelse", "finalbody")]
        blocks += [handler.body for handler in getattr(statement, "handlers", [])]
        roots |= {n for block in blocks for s in block for n in mutated_roots(s)}
    return roots


def global_uses(statement: ast.stmt) -> set[str]:
    """The global names the statement reads or assigns when it runs or when what it defines is called:
    module-scope references plus the names its functions and classes resolve globally (a function's
    own local ``out`` is not a use of a global ``out``)."""
    table = statement_symtable(statement)
    if table is None:
        return used_names(statement)
    found = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    stack = list(table.get_children())
    while stack:
        scope = stack.pop()
        stack.extend(scope.get_children())
        found |= {s.get_name() for s in scope.get_symbols() if s.is_global() and (s.is_referenced() or s.is_assigned())}
    return found


def statement_symtable(statement: ast.stmt) -> symtable.SymbolTable | None:
    try:
        return symtable.symtable(ast.unparse(statement), "<statement>", "exec")
    except (SyntaxError, ValueError):  # top-level await in a notebook script, and the like
        return None


def root_name(node: ast.expr) -> str | None:
    """``X`` for ``X``, ``X.a.b``, ``X[k].a``; None otherwise."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def is_main_guard(statement: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either order)."""
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    test = statement.test
    sides = [test.left, *test.comparators]
    return (
        len(sides) == 2
        and isinstance(test.ops[0], ast.Eq)
        and any(isinstance(n, ast.Name) and n.id == "__name__" for n in sides)
        and any(isinstance(n, ast.Constant) and n.value == "__main__" for n in sides)
    )


def is_future_import(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.ImportFrom) and statement.module == "__future__"


def edits_sys_path(statement: ast.stmt) -> bool:
    """``sys.path.insert(...)``, ``sys.path.append(...)``, ``sys.path = ...`` (the file's imports may need it)."""
    def is_sys_path(node) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) and node.value.id == "sys"

    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        return isinstance(func, ast.Attribute) and is_sys_path(func.value)
    if isinstance(statement, (ast.Assign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return any(is_sys_path(t) for t in targets)
    return False


def is_plain(statement: ast.stmt) -> bool:
    """A definition, an import, an assignment that calls nothing, or a ``try``/``if`` made only of these
    (``try: from apex import X`` / ``except ImportError: X = nn.LayerNorm``): it runs in no time and does
    nothing else, so running it is not worth a note."""
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return calls_nothing(statement)
    if isinstance(statement, ast.If):
        return calls_nothing(statement.test) and all(map(is_plain, [*statement.body, *statement.orelse]))
    if isinstance(statement, ast.Try):
        handlers = [h for h in statement.handlers if h.type is None or calls_nothing(h.type)]
        blocks = [*statement.body, *statement.orelse, *statement.finalbody, *(s for h in statement.handlers for s in h.body)]
        return len(handlers) == len(statement.handlers) and all(map(is_plain, blocks))
    return isinstance(statement, ast.Pass)


def calls_nothing(node: ast.AST) -> bool:
    """No call, ``await`` or ``yield`` outside a lambda's body (which does not run here)."""
    stack: list[ast.AST] = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)):
            return False
        if not isinstance(node, ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return True


def reusable_module(name: str, names: set[str]) -> types.ModuleType | None:
    """The module already imported under ``name`` if it holds ``names``: a whole import, or a slice made for them."""
    module = sys.modules.get(name)
    if module is None:
        return None
    sliced_for = getattr(module, "__torch2flax_classes__", None)
    return module if sliced_for is None or names <= sliced_for else None


def import_module_reporting(name: str, path: Path) -> types.ModuleType:
    """``importlib.import_module(name)`` with failures as a :class:`UsageError` naming file and line."""
    try:
        return importlib.import_module(name)
    except SyntaxError as error:
        raise UsageError(f"{error.filename}:{error.lineno}:{error.offset}: syntax error: {error.msg}") from None
    except Exception as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise UsageError(f"{frame.filename}:{frame.lineno}: importing {path.name} failed: {type(error).__name__}: {error}") from None


def run_statements(source: _Module, statements: list[ast.stmt], name: str, names: set[str]) -> types.ModuleType:
    """A fresh module ``name`` (registered in ``sys.modules``) in which ``statements`` ran, one at a time."""
    path = source.path
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.__doc__ = ast.get_docstring(source.tree, clean=False)
    module.__torch2flax_classes__ = frozenset(names)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    ran: set[int] = set()
    run_into(module, source, statements, names, ran)

    def extend_slice(attribute: str):
        """A class or function of the file the slice did not run (``import pkg.models; pkg.models.Other``
        elsewhere in the process sees this module): run what it needs, as the whole file would have bound
        it.  Only definitions: a probe for ``model`` or ``STEPS`` must not start the file's training script."""
        bound = {s.name for s in source.tree.body if isinstance(s, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))}
        if attribute.startswith("__") or attribute not in bound:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        wanted = set(module.__torch2flax_classes__) | {attribute}
        run_into(module, source, statements_for(source, wanted, str(path)), wanted, ran)
        module.__torch2flax_classes__ = frozenset(wanted)
        return module.__dict__[attribute]

    module.__getattr__ = extend_slice
    return module


def run_into(module: types.ModuleType, source: _Module, statements: list[ast.stmt], names: set[str], ran: set[int]) -> None:
    """Run each of ``statements`` not yet in ``ran`` in ``module``; a failure is a :class:`UsageError`."""
    flags = future_flags(source.tree)
    for statement in statements:
        if statement.lineno in ran:
            continue
        ran.add(statement.lineno)
        code = compile(ast.Module(body=[statement], type_ignores=[]), str(source.path), "exec", flags=flags, dont_inherit=True)
        started = time.perf_counter()
        try:
            exec(code, module.__dict__)
        except (Exception, SystemExit) as error:
            sys.modules.pop(module.__name__, None)
            raise UsageError(statement_failure(source, statement, error, names)) from None
        if not is_plain(statement):
            seconds = time.perf_counter() - started
            report_ran(RanStatement(str(source.path), statement.lineno, first_line(source, statement), seconds, tuple(sorted(names))))


def future_flags(tree: ast.Module) -> int:
    import __future__

    flags = 0
    for statement in tree.body:
        if is_future_import(statement):
            for alias in statement.names:
                feature = getattr(__future__, alias.name, None)
                flags |= feature.compiler_flag if feature is not None else 0
    return flags


def statement_failure(source: _Module, statement: ast.stmt, error: BaseException, names: set[str]) -> str:
    """``file:line: running `stmt` (needed by Net) failed: Error: message (at inner/file.py:12)``."""
    frames = traceback.extract_tb(error.__traceback__)[1:]  # the first frame is the exec call above
    inner = frames[-1] if frames else None
    at = f" (at {inner.filename}:{inner.lineno})" if inner is not None and (inner.filename, inner.lineno) != (str(source.path), statement.lineno) else ""
    hint = ""
    if isinstance(error, NameError):
        hint = "; torch2flax runs only the top-level statements the class needs, and found none binding this name"
    needed_by = ", ".join(sorted(names))
    return (f"{source.path}:{statement.lineno}: running `{first_line(source, statement)}` (needed by {needed_by}) failed: "
            f"{type(error).__name__}: {error}{at}{hint}")


def first_line(source: _Module, statement: ast.stmt, width: int = 72) -> str:
    text = source.lines[statement.lineno - 1][statement.col_offset:].strip()
    if len(text) > width:
        return text[: width - 3] + "..."
    return text + (" ..." if (statement.end_lineno or statement.lineno) > statement.lineno else "")


def report_ran(ran: RanStatement) -> None:
    """The note on stderr, and the record for every :func:`recording_ran_statements` block."""
    print(f"note: {ran.describe()}", file=sys.stderr, flush=True)
    for recorder in _recorders:
        recorder.append(ran)


def module_from_code(code: str, name: str) -> types.ModuleType:
    """Execute generated Flax code as a fresh module."""
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    sys.modules[name] = module  # dataclass machinery (used by Flax) looks the module up by name
    try:
        exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    except Exception as error:
        raise UsageError(f"the translation of {name} does not import: {type(error).__name__}: {error}") from None
    return module


def class_from(module: types.ModuleType, class_name: str, where: str) -> type:
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        available = sorted(n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__)
        raise UsageError(f"{where}: no class `{class_name}` (classes defined there: {', '.join(available) or 'none'})")
    return cls


def parse_kwargs(text: str | None) -> dict:
    """``--kwargs``: a JSON object or a Python literal dict (so tuples can be passed)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise UsageError(
                f"--kwargs: not a JSON object or Python literal dict: {text!r} "
                "(example: --kwargs '{\"num_classes\": 10}')"
            ) from None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise UsageError(f"--kwargs: expected an object with string keys, got {type(value).__name__}: {text!r}")
    return value


def instantiate(cls: type, kwargs: dict, where: str):
    """``cls(**kwargs)``; wrong arguments, or a global name the constructor cannot find, are a :class:`UsageError`."""
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise UsageError(f"{where}: cannot construct {cls.__name__}(**{kwargs!r}): {error}") from None
    except NameError as error:
        raise UsageError(
            f"{where}: cannot construct {cls.__name__}(**{kwargs!r}): NameError: {error} (only the top-level statements "
            "a class needs run, found by the names it uses; bind this name at the top level of the file)"
        ) from None
    except Exception as error:  # the constructor's own failure (a registry filled by a top-level loop that did not run)
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise UsageError(
            f"{frame.filename}:{frame.lineno}: constructing {cls.__name__}(**{kwargs!r}) failed: {type(error).__name__}: "
            f"{error} (only the top-level statements a class needs run: loops and calls at the top level do not)"
        ) from None
