"""E004 TorchEinopsEinsum: ``einops.einsum(a, b, pattern)`` -> ``einops.einsum`` on jax arrays (operands read channels-last)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.einops._cases import left_sides, spelling
from translator.rules.einops._pattern import (
    channels_last_side,
    einops_call,
    pattern_literal,
    split_arrow,
    string,
)
from translator.rules.registry import register

SLOTS = ("arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6")


def _einsum(arg0, arg1=None, arg2=None, arg3=None, arg4=None, arg5=None, arg6=None): ...


@register
class TorchEinopsEinsum(Rule):
    code = "E004"
    name = "TorchEinopsEinsum"
    summary = "einops.einsum(*operands, pattern) -> einops.einsum on jax arrays (each operand's axes read channels-last)"
    torch_functions = ("einops.einsum",)
    call_signature = signature_of(_einsum)
    doc = RuleDoc(
        what="`einops.einsum(a, b, 'batch c h w, batch d h w -> batch c d')` (up to six operands), any import spelling.",
        why=(
            "The same call runs on jax arrays (einops hands it to `jnp.einsum`). Each operand has its own\n"
            "left side in the pattern, so each channels-last operand (a convolution's output) is read by\n"
            "naming its axes in NHWC order ('b c h w' -> 'b h w c') instead of being transposed back;\n"
            "an operand whose channel axis is inside `...`, or a pattern that is not a constant, is\n"
            "transposed to PyTorch's layout first. On GPU, JAX may run float32 contractions in TF32\n"
            "while PyTorch does not: set `jax_default_matmul_precision='highest'` to compare strictly."
        ),
        example=Example(
            torch="self.conv = nn.Conv2d(3, 8, 3)\nf = self.conv(x)\ngram = einsum(f, f, 'b c h w, b d h w -> b c d')",
            flax=(
                'self.conv = nn.Conv(8, kernel_size=(3, 3), padding="VALID", conv_general_dilated=conv_for_cpu)\n'
                "f = self.conv(jnp.transpose(x, (0, 2, 3, 1)))  # NHWC\n"
                "gram = einops.einsum(f, f, 'b h w c, b h w d -> b c d')"
            ),
        ),
        fidelity="Equal within float32 tolerance: the same contraction, accumulated in another order (measured 2.3e-7 relative on CPU).",
    )

    def emit_call(self, ctx):
        given = [s for s in SLOTS if not ctx.is_default(s)]
        if len(given) < 2:
            ctx.unsupported("einops.einsum takes the operands and then the pattern")
            return None
        *operands, pattern_slot = given
        pattern = pattern_literal(ctx, pattern_slot)
        sides = split_arrow(pattern) if pattern is not None else None
        lefts = sides[0].split(",") if sides is not None else None
        if lefts is not None and len(lefts) != len(operands):
            lefts = None  # einops will raise; leave every operand plain
        args, rewritten = [], False
        for index, slot in enumerate(operands):
            fact = ctx.fact(slot)
            side = channels_last_side(lefts[index], fact.rank) if (lefts is not None and fact.channels_last) else None
            if side is not None:
                lefts[index], rewritten = side, True
                args.append(ctx.expr(slot))
            else:
                args.append(ctx.plain(slot))
        if rewritten:
            ctx.note("an einops pattern reads a channels-last value by naming its axes in that order: no transpose")
            pattern_expr = string(", ".join(s.strip() for s in lefts) + " -> " + sides[1].strip())
        else:
            pattern_expr = ctx.expr(pattern_slot)
        return einops_call("einops.einsum", [*args, pattern_expr])

    def cases(self):
        @st.composite
        def einsum_case(draw):
            left = draw(left_sides(split=False))
            first = " ".join(left.left)
            names = [a for a in left.axes if a != "..."]
            second = first.replace("c", "d") if "c" in names else first
            operands = [left.input()]
            sides = [first]
            if draw(st.booleans()):  # a second operand: x again (plain or channels-last), its channel renamed
                operands.append(draw(st.sampled_from(["x * 2", f"{left.input()} + 1", f"F.max_pool{len(left.shape) - 2}d(x, 1)"])))
                sides.append(second)
                names += ["d"] if second != first else []
            kept = [n for n in draw(st.permutations(names)) if draw(st.booleans())]
            if "..." in left.axes:
                kept.insert(draw(st.integers(0, len(kept))), "...")
            pattern = f"{', '.join(sides)} -> {' '.join(kept)}"
            prelude, function = spelling(draw, "einsum")
            return RuleCase(None, f"{function}({', '.join(operands)}, {pattern!r})", left.shape, prelude=prelude)

        return einsum_case()
