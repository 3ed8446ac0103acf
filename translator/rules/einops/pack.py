"""E005 TorchEinopsPack: ``einops.pack`` / ``einops.unpack`` -> the same calls on jax arrays, in PyTorch's layout."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.einops._cases import FUNCTION_SPELLINGS
from translator.rules.einops._pattern import einops_call
from translator.rules.registry import register


def _pack(tensor, second, third=None): ...  # pack(tensors, pattern) / unpack(tensor, packed_shapes, pattern)


@register
class TorchEinopsPack(Rule):
    code = "E005"
    name = "TorchEinopsPack"
    summary = "einops.pack / einops.unpack -> the same calls on jax arrays (inputs in PyTorch's layout)"
    torch_functions = ("einops.pack", "einops.unpack")
    call_signature = signature_of(_pack)
    doc = RuleDoc(
        what="`packed, ps = einops.pack([a, b], 'b * c')` and `a, b = einops.unpack(packed, ps, 'b * c')`.",
        why=(
            "einops dispatches on the array type, so the same calls run on jax arrays; the packed shapes\n"
            "`ps` are Python tuples, static under jit. One pattern describes every packed tensor, so it\n"
            "cannot be rewritten for one channels-last input: every input is brought to PyTorch's layout\n"
            "(a transpose for a convolution's output), and the results have PyTorch's layout."
        ),
        example=Example(
            torch="tokens, ps = pack([cls, patches], 'b * d')\ncls, patches = unpack(tokens, ps, 'b * d')",
            flax="tokens, ps = einops.pack([cls, patches], 'b * d')\ncls, patches = einops.unpack(tokens, ps, 'b * d')",
        ),
        fidelity="Exact: values move without arithmetic (the drawn cases, which also sum, differ by <= 1.9e-7 relative).",
    )

    def emit_call(self, ctx):
        function = getattr(ctx.target, "__name__", "")
        if function == "pack":
            if not ctx.is_default("third"):
                ctx.unsupported("einops.pack takes a list of tensors and a pattern")
                return None
            # a list literal arrives with its elements in PyTorch's layout; a name is a plain list
            return einops_call("einops.pack", [ctx.plain("tensor"), ctx.expr("second")])
        if ctx.is_default("third"):
            ctx.unsupported("einops.unpack takes the packed tensor, the packed shapes and a pattern")
            return None
        return einops_call("einops.unpack", [ctx.plain("tensor"), ctx.expr("second"), ctx.expr("third")])

    def cases(self):
        @st.composite
        def pack_case(draw):
            rank = draw(st.sampled_from((3, 4)))
            shape = tuple(draw(st.integers(1, 3)) for _ in range(rank))
            pattern = draw(st.sampled_from(["b *", "b * w", "* w"] if rank == 3 else ["b *", "b * w", "* w", "b c *"]))
            pattern = pattern.replace("w", "h") if rank == 3 else pattern
            prelude, _ = draw(st.sampled_from(FUNCTION_SPELLINGS))
            prelude_pack, pack = prelude.format(f="pack"), _.format(f="pack")
            prelude_unpack, unpack = prelude.format(f="unpack"), _.format(f="unpack")
            source = draw(st.sampled_from(["x", f"F.max_pool{rank - 2}d(x, 1)"]))
            # the second tensor drops one packed axis: the star stands for a different number of axes
            star = [i for i, e in enumerate(pattern.split())].index(pattern.split().index("*"))
            packed_axes = rank - (len(pattern.split()) - 1)
            second = f"{source}.sum(dim={star})" if packed_axes > 1 else f"{source} * 2"
            packed = f"{pack}([{source}, {second}], {pattern!r})"
            which = draw(st.integers(0, 1))
            forward = f"{unpack}({packed}[0] * 3, {packed}[1], {pattern!r})[{which}] + {packed}[0].sum()"
            imports = prelude_pack if prelude_pack == prelude_unpack else f"{prelude_pack}\n{prelude_unpack}"
            return RuleCase(None, forward, shape, prelude=imports)

        return pack_case()

