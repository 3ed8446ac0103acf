"""T033 TorchMeshgrid: ``torch.meshgrid(*xs, indexing=...)`` -> ``jnp.meshgrid(*xs, indexing=...)`` with PyTorch's default."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, unsupported


def _meshgrid(*tensors, indexing=None): ...


@register
class TorchMeshgrid(Rule):
    code = "T033"
    name = "TorchMeshgrid"
    summary = "torch.meshgrid(*xs, indexing='ij') -> jnp.meshgrid(*xs, indexing='ij') (the defaults differ: always written)"
    torch_functions = ("torch.meshgrid",)
    call_signature = signature_of(_meshgrid)
    doc = RuleDoc(
        what="`torch.meshgrid(a, b)`, `torch.meshgrid(a, b, indexing='xy')`, `torch.meshgrid([a, b])` (relative-position tables, grids).",
        why=(
            "The defaults disagree: PyTorch's `meshgrid` indexes 'ij' (matrix) unless told otherwise,\n"
            "NumPy's and `jnp.meshgrid`'s default is 'xy' (Cartesian), which swaps the first two output\n"
            "axes. The translation always writes `indexing=` so the result is PyTorch's."
        ),
        example=Example(
            torch="grid = torch.stack(torch.meshgrid(pos, pos))",
            flax="grid = jnp.stack(jnp.meshgrid(pos, pos, indexing='ij'), axis=0)",
        ),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        indexing = literal_or_none(ctx, "indexing")
        if indexing is NotLiteral:
            return unsupported(ctx, "`indexing` must be a constant")
        elements = list(ctx.expr("tensors").elements) if not ctx.is_default("tensors") else []
        args = [code_of(e.value) for e in elements]
        if len(args) == 1:
            args = [f"*{args[0]}"]  # meshgrid([a, b])
        return emit(f"jnp.meshgrid({', '.join(args)}, indexing={(indexing or 'ij')!r})")

    def cases(self):
        @st.composite
        def meshgrid_case(draw):
            indexing = draw(st.sampled_from(["", ", indexing='ij'", ", indexing='xy'"]))
            spelling = draw(st.sampled_from(["torch.meshgrid(x[0], x[1, :3]{i})", "torch.meshgrid([x[0], x[1, :3]]{i})"]))
            grid = spelling.format(i=indexing)
            return RuleCase(None, f"{grid}[0] * {grid}[1].tanh()", (2, 4))

        return meshgrid_case()
