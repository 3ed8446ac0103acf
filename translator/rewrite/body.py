"""Translate the body of ``forward`` (and helper methods/functions) statement by statement.

This is an abstract interpretation over the user's code: every expression is
rewritten and given a :class:`Fact` (plain PyTorch layout, or channels-last
with a known rank).  Rules decide which layout they need; this module inserts
the transposes, threads the ``train`` flag, and turns anything it does not
understand into a diagnostic and a TODO at that line.

Control flow keeps facts consistent: at the end of each branch of an ``if`` and
of each loop body, values whose layout differs from the other path are brought
back to a common layout, so a variable never means two layouts at once.
"""

from __future__ import annotations

import inspect
import pydoc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from translator.diagnostics import Severity
from translator.rewrite.aliasing import (
    VIEW_FUNCTIONS,
    VIEW_METHODS,
    StorageTracker,
    mutated_operand,
    name_reads,
)
from translator.rewrite.containers import (
    CONTAINER_CODE,
    InlineChain,
    accepts,
    channels_last_interface,
    fold_chain,
    plain_compatible,
    sequential_body,
    sequential_method_name,
    runner_name,
    runner_source,
    sequential_target,
)
from translator.rewrite.context import (
    FileContext,
    RuleContext,
    UnbindableCall,
    bind_arguments,
    code_of,
    parenthesize,
    parse_expr,
    transpose,
)
from translator.rewrite.model import ClassInfo, ContainerAttr, FileInfo, LayerAttr, UserModuleRef
from translator.rewrite.names import is_torch_name, library_name
from translator.rules.base import (
    PLAIN,
    SCALAR,
    Emitted,
    Fact,
    Rule,
    channels_last,
    to_channels_first_perm,
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

UNSUPPORTED = "X001"  # a construct with no rule
UNKNOWN_CALL = "X002"  # a call into a library the translator does not know
MODULE_STATE = "X003"  # mutation of module state inside forward
LAYOUT = "S004"  # the layout rule (translator.rules.structure.layout)
IN_PLACE = "S011"  # in-place updates rewritten to new bindings (translator.rules.structure.in_place)
SHARED_MUTATION = "X006"  # an in-place update other names would see
NO_GRAD = "S012"  # torch.no_grad() blocks
OPTIONAL_LAYER = "S015"  # a layer or nn.Identity() depending on a branch of __init__
OPTIONAL_INPUT = "__optional_layer_input__"
ELEMENT_SEQUENTIAL = "__sequential_element__"  # stands for a Sequential chosen at run time while its method is written
SEQUENTIAL_INPUT = "__sequential_input__"  # stands for the input while a branch-built Sequential's branches are written

#: builtins that turn a tensor into a Python value (a concrete value jit does not have)
CONCRETE_BUILTINS = frozenset({"builtins.int", "builtins.float", "builtins.bool"})
#: tensor methods that only read shapes (Python ints under jit)
SHAPE_METHODS = frozenset({"size", "dim", "numel", "ndimension", "nelement"})
#: module hooks: they change what a module computes from outside its code
HOOKS = frozenset({
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook", "register_backward_hook",
    "register_full_backward_pre_hook", "register_hook", "register_module_forward_hook",
})
#: context managers whose body is translated: no_grad/inference_mode stop gradients, enable_grad is a no-op
GRAD_CONTEXTS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.enable_grad"})
#: contexts that choose how PyTorch computes, not what: the body is kept as is
KERNEL_CONTEXTS = frozenset({"torch.nn.attention.sdpa_kernel", "torch.backends.cuda.sdp_kernel"})
#: an integer constant this large in tensor arithmetic may overflow int32 (rule T053)
INT64_ARITHMETIC = "T053"
INT64_WARNING_AT = 2**16

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


def unknown_method_message(func: cst.Attribute, params) -> str:
    """What to say of ``receiver.method(...)`` no rule translates: a tensor method, or, on an argument
    of the method, perhaps an object (a key/value cache) whose branch the built model can take."""
    method = func.attr.value
    if isinstance(func.value, cst.Name) and func.value.value in params:
        return (f"no rule translates `{func.value.value}.{method}()`: as a tensor method it has no rule; if "
                f"`{func.value.value}` is an object (a cache, a config), translate the built model instead "
                "(`check`, or `translate --class NAME`), which traces this method with the argument's value")
    return f"no rule translates the tensor method `.{method}()`"


@dataclass
class BodyTranslator:
    """Translates one function body; ``cls`` is None for module-level helper functions."""

    file: FileContext
    info: FileInfo
    cls: ClassInfo | None
    env: dict[str, Fact] = field(default_factory=dict)
    #: loop variables bound to container elements: name -> the kinds of element it may be
    elements: dict[str, tuple] = field(default_factory=dict)
    #: whether the translated body refers to `train` (the method then takes it)
    uses_train: bool = False
    #: attribute -> container to use instead of the class's (one variant of a branch-built Sequential)
    overrides: dict[str, ContainerAttr] = field(default_factory=dict)
    #: which memory each local may share, for proving in-place updates invisible
    storage_tracker: StorageTracker = field(default_factory=StorageTracker)
    #: the function's parameters (an in-place write into one is the caller's business)
    params: tuple[str, ...] = ()
    #: parameters this function writes into in place (checked at each call site)
    mutated_params: set[str] = field(default_factory=set)
    #: whether the result may share memory with an argument or module state
    returns_alias: bool = False
    #: forward and generated Sequential methods: every call site checks writes into arguments
    caller_checks_params: bool = False
    #: the names the statement being translated assigns (they see the new value in the translation too)
    rebound: set[str] = field(default_factory=set)
    #: in-place writes inside each enclosing loop body, re-checked once the body has been seen whole
    loop_writes: list[list] = field(default_factory=list)
    flagged_writes: set[int] = field(default_factory=set)
    #: locals holding a Python list (``outs = []``): ``outs.append(x)`` is plain Python
    lists: set[str] = field(default_factory=set)
    #: locals holding a boolean mask (``mask = x > 0``)
    masks: set[str] = field(default_factory=set)
    #: names known to hold a dtype (``dtype=torch.float32`` parameters, ``dt = x.dtype``): ``.to(dt)`` is a cast
    dtypes: set[str] = field(default_factory=set)
    #: a hook the training-script translator installs: it may translate a call, subscript or attribute itself
    #: (``model(x)`` into an ``apply``, ``.item()`` on the host) by returning an :class:`Emitted`, or decline with None
    intercept: Callable[[BodyTranslator, cst.Call | cst.Subscript | cst.Attribute], Emitted | None] | None = None
    #: in a training script (no module, no ``make_rng``): the key expression for the next random draw
    random_key: Callable[[], str] | None = None
    #: the layout planned across modules (rule S004): the ranks at which each parameter was moved
    #: channels-last, and the layout of each returned value, as this body was translated
    param_ranks: dict[str, set] = field(default_factory=dict)
    return_facts: list[Fact] = field(default_factory=list)
    #: returns keep a channels-last value as it is (the channels-last method of a class planned to run
    #: channels-last); otherwise they are in PyTorch's layout
    returns_channels_last: bool = False
    #: placeholder names -> the expression each stands for while a call is written around it
    stands_for: dict[str, cst.BaseExpression] = field(default_factory=dict)

    def parameters(self, params: cst.Parameters) -> cst.Parameters:
        """Bind the parameters as plain values and translate their defaults (``dtype=torch.float32``)."""
        def translated(param: cst.Param) -> cst.Param:
            self.env[param.name.value] = PLAIN
            if param.default is None:
                return param
            if self.is_dtype(param.default):
                self.dtypes.add(param.name.value)
            return param.with_changes(default=self.plain(param.default))

        return params.with_changes(
            params=[translated(p) for p in params.params],
            kwonly_params=[translated(p) for p in params.kwonly_params],
            posonly_params=[translated(p) for p in params.posonly_params],
        )

    def is_dtype(self, node: cst.BaseExpression) -> bool:
        """``torch.float16``, ``x.dtype``, or a name known to hold a dtype."""
        if m.matches(node, m.Attribute(attr=m.Name("dtype"))):
            return True
        if isinstance(node, cst.Name) and node.value in self.dtypes:
            return True
        qualified = library_name(self.file.resolved, node) if isinstance(node, (cst.Name, cst.Attribute)) else None
        return qualified is not None and isinstance(pydoc.locate(qualified), torch_dtype_class())

    # ------------------------------------------------------------------ layout conversion
    def as_plain(self, value: Emitted) -> cst.BaseExpression:
        if value.fact.channels_last:
            self.file.note(LAYOUT, "NHWC -> NCHW: back to PyTorch's layout before an axis-sensitive op")
            rank = value.fact.rank
            return transpose(value.expr, "to_first" if rank is None else to_channels_first_perm(rank))
        return value.expr

    def as_channels_last(self, value: Emitted, rank: int | None) -> cst.BaseExpression:
        """``rank=None``: the layer accepts any rank (channel axis 1 moved last)."""
        if value.fact.channels_last and (value.fact.rank == rank or rank is None):
            return value.expr
        converted = value.expr
        while isinstance(converted, cst.Name) and converted.value in self.stands_for:
            converted = self.stands_for[converted.value]
        if isinstance(converted, cst.Name) and converted.value in self.params:
            self.param_ranks.setdefault(converted.value, set()).add(rank)
        expr = self.as_plain(value)
        self.file.note(LAYOUT, "NCHW -> NHWC: Flax convolutions, pools and norms are channels-last")
        return transpose(expr, "to_last" if rank is None else to_channels_last_perm(rank))

    def unsupported(self, code: str, message: str, node: cst.CSTNode) -> None:
        self.file.report(code, message, node)

    # ------------------------------------------------------------------ expressions
    def expr(self, node: cst.BaseExpression) -> Emitted:
        if isinstance(node, cst.Name):
            return Emitted(node, self.env.get(node.value, PLAIN))
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
            return Emitted(node, SCALAR)
        if isinstance(node, cst.FormattedString):  # the values it formats are code like any other
            parts = [part.with_changes(expression=self.plain(part.expression)) if isinstance(part, cst.FormattedStringExpression)
                     else part for part in node.parts]
            return Emitted(node.with_changes(parts=parts), PLAIN)
        if isinstance(node, cst.ConcatenatedString):
            return Emitted(node.with_changes(left=self.expr(node.left).expr, right=self.expr(node.right).expr), PLAIN)
        if isinstance(node, (cst.SimpleString, cst.Ellipsis)):
            return Emitted(node, PLAIN)
        if isinstance(node, cst.Attribute):
            if self.intercept is not None and (intercepted := self.intercept(self, node)) is not None:
                return intercepted
            return self.attribute(node)
        if isinstance(node, cst.Call):
            return self.call(node)
        if isinstance(node, cst.BinaryOperation):
            return self.binary(node)
        if isinstance(node, cst.UnaryOperation):
            operand = self.expr(node.expression)
            return Emitted(node.with_changes(expression=parenthesize(operand.expr)), operand.fact)
        if isinstance(node, cst.BooleanOperation):
            return Emitted(node.with_changes(left=parenthesize(self.plain(node.left)), right=parenthesize(self.plain(node.right))))
        if isinstance(node, cst.Comparison):
            targets = [c.with_changes(comparator=parenthesize(self.plain(c.comparator))) for c in node.comparisons]
            return Emitted(node.with_changes(left=parenthesize(self.plain(node.left)), comparisons=targets))
        if isinstance(node, (cst.Tuple, cst.List)):
            elements = [self.element(e) for e in node.elements]
            return Emitted(node.with_changes(elements=elements))
        if isinstance(node, cst.Dict):  # `return {"logits": x, "features": h}`: Flax returns pytrees as they are
            elements = [e.with_changes(key=self.plain(e.key), value=self.plain(e.value)) if isinstance(e, cst.DictElement)
                        else e.with_changes(value=self.plain(e.value)) for e in node.elements]
            return Emitted(node.with_changes(elements=elements))
        if isinstance(node, cst.Subscript):
            if self.intercept is not None and (intercepted := self.intercept(self, node)) is not None:
                return intercepted
            return self.subscript(node)
        if isinstance(node, cst.IfExp):
            return Emitted(
                node.with_changes(
                    test=parenthesize(self.plain(node.test)),
                    body=parenthesize(self.plain(node.body)),
                    orelse=parenthesize(self.plain(node.orelse)),
                )
            )
        if isinstance(node, cst.Lambda):
            return self.lambda_expression(node)
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self.comprehension(node)
        self.unsupported(UNSUPPORTED, f"expression form {type(node).__name__} is not translated yet", node)
        return Emitted(node)

    def lambda_expression(self, node: cst.Lambda) -> Emitted:
        """``lambda t: rearrange(t, ...)``: the body translated with its parameters as plain tensors."""
        params = node.params
        if params.star_arg not in (None, cst.MaybeSentinel.DEFAULT) or params.star_kwarg is not None or params.kwonly_params:
            self.unsupported(UNSUPPORTED, "a lambda with *args/**kwargs is not translated yet", node)
            return Emitted(node)
        names = [p.name.value for p in params.params]
        saved = {name: self.env.get(name) for name in names}
        for name in names:
            self.env[name] = PLAIN
        body = self.plain(node.body)
        for name, fact in saved.items():
            if fact is None:
                self.env.pop(name, None)
            else:
                self.env[name] = fact
        return Emitted(node.with_changes(body=body))

    def comprehension(self, node: cst.ListComp | cst.GeneratorExp | cst.SetComp) -> Emitted:
        """``[f(t) for t in xs if c]``: Python code run at trace time; its variables are plain values,
        or the elements of a module container (``[block(x) for block in self.blocks]``)."""
        saved_env, saved_elements = dict(self.env), dict(self.elements)
        try:
            for_in = self.comprehension_for(node.for_in)
            elt = self.plain(node.elt)
        finally:
            self.env, self.elements = saved_env, saved_elements
        return Emitted(node.with_changes(elt=elt, for_in=for_in))

    def comprehension_for(self, for_in: cst.CompFor) -> cst.CompFor:
        if for_in.asynchronous is not None:
            self.unsupported(UNSUPPORTED, "an async comprehension is not translated", for_in)
        if self.iterates_container(for_in.iter):
            iterable = for_in.iter
            self.bind_loop_elements(for_in)
        else:
            iterable = self.plain(for_in.iter)
        for name in m.findall(for_in.target, m.Name()):
            if name.value not in self.elements:
                self.env[name.value] = PLAIN
        ifs = [if_.with_changes(test=self.plain(if_.test)) for if_ in for_in.ifs]
        inner = for_in.inner_for_in and self.comprehension_for(for_in.inner_for_in)
        return for_in.with_changes(iter=iterable, ifs=ifs, inner_for_in=inner)

    def plain(self, node: cst.BaseExpression) -> cst.BaseExpression:
        return self.as_plain(self.expr(node))

    def element(self, element: cst.BaseElement) -> cst.BaseElement:
        return element.with_changes(value=self.plain(element.value))

    def attribute(self, node: cst.Attribute) -> Emitted:
        if m.matches(node, m.Attribute(value=m.Name("self"), attr=m.Name("training"))):
            return self.train_flag(node)
        if m.matches(node.value, m.Name("self")):
            if self.cls is not None and node.attr.value in self.cls.identity_optional:
                self.unsupported(
                    OPTIONAL_LAYER,
                    f"`self.{node.attr.value}` is nn.Identity() in some configurations, None in Flax: read as a value "
                    "(a None test, passed on) it would not behave as in PyTorch; only call it",
                    node,
                )
            return Emitted(node)
        if isinstance(node.value, cst.Name) and (node.value.value in self.info.classes or node.value.value in self.info.functions):
            return Emitted(node)  # a class attribute of a model in this file (`Block.expansion`)
        qualified = library_name(self.file.resolved, node)
        if qualified is not None:
            if is_torch_name(qualified):
                rule = rule_for_qualified_name(qualified)
                if rule is not None and rule.call_signature is None and not rule.torch_classes:
                    return rule.emit_call(RuleContext(rule, self.file, node, None, {}))  # a constant
                if rule is not None and rule.torch_classes:
                    self.unsupported(
                        UNSUPPORTED,
                        f"the layer class `{qualified}` used as a value (isinstance, type checks): the Flax "
                        "object has another class; test the attribute's role instead",
                        node,
                    )
                    return Emitted(node)
                self.unsupported(UNSUPPORTED, f"no rule translates `{qualified}`", node)
            return Emitted(node)
        value = self.expr(node.value)
        attr = node.attr.value
        if attr == "device":  # a traced array has no device; every device argument is dropped (rule T011)
            self.file.note("T011", "`x.device` -> None: JAX places arrays itself, and device arguments are dropped")
            return Emitted(cst.Name("None"))
        if attr in ("dtype", "ndim", "is_cuda", "requires_grad"):
            return Emitted(node.with_changes(value=parenthesize(value.expr)), SCALAR if attr == "ndim" else PLAIN)
        if attr == "shape":
            return Emitted(node.with_changes(value=parenthesize(self.as_plain(value))))
        if attr in ("max", "min") and m.matches(value.expr, m.Call(func=m.Attribute(value=m.Name("jnp"), attr=m.Name("finfo") | m.Name("iinfo")))):
            # `torch.finfo(x.dtype).max` (rule T036): a Python number, weakly typed as PyTorch's is
            number = "float" if value.expr.func.attr.value == "finfo" else "int"
            return Emitted(parse_expr(f"{number}({{x}}.{attr})", x=value.expr), SCALAR)
        rule = rule_for_method(attr)
        if rule is not None:
            return self.rule_call(rule, node, cst.Call(func=node, args=[]), receiver=node.value, as_property=True)
        self.unsupported(UNSUPPORTED, f"no rule translates the tensor attribute `.{attr}`", node)
        return Emitted(node.with_changes(value=value.expr))

    def train_flag(self, node: cst.CSTNode) -> Emitted:
        if self.cls is None:
            self.unsupported(UNSUPPORTED, "`self.training` outside a module", node)
            return Emitted(node)
        self.cls.needs_train = self.uses_train = True
        self.file.note("S003", "`self.training` becomes the `train` argument: Flax modules hold no mode state")
        return Emitted(cst.Name("train"))

    def binary(self, node: cst.BinaryOperation) -> Emitted:
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.operator, cst.MatrixMultiply):
            return Emitted(node.with_changes(left=parenthesize(self.as_plain(left)), right=parenthesize(self.as_plain(right))))
        lf, rf = left.fact, right.fact
        if lf.channels_last or rf.channels_last:
            same = lf.channels_last and rf.channels_last and lf.rank == rf.rank
            with_scalar = (lf.channels_last and rf.scalar) or (rf.channels_last and lf.scalar)
            if same or with_scalar:
                fact = lf if lf.channels_last else rf
                return Emitted(node.with_changes(left=parenthesize(left.expr), right=parenthesize(right.expr)), fact)
        fact = SCALAR if lf.scalar and rf.scalar else PLAIN
        if fact is PLAIN:
            self.warn_if_past_int32(node)
        return Emitted(
            node.with_changes(left=parenthesize(self.as_plain(left)), right=parenthesize(self.as_plain(right))), fact
        )

    def warn_if_past_int32(self, node: cst.BinaryOperation) -> None:
        """A tensor times (plus, shifted by, raised to) an integer constant of 2**16 or more: in PyTorch an
        int64 tensor holds the result, in JAX (x64 off) int32 wraps it (rule T053)."""
        if not isinstance(node.operator, (cst.Multiply, cst.Add, cst.Subtract, cst.LeftShift, cst.Power)):
            return
        for side in (node.left, node.right):
            if isinstance(side, cst.Integer) and abs(int(side.evaluated_value)) >= INT64_WARNING_AT:
                self.file.report(
                    INT64_ARITHMETIC,
                    f"`{code_of(node).strip()}`: if this tensor holds integers, PyTorch computes in int64 while JAX "
                    "computes in int32 (x64 is off), so results past 2**31 wrap (a hashed bucket differs); enable "
                    "`jax.config.update('jax_enable_x64', True)` or keep the values below 2**31",
                    node, Severity.WARNING,
                )
                return

    def subscript(self, node: cst.Subscript) -> Emitted:
        if m.matches(node.value, m.Attribute(attr=m.Name("shape"))):
            shape_of = node.value.value
            value = self.expr(shape_of)
            index = node.slice[0].slice if len(node.slice) == 1 else None
            if value.fact.channels_last and value.fact.rank is not None and isinstance(index, cst.Index) and isinstance(index.value, cst.Integer):
                from translator.rules.base import torch_dim_to_channels_last_axis

                axis = torch_dim_to_channels_last_axis(int(index.value.value), value.fact.rank)
                return Emitted(parse_expr(f"{{x}}.shape[{axis}]", x=value.expr), SCALAR)
            translated = self.as_plain(value)
            return Emitted(node.with_changes(value=node.value.with_changes(value=parenthesize(translated))), SCALAR)
        if any(self.is_mask(e.slice.value) for e in node.slice if isinstance(e.slice, cst.Index)):
            self.unsupported(
                UNSUPPORTED,
                "boolean-mask indexing has a data-dependent shape, which jit cannot compile: use "
                "`jnp.where(mask, x, fill)` or a reduction over the masked values",
                node,
            )
            return Emitted(node)
        value = self.expr(node.value)
        slices = []
        for element in node.slice:
            inner = element.slice
            if isinstance(inner, cst.Index):
                inner = inner.with_changes(value=self.plain(inner.value))
            elif isinstance(inner, cst.Slice):
                inner = inner.with_changes(
                    lower=inner.lower and self.plain(inner.lower),
                    upper=inner.upper and self.plain(inner.upper),
                    step=inner.step and self.plain(inner.step),
                )
            slices.append(element.with_changes(slice=inner))
        return Emitted(node.with_changes(value=parenthesize(self.as_plain(value)), slice=slices))

    # ------------------------------------------------------------------ calls
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
                # `len(x)` is a Python int even for a tensor: `int(n)` of it later reads no array value
                return Emitted(node.with_changes(args=self.plain_args(node)), SCALAR if qualified == "builtins.len" else PLAIN)
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

    # ------------------------------------------------------------------ submodules and containers
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
            if kinds and all(k is kinds[0] for k in kinds) and isinstance(kinds[0], ContainerAttr) and kinds[0].kind == "sequential" and kinds[0].elements is not None:
                return self.sequential_call(node, kinds[0], (), element=node.func)
            interface = channels_last_interface(kinds, self.info) if kinds else None
            if interface is not None and self.one_input(node):
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
        translator = BodyTranslator(
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

    def channels_last_cat(self, node: cst.Call, rule: Rule) -> Emitted | None:
        """``torch.cat([a, b], dim=1)`` of channels-last tensors: joined channels-last along the axis where PyTorch's
        ``dim`` lives (rule T017 with S004), so a U-Net's skip connection costs no transpose. Only a literal list and
        a literal ``dim``; the operands take the layout most of them have (a tie: PyTorch's)."""
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
        result = rule.emit_call(context)
        if context.failed:
            return Emitted(node)
        return result

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
        if spec.produces == "channels_last":
            fact = Fact(channels_last=True, rank=spec.rank if spec.rank is not None else first.fact.rank)
        elif spec.produces == "same":
            fact = first.fact
        else:
            fact = PLAIN
        if layer.wrap_call is not None:
            signature = inspect.Signature([inspect.Parameter("input", inspect.Parameter.POSITIONAL_ONLY)])
            context = RuleContext(layer.rule, self.file, node, signature, {"input": converted}, {"input": fact}, body=self)
            wrapped = layer.wrap_call(context, call)
            return Emitted(node) if context.failed else wrapped
        return Emitted(call, fact)

    def submodule_call(self, node: cst.Call, target: ClassInfo) -> Emitted:
        self.check_callee_writes(node, target.forward_params, target.forward_mutates, self.rebound)
        interface = channels_last_interface([UserModuleRef(target.name)], self.info)
        if interface is not None and self.one_input(node):
            return self.channels_last_call(node, node.func, interface)
        args = self.plain_args(node)
        if target.needs_train:
            self.cls.needs_train = self.uses_train = True
            args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
        return Emitted(node.with_changes(args=args))

    @staticmethod
    def one_input(node: cst.Call) -> bool:
        return len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star

    def channels_last_call(self, node: cst.Call, module: cst.BaseExpression, interface: tuple) -> Emitted:
        """A class of the file planned to run channels-last (rule S004): its channels-last method takes the
        value as it is when it is channels-last already, and its result stays channels-last."""
        rank_in, rank_out, method, takes_train = interface
        value = self.as_channels_last(self.expr(node.args[0].value), rank_in)
        args = [node.args[0].with_changes(value=value)]
        if takes_train:
            self.cls.needs_train = self.uses_train = True
            args.append(cst.Arg(value=cst.Name("train"), keyword=cst.Name("train")))
        self.file.note(LAYOUT, "a module that runs channels-last is called through its channels-last method: no transpose in between")
        call = node.with_changes(func=cst.Attribute(value=module, attr=cst.Name(method)), args=args)
        return Emitted(call, channels_last(rank_out))

    # ------------------------------------------------------------------ shared memory and in-place updates
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

        Writes into an argument of this function are recorded in ``mutated_params``
        and judged at each call site, where it is known whether the caller reads
        that argument again.
        """
        reads = name_reads(statement)
        for call in m.findall(statement, m.Call()):
            mutated = mutated_operand(call, lambda f: library_name(self.file.resolved, f), self.layer_alias_kind)
            if mutated is None:
                continue
            roots = self.storage(mutated)
            self.check_write(roots, rebound, reads, call)
            self.file.note(IN_PLACE, "an in-place op becomes its functional form: JAX arrays are immutable")

    def check_write(self, roots: frozenset, rebound: set[str], reads, node: cst.CSTNode) -> None:
        own_params = {f"shared:{p}" for p in self.params}
        if self.caller_checks_params:
            for root in roots & own_params:
                self.mutated_params.add(root.split(":", 1)[1])
            roots = roots - own_params
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
        reads = name_reads(node)
        for index, arg in enumerate(node.args):
            name = arg.keyword.value if arg.keyword is not None else (params[index] if index < len(params) else None)
            if name in mutated:
                self.check_write(self.storage(arg.value), rebound, reads, node)

    # ------------------------------------------------------------------ statements
    def block(self, statements) -> list[cst.BaseStatement]:
        if self.storage_tracker.function_reads is None:
            self.storage_tracker.function_reads = sum((name_reads(s) for s in statements), start=Counter())
        out: list[cst.BaseStatement] = []
        for statement in statements:
            out.extend(self.statement(statement))
        if statements and not out:  # every statement translated to nothing (identity layers)
            out = [cst.SimpleStatementLine(body=[cst.Pass()])]
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
            translated = [self.if_statement(node)]
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
        if not statements:
            return statements
        first = statements[0]
        lines = [cst.EmptyLine(comment=cst.Comment(c)) for c in comments]
        if lines:
            first = first.with_changes(leading_lines=[*first.leading_lines, *lines])
        return [self.file.mark(first, original), *statements[1:]]

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
            self.check_in_place(node, names)
            roots = self.storage(node.value)
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
            if any(not isinstance(t.target, cst.Name) for t in node.targets):
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
                self.check_write(self.storage(node.target), {name}, name_reads(node), node)
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
            value = self.expr(node.value)
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
        if isinstance(node, (cst.Pass, cst.Break, cst.Continue)):
            return [node]
        if isinstance(node, cst.Assert):
            return [node.with_changes(test=self.plain(node.test))]
        if isinstance(node, cst.Raise):
            return [node]
        self.unsupported(UNSUPPORTED, f"`{type(node).__name__}` is not translated yet", node)
        return [node]

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
        self.check_write(self.storage(target.value), {name}, name_reads(node), node)
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
        self.check_write(self.storage(target.value), {name}, name_reads(node), node)
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

    def bind_target(self, target: cst.BaseAssignTargetExpression, value: Emitted, roots: frozenset | None = None) -> cst.BaseAssignTargetExpression:
        if isinstance(target, cst.Name):
            self.env[target.value] = value.fact
            if roots is not None:
                self.storage_tracker.bind(target.value, roots)
            return target
        if isinstance(target, (cst.Tuple, cst.List)):
            bound = set().union(*self.storage_tracker.roots.values()) if self.storage_tracker.roots else set()
            fresh = roots is not None and len(roots) == 1 and not (roots & bound) and not any(r.startswith("shared:") for r in roots)
            for element in target.elements:
                # the parts of a freshly created tuple (`a, b = self.lstm(x)`) are distinct tensors
                self.bind_target(element.value, Emitted(value.expr), self.storage_tracker.new_root() if fresh else roots)
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
            tracker.roots[name] = tracker.roots.get(name, frozenset()) | roots
        merged: dict[str, Fact] = {}
        body_fix, else_fix = [], []
        for name in set(after_body) | set(after_else):
            a, b = after_body.get(name, PLAIN), after_else.get(name, PLAIN)
            if a == b:
                merged[name] = a
                continue
            merged[name] = PLAIN
            if a.channels_last:
                body_fix.append(self.rebind_plain(name, a))
            if b.channels_last:
                else_fix.append(self.rebind_plain(name, b))
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
        if len(contexts) == 1 and contexts[0] in KERNEL_CONTEXTS and node.items[0].asname is None:
            self.file.note(NO_GRAD, f"`{contexts[0]}` only picks PyTorch's attention kernel: the body is kept, XLA picks its own")
            return self.block(node.body.body)
        if len(contexts) != 1 or contexts[0] not in GRAD_CONTEXTS or node.items[0].asname is not None:
            self.unsupported(UNSUPPORTED, f"`with {code_of(node.items[0].item)}` is not translated", node)
            return [node]
        body = self.block(node.body.body)
        if contexts[0] == "torch.enable_grad":
            return body
        self.file.note(NO_GRAD, "torch.no_grad(): no gradient flows through values computed here -> jax.lax.stop_gradient")
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
        element = self.module_element(iterable)
        return element is not None and isinstance(element[0], ContainerAttr)

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
        container = self.module_element(iterable)[0]
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

    def rebind_plain(self, name: str, fact: Fact) -> cst.SimpleStatementLine:
        value = transpose(cst.Name(name), to_channels_first_perm(fact.rank))
        return cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=value)])

    def loop(self, node: cst.For | cst.While) -> list[cst.BaseStatement]:
        """Loops start and end every iteration with plain layouts, so each pass sees the same facts."""
        before = [self.rebind_plain(name, fact) for name, fact in sorted(self.env.items()) if fact.channels_last]
        self.env = {name: (PLAIN if fact.channels_last else fact) for name, fact in self.env.items()}
        if isinstance(node, cst.For):
            self.bind_loop_elements(node)
            header = {"iter": node.iter if self.iterates_container(node.iter) else self.plain(node.iter)}
            self.bind_target(node.target, Emitted(node.target))
        else:
            header = {"test": self.plain(node.test)}
        tracker = self.storage_tracker
        roots_entry = dict(tracker.roots)
        self.loop_writes.append([])
        body = self.block(node.body.body)
        writes = self.loop_writes.pop()
        if not self.loop_writes:
            self.storage_tracker.consume(node)
        for name, roots in roots_entry.items():  # the body may run zero or many times
            tracker.roots[name] = tracker.roots.get(name, frozenset()) | roots
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
        fixes = [self.rebind_plain(name, fact) for name, fact in sorted(self.env.items()) if fact.channels_last]
        self.env = {name: (PLAIN if fact.channels_last else fact) for name, fact in self.env.items()}
        if node.orelse is not None:
            self.unsupported(UNSUPPORTED, "`else` on a loop is not translated yet", node)
        return [*before, node.with_changes(body=node.body.with_changes(body=[*body, *fixes]), **header)]


#: the concatenations that may join channels-last tensors (``stack`` adds an axis: it stays in PyTorch's layout)
CHANNELS_LAST_CAT = frozenset({"torch.cat", "torch.concat", "torch.concatenate"})


def integer_literal(node: cst.BaseExpression) -> int | None:
    """``1`` / ``-1`` as an int, else None."""
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
        return -int(node.expression.value)
    return None


def torch_dtype_class() -> type:
    import torch

    return torch.dtype


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


@dataclass(frozen=True)
class AnyElement:
    """An element of a container that may be any of ``kinds`` (index or loop only known at run time)."""

    kinds: tuple


def container_kinds(container: ContainerAttr) -> tuple:
    if container.elements is not None:
        return tuple(container.elements.values())
    return tuple(container.kinds)


def train_param() -> cst.Param:
    return cst.Param(cst.Name("train"), annotation=cst.Annotation(cst.Name("bool")), default=cst.Name("False"))
