"""T044 TorchFlipRoll: ``torch.flip(x, dims)`` / ``fliplr`` / ``flipud`` / ``torch.roll(x, shifts, dims)`` -> ``jnp``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import axes_for, code, emit, op_name, shapes, unsupported


def _flip_roll(input, *args, dims=None, shifts=None): ...


def as_tuple(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


@register
class TorchFlipRoll(Rule):
    code = "T044"
    name = "TorchFlipRoll"
    summary = "torch.flip(x, dims) / x.flip(*dims) / fliplr / flipud / torch.roll(x, shifts, dims) -> jnp.flip / jnp.roll"
    torch_functions = ("torch.flip", "torch.fliplr", "torch.flipud", "torch.roll")
    tensor_methods = ("flip", "fliplr", "flipud", "roll")
    call_signature = signature_of(_flip_roll)
    doc = RuleDoc(
        what=(
            "`torch.flip(x, dims)`, `x.flip(0, 2)`, `x.flip(dims=(-1,))`, `torch.fliplr(x)`, `x.flipud()`,\n"
            "`torch.roll(x, shifts, dims)`, `x.roll(1, -1)`, `x.roll((1, 2), (0, 1))`, and `roll` without\n"
            "dims (the flattened tensor rolled, then reshaped)."
        ),
        why=(
            "NumPy spells `dims` as `axis` and `shifts` as `shift`. JAX has no views, so the flip is a\n"
            "new array (PyTorch copies too). A flip of a channels-last value stays channels-last with\n"
            "its axes remapped (order does not matter); a roll pairs each shift with its dim, so its\n"
            "operand goes back to PyTorch's layout first."
        ),
        example=Example(torch="y = torch.roll(x, shifts=1, dims=-1).flip(1)", flax="y = jnp.flip(jnp.roll(x, 1, axis=-1), axis=(1,))"),
        fidelity="Exact (a permutation of the entries; gradients are the inverse permutation).",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        texts = [code_of(a.value) for a in ctx.expr("args").elements] if not ctx.is_default("args") else []
        if op == "roll":
            return self.roll(ctx, texts)
        try:
            values = [as_tuple(_literal(t)) for t in texts]
        except (ValueError, SyntaxError):
            return unsupported(ctx, f"`{op}` needs constant dims: they decide which axes move")
        if op in ("fliplr", "flipud"):
            if texts or not ctx.is_default("dims"):
                return unsupported(ctx, f"`{op}` takes no dims")
            return emit(f"jnp.{op}({code(ctx, 'input')})")
        if op == "flip":
            dims = as_tuple(literal_or_none(ctx, "dims")) if not ctx.is_default("dims") else None
            if values:
                dims = values[0] if len(values) == 1 and isinstance(values[0], tuple) else tuple(values)
            if dims is NotLiteral or not isinstance(dims, tuple) or not all(isinstance(d, int) for d in dims):
                return unsupported(ctx, "`flip` needs constant dims (ints)")
            fact = ctx.fact("input")
            if fact.channels_last and fact.rank and all(-fact.rank <= d < fact.rank for d in dims):
                x, axis, fact = axes_for(ctx, dims, True)  # remapped in place: flips commute
                return emit(f"jnp.flip({x}, axis={axis})", fact)
            return emit(f"jnp.flip({code(ctx, 'input')}, axis={dims!r})")

    def roll(self, ctx, texts):
        """Shifts may be computed (jnp.roll takes a traced shift); dims must be constants."""
        if len(texts) > 2:
            return unsupported(ctx, "`roll(x, shifts, dims)` takes two arguments after x")
        shifts = texts[0] if texts else (code_of(ctx.expr("shifts")) if not ctx.is_default("shifts") else None)
        if len(texts) > 1:
            try:
                dims = as_tuple(_literal(texts[1]))
            except (ValueError, SyntaxError):
                dims = NotLiteral
        else:
            dims = as_tuple(literal_or_none(ctx, "dims"))
        if shifts is None:
            return unsupported(ctx, "`roll` needs shifts")
        if dims is NotLiteral:
            return unsupported(ctx, "`roll` needs constant dims: they decide which axes move")
        axis = "" if dims is None else f", axis={dims!r}"
        return emit(f"jnp.roll({code(ctx, 'input')}, {shifts}{axis})")

    def cases(self):
        @st.composite
        def flip_case(draw):
            shape = shapes(draw, min_rank=2)
            rank = len(shape)
            dims = tuple(draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank, unique_by=lambda d: d % rank)))
            shifts = tuple(draw(st.integers(-3, 5)) for _ in dims)
            forms = [
                f"torch.flip(x, {dims!r})", f"x.flip({', '.join(map(str, dims))})", f"x.flip(dims={list(dims)!r})",
                "torch.fliplr(x)", "x.flipud()", "torch.flipud(x)", "x.fliplr()",
                f"torch.roll(x, {shifts!r}, {dims!r})", f"x.roll({shifts[0]}, {dims[0]})", f"torch.roll(x, shifts={shifts[0]})",
                f"x.roll(shifts={shifts!r}, dims={dims!r})",
            ]
            forward = draw(st.sampled_from(forms))
            if draw(st.booleans()):  # layout: flipping or rolling axes of a conv output
                d = draw(st.sampled_from(["1", "2, 3", "-1", "1, 2"]))
                return RuleCase("nn.Conv2d(2, 3, 1)", draw(st.sampled_from([
                    f"self.layer(x).flip({d})", f"torch.roll(self.layer(x), 1, {d.split(',')[0]})"])), (1, 2, 3, 4))
            return RuleCase(None, f"{forward} * x", shape)

        return flip_case()


def _literal(text: str):
    import ast

    return ast.literal_eval(text.strip())
