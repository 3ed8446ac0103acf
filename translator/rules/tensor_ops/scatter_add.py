"""T055 TorchScatterAdd: ``x.scatter_add(dim, index, src)`` / ``torch.scatter_add`` -> ``torch_scatter_add``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, shapes, unsupported


def _scatter_add(input, dim, index, src, *, out=None): ...


SUPPORT = "torch_scatter_add"
SUPPORT_SOURCE = '''
def torch_scatter_add(x, dim, index, src):
    """x.scatter_add(dim, index, src) (rule T055): for every position p of ``index``, ``src[p]`` is added
    at ``p`` with axis ``dim`` replaced by ``index[p]``; ``src`` is read over ``index``'s extent only."""
    dim = dim % x.ndim
    grids = list(jnp.meshgrid(*(jnp.arange(n) for n in index.shape), indexing="ij"))
    grids[dim] = index
    return x.at[tuple(grids)].add(src[tuple(slice(0, n) for n in index.shape)])
'''


@register
class TorchScatterAdd(Rule):
    code = "T055"
    name = "TorchScatterAdd"
    summary = "x.scatter_add(dim, index, src) -> x.at[index grids].add(src): repeated indices accumulate"
    torch_functions = ("torch.scatter_add",)
    tensor_methods = ("scatter_add",)
    call_signature = signature_of(_scatter_add)
    doc = RuleDoc(
        what="`x.scatter_add(dim, index, src)` and `torch.scatter_add(x, dim, index, src)` (a new tensor).",
        why=(
            "JAX arrays are immutable and have no scatter method: `x.at[idx].add(v)` returns a new array.\n"
            "PyTorch's scatter along `dim` means: the index tensor replaces the coordinate on `dim`, the\n"
            "other coordinates are the position in `index` itself. The support function builds those\n"
            "coordinates with `jnp.meshgrid` and adds; repeated indices accumulate in both frameworks,\n"
            "and `src` is read only over the index's extent, as PyTorch does."
        ),
        example=Example(torch="y = out.scatter_add(0, idx, x)", flax="y = torch_scatter_add(out, 0, idx, x)"),
        fidelity="Exact up to the order of float additions at repeated indices.",
    )

    def emit_call(self, ctx):
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        ctx.support(SUPPORT, SUPPORT_SOURCE)
        return emit(f"{SUPPORT}({code(ctx, 'input')}, {code_of(ctx.expr('dim'))}, {code(ctx, 'index')}, {code(ctx, 'src')})")

    def cases(self):
        @st.composite
        def scatter_case(draw):
            shape = shapes(draw, min_size=2)
            rank = len(shape)
            dim = draw(st.integers(-rank, rank - 1))
            # indices from the input's signs: repeated targets (accumulation) and in-range by construction
            part = "" if draw(st.booleans()) else "[..., :1]"  # an index smaller than x (src of its size)
            index = f"torch.where(x > 0, 1, 0){part}"
            target = f"torch.zeros_like(x).scatter_add({dim}, {index}, (x * 2){part})"
            if draw(st.booleans()):
                target = f"torch.scatter_add(x, {dim}, {index}, x.exp(){part})"
            return RuleCase(None, target, shape)

        return scatter_case()
