"""T039 TorchAnyAll: ``torch.any(x, dim, keepdim)`` / ``x.all()`` -> ``jnp.any`` / ``jnp.all`` with axis, keepdims."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Emitted, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import axes_for, emit, op_name, reduction_arguments, shapes


def _any(input, dim=None, keepdim=False, *, out=None): ...


@register
class TorchAnyAll(Rule):
    code = "T039"
    name = "TorchAnyAll"
    summary = "torch.any / torch.all / x.any(dim, keepdim) / x.all() -> jnp.any / jnp.all (axis, keepdims)"
    torch_functions = ("torch.any", "torch.all")
    tensor_methods = ("any", "all")
    call_signature = signature_of(_any)
    doc = RuleDoc(
        what="`torch.any(x)`, `x.all()`, `x.any(dim)`, `torch.all(x, dim=(1, 2), keepdim=True)` on bool or numeric tensors (non-zero is True).",
        why=(
            "NumPy spells `dim`/`keepdim` as `axis`/`keepdims`. The result is a bool array, with no\n"
            "gradient in either framework. A whole-tensor `any()` is a 0-d array: `if x.any():` needs a\n"
            "concrete value, which a traced array under jit does not have (use `jnp.where`). After a\n"
            "channels-last conv the axes are remapped as for sum (T007), never applied to the wrong one."
        ),
        example=Example(torch="valid = mask.any(dim=-1, keepdim=True)", flax="valid = jnp.any(mask, axis=-1, keepdims=True)"),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        arguments = reduction_arguments(ctx)
        if isinstance(arguments, Emitted):
            return arguments
        dims, keepdim = arguments
        x, axis, fact = axes_for(ctx, dims, keepdim)
        args = [x]
        if axis is not None:
            args.append(f"axis={axis}")
        if keepdim:
            args.append("keepdims=True")
        return emit(f"jnp.{op}({', '.join(args)})", fact)

    def cases(self):
        @st.composite
        def any_case(draw):
            op = draw(st.sampled_from(["any", "all"]))
            shape = shapes(draw)
            rank = len(shape)
            args = []
            if draw(st.booleans()):
                if draw(st.booleans()):
                    dim = draw(st.integers(-rank, rank - 1))
                else:
                    dim = tuple(draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True)))
                args.append(f"dim={dim!r}" if draw(st.booleans()) else repr(dim))
                if draw(st.booleans()):
                    args.append("keepdim=True")
            operand = draw(st.sampled_from(["{x} > 0.3", "{x}.round()", "{x} < 1.0"]))  # bool and numeric (zeros are False)
            if draw(st.booleans()):
                test = f"torch.{op}({', '.join([operand, *args])})"
            else:
                test = f"({operand}).{op}({', '.join(args)})" if " " in operand else f"{operand}.{op}({', '.join(args)})"
            # a reduced mask without keepdim may not broadcast with x: select between scalars then
            reduced = args and "keepdim=True" not in args
            forward = f"torch.where({test}, {{x}}.sum(), -{{x}}.sum())" if reduced else f"torch.where({test}, {{x}}, 2 * {{x}})"
            if draw(st.booleans()):  # layout: over channels or spatial axes of a conv output
                dim = draw(st.sampled_from([1, (2, 3), -1, (1, 2, 3)]))
                keep = draw(st.sampled_from(["", ", keepdim=True"]))
                test = f"torch.{op}(self.layer(x) > 0, dim={dim!r}{keep})"
                forward = f"self.layer(x).sum() * 0 + {test}.float()"
                return RuleCase("nn.Conv2d(2, 3, 1)", forward, (2, 2, 3, 4))
            return RuleCase(None, forward.format(x="x"), shape)

        return any_case()
