"""Follow a model file's imports of its own project's modules, so the translation is one self-contained file.

``from .blocks import ResBlock`` (or ``from mypkg.blocks import ResBlock``, or
``from blocks import ResBlock`` next to the file) brings PyTorch code the
translator must see: the definitions the file uses -- and what those need, in
turn -- are spliced into the source before translation, and every diagnostic is
mapped back to the file and line it came from.  Imports of installed libraries
are left alone.  (Rule S014.)
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from translator.diagnostics import Diagnostic, UsageError

LOCAL_IMPORTS = "S014"


@dataclass(frozen=True)
class Chunk:
    """Lines ``first..first+count-1`` of the merged source are lines ``origin_first..`` of ``path``."""

    first: int
    count: int
    path: str
    origin_first: int


@dataclass
class MergedSource:
    """The source to translate, where each of its lines came from, and what was brought in."""

    text: str
    chunks: list[Chunk] = field(default_factory=list)
    #: (module path, names) for each local module whose definitions were brought in
    brought: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    #: problems found while following imports: (path, line, message)
    problems: list[tuple[str, int, str]] = field(default_factory=list)

    def locate(self, line: int) -> tuple[str, int] | None:
        for chunk in self.chunks:
            if chunk.first <= line < chunk.first + chunk.count:
                return chunk.path, chunk.origin_first + line - chunk.first
        return None

    def remap(self, diagnostic: Diagnostic) -> Diagnostic:
        where = self.locate(diagnostic.line)
        if where is None:
            return diagnostic
        return replace(diagnostic, path=where[0], line=where[1])


def package_root(directory: Path) -> Path:
    """The directory that holds the top-level package containing ``directory`` (itself if no package)."""
    while (directory / "__init__.py").exists() and directory.parent != directory:
        directory = directory.parent
    return directory


def local_module_file(node: ast.ImportFrom, path: Path) -> Path | None:
    """The project file an ``import from`` refers to, or None for an installed library."""
    parts = node.module.split(".") if node.module else []
    if node.level:
        base = path.parent
        for _ in range(node.level - 1):
            base = base.parent
        candidates = [base.joinpath(*parts)]
    else:
        if not parts:
            return None
        root = package_root(path.parent)
        if root != path.parent:  # in a package: only imports of that same top-level package are local
            top = path.parent.relative_to(root).parts[0]
            candidates = [root.joinpath(*parts)] if parts[0] == top else []
        elif path.parent.name in ("site-packages", "dist-packages"):
            candidates = []  # a module installed at top level: its neighbours are other installed libraries
        else:  # a script: `from blocks import X` next to it
            candidates = [path.parent.joinpath(*parts)]
    for candidate in candidates:
        if candidate.with_suffix(".py").is_file() and parts:
            return candidate.with_suffix(".py").resolve()
        if (candidate / "__init__.py").is_file():
            return (candidate / "__init__.py").resolve()
    return None


def defined_names(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def used_names(statement: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(statement) if isinstance(n, ast.Name)}


def statement_lines(statement: ast.stmt) -> tuple[int, int]:
    first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
    return first, statement.end_lineno or statement.lineno


@dataclass
class _Module:
    path: Path
    lines: list[str]
    tree: ast.Module


def _read(path: Path) -> _Module:
    text = path.read_text()
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as error:
        raise UsageError(f"{path}:{error.lineno}:{error.offset or 1}: syntax error: {error.msg}") from None
    return _Module(path, text.splitlines(), tree)


def needed_statements(
    module: _Module,
    names: set[str] | None,
    *,
    binds: Callable[[ast.stmt], set[str]] = defined_names,
    uses: Callable[[ast.stmt], set[str]] = used_names,
    every_binding: bool = False,
) -> list[ast.stmt]:
    """The top-level statements of ``module`` that define ``names`` (all definitions for ``*``) and
    everything they use from the same module, in source order.

    ``binds``/``uses`` say which names a statement binds and uses (default: a syntactic reading
    fit for splicing definitions).  By default only the last statement binding a name counts; with
    ``every_binding`` every one does (``x = 1`` then ``x += 1``: both are needed to run ``x``)."""
    definers: dict[str, list[ast.stmt]] = {}
    for statement in module.tree.body:
        for name in binds(statement):
            if every_binding:
                definers.setdefault(name, []).append(statement)
            else:
                definers[name] = [statement]
    if names is None:
        names = {n for s in module.tree.body if isinstance(s, (ast.ClassDef, ast.FunctionDef)) for n in defined_names(s)}
    wanted: dict[int, ast.stmt] = {}
    queue = [s for n in names for s in definers.get(n, ())]
    while queue:
        statement = queue.pop()
        if id(statement) in wanted:
            continue
        wanted[id(statement)] = statement
        queue.extend(s for n in uses(statement) for s in definers.get(n, ()))
    return sorted(wanted.values(), key=lambda s: s.lineno)


def merge_local_imports(source: str, path: str) -> MergedSource:
    """The file's source with the project definitions it imports spliced in (see module docstring)."""
    main_path = Path(path)
    tree = ast.parse(source, path)
    lines = source.splitlines()
    merged = MergedSource(source, [Chunk(1, len(lines) + 1, path, 1)])
    if not main_path.is_file():
        return merged
    local, dropped = [], []
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
            continue
        file = local_module_file(node, main_path)
        if file is not None and file != main_path.resolve():
            local.append((node, file))
        elif node.level:  # a relative import that names no file of the project
            merged.problems.append((path, node.lineno, f"the relative import `{ast.unparse(node)}` names no module file here; not followed"))
            dropped.append(node)
    if not local and not dropped:
        return merged

    # the head (docstring, __future__ imports) stays first; brought-in code follows it
    head_end = 0
    for index, node in enumerate(tree.body):
        is_docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if is_docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            head_end = node.end_lineno
        else:
            break
    out: list[str] = []
    chunks: list[Chunk] = []

    def emit(text_lines: list[str], origin: str, origin_first: int) -> None:
        chunks.append(Chunk(len(out) + 1, len(text_lines), origin, origin_first))
        out.extend(text_lines)

    emit(lines[:head_end], path, 1)
    seen: set[int] = set()
    own_names = {n for s in tree.body if not isinstance(s, ast.ImportFrom) for n in defined_names(s)}
    brought_names: dict[str, str] = {}
    # a library's modules import one another many times over: each file is parsed once, each (file, names)
    # followed once, and the docstring lists each module once with every name brought from it
    modules: dict[Path, _Module] = {}
    followed: set[tuple[Path, frozenset[str] | None]] = set()
    brought: dict[str, set[str]] = {}

    def bring(node: ast.ImportFrom, file: Path, importer: str, stack: tuple[Path, ...]) -> None:
        if file in stack:
            return
        renamed = [alias.name for alias in node.names if alias.asname and alias.asname != alias.name]
        if renamed:
            merged.problems.append(
                (importer, node.lineno, f"{', '.join(renamed)}: a local import renamed with `as` is not followed; import the name itself")
            )
        star = any(alias.name == "*" for alias in node.names)
        names = None if star else {alias.name for alias in node.names if alias.name not in renamed}
        key = (file, None if names is None else frozenset(names))
        if key in followed:
            return
        followed.add(key)
        if file not in modules:
            modules[file] = _read(file)
        module = modules[file]
        statements = needed_statements(module, names)
        missing = sorted((names or set()) - {n for s in statements for n in defined_names(s)})
        if missing:
            merged.problems.append((importer, node.lineno, f"{', '.join(missing)} not found in {file.name}"))
        for statement in statements:
            if isinstance(statement, ast.ImportFrom) and statement.module != "__future__":
                nested = local_module_file(statement, file)
                if nested is not None:
                    bring(statement, nested, str(file), (*stack, file))
                    continue
                if statement.level:
                    merged.problems.append((str(file), statement.lineno, "a relative import that names no module file; not followed"))
                    continue
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                continue
            key = hash((str(file), statement.lineno))
            if key in seen:
                continue
            seen.add(key)
            for name in defined_names(statement):
                if isinstance(statement, (ast.Import, ast.ImportFrom)):
                    continue
                if name in own_names or brought_names.get(name, str(file)) != str(file):
                    merged.problems.append((str(file), statement.lineno, f"`{name}` is defined both here and in {brought_names.get(name, path)}"))
                brought_names[name] = str(file)
            first, last = statement_lines(statement)
            emit(["", ""], str(file), first)  # spacing, mapped to the statement for simplicity
            emit(module.lines[first - 1 : last], str(file), first)
        brought.setdefault(str(file), set()).update(names or {n for s in statements for n in defined_names(s)})

    for node, file in local:
        bring(node, file, path, (main_path.resolve(),))
    emit(["", ""], path, head_end + 1)
    rest = lines[head_end:]
    for node in [*(n for n, _ in local), *dropped]:  # the import lines themselves go; blank lines keep the numbering
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            rest[line - head_end - 1] = ""
    emit(rest, path, head_end + 1)
    merged.text = "\n".join(out) + "\n"
    merged.chunks = chunks
    merged.brought = [(module_path, tuple(sorted(names))) for module_path, names in brought.items()]
    return merged


def errors_affecting(errors, class_name: str, source: Path) -> list[Diagnostic]:
    """The errors that can change ``class_name``'s translation: those outside the definitions of
    *other* classes and functions of the file that the class does not use (directly or not).

    A file often holds many models; one that cannot be translated does not stop the check of
    another that does not use it (its diagnostics are still reported).
    """
    text = source.read_text()
    tree = ast.parse(text)
    module = _Module(source, text.splitlines(), tree)
    used = {id(s) for s in needed_statements(module, {class_name})}
    unused_ranges = [
        statement_lines(s) for s in tree.body
        if isinstance(s, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and id(s) not in used
    ]
    same_file = {str(source), str(source.resolve())}

    def elsewhere(diagnostic) -> bool:
        return diagnostic.path in same_file and any(first <= diagnostic.line <= last for first, last in unused_ranges)

    return [d for d in errors if not elsewhere(d)]
