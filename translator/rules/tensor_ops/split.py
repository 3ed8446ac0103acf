"""T018 TorchSplit: ``split``/``chunk`` (PyTorch's piece sizes), ``unbind``, ``narrow`` -> ``jnp.split``/``unstack``/slices."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import (
    Emitted,
    Example,
    Fact,
    Rule,
    RuleCase,
    RuleDoc,
    signature_of,
    torch_dim_to_channels_last_axis,
)
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    bind,
    code,
    emit,
    forward_returning,
    op_name,
    shapes,
    unsupported,
)


def _split(input, size=None, dim=0, length=None, *, split_size_or_sections=None, chunks=None, start=None): ...


#: the axis (in PyTorch's layout) along which a layer's first argument is its output's width: a Linear's
#: features are its last axis, a convolution's channels axis 1
WIDTH_AXIS = {-1: "L001", 1: "L002"}


def even_pieces(ctx, op: str, size: cst.BaseExpression, dim) -> int | None:
    """How many equal pieces ``chunk(n, -1)`` / ``split(s, -1)`` cut, when the translation can prove it.

    The input must be a Linear's output (``self.qkv(x)``) split along its last axis, or a convolution's
    along its channels (``dim`` 1, in PyTorch's layout), whose width is written ``k * e`` (or ``e * k``, or
    a number): ``chunk(n)`` is even when n divides k, ``split(e)`` cuts k pieces.  Anything else keeps PyTorch's general sizes (the last piece may be smaller, and
    ``chunk`` may return fewer pieces than asked).
    """
    body, value = getattr(ctx, "body", None), ctx.provided.get("input")
    if dim not in (-1, 1) or body is None or getattr(body, "cls", None) is None:
        return None
    if not m.matches(value, m.Call(func=m.Attribute(value=m.Name("self"), attr=m.Name()))):
        return None
    layer = body.cls.layers.get(value.func.attr.value)
    built = getattr(layer, "built", None)
    if layer is None or layer.rule.code != WIDTH_AXIS.get(dim) or not m.matches(built, m.Call(args=[m.Arg(keyword=None), m.ZeroOrMore()])):
        return None
    width = built.args[0].value
    if isinstance(width, cst.Integer):
        factor, rest = int(width.value), None
    elif m.matches(width, m.BinaryOperation(operator=m.Multiply())) and isinstance(width.left, cst.Integer):
        factor, rest = int(width.left.value), width.right
    elif m.matches(width, m.BinaryOperation(operator=m.Multiply())) and isinstance(width.right, cst.Integer):
        factor, rest = int(width.right.value), width.left
    else:
        return None
    if isinstance(rest, cst.Integer):  # `3 * 2`: a number too
        factor, rest = factor * int(rest.value), None
    count = int(size.value) if isinstance(size, cst.Integer) else None
    if op == "chunk":
        return count if count and factor % count == 0 else None
    if rest is not None:
        return factor if code_of(size) == code_of(rest) else None
    return factor // count if count and factor % count == 0 else None


@register
class TorchSplit(Rule):
    code = "T018"
    name = "TorchSplit"
    summary = "split(size) / split([sizes]) / chunk(n) / unbind / narrow -> jnp.split at PyTorch's boundaries"
    torch_functions = ("torch.split", "torch.chunk", "torch.unbind", "torch.narrow", "torch.tensor_split")
    tensor_methods = ("split", "chunk", "unbind", "narrow")
    #: claimed to be reported rather than mistranslated (numpy's array_split sizes)
    flagged_examples = (forward_returning("torch.tensor_split(x, 3, dim=1)"),)
    call_signature = signature_of(_split)
    doc = RuleDoc(
        what="`x.split(2, dim=1)`, `x.split([1, 3], 1)`, `x.chunk(3, dim=-1)`, `x.unbind(1)`, `x.narrow(1, start, length)`.",
        why=(
            "`jnp.split(x, n)` wants n equal pieces (an error otherwise) and `jnp.array_split` sizes them\n"
            "differently from PyTorch. PyTorch's `split(x, s)` makes pieces of size s (the last\n"
            "smaller); `chunk(n)` makes pieces of size ceil(len / n), so it can return fewer than n.\n"
            "The translation computes those boundaries from the static shape: `jnp.split(x,\n"
            "[s, 2s, ...])`. A list of sizes becomes its running sums. Results are tuples, as in PyTorch.\n"
            "Where the pieces are provably equal, numpy's own call is kept: `jnp.split(x, n, axis=-1)` when the\n"
            "input is a Linear's output split along its last axis and its width (`nn.Linear(d, 3 * inner)`, or a\n"
            "number) is a multiple of the chunk count, or `k * s` split by `s`. A `split(s)` unpacked into k\n"
            "names (`q, k, v = x.split(s, 2)`) has exactly k pieces (PyTorch raises otherwise), so its\n"
            "boundaries are written out: `jnp.split(x, [s, 2 * s], axis=2)`; a `chunk(n)` unpacked into names\n"
            "ends its pieces at multiples of ceil(len / n), read off the shape. Everywhere else (a width the\n"
            "translator cannot see, another axis) the general form stays: `jnp.split(x, n)` would raise where\n"
            "PyTorch's `chunk(4)` of 6 gives 3 pieces of 2."
        ),
        example=Example(torch="a, b = x.chunk(2, dim=1)", flax="a, b = jnp.split(x, [(x.shape[1] + 1) // 2], axis=1)"),
        fidelity="Exact: values move without arithmetic.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if op in ("unbind", "narrow"):
            x = code(ctx, "input")
        if op == "unbind":  # unbind(dim) binds the dimension positionally as `size`, unbind(dim=d) as `dim`
            given = next((n for n in ("size", "dim") if not ctx.is_default(n)), None)
            dim = code_of(ctx.expr(given)) if given else "0"
            return emit(f"tuple(jnp.unstack({x}, axis={dim}))")
        if op == "narrow":  # narrow(dim, start, length): bound as size=dim, dim=start
            if ctx.is_default("length"):
                return unsupported(ctx, "`narrow` needs dim, start and length")
            if not ctx.is_default("start"):  # keywords: narrow(dim=, start=, length=)
                dim, start, length = code_of(ctx.expr("dim")), code_of(ctx.expr("start")), code_of(ctx.expr("length"))
            else:
                dim, start, length = code_of(ctx.expr("size")), code_of(ctx.expr("dim")), code_of(ctx.expr("length"))
            if start.isdigit():
                return emit(f"jax.lax.slice_in_dim({x}, {start}, {int(start)} + {length}, axis={dim})")
            return emit(bind(x, lambda v: f"jax.lax.slice_in_dim({v}, {start} % {v}.shape[{dim}], {start} % {v}.shape[{dim}] + {length}, axis={dim})"))
        if op == "tensor_split":
            return unsupported(ctx, "`tensor_split` is not translated yet (numpy's array_split sizes)")
        if op == "split" and isinstance(ctx.target, str) and (ctx.is_default("size") or isinstance(ctx.expr("size"), cst.SimpleString)):
            return emit(code_of(getattr(ctx, "node", ctx.expr("input"))))  # str.split: not a tensor
        name = next((n for n in ("split_size_or_sections", "chunks") if not ctx.is_default(n)), "size")
        if ctx.is_default(name):
            return unsupported(ctx, f"`{op}` needs a size")
        if not ctx.is_default("length"):
            return unsupported(ctx, f"too many arguments for `{op}`")
        unpacked = getattr(ctx, "unpacked_into", None)
        fact = ctx.fact("input")
        torch_dim = literal_or_none(ctx, "dim")
        if unpacked is not None and fact.channels_last and fact.rank is not None and isinstance(torch_dim, int):
            # unpacked into names, which can hold channels-last values: split where the axis lives, no transpose
            axis = torch_dim_to_channels_last_axis(torch_dim, fact.rank)
            ctx.note("the pieces of a channels-last value are cut along the axis where `dim` lives and stay "
                     "channels-last")
            pieces = split_pieces(ctx, op, code(ctx, "input", plain=False), "-1" if axis == fact.rank - 1 else str(axis),
                                  name, torch_dim)
            return Emitted(pieces.expr, Fact(channels_last=True, rank=fact.rank, tuple_of=True))
        return split_pieces(ctx, op, code(ctx, "input"), code_of(ctx.expr("dim")), name, torch_dim)

    def cases(self):
        @st.composite
        def split_case(draw):
            shape = shapes(draw)
            rank = len(shape)
            d = draw(st.integers(-rank, rank - 1))
            length = shape[d]
            s = draw(st.integers(1, 4))
            n = draw(st.integers(1, 4))
            first = draw(st.integers(0, length))
            start = draw(st.integers(-length, length - 1))
            take = draw(st.integers(0, length - start % length))
            forms = [f"x.split({s}, dim={d})", f"torch.split(x, {s}, {d})", f"x.chunk({n}, {d})", f"torch.chunk(x, {n}, dim={d})",
                     f"x.split([{first}, {length - first}], {d})", f"x.unbind({d})", f"torch.unbind(x, dim={d})",
                     f"x.narrow({d}, {start}, {take})", f"torch.narrow(x, {d}, {start}, {take})",
                     f"x.narrow(dim={d}, start={start % length}, length={take if start >= 0 else 0})"]
            forward = draw(st.sampled_from(forms))
            if draw(st.integers(0, 3)) == 0:  # a Linear's output: equal pieces proved from its width, or PyTorch's sizes
                factor, base = draw(st.integers(1, 4)), draw(st.integers(1, 3))
                width = draw(st.sampled_from([str(factor * base), f"{factor} * {base}", f"{base} * {factor}"]))
                count = draw(st.integers(1, 6))  # dividing the width (equal pieces) or not (PyTorch's uneven sizes)
                call = draw(st.sampled_from([f"chunk({count}, -1)", f"chunk({count}, dim=-1)", f"split({count}, -1)",
                                             f"split({base}, dim=-1)"]))
                return RuleCase(f"nn.Linear(3, {width})", f"self.layer(x).{call}", (2, 3))
            if draw(st.integers(0, 4)) == 0 and length > 0:  # unpacked into names: the count is known, the last piece may be short
                call = draw(st.sampled_from([f"x.split({s}, dim={d})", f"torch.split(x, SIZE, {d})", f"x.split(SIZE, {d})",
                                             f"x.chunk({n}, {d})", f"torch.chunk(x, {n}, dim={d})"]))
                piece = s if "split" in call else -(-length // n)  # chunk(n): pieces of ceil(len / n)
                count = -(-length // piece)
                names = ", ".join(f"p{i}" for i in range(count))
                prelude = (f"SIZE = {s}\n\n\ndef pieces(x):\n    {names}, = {call}\n    return {names},\n" if count == 1 else
                           f"SIZE = {s}\n\n\ndef pieces(x):\n    {names} = {call}\n    return {names}\n")
                return RuleCase(None, "pieces(x)", shape, prelude=prelude)
            if draw(st.booleans()):  # layout: splitting a conv output into channel groups
                return RuleCase("nn.Conv2d(2, 4, 1)", draw(st.sampled_from([
                    "self.layer(x).chunk(2, dim=1)", "self.layer(x).split([1, 3], 1)", "self.layer(x).unbind(1)",
                    "self.layer(x).narrow(1, 1, 2)"])), (2, 2, 3, 3))
            return RuleCase(None, forward, shape)

        return split_case()


def split_pieces(ctx, op: str, x: str, dim: str, name: str, torch_dim) -> Emitted:
    """``split``/``chunk`` of ``x`` (source) along ``dim`` (source of the axis in ``x``), PyTorch's pieces;
    ``torch_dim`` is the axis in PyTorch's layout (a number, or NotLiteral), which proofs of equal pieces read."""
    unpacked = getattr(ctx, "unpacked_into", None)
    bare = "{}" if unpacked is not None else "tuple({})"  # unpacked into names: any sequence will do
    size = ctx.expr(name)
    if isinstance(size, (cst.List, cst.Tuple)):  # section sizes: split at their running sums
        if op != "split":
            return unsupported(ctx, "`chunk` takes a number of chunks")
        parts = [code_of(e.value) for e in size.elements]
        values = literal_or_none(ctx, name)
        if isinstance(values, (list, tuple)):
            cuts = [str(sum(values[: i + 1])) for i in range(len(values) - 1)]
        else:
            cuts = [" + ".join(parts[: i + 1]) for i in range(len(parts) - 1)]
        return emit(bare.format(f"jnp.split({x}, [{', '.join(cuts)}], axis={dim})"))
    n = code_of(size)
    pieces = even_pieces(ctx, op, size, torch_dim)
    if pieces is not None:  # equal pieces, proved from the layer that made the input: numpy's own call
        ctx.note("equal pieces (the width is a multiple of the count, proved from the layer that made it): "
                 "`jnp.split(x, n, axis)`")
        return emit(bare.format(f"jnp.split({x}, {pieces}, axis={dim})"))
    if op == "chunk" and unpacked is not None:  # k names: k pieces of ceil(len / n), the last one shorter
        count = literal_or_none(ctx, name)

        def boundaries(v: str) -> str:
            piece = f"({v}.shape[{dim}] + {count - 1}) // {count}" if isinstance(count, int) and count > 1 else \
                f"-(-{v}.shape[{dim}] // {n})"
            return ", ".join(piece if i == 1 else f"{i} * ({piece})" for i in range(1, unpacked))

        ctx.note("the pieces are unpacked into names, so their number is known: PyTorch's chunks of ceil(len / n) "
                 "end at the boundaries written out")
        return emit(bind(x, lambda v: f"jnp.split({v}, [{boundaries(v)}], axis={dim})"))
    if op == "chunk":
        return emit(bind(x, lambda v: f"tuple(jnp.split({v}, list(range(-(-{v}.shape[{dim}] // {n}), {v}.shape[{dim}], -(-{v}.shape[{dim}] // {n}))), axis={dim}))"))
    one_size = not (isinstance(size, (cst.Name, cst.Attribute)) and values_unknown(ctx, name))
    count = getattr(ctx, "unpacked_into", None)
    if count is not None and one_size:  # `q, k, v = x.split(n, 2)`: PyTorch made exactly `count` pieces
        ctx.note("the pieces are unpacked into names, so their number is known: the boundaries are "
                 "written out (`a, b, c = x.split(n, d)` -> `jnp.split(x, [n, 2 * n], axis=d)`)")
        return emit(f"jnp.split({x}, [{', '.join(multiples(size, count))}], axis={dim})")
    if isinstance(size, (cst.Name, cst.Attribute)) and values_unknown(ctx, name):
        # `x.split(self.split_dims)`: a name may hold one size or a list of them (read where it runs)
        ctx.note(f"`{n}` may be one size or a list of sizes: both are read where the code runs")
        return emit(bind(x, lambda v: (
            f"tuple(jnp.split({v}, list(range({n}, {v}.shape[{dim}], {n})) if isinstance({n}, int) "
            f"else [sum({n}[: i + 1]) for i in range(len({n}) - 1)], axis={dim}))")))
    return emit(bind(x, lambda v: f"tuple(jnp.split({v}, list(range({n}, {v}.shape[{dim}], {n})), axis={dim}))"))


def multiples(size: cst.BaseExpression, count: int) -> list[str]:
    """``size, 2 * size, ...``: the ``count - 1`` boundaries between ``count`` pieces of ``size`` (the last
    piece may be shorter, as PyTorch's), as source; numbers where ``size`` is one."""
    if isinstance(size, cst.Integer):
        return [str(int(size.value) * i) for i in range(1, count)]
    text = code_of(size)
    term = text if isinstance(size, (cst.Name, cst.Attribute)) or getattr(size, "lpar", ()) else f"({text})"
    return [term if i == 1 else f"{i} * {term}" for i in range(1, count)]


def values_unknown(ctx, name: str) -> bool:
    """The argument is not a literal the translator can read, nor a constructor argument (a field, taken to be
    one size, as a size is usually given): an attribute `__init__` computed (a tuple of head widths, also where
    it has a constructor argument's name: `self.sizes = tuple(sizes)`), a local."""
    import libcst.matchers as m

    from translator.rules.base import NotLiteral

    if literal_or_none(ctx, name) is not NotLiteral:
        return False
    node, body = ctx.expr(name), getattr(ctx, "body", None)
    cls = body.cls if body is not None else None
    fields = set(cls.fields) - cls.renamed if cls is not None else set()  # renamed: __init__ assigns it something else
    return not (m.matches(node, m.Attribute(value=m.Name("self"), attr=m.Name())) and node.attr.value in fields)
