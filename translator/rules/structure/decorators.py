"""S018 TorchDecorators: ``@torch.jit.script`` / ``@torch.compile`` go; ``@torch.no_grad()`` stops what it returns.

The rewriting lives in ``translator.rewrite.decorators`` (which decorators go, ``stop_returned_gradients``),
called where functions and methods are translated; this entry holds what it teaches and the cases that
test it.  The ``with torch.no_grad():`` block is S012.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register

#: helper bodies the cases decorate: each returns a value the forward both uses and differentiates through
HELPER_BODIES = (
    "return x * 0.5 * (1.0 + torch.erf(x / 1.4142135))",
    "return x.abs().mean(dim=1, keepdim=True) + 1.0",
    "return torch.tanh(x) * 2.0 - x",
)


@register
class TorchDecorators(Rule):
    code = "S018"
    name = "TorchDecorators"
    summary = "@torch.jit.script / @torch.compile -> removed; @torch.no_grad() def f -> f returns jax.lax.stop_gradient(...)"
    doc = RuleDoc(
        what=(
            "Decorators of functions and methods that PyTorch gives meaning: the TorchScript and compiler\n"
            "ones (`@torch.jit.script`, `@torch.jit.export`, `@torch.jit.ignore`, `@torch.jit.unused`,\n"
            "`@torch.jit.interface`, `@torch.compile`, `@torch.compiler.disable`), and the gradient contexts\n"
            "used as decorators (`@torch.no_grad()`, `@torch.inference_mode()`, `@torch.enable_grad()`), and\n"
            "`@torch.autocast(..., enabled=False)` (or dtype float32), which keeps a float32 body as written.\n"
            "Other decorators (`@staticmethod`, `@property`, the project's own) are kept as written."
        ),
        why=(
            "TorchScript and `torch.compile` choose how PyTorch compiles one function; run eagerly, the\n"
            "function computes the same without them. JAX compiles the whole traced step at once with\n"
            "`jax.jit`, which the caller applies, so the decorators go. A gradient context as a decorator\n"
            "is the `with` block of S012 around the whole body: JAX records nothing to switch off, and\n"
            "what `no_grad` means for the caller -- no gradient flows back through the values the\n"
            "function returns -- is `jax.lax.stop_gradient` on each of them."
        ),
        example=Example(
            torch=(
                "@torch.jit.script\ndef gelu(x):\n    return x * 0.5 * (1.0 + torch.erf(x / 1.4142135))\n\n\n"
                "@torch.no_grad()\ndef scale_of(x):\n    return x.mean() + 2.0\n\n\n"
                "class Net(nn.Module):\n    def forward(self, x):\n        return gelu(x) / scale_of(x)\n"
            ),
            flax=(
                "def gelu(x):\n    return (x * 0.5) * (1.0 + jax.lax.erf(x / 1.4142135))\n\n\n"
                "def scale_of(x):\n    return jax.lax.stop_gradient(jnp.mean(x) + 2.0)\n"
            ),
        ),
        fidelity="Exact: the same arithmetic; gradients through a no_grad function's results are zero, as in PyTorch.",
    )

    def cases(self):
        @st.composite
        def decorated_case(draw):
            width = draw(st.integers(2, 5))
            # torch.compile and inference_mode are translated alike but not drawn: compiling needs a C++
            # toolchain here, and inference-mode tensors may not enter PyTorch's autograd at all
            decorator = draw(st.sampled_from(["torch.jit.script", "torch.jit.unused", "torch.jit.ignore", "torch.no_grad()"]))
            body = draw(st.sampled_from(HELPER_BODIES))
            prelude = f"@{decorator}\ndef helper(x):\n    {body}\n"
            forward = draw(st.sampled_from(["x * helper(x)", "helper(x) - x", "torch.relu(helper(x * 1.5)) * x"]))
            return RuleCase(None, forward, (2, width), prelude=prelude)

        return decorated_case()
