"""T059 TorchDiff: ``torch.diff(x, n, dim, prepend, append)`` / ``x.diff`` -> ``jnp.diff``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit


def _diff(input, n=1, dim=-1, prepend=None, append=None): ...


@register
class TorchDiff(Rule):
    code = "T059"
    name = "TorchDiff"
    summary = "torch.diff(x, n, dim, prepend, append) / x.diff -> jnp.diff(x, n, axis, prepend, append)"
    torch_functions = ("torch.diff",)
    tensor_methods = ("diff",)
    call_signature = signature_of(_diff)
    doc = RuleDoc(
        what="`torch.diff(x, n=1, dim=-1, prepend=None, append=None)` and `x.diff(...)`: n-th forward differences.",
        why=(
            "`jnp.diff` has the same arguments (`axis` for `dim`) and the same meaning of `prepend` and\n"
            "`append` (concatenated along the axis before differencing, as Hugging Face's packed-sequence\n"
            "mask does with `prepend=position_ids[:, :1] - 1`). The axis is PyTorch's: the input is in its layout."
        ),
        example=Example(torch="d = torch.diff(p, prepend=p[:, :1] - 1, dim=-1)", flax="d = jnp.diff(p, axis=-1, prepend=p[:, :1] - 1)"),
        fidelity="Exact for integers; floats within float32 tolerance (the same subtractions).",
    )

    def emit_call(self, ctx):
        args = [code(ctx, "input")]
        if not ctx.is_default("n"):
            args.append(f"n={code_of(ctx.expr('n'))}")
        args.append(f"axis={code_of(ctx.expr('dim'))}")
        for name in ("prepend", "append"):
            if not ctx.is_default(name):
                args.append(f"{name}={code(ctx, name)}")
        return emit(f"jnp.diff({', '.join(args)})")

    def cases(self):
        @st.composite
        def diff_case(draw):
            shape = tuple(draw(st.lists(st.integers(2, 5), min_size=1, max_size=3)))
            dim = draw(st.integers(-len(shape), len(shape) - 1))
            n = draw(st.sampled_from(["", ", n=2"])) if shape[dim] > 2 else ""
            edge = f"x.narrow({dim}, 0, 1)"
            extra = draw(st.sampled_from(["", f", prepend={edge} - 1", f", append={edge} * 2", f", prepend={edge}, append={edge}"]))
            form = draw(st.sampled_from([f"torch.diff(x{n}, dim={dim}{extra})", f"x.diff(dim={dim}{n}{extra})"]))
            return RuleCase(None, form, shape)

        return diff_case()
