"""T049 TorchOneHot: ``F.one_hot(t, num_classes)`` -> ``jax.nn.one_hot(t, num_classes, dtype=jnp.int64)``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, unsupported
from translator.rules.tensor_ops.dtypes import x64_note


def _one_hot(input, num_classes=-1): ...


@register
class TorchOneHot(Rule):
    code = "T049"
    name = "TorchOneHot"
    summary = "F.one_hot(t, num_classes) -> jax.nn.one_hot(t, num_classes, dtype=jnp.int64); num_classes=-1 is reported"
    torch_functions = ("torch.nn.functional.one_hot",)
    call_signature = signature_of(_one_hot)
    doc = RuleDoc(
        what="`F.one_hot(labels, num_classes)` on an integer tensor: a new last axis of 0/1 integers.",
        why=(
            "`jax.nn.one_hot` returns floats by default; PyTorch's result is int64, so the dtype is\n"
            "asked for (int32 unless x64 is enabled, T010). PyTorch's default `num_classes=-1` means\n"
            "`labels.max() + 1`, a value read from the data: under jit the result's shape cannot depend\n"
            "on it, so it is reported (pass the class count). Out-of-range and negative labels raise in\n"
            "PyTorch; JAX gives an all-zero row."
        ),
        example=Example(torch="y = F.one_hot(labels, num_classes=10).float()", flax="y = jax.nn.one_hot(labels, 10, dtype=jnp.int64).astype(jnp.float32)"),
        fidelity="Exact for labels in [0, num_classes).",
    )

    def emit_call(self, ctx):
        classes = literal_or_none(ctx, "num_classes")
        if classes == -1 or classes is None:
            return unsupported(
                ctx, "`num_classes=-1` takes the count from the data (labels.max() + 1), which jit cannot: pass the class count"
            )
        x64_note(ctx, "int64")
        return emit(f"jax.nn.one_hot({code(ctx, 'input')}, {code_of(ctx.expr('num_classes'))}, dtype=jnp.int64)")

    def cases(self):
        @st.composite
        def one_hot_case(draw):
            classes = draw(st.integers(1, 6))
            shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
            width = draw(st.integers(1, 3))
            call = draw(st.sampled_from([f"F.one_hot(x, {classes})", f"F.one_hot(x, num_classes={classes})", f"F.one_hot(x % {classes}, {classes})"]))
            # a float result that depends on a parameter, so the gradient is compared too
            return RuleCase(f"nn.Parameter(torch.randn({classes}, {width}))", f"{call}.float() @ self.layer + {call}.sum(-1, keepdim=True)",
                            shape, input_dtype="int64", input_range=(0, classes))

        return one_hot_case()
