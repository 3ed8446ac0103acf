"""Expressions: each is rewritten and given a :class:`~translator.rules.base.Fact` (PyTorch's layout,
channels-last with a known rank, or a Python scalar), and values are moved between layouts where an
operation needs the other one.

Contract: ``expr(node)`` returns an :class:`~translator.rules.base.Emitted` and raises for nothing it cannot
translate: it reports a diagnostic (``unsupported``) and returns the node as written. ``plain``/``as_plain``
give the value in PyTorch's layout and ``as_channels_last`` in channels-last, noting rule S004 where a
transpose is written and recording in ``param_ranks`` the ranks at which a parameter was moved. Calls go to
:mod:`.calls`; the training-script translator's ``intercept`` sees attributes and subscripts first.
"""

from __future__ import annotations

import pydoc
from dataclasses import replace

import libcst as cst
import libcst.matchers as m

from translator.diagnostics import Severity
from translator.naming import is_torch_name, library_name
from translator.rewrite.body.common import LAYOUT, OPTIONAL_LAYER, UNSUPPORTED, integer_literal
from translator.rewrite.context import RuleContext, code_of, parenthesize, parse_expr, transpose
from translator.rules.base import (
    PLAIN,
    SCALAR,
    Emitted,
    channels_last,
    plain_of_rank,
    to_channels_first_perm,
    to_channels_last_perm,
    torch_dim_to_channels_last_axis,
)
from translator.rules.registry import rule_for_method, rule_for_qualified_name
from translator.rules.tensor_ops.broadcast import TorchExpandRepeat, operand_without_expand_as

#: an integer constant this large in tensor arithmetic may overflow int32 (rule T053)
INT64_ARITHMETIC = "T053"
INT64_WARNING_AT = 2**16


class ExpressionTranslation:
    """Expressions of a function body, and the layout conversions between them (a part of ``BodyTranslator``)."""

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

    def as_plain(self, value: Emitted) -> cst.BaseExpression:
        if value.fact.channels_last:
            self.file.note(LAYOUT, "NHWC -> NCHW: back to PyTorch's layout before an axis-sensitive op")
            rank = value.fact.rank
            if value.fact.tuple_of:  # each item back (only reached if the tuple is used other than unpacked)
                item = transpose(cst.Name("item"), "to_first" if rank is None else to_channels_first_perm(rank))
                return parse_expr("tuple({item} for item in {t})", item=item, t=value.expr)
            return transpose(value.expr, "to_first" if rank is None else to_channels_first_perm(rank))
        return value.expr

    def as_channels_last(self, value: Emitted, rank: int | None) -> cst.BaseExpression:
        """``rank=None``: the layer accepts any rank (channel axis 1 moved last). A channels-last value of
        unknown rank (a GroupNorm's output) is the rank-``rank`` layout already: moving axis 1 last is
        ``to_channels_last_perm(rank)`` at every rank, and the layer needs that rank anyway."""
        if value.fact.channels_last and (value.fact.rank == rank or rank is None or value.fact.rank is None):
            if value.fact.rank is None and rank is not None and value.fact.rank_of is not None:
                self.param_ranks.setdefault(value.fact.rank_of, set()).add(rank)
            return value.expr
        param = self.param_of(value.expr)
        if param is not None:
            self.param_ranks.setdefault(param, set()).add(rank)
        expr = self.as_plain(value)
        self.file.note(LAYOUT, "NCHW -> NHWC: Flax convolutions, pools and norms are channels-last")
        return transpose(expr, "to_last" if rank is None else to_channels_last_perm(rank))

    def param_of(self, expr: cst.BaseExpression) -> str | None:
        """The ``forward`` parameter ``expr`` names (through the names standing for others), or None."""
        while isinstance(expr, cst.Name) and expr.value in self.stands_for:
            expr = self.stands_for[expr.value]
        return expr.value if isinstance(expr, cst.Name) and expr.value in self.params else None

    def unsupported(self, code: str, message: str, node: cst.CSTNode) -> None:
        self.file.report(code, message, node)

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
        if not isinstance(node.operator, cst.MatrixMultiply):
            node = node.with_changes(left=self.broadcast_operand(node.left, node.right),
                                     right=self.broadcast_operand(node.right, node.left))
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.operator, cst.MatrixMultiply):
            return Emitted(node.with_changes(left=parenthesize(self.as_plain(left)), right=parenthesize(self.as_plain(right))))
        left, right = self.met_channels_last(left, right), self.met_channels_last(right, left)
        lf, rf = left.fact, right.fact
        if lf.channels_last or rf.channels_last:
            same = lf.channels_last and rf.channels_last and lf.rank == rf.rank
            with_scalar = (lf.channels_last and rf.scalar) or (rf.channels_last and lf.scalar)
            if same or with_scalar:
                fact = lf if lf.channels_last else rf
                if same and lf.rank_of != rf.rank_of:  # two values of unknown ranks: whose the sum has is not known
                    fact = replace(fact, rank_of=None)
                return Emitted(node.with_changes(left=parenthesize(left.expr), right=parenthesize(right.expr)), fact)
        fact = SCALAR if lf.scalar and rf.scalar else PLAIN
        if fact is PLAIN:
            self.warn_if_past_int32(node)
        return Emitted(
            node.with_changes(left=parenthesize(self.as_plain(left)), right=parenthesize(self.as_plain(right))), fact
        )

    def broadcast_operand(self, operand: cst.BaseExpression, other: cst.BaseExpression) -> cst.BaseExpression:
        """``operand`` with a redundant ``.expand_as(other)`` left to the op's broadcasting (rule T016)."""
        operand, note = operand_without_expand_as(operand, other)
        if note is not None:
            self.file.note(TorchExpandRepeat.code, note)
        return operand

    def met_channels_last(self, value: Emitted, other: Emitted) -> Emitted:
        """``value`` moved channels-last when it is a plain operand of the rank of a channels-last ``other``
        and has axes of size 1 (``h + emb[:, :, None, None]`` with ``emb`` of rank 2, an SE block's
        ``x * y.view(b, c, 1, 1)``): broadcasting two operands of one rank pairs the same axes in either layout,
        and the small operand is the one to move. ``value`` as it is otherwise.

        A subscript whose rank is unknown but at least the map's (``emb[:, :, None, None]`` of a ``forward``
        argument's projection) is read as that rank: the idiom broadcasts a per-channel vector over the map,
        and an operand of higher rank would raise the map's rank, which no layer after it expects."""
        rank = other.fact.rank
        spelled = value.fact.ndim == rank or (value.fact.ndim is None and value.fact.least_ndim == rank)
        if value.fact.channels_last or not value.fact.broadcasts or not other.fact.channels_last or rank is None or not spelled:
            return value  # (a plain operand of the map's size: moving the map costs no more, and its result may go on plain)
        if value.fact.ndim is None:
            self.file.note(LAYOUT, f"a subscript adding size-1 axes up to the channels-last map's rank ({rank}) is read as "
                                   "having that rank (`emb[:, :, None, None]` of a rank-2 `emb`: a per-channel vector "
                                   "over the map); `check` compares the result")
        self.file.note(LAYOUT, "a PyTorch-layout operand of the channels-last value's rank is moved channels-last "
                               "(broadcasting pairs the same axes): the large value keeps its layout")
        permuted = permuted_subscript(value.expr, to_channels_last_perm(rank))
        return Emitted(permuted if permuted is not None else self.as_channels_last(value, rank), channels_last(rank))

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
        size_call = m.Call(func=m.Attribute(attr=m.Name("size")), args=[])
        if m.matches(node.value, m.Attribute(attr=m.Name("shape")) | size_call):
            # `x.shape[i]` / `x.size()[i]`: of a channels-last tensor, read where PyTorch's dim i lives
            shape_of = node.value.value if isinstance(node.value, cst.Attribute) else node.value.func.value
            value = self.expr(shape_of)
            index = node.slice[0].slice if len(node.slice) == 1 else None
            dim = integer_literal(index.value) if isinstance(index, cst.Index) else None
            rank = value.fact.rank
            if value.fact.channels_last and rank is not None and dim is not None and -rank <= dim < rank:
                axis = torch_dim_to_channels_last_axis(dim % rank, rank)
                return Emitted(parse_expr(f"{{x}}.shape[{axis}]", x=value.expr), SCALAR)
            if isinstance(node.value, cst.Attribute):
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
        if value.fact.tuple_of and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index) and (
                integer_literal(node.slice[0].slice.value) is not None):
            # `self.down(x)[0]` of a tuple of channels-last maps (rule S004): the item, in the items' layout
            return Emitted(node.with_changes(value=parenthesize(value.expr)), replace(value.fact, tuple_of=False))
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
        base = value.fact.rank if value.fact.channels_last else value.fact.ndim
        added = any(m.matches(e.slice, m.Index(value=m.Name("None"))) for e in node.slice)
        return Emitted(node.with_changes(value=parenthesize(self.as_plain(value)), slice=slices),
                       plain_of_rank(indexed_rank(base, node.slice), broadcasts=added, least_ndim=least_indexed_rank(node.slice)))


def indexed_rank(base: int | None, elements) -> int | None:
    """The rank of ``x[elements]`` for ``x`` of rank ``base``, where only slices, ``None``, ``...`` and integer
    literals index it (no tensor, no name that may hold one); None when unknown."""
    if base is None:
        return None
    indexed = added = 0
    for element in elements:
        inner = element.slice
        if isinstance(inner, cst.Slice):
            indexed += 1
        elif m.matches(inner.value, m.Name("None")):
            added += 1
        elif integer_literal(inner.value) is not None:
            indexed, added = indexed + 1, added - 1
        elif not isinstance(inner.value, cst.Ellipsis):
            return None
    return base + added if indexed <= base else None


def least_indexed_rank(elements) -> int | None:
    """The least rank ``x[elements]`` can have, whatever ``x``'s: each slice keeps the axis it reads, each
    integer drops one, each ``None`` adds one, and axes not indexed are kept, so ``v[:, :, None, None]`` has
    rank 4 or more. None with ``...`` or an index that is not a slice, ``None`` or an integer literal."""
    least = 0
    for element in elements:
        inner = element.slice
        if isinstance(inner, cst.Slice) or m.matches(inner.value, m.Name("None")):
            least += 1
        elif integer_literal(inner.value) is None:
            return None
    return least


def permuted_subscript(expr: cst.BaseExpression, perm: tuple[int, ...]) -> cst.Subscript | None:
    """``e[:, :, None, None]`` transposed by ``perm``, written as the subscript itself (``e[:, None, None, :]``):
    when each index makes one output axis (slices and ``None`` only, one per axis) and ``perm`` keeps the
    slices in their order (each still reads its own axis of ``e``). None otherwise."""
    if not isinstance(expr, cst.Subscript) or len(expr.slice) != len(perm):
        return None
    elements = list(expr.slice)
    if not all(isinstance(e.slice, cst.Slice) or m.matches(e.slice, m.Index(value=m.Name("None"))) for e in elements):
        return None
    permuted = [elements[axis] for axis in perm]
    if [id(e) for e in permuted if isinstance(e.slice, cst.Slice)] != [id(e) for e in elements if isinstance(e.slice, cst.Slice)]:
        return None
    commas = [e.comma for e in elements]
    return expr.with_changes(slice=[e.with_changes(comma=c) for e, c in zip(permuted, commas)])


def torch_dtype_class() -> type:
    import torch

    return torch.dtype
