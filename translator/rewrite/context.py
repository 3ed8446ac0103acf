"""The state of one file's translation, and the context handed to rules.

:class:`FileContext` collects diagnostics and notes for a file.
:class:`RuleContext` implements the protocol rules see (``translator.rules.base``):
bound arguments of the call being translated, their layout facts, and the
conversions between PyTorch's and the channels-last layout.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
import libcst.matchers as m

from translator.diagnostics import Diagnostic, Severity
from translator.naming import ResolvedModule
from translator.rewrite.line_map import LineMarks, source_span, with_marker
from translator.rules.base import CallContext, Emitted, Fact, NotLiteral, Rule


def code_of(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def parse_expr(template: str, **parts: cst.BaseExpression) -> cst.BaseExpression:
    """An expression from source text, with ``{name}`` holes filled by CST nodes."""
    if parts:
        return cst.helpers.parse_template_expression(template, **parts)
    return cst.parse_expression(template)


COMPOUND = (
    cst.BinaryOperation, cst.BooleanOperation, cst.Comparison, cst.UnaryOperation,
    cst.IfExp, cst.Lambda, cst.NamedExpr, cst.Await, cst.Yield,
)


def parenthesize(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``expr`` in parentheses if it is an operation: safe to embed under any operator or attribute.

    Rules and the rewriter splice translated expressions into new ones; without
    this, ``torch.add(a, b) * c`` would become ``a + b * c``.
    """
    if isinstance(expr, COMPOUND) and not expr.lpar:
        return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expr


class RedundantArgumentParens(cst.CSTTransformer):
    """Drop the parentheses :func:`parenthesize` put around a call argument, where commas bind looser."""

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        value = updated_node.value
        if isinstance(value, COMPOUND) and not isinstance(value, (cst.Lambda, cst.NamedExpr, cst.Yield)) and len(value.lpar) == 1:
            return updated_node.with_changes(value=value.with_changes(lpar=[], rpar=[]))
        return updated_node


def transpose(expr: cst.BaseExpression, perm: tuple[int, ...] | str) -> cst.BaseExpression:
    """``jnp.transpose(x, perm)``; perm ``"to_last"``/``"to_first"`` moves axis 1 for any rank."""
    if perm == "to_last":
        return parse_expr("jnp.moveaxis({x}, 1, -1)", x=expr)
    if perm == "to_first":
        return parse_expr("jnp.moveaxis({x}, -1, 1)", x=expr)
    return parse_expr(f"jnp.transpose({{x}}, {perm!r})", x=expr)  # x is a call argument: no parentheses needed


@dataclass
class FileContext:
    """Diagnostics and notes for one translated file."""

    resolved: ResolvedModule
    path: str
    notes_enabled: bool = True
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: notes for the statement being translated; the statement translator drains it
    pending_notes: list[str] = field(default_factory=list)
    #: notes already shown: each lesson is taught once per file, at its first use
    shown_notes: set[str] = field(default_factory=set)
    #: support definitions rules asked for (name -> source), emitted once at the end of the file
    support: dict[str, str] = field(default_factory=dict)

    #: the user's node that generated code stands for (diagnostics inside it point there)
    origin: cst.CSTNode | None = None
    #: the line map's markers, when one was asked for (:mod:`translator.rewrite.line_map`)
    marks: LineMarks | None = None
    #: whether ``register_buffer``'s values are the user's (False for the built model's regenerated source,
    #: whose buffers hold placeholders the port fills): only then may a buffer be a constant (rule S009)
    buffer_values: bool = True

    def mark(self, emitted: cst.BaseStatement, original: cst.CSTNode) -> cst.BaseStatement:
        """``emitted`` with the line-map marker of the user's statement ``original`` (as it was when no
        map is asked for, or ``original`` is not the user's: generated code has no position)."""
        if self.marks is None or not isinstance(emitted, cst.BaseStatement):
            return emitted
        span = source_span(self.resolved.positions, original, self.marks.source_lines)
        return emitted if span is None else with_marker(emitted, self.marks.comment(span))

    def report(self, code: str, message: str, node: cst.CSTNode, severity: Severity = Severity.ERROR) -> None:
        if node not in self.resolved.positions and self.origin is not None:
            node = self.origin
        line, column = self.resolved.position(node)
        message = " ".join(message.split())  # one line: it is also written as a `# TODO` comment
        diagnostic = Diagnostic(code, message, self.path, line, column, severity)
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

    def note(self, code: str, text: str) -> None:
        entry = f"{code}: {text}"
        if entry not in self.shown_notes:
            self.shown_notes.add(entry)
            self.pending_notes.append(entry)

    def take_notes(self) -> list[str]:
        notes, self.pending_notes = self.pending_notes, []
        return notes if self.notes_enabled else []


class UnbindableCall(Exception):
    """A call whose arguments cannot be matched to the signature (``*args``, unknown keyword)."""


def bind_arguments(call: cst.Call, signature: inspect.Signature, receiver: cst.BaseExpression | None = None) -> dict[str, cst.BaseExpression]:
    """Match a call's arguments to ``signature``'s parameter names (receiver first for methods)."""
    args: list[cst.BaseExpression] = [] if receiver is None else [receiver]
    kwargs: dict[str, cst.BaseExpression] = {}
    for arg in call.args:
        if arg.star:
            raise UnbindableCall("star-arguments cannot be matched to parameters")
        if arg.keyword is None:
            args.append(arg.value)
        else:
            kwargs[arg.keyword.value] = arg.value
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError as error:
        raise UnbindableCall(str(error)) from None
    provided: dict[str, cst.BaseExpression] = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:  # the rule reads it as (("name", value), ...), translated like a tuple
            value = cst.Tuple([cst.Element(cst.Tuple([cst.Element(cst.SimpleString(repr(k))), cst.Element(v)])) for k, v in value.items()])
        if kind is inspect.Parameter.VAR_POSITIONAL:
            value = cst.Tuple([cst.Element(v) for v in value])  # the rule reads it as one tuple
        if signature.parameters[name].default is None and m.matches(value, m.Name("None")):
            continue  # `out=None` as fx writes every default: the same call as leaving it out
        provided[name] = value
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and p.name not in provided
    ]
    if missing:
        raise UnbindableCall(f"missing argument(s): {', '.join(missing)}")
    return provided


class RuleContext(CallContext):
    """The :class:`CallContext` a rule sees for one call, backed by the file context."""

    def __init__(
        self,
        rule: Rule,
        file: FileContext,
        node: cst.CSTNode,
        signature: inspect.Signature,
        provided: dict[str, cst.BaseExpression],
        facts: dict[str, Fact] | None = None,
        body=None,
        target: object = None,
    ):
        self.rule = rule
        self.file = file
        self.node = node
        self.signature = signature
        self.provided = provided
        self.facts = facts or {}
        self.body = body
        #: what was matched: the torch class/function object, or the method name
        self.target = target
        self.failed = False
        #: the class's dataclass fields, where the call is a layer's constructor: a layer inlined at its call
        #: reads them as `self.<field>` (L014's padding of constructor arguments)
        self.fields: frozenset[str] = frozenset()
        #: how many names the call's result is unpacked into (`q, k, v = x.split(n, 2)`: 3), when it is the whole
        #: right-hand side of such an assignment; PyTorch raises unless the result has exactly that many items
        self.unpacked_into: int | None = None

    # -- arguments
    def is_default(self, name: str) -> bool:
        return name not in self.provided

    def literal(self, name: str) -> Any:
        if name not in self.provided:
            if self.signature is None:
                raise NotLiteral(name)
            default = self.signature.parameters[name].default
            if default is inspect.Parameter.empty:
                raise NotLiteral(name)
            return default
        try:
            return ast.literal_eval(code_of(self.provided[name]).strip())
        except (ValueError, SyntaxError):
            raise NotLiteral(name) from None

    def expr(self, name: str) -> cst.BaseExpression:
        if name in self.provided:
            return self.provided[name]
        default = self.signature.parameters[name].default
        return cst.parse_expression(repr(default))

    def unsupported(self, message: str) -> None:
        self.failed = True
        self.file.report(self.rule.code, message, self.node)

    # -- layout (conversions live in the body translator, so every transpose is made one way)
    def fact(self, name: str) -> Fact:
        return self.facts.get(name, Fact())

    def plain(self, name: str) -> cst.BaseExpression:
        return self.body.as_plain(Emitted(self.expr(name), self.fact(name)))

    def channels_last(self, name: str, rank: int) -> cst.BaseExpression:
        return self.body.as_channels_last(Emitted(self.expr(name), self.fact(name)), rank)

    def note(self, text: str) -> None:
        self.file.note(self.rule.code, text)

    def support(self, name: str, source: str) -> None:
        self.file.support.setdefault(name, source)
