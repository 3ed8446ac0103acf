"""T057 TorchAddmm: ``torch.addmm/baddbmm/addmv/addbmm(input, a, b, beta=, alpha=)`` -> ``beta * input + alpha * (a @ b)``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, op_name, paren, unsupported


def _addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None): ...


#: the product of each op: addbmm sums its batch of products
PRODUCTS = {"addmm": "{a} @ {b}", "baddbmm": "{a} @ {b}", "addmv": "{a} @ {b}", "addbmm": "({a} @ {b}).sum(0)"}


@register
class TorchAddmm(Rule):
    code = "T057"
    name = "TorchAddmm"
    summary = "torch.addmm / baddbmm / addmv / addbmm (input, a, b, beta, alpha) -> beta * input + alpha * (a @ b)"
    torch_functions = tuple(f"torch.{n}" for n in PRODUCTS)
    tensor_methods = ("addmm", "baddbmm")
    call_signature = signature_of(_addmm)
    doc = RuleDoc(
        what=(
            "`torch.addmm(bias, x, w)` (Hugging Face's GPT-2 `Conv1D`: `torch.addmm(self.bias, x.view(-1, nx), self.weight)`),\n"
            "`torch.baddbmm(scores, q, k, beta=0, alpha=scale)` and `addmv`/`addbmm`, also as tensor methods."
        ),
        why=(
            "JAX has no fused multiply-add of a matrix product: XLA fuses `beta * input + alpha * (a @ b)`\n"
            "itself. PyTorch documents `beta=0` as ignoring `input` (nan and inf in it do not propagate),\n"
            "so a literal `beta=0` leaves the term out rather than multiplying it by zero."
        ),
        example=Example(
            torch="y = torch.addmm(self.bias, x.view(-1, nx), self.weight)",
            flax="y = self.bias + x.reshape(-1, nx) @ self.weight",
        ),
        fidelity="Equal within float32 tolerance (same products, one rounding more without the fused add).",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        product = PRODUCTS[op].format(a=paren(code(ctx, "mat1")), b=paren(code(ctx, "mat2")))
        beta, alpha = literal_or_none(ctx, "beta"), literal_or_none(ctx, "alpha")
        if alpha is NotLiteral or alpha != 1:
            product = f"{paren(code_of(ctx.expr('alpha')))} * ({product})"
        if beta == 0:
            return emit(product)
        added = paren(code(ctx, "input"))
        if beta is NotLiteral or beta != 1:
            added = f"{paren(code_of(ctx.expr('beta')))} * {added}"
        return emit(f"{added} + {product}")

    def cases(self):
        @st.composite
        def addmm_case(draw):
            n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
            scale = draw(st.sampled_from(["", ", alpha=0.5", ", beta=2.0", ", beta=0, alpha=0.25", ", beta=0.5, alpha=2"]))
            form = draw(st.sampled_from(["addmm", "method", "baddbmm", "baddbmm-method", "addmv", "addbmm"]))
            if form == "addmm":
                return RuleCase(None, f"torch.addmm(x[0, :{m}], x[:, :{k}], x[:{k}, :{m}]{scale})", (max(n, k), max(k, m, 1)))
            if form == "method":
                return RuleCase(None, f"x[:{n}, :{m}].addmm(x[:{n}, :{k}], x[:{k}, :{m}]{scale})", (max(n, k), max(k, m)))
            if form == "baddbmm":  # attention scores: beta=0 ignores the input
                return RuleCase(None, f"torch.baddbmm(x, x, x.transpose(1, 2){scale})", (2, n, n))
            if form == "baddbmm-method":
                return RuleCase(None, f"x.baddbmm(x, x{scale})", (2, n, n))
            if form == "addmv":
                return RuleCase(None, f"torch.addmv(x[:, 0], x, x[0]{scale})", (n, n))
            return RuleCase(None, f"torch.addbmm(x[0], x, x{scale})", (2, n, n))

        return addmm_case()
