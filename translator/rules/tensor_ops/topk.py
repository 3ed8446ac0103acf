"""T034 TorchTopk: ``torch.topk(x, k, dim, largest, sorted)`` / ``x.topk`` -> ``torch_topk`` on ``jax.lax.top_k``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, shapes, unsupported
from translator.rules.tensor_ops._ordering import untied


def _topk(input, k, dim=-1, largest=True, sorted=True, *, out=None): ...


SUPPORT_NAME = "torch_topk"
SUPPORT = '''
def torch_topk(x, k, dim=-1, largest=True):
    """torch.topk (T034): (values, indices) of the k largest (or smallest) entries along dim, sorted."""
    _, indices = jax.lax.top_k(x if largest else -x, k, axis=dim)
    return jnp.take_along_axis(x, indices, axis=dim), indices
'''


@register
class TorchTopk(Rule):
    code = "T034"
    name = "TorchTopk"
    summary = "torch.topk(x, k, dim, largest) / x.topk -> torch_topk: (values, indices), also .values / .indices"
    torch_functions = ("torch.topk",)
    tensor_methods = ("topk",)
    call_signature = signature_of(_topk)
    doc = RuleDoc(
        what=(
            "`torch.topk(x, k)`, `x.topk(k, dim=1, largest=False, sorted=True)`: the pair (values, indices),\n"
            "unpacked (`v, i = x.topk(3)`) or read as `.values` / `.indices` (T009) or `[0]` / `[1]`."
        ),
        why=(
            "`jax.lax.top_k` takes the largest k along one axis only; the smallest k are the largest of\n"
            "`-x`. The result is a plain tuple (JAX has no named tuple here), so `.values` / `.indices`\n"
            "become `[0]` / `[1]`. The values are gathered from x at the returned indices, so the\n"
            "gradient reaches exactly the entries PyTorch picked. `k` and `dim` fix the result's shape:\n"
            "they must be Python ints under jit (a shape entry or a field is fine). Axes are PyTorch's:\n"
            "a channels-last operand goes back to PyTorch's layout first."
        ),
        example=Example(
            torch="scores, idx = logits.topk(5, dim=-1)",
            flax="scores, idx = torch_topk(logits, 5, dim=-1)  # support function defined at the end of the file",
        ),
        fidelity=(
            "Exact values. Among tied values PyTorch promises no order and neither does JAX: indices of\n"
            "ties (and which tied entry gets the gradient) may differ; `sorted=False` returns sorted\n"
            "results (an order PyTorch also allows). Indices are int32 unless x64 is on."
        ),
    )

    def emit_call(self, ctx):
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into existing tensors; JAX arrays are immutable: assign the result")
        largest = literal_or_none(ctx, "largest")
        if largest is NotLiteral or literal_or_none(ctx, "sorted") is NotLiteral:
            return unsupported(ctx, "`largest` and `sorted` must be constants")
        # measured: on 200 rows of 7 values in {0, 1, 2}, torch.topk's tied indices differed from lax.top_k's in all
        ctx.note("indices among tied values differ from PyTorch's: lax.top_k takes the lower index first, "
                 "torch.topk's order among ties is unspecified (values are equal)")
        dim = literal_or_none(ctx, "dim")
        if dim is not NotLiteral and not isinstance(dim, int):
            return unsupported(ctx, f"`dim={dim!r}`: topk takes one dim")
        ctx.support(SUPPORT_NAME, SUPPORT)
        args = [code(ctx, "input"), code_of(ctx.expr("k"))]
        if not ctx.is_default("dim"):
            args.append(f"dim={code_of(ctx.expr('dim'))}")
        if not largest:
            args.append("largest=False")
        return emit(f"{SUPPORT_NAME}({', '.join(args)})")

    def cases(self):
        @st.composite
        def topk_case(draw):
            shape = shapes(draw, min_size=2)
            rank = len(shape)
            dim = draw(st.integers(-rank, rank - 1))
            k = draw(st.integers(1, shape[dim]))
            x = untied("x", shape)  # no ties: PyTorch promises no order among them
            extra = draw(st.sampled_from(["", ", largest=False", ", largest=True, sorted=True", ", largest=False, sorted=True"]))
            gathered = "{x}.gather(" + str(dim) + ", {pick}.indices)"
            forms = [
                f"torch.topk({x}, {k}, dim={dim}{extra})[0]",
                f"torch.topk({x}, {k}, {dim}{extra}).values * 2 + torch.topk({x}, {k}, {dim}{extra}).indices.float()",
                "{pick}.values * {pick}.indices + " + gathered,
                f"torch.topk({x}, {k}, dim={dim}{extra})[1].float() + torch.topk({x}, {k}, dim={dim}{extra})[0]",
            ]
            pick = f"{x}.topk({k}, {dim}{extra})" if draw(st.booleans()) else f"{x}.topk(k={k}, dim={dim}{extra})"
            forward = draw(st.sampled_from(forms)).replace("{pick}", pick).replace("{x}", x)
            if rank == 1 and draw(st.booleans()):
                forward = f"{x}.topk({k})[0]"
            if draw(st.booleans()):  # layout: the top channels of a conv output
                return RuleCase("nn.Conv2d(2, 3, 1)", "torch.topk(self.layer(x), 2, dim=1).values", (1, 2, 3, 3))
            return RuleCase(None, forward, shape)

        return topk_case()
