"""T045 TorchDiag: ``torch.diag(x, k)`` -> ``jnp.diag``; ``torch.diagonal(x, offset, dim1, dim2)`` -> ``jnp.diagonal``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, op_name, shapes, unsupported


def _diag(input, diagonal=None, dim1=None, dim2=None, *, offset=None, out=None): ...


@register
class TorchDiag(Rule):
    code = "T045"
    name = "TorchDiag"
    summary = "torch.diag(x, k) / x.diag() -> jnp.diag; torch.diagonal(x, offset, dim1, dim2) / x.diagonal -> jnp.diagonal"
    torch_functions = ("torch.diag", "torch.diagonal")
    tensor_methods = ("diag", "diagonal")
    call_signature = signature_of(_diag)
    doc = RuleDoc(
        what=(
            "`torch.diag(v)` (a 1-D v on the diagonal of a square matrix), `torch.diag(m, k)` (the k-th\n"
            "diagonal of a matrix), `x.diag()`, and `torch.diagonal(x, offset=0, dim1=0, dim2=1)` /\n"
            "`x.diagonal(...)` on any rank (the diagonal becomes the last axis)."
        ),
        why=(
            "Same meaning as NumPy's `jnp.diag` / `jnp.diagonal` (whose keywords are `k`, `offset`,\n"
            "`axis1`, `axis2`). JAX has no views: `diagonal` returns a copy, which is what a functional\n"
            "program needs anyway (PyTorch's view would alias x). Dims are PyTorch's axes: the operand\n"
            "goes back to PyTorch's layout first."
        ),
        example=Example(torch="d = torch.diagonal(attn, dim1=-2, dim2=-1)", flax="d = jnp.diagonal(attn, axis1=-2, axis2=-1)"),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        x = code(ctx, "input")
        offset_name = "offset" if not ctx.is_default("offset") else "diagonal"
        offset = None if ctx.is_default(offset_name) else code_of(ctx.expr(offset_name))
        if op == "diag":
            if not (ctx.is_default("dim1") and ctx.is_default("dim2")):
                return unsupported(ctx, "`diag` takes a tensor and one diagonal index")
            return emit(f"jnp.diag({x}{'' if offset is None else ', k=' + offset})")
        args = [x]
        if offset is not None:
            args.append(f"offset={offset}")
        for name, axis in (("dim1", "axis1"), ("dim2", "axis2")):
            if not ctx.is_default(name):
                args.append(f"{axis}={code_of(ctx.expr(name))}")
        return emit(f"jnp.diagonal({', '.join(args)})")

    def cases(self):
        @st.composite
        def diag_case(draw):
            k = draw(st.integers(-2, 2))
            vector, matrix = shapes(draw, 1, 1, 2), shapes(draw, 2, 2, 2)
            forms = [
                ("torch.diag(x) * 2", vector), (f"torch.diag(x, {k})", vector), (f"x.diag({k}) + 1", vector),
                ("torch.diag(x)", matrix), (f"x.diag(diagonal={k})", matrix), ("torch.diagonal(x)", matrix),
                (f"x.diagonal({k})", matrix),
            ]
            shape3 = shapes(draw, 3, 4, 2)
            rank = len(shape3)
            d1, d2 = draw(st.lists(st.integers(-rank, rank - 1), min_size=2, max_size=2, unique_by=lambda d: d % rank))
            forms += [(f"torch.diagonal(x, {k}, {d1}, {d2})", shape3), (f"x.diagonal(offset={k}, dim1={d1}, dim2={d2})", shape3),
                      (f"torch.diagonal(x, dim1={d1}, dim2={d2}) * 3", shape3)]
            forward, shape = draw(st.sampled_from(forms))
            if draw(st.booleans()):  # layout: the diagonal over the spatial axes of a conv output
                return RuleCase("nn.Conv2d(2, 3, 1)", "torch.diagonal(self.layer(x), dim1=2, dim2=3)", (1, 2, 3, 3))
            return RuleCase(None, forward, shape)

        return diag_case()
