"""T021 TorchGather: ``torch.gather(x, dim, index)`` / ``x.gather`` -> ``jnp.take_along_axis``; ``index_select`` -> ``jnp.take``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, op_name, shapes, unsupported


def _gather(input, dim, index, *, sparse_grad=False, out=None): ...


@register
class TorchGather(Rule):
    code = "T021"
    name = "TorchGather"
    summary = "torch.gather(x, dim, idx) / x.gather -> jnp.take_along_axis; index_select -> jnp.take"
    torch_functions = ("torch.gather", "torch.index_select")
    tensor_methods = ("gather", "index_select")
    call_signature = signature_of(_gather)
    doc = RuleDoc(
        what="`torch.gather(x, dim, index)`, `x.gather(dim, index)`, `x.index_select(dim, idx)`.",
        why=(
            "`jnp.take_along_axis(x, index, axis=dim)` is gather; PyTorch also accepts an index smaller\n"
            "than x along the other axes (it reads the leading block), so x is cut to the index's\n"
            "extent there first. JAX clamps out-of-range indices instead of raising (PyTorch raises):\n"
            "wrong indices give silently clamped values. Gradients scatter-add over repeated indices\n"
            "in both."
        ),
        example=Example(torch="y = x.gather(1, idx)", flax="y = jnp.take_along_axis(x[tuple(slice(None) if a == 1 % x.ndim else slice(0, n) for a, n in enumerate(idx.shape))], idx, axis=1)"),
        fidelity="Exact for in-range indices.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        x, dim, index = code(ctx, "input"), code_of(ctx.expr("dim")), code(ctx, "index")
        if op == "index_select":
            return emit(f"jnp.take({x}, {index}, axis={dim})")
        # x cut to the index's extent on every axis but dim (a no-op when the shapes already agree)
        block = f"{x}[tuple(slice(None) if a == {dim} % {x}.ndim else slice(0, n) for a, n in enumerate({index}.shape))]"
        if not (x.isidentifier() and index.isidentifier()):
            block = f"(lambda _v, _i: jnp.take_along_axis(_v[tuple(slice(None) if a == {dim} % _v.ndim else slice(0, n) for a, n in enumerate(_i.shape))], _i, axis={dim}))({x}, {index})"
            return emit(block)
        return emit(f"jnp.take_along_axis({block}, {index}, axis={dim})")

    def cases(self):
        @st.composite
        def gather_case(draw):
            shape = shapes(draw, min_size=2)
            rank = len(shape)
            d = draw(st.integers(-rank, rank - 1))
            # index tensors from torch.where (a method on a parenthesised expression is not dispatched yet)
            forms = [f"torch.gather(x, {d}, torch.where(x > 0, 1, 0))", f"x.gather({d}, torch.where(x < 0, 1, 0))",
                     f"x.gather({d}, x.argmax(dim={d}, keepdim=True))", f"x.index_select({d}, torch.tensor([1, 0, 1]))",
                     f"torch.index_select(x, {d}, torch.tensor([0, 1, 1]))",
                     f"x.gather({d}, torch.where(x > 0, 1, 0)[..., :1])", f"x.gather({d}, torch.where(x > 0, 1, 0)[:1])"]
            if draw(st.booleans()):  # layout: gathering channels of a conv output
                return RuleCase("nn.Conv2d(2, 3, 1)", "self.layer(x).gather(1, torch.where(x[:, :1] > 0, 2, 0))", (1, 2, 3, 3))
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return gather_case()
