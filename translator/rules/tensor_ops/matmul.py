"""T019 TorchMatmul: ``torch.matmul``/``mm``/``bmm``/``outer``/``einsum`` (also the list form) -> ``jnp``."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, op_name, unsupported


def _matmul(input, *operands, out=None): ...


FUNCTIONS = {"matmul": "jnp.matmul", "mm": "jnp.matmul", "bmm": "jnp.matmul", "mv": "jnp.matmul", "outer": "jnp.outer",
             "ger": "jnp.outer", "dot": "jnp.dot", "inner": "jnp.inner", "einsum": "jnp.einsum"}


@register
class TorchMatmul(Rule):
    code = "T019"
    name = "TorchMatmul"
    summary = "torch.matmul / mm / bmm / mv / outer / dot / einsum (also its list form) -> jnp.matmul / outer / einsum"
    torch_functions = tuple(f"torch.{n}" for n in FUNCTIONS)
    tensor_methods = ("matmul", "mm", "bmm", "mv", "outer", "ger", "dot", "inner")
    call_signature = signature_of(_matmul)
    doc = RuleDoc(
        what="`torch.matmul(a, b)`, `a.mm(b)`, `torch.bmm`, `a.mv(v)`, `torch.outer`, `a.dot(b)`, `torch.einsum('bij,bjk->bik', a, b)` and `torch.einsum(eq, [a, b])`. (`a @ b` is handled by the rewriter.)",
        why=(
            "Same contractions; JAX takes einsum operands only as positional arguments, so PyTorch's\n"
            "list form is unpacked. Operands are brought to PyTorch's layout, since the contraction\n"
            "axes are PyTorch's. On GPU, JAX may run float32 matmuls in TF32 by default while PyTorch\n"
            "does not (PITFALLS 3c): set `jax_default_matmul_precision='highest'` to compare strictly."
        ),
        example=Example(torch="att = torch.einsum('bhqd,bhkd->bhqk', [q, k])", flax="att = jnp.einsum('bhqd,bhkd->bhqk', q, k)"),
        fidelity="Exact fp32 on CPU (same accumulation up to reordering, r < 1e-6).",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        operands = list(ctx.expr("operands").elements) if not ctx.is_default("operands") else []
        values = [e.value for e in operands]
        if op == "einsum":
            if len(values) == 1 and isinstance(values[0], (cst.List, cst.Tuple)):
                values = [e.value for e in values[0].elements]  # the list form einsum(eq, [a, b])
            if not isinstance(ctx.expr("input"), (cst.SimpleString, cst.ConcatenatedString, cst.Name, cst.Attribute)):
                return unsupported(ctx, "einsum's sublist format is not translated; use an equation string")
            equation = code_of(ctx.expr("input"))
            return emit(f"jnp.einsum({', '.join([equation, *(code_of(v) for v in values)])})")
        if len(values) != 1:
            return unsupported(ctx, f"`{op}` takes two operands")
        return emit(f"{FUNCTIONS[op]}({code_of(ctx.plain('input'))}, {code_of(values[0])})")

    def cases(self):
        @st.composite
        def matmul_case(draw):
            b, n, k, m = (draw(st.integers(1, 4)) for _ in range(4))
            form = draw(st.sampled_from([
                ("torch.matmul(x, x.transpose(-1, -2))", (b, n, k)), ("x.matmul(x[0].t())", (b, n, k)),
                ("torch.mm(x, x.t())", (n, k)), ("x.mm(x.t() * 2)", (n, k)), ("torch.bmm(x, x.transpose(1, 2))", (b, n, k)),
                ("x.mv(x[0])", (n, n)), ("torch.outer(x, x * 2)", (k,)), ("x.outer(x + 1)", (k,)), ("x.dot(x * 3)", (k,)),
                ("x.bmm(x.transpose(1, 2) * 2)", (b, n, k)), ("torch.mv(x, x[0] * 2)", (n, n)), ("torch.ger(x, x * 2)", (k,)),
                ("x.ger(x + 1)", (k,)), ("torch.dot(x, x * 3)", (k,)), ("torch.inner(x, x * 2)", (b, n, k)),
                ("x.inner(x[0] + 1)", (n, k)),
                ("torch.einsum('bij,bkj->bik', x, x * 2)", (b, n, k)), ("torch.einsum('bij,bkj->bik', [x, x * 2])", (b, n, k)),
                ("torch.einsum('ij->j', x)", (n, k)), ("torch.einsum('...ij,...ij->...i', (x, x))", (b, n, k)),
                (f"torch.matmul(x, torch.ones({k}, {m}))", (b, n, k)),
            ]))
            if draw(st.booleans()):  # layout: contracting a conv output over its channels
                return RuleCase("nn.Conv2d(2, 3, 1)", draw(st.sampled_from([
                    "torch.einsum('bchw,bdhw->bcd', self.layer(x), self.layer(x))",
                    "torch.matmul(self.layer(x).flatten(2), self.layer(x).flatten(2).transpose(1, 2))",
                ])), (2, 2, 3, 3))
            return RuleCase(None, form[0], form[1])

        return matmul_case()
