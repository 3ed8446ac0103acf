"""In-place updates: code that writes into a tensor (``x.add_(y)``, ``x[i] = v``, ``x[mask] = v``, a layer
with ``inplace=True``, ``x += y``) becomes a new binding, which computes the same only when no other name sees
the memory written. This part tracks the storage each local may share (with
:class:`~translator.rewrite.aliasing.StorageTracker`, the analysis free of translator state) and writes the
functional forms.

Contract: ``storage(expr)`` gives the storage roots a value may share. ``check_in_place``/``check_write``
report (X006) a write another reader would see; a write into one of this function's parameters (directly or
through a view of it) is recorded in ``mutated_params`` when its callers check it (``caller_checks_params``),
and reported here only when a name of this function that shares it -- the parameter itself, or another view
-- is read afterwards; ``check_callee_writes`` is the callers' check at a call site. Inside loops, writes are
kept in ``loop_writes`` for the statements part to check again once the body has been seen whole. ``in_place_method``, ``indexed_update`` and ``masked_update`` return
the functional form (``x.at[i].set(v)``, ``jnp.where(mask, v, x)``).
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from translator.naming import library_name
from translator.rewrite.aliasing import VIEW_FUNCTIONS, VIEW_METHODS, mutated_operand, value_reads
from translator.rewrite.body.common import IN_PLACE, SHARED_MUTATION, UNSUPPORTED
from translator.rewrite.containers import sequential_method_name
from translator.rewrite.context import code_of, parenthesize, parse_expr
from translator.rewrite.model import ContainerAttr, LayerAttr, UserModuleRef
from translator.rules.base import PLAIN, Emitted
from translator.rules.registry import rule_for_method

#: torch functions and tensor methods that return a boolean tensor (an index that is a mask)
BOOLEAN_FUNCTIONS = frozenset({
    "isinf", "isnan", "isfinite", "isposinf", "isneginf", "isreal", "logical_and", "logical_or", "logical_not",
    "logical_xor", "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal",
    "not_equal", "isclose", "isin",
})
BOOLEAN_METHODS = BOOLEAN_FUNCTIONS | {"bool"}

#: `x.at[i].<method>(v)` for each augmented assignment operator on an indexed target
AT_METHODS = {
    cst.AddAssign: "add", cst.SubtractAssign: "subtract", cst.MultiplyAssign: "multiply",
    cst.DivideAssign: "divide", cst.PowerAssign: "power",
}


class InPlaceAnalysis:
    """Shared memory and in-place updates (a part of ``BodyTranslator``)."""

    def storage(self, node: cst.BaseExpression) -> frozenset:
        """The storage roots ``node``'s value may share (see :mod:`translator.rewrite.aliasing`)."""
        tracker = self.storage_tracker
        if isinstance(node, cst.Name):
            return tracker.of_name(node.value)
        if isinstance(node, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.Integer, cst.Float,
                             cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return tracker.new_root()
        if isinstance(node, cst.Subscript):
            if m.matches(node.value, m.Attribute(attr=m.Name("shape"))):
                return tracker.new_root()
            if any(isinstance(e.slice, cst.Index) and self.is_mask(e.slice.value) for e in node.slice):
                return tracker.new_root()  # boolean-mask indexing copies
            return self.storage(node.value)
        if isinstance(node, cst.Attribute):
            if m.matches(node.value, m.Name("self")):
                return frozenset({f"shared:self.{node.attr.value}"})
            if node.attr.value in ("shape", "dtype", "ndim", "device"):
                return tracker.new_root()
            if node.attr.value in VIEW_METHODS:
                return self.storage(node.value)
            return frozenset({f"shared:{code_of(node)}"})
        if isinstance(node, (cst.Tuple, cst.List, cst.Dict)):
            return frozenset().union(*(self.storage(e.value) for e in node.elements)) if node.elements else tracker.new_root()
        if isinstance(node, cst.IfExp):
            return self.storage(node.body) | self.storage(node.orelse)
        if isinstance(node, cst.BooleanOperation):
            return self.storage(node.left) | self.storage(node.right)
        if isinstance(node, cst.Call):
            return self.call_storage(node)
        return frozenset({f"shared:{code_of(node)}"})

    def call_storage(self, node: cst.Call) -> frozenset:
        tracker = self.storage_tracker
        args = [a.value for a in node.args]

        def of_args() -> frozenset:  # conservative: the result may be any argument
            return frozenset().union(*(self.storage(a) for a in args)) if args else tracker.new_root()

        mutated = mutated_operand(node, lambda f: library_name(self.file.resolved, f), self.layer_alias_kind)
        if mutated is not None:
            return self.storage(mutated)
        func = node.func
        if self.cls is not None and self.module_element(func) is not None:
            element, _ = self.module_element(func)
            if m.matches(func, m.Attribute(value=m.Name("self"))) and func.attr.value in self.cls.identity_optional:
                return of_args()  # the identity returns its input
            if isinstance(element, LayerAttr):
                return self.storage(args[0]) if (element.aliases_input and args) else tracker.new_root()
            if isinstance(element, UserModuleRef) and not self.info.classes[element.class_name].returns_alias:
                return tracker.new_root()
            if isinstance(element, ContainerAttr) and element.kind == "sequential" and not element.variants:
                name = sequential_method_name(self.module_element(func)[1] or ("",))
                if name in self.cls.generated_alias and not self.cls.generated_alias[name]:
                    return tracker.new_root()
            return of_args()
        qualified = library_name(self.file.resolved, func)
        if qualified is not None:
            if qualified in VIEW_FUNCTIONS:
                return self.storage(args[0]) if args else tracker.new_root()
            if qualified.startswith("torch."):
                return tracker.new_root()
            return of_args()
        if isinstance(func, cst.Attribute) and not m.matches(func.value, m.Name("self")):
            if func.attr.value in VIEW_METHODS or func.attr.value in ("__getitem__",):
                return self.storage(func.value)
            if rule_for_method(func.attr.value) is not None or rule_for_method(func.attr.value.rstrip("_")) is not None:
                return tracker.new_root()
        return of_args()

    def layer_alias_kind(self, attr: str) -> str | None:
        layer = self.cls.layers.get(attr) if self.cls is not None else None
        if layer is not None and layer.in_place:
            return "inplace"
        return None

    def check_in_place(self, statement: cst.CSTNode, rebound: set[str]) -> None:
        """Flag (X006) every in-place write in ``statement`` that some other reader would see.

        Writes into an argument of this function (or a view of it) are recorded in
        ``mutated_params`` and judged at each call site, where it is known whether
        the caller reads that argument again; here, only whether this function does.
        """
        reads = value_reads(statement)
        for call in m.findall(statement, m.Call()):
            mutated = mutated_operand(call, lambda f: library_name(self.file.resolved, f), self.layer_alias_kind)
            if mutated is None:
                continue
            roots = self.storage(mutated)
            self.check_write(roots, rebound, reads, call)
            self.file.note(IN_PLACE, "an in-place op becomes its functional form: JAX arrays are immutable")

    def check_write(self, roots: frozenset, rebound: set[str], reads, node: cst.CSTNode) -> None:
        """Flag (X006) a write into ``roots`` that a name not in ``rebound``, or a caller, would see.

        A write into a parameter's memory (``x += 1``, or through a view, ``w = x.view(-1); w[0] = 0``)
        is recorded in ``mutated_params`` when the callers check it; it is still flagged here when a
        name of this function that shares it (``x`` itself, another view) is read afterwards.
        """
        if self.caller_checks_params:
            own_params = {f"shared:{p}" for p in self.params}
            for root in roots & own_params:
                self.mutated_params.add(root.split(":", 1)[1])
        for writes in self.loop_writes:
            writes.append((roots, frozenset(rebound), reads, node))
        conflicts = self.storage_tracker.conflicts(roots, rebound, reads, node)
        if conflicts:
            self.flagged_writes.add(id(node))
            self.unsupported(
                SHARED_MUTATION,
                f"in-place update of memory that {', '.join(conflicts)} also see(s): JAX arrays are immutable, so "
                "the translation cannot update them all; compute a new tensor instead (e.g. `y = x + 1`, "
                "inplace=False) or `.clone()` first",
                node,
            )

    def check_callee_writes(self, node: cst.Call, params: tuple[str, ...], mutated: set[str], rebound: set[str]) -> None:
        """A submodule/method that writes into its arguments: the caller's names must not see it."""
        if not mutated:
            return
        reads = value_reads(node)
        for index, arg in enumerate(node.args):
            name = arg.keyword.value if arg.keyword is not None else (params[index] if index < len(params) else None)
            if name in mutated:
                self.check_write(self.storage(arg.value), rebound, reads, node)

    def in_place_method(self, node: cst.Call) -> Emitted:
        """``x.add_(y)`` -> the value of ``x.add(y)``; ``zero_``/``fill_``/``copy_`` -> the array they leave."""
        func = node.func
        name = func.attr.value[:-1]
        self.file.note(IN_PLACE, "an in-place op becomes its functional form: JAX arrays are immutable")
        receiver = self.expr(func.value)
        if name in ("zero", "fill", "copy"):
            args = self.plain_args(node)
            if (name == "zero") != (len(args) == 0) or len(args) > 1:
                self.unsupported(UNSUPPORTED, f"`.{func.attr.value}()` with these arguments is not translated", node)
                return Emitted(node)
            template = {
                "zero": "jnp.zeros_like({x})",
                "fill": "jnp.full_like({x}, {v})",
                "copy": "jnp.broadcast_to({v}, {x}.shape).astype({x}.dtype)",
            }[name]
            values = {"x": parenthesize(self.as_plain(receiver) if name == "copy" else receiver.expr)}
            if args:
                values["v"] = args[0].value
            fact = receiver.fact if name != "copy" else PLAIN
            return Emitted(parse_expr(template, **values), fact)
        rule = rule_for_method(name)
        if rule is None:
            self.unsupported(UNSUPPORTED, f"no rule translates the tensor method `.{func.attr.value}()`", node)
            return Emitted(node)
        functional = node.with_changes(func=func.with_changes(attr=cst.Name(name)))
        return self.rule_call(rule, node, functional, receiver=func.value)

    def in_place_operand_name(self, value: cst.BaseExpression) -> str | None:
        """``a`` when ``value`` is a call that writes into the local ``a`` in place."""
        if not isinstance(value, cst.Call):
            return None
        operand = mutated_operand(value, lambda f: library_name(self.file.resolved, f), self.layer_alias_kind)
        return operand.value if isinstance(operand, cst.Name) else None

    def read_elsewhere(self, name: str, statement: cst.CSTNode) -> bool:
        return self.storage_tracker.reads_after(statement)[name] > 0

    def indexed_target(self, node: cst.Assign | cst.AugAssign) -> cst.Subscript | None:
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        if len(targets) == 1 and isinstance(targets[0], cst.Subscript) and isinstance(targets[0].value, cst.Name):
            return targets[0]
        return None

    def is_mask(self, node: cst.BaseExpression) -> bool:
        """A boolean tensor: a comparison, its negation/combination, or a local assigned one."""
        if isinstance(node, cst.Comparison):
            return True
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.BitInvert):
            return self.is_mask(node.expression)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.BitAnd, cst.BitOr, cst.BitXor)):
            return self.is_mask(node.left) or self.is_mask(node.right)
        if isinstance(node, cst.Call):  # torch.isinf(d), d.isnan(), torch.logical_not(m), x.eq(0), m.bool()
            func = node.func
            qualified = library_name(self.file.resolved, func) if isinstance(func, (cst.Name, cst.Attribute)) else None
            if qualified is not None:
                return qualified.removeprefix("torch.") in BOOLEAN_FUNCTIONS
            return isinstance(func, cst.Attribute) and func.attr.value in BOOLEAN_METHODS
        return isinstance(node, cst.Name) and node.value in self.masks

    def masked_update(self, node: cst.Assign | cst.AugAssign, target: cst.Subscript) -> list[cst.BaseSmallStatement]:
        """``x[mask] = v`` -> ``x = jnp.where(mask, v, x)``: the same elements, with a static shape."""
        name = target.value.value
        self.check_in_place(node, {name})
        self.check_write(self.storage(target.value), {name}, value_reads(node), node)
        x = self.plain(target.value)
        mask = self.plain(target.slice[0].slice.value)
        value = self.plain(node.value)
        if isinstance(node, cst.AugAssign):
            operator = {cst.AddAssign: "+", cst.SubtractAssign: "-", cst.MultiplyAssign: "*", cst.DivideAssign: "/"}.get(type(node.operator))
            if operator is None:
                self.unsupported(UNSUPPORTED, "this masked in-place update is not translated yet", node)
                return [node]
            value = parse_expr(f"{{x}} {operator} {{v}}", x=parenthesize(x), v=parenthesize(value))
        self.file.note(IN_PLACE, "masked assignment -> `jnp.where(mask, v, x)`: same values, and a shape jit can compile")
        self.env[name] = PLAIN
        update = parse_expr("jnp.where({m}, {v}, {x})", m=mask, v=value, x=x)
        return [cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=update)]

    def indexed_update(self, node: cst.Assign | cst.AugAssign) -> list[cst.BaseSmallStatement]:
        """``x[i] = v`` -> ``x = x.at[i].set(v)``; ``x[i] += v`` -> ``x = x.at[i].add(v)``."""
        target = self.indexed_target(node)
        name = target.value.value
        if len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index) and self.is_mask(target.slice[0].slice.value):
            return self.masked_update(node, target)
        if isinstance(node, cst.AugAssign):
            method = AT_METHODS.get(type(node.operator))
            if method is None:
                self.unsupported(UNSUPPORTED, f"indexed `{code_of(node.operator).strip()}` is not translated yet", node)
                return [node]
        else:
            method = "set"
        self.check_in_place(node, {name})
        self.check_write(self.storage(target.value), {name}, value_reads(node), node)
        indexed = self.subscript(target)  # translates the index and brings `x` to PyTorch's layout
        value = self.plain(node.value)
        self.file.note(IN_PLACE, "indexed assignment -> `x.at[i].set(v)`: a new array with those entries replaced")
        if not isinstance(indexed.expr, cst.Subscript):
            self.unsupported(UNSUPPORTED, "this indexed assignment is not translated yet", node)
            return [node]
        at = cst.Subscript(
            value=cst.Attribute(value=indexed.expr.value, attr=cst.Name("at")), slice=indexed.expr.slice
        )
        update = cst.Call(func=cst.Attribute(value=at, attr=cst.Name(method)), args=[cst.Arg(value)])
        self.env[name] = PLAIN
        return [cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=update)]
