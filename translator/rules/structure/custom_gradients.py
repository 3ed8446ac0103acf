"""S022 TorchCustomGradient: a ``torch.autograd.Function`` -> a ``jax.custom_vjp`` function.

The rewriting lives in ``translator.rewrite.custom_gradients``; calls ``Fn.apply(x)`` become
``fn(x)`` in ``translator.rewrite.body``. What it cannot translate is reported as X007.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register

STE = '''class ClippedSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, limit):
        ctx.save_for_backward(input)
        ctx.limit = limit
        return torch.sign(input) * limit

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input.abs() > ctx.limit] = 0
        return grad_input, None
'''

SWISH = '''class Swish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_output):
        x, s = ctx.saved_tensors
        return grad_output * (s * (1 + x * (1 - s)))
'''


@register
class TorchCustomGradient(Rule):
    code = "S022"
    name = "TorchCustomGradient"
    summary = "torch.autograd.Function (forward/backward) -> jax.custom_vjp (primal, fwd with residuals, bwd)"
    doc = RuleDoc(
        what=(
            "A subclass of `torch.autograd.Function` with static `forward(ctx, ...)` and `backward(ctx, ...)`\n"
            "(straight-through estimators, memory-efficient activations), and its calls `Fn.apply(x)`."
        ),
        why=(
            "JAX differentiates functions, not a tape, so a hand-written gradient is a `jax.custom_vjp`:\n"
            "the primal function, a forward rule returning `(output, residuals)` and a backward rule\n"
            "mapping `(residuals, cotangent)` to one cotangent per input (`None` for a non-array input,\n"
            "as PyTorch's backward returns `None`). `ctx.save_for_backward(...)` and `ctx.name = value`\n"
            "become the residuals; `ctx.saved_tensors` and `ctx.name` read them back. Other uses of `ctx`\n"
            "(`needs_input_grad`, `mark_dirty`) are reported (X007)."
        ),
        example=Example(
            torch=SWISH + "\n\nclass Net(nn.Module):\n    def forward(self, x):\n        return Swish.apply(x)\n",
            flax=(
                "@jax.custom_vjp\ndef swish(x):\n    s = nn.sigmoid(x)\n    return x * s\n\n\n"
                "def _swish_fwd(x):\n    s = nn.sigmoid(x)\n    return x * s, (x, s)\n\n\n"
                "def _swish_bwd(residuals, grad_output):\n    x, s = residuals[0:2]\n"
                "    return (grad_output * (s * (1 + x * (1 - s))),)\n\n\nswish.defvjp(_swish_fwd, _swish_bwd)\n...\nreturn swish(x)"
            ),
        ),
        fidelity="Exact: the same forward, and the user's backward as the gradient (measured: outputs and input gradients equal within float32 rounding).",
    )

    def cases(self):
        @st.composite
        def custom_gradient_case(draw):
            shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
            if draw(st.booleans()):
                limit = draw(st.sampled_from([0.5, 1.0, 2.0]))
                return RuleCase(f"nn.Linear({shape[-1]}, {shape[-1]})", f"ClippedSTE.apply(self.layer(x), {limit})",
                                shape, prelude=STE)
            return RuleCase(None, "Swish.apply(x) * 2", shape, prelude=SWISH)

        return custom_gradient_case()
