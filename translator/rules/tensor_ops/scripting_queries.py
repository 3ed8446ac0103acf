"""T061 TorchScriptingQueries: ``torch.jit.is_scripting()`` and the other "am I being compiled?" queries -> ``False``.

An ``if`` whose test these decide keeps only the branch eager PyTorch runs (``translator.rewrite.eager_tests``).
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import SCALAR, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, shapes

#: queries that are False whenever PyTorch runs the model eagerly, as `check` compares it
EAGER_FALSE = (
    "torch.jit.is_scripting", "torch.jit.is_tracing", "torch.compiler.is_compiling", "torch.compiler.is_dynamo_compiling",
    "torch.compiler.is_exporting", "torch._dynamo.is_compiling", "torch.onnx.is_in_onnx_export",
)


def _query(): ...


@register
class TorchScriptingQueries(Rule):
    code = "T061"
    name = "TorchScriptingQueries"
    summary = "torch.jit.is_scripting() / torch.compiler.is_compiling() / ... -> False; an if they decide keeps the eager branch"
    torch_functions = EAGER_FALSE
    call_signature = signature_of(_query)
    doc = RuleDoc(
        what=(
            "`torch.jit.is_scripting()`, `torch.jit.is_tracing()`, `torch.compiler.is_compiling()`,\n"
            "`torch._dynamo.is_compiling()`, `torch.onnx.is_in_onnx_export()` and their kin: model code asks them to\n"
            "take another path under TorchScript, tracing, `torch.compile` or ONNX export\n"
            "(`if self.grad_checkpointing and not torch.jit.is_scripting():`)."
        ),
        why=(
            "Each is False when PyTorch runs the model eagerly, which is the program the translation\n"
            "reproduces (and `check` compares with). JAX has one way to run a module -- traced by `jit`\n"
            "or not, the same Python -- so there is nothing to ask: the query is `False`, and an `if`\n"
            "it decides keeps only the branch eager PyTorch takes (the other is never translated)."
        ),
        example=Example(
            torch="if torch.jit.is_scripting():\n    y = x * 2.0\nelse:\n    y = x + 1.0",
            flax="y = x + 1.0",
        ),
        fidelity="Exact: the branch PyTorch runs eagerly, as written.",
    )

    def emit_call(self, ctx):
        ctx.note("asked whether PyTorch is compiling, scripting or exporting: False when run eagerly, as here")
        return emit("False", SCALAR)

    def cases(self):
        @st.composite
        def query_case(draw):
            query = draw(st.sampled_from(["torch.jit.is_scripting()", "torch.jit.is_tracing()", "torch.compiler.is_compiling()",
                                          "torch._dynamo.is_compiling()", "torch.onnx.is_in_onnx_export()"]))
            form = draw(st.sampled_from([
                "x * (2.0 if {q} else 0.5)",
                "update(x)",
            ]))
            prelude = (  # `x.frobnicate()` runs only when compiling: never translated
                "def update(x):\n"
                f"    if {query}:\n        return x.frobnicate()\n"
                f"    if not {query} and x.shape[0] > 0:\n        x = x * 3.0\n"
                f"    elif {' or '.join(f'{q}()' for q in EAGER_FALSE)}:\n        x = x.frobnicate()\n"
                "    return x - 1.0\n"
            )
            return RuleCase(None, form.format(q=query), shapes(draw), prelude=prelude)

        return query_case()
