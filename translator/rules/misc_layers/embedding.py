"""L031 TorchEmbedding: ``nn.Embedding`` -> ``nn.Embed`` (+ a stop-gradient mask for ``padding_idx``)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from hypothesis import strategies as st

from translator.rules._emit import call, code_of, literal_or_none
from translator.rules.base import (
    CallSpec,
    Emitted,
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    TensorMapping,
)
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY

#: an embedding whose size and padding row are constructor arguments (fields read in __call__)
CONSTRUCTOR_ARGUMENTS = '''
class Embedder(nn.Module):
    def __init__(self, vocab, dim, pad=0):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=pad)

    def forward(self, tokens):
        return self.embed(tokens)
'''


@register
class TorchEmbedding(Rule):
    code = "L031"
    name = "TorchEmbedding"
    summary = "nn.Embedding(n, d, padding_idx) -> nn.Embed(n, d); padding row gets no gradient"
    torch_classes = ("torch.nn.Embedding",)
    doc = RuleDoc(
        what="`nn.Embedding(num_embeddings, embedding_dim, padding_idx=None)` applied to integer indices.",
        why=(
            "The table has the same layout in both (`weight` -> `embedding`). PyTorch never updates\n"
            "the `padding_idx` row (its gradient is zero); Flax has no such option, so the translation\n"
            "masks that row's lookups with `lax.stop_gradient` (without it the padding row's gradient\n"
            "was 3.97 where PyTorch's is 0)."
        ),
        example=Example(
            torch="self.embed = nn.Embedding(1000, 64, padding_idx=0)\nh = self.embed(tokens)",
            flax=(
                "self.embed = nn.Embed(1000, 64)\n"
                "h = jnp.where((tokens == 0)[..., None], jax.lax.stop_gradient(self.embed(tokens)), self.embed(tokens))"
            ),
        ),
        fidelity="Exact (outputs and gradients identical).",
    )

    def build_layer(self, ctx):
        for option in ("max_norm", "sparse", "scale_grad_by_freq", "_weight", "_freeze"):
            if option in ctx.signature.parameters and not ctx.is_default(option):
                value = literal_or_none(ctx, option)
                if value not in (None, False):
                    ctx.unsupported(f"`{option}=` is not translated yet")
        padding = literal_or_none(ctx, "padding_idx")
        wrap = None
        if padding is NotLiteral and not m.matches(ctx.expr("padding_idx"), m.Attribute(value=m.Name("self"))):
            ctx.unsupported("`padding_idx` must be a constant or a constructor argument (a field read in `__call__`)")
        elif padding is not None:
            padding_code = code_of(ctx.expr("padding_idx"))  # a literal, or `self.<field>`: readable in __call__
            num = literal_or_none(ctx, "num_embeddings")

            def wrap(call_ctx, embedded):
                indices = code_of(call_ctx.expr("input"))
                call_ctx.note("padding_idx: PyTorch gives the padding row no gradient; stop_gradient does the same")
                if isinstance(padding, int) and padding >= 0:
                    row = str(padding)
                elif isinstance(num, int):  # a negative index counts from the end of the table, as in PyTorch
                    row = f"{padding_code} % {num}"
                elif isinstance(call_ctx.node, cst.Call) and isinstance(call_ctx.node.func, (cst.Attribute, cst.Subscript)):
                    row = f"{padding_code} % {code_of(call_ctx.node.func)}.num_embeddings"  # the Embed knows its size
                else:
                    call_ctx.unsupported("`padding_idx` of an embedding whose size is not a constant, called here")
                    return embedded
                mask = f"({indices} == {row})[..., None]"
                return Emitted(cst.parse_expression(f"jnp.where({mask}, jax.lax.stop_gradient({code_of(embedded)}), {code_of(embedded)})"))

        return LayerBuild(
            call("nn.Embed", [ctx.expr("num_embeddings"), ctx.expr("embedding_dim")], {}),
            CallSpec(accepts="plain", produces="plain"),
            notes=("Embedding -> nn.Embed: same table layout ([num, dim]); indices must be integers",),
            wrap_call=wrap,
        )

    def weight_layout(self, module):
        return [TensorMapping("weight", ("params", "embedding"), IDENTITY)]

    def cases(self):
        @st.composite
        def embedding_case(draw):
            num = draw(st.integers(2, 12))
            dim = draw(st.integers(1, 6))
            padding = draw(st.sampled_from([None, 0, -1, 1]))
            shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)))
            if padding is not None and draw(st.booleans()):  # sizes and padding given as constructor arguments
                return RuleCase(f"Embedder({num}, {dim}, pad={padding})", "self.layer(x)", shape, input_dtype="int64",
                                input_range=(0, num), prelude=CONSTRUCTOR_ARGUMENTS)
            return RuleCase(
                f"nn.Embedding({num}, {dim}, padding_idx={padding})",
                "self.layer(x)",
                shape,
                input_dtype="int64",
                input_range=(0, num),
            )

        return embedding_case()
