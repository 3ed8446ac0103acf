"""Constructor spellings rewritten into the forms ``setup`` translation reads.

Spellings real model files use for attributes, optional and repeated layers:

* ``self.heads, self.p = heads, p``: one assignment per attribute, so each is read as
  ``self.x = x`` is (a constructor argument is already the dataclass field);
* ``self.q = self.k = nn.Identity()``: the first target takes the value, each other one
  names the first (``self.k = self.q``): the same object, as in Python;
* ``self.proj = nn.Linear(a, b) if cond else nn.Identity()``: a conditional
  expression is written as an ``if`` statement, so each branch's layer is
  recorded like any other branch of ``__init__`` (the attribute then holds a
  layer in one branch and nothing, or the identity, in the other).
* ``self.layers = nn.ModuleList([])`` followed by ``self.layers.append(...)``
  (``extend``, ``+=``), usually in a loop: a Flax module freezes a list once it
  is assigned in ``setup``, so the list is grown in a local and assigned once,
  after its last change: ``layers = []; layers.append(...); self.layers = layers``.

Both keep the user's own nodes for every expression (positions and resolved
names stay valid); :func:`normalise_init` also says which original statement
each new statement stands for, so diagnostics point at the user's line.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

SELF_ATTR = m.Attribute(value=m.Name("self"), attr=m.Name())
GROW_METHODS = ("append", "extend")


def is_layer_choice(value: cst.BaseExpression) -> bool:
    """``A if c else B`` where a branch builds something (a call) or is ``None``."""
    if not isinstance(value, cst.IfExp):
        return False
    return any(
        isinstance(branch, cst.Call) or m.matches(branch, m.Name("None")) or is_layer_choice(branch)
        for branch in (value.body, value.orelse)
    )


def choice_as_if(target: cst.BaseAssignTargetExpression, value: cst.IfExp) -> cst.If:
    """``target = A if c else B if d else C`` -> ``if c: target = A / elif d: target = B / else: target = C``."""

    def assign(branch: cst.BaseExpression) -> cst.IndentedBlock:
        return cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(target)], value=branch)])])

    orelse = value.orelse.with_changes(lpar=[], rpar=[]) if isinstance(value.orelse, cst.IfExp) else value.orelse
    rest = choice_as_if(target, orelse) if isinstance(orelse, cst.IfExp) else cst.Else(body=assign(orelse))
    return cst.If(test=value.test, body=assign(value.body), orelse=rest)


class TargetedTransformer(cst.CSTTransformer):
    """A transformer that only descends into nodes containing ``target``.

    libcst rebuilds every node it visits; the nodes it does not visit keep their
    identity, and with it their position and resolved qualified names (metadata
    is keyed by node), which the translation of ``__init__`` reads.
    """

    target: m.BaseMatcherNode
    #: rebuilt statement -> the user's statement it stands for
    origins: dict[cst.CSTNode, cst.CSTNode]

    def on_visit(self, node: cst.CSTNode) -> bool:
        return bool(m.findall(node, self.target))

    def on_leave(self, original_node, updated_node):
        result = super().on_leave(original_node, updated_node)
        if isinstance(result, cst.BaseStatement) and result is not original_node:
            self.origins.setdefault(result, self.origins.get(original_node, original_node))
        return result


class StatementRewriter(TargetedTransformer):
    """A :class:`TargetedTransformer` that rewrites whole statement lines matching ``target`` (recording origins)."""

    def __init__(self, origins: dict[cst.CSTNode, cst.CSTNode]):
        self.origins = origins

    def on_visit(self, node: cst.CSTNode) -> bool:
        return not isinstance(node, cst.SimpleStatementLine) and super().on_visit(node)


LAYER_CHOICE = m.SimpleStatementLine(
    body=[m.Assign(targets=[m.AssignTarget(SELF_ATTR)], value=m.MatchIfTrue(lambda v: is_layer_choice(v.with_changes(lpar=[], rpar=[]))))]
)


class ConditionalLayerToIf(StatementRewriter):
    """``self.a = A if c else B`` (a branch builds a layer, or is None) -> an ``if`` statement."""

    target = LAYER_CHOICE

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):
        if not m.matches(updated_node, LAYER_CHOICE):
            return updated_node
        assign = updated_node.body[0]
        value = assign.value.with_changes(lpar=[], rpar=[])
        statement = choice_as_if(assign.targets[0].target, value).with_changes(leading_lines=updated_node.leading_lines)
        self.origins[statement] = original_node
        return statement


UNPACKED_ATTRIBUTES = m.SimpleStatementLine(
    body=[m.Assign(targets=[m.AssignTarget(m.Tuple(elements=[m.AtLeastN(m.Element(SELF_ATTR), n=2)]))],
                   value=m.Tuple())]
)


class UnpackedAttributesToAssignments(StatementRewriter):
    """``self.heads, self.p = heads, p`` -> one assignment per attribute, read as ``self.x = x`` is (a field
    that needs no line in ``setup``); only where no value reads an attribute being assigned (a swap keeps its form)."""

    target = UNPACKED_ATTRIBUTES

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):
        if not m.matches(updated_node, UNPACKED_ATTRIBUTES):
            return updated_node
        assign = updated_node.body[0]
        targets, values = assign.targets[0].target.elements, assign.value.elements
        names = {t.value.attr.value for t in targets}
        reads = {a.attr.value for v in values for a in m.findall(v.value, SELF_ATTR)}
        if len(targets) != len(values) or any(isinstance(v, cst.StarredElement) for v in values) or names & reads:
            return updated_node
        statements = [
            cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(t.value)], value=v.value)],
                                    leading_lines=updated_node.leading_lines if i == 0 else [])
            for i, (t, v) in enumerate(zip(targets, values))
        ]
        for statement in statements:
            self.origins[statement] = original_node
        return cst.FlattenSentinel(statements)


CHAINED_ATTRIBUTES = m.SimpleStatementLine(
    body=[m.Assign(targets=[m.AssignTarget(SELF_ATTR), m.AtLeastN(m.AssignTarget(SELF_ATTR), n=1)])]
)


class ChainedAttributesToAssignments(StatementRewriter):
    """``self.q = self.k = nn.Identity()`` -> ``self.q = nn.Identity()`` then ``self.k = self.q``: Python assigns
    the one object to each target, left to right, and each line is then read on its own (a layer, and an
    attribute naming that same layer)."""

    target = CHAINED_ATTRIBUTES

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):
        if not m.matches(updated_node, CHAINED_ATTRIBUTES):
            return updated_node
        assign = updated_node.body[0]
        first, *others = [t.target for t in assign.targets]
        statements = [cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(first)], value=assign.value)],
                                              leading_lines=updated_node.leading_lines)]
        statements += [cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(target)],
                                                                value=cst.Attribute(cst.Name("self"), first.attr))])
                       for target in others]
        for statement in statements:
            self.origins[statement] = original_node
        return cst.FlattenSentinel(statements)


def grown_attributes(init: cst.FunctionDef) -> set[str]:
    """Attributes ``__init__`` grows after assigning them (``self.layers.append(...)``, ``+=``)."""
    grown = {
        call.func.value.attr.value
        for call in m.findall(init.body, m.Call(func=m.Attribute(value=SELF_ATTR, attr=m.Name(GROW_METHODS[0]) | m.Name(GROW_METHODS[1]))))
    }
    grown |= {a.target.attr.value for a in m.findall(init.body, m.AugAssign(target=SELF_ATTR, operator=m.AddAssign()))}
    return grown


def container_assignment(statement: cst.BaseStatement, attr: str) -> cst.Call | None:
    """The call in a top-level ``self.<attr> = Container(...)`` statement, or None."""
    target = m.AssignTarget(m.Attribute(value=m.Name("self"), attr=m.Name(attr)))
    if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[target], value=m.Call())])):
        return statement.body[0].value
    return None


def free_local_name(init: cst.FunctionDef, attr: str) -> str:
    attribute_names = {id(a.attr) for a in m.findall(init, m.Attribute())}
    used = {n.value for n in m.findall(init, m.Name()) if id(n) not in attribute_names}
    name = attr
    while name in used:
        name += "_"
    return name


class AttributeToLocal(TargetedTransformer):
    def __init__(self, attr: str, local: str, origins: dict):
        self.attr, self.local, self.origins = attr, local, origins
        self.target = m.Attribute(value=m.Name("self"), attr=m.Name(attr))

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        if m.matches(updated_node, m.Attribute(value=m.Name("self"), attr=m.Name(self.attr))):
            return cst.Name(self.local)
        return updated_node


def initial_elements(call: cst.Call) -> cst.BaseExpression | None:
    """What ``nn.ModuleList([...])`` / ``nn.Sequential(a, b)`` starts with, as a list expression."""
    if not call.args:
        return cst.List([])
    if len(call.args) == 1 and call.args[0].keyword is None:
        value = call.args[0].value
        if call.args[0].star == "*":
            return cst.Call(func=cst.Name("list"), args=[cst.Arg(value)])
        if isinstance(value, (cst.List, cst.ListComp, cst.Name)):
            return value
    if all(a.keyword is None and not a.star for a in call.args):
        return cst.List([cst.Element(a.value) for a in call.args])
    return None


def grow_in_local(init: cst.FunctionDef, attr: str, is_container, origins: dict) -> cst.FunctionDef:
    """Rewrite a grown container attribute into a local list assigned to ``self.<attr>`` once, at the end."""
    body = list(init.body.body)
    starts = [i for i, s in enumerate(body) if container_assignment(s, attr) is not None]
    if len(starts) != 1:
        return init
    start = starts[0]
    call = container_assignment(body[start], attr)
    elements = initial_elements(call)
    if not is_container(call.func) or elements is None:
        return init
    reads_elsewhere = [
        s for i, s in enumerate(body) if i != start and m.findall(s, m.Attribute(value=m.Name("self"), attr=m.Name(attr)))
    ]
    if any(
        m.findall(s, m.Assign(targets=[m.AssignTarget(m.Attribute(value=m.Name("self"), attr=m.Name(attr)))])) for s in reads_elsewhere
    ):
        return init  # assigned again: not one container grown in place
    local = free_local_name(init, attr)
    last = max([start, *(body.index(s) for s in reads_elsewhere)])
    if any(i < start for i in (body.index(s) for s in reads_elsewhere)):
        return init
    to_local = AttributeToLocal(attr, local, origins)
    new_body: list[cst.BaseStatement] = []
    for i, statement in enumerate(body):
        if i == start:
            created = cst.SimpleStatementLine(
                body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(local))], value=elements)],
                leading_lines=statement.leading_lines,
            )
            origins[created] = statement
            new_body.append(created)
        elif start < i <= last:
            rewritten = statement.visit(to_local)
            new_body.append(rewritten)
        else:
            new_body.append(statement)
        if i == last:
            final = cst.SimpleStatementLine(
                body=[cst.Assign(
                    targets=[cst.AssignTarget(cst.Attribute(value=cst.Name("self"), attr=cst.Name(attr)))],
                    value=call.with_changes(args=[cst.Arg(cst.Name(local))]),
                )]
            )
            origins[final] = body[start]
            new_body.append(final)
    return init.with_changes(body=init.body.with_changes(body=new_body))


def normalise_init(init: cst.FunctionDef, is_container) -> tuple[cst.FunctionDef, dict[cst.CSTNode, cst.CSTNode]]:
    """``__init__`` with conditional layers as ``if`` statements and grown containers built in locals.

    ``is_container(func)`` says whether a call's function is ``nn.ModuleList``/``nn.Sequential``.
    Returns the new function and, for each statement it created, the user's statement it stands for.
    """
    origins: dict[cst.CSTNode, cst.CSTNode] = {}
    init = init.visit(UnpackedAttributesToAssignments(origins))
    init = init.visit(ChainedAttributesToAssignments(origins))
    init = init.visit(ConditionalLayerToIf(origins))
    for attr in sorted(grown_attributes(init)):
        init = grow_in_local(init, attr, is_container, origins)
    return init, origins
