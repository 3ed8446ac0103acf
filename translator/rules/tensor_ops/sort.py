"""T035 TorchSort: ``torch.sort(x, dim, descending, stable)`` -> (values, indices); ``argsort`` -> ``jnp.argsort``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import bind, code, emit, op_name, shapes, unsupported
from translator.rules.tensor_ops._ordering import untied


def _sort(input, dim=-1, descending=False, stable=False, *, out=None): ...


@register
class TorchSort(Rule):
    code = "T035"
    name = "TorchSort"
    summary = "torch.sort / x.sort -> (take_along_axis(x, argsort), argsort); argsort -> jnp.argsort(stable=True)"
    torch_functions = ("torch.sort", "torch.argsort")
    tensor_methods = ("sort", "argsort")
    call_signature = signature_of(_sort)
    doc = RuleDoc(
        what=(
            "`torch.sort(x, dim=-1, descending=False, stable=False)` and `x.sort(...)`: the pair (values,\n"
            "indices), unpacked or read as `.values` / `.indices` (T009); `torch.argsort(x, dim,\n"
            "descending, stable)` and `x.argsort(...)`."
        ),
        why=(
            "`jnp.sort` returns the values only; the pair is built from `jnp.argsort` and the values\n"
            "gathered at those indices, so the gradient reaches the entries PyTorch's sort picked. JAX's\n"
            "sort is always stable, also with `descending=True` (ties keep their original order, as\n"
            "PyTorch's `stable=True`). `dim` is PyTorch's axis: a channels-last operand goes back to\n"
            "PyTorch's layout first."
        ),
        example=Example(
            torch="v, i = torch.sort(x, dim=1, descending=True)",
            flax="v, i = (jnp.take_along_axis(x, jnp.argsort(x, axis=1, descending=True), axis=1), jnp.argsort(x, axis=1, descending=True))",
        ),
        fidelity=(
            "Exact with `stable=True`. With PyTorch's default `stable=False` the order among tied values\n"
            "is unspecified in PyTorch: tied entries may come back in another order (values equal, indices\n"
            "and the gradient's routing among ties may differ). NaNs sort last in both. Indices are int32\n"
            "unless x64 is on."
        ),
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into existing tensors; JAX arrays are immutable: assign the result")
        descending, stable, dim = (literal_or_none(ctx, n) for n in ("descending", "stable", "dim"))
        if NotLiteral in (descending, stable):
            return unsupported(ctx, "`descending` and `stable` must be constants")
        if dim is not NotLiteral and not isinstance(dim, int):
            return unsupported(ctx, f"`dim={dim!r}`: {op} takes one dim")
        axis = code_of(ctx.expr("dim"))
        tail = f", axis={axis}" + (", descending=True" if descending else "")
        x = code(ctx, "input")
        if op == "argsort":
            return emit(f"jnp.argsort({x}{tail})")
        return emit(bind(x, lambda v: f"(jnp.take_along_axis({v}, jnp.argsort({v}{tail}), axis={axis}), jnp.argsort({v}{tail}))"))

    def cases(self):
        @st.composite
        def sort_case(draw):
            shape = shapes(draw, min_size=2)
            rank = len(shape)
            dim = draw(st.integers(-rank, rank - 1))
            stable = draw(st.booleans())
            # torch's stable overload takes dim and descending by keyword only
            args = [f"dim={dim}" if stable or draw(st.booleans()) else str(dim)]
            if draw(st.booleans()):
                args.append(f"descending={draw(st.booleans())}")
            if stable:
                args.append("stable=True")
            a = ", ".join(args)
            # ties (the zeros mixed into the inputs, rounding) only where PyTorch fixes their order
            x = draw(st.sampled_from(["x", "x.round()"])) if stable else untied("x", shape)
            pick = f"{x}.sort({a})" if draw(st.booleans()) else f"torch.sort({x}, {a})"
            forms = [
                f"{pick}[0]",
                f"{pick}.values * 2 + {pick}.indices.float()",
                f"{pick}.values * {pick}.indices",
                f"torch.argsort({x}, {a}).float() + {x}",
                f"{x}.argsort({a}).float() * {x}.sort({a}).values",
                f"{x}.gather({dim}, {x}.argsort({a}))",
            ]
            forward = draw(st.sampled_from(forms))
            if "stable" not in a and draw(st.booleans()):
                forward = f"{pick}[0] + {x}.argsort().float()"  # the default dim -1
            if draw(st.booleans()):  # layout: sorting the channels of a conv output
                return RuleCase("nn.Conv2d(2, 3, 1)", "torch.sort(self.layer(x), dim=1, descending=True)[0]", (1, 2, 3, 3))
            return RuleCase(None, forward, shape)

        return sort_case()
