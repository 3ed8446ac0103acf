"""Statements: an assignment binds names to the facts (and storage) of its value, a return brings its value
back to PyTorch's layout, ``with torch.no_grad()`` becomes ``jax.lax.stop_gradient`` on what the block
assigned, and control flow keeps facts consistent: at the end of each branch of an ``if`` and of each loop
body, values whose layout differs from the other path are brought back to a common layout, so a variable never
means two layouts at once.

Contract: ``block(statements)`` returns the translated statements, each headed by the notes and TODOs its
translation gathered (``annotate``); a statement it cannot translate is reported and kept as written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import libcst as cst
import libcst.matchers as m

from translator.naming import library_name
from translator.rewrite.aliasing import name_reads, value_reads
from translator.rewrite.body.common import (
    HOOKS,
    IN_PLACE,
    LAYOUT,
    MODULE_STATE,
    NO_GRAD,
    SHARED_MUTATION,
    UNSUPPORTED,
    container_kinds,
    integer_literal,
)
from translator.rewrite.context import code_of, parse_expr, transpose
from translator.rewrite.decorators import AUTOCAST_CONTEXTS, autocast_off, stop_returned_gradients
from translator.rewrite.eager_tests import decided_branch
from translator.rewrite.layout_plan import transposes
from translator.rewrite.line_map import with_lines_before_comments
from translator.rewrite.model import ContainerAttr
from translator.rules.base import (
    PLAIN,
    Emitted,
    Fact,
    channels_last,
    to_channels_first_perm,
    to_channels_last_perm,
)

#: context managers whose body is translated: no_grad/inference_mode stop gradients, enable_grad is a no-op
GRAD_CONTEXTS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.enable_grad"})
#: contexts that choose how PyTorch computes, not what: the body is kept as is
EAGER_TESTS = "T061"  # tests eager PyTorch decides (translator.rules.tensor_ops.scripting_queries)
KERNEL_CONTEXTS = frozenset({"torch.nn.attention.sdpa_kernel", "torch.backends.cuda.sdp_kernel"})


class StatementTranslation:
    """Statements of a function body (a part of ``BodyTranslator``)."""

    def block(self, statements) -> list[cst.BaseStatement]:
        tracker = self.storage_tracker
        if tracker.function_reads is None:  # the function's own body: its parameters hold the callers' memory
            tracker.function_reads = sum((value_reads(s) for s in statements), start=Counter())
            tracker.params = frozenset(self.params)
            tracker.caller_checked = frozenset(self.params) if self.caller_checks_params else frozenset()
        out: list[cst.BaseStatement] = []
        for index, statement in enumerate(statements):
            # the notes of a statement that translated to nothing go above the next one that emits code
            waiting, self.orphan_comments = self.orphan_comments, []
            self.following.append(list(statements[index + 1:]))
            try:
                emitted = self.statement(statement)
            finally:
                self.following.pop()
            if emitted:
                emitted = [with_lines_before_comments(emitted[0], waiting), *emitted[1:]]
            else:
                self.orphan_comments = [*waiting, *self.orphan_comments]
            out.extend(emitted)
        if statements and not out:  # every statement translated to nothing (identity layers)
            out = [with_lines_before_comments(cst.SimpleStatementLine(body=[cst.Pass()]), self.orphan_comments)]
            self.orphan_comments = []
        return out

    def statement(self, node: cst.BaseStatement) -> list[cst.BaseStatement]:
        before = len(self.file.diagnostics)
        self.file.take_notes()
        if isinstance(node, cst.SimpleStatementLine):
            body = []
            for small in node.body:
                body.extend(self.small_statement(small))
            translated: list[cst.BaseStatement] = [node.with_changes(body=body)] if body else []
            if not self.loop_writes:  # outside loops, a statement's reads are over once it has run
                self.storage_tracker.consume(node)
        elif isinstance(node, cst.If):
            branch = decided_branch(node, self.file.resolved)
            if isinstance(branch, list):  # decided by `torch.jit.is_scripting()` and its kin (rule T061)
                translated = self.block(branch) if branch else []
                self.file.note(EAGER_TESTS, "an `if` decided by whether PyTorch is compiling or scripting (never, "
                                            "when run eagerly): only the branch eager PyTorch runs is kept")
            else:
                translated = [self.if_statement(branch or node)]
        elif isinstance(node, (cst.For, cst.While)):
            translated = self.loop(node)
        elif isinstance(node, cst.With):
            translated = self.with_statement(node)
        else:
            self.unsupported(UNSUPPORTED, f"`{type(node).__name__}` statements in forward are not translated yet", node)
            translated = [node]
        return self.annotate(translated, before, node)

    def annotate(self, statements: list[cst.BaseStatement], before: int, original: cst.CSTNode) -> list[cst.BaseStatement]:
        """Put the notes and TODOs gathered while translating ``original`` above its first line."""
        comments = [f"# {note}" for note in self.file.take_notes()]
        for diagnostic in self.file.diagnostics[before:]:
            comments.append(f"# TODO(torch2flax): {diagnostic.code} {diagnostic.message}")
        lines = [cst.EmptyLine(comment=cst.Comment(c)) for c in comments]
        if not statements:  # the block places them (see `block`)
            self.orphan_comments.extend(lines)
            return statements
        lines = [*self.orphan_comments, *lines]  # left over from a nested block that emitted nothing after them
        self.orphan_comments = []
        first = statements[0]
        if lines:
            first = first.with_changes(leading_lines=[*first.leading_lines, *lines])
        return [self.file.mark(first, original), *statements[1:]]

    def unpacked_channels_last_shape(self, node: cst.Assign) -> tuple[cst.Assign, Emitted] | None:
        """``n, c, h, w = x.shape`` (or ``x.size()``) unpacked into names, which hold Python ints: of a
        channels-last ``x``, the names in the order the channels-last shape lists them, ``n, h, w, c = x.shape``
        (rule S004), instead of moving ``x`` back."""
        if len(node.targets) != 1 or not m.matches(
            node.value, m.Attribute(value=m.Name(), attr=m.Name("shape")) | m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("size")), args=[])
        ):
            return None
        target = node.targets[0].target
        if not isinstance(target, (cst.Tuple, cst.List)):
            return None
        elements = target.elements
        if not all(isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in elements):
            return None
        sizes = Fact(scalar=True, tuple_of=True)  # each name a Python int, which broadcasts with any layout
        name = node.value.value if isinstance(node.value, cst.Attribute) else node.value.func.value
        fact = self.env.get(name.value, PLAIN)
        if not fact.channels_last or fact.rank is None or len(elements) != fact.rank:
            return node, Emitted(self.expr(node.value).expr, sizes)
        ordered = [elements[dim].with_changes(comma=element.comma) for dim, element in zip(to_channels_last_perm(fact.rank), elements)]
        self.file.note(LAYOUT, "the sizes of a channels-last tensor, named in the order its shape lists them")
        reordered = node.with_changes(targets=[node.targets[0].with_changes(target=target.with_changes(elements=ordered))])
        return reordered, Emitted(parse_expr("{x}.shape", x=name), sizes)

    def small_statement(self, node: cst.BaseSmallStatement) -> list[cst.BaseSmallStatement]:
        if isinstance(node, (cst.Assign, cst.AugAssign)) and self.indexed_target(node) is not None:
            return self.indexed_update(node)
        if isinstance(node, cst.Assign):
            names = {t.target.value for t in node.targets if isinstance(t.target, cst.Name)}
            chained = self.in_place_operand_name(node.value)
            if chained is not None and chained not in names and self.read_elsewhere(chained, node):
                names.add(chained)  # `y = self.relu_(a)` also updates `a`: `y = a = relu(a)`
            else:
                chained = None
            self.rebound = names
            if len(node.targets) == 1 and m.matches(node.targets[0].target, m.Tuple() | m.List()):
                elements = node.targets[0].target.elements
                # names only: a name's layout is tracked, an item of a list or a nested unpacking's is not
                if all(isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in elements):
                    self.unpacked[node.value] = len(elements)
            self.check_in_place(node, names)
            roots = self.storage(node.value)
            reordered = self.unpacked_channels_last_shape(node)
            if reordered is not None:
                node, value = reordered
            else:
                value = self.expr(node.value)
            is_list = m.matches(node.value, m.List() | m.ListComp() | m.Call(func=m.Name("list")))
            is_mask = self.is_mask(node.value)
            is_dtype = self.is_dtype(node.value)
            for name in names:
                (self.lists.add if is_list else self.lists.discard)(name)
                (self.masks.add if is_mask else self.masks.discard)(name)
                (self.dtypes.add if is_dtype else self.dtypes.discard)(name)
            for target in node.targets:  # `device, dtype = x.device, x.dtype`
                if isinstance(target.target, cst.Tuple) and isinstance(node.value, cst.Tuple) and len(target.target.elements) == len(node.value.elements):
                    for part, part_value in zip(target.target.elements, node.value.elements):
                        if isinstance(part.value, cst.Name):
                            (self.dtypes.add if self.is_dtype(part_value.value) else self.dtypes.discard)(part.value.value)
            targets = []
            for target in node.targets:
                targets.append(target.with_changes(target=self.bind_target(target.target, value, roots)))
            if chained is not None:
                targets.append(cst.AssignTarget(self.bind_target(cst.Name(chained), value, roots)))
            if any(not isinstance(t.target, cst.Name) for t in node.targets) and not value.fact.tuple_of:
                value = Emitted(self.as_plain(value))
            self.rebound = set()
            if len(targets) == 1 and m.matches(value.expr, m.Name(value=getattr(targets[0].target, "value", None))):
                return []  # `x = self.identity(x)`: nothing left to do
            return [node.with_changes(targets=targets, value=value.expr)]
        if isinstance(node, cst.AnnAssign) and node.value is not None:
            self.check_in_place(node, {node.target.value} if isinstance(node.target, cst.Name) else set())
            roots = self.storage(node.value)
            value = self.expr(node.value)
            target = self.bind_target(node.target, value, roots)
            return [node.with_changes(target=target, value=value.expr)]
        if isinstance(node, cst.AugAssign):
            operator = {
                cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
                cst.DivideAssign: cst.Divide, cst.FloorDivideAssign: cst.FloorDivide, cst.PowerAssign: cst.Power,
                cst.MatrixMultiplyAssign: cst.MatrixMultiply, cst.ModuloAssign: cst.Modulo,
            }.get(type(node.operator))
            if operator is None or not isinstance(node.target, cst.Name):
                self.unsupported(UNSUPPORTED, "in-place update of this form is not translated yet", node)
                return [node]
            name = node.target.value
            self.check_in_place(node, {name})
            if not self.env.get(name, PLAIN).scalar:
                self.check_write(self.storage(node.target), {name}, value_reads(node), node)
            self.file.note(IN_PLACE, "in-place `op=` becomes a new binding: JAX arrays are immutable")
            binary = cst.BinaryOperation(left=node.target, operator=operator(), right=node.value)
            value = self.expr(binary)
            self.env[name] = value.fact
            return [cst.Assign(targets=[cst.AssignTarget(node.target)], value=value.expr)]
        if isinstance(node, cst.Return):
            if node.value is None:
                return [node]
            self.check_in_place(node, set())
            if any(root.startswith("shared:") for root in self.storage(node.value)):
                self.returns_alias = True
            value = self.channels_last_items(node.value) if self.returns_channels_last else None
            value = value or self.expr(node.value)
            self.return_facts.append(value.fact)
            if self.returns_channels_last and value.fact.channels_last:
                return [node.with_changes(value=value.expr)]
            return [node.with_changes(value=self.as_plain(value))]
        if isinstance(node, cst.Expr):
            operand = self.in_place_operand_name(node.value)
            if operand is not None:
                # `x.add_(y)` / `self.relu(x)` with inplace=True as a statement: rebind `x` to the result
                return self.small_statement(cst.Assign(targets=[cst.AssignTarget(cst.Name(operand))], value=node.value))
            if m.matches(node.value, m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("append") | m.Name("extend") | m.Name("insert")))) and node.value.func.value.value in self.lists:
                # a local Python list: appending is plain Python, the list now shares its elements' memory
                name = node.value.func.value.value
                for arg in node.value.args:
                    self.storage_tracker.bind(name, self.storage_tracker.of_name(name) | self.storage(arg.value))
                return [node.with_changes(value=node.value.with_changes(args=self.plain_args(node.value)))]
            if m.matches(node.value, m.Call(func=m.Attribute(attr=m.Name()))) and node.value.func.attr.value in HOOKS:
                self.expr(node.value)  # reported as a hook (X008)
                return [node]
            if isinstance(node.value, cst.Call) and library_name(self.file.resolved, node.value.func) != "builtins.print":
                self.unsupported(
                    "X004",
                    "a call whose result is discarded: in PyTorch it can only matter by mutating a tensor in place, "
                    "which JAX arrays cannot do; assign its result instead",
                    node,
                )
                return [node]
            return [node.with_changes(value=self.plain(node.value))]
        if isinstance(node, (cst.Break, cst.Continue)) and self.loop_layouts:
            # leaves every value in the layout the loop keeps, as the end of each pass does
            return [*(line.body[0] for line in self.keep_loop_layouts(self.loop_layouts[-1], self.loop_live[-1])), node]
        if isinstance(node, (cst.Pass, cst.Break, cst.Continue)):
            return [node]
        if isinstance(node, cst.Assert):
            return [node.with_changes(test=self.plain(node.test))]
        if isinstance(node, cst.Raise):
            return [node]
        self.unsupported(UNSUPPORTED, f"`{type(node).__name__}` is not translated yet", node)
        return [node]

    def channels_last_items(self, node: cst.BaseExpression) -> Emitted | None:
        """``return self.down(h), h`` in the channels-last trial (rule S004): a tuple whose items are each
        channels-last at one rank is returned as it is (``Fact.tuple_of``), the boundary moving each item back;
        None for any other value (translated as usual)."""
        if not isinstance(node, cst.Tuple) or not node.elements or any(not isinstance(e, cst.Element) for e in node.elements):
            return None
        items = [self.expr(e.value) for e in node.elements]
        ranks = {item.fact.rank for item in items if item.fact.channels_last and not item.fact.tuple_of}
        if len(ranks) != 1 or None in ranks or any(not item.fact.channels_last or item.fact.tuple_of for item in items):
            elements = [e.with_changes(value=self.as_plain(item)) for e, item in zip(node.elements, items)]
            return Emitted(node.with_changes(elements=elements))
        elements = [e.with_changes(value=item.expr) for e, item in zip(node.elements, items)]
        return Emitted(node.with_changes(elements=elements), Fact(channels_last=True, rank=ranks.pop(), tuple_of=True))

    def bind_target(self, target: cst.BaseAssignTargetExpression, value: Emitted, roots: frozenset | None = None) -> cst.BaseAssignTargetExpression:
        if isinstance(target, cst.Name):
            self.env[target.value] = value.fact
            if roots is not None:
                self.storage_tracker.bind(target.value, roots)
            return target
        if isinstance(target, (cst.Tuple, cst.List)):
            bound = set().union(*self.storage_tracker.roots.values()) if self.storage_tracker.roots else set()
            fresh = roots is not None and len(roots) == 1 and not (roots & bound) and not any(r.startswith("shared:") for r in roots)
            # the items' layout where the value says it (a channels-last split), else PyTorch's
            item = Emitted(value.expr, replace(value.fact, tuple_of=False) if value.fact.tuple_of else PLAIN)
            for element in target.elements:
                # the parts of a freshly created tuple (`a, b = self.lstm(x)`) are distinct tensors
                self.bind_target(element.value, item, self.storage_tracker.new_root() if fresh else roots)
            return target
        if m.matches(target, m.Attribute(value=m.Name("self"))):
            self.unsupported(
                MODULE_STATE,
                "assigning module state in forward: Flax modules are immutable (use a `self.variable` collection)",
                target,
            )
            return target
        self.unsupported(UNSUPPORTED, f"assignment to `{code_of(target)}` is not translated yet", target)
        return target

    def if_statement(self, node: cst.If) -> cst.If:
        self.check_in_place(node.test, set())
        test = self.plain(node.test)
        entry = dict(self.env)
        tracker = self.storage_tracker
        roots_entry = dict(tracker.roots)
        body = self.block(node.body.body)
        after_body = self.env
        roots_body, tracker.roots = tracker.roots, dict(roots_entry)
        self.env = dict(entry)
        orelse = node.orelse
        if isinstance(orelse, cst.If):
            orelse = self.if_statement(orelse)
        elif isinstance(orelse, cst.Else):
            orelse = orelse.with_changes(body=orelse.body.with_changes(body=self.block(orelse.body.body)))
        after_else = self.env
        for name, roots in roots_body.items():  # either branch may have run
            tracker.roots[name] = tracker.roots.get(name, tracker.at_entry(name)) | roots
        for name in set(tracker.roots) - set(roots_body):  # a parameter rebound only in the else branch
            tracker.roots[name] |= tracker.at_entry(name)
        merged: dict[str, Fact] = {}
        body_fix, else_fix = [], []
        # a branch that ends in a jump (`continue`, `break`, `return`, `raise`) never reaches the code after
        # the `if`: the layouts there are the other branch's
        else_body = orelse.body.body if isinstance(orelse, cst.Else) else None
        if ends_in_jump(node.body.body):
            after_body = after_else
        elif else_body is not None and ends_in_jump(else_body):
            after_else = after_body
        for name in set(after_body) | set(after_else):
            a, b = after_body.get(name, PLAIN), after_else.get(name, PLAIN)
            if a == b:
                merged[name] = a
                continue
            merged[name] = PLAIN
            if a.channels_last:
                body_fix += self.rebind(name, a, PLAIN)
            if b.channels_last:
                else_fix += self.rebind(name, b, PLAIN)
        self.env = merged
        body_block = node.body.with_changes(body=[*body, *body_fix])
        if else_fix:
            if orelse is None:
                orelse = cst.Else(body=cst.IndentedBlock(body=else_fix))
            elif isinstance(orelse, cst.Else):
                orelse = orelse.with_changes(body=orelse.body.with_changes(body=[*orelse.body.body, *else_fix]))
            else:
                self.unsupported(UNSUPPORTED, "layouts differ across an elif chain; rewrite as nested if", node)
        return node.with_changes(test=test, body=body_block, orelse=orelse)

    def with_statement(self, node: cst.With) -> list[cst.BaseStatement]:
        """``with torch.no_grad():`` -> the body, then ``stop_gradient`` on every name it assigned."""
        contexts = [library_name(self.file.resolved, item.item.func) if isinstance(item.item, cst.Call) else None for item in node.items]
        # (a note made after the body: each statement of the body drops the notes pending when it starts)
        if len(contexts) == 1 and contexts[0] in KERNEL_CONTEXTS and node.items[0].asname is None:
            body = self.block(node.body.body)
            self.file.note(NO_GRAD, f"`{contexts[0]}` only picks PyTorch's attention kernel: the body is kept, XLA picks its own")
            return body
        if (len(contexts) == 1 and contexts[0] in AUTOCAST_CONTEXTS and node.items[0].asname is None
                and autocast_off(node.items[0].item, self.file.resolved)):
            body = self.block(node.body.body)
            self.file.note(NO_GRAD, f"`{contexts[0]}` with autocast off: the body computes in float32 as written; kept")
            return body
        if len(contexts) != 1 or contexts[0] not in GRAD_CONTEXTS or node.items[0].asname is not None:
            self.unsupported(UNSUPPORTED, f"`with {code_of(node.items[0].item)}` is not translated", node)
            return [node]
        body = self.block(node.body.body)
        if contexts[0] == "torch.enable_grad":
            return body
        self.file.note(NO_GRAD, "torch.no_grad(): no gradient flows through values computed here -> jax.lax.stop_gradient")
        body = stop_returned_gradients(body)  # `return` inside the block: what leaves it carries no gradient
        if ends_in_jump(node.body.body):
            return body  # nothing after the block runs: its names need no stopping
        assigned = []
        for target in m.findall(node.body, m.AssignTarget(target=m.Name()) | m.AugAssign(target=m.Name())):
            name = target.target.value
            if name not in assigned:
                assigned.append(name)
        stops = [
            cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(n))], parse_expr("jax.lax.stop_gradient({x})", x=cst.Name(n)))])
            for n in assigned
        ]
        return [*body, *stops]

    def iterates_container(self, iterable: cst.BaseExpression) -> bool:
        if self.cls is None:
            return False
        if m.matches(iterable, m.Call(func=m.Name("enumerate"))) and iterable.args:
            iterable = iterable.args[0].value
        if m.matches(iterable, m.Call(func=m.Name("zip"))) and iterable.args:  # zip(self.convs, self.norms)
            return all(not a.star and a.keyword is None and self.iterated_container(a.value) is not None
                       for a in iterable.args)
        return self.iterated_container(iterable) is not None

    def iterated_container(self, iterable: cst.BaseExpression) -> ContainerAttr | None:
        """The container a loop iterates: ``self.blocks``, a slice of it with literal bounds (``self.blocks[1:]``),
        or ``reversed(...)`` of either; a slice of a container whose elements are known holds those elements."""
        if m.matches(iterable, m.Call(func=m.Name("reversed"), args=[m.Arg(keyword=None, star="")])):
            inner = self.iterated_container(iterable.args[0].value)
            return None if inner is None else sliced_container(inner, slice(None, None, -1))
        if isinstance(iterable, cst.Subscript) and len(iterable.slice) == 1 and isinstance(iterable.slice[0].slice, cst.Slice):
            inner = self.iterated_container(iterable.value)
            bounds = literal_slice(iterable.slice[0].slice)
            return None if inner is None or bounds is None else sliced_container(inner, bounds)
        element = self.module_element(iterable)
        return element[0] if element is not None and isinstance(element[0], ContainerAttr) else None

    def bind_loop_elements(self, node: cst.For) -> None:
        """``for layer in self.layers`` / ``for i, layer in enumerate(self.layers)``: ``layer`` is an element."""
        if not self.iterates_container(node.iter):
            return
        iterable, target = node.iter, node.target
        if m.matches(iterable, m.Call(func=m.Name("enumerate"))):
            iterable = iterable.args[0].value
            if not m.matches(target, m.Tuple(elements=[m.Element(), m.Element()])):
                return
            target = target.elements[1].value  # `for i, layer in ...` or `for i, (attn, ff) in ...`
        if m.matches(iterable, m.Call(func=m.Name("zip"))):  # `for conv, norm in zip(self.convs, self.norms)`
            names = target.elements if isinstance(target, (cst.Tuple, cst.List)) else ()
            if len(names) == len(iterable.args) and all(isinstance(e.value, cst.Name) for e in names):
                for name, arg in zip(names, iterable.args):
                    self.elements[name.value.value] = container_kinds(self.iterated_container(arg.value))
            return
        container = self.iterated_container(iterable)
        if isinstance(target, cst.Name):
            self.elements[target.value] = container_kinds(container)
        elif isinstance(target, (cst.Tuple, cst.List)) and all(isinstance(e.value, cst.Name) for e in target.elements):
            # `for attn, ff in self.layers`: each element is a container; position i holds layer i
            inner = container_kinds(container)
            if inner and all(isinstance(c, ContainerAttr) and c.elements is not None for c in inner):
                for position, element in enumerate(target.elements):
                    kinds = tuple(c.elements.get(position) for c in inner)
                    if all(k is not None for k in kinds):
                        self.elements[element.value.value] = kinds

    def rebind(self, name: str, fact: Fact, want: Fact) -> list[cst.SimpleStatementLine]:
        """``name = <its value in the layout of want>`` (nothing when it has it already)."""
        if (fact.channels_last, fact.rank) == (want.channels_last, want.rank):
            return []
        moved = cst.Name(name)
        if fact.channels_last:  # rank None: a layer of any rank made it, its channel axis moved last
            moved = transpose(moved, "to_first" if fact.rank is None else to_channels_first_perm(fact.rank))
        if want.channels_last:
            moved = transpose(moved, "to_last" if want.rank is None else to_channels_last_perm(want.rank))
        return [cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=moved)])]

    def keep_loop_layouts(self, kept: dict[str, Fact], live: set[str] | None) -> list[cst.SimpleStatementLine]:
        """Statements that give each name the layout its loop keeps (``kept``; PyTorch's for every other name),
        and the facts updated to match: for the end of a pass, a ``continue`` and a ``break``.  Names not in
        ``live`` (when known) are read by no later pass and not after the loop: they are left as they are."""
        lines = []
        for name, fact in sorted(self.env.items()):
            if live is not None and name not in live and name not in kept:
                continue
            want = kept.get(name, PLAIN) if kept.get(name, PLAIN).channels_last else PLAIN
            lines += self.rebind(name, fact, want)
            if fact.channels_last or want.channels_last:
                self.env[name] = want if want.channels_last else PLAIN
        return lines

    def loop(self, node: cst.For | cst.While) -> list[cst.BaseStatement]:
        """Each pass of a loop starts and ends with the same layouts, so it sees the same facts. Values that
        are channels-last on entry stay so when the body leaves them channels-last and moves no more
        than it would in PyTorch's layout (`for block in self.blocks: x = block(x)` over blocks planned to
        run channels-last: no transpose at all); every other value is in PyTorch's layout at the start and
        end of each pass. The body is translated both ways and the cheaper kept.

        A value in PyTorch's layout that each pass reads and rebinds, and moves channels-last at a known rank
        (`for s in self.stages: x = s(x)` on the model's input), is moved once before the loop instead, when
        that leaves each pass fewer transposes."""
        entry = {name for name, fact in self.env.items() if fact.channels_last}
        back_to_entry = self.checkpoint()
        reported = len(self.file.diagnostics)
        plain, _, plain_cost = self.loop_pass(node, set())
        plain_reports = self.file.diagnostics[reported:]
        moved = carried_moves(node, plain) if plain_cost else {}
        if not entry and not moved:
            return plain
        back_to_plain = self.checkpoint()
        kept = entry | set(moved)
        while kept:
            back_to_entry()
            promoted = sorted((kept & set(moved)) - entry)  # moved before the loop: worth it only if cheaper
            before = [line for name in promoted for line in self.rebind(name, self.env.get(name, PLAIN), channels_last(moved[name]))]
            self.env.update({name: channels_last(moved[name]) for name in promoted})
            trial, changed, cost = self.loop_pass(node, kept)
            cheaper = cost < plain_cost if promoted else cost <= plain_cost
            if not changed and cheaper and self.file.diagnostics[reported:] == plain_reports:
                if before:
                    self.file.note(LAYOUT, "a value each pass reads and rebinds is moved channels-last once, before the "
                                           "loop, not on every pass (each pass leaves it channels-last)")
                return [*before, *trial]
            kept = kept - changed if changed and kept - changed != kept else set()
        back_to_plain()
        return plain

    def loop_pass(self, node: cst.For | cst.While, kept: set[str]) -> tuple[list[cst.BaseStatement], set[str], int]:
        """The loop with the names in ``kept`` channels-last at the start and end of each pass and every other
        value in PyTorch's layout; also the kept names the body leaves in another layout (moved back at the
        end of the pass), and the transposes each pass runs."""
        # inside another loop, a later pass of that loop may read any name: all are live
        outermost = not self.loop_writes
        read_after = {name for rest in self.following for s in rest for name in name_reads(s)} if outermost else None
        live = None if read_after is None else read_before_bound(node.body.body) | read_after
        used = None if read_after is None else set(name_reads(node)) | read_after
        before = [line for name, fact in sorted(self.env.items()) if name not in kept and (used is None or name in used)
                  for line in self.rebind(name, fact, PLAIN)]
        # a plain value's rank may change from pass to pass (`y = y[..., None]`): not known inside or after the loop
        self.env = {name: (PLAIN if (fact.channels_last and name not in kept and (used is None or name in used))
                           or fact.ndim is not None else fact)
                    for name, fact in self.env.items()}
        layouts = {name: self.env[name] for name in kept}
        if isinstance(node, cst.For):
            self.bind_loop_elements(node)
            header = {"iter": node.iter if self.iterates_container(node.iter) else self.plain(node.iter)}
            self.bind_target(node.target, Emitted(node.target))
        else:
            header = {"test": self.plain(node.test)}
        tracker = self.storage_tracker
        roots_entry = dict(tracker.roots)
        self.loop_writes.append([])
        self.loop_layouts.append(layouts)
        self.loop_live.append(live)
        body = self.block(node.body.body)
        self.loop_layouts.pop()
        self.loop_live.pop()
        writes = self.loop_writes.pop()
        if not self.loop_writes:
            self.storage_tracker.consume(node)
        for name in tracker.roots:  # the body may run zero or many times
            tracker.roots[name] = tracker.roots[name] | roots_entry.get(name, tracker.at_entry(name))
        for roots, rebound, reads, write in writes:
            # the next pass writes again into memory that names bound later in the body now share
            conflicts = tracker.conflicts(roots, set(rebound), reads, write)
            if conflicts and id(write) not in self.flagged_writes:
                self.unsupported(
                    SHARED_MUTATION,
                    f"in-place update in a loop of memory that {', '.join(conflicts)} also see(s) on the next pass: "
                    "compute a new tensor instead",
                    write,
                )
        changed = {name for name, fact in layouts.items()
                   if (self.env.get(name, PLAIN).channels_last, self.env.get(name, PLAIN).rank) != (fact.channels_last, fact.rank)}
        fixes = self.keep_loop_layouts(layouts, live)
        self.env = {name: PLAIN if fact.ndim is not None else fact for name, fact in self.env.items()}
        if node.orelse is not None:
            self.unsupported(UNSUPPORTED, "`else` on a loop is not translated yet", node)
        per_pass = transposes([*body, *fixes]) + (transposes([cst.Expr(header["test"])]) if "test" in header else 0)
        return [*before, node.with_changes(body=node.body.with_changes(body=[*body, *fixes]), **header)], changed, per_pass

def carried_moves(node: cst.For | cst.While, translated: list[cst.BaseStatement]) -> dict[str, int]:
    """The values a loop carries from pass to pass (read before the body binds them, and bound by it) that its
    translation in PyTorch's layout moves channels-last by name, with the rank it moves them at."""
    body = node.body.body
    carried = read_before_bound(body) & {t.target.value for t in m.findall(node.body, m.AssignTarget(target=m.Name()))}
    moves: dict[str, int] = {}
    perms = {to_channels_last_perm(rank): rank for rank in (3, 4, 5)}
    moved = m.Call(func=m.Attribute(value=m.Name("jnp"), attr=m.Name("transpose")), args=[m.Arg(m.Name()), m.Arg(m.Tuple())])
    for statement in translated:
        for call in m.findall(statement, moved):
            name = call.args[0].value.value
            try:
                perm = tuple(int(e.value.value) for e in call.args[1].value.elements)
            except (AttributeError, ValueError):
                continue
            if name in carried and perm in perms and moves.setdefault(name, perms[perm]) != perms[perm]:
                moves[name] = 0  # moved at two ranks: left alone
    return {name: rank for name, rank in moves.items() if rank}


def literal_slice(node: cst.Slice) -> slice | None:
    """``1:``, ``:-1``, ``::-1`` as a slice, None unless each bound is an integer literal or absent."""
    bounds = [None if part is None else integer_literal(part) for part in (node.lower, node.upper, node.step)]
    if any(part is not None and bound is None for part, bound in zip((node.lower, node.upper, node.step), bounds)):
        return None
    return slice(*bounds)


def sliced_container(container: ContainerAttr, bounds: slice) -> ContainerAttr | None:
    """The elements of a list or Sequential that ``bounds`` selects, in order (all its kinds when they are
    known only at run time); None for a dict."""
    if container.kind == "dict":
        return None
    if container.elements is None:
        return container
    keys = list(container.elements)[bounds]
    return ContainerAttr(container.kind, {i: container.elements[key] for i, key in enumerate(keys)})


def read_before_bound(statements) -> set[str]:
    """Names a loop body may read before it binds them (their value from the previous pass): every name read
    before a plain assignment at the body's top level binds it (a bind inside a branch may not happen)."""
    bound: set[str] = set()
    carried: set[str] = set()
    for statement in statements:
        carried |= set(name_reads(statement)) - bound
        for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name) and small.target.value not in bound:
                carried.add(small.target.value)
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else []
            for target in targets:
                items = [e.value for e in target.elements] if isinstance(target, (cst.Tuple, cst.List)) else [target]
                bound |= {item.value for item in items if isinstance(item, cst.Name)}
    return carried


def ends_in_jump(statements) -> bool:
    """Whether a block's last statement leaves it (``continue``, ``break``, ``return``, ``raise``)."""
    if not statements or not isinstance(statements[-1], cst.SimpleStatementLine):
        return False
    return isinstance(statements[-1].body[-1], (cst.Continue, cst.Break, cst.Return, cst.Raise))
