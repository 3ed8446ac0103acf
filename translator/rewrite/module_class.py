"""Turn one ``torch.nn.Module`` subclass into a ``flax.linen.Module``.

Constructor parameters become dataclass fields (same names, defaults kept), the
``__init__`` body becomes ``setup()``, ``forward`` becomes ``__call__``.  We use
``setup`` rather than ``@nn.compact`` deliberately: it keeps PyTorch's attribute
names as Flax submodule names (so ``fc1.weight`` ports to ``params/fc1/kernel``
with no renaming), it keeps the constructor code where the user wrote it, and it
lets helper methods share layers exactly as they did in PyTorch.
"""

from __future__ import annotations

import inspect

import libcst as cst
import libcst.matchers as m

from translator.naming import colliding_attributes, is_torch_name, library_name
from translator.rewrite.body import HOOKS, UNSUPPORTED, BodyTranslator
from translator.rewrite.containers import CONTAINER_CODE, container_kind, runner_key
from translator.rewrite.context import (
    FileContext,
    RuleContext,
    UnbindableCall,
    bind_arguments,
    code_of,
)
from translator.rewrite.decorators import read_decorators, stop_returned_gradients
from translator.rewrite.identity import ByIdentity
from translator.rewrite.init_forms import normalise_init
from translator.rewrite.initialisation import (
    initialisation_methods,
    is_initialisation,
    report_initialisation,
    written_weights,
)
from translator.rewrite.layout_plan import (
    Snapshot,
    boundary,
    input_ranks,
    method_name,
    output_layout,
    planned_inputs,
    transposes,
)
from translator.rewrite.model import ClassInfo, ContainerAttr, FileInfo, LayerAttr, UserModuleRef
from translator.rewrite.state import (
    buffer_statement,
    is_parameter_call,
    is_parameter_collection_call,
    parameter_collection_statement,
    parameter_statement,
)
from translator.rules.base import channels_last
from translator.rules.registry import rule_for_qualified_name

MODULE_CLASS = "S001"
MODULE_ARGUMENT = "S016"
FORWARD = "S002"
LAYOUT_CODE = "S004"

SUPER_INIT = m.OneOf(
    m.Call(func=m.Attribute(value=m.Call(func=m.Name("super")), attr=m.Name("__init__"))),
    m.Call(func=m.Attribute(attr=m.Name("__init__"), value=m.Attribute(attr=m.Name("Module")))),
    m.Call(func=m.Attribute(attr=m.Name("__init__"), value=m.Name("Module"))),
)
INLINE_PLACEHOLDER = "__inlined_at_call_sites__"
#: layers whose call may return the input tensor itself (dropout in eval mode returns its input)
ALIASING_LAYERS = frozenset({"L030"})
SELF_ATTR = m.Attribute(value=m.Name("self"), attr=m.Name())
PRIMITIVE_ANNOTATIONS = {int: "int", float: "float", bool: "bool", str: "str"}


def is_torch_module_base(file: FileContext, base: cst.BaseExpression) -> bool:
    qualified = library_name(file.resolved, base)
    return qualified in ("torch.nn.Module", "torch.nn.modules.module.Module")


class ParamsToFields(cst.CSTTransformer):
    """Rewrite references to ``__init__`` parameters as ``self.<field>`` in ``setup``."""

    def __init__(self, fields: set[str]):
        self.fields = fields

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        if updated_node.value in self.fields:
            return cst.Attribute(value=cst.Name("self"), attr=updated_node)
        return updated_node

    # names in these positions are not references
    def leave_Attribute(self, original_node, updated_node):
        return updated_node.with_changes(attr=original_node.attr)

    def leave_Arg(self, original_node, updated_node):
        return updated_node.with_changes(keyword=original_node.keyword)

    def leave_Param(self, original_node, updated_node):
        return updated_node.with_changes(name=original_node.name)


class RenameSelfAttributes(cst.CSTTransformer):
    """``self.dropout`` -> ``self.dropout_`` where a layer attribute shares a constructor parameter's name.

    In PyTorch ``dropout`` (an argument) and ``self.dropout`` (a layer) live apart; in Flax
    both would be the same dataclass attribute. The port plan applies the same renaming
    (``translator.weights.plan.flax_attribute_name``).
    """

    def __init__(self, names: set[str]):
        self.names = names

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.Attribute:
        if m.matches(updated_node, m.Attribute(value=m.Name("self"))) and updated_node.attr.value in self.names:
            return updated_node.with_changes(attr=cst.Name(updated_node.attr.value + "_"))
        return updated_node


class SetupExpressions(cst.CSTTransformer):
    """Inside ``__init__`` expressions: build Flax layers from torch layer constructors."""

    def __init__(self, file: FileContext, info: FileInfo, cls: ClassInfo, hints: dict[str, str]):
        self.file, self.info, self.cls, self.hints = file, info, cls, hints
        #: emitted expression -> what it builds (LayerAttr, UserModuleRef, ContainerAttr)
        self.built: ByIdentity[cst.BaseExpression, object] = ByIdentity()
        #: local list variables in __init__ -> the kinds of module appended to them
        self.local_lists: dict[str, list] = {}
        #: methods called from __init__ that return a module -> what they return
        self.helper_kinds: dict[str, object] = {}
        #: parameter and buffer statements met inside compound statements, translated
        self.state_lines: ByIdentity[cst.SimpleStatementLine, cst.SimpleStatementLine] = ByIdentity()
        #: local names in __init__ -> the stateless layer (a function in Flax) assigned to them, once
        #: (``act = nn.ReLU()`` then ``nn.Sequential(conv1, act, conv2, act)``); None: assigned again, or not that
        self.local_functions: dict[str, LayerAttr | None] = {}

    def kind_of(self, expr: cst.BaseExpression):
        """What ``expr`` builds; for ``self.<name>`` (or ``self.<name>[0]``), a module an earlier line assigned
        (``nn.Sequential(self.conv1, self.relu1)``, locuslab's TCN: the container holds that same module, whose
        parameters exist once)."""
        built = self.built.get(expr)
        if built is None and m.matches(expr, SELF_ATTR):
            return self.attribute_kind(expr.attr.value)
        if built is None and isinstance(expr, cst.Name):
            return self.local_functions.get(expr.value)
        if built is None and m.matches(expr, m.Subscript(value=SELF_ATTR, slice=[m.SubscriptElement(m.Index(m.Integer() | m.SimpleString()))])):
            container = self.attribute_kind(expr.value.attr.value)  # self.net[0], self.heads["a"]
            index = expr.slice[0].slice.value
            key = int(index.value) if isinstance(index, cst.Integer) else index.evaluated_value
            if isinstance(container, ContainerAttr) and container.elements is not None:
                return container.elements.get(key)
        return built

    def attribute_kind(self, name: str):
        """The module every assignment so far gave ``self.<name>`` (None: none, several, or not a module)."""
        kinds = self.cls.assignments.get(name, [])
        if not kinds or any(k is None or k is NONE_VALUE for k in kinds):
            return None
        return kinds[0] if all(k is kinds[0] or k == kinds[0] for k in kinds) else None

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        """A parameter or buffer inside a branch or loop of ``__init__`` is translated as at top level."""
        state = translate_state(node, self.file, self.info, self.cls)
        if state is not None:
            self.state_lines[node] = state
            return False
        return True

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):
        return self.state_lines.pop(original_node, updated_node)

    def visit_Call(self, node: cst.Call) -> bool:
        """A layer whose rule names ``tensor_arguments`` (a loss's class ``weight``) is left whole for
        :meth:`leave_Call`, which translates those arguments as forward code (``torch.tensor([...])``
        is no layer, and would otherwise be reported here)."""
        return not self.tensor_arguments_of(node)

    def tensor_arguments_of(self, node: cst.Call) -> tuple[str, ...]:
        qualified = library_name(self.file.resolved, node.func)
        rule = rule_for_qualified_name(qualified) if qualified is not None else None
        return rule.tensor_arguments if rule is not None and rule.torch_classes else ()

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if m.matches(original_node.func, m.Attribute(attr=m.Name())) and original_node.func.attr.value in HOOKS:
            self.file.report(
                "X008",
                f"`.{original_node.func.attr.value}()`: a hook changes what a module computes from outside its code; "
                "not translated (move what it does into forward)",
                original_node,
            )
            return updated_node
        if m.matches(original_node.func, m.Attribute(value=SELF_ATTR, attr=m.Name("append") | m.Name("extend") | m.Name("insert"))):
            self.report_grown(original_node.func.value.attr.value, original_node)
            return updated_node
        if m.matches(original_node.func, m.Attribute(value=m.Name("self"), attr=m.Name())):
            helper = self.helper_kinds.get(original_node.func.attr.value)
            if helper is not None:
                self.built[updated_node] = helper
            return updated_node
        if m.matches(original_node.func, m.Name()) and original_node.func.value in self.info.factories:
            self.built[updated_node] = self.info.factories[original_node.func.value]
            return updated_node
        if m.matches(original_node.func, m.Name()) and original_node.func.value in self.info.classes:
            self.built[updated_node] = UserModuleRef(original_node.func.value)
            return updated_node
        if m.matches(updated_node.func, m.Attribute(value=m.Name(), attr=m.Name("append") | m.Name("extend"))):
            name = updated_node.func.value.value
            if name in self.local_lists and updated_node.args:
                value = updated_node.args[0].value
                if updated_node.func.attr.value == "append":
                    self.local_lists[name].append(self.kind_of(value))
                else:
                    self.local_lists[name].extend(self.list_kinds(value))
            return updated_node
        qualified = library_name(self.file.resolved, original_node.func)
        if qualified is None:
            return updated_node
        kind = container_kind(qualified)
        if kind is not None:
            return self.build_container(kind, original_node, updated_node)
        rule = rule_for_qualified_name(qualified)
        if rule is None or not rule.torch_classes:
            if is_torch_name(qualified):
                self.file.report(UNSUPPORTED, f"no rule translates `{qualified}`", original_node)
            return updated_node
        import pydoc

        signature = rule.constructor_signature or inspect.signature(pydoc.locate(qualified))
        try:
            provided = bind_arguments(updated_node, signature)
            original_provided = bind_arguments(original_node, signature)
        except UnbindableCall as error:
            self.file.report(rule.code, f"cannot read the arguments of `{code_of(original_node)}`: {error}", original_node)
            return updated_node
        for name, value in original_provided.items():
            if isinstance(value, cst.Name) and value.value in self.cls.fields:
                annotation = signature.parameters[name].annotation
                if annotation in PRIMITIVE_ANNOTATIONS:
                    self.hints.setdefault(value.value, PRIMITIVE_ANNOTATIONS[annotation])
        for name in rule.tensor_arguments:
            if name in provided:
                provided[name] = BodyTranslator(self.file, self.info, self.cls).plain(provided[name])
        context = RuleContext(rule, self.file, original_node, signature, provided, target=pydoc.locate(qualified))
        context.fields = frozenset(self.cls.fields)  # a layer inlined at its call reads them as `self.<field>`
        wrapped = getattr(rule, "wrapped_argument", None)
        if wrapped is not None:  # weight_norm(nn.Conv1d(...)): the layer's rule has built the inner layer
            inner = self.kind_of(provided[wrapped]) if wrapped in provided else None
            inner_node = original_provided.get(wrapped)
            inner_name = library_name(self.file.resolved, inner_node.func) if isinstance(inner_node, cst.Call) else None
            build = rule.wrap_layer(context, inner if isinstance(inner, LayerAttr) else None,
                                    pydoc.locate(inner_name) if inner_name and is_torch_name(inner_name) else None)
        else:
            build = rule.build_layer(context)
        if context.failed:
            return updated_node
        for note in build.notes:
            context.note(note)
        for name, source in build.support:
            context.support(name, source)
        expr = build.flax_expr if build.flax_expr is not None else cst.Name(INLINE_PLACEHOLDER)
        in_place = "inplace" in original_provided and not m.matches(original_provided["inplace"], m.Name("False"))
        aliases = in_place or build.inline is not None or rule.code in ALIASING_LAYERS
        self.built[expr] = LayerAttr(rule, build.call, build.inline, build.wrap_call, in_place, aliases, runner_key(build), build.flax_expr)
        return expr


    def report_grown(self, attr: str, node: cst.CSTNode) -> None:
        """A container attribute grown where :mod:`translator.rewrite.init_forms` could not move it into a local."""
        self.file.report(
            CONTAINER_CODE,
            f"`self.{attr}` is grown after it is assigned, here: Flax freezes a list assigned in setup; build the "
            "list in a local and assign it once (as `__init__` itself does: `layers = []; ...; self.layers = nn.ModuleList(layers)`)",
            node,
        )

    def leave_AugAssign(self, original_node: cst.AugAssign, updated_node: cst.AugAssign) -> cst.AugAssign:
        """``layers += [conv, nn.ReLU()]`` extends a tracked local list."""
        if m.matches(original_node, m.AugAssign(target=SELF_ATTR, operator=m.AddAssign())):
            self.report_grown(original_node.target.attr.value, original_node)
        if m.matches(updated_node, m.AugAssign(target=m.Name(), operator=m.AddAssign())) and updated_node.target.value in self.local_lists:
            self.local_lists[updated_node.target.value].extend(self.list_kinds(updated_node.value))
        return updated_node

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        """``layers = [...]``: start tracking what the local list holds (``append`` adds to it).
        ``self.b = self.a`` where ``self.a`` is a layer with no Flax object (an ``nn.Identity``, whose calls
        are written out where they happen): ``self.b`` is that layer too, and has no Flax object either."""
        if m.matches(updated_node, m.Assign(targets=[m.AssignTarget(m.Name())], value=m.List() | m.ListComp())):
            self.local_lists[updated_node.targets[0].target.value] = self.list_kinds(updated_node.value)
        elif m.matches(updated_node, m.Assign(targets=[m.AssignTarget(m.Name())])):
            name, kind = updated_node.targets[0].target.value, self.built.get(updated_node.value)
            function = isinstance(kind, LayerAttr) and kind.runner_key == "" and kind.built is not None
            self.local_functions[name] = kind if function and name not in self.local_functions else None
        if m.matches(original_node, m.Assign(targets=[m.AssignTarget(SELF_ATTR)], value=SELF_ATTR)):
            kind = self.kind_of(original_node.value)
            if isinstance(kind, LayerAttr) and kind.built is None:
                placeholder = cst.Name(INLINE_PLACEHOLDER)
                self.built[placeholder] = kind
                return updated_node.with_changes(value=placeholder)
        return updated_node

    def list_kinds(self, value: cst.BaseExpression) -> list:
        """The kinds of module in a list expression (literal, comprehension or tracked local list)."""
        if isinstance(value, (cst.List, cst.Tuple)):
            return [self.kind_of(e.value) for e in value.elements]
        if isinstance(value, cst.ListComp):
            return [self.kind_of(value.elt)]
        if isinstance(value, cst.Name) and value.value in self.local_lists:
            return list(self.local_lists[value.value])
        return [None]

    def build_container(self, kind: str, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        """A container in setup: a list (or dict) of the translated layers, with what each one is."""
        self.file.note(CONTAINER_CODE, f"nn.{ {'sequential': 'Sequential', 'list': 'ModuleList', 'dict': 'ModuleDict'}[kind]} -> a "
                       "plain list/dict in setup; Flax names its layers <attr>_<index> (or <attr>_<key>)")
        args = updated.args
        if kind == "dict" or (len(args) == 1 and m.matches(args[0].value, m.Call(func=m.Name("OrderedDict") | m.Attribute(attr=m.Name("OrderedDict"))))):
            source = args[0].value if args else cst.Dict([])
            if m.matches(source, m.Call(func=m.Name("dict"))) and all(a.keyword is not None for a in source.args):
                # dict(cls=layer, ...): keyword names are the keys
                source = cst.Dict([cst.DictElement(cst.SimpleString(repr(a.keyword.value)), a.value) for a in source.args])
            elif isinstance(source, cst.Call):  # OrderedDict([("name", layer), ...]) / dict([...])
                source = source.args[0].value if source.args else cst.List([])
            pairs = []
            if isinstance(source, cst.Dict):
                pairs = [(e.key, e.value) for e in source.elements if isinstance(e, cst.DictElement)]
            elif isinstance(source, (cst.List, cst.Tuple)):
                pairs = [
                    (e.value.elements[0].value, e.value.elements[1].value)
                    for e in source.elements
                    if isinstance(e.value, (cst.Tuple, cst.List)) and len(e.value.elements) == 2
                ]
            if not pairs or not all(isinstance(k, cst.SimpleString) for k, _ in pairs):
                self.file.report(CONTAINER_CODE, "a container with keys that are not string constants is not translated yet", original)
                return updated
            elements = {k.evaluated_value: self.kind_of(v) for k, v in pairs}
            expr = cst.Dict([cst.DictElement(k, self.placeholder_free(v, elements[k.evaluated_value])) for k, v in pairs])
            self.built[expr] = ContainerAttr(kind, elements)
            return expr
        if len(args) == 1 and args[0].star == "*" or (kind == "list" and len(args) == 1 and not isinstance(args[0].value, (cst.List, cst.Tuple))):
            value = args[0].value
            kinds = self.list_kinds(value)
            expr = cst.Call(func=cst.Name("list"), args=[cst.Arg(value)]) if args[0].star else value
            if isinstance(value, cst.ListComp):
                expr = value
            self.built[expr] = ContainerAttr(kind, None, tuple(kinds))
            return expr
        if any(a.star or a.keyword for a in args):
            self.file.report(CONTAINER_CODE, "container arguments of this form are not translated yet", original)
            return updated
        values = [a.value for a in args]
        if kind == "list" and len(values) == 1:
            values = [e.value for e in values[0].elements]
        elif kind == "list" and not values:
            values = []
        elements = {i: self.kind_of(v) for i, v in enumerate(values)}
        expr = cst.List([cst.Element(self.placeholder_free(v, elements[i])) for i, v in enumerate(values)])
        self.built[expr] = ContainerAttr(kind, elements, source=code_of(original))
        return expr

    @staticmethod
    def placeholder_free(value: cst.BaseExpression, kind=None) -> cst.BaseExpression:
        """Stateless layers with no Flax object sit in a container as ``None`` (their calls are inlined), those
        built here as those an earlier line assigned (``self.flatten``, whose assignment setup leaves out)."""
        if m.matches(value, m.Name(INLINE_PLACEHOLDER)):
            return cst.Name("None")
        if m.matches(value, SELF_ATTR) and isinstance(kind, LayerAttr) and kind.built is None:
            return cst.Name("None")
        return value


def constructor_fields(init: cst.FunctionDef | None, file: FileContext) -> list[cst.Param]:
    if init is None:
        return []
    params = init.params
    if isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None:  # a bare `*` is fine
        file.report(MODULE_CLASS, "`*args`/`**kwargs` in `__init__` cannot become dataclass fields; name them", init)
    return [*params.params[1:], *params.kwonly_params]


def field_statement(param: cst.Param, hint: str | None) -> cst.SimpleStatementLine:
    if param.annotation is not None:
        annotation = param.annotation.annotation
    else:
        annotation = cst.parse_expression(hint or default_annotation(param.default))
    statement = cst.AnnAssign(
        target=param.name,
        annotation=cst.Annotation(annotation),
        value=param.default,
    )
    return cst.SimpleStatementLine(body=[statement])


def default_annotation(default: cst.BaseExpression | None) -> str:
    if isinstance(default, cst.Integer):
        return "int"
    if isinstance(default, cst.Float):
        return "float"
    if m.matches(default, m.Name("True") | m.Name("False")):
        return "bool"
    if isinstance(default, (cst.SimpleString, cst.ConcatenatedString)):
        return "str"
    return "Any"


def translate_class(node: cst.ClassDef, file: FileContext, info: FileInfo) -> cst.ClassDef:
    """The Flax class for one user ``nn.Module`` subclass (``info.classes[node.name]``)."""
    cls = info.classes[node.name.value]
    methods = [s for s in node.body.body if isinstance(s, cst.FunctionDef)]
    init = next((f for f in methods if f.name.value == "__init__"), None)
    user_init = init
    params = constructor_fields(init, file)
    cls.fields = [p.name.value for p in params]
    collisions = colliding_attributes(init, cls.fields)
    cls.renamed = collisions
    if collisions:
        file.note(MODULE_CLASS, f"attribute(s) {', '.join(sorted(collisions))} renamed with a trailing `_`: "
                  "in Flax a constructor argument and an attribute are the same dataclass name")
    cls.initialisation_methods = initialisation_methods(methods, init, file)
    left_out = {f.name.value: f for f in methods if f.name.value in cls.initialisation_methods}
    methods = [f for f in methods if f.name.value not in cls.initialisation_methods]  # left out with their calls (S017)
    cls.methods = {f.name.value for f in methods} - {"__init__", "forward"}
    cls.module_fields = {p: kinds for p, kinds in info.module_arguments.get(cls.name, {}).items() if p in cls.fields and p not in collisions}

    hints: dict[str, str] = {}
    helpers = setup_helpers(init, methods)
    translated_helpers = {}
    setup = None
    if init is not None:
        init, origins = normalise_init(init, lambda func: container_kind(library_name(file.resolved, func)) is not None)
        builder = SetupExpressions(file, info, cls, hints)
        for method in methods:
            if method.name.value in helpers:
                translated_helpers[method.name.value] = translate_setup_helper(method, builder, file, cls)
        setup = translate_init(init, file, info, cls, hints, builder, origins, left_out)

    body: list[cst.BaseStatement] = []
    for statement in node.body.body:
        if isinstance(statement, cst.FunctionDef):
            continue
        body.append(statement)  # docstring and class attributes stay as they are
    body.extend(file.mark(field_statement(p, hints.get(p.name.value)), p) for p in params)
    if setup is not None and not m.matches(setup.body, m.IndentedBlock(body=[m.SimpleStatementLine(body=[m.Pass()], leading_lines=[])])):
        body.append(file.mark(setup, user_init))  # (a constructor that only stores its arguments needs no setup: they are the fields)
    # callees first, so a call `self.helper(x)` knows whether the helper takes `train`
    translated_methods = {
        method.name.value: translate_method(method, file, info, cls)
        for method in callees_first(methods)
        if method.name.value != "__init__" and method.name.value not in translated_helpers
    }
    for method in methods:
        if method.name.value == "__init__":
            continue
        if method.name.value in translated_helpers:
            body.append(translated_helpers[method.name.value])
            continue
        translated = translated_methods[method.name.value]
        body.extend(translated if isinstance(translated, list) else [translated])
    body.extend(method for method, _ in cls.generated.values())
    if not any(f.name.value == "forward" for f in methods):  # hyper-connections: the holder calls its methods
        file.note(FORWARD, f"`{cls.name}` has no `forward`: no `__call__` either; the modules that hold it call its "
                           "methods (`self.hc.width_connection(x)`), which Flax allows on a bound submodule")

    bases = [b.with_changes(value=cst.parse_expression("nn.Module")) for b in node.bases]
    file.note(MODULE_CLASS, "nn.Module -> flax.linen.Module: constructor arguments are dataclass fields, layers are built in setup()")
    if cls.module_fields:
        file.note(MODULE_ARGUMENT, f"`{'`, `'.join(sorted(cls.module_fields))}`: a module passed to the constructor -> a field "
                  "holding the Flax module the caller built (adopted under the field's name)")
    notes = [cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in file.take_notes()]
    if cls.renamed:  # setup already renamed before its field references were written as self.<field>
        rename = RenameSelfAttributes(cls.renamed)
        body = [b if m.matches(b, m.FunctionDef(name=m.Name("setup"))) else b.visit(rename) for b in body]
    return file.mark(node.with_changes(
        bases=bases,
        body=node.body.with_changes(body=body),
        leading_lines=[*node.leading_lines, *notes],
    ), node)


def callees_first(methods: list[cst.FunctionDef]) -> list[cst.FunctionDef]:
    """The methods ordered so each comes after the methods it calls (``forward`` last; cycles broken)."""
    by_name = {method.name.value: method for method in methods}
    ordered: list[cst.FunctionDef] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        # calls `self.helper(x)` and references `map(self.helper, xs)` alike
        for reference in m.findall(by_name[name], m.Attribute(value=m.Name("self"), attr=m.Name())):
            if reference.attr.value in by_name:
                visit(reference.attr.value)
        ordered.append(by_name[name])

    for name in sorted(by_name, key=lambda n: n == "forward"):
        visit(name)
    return ordered


def setup_helpers(init: cst.FunctionDef | None, methods: list[cst.FunctionDef]) -> set[str]:
    """Methods ``__init__`` calls (``self._make_layer(...)``): they are constructor code too."""
    if init is None:
        return set()
    names = {m_.name.value for m_ in methods} - {"__init__", "forward"}
    called = {
        call.func.attr.value
        for call in m.findall(init, m.Call(func=m.Attribute(value=m.Name("self"), attr=m.Name())))
    }
    return names & called


def translate_setup_helper(method: cst.FunctionDef, builder: SetupExpressions, file: FileContext, cls: ClassInfo) -> cst.FunctionDef:
    """A method called from ``__init__``, translated as constructor code; what it returns is recorded."""
    translated = method.visit(builder)
    kinds = [builder.kind_of(r.value) for r in m.findall(translated, m.Return()) if r.value is not None]
    if kinds and all(k is kinds[0] for k in kinds) and kinds[0] is not None:
        builder.helper_kinds[method.name.value] = kinds[0]
    note = "a method called from __init__ is constructor code: it runs inside setup() and builds layers"
    file.note(MODULE_CLASS, note)
    notes = [cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in file.take_notes()]
    return file.mark(translated.with_changes(leading_lines=[*translated.leading_lines, *notes]), method)


def translate_init(
    init: cst.FunctionDef,
    file: FileContext,
    info: FileInfo,
    cls: ClassInfo,
    hints: dict[str, str],
    builder: SetupExpressions | None = None,
    origins: dict[cst.CSTNode, cst.CSTNode] | None = None,
    initialisation_bodies: dict[str, cst.FunctionDef] | None = None,
) -> cst.FunctionDef:
    """``__init__`` -> ``setup``: layers by their rules, parameters read as fields.

    ``origins`` maps statements :func:`normalise_init` wrote to the user's statements (for diagnostics);
    ``initialisation_bodies`` the methods left out as initialisation (rule S017), which its calls report.
    """
    origins = origins or {}
    reassigned = {
        target.value
        for target in m.findall(init.body, m.AssignTarget(target=m.Name()) | m.For(target=m.Name()))
        for target in [getattr(target, "target", None)]
        if isinstance(target, cst.Name)
    } & set(cls.fields)
    renamer = ParamsToFields(set(cls.fields) - reassigned)
    builder = builder or SetupExpressions(file, info, cls, hints)
    statements: list[cst.BaseStatement] = []
    for name in sorted(reassigned):
        statements.append(cst.parse_statement(f"{name} = self.{name}"))
    carried: list[str] = []  # comments of a statement that emits no line (weight tying), for the next one
    identity_lines: list[cst.SimpleStatementLine] = []  # `self.x = None` for a top-level nn.Identity()
    tensor_code: BodyTranslator | None = None
    for statement in init.body.body:
        file.take_notes()
        file.origin = origins.get(statement)
        identity_line = False
        before = len(file.diagnostics)
        if m.matches(statement, m.SimpleStatementLine(body=[m.Expr(value=SUPER_INIT)])):
            continue
        if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(SELF_ATTR)], value=m.Name())])):
            assign = statement.body[0]
            if assign.targets[0].target.attr.value == assign.value.value and assign.value.value in cls.fields:
                continue  # `self.dim = dim`: the field already holds it
        if is_initialisation(statement, file, cls.initialisation_methods):
            written = written_weights(statement, file, initialisation_bodies or {})
            report_initialisation(statement, file, [name for name in written if is_weight_normed(builder.attribute_kind(name))])
            carried += [f"# TODO(torch2flax): {d.code} {d.message}" for d in file.diagnostics[before:]]
            file.take_notes()
            continue
        if function_attribute(statement, init, file, cls):
            file.take_notes()
            continue  # `self.act = F.gelu`: its calls are the function's calls
        if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(TIED_WEIGHT)], value=TIED_WEIGHT)])):
            tie_weights(statement, file, cls)
            carried += [f"# {n}" for n in file.take_notes()]
            carried += [f"# TODO(torch2flax): {d.code} {d.message}" for d in file.diagnostics[before:]]
            continue
        if computes_tensor_local(statement, file, info):
            # `scale = torch.zeros(1, 1, dim).fill_(eps)`: tensor code in the constructor, translated as forward code is
            tensor_code = tensor_code or BodyTranslator(file, info, cls)
            translated = statement.with_changes(body=[b for small in statement.body for b in tensor_code.small_statement(small)])
            translated = translated.visit(RenameSelfAttributes(cls.renamed)).visit(renamer)
            comments = [f"# {n}" for n in file.take_notes()] + [f"# TODO(torch2flax): {d.code} {d.message}" for d in file.diagnostics[before:]]
            translated = translated.with_changes(leading_lines=[*translated.leading_lines, *(cst.EmptyLine(comment=cst.Comment(c)) for c in comments)])
            statements.append(file.mark(translated, file.origin or statement))
            continue
        translated = translate_state(statement, file, info, cls)
        if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(SELF_ATTR)], value=m.Call())])):
            cls.tied_candidates[statement.body[0].targets[0].target.attr.value] = statement.body[0].value
        if translated is None:
            translated = statement.visit(builder)
            record_attributes(statement, translated, builder, info, cls, file)
        if m.findall(translated, m.Name(INLINE_PLACEHOLDER)):
            if m.matches(translated, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(SELF_ATTR)], value=m.Name(INLINE_PLACEHOLDER))])):
                if is_identity(builder.kind_of(translated.body[0].value)):
                    # kept only if another branch makes the attribute a module (rule S015), dropped below otherwise
                    translated = translated.visit(IdentityToNone(builder))
                    identity_line = True
                else:
                    file.take_notes()
                    continue  # a stateless layer: its calls are written out where they happen
            else:
                translated = translated.visit(IdentityToNone(builder))
                if m.findall(translated, m.Name(INLINE_PLACEHOLDER)):
                    file.report(UNSUPPORTED, "this layer has no Flax object and can only be called directly", statement)
        translated = translated.visit(RenameSelfAttributes(cls.renamed)).visit(renamer)
        comments, carried = [*carried, *(f"# {n}" for n in file.take_notes())], []
        comments += [f"# TODO(torch2flax): {d.code} {d.message}" for d in file.diagnostics[before:]]
        if comments:
            translated = translated.with_changes(
                leading_lines=[*translated.leading_lines, *(cst.EmptyLine(comment=cst.Comment(c)) for c in comments)]
            )
        translated = file.mark(translated, file.origin or statement)
        statements.append(translated)
        if identity_line:
            identity_lines.append(translated)
    file.origin = None
    settle_attributes(cls, file, init)
    if identity_lines:
        dropped = {id(line) for line in identity_lines if line.body[0].targets[0].target.attr.value not in cls.identity_optional}
        statements = [st for st in statements if id(st) not in dropped]
    if cls.tied:  # the tied Linear has no Flax layer: the embedding's `attend` replaces its calls
        statements = [st for st in statements if not assigns_attribute(st, set(cls.tied))]
    if not statements:
        statements = [cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=[cst.EmptyLine(comment=cst.Comment(c)) for c in carried])]
        carried = []
    return init.with_changes(
        name=cst.Name("setup"),
        params=cst.Parameters(params=[cst.Param(cst.Name("self"))]),
        body=init.body.with_changes(body=statements, footer=[cst.EmptyLine(indent=True, comment=cst.Comment(c)) for c in carried]),
    )


def function_attribute(statement: cst.BaseStatement, init: cst.FunctionDef, file: FileContext, cls: ClassInfo) -> bool:
    """``self.activation = F.gelu`` (assigned once): record it, so ``self.activation(x)`` is translated as ``F.gelu(x)``."""
    if not m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(SELF_ATTR)], value=m.Name() | m.Attribute())])):
        return False
    assign = statement.body[0]
    qualified = library_name(file.resolved, assign.value)
    rule = rule_for_qualified_name(qualified) if qualified is not None else None
    if rule is None or rule.call_signature is None:
        return False
    import pydoc

    if isinstance(pydoc.locate(qualified), type):
        return False  # a layer class as a value: reported where it is used
    name = assign.targets[0].target.attr.value
    target = m.AssignTarget(m.Attribute(value=m.Name("self"), attr=m.Name(name)))
    if len(m.findall(init, m.Assign(targets=[m.ZeroOrMore(), target, m.ZeroOrMore()]))) != 1:
        return False
    cls.function_attributes[name] = assign.value
    return True


def computes_tensor_local(statement: cst.BaseStatement, file: FileContext, info: FileInfo) -> bool:
    """A constructor line that binds locals to tensor computations (``torch.arange``, ``torch.zeros(..).fill_``)
    and builds no layer, container or user module."""
    if not m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(m.Name() | m.Tuple())])])):
        return False
    tensor_call = False
    for call in m.findall(statement, m.Call()):
        qualified = library_name(file.resolved, call.func)
        if qualified is not None:
            if container_kind(qualified) is not None:
                return False
            rule = rule_for_qualified_name(qualified)
            if rule is not None and rule.torch_classes and qualified not in {f for f in rule.torch_functions}:
                import pydoc

                if isinstance(pydoc.locate(qualified), type):
                    return False  # a layer
            if is_torch_name(qualified) and rule is not None and rule.call_signature is not None:
                tensor_call = True
        elif m.matches(call.func, m.Name()) and (call.func.value in info.classes or call.func.value in info.factories):
            return False
    return tensor_call


TIED_WEIGHT = m.Attribute(value=SELF_ATTR, attr=m.Name("weight"))
WEIGHT_TYING = "S013"


def tie_weights(statement: cst.SimpleStatementLine, file: FileContext, cls: ClassInfo) -> None:
    """``self.head.weight = self.embed.weight`` (either direction): the head becomes ``embed.attend``."""
    assign = statement.body[0]
    left, right = assign.targets[0].target.value.attr.value, assign.value.value.attr.value
    kinds = {name: (cls.assignments.get(name) or [None])[-1] for name in (left, right)}
    codes = {name: kind.rule.code if isinstance(kind, LayerAttr) else None for name, kind in kinds.items()}
    embedding = next((n for n in (left, right) if codes[n] == "L031"), None)
    head = next((n for n in (left, right) if codes[n] == "L001"), None)
    if embedding is None or head is None or embedding == head:
        file.report(WEIGHT_TYING, "weight tying is translated between an nn.Embedding and an nn.Linear head only", statement)
        return
    if not tied_head_has_no_bias(cls, head):
        file.report(WEIGHT_TYING, f"the tied head `self.{head}` has a bias: build it with bias=False and add the bias as an nn.Parameter", statement)
        return
    cls.tied[head] = embedding
    file.note(WEIGHT_TYING, f"weight tying: `self.{head}(x)` becomes `self.{embedding}.attend(x)` (x @ table.T): one table, no separate head")


def tied_head_has_no_bias(cls: ClassInfo, head: str) -> bool:
    call = cls.tied_candidates.get(head)
    return call is not None and any(
        arg.keyword is not None and arg.keyword.value == "bias" and m.matches(arg.value, m.Name("False")) for arg in call.args
    )


def assigns_attribute(statement: cst.BaseStatement, names: set[str]) -> bool:
    return m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(SELF_ATTR)])])) and (
        statement.body[0].targets[0].target.attr.value in names
    )


def translate_state(statement, file: FileContext, info: FileInfo, cls: ClassInfo):
    """``self.w = nn.Parameter(...)`` and ``self.register_buffer(...)``, or None for other statements."""
    if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(SELF_ATTR)], value=m.Call())])):
        assign = statement.body[0]
        if is_parameter_call(file, assign.value):
            new = parameter_statement(assign.targets[0].target.attr.value, assign.value, file, info, cls)
            return statement.with_changes(body=[new])
        if is_parameter_collection_call(file, assign.value):
            new = parameter_collection_statement(assign.targets[0].target.attr.value, assign.value, file, info, cls)
            return statement.with_changes(body=[new])
    if m.matches(statement, m.SimpleStatementLine(body=[m.Expr(value=m.Call(func=m.Attribute(value=m.Name("self"), attr=m.Name("register_buffer"))))])):
        new = buffer_statement(statement.body[0].value, file, info, cls)
        return statement if new is None else statement.with_changes(body=[new])
    return None


NONE_VALUE = object()  # `self.x = None`: an optional submodule that is absent
IDENTITY_RULE = "L032"


def is_identity(kind) -> bool:
    return isinstance(kind, LayerAttr) and kind.rule.code == IDENTITY_RULE


WEIGHT_NORM_RULE = "L060"


def is_weight_normed(kind) -> bool:
    """A layer built by ``weight_norm(...)``, whose ``weight`` PyTorch computes before each call."""
    return isinstance(kind, LayerAttr) and kind.rule.code == WEIGHT_NORM_RULE


class IdentityToNone(cst.CSTTransformer):
    """``self.x = <nn.Identity()>`` -> ``self.x = None`` (rule S015)."""

    def __init__(self, builder: SetupExpressions):
        self.builder = builder

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        if m.matches(updated_node, m.Assign(targets=[m.AssignTarget(SELF_ATTR)], value=m.Name(INLINE_PLACEHOLDER))) and is_identity(
            self.builder.kind_of(original_node.value)
        ):
            return updated_node.with_changes(value=cst.Name("None"))
        return updated_node


def record_attributes(original, translated, builder: SetupExpressions, info: FileInfo, cls: ClassInfo, file: FileContext) -> None:
    """Remember what each ``self.<name> = ...`` (and each local list) in ``__init__`` holds, in any branch."""
    for assign in m.findall(translated, m.Assign(targets=[m.AssignTarget(m.Name())])):
        value = assign.value
        if isinstance(value, (cst.List, cst.ListComp)):
            builder.local_lists[assign.targets[0].target.value] = builder.list_kinds(value)
    for assign in m.findall(translated, m.Assign(targets=[m.AssignTarget(SELF_ATTR)])):
        name = assign.targets[0].target.attr.value
        kind = NONE_VALUE if m.matches(assign.value, m.Name("None")) else builder.kind_of(assign.value)
        cls.assignments.setdefault(name, []).append(kind)


def settle_attributes(cls: ClassInfo, file: FileContext, node: cst.CSTNode) -> None:
    """Decide what each attribute holds from all its assignments (branches of __init__ included)."""
    for name, kinds in cls.assignments.items():
        present = [k for k in kinds if k is not NONE_VALUE]
        modules = [k for k in present if not is_identity(k)]
        if modules and len(modules) < len(present):
            cls.identity_optional.add(name)  # rule S015: None in setup stands for the identity
            present = modules
        unique = []
        for kind in present:
            if all(kind is not u and kind != u for u in unique):
                unique.append(kind)
        if not unique:
            continue
        if len(unique) == 1 or all(isinstance(k, UserModuleRef) and k == unique[0] for k in unique):
            kind = unique[0]
        elif all(isinstance(k, ContainerAttr) and k.kind == "sequential" and k.elements is not None for k in unique) and len(
            {len(k.elements) for k in unique}
        ) == len(unique):
            kind = ContainerAttr("sequential", None, (), variants=tuple(unique))
        elif all(isinstance(k, LayerAttr) and k.rule is unique[0].rule and k.call == unique[0].call for k in unique):
            kind = unique[0]
        else:
            cls.opaque.add(name)
            continue
        if isinstance(kind, LayerAttr):
            cls.layers[name] = kind
        elif isinstance(kind, UserModuleRef):
            cls.submodules[name] = kind.class_name
        elif isinstance(kind, ContainerAttr):
            cls.containers[name] = kind
        else:
            cls.opaque.add(name)


def translate_method(
    method: cst.FunctionDef, file: FileContext, info: FileInfo, cls: ClassInfo
) -> cst.FunctionDef | list[cst.FunctionDef]:
    """``forward`` -> ``__call__`` (with a ``train`` flag where needed); other methods keep their names.

    A conv-friendly ``forward`` (see :mod:`translator.rewrite.layout_plan`) becomes two methods: ``__call__``
    in PyTorch's layout and the channels-last method it calls, which the file's other classes call directly."""
    is_forward = method.name.value == "forward"
    params = tuple(p.name.value for p in [*method.params.params, *method.params.kwonly_params] if p.name.value != "self")
    submodule = info.submodule_classes is None or cls.name in info.submodule_classes
    decorators = read_decorators(method, file)
    names = planned_inputs(method.with_changes(decorators=decorators.kept)) if is_forward and submodule else None
    start = Snapshot.take(file, info, cls) if names is not None else None
    translator, translated_params, body = translate_body(method, file, info, cls, params, is_forward)
    ranks = input_ranks(method, names, translator.param_ranks) if start is not None else None
    rank_out, tuple_out = None, False
    if ranks is not None:
        # the same body with those inputs channels-last and its returns left so: kept when it moves less
        tried = Snapshot.take(file, info, cls)
        reported = file.diagnostics[len(start.file["diagnostics"]):]
        start.restore(file, info, cls)
        trial = translate_body(method, file, info, cls, params, is_forward, dict(zip(names, ranks)))
        rank_out, tuple_out = output_layout(trial[0].return_facts) or (None, False)
        if rank_out is not None and transposes(trial[2]) < transposes(body) and file.diagnostics[len(start.file["diagnostics"]):] == reported:
            translator, translated_params, body = trial
        else:
            tried.restore(file, info, cls)
            rank_out = None
    if decorators.stops_gradient:
        body = stop_returned_gradients(body)
    if is_forward:
        cls.returns_alias, cls.forward_params, cls.forward_mutates = translator.returns_alias, params, translator.mutated_params
    params = translated_params
    cls.method_train[method.name.value] = translator.uses_train
    if (is_forward and cls.needs_train) or translator.uses_train:
        if not any(p.name.value == "train" for p in params.params):
            params = params.with_changes(
                params=[
                    *params.params,
                    cst.Param(
                        cst.Name("train"),
                        annotation=cst.Annotation(cst.Name("bool")),
                        default=cst.Name("False"),
                    ),
                ]
            )
    leading = [*method.leading_lines, *decorators.comments]
    if is_forward:
        file.note(FORWARD, "forward -> __call__" + (
            "; `train` selects dropout/batch-norm behaviour (PyTorch's model.train()/eval())" if cls.needs_train else ""
        ))
    if rank_out is not None:
        name = method_name(cls)
        cls.channels_last_inputs, cls.channels_last_output, cls.channels_last_method = ranks, rank_out, name
        cls.channels_last_tuple = tuple_out
        if len(ranks) == 1 and not tuple_out:
            cls.channels_last = (ranks[0], rank_out)
        file.note(LAYOUT_CODE, f"the boundary keeps PyTorch's layout around `{name}`, which this file's modules call directly")
        leading += [cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in file.take_notes()]
        outer = boundary(names, ranks, rank_out, params, name, cls.needs_train, tuple_out).with_changes(leading_lines=leading)
        file.note(LAYOUT_CODE, "forward, channels-last in and out: no transpose at either end")
        inner = method.with_changes(
            name=cst.Name(name),
            decorators=decorators.kept,
            params=params,
            body=method.body.with_changes(body=body),
            leading_lines=[*(cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in file.take_notes())],
        )
        return [file.mark(outer, method), file.mark(inner, method)]
    if is_forward:
        leading += [cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in file.take_notes()]
    return file.mark(method.with_changes(
        name=cst.Name("__call__") if is_forward else method.name,
        decorators=decorators.kept,
        params=params,
        body=method.body.with_changes(body=body),
        leading_lines=leading,
    ), method)


def translate_body(
    method: cst.FunctionDef, file: FileContext, info: FileInfo, cls: ClassInfo, params: tuple[str, ...], is_forward: bool,
    channels_last_ranks: dict[str, int | None] | None = None,
) -> tuple[BodyTranslator, cst.Parameters, list[cst.BaseStatement]]:
    """A method's body, its inputs in PyTorch's layout, or (``channels_last_ranks``) those given a rank
    channels-last at that rank and its channels-last returns left so (rule S004)."""
    translator = BodyTranslator(file, info, cls, params=params, caller_checks_params=is_forward)
    translated_params = translator.parameters(method.params)
    translator.env.pop("self", None)
    if channels_last_ranks is not None:
        for name, rank in channels_last_ranks.items():
            if rank is not None:
                translator.env[name] = channels_last(rank)
        translator.returns_channels_last = True
    return translator, translated_params, translator.block(method.body.body)
