"""Shape bookkeeping of a traced forward written where it is read.

torch.fx names every intermediate value, so a shape check the source wrote as ``x.shape[1] == self.channels``
comes out of a trace as ``getattr_1 = x.shape``, ``getitem = getattr_1[1]``, ``eq = getitem == 32``,
``assert eq, ...``. Such values are *metadata*: built only from constants and the shapes, ranks and dtypes
of arrays, fixed when JAX traces the function and never changed by what the forward computes. Writing them
back where they are read (``assert x.shape[1] == 32, ...``) gives the code a person writes, and lets the
translation read the shape of a channels-last array in place (rule S004), where a name holding ``x.shape``
would need ``x`` back in PyTorch's layout.

A metadata name read once is written at its read; a name holding a whole shape (``x.shape``, ``x.size()``) is
written at each of its subscripts. Names of tensors are left as they are: moving a computation would change
the order of random draws and of in-place writes.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, ParentNodeProvider, ScopeProvider

#: attributes and methods of an array that read its metadata (static under jit)
METADATA_ATTRIBUTES = ("shape", "ndim", "dtype")
METADATA_METHODS = ("size", "dim")
#: builtins that keep metadata metadata (``len(x.shape)``)
METADATA_BUILTINS = ("len", "int")

SHAPE_READ = m.Attribute(value=m.Name(), attr=m.Name("shape")) | m.Call(
    func=m.Attribute(value=m.Name(), attr=m.Name("size")), args=[])
#: where an inlined operation needs parentheses (under an operator, as an attribute's or a subscript's owner)
BINDS_TIGHTER = (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.BooleanOperation, cst.Attribute,
                 cst.Subscript, cst.Call, cst.Await)
COMPOUND = (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.BooleanOperation, cst.IfExp)


def is_metadata(expr: cst.BaseExpression, names: set[str]) -> bool:
    """Whether ``expr`` is built only from constants, metadata reads of arrays and the metadata ``names``."""
    if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(expr, cst.Name):
        return expr.value in names or expr.value in ("True", "False", "None")
    if isinstance(expr, cst.Attribute):
        return isinstance(expr.value, cst.Name) and expr.attr.value in METADATA_ATTRIBUTES
    if isinstance(expr, cst.Call):
        if m.matches(expr.func, m.Attribute(value=m.Name(), attr=m.OneOf(*(m.Name(n) for n in METADATA_METHODS)))):
            return all(not a.keyword and not a.star and isinstance(a.value, cst.Integer) for a in expr.args)
        return (m.matches(expr.func, m.OneOf(*(m.Name(n) for n in METADATA_BUILTINS))) and len(expr.args) == 1
                and not expr.args[0].star and is_metadata(expr.args[0].value, names))
    if isinstance(expr, cst.Subscript):
        return is_metadata(expr.value, names) and all(is_metadata_index(e.slice, names) for e in expr.slice)
    if isinstance(expr, cst.BinaryOperation):
        return is_metadata(expr.left, names) and is_metadata(expr.right, names)
    if isinstance(expr, cst.UnaryOperation):
        return is_metadata(expr.expression, names)
    if isinstance(expr, cst.Comparison):
        return is_metadata(expr.left, names) and all(is_metadata(c.comparator, names) for c in expr.comparisons)
    if isinstance(expr, cst.BooleanOperation):
        return is_metadata(expr.left, names) and is_metadata(expr.right, names)
    if isinstance(expr, cst.Tuple):
        return all(isinstance(e, cst.Element) and is_metadata(e.value, names) for e in expr.elements)
    return False


def is_metadata_index(index: cst.BaseSlice, names: set[str]) -> bool:
    if isinstance(index, cst.Index):
        return index.star is None and is_metadata(index.value, names)
    return all(part is None or is_metadata(part, names) for part in (index.lower, index.upper, index.step))


def inline_metadata_names(module: cst.Module) -> cst.Module:
    """``module`` with its functions' metadata names written where they are read (see the module's docstring).

    Only names bound once, by a plain ``name = value`` statement of a function's body, are candidates (what fx
    writes); the statement goes once every read is replaced."""
    while True:
        wrapper = MetadataWrapper(module)
        planner = _InlinePlanner()
        wrapper.visit(planner)
        if not planner.replacements:
            return module
        module = wrapper.module.visit(_Inliner(planner.replacements, planner.dropped))


class _InlinePlanner(cst.CSTVisitor):
    """Finds, in one pass, the reads to replace and the statements that go: each chosen name's statement is
    dropped and its reads replaced, one level of names at a time (the caller repeats until none is left)."""

    METADATA_DEPENDENCIES = (ScopeProvider, ParentNodeProvider)

    def __init__(self):
        super().__init__()
        self.replacements: dict[cst.CSTNode, cst.BaseExpression] = {}  # reads (names, `len(s)` calls) to replace
        self.dropped: set[cst.SimpleStatementLine] = set()
        self.metadata_names: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.get_metadata(ScopeProvider, node.body.body[0], None) if isinstance(node.body, cst.IndentedBlock) and node.body.body else None
        if scope is None:
            return
        chosen: set[str] = set()  # a value that reads one of these is written at its reads in a later pass
        for line in node.body.body:
            if not m.matches(line, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])):
                continue
            assign = line.body[0]
            name = assign.targets[0].target.value
            if len(scope.assignments[name]) != 1 or not is_metadata(assign.value, self.metadata_names):
                continue
            self.metadata_names.add(name)
            reads = list(next(iter(scope.assignments[name])).references)
            if not reads or any(not isinstance(r.node, cst.Name) for r in reads):
                continue
            whole_shape = m.matches(assign.value, SHAPE_READ) and all(self.indexes_or_counts(r.node) for r in reads)
            if len(reads) != 1 and not whole_shape:
                continue
            if any(n.value in chosen for n in _names(assign.value)):
                continue
            chosen.add(name)
            for read in reads:
                parent = self.get_metadata(ParentNodeProvider, read.node)
                value = assign.value
                if whole_shape and not isinstance(parent, cst.Subscript):  # `len(s)` of `s = x.shape`: `x.ndim`
                    owner = value.value if isinstance(value, cst.Attribute) else value.func.value
                    self.replacements[self.get_metadata(ParentNodeProvider, parent)] = cst.Attribute(owner, cst.Name("ndim"))
                    continue
                if isinstance(value, COMPOUND) and isinstance(parent, BINDS_TIGHTER) and not value.lpar:
                    value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
                self.replacements[read.node] = value
            self.dropped.add(line)
        self.metadata_names.clear()

    def indexes_or_counts(self, read: cst.Name) -> bool:
        """Whether ``read`` is indexed (``s[1]``) or counted (``len(s)``)."""
        parent = self.get_metadata(ParentNodeProvider, read)
        if isinstance(parent, cst.Subscript):
            return parent.value is read
        call = self.get_metadata(ParentNodeProvider, parent) if isinstance(parent, cst.Arg) else None
        return m.matches(call, m.Call(func=m.Name("len"), args=[m.Arg(keyword=None, star="")]))


def _names(expr: cst.BaseExpression) -> list[cst.Name]:
    return m.findall(expr, m.Name())


class _Inliner(cst.CSTTransformer):
    def __init__(self, replacements: dict[cst.CSTNode, cst.BaseExpression], dropped: set[cst.SimpleStatementLine]):
        super().__init__()
        self.replacements = replacements
        self.dropped = dropped

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        return self.replacements.get(original, updated)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        return self.replacements.get(original, updated)

    def leave_SimpleStatementLine(self, original, updated):
        return cst.RemoveFromParent() if original in self.dropped else updated
