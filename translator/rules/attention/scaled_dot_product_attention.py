"""L041 TorchScaledDotProductAttention: ``F.scaled_dot_product_attention`` -> ``torch_sdpa`` (a support function)."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.attention._support import TORCH_SDPA
from translator.rules.base import Emitted, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register


def _sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None, enable_gqa=False): ...


@register
class TorchScaledDotProductAttention(Rule):
    code = "L041"
    name = "TorchScaledDotProductAttention"
    summary = "F.scaled_dot_product_attention -> torch_sdpa (PyTorch's mask polarity, causal mask, scale, GQA)"
    torch_functions = ("torch.nn.functional.scaled_dot_product_attention",)
    call_signature = signature_of(_sdpa)
    doc = RuleDoc(
        what=(
            "`F.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale=,\n"
            "enable_gqa=)` on (..., L, E) queries and (..., S, E) keys."
        ),
        why=(
            "`jax.nn.dot_product_attention` exists but wants (B, L, H, D) arrays (heads *after* the\n"
            "sequence axis, where PyTorch has (B, H, L, D)), a 4-D mask, and no dropout. The translation\n"
            "calls `torch_sdpa`, a few jnp lines with PyTorch's meaning: a bool `attn_mask` is True where\n"
            "a query *takes part* (the opposite of nn.MultiheadAttention's masks), a float mask is added\n"
            "to the scores, `is_causal` is the top-left lower-triangular mask, `scale` defaults to\n"
            "1/sqrt(E), `enable_gqa` repeats key/value heads, and a query whose keys are all masked gets\n"
            "0 (PyTorch's safe softmax), not NaN. PyTorch applies `dropout_p` in eval mode too, so\n"
            "models write `dropout_p=p if self.training else 0.0`; a non-zero `dropout_p` draws from the\n"
            "'dropout' rng (`apply(..., rngs={'dropout': key})`)."
        ),
        example=Example(
            torch="y = F.scaled_dot_product_attention(q, k, v, is_causal=True)",
            flax="y = torch_sdpa(q, k, v, is_causal=True)",
        ),
        fidelity=(
            "Equal within float32 tolerance with no dropout (outputs and gradients, bool/float masks,\n"
            "causal, scale, GQA, fully masked rows). With dropout the kept entries are scaled alike but\n"
            "the random masks differ."
        ),
    )

    def emit_call(self, ctx):
        ctx.support("torch_sdpa", TORCH_SDPA)
        args = [code_of(ctx.plain(name)) for name in ("query", "key", "value")]
        for name in ("attn_mask", "is_causal", "scale", "enable_gqa"):
            if not ctx.is_default(name):
                args.append(f"{name}={code_of(ctx.plain(name))}")
        dropout = literal_or_none(ctx, "dropout_p")
        if dropout != 0:
            cls = getattr(getattr(ctx, "body", None), "cls", None)
            if cls is None:
                ctx.unsupported("`dropout_p` outside a module method: there is no `self.make_rng` to draw the mask from")
                return Emitted(cst.parse_expression("None"))
            p = code_of(ctx.plain("dropout_p"))
            args.append(f"dropout_p={p}")
            args.append("make_rng=self.make_rng")
            ctx.note("dropout_p > 0 draws from the 'dropout' rng: apply(..., rngs={'dropout': key})")
        return Emitted(cst.parse_expression(f"torch_sdpa({', '.join(args)})"))

    def cases(self):
        @st.composite
        def sdpa_case(draw):
            rank = draw(st.sampled_from([2, 3, 4, 4]))
            length, embed = draw(st.integers(1, 5)), draw(st.integers(1, 6))
            lead = tuple(draw(st.integers(1, 2)) for _ in range(rank - 2))
            query, key, value = "x", "torch.tanh(x)", "x * 0.5"
            extra = []
            form = draw(st.sampled_from(["plain", "bool", "bool_from_x", "float", "float_from_x", "causal", "gqa"]))
            square = "x.size(-2), x.size(-2)"
            if form == "bool":  # strict upper triangle: the last query sees no key (PyTorch gives 0 there)
                extra.append(f"attn_mask=torch.triu(torch.ones({square}, dtype=torch.bool), 1)")
            elif form == "bool_from_x":  # key 0 always takes part
                extra.append("attn_mask=x[..., :1, :1] >= x[..., 0].unsqueeze(-2)")
            elif form == "float":
                extra.append(f"attn_mask=torch.tril(torch.ones({square}, dtype=x.dtype)) * 0.7 - 1.0")
            elif form == "float_from_x":
                extra.append("attn_mask=torch.tanh(x @ x.transpose(-2, -1))")
            elif form == "causal":
                extra.append("is_causal=True")
                if draw(st.booleans()):
                    key, value = "torch.tanh(x[..., :1, :])", "x[..., :1, :] * 0.5"  # S < L: top-left aligned
            elif form == "gqa":
                rank, lead = 4, (draw(st.integers(1, 2)), 2)
                key, value = "torch.tanh(x[:, :1])", "x[:, :1] * 0.5"
                extra.append("enable_gqa=True")
            if draw(st.booleans()):
                extra.append(f"scale={draw(st.sampled_from([0.3, 1.0]))}")
            if draw(st.integers(0, 3)) == 0:
                extra.append("dropout_p=0.5 if self.training else 0.0")
            forward = f"F.scaled_dot_product_attention({', '.join([query, key, value, *extra])})"
            return RuleCase(None, forward, (*lead, length, embed))

        return sdpa_case()
