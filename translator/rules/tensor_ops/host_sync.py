"""T022 TorchHostSync: ``x.item()``, ``x.tolist()``, ``x.numpy()``, ``requires_grad_`` in forward are reported."""

from __future__ import annotations

from translator.rules.base import DiagnosticRule, Example, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import op_name, unsupported

HEADER = "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"


def _any(input, *args, **kwargs): ...


@register
class TorchHostSync(DiagnosticRule):
    code = "T022"
    name = "TorchHostSync"
    summary = "x.item() / x.tolist() / x.numpy() / x.requires_grad_() in forward: not traceable, reported"
    tensor_methods = ("item", "tolist", "numpy", "requires_grad_", "retain_grad", "backward")
    call_signature = signature_of(_any)
    doc = RuleDoc(
        what="Calls that leave the array world inside `forward`: `.item()`, `.tolist()`, `.numpy()`; and autograd bookkeeping `.requires_grad_()`, `.retain_grad()`, `.backward()`.",
        why=(
            "Under `jit` a value is a tracer with no concrete data: `.item()` or `float(x)` raises\n"
            "a ConcretizationError, and Python control flow on it cannot be traced (use `jnp.where`,\n"
            "`lax.cond`). JAX has no per-tensor gradient flag: `jax.grad` differentiates with respect to\n"
            "function arguments (parameters), and `jax.lax.stop_gradient` blocks a path."
        ),
        example=Example(torch="n = int(mask.sum().item())", flax="# TODO(torch2flax): T022 `.item()` reads a concrete value"),
        fidelity="Not translated.",
    )
    flagged_examples = (HEADER + "        return x.sum().item()\n", HEADER + "        y = x.requires_grad_()\n        return y\n",
                        HEADER + "        return x.numpy()\n", HEADER + "        y = x.retain_grad()\n        return x\n",
                        HEADER + "        y = x.sum().backward()\n        return x\n",
                        HEADER + "        return x.tolist()\n")

    def emit_call(self, ctx):
        op = op_name(ctx)
        if op in ("item", "tolist", "numpy"):
            return unsupported(ctx, f"`.{op}()` reads a concrete value: a traced JAX array has none under jit (keep it an array)")
        return unsupported(ctx, f"`.{op}()`: JAX has no per-tensor autograd state; gradients are taken by jax.grad over function arguments")
