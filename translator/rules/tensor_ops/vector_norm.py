"""T054 TorchVectorNorm: ``torch.linalg.vector_norm(x, ord, dim, keepdim)`` -> the p-norm of T024."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import shapes
from translator.rules.tensor_ops.norm import norm_call


def _vector_norm(input, ord=2, dim=None, keepdim=False, *, dtype=None, out=None): ...


@register
class TorchVectorNorm(Rule):
    code = "T054"
    name = "TorchVectorNorm"
    summary = "torch.linalg.vector_norm(x, ord, dim, keepdim) for ord = 2, 1, inf -> jnp sums with PyTorch's zero gradient at 0"
    torch_functions = ("torch.linalg.vector_norm",)
    call_signature = signature_of(_vector_norm)
    doc = RuleDoc(
        what="`torch.linalg.vector_norm(x, ord=2, dim=None, keepdim=False)` for `ord` 2, 1 and inf.",
        why=(
            "`jnp.linalg.norm` treats a 2-D input with no axis as a matrix (Frobenius is the same, but\n"
            "`ord=1` or `inf` are matrix norms there), while `vector_norm` flattens. And at a zero vector\n"
            "PyTorch's gradient is 0 where `sqrt`'s is inf: the translation writes the sum of squares\n"
            "and a square root guarded at 0, as T024 does for `x.norm()`."
        ),
        example=Example(
            torch="n = torch.linalg.vector_norm(x, dim=-1)",
            flax="n = (lambda _s: jnp.where(_s == 0, 0.0, jnp.sqrt(jnp.where(_s == 0, 1.0, _s))))(jnp.sum(jnp.square(x), axis=-1))",
        ),
        fidelity="Outputs within float32 rounding; gradients identical, including zero vectors.",
    )

    def emit_call(self, ctx):
        return norm_call(ctx, "ord")

    def cases(self):
        @st.composite
        def vector_norm_case(draw):
            shape = shapes(draw)
            rank = len(shape)
            args = ["x.round()" if draw(st.booleans()) else "x"]  # rounded inputs give zero vectors
            order = draw(st.sampled_from(["", "2", "ord=1", "float('inf')"]))
            if order:
                args.append(order)
            if draw(st.booleans()):
                args.append(f"dim={draw(st.integers(-rank, rank - 1))}")
                if draw(st.booleans()):
                    args.append("keepdim=True")
            return RuleCase(None, f"torch.linalg.vector_norm({', '.join(args)})", shape, input_range=(-1.0, 1.0))

        return vector_norm_case()
