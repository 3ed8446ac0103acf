"""Calls of the module's own parts, and the code synthesised for them: a layer (``self.conv(x)``), a
submodule of this file, a container element (``self.blocks[0]``, ``for block in self.blocks``), a Sequential
(one call of the file's shared runner, or a generated method that runs its layers), a Sequential built
differently in branches of ``__init__`` (chosen by its length), a layer that is ``nn.Identity()`` in some
configurations (None in setup), and a Linear head tied to an embedding.

Contract: reached from :mod:`.calls` when ``cls`` is set; each returns an
:class:`~translator.rules.base.Emitted` with the layout the callee returns (a class planned to run
channels-last is called through its channels-last method). What a Sequential becomes is decided once and
recorded on ``cls`` (``generated``, ``inline_chains``, ``generated_alias``, ``generated_mutates``); writes a
callee makes into its arguments are checked at the call site (:mod:`.in_place`). The parts free of translator
state (a Sequential's method source, folding runs into the runner) are :mod:`translator.rewrite.containers`.
"""

from __future__ import annotations

import inspect

import libcst as cst
import libcst.matchers as m

from translator.rewrite.body.common import LAYOUT, OPTIONAL_LAYER, AnyElement, container_kinds
from translator.rewrite.containers import (
    CONTAINER_CODE,
    InlineChain,
    PlannedInterface,
    accepts,
    channels_last_interface,
    fold_chain,
    plain_compatible,
    planned_interface,
    runner_name,
    runner_source,
    sequential_body,
    sequential_method_name,
    sequential_target,
)
from translator.rewrite.context import RuleContext, code_of, parenthesize, parse_expr
from translator.rewrite.model import ClassInfo, ContainerAttr, LayerAttr, UserModuleRef
from translator.rules.base import PLAIN, Emitted, Fact, channels_last, plain_of_rank

OPTIONAL_INPUT = "__optional_layer_input__"
ELEMENT_SEQUENTIAL = "__sequential_element__"  # stands for a Sequential chosen at run time while its method is written
SEQUENTIAL_INPUT = "__sequential_input__"  # stands for the input while a branch-built Sequential's branches are written


class ModuleCallSynthesis:
    """Calls of layers, submodules and containers (a part of ``BodyTranslator``)."""

    def module_element(self, expr: cst.BaseExpression):
        """``(element, path)`` for ``self.a``, ``self.a[0]``, ``self.a["k"][1]``..., or None."""
        if m.matches(expr, m.Attribute(value=m.Name("self"), attr=m.Name())):
            attr = expr.attr.value
            if attr in self.overrides:
                return self.overrides[attr], (attr,)
            if attr in self.cls.layers:
                return self.cls.layers[attr], (attr,)
            if attr in self.cls.submodules:
                return UserModuleRef(self.cls.submodules[attr]), (attr,)
            if attr in self.cls.containers:
                return self.cls.containers[attr], (attr,)
            if attr in self.cls.module_fields:  # a module passed to the constructor (rule S016)
                return AnyElement(self.cls.module_fields[attr]), None
            return None
        if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
            inner = self.module_element(expr.value)
            if inner is None or not isinstance(inner[0], ContainerAttr):
                return None
            container, path = inner
            index = expr.slice[0].slice.value
            if not isinstance(index, (cst.Integer, cst.SimpleString)):
                return AnyElement(container_kinds(container)), None
            key = int(index.value) if isinstance(index, cst.Integer) else index.evaluated_value
            if container.elements is None or key not in container.elements:
                return AnyElement(container_kinds(container)), None
            return container.elements[key], (*path, key)
        return None

    def element_call(self, node: cst.Call, element, path, identity_checked: bool = False) -> Emitted:
        if path is not None and len(path) == 1 and path[0] in self.cls.identity_optional and not identity_checked:
            return self.identity_optional_call(node, element, path[0])
        if path is not None and len(path) == 1 and path[0] in self.cls.tied:
            return self.tied_head_call(node, self.cls.tied[path[0]])
        if isinstance(element, LayerAttr):
            return self.layer_call(node, element)
        if isinstance(element, UserModuleRef):
            return self.submodule_call(node, self.info.classes[element.class_name])
        if isinstance(element, ContainerAttr):
            if element.kind != "sequential":
                self.unsupported(CONTAINER_CODE, f"calling a {element.kind} container; call its elements", node)
                return Emitted(node)
            return self.sequential_call(node, element, path)
        if isinstance(element, AnyElement):
            kinds = element.kinds
            if kinds and all(same_container(k, kinds[0]) for k in kinds) and kinds[0].kind == "sequential" and kinds[0].elements is not None:
                return self.sequential_call(node, kinds[0], (), element=node.func)
            layer = one_layer_kind(kinds)
            if layer is not None:  # `for conv in self.convs: x = conv(x)`: every element is the same layer kind
                return self.layer_call(node, layer)
            interface = planned_interface(kinds, self.info) if kinds else None
            if interface is not None and interface.bind(node) is not None:
                for kind in kinds:
                    target = self.info.classes[kind.class_name]
                    self.check_callee_writes(node, target.forward_params, target.forward_mutates, self.rebound)
                return self.channels_last_call(node, node.func, interface)
            if not kinds or not all(plain_compatible(k, self.info) for k in kinds):
                self.unsupported(
                    CONTAINER_CODE,
                    "calling a container element whose kind is only known at run time: every element it may "
                    "hold must take PyTorch's layout and no train flag (build the container from explicit layers)",
                    node,
                )
                return Emitted(node)
            args = self.plain_args(node)
            needs = {self.info.classes[k.class_name].needs_train for k in kinds if isinstance(k, UserModuleRef)}
            if needs == {True} and all(isinstance(k, UserModuleRef) for k in kinds):
                self.cls.needs_train = self.uses_train = True
                args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
            elif True in needs:
                self.unsupported(CONTAINER_CODE, "container elements differ in whether they take `train`", node)
            return Emitted(node.with_changes(args=args))
        self.unsupported(CONTAINER_CODE, "cannot tell what this container element is", node)
        return Emitted(node)

    def identity_optional_call(self, node: cst.Call, element, attr: str) -> Emitted:
        """``self.proj(x)`` where ``self.proj`` is ``nn.Identity()`` in some branch of ``__init__`` (None in setup):
        ``(x if self.proj is None else <the module's call>)``, both sides in the same layout."""
        if len(node.args) != 1 or node.args[0].keyword is not None or node.args[0].star:
            self.unsupported(OPTIONAL_LAYER, f"`self.{attr}` may be nn.Identity(), which takes exactly one input", node)
            return Emitted(node)
        first = self.expr(node.args[0].value)
        self.env[OPTIONAL_INPUT] = first.fact
        self.stands_for[OPTIONAL_INPUT] = first.expr
        try:
            called = self.element_call(node.with_changes(args=[cst.Arg(cst.Name(OPTIONAL_INPUT))]), element, (attr,), identity_checked=True)
        finally:
            del self.env[OPTIONAL_INPUT], self.stands_for[OPTIONAL_INPUT]
        module_branch = called.expr.visit(ReplaceName(OPTIONAL_INPUT, first.expr))
        if called.fact.channels_last:
            identity_branch = self.as_channels_last(first, called.fact.rank)
        elif called.fact.scalar:
            identity_branch = first.expr
        else:
            identity_branch = self.as_plain(first)
        self.file.note(OPTIONAL_LAYER, "nn.Identity() in one branch of __init__ -> None in setup; the call checks which it is")
        fact = called.fact if called.fact.channels_last else (first.fact if called.fact == first.fact else PLAIN)
        if isinstance(first.expr, (cst.Name, cst.Attribute)):
            choice = parse_expr(f"({{x}} if self.{attr} is None else {{call}})", x=parenthesize(identity_branch), call=parenthesize(module_branch))
            return Emitted(choice, fact)
        # the input is computed once and named: `(lambda _v: _v if self.proj is None else self.proj(_v))(expr)`
        bound = cst.Name("_v")
        identity_bound = identity_branch.visit(ReplaceNode(first.expr, bound))
        module_bound = called.expr.visit(ReplaceName(OPTIONAL_INPUT, bound))
        choice = parse_expr(f"(lambda _v: {{x}} if self.{attr} is None else {{call}})({{value}})",
                            x=parenthesize(identity_bound), call=parenthesize(module_bound), value=first.expr)
        return Emitted(choice, fact)

    def tied_head_call(self, node: cst.Call, embedding: str) -> Emitted:
        """A Linear head tied to an embedding: ``x @ table.T`` through ``nn.Embed.attend`` (rule S013)."""
        if len(node.args) != 1 or node.args[0].keyword is not None:
            self.unsupported("S013", "a tied head is called with one input", node)
            return Emitted(node)
        x = self.plain(node.args[0].value)
        return Emitted(cst.Call(func=cst.parse_expression(f"self.{embedding}.attend"), args=[cst.Arg(x)]))

    def sequential_call(
        self, node: cst.Call, container: ContainerAttr, path: tuple, element: cst.BaseExpression | None = None, user_call: cst.Call | None = None
    ) -> Emitted:
        """Run a Sequential's layers in order: a call of the file's shared loop when they are one run
        (``run_sequential(self.main, x, train=train)``), else the Sequential's own method (generated on first use).

        ``element``: the Sequential is a container element chosen at run time (``for attn, ff in
        self.layers``), passed to the runner (or to its method, as its ``seq`` argument).  ``user_call``: the
        user's call, when ``node`` stands for it with a placeholder input (its writes are checked on it).
        """
        if container.variants:
            return self.variant_sequential_call(node, container, path)
        if element is not None:  # `_run_ff` after the loop variable (numbered if another Sequential has it)
            names = self.cls.element_sequentials
            if id(container) not in names:
                stem = element.value if isinstance(element, cst.Name) else "element"
                taken = set(names.values())
                attributes = {*self.cls.containers, *self.cls.layers, *self.cls.submodules}  # their methods are `_run_<attr>`
                names[id(container)] = next(n for n in (stem, *(f"{stem}{i}" for i in range(2, 99))) if n not in taken | attributes)
            path = (names[id(container)],)
        name = sequential_method_name(path)
        target_path = path[:-1] if str(path[-1]).startswith("len") else path  # a variant: same attribute
        if name not in self.cls.generated and name not in self.cls.inline_chains:
            self.write_sequential(node, container, target_path, name, element)
        self.check_callee_writes(user_call or node, ("x",), self.cls.generated_mutates.get(name, set()), self.rebound)
        chain = self.cls.inline_chains.get(name)
        if chain is not None:
            if len(node.args) != 1 or node.args[0].keyword is not None or node.args[0].star:
                self.unsupported(CONTAINER_CODE, "a Sequential takes exactly one input", node)
                return Emitted(node)
            first = self.expr(node.args[0].value)
            value = self.as_channels_last(first, chain.input.rank) if chain.input.channels_last else self.as_plain(first)
            args = [cst.Arg(element if element is not None else sequential_target(target_path)), cst.Arg(value)]
            if chain.train:
                self.cls.needs_train = self.uses_train = True
                args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
            self.file.pending_notes.extend(chain.notes)  # what its layers teach, once
            chain.notes = []
            self.file.note(CONTAINER_CODE, f"nn.Sequential -> a list of layers in setup, run in order by `{self.info.runner_name}`, "
                                           "one loop for the whole file")
            return Emitted(cst.Call(func=cst.Name(self.info.runner_name), args=args), chain.output)
        _, uses_train = self.cls.generated[name]
        args = self.plain_args(node)
        if element is not None:
            args = [cst.Arg(element), *args]
        if uses_train:
            self.cls.needs_train = self.uses_train = True
            args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
        self.file.note(CONTAINER_CODE, "a Sequential the shared loop cannot run whole (a layout change or an inline layer inside) "
                                       "-> a method that runs its layers in order")
        return Emitted(cst.Call(func=cst.parse_expression(f"self.{name}"), args=args))

    def write_sequential(self, node: cst.Call, container: ContainerAttr, target_path: tuple, name: str, element) -> None:
        """Translate a Sequential's chain of layer calls once, and fold its runs into the shared runner."""
        if self.channels_last_chain(container, name):
            return
        overrides = dict(self.overrides)
        if element is not None:
            target_path, overrides[ELEMENT_SEQUENTIAL] = (ELEMENT_SEQUENTIAL,), container
        method = cst.parse_statement(sequential_body(container, target_path, name))
        translator = type(self)(
            self.file, self.info, self.cls, {"x": PLAIN}, overrides=overrides, params=("x",), caller_checks_params=True
        )
        outer_origin = self.file.origin
        if node in self.file.resolved.positions:  # (a call inside generated code keeps the outer origin)
            self.file.origin = node
        pending, reported = self.file.take_notes(), len(self.file.diagnostics)
        body = translator.block(method.body.body)
        self.file.pending_notes = pending
        self.file.origin = outer_origin
        self.cls.generated_alias[name], self.cls.generated_mutates[name] = translator.returns_alias, translator.mutated_params
        output = translator.env.get("x", PLAIN)
        folded = fold_chain(self.file, self.info, container, code_of(sequential_target(target_path)), body, output)
        if folded.whole_input is not None and len(self.file.diagnostics) == reported:
            notes = [line.comment.value[2:] for s in body for line in s.leading_lines if line.comment is not None]
            for note in notes:  # a layout change is taught where the call site makes one
                if note.startswith(LAYOUT + ":"):
                    self.file.shown_notes.discard(note)
            notes = [note for note in notes if not note.startswith(LAYOUT + ":")]
            self.cls.inline_chains[name] = InlineChain(folded.whole_input, output, folded.whole_train, notes)
            return
        body = folded.statements
        params = method.params
        if translator.uses_train:
            params = params.with_changes(params=[*params.params, train_param()])
        runs = f"`self.{target_path[0]}`"
        if element is not None:
            body = [b.visit(ReplaceNode(None, None, attribute=ELEMENT_SEQUENTIAL, new_name="seq")) for b in body]
            params = params.with_changes(params=[params.params[0], cst.Param(cst.Name("seq")), *params.params[1:]])
            runs = "a Sequential element of a container (`seq`)"
        doc = cst.SimpleStatementLine([cst.Expr(cst.SimpleString(
            f'"""Runs {runs} like PyTorch\'s nn.Sequential: each layer in order (rule {CONTAINER_CODE})."""'
        ))])
        self.cls.generated[name] = (method.with_changes(params=params, body=method.body.with_changes(body=[doc, *body])), translator.uses_train)

    def channels_last_chain(self, container: ContainerAttr, name: str) -> bool:
        """A Sequential built at run time whose elements are all classes of the file running channels-last with
        the same rank in and out (``nn.Sequential(*blocks)`` of ResNet blocks): one call of the shared runner,
        channels-last in and out, each element called through its channels-last method (rule S004)."""
        if container.elements is not None or not container.kinds:
            return False
        interface = channels_last_interface(container.kinds, self.info)
        if interface is None or interface[0] != interface[1]:
            return False
        targets = [self.info.classes[kind.class_name] for kind in container.kinds]
        if any(target.forward_mutates for target in targets):
            return False
        rank, _, method, takes_train = interface
        entries = [(target.name, (method, (("train", "train"),) if takes_train else ())) for target in targets]
        if not accepts(self.info.runner_table, entries):
            return False
        runner = runner_name(self.info, self.file)
        self.info.runner_table.update(entries)
        self.file.support[runner] = runner_source(runner, self.info.runner_table)
        self.cls.generated_alias[name] = True  # (an empty Sequential returns its input)
        self.cls.generated_mutates[name] = set()
        self.cls.inline_chains[name] = InlineChain(channels_last(rank), channels_last(rank), takes_train, [])
        return True

    def variant_sequential_call(self, node: cst.Call, container: ContainerAttr, path: tuple) -> Emitted:
        """A Sequential built differently in branches of __init__: choose by its length at trace time.

        The branches agree on a layout: channels-last when every non-empty one ends channels-last."""
        if len(path) != 1 or len(node.args) != 1 or node.args[0].keyword is not None or node.args[0].star:
            self.unsupported(CONTAINER_CODE, "a branch-built Sequential is only translated as a direct attribute with one input", node)
            return Emitted(node)
        attr = path[0]
        first = self.expr(node.args[0].value)
        self.env[SEQUENTIAL_INPUT] = first.fact
        self.stands_for[SEQUENTIAL_INPUT] = first.expr
        branches: list[tuple[int, Emitted]] = []
        try:
            for variant in sorted(container.variants, key=lambda v: len(v.elements)):
                if not variant.elements:
                    branches.append((0, Emitted(cst.Name(SEQUENTIAL_INPUT), first.fact)))
                    continue
                saved = self.overrides.get(attr)
                self.overrides[attr] = variant
                called = node.with_changes(args=[cst.Arg(cst.Name(SEQUENTIAL_INPUT))])
                length = len(variant.elements)
                branches.append((length, self.sequential_call(called, variant, (attr, f"len{length}"), user_call=node)))
                if saved is None:
                    del self.overrides[attr]
                else:
                    self.overrides[attr] = saved
        finally:
            del self.env[SEQUENTIAL_INPUT]
        try:
            return self.choose_variant(attr, first, branches)
        finally:
            self.stands_for.pop(SEQUENTIAL_INPUT, None)

    def choose_variant(self, attr: str, first: Emitted, branches: list[tuple[int, Emitted]]) -> Emitted:
        """The branches of a branch-built Sequential's call (the input written as the placeholder), chosen by length."""
        ends = {e.fact for n, e in branches if n}
        fact = ends.pop() if len(ends) == 1 and next(iter(ends)).channels_last else PLAIN
        result = None
        exprs = [(self.as_channels_last(branch, fact.rank) if fact.channels_last else self.as_plain(branch)) for _, branch in branches]
        if len(exprs) > 1 and all(n for n, _ in branches) and len({code_of(e) for e in exprs}) == 1:
            # every branch is the same call of the shared runner: no choice to make
            self.file.note(CONTAINER_CODE, "a Sequential built in branches of __init__: the shared loop runs each branch alike")
            return Emitted(exprs[-1].visit(ReplaceName(SEQUENTIAL_INPUT, first.expr)), fact)
        for length, branch in branches:
            expr = self.as_channels_last(branch, fact.rank) if fact.channels_last else self.as_plain(branch)
            expr = expr.visit(ReplaceName(SEQUENTIAL_INPUT, first.expr))
            if result is None:
                result = expr
            else:
                test = cst.parse_expression(f"len(self.{attr}) == {length}")
                result = cst.IfExp(test=test, body=parenthesize(expr), orelse=parenthesize(result))
        if isinstance(result, cst.IfExp):
            result = parenthesize(result)
        self.file.note(CONTAINER_CODE, "a Sequential built in branches of __init__: the branch is chosen by its length")
        return Emitted(result, fact)

    def layer_call(self, node: cst.Call, layer: LayerAttr) -> Emitted:
        spec = layer.call
        if not node.args or node.args[0].keyword is not None or node.args[0].star:
            self.unsupported(layer.rule.code, "layer called without a positional input", node)
            return Emitted(node)
        first = self.expr(node.args[0].value)
        if layer.inline is not None:
            if len(node.args) != 1:
                self.unsupported(layer.rule.code, "this layer takes exactly one input", node)
                return Emitted(node)
            signature = inspect.Signature([inspect.Parameter("input", inspect.Parameter.POSITIONAL_ONLY)])
            context = RuleContext(
                layer.rule, self.file, node, signature, {"input": first.expr}, {"input": first.fact}, body=self
            )
            result = layer.inline(context)
            return Emitted(node) if context.failed else result
        if spec.accepts == "channels_last":
            converted = self.as_channels_last(first, spec.rank)
        elif spec.accepts == "plain":
            converted = self.as_plain(first)
        else:
            converted = first.expr
        args = [node.args[0].with_changes(value=converted), *self.plain_args(node.with_changes(args=node.args[1:]))]
        if spec.train_kwarg is not None:
            keyword, negate = spec.train_kwarg
            self.cls.needs_train = self.uses_train = True
            flag = "not train" if negate else "train"
            args.append(cst.Arg(value=cst.parse_expression(flag), keyword=cst.Name(keyword)))
        call = node.with_changes(args=args)
        if spec.produces == "channels_last" and spec.rank is None and first.fact.rank is None:
            # a layer of any rank (GroupNorm): its output has its input's rank, a parameter's if it is one
            fact = Fact(channels_last=True, rank_of=first.fact.rank_of if first.fact.channels_last else self.param_of(first.expr))
        elif spec.produces == "channels_last":
            fact = Fact(channels_last=True, rank=spec.rank if spec.rank is not None else first.fact.rank)
        elif spec.produces == "same":
            fact = first.fact
        else:
            fact = plain_of_rank(first.fact.rank if first.fact.channels_last else first.fact.ndim) if spec.keeps_rank else PLAIN
        if layer.wrap_call is not None:
            signature = inspect.Signature([inspect.Parameter("input", inspect.Parameter.POSITIONAL_ONLY)])
            context = RuleContext(layer.rule, self.file, node, signature, {"input": converted}, {"input": fact}, body=self)
            wrapped = layer.wrap_call(context, call)
            return Emitted(node) if context.failed else wrapped
        return Emitted(call, fact)

    def submodule_call(self, node: cst.Call, target: ClassInfo) -> Emitted:
        self.check_callee_writes(node, target.forward_params, target.forward_mutates, self.rebound)
        interface = planned_interface([UserModuleRef(target.name)], self.info)
        if interface is not None and interface.bind(node) is not None:
            return self.channels_last_call(node, node.func, interface)
        args = self.plain_args(node)
        if target.needs_train:
            self.cls.needs_train = self.uses_train = True
            args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
        return Emitted(node.with_changes(args=args))

    def channels_last_call(self, node: cst.Call, module: cst.BaseExpression, interface: PlannedInterface) -> Emitted:
        """A class of the file planned to run channels-last (rule S004): its channels-last method takes each
        planned input as it is when it is channels-last already (the others as PyTorch's layout has them),
        and its result stays channels-last."""
        args = []
        for arg, rank in zip(node.args, interface.bind(node)):
            value = self.expr(arg.value)
            args.append(arg.with_changes(value=self.as_plain(value) if rank is None else self.as_channels_last(value, rank)))
        if interface.takes_train:
            self.cls.needs_train = self.uses_train = True
            args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
        self.file.note(LAYOUT, "a module that runs channels-last is called through its channels-last method: no transpose in between")
        call = node.with_changes(func=cst.Attribute(value=module, attr=cst.Name(interface.method)), args=args)
        if interface.tuple_out:
            return Emitted(call, Fact(channels_last=True, rank=interface.rank_out, tuple_of=True))
        return Emitted(call, channels_last(interface.rank_out))


class ReplaceName(cst.CSTTransformer):
    """Every ``Name(name)`` replaced by ``expr``."""

    def __init__(self, name: str, expr: cst.BaseExpression):
        self.name, self.value = name, expr

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self.value if updated_node.value == self.name else updated_node


class ReplaceNode(cst.CSTTransformer):
    """The subtree ``old`` (by identity) replaced by ``new``; or every ``self.<attribute>`` by ``new_name``."""

    def __init__(self, old: cst.CSTNode | None, new: cst.CSTNode | None, attribute: str | None = None, new_name: str | None = None):
        self.old, self.new, self.attribute, self.new_name = old, new, attribute, new_name

    def on_leave(self, original_node, updated_node):
        if self.old is not None and original_node is self.old:
            return self.new
        if self.attribute is not None and m.matches(updated_node, m.Attribute(value=m.Name("self"), attr=m.Name(self.attribute))):
            return cst.Name(self.new_name)
        return super().on_leave(original_node, updated_node)


def train_param() -> cst.Param:
    return cst.Param(cst.Name("train"), annotation=cst.Annotation(cst.Name("bool")), default=cst.Name("False"))


def same_container(kind, first) -> bool:
    """Whether ``kind`` is the container ``first`` or one written the same way (a built model's list of
    ``nn.Sequential(...)`` written out one by one): one call runs either."""
    if not isinstance(kind, ContainerAttr) or not isinstance(first, ContainerAttr):
        return False
    return kind is first or (first.source is not None and kind.source == first.source)


def one_layer_kind(kinds: tuple) -> LayerAttr | None:
    """The layer every element of a container is, when they are all built by one rule and called alike (a
    comprehension of convolutions): an element is then called as that layer, whichever it is."""
    if not kinds or not all(isinstance(k, LayerAttr) for k in kinds):
        return None
    first = kinds[0]
    if all(k is first for k in kinds):
        return first
    if any(k.inline is not None or k.wrap_call is not None for k in kinds):
        return None  # inlined calls carry their own configuration
    return first if all(k.rule is first.rule and k.call == first.call for k in kinds) else None
