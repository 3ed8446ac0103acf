"""Calls: ``f(...)`` dispatched to what translates it: a method of the class, a layer, submodule or
container of the module (:mod:`.module_calls`), a custom gradient, the rule for a torch function or tensor
method (``rule_call``), a plain Python builtin, a function of this file; anything else is reported.

Contract: ``call(node)`` returns an :class:`~translator.rules.base.Emitted`; a call the translator cannot
vouch for is reported (X001, X002, X005, X007, X008, T022) and left as written. ``rule_call`` binds the call to
the rule's PyTorch signature, translates each argument, and hands the rule a
:class:`~translator.rewrite.context.RuleContext` whose ``body`` is this translator.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from translator.naming import is_torch_name, library_name
from translator.rewrite.body.common import (
    HOOKS,
    IN_PLACE,
    LAYOUT,
    UNSUPPORTED,
    AnyElement,
    integer_literal,
)
from translator.rewrite.context import (
    RuleContext,
    UnbindableCall,
    bind_arguments,
    code_of,
    parenthesize,
    parse_expr,
)
from translator.rewrite.model import UserModuleRef
from translator.rules.base import (
    PLAIN,
    SCALAR,
    Emitted,
    Fact,
    Rule,
    channels_last,
    to_channels_last_perm,
)
from translator.rules.registry import rule_for_method, rule_for_qualified_name

#: builtins that take and return plain Python/array values
PLAIN_BUILTINS = frozenset(
    "builtins." + name
    for name in (
        "abs all any bool dict divmod enumerate float getattr hasattr int isinstance len list "
        "max min pow print range reversed round slice sorted str sum tuple zip"
    ).split()
)
#: standard-library modules whose functions act on Python numbers only
PLAIN_MODULES = ("math.", "operator.", "functools.", "itertools.", "typing.")

UNKNOWN_CALL = "X002"  # a call into a library the translator does not know

#: builtins that turn a tensor into a Python value (a concrete value jit does not have)
CONCRETE_BUILTINS = frozenset({"builtins.int", "builtins.float", "builtins.bool"})
#: tensor methods that only read shapes (Python ints under jit)
SHAPE_METHODS = frozenset({"size", "dim", "numel", "ndimension", "nelement"})
#: the concatenations that may join channels-last tensors (``stack`` adds an axis: it stays in PyTorch's layout)
CHANNELS_LAST_CAT = frozenset({"torch.cat", "torch.concat", "torch.concatenate"})


def unknown_method_message(func: cst.Attribute, params) -> str:
    """What to say of ``receiver.method(...)`` no rule translates: a tensor method, or, on an argument
    of the method, perhaps an object (a key/value cache) whose branch the built model can take."""
    method = func.attr.value
    if isinstance(func.value, cst.Name) and func.value.value in params:
        return (f"no rule translates `{func.value.value}.{method}()`: as a tensor method it has no rule; if "
                f"`{func.value.value}` is an object (a cache, a config), translate the built model instead "
                "(`check`, or `translate --class NAME`), which traces this method with the argument's value")
    return f"no rule translates the tensor method `.{method}()`"


class CallTranslation:
    """Calls in a function body (a part of ``BodyTranslator``)."""

    def submodule_method(self, func: cst.Attribute):
        """``(class, method)`` for ``self.hc.width_connection``: a method other than forward of a submodule
        whose class is in this file (hyper-connections: the holder calls them), or None."""
        owner = self.module_element(func.value)
        if owner is None or not isinstance(owner[0], UserModuleRef):
            return None
        target = self.info.classes.get(owner[0].class_name)
        if target is None or func.attr.value not in target.methods or func.attr.value == "forward":
            return None
        return target, func.attr.value

    def submodule_method_call(self, node: cst.Call, target, method: str) -> Emitted:
        if method not in target.method_train:
            self.unsupported("S003", f"`{target.name}.{method}` is called before it is translated: whether it needs the "
                                     "`train` flag is unknown", node)
            return Emitted(node)
        self.file.note("S002", f"`{code_of(node.func)}(...)`: a method of a submodule, called on the bound Flax "
                               "submodule as in PyTorch")
        args = self.plain_args(node)
        if target.method_train[method]:
            self.cls.needs_train = self.uses_train = True
            args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
        return Emitted(node.with_changes(args=args))

    def call(self, node: cst.Call) -> Emitted:
        if self.intercept is not None:
            intercepted = self.intercept(self, node)
            if intercepted is not None:
                return intercepted
        func = node.func
        if self.cls is not None:
            resolved = self.module_element(func)
            if resolved is not None:
                return self.element_call(node, *resolved)
            if isinstance(func, cst.Attribute) and (method := self.submodule_method(func)) is not None:
                return self.submodule_method_call(node, *method)
            if m.matches(func, m.Attribute(value=m.Name("self"), attr=m.Name())):
                attr = func.attr.value
                if attr in self.cls.methods:
                    args = self.plain_args(node)
                    if self.cls.method_train.get(attr) and not any(a.keyword and a.keyword.value == "train" for a in node.args):
                        self.cls.needs_train = self.uses_train = True
                        args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
                    elif attr not in self.cls.method_train and self.cls.name in self.info.classes:
                        self.unsupported(
                            "S003",
                            f"`self.{attr}` is called before it is translated (recursive methods): whether it needs "
                            "the `train` flag is unknown",
                            node,
                        )
                    return Emitted(node.with_changes(args=args))
                if attr in self.cls.function_attributes:  # `self.act = F.gelu` in __init__
                    reference = self.cls.function_attributes[attr]
                    self.file.note("S001", f"`self.{attr}` holds `{code_of(reference)}` (set in __init__): called as that function")
                    return self.rule_call(rule_for_qualified_name(library_name(self.file.resolved, reference)), node, node.with_changes(func=reference))
                holder = "a constructor argument" if attr in self.cls.fields else "something the translator cannot name"
                self.unsupported(
                    "X005",
                    f"cannot tell what `self.{attr}` holds ({holder}), so its layout and flags are unknown; "
                    "build it in __init__ from a layer or a class in this file",
                    node,
                )
                return Emitted(node)
        if m.matches(func, m.Attribute(value=m.Name(), attr=m.Name("apply"))) and func.value.value in self.info.custom_gradients:
            self.file.note("S022", f"`{func.value.value}.apply(...)` -> `{self.info.custom_gradients[func.value.value]}(...)`, "
                                   "a jax.custom_vjp function")
            return Emitted(cst.Call(func=cst.Name(self.info.custom_gradients[func.value.value]), args=self.plain_args(node)))
        if m.matches(func, m.Attribute(value=m.Name(), attr=m.Name("apply"))) and func.value.value in self.info.autograd_functions:
            self.unsupported("X007", f"`{func.value.value}` is a custom torch.autograd.Function (write it with jax.custom_vjp)", node)
            return Emitted(node)
        if m.matches(func, m.Attribute(attr=m.Name())) and func.attr.value in HOOKS:
            self.unsupported("X008", f"`.{func.attr.value}()`: hooks change what a module computes outside its code; not translated", node)
            return Emitted(node)
        if isinstance(func, cst.Name) and func.value in self.elements:
            return self.element_call(node, AnyElement(self.elements[func.value]), None)
        qualified = library_name(self.file.resolved, func)
        if qualified is not None:
            rule = rule_for_qualified_name(qualified)
            if qualified in CHANNELS_LAST_CAT and rule is not None and (joined := self.channels_last_cat(node, rule)) is not None:
                return joined
            if rule is not None and rule.call_signature is not None:
                return self.rule_call(rule, node, node)
            base = rule_for_qualified_name(qualified[:-1]) if qualified.endswith("_") and isinstance(func, cst.Attribute) else None
            if base is not None and base.call_signature is not None:  # torch.relu_(x): the functional form
                self.file.note(IN_PLACE, "an in-place op becomes its functional form: JAX arrays are immutable")
                functional = node.with_changes(func=func.with_changes(attr=cst.Name(func.attr.value[:-1])))
                return self.rule_call(base, node, functional)
            if qualified in CONCRETE_BUILTINS and node.args and self.reads_tensor(node.args[0].value):
                self.unsupported(
                    "T022",
                    f"`{qualified[9:]}()` of a tensor reads a concrete value: a traced JAX array has none under jit "
                    "(keep it an array, or compute it from shapes)",
                    node,
                )
                return Emitted(node)
            if qualified == "builtins.map" and node.args and self.translated_function(node.args[0].value):
                return Emitted(node.with_changes(args=self.plain_args(node)))  # the function is translated too
            if qualified in PLAIN_BUILTINS or qualified.startswith(PLAIN_MODULES):
                # `len(x)` is a Python int even for a tensor, and `math.sqrt(n)` a Python float: `int()` of
                # either later reads no array value
                scalar = qualified == "builtins.len" or qualified.startswith("math.")
                return Emitted(node.with_changes(args=self.plain_args(node)), SCALAR if scalar else PLAIN)
            if is_torch_name(qualified):
                self.unsupported(UNSUPPORTED, f"no rule translates `{qualified}`", node)
            elif qualified.startswith("builtins."):
                self.unsupported(UNSUPPORTED, f"builtin `{qualified[9:]}` is not known to be array-safe", node)
            else:
                self.unsupported(UNKNOWN_CALL, f"call into `{qualified}`, which the translator does not know", node)
            return Emitted(node)
        if isinstance(func, cst.Name) and func.value in self.info.functions:
            return Emitted(node.with_changes(args=self.plain_args(node)))
        if isinstance(func, cst.Name) and func.value in self.env:
            # a local holding a layer (`layer = self.conv; layer(x)`) would get the wrong layout silently
            self.unsupported(
                "X005",
                f"calling the local variable `{func.value}`: the translator cannot tell which layer it holds; "
                "call the attribute (`self.<name>(...)`) directly",
                node,
            )
            return Emitted(node)
        if isinstance(func, cst.Attribute):
            rule = rule_for_method(func.attr.value)
            if rule is not None:
                return self.rule_call(rule, node, node, receiver=func.value)
            if func.attr.value.endswith("_") and not func.attr.value.startswith("_"):
                return self.in_place_method(node)
            self.unsupported(UNSUPPORTED, unknown_method_message(func, self.params), node)
            return Emitted(node)
        self.unsupported(UNKNOWN_CALL, f"call of `{code_of(func)}`, which the translator cannot resolve", node)
        return Emitted(node)

    def channels_last_cat(self, node: cst.Call, rule: Rule) -> Emitted | None:
        """``torch.cat([a, b], dim=1)`` of channels-last tensors: joined channels-last along the axis where PyTorch's
        ``dim`` lives (rule T017 with S004), so a U-Net's skip connection costs no transpose. Only a literal list and
        a literal ``dim``; the operands take the layout most of them have (a tie: PyTorch's). In a tie along the
        channels, a plain operand that is a parameter of the function is recorded as wanted channels-last at
        that rank, so a module's plan (S004) can take it so (a U-Net up block's skip input)."""
        try:
            provided = bind_arguments(node, rule.call_signature)
        except UnbindableCall:
            return None
        tensors = provided.get("tensors")
        if set(provided) - {"tensors", "dim", "axis"} or ("dim" in provided and "axis" in provided):
            return None
        if not isinstance(tensors, (cst.List, cst.Tuple)) or not tensors.elements or any(
            not isinstance(e, cst.Element) for e in tensors.elements
        ):
            return None
        dim_node = provided.get("dim", provided.get("axis"))
        dim = 0 if dim_node is None else integer_literal(dim_node)
        if dim is None:
            return None
        values = [self.expr(e.value) for e in tensors.elements]
        ranks = {v.fact.rank for v in values if v.fact.channels_last}
        laid_last = sum(1 for v in values if v.fact.channels_last)
        laid_plain = sum(1 for v in values if not v.fact.channels_last)
        rank = next(iter(ranks)) if len(ranks) == 1 else None
        if rank is not None and laid_last == laid_plain and -rank <= dim < rank and dim % rank == 1:
            for value in values:
                name = value.expr
                while isinstance(name, cst.Name) and name.value in self.stands_for:
                    name = self.stands_for[name.value]
                if not value.fact.channels_last and isinstance(name, cst.Name) and name.value in self.params:
                    self.param_ranks.setdefault(name.value, set()).add(rank)
        if rank is not None and laid_last > laid_plain and -rank <= dim < rank:
            elements = [e.with_changes(value=self.as_channels_last(v, rank)) for e, v in zip(tensors.elements, values)]
            axis = to_channels_last_perm(rank).index(dim % rank)
            self.file.note(LAYOUT, "torch.cat of channels-last tensors joins them channels-last, along the axis where `dim` lives")
            return Emitted(parse_expr(f"jnp.concatenate({{t}}, axis={axis})", t=tensors.with_changes(elements=elements)), channels_last(rank))
        elements = [e.with_changes(value=self.as_plain(v)) for e, v in zip(tensors.elements, values)]
        return Emitted(parse_expr(f"jnp.concatenate({{t}}, axis={dim})", t=tensors.with_changes(elements=elements)))

    def translated_function(self, func: cst.BaseExpression) -> bool:
        """A lambda, a function of this file, or a method of this class that takes no ``train`` flag."""
        if isinstance(func, cst.Lambda):
            return True  # its body is translated where it is written
        if isinstance(func, cst.Name):
            return func.value in self.info.functions
        if self.cls is not None and m.matches(func, m.Attribute(value=m.Name("self"), attr=m.Name())):
            return self.cls.method_train.get(func.attr.value) is False
        return False

    def reads_tensor(self, node: cst.BaseExpression) -> bool:
        """Whether ``node`` computes from tensor values (not only shapes and Python numbers)."""
        for call in m.findall(node, m.Call()):
            qualified = library_name(self.file.resolved, call.func)
            if qualified is not None and is_torch_name(qualified):
                return True
            if qualified is None and isinstance(call.func, cst.Attribute) and not m.matches(call.func.value, m.Name("self")):
                if call.func.attr.value not in SHAPE_METHODS and rule_for_method(call.func.attr.value) is not None:
                    return True
        if isinstance(node, cst.Name):
            return not self.env.get(node.value, PLAIN).scalar and node.value in self.storage_tracker.roots
        return False

    def plain_args(self, node: cst.Call) -> list[cst.Arg]:
        return [arg.with_changes(value=self.plain(arg.value)) for arg in node.args]

    def rule_call(
        self,
        rule: Rule,
        node: cst.CSTNode,
        call: cst.Call,
        receiver: cst.BaseExpression | None = None,
        as_property: bool = False,
    ) -> Emitted:
        try:
            provided = bind_arguments(call, rule.call_signature, receiver)
        except UnbindableCall as error:
            self.unsupported(rule.code, f"cannot read the arguments of `{code_of(node)}`: {error}", node)
            return Emitted(node)
        translated: dict[str, cst.BaseExpression] = {}
        facts: dict[str, Fact] = {}
        for name, value in provided.items():
            emitted = self.expr(value)
            translated[name], facts[name] = parenthesize(emitted.expr), emitted.fact
        target = receiver is not None and (call.func.attr.value if isinstance(call.func, cst.Attribute) else None)
        if receiver is None:
            import pydoc

            target = pydoc.locate(library_name(self.file.resolved, call.func) or "")
        context = RuleContext(rule, self.file, node, rule.call_signature, translated, facts, body=self, target=target)
        context.unpacked_into = self.unpacked.get(node)
        result = rule.emit_call(context)
        if context.failed:
            return Emitted(node)
        return result
