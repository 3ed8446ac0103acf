"""T037 TorchIsTensor: ``torch.is_tensor(x)`` -> ``isinstance(x, jax.Array)``; ``x.is_floating_point()``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import SCALAR, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, op_name, paren, shapes


def _check(obj): ...


@register
class TorchIsTensor(Rule):
    code = "T037"
    name = "TorchIsTensor"
    summary = "torch.is_tensor(x) -> isinstance(x, jax.Array); x.is_floating_point() / torch.is_floating_point"
    torch_functions = ("torch.is_tensor", "torch.is_floating_point")
    tensor_methods = ("is_floating_point",)
    call_signature = signature_of(_check)
    doc = RuleDoc(
        what="`torch.is_tensor(v)` (tensor or not: None, a number, a list), `x.is_floating_point()`, `torch.is_floating_point(x)`.",
        why=(
            "JAX's array type is `jax.Array`; under `jit`, `grad` and `vmap` the traced values are\n"
            "instances of it too, so the test is a Python bool at trace time, as in PyTorch, and can\n"
            "steer an `if`. A floating dtype is `jnp.issubdtype(x.dtype, jnp.floating)` (a dtype is\n"
            "static)."
        ),
        example=Example(torch="if torch.is_tensor(mask):\n    x = x * mask", flax="if isinstance(mask, jax.Array):\n    x = x * mask"),
        fidelity=(
            "Exact for JAX arrays and traced values. A NumPy array handed to an un-jitted `apply` is not a\n"
            "`jax.Array` (PyTorch code would have received a tensor): pass `jnp.asarray(...)` inputs."
        ),
    )

    def emit_call(self, ctx):
        value = code_of(ctx.expr("obj"))
        if op_name(ctx) == "is_floating_point":
            return emit(f"jnp.issubdtype({paren(value)}.dtype, jnp.floating)", SCALAR)
        return emit(f"isinstance({value}, jax.Array)", SCALAR)

    def cases(self):
        @st.composite
        def is_tensor_case(draw):
            forms = [
                "x * (2.0 if torch.is_tensor(x) else 1.0)",
                "x * (2.0 if torch.is_tensor(x) and not torch.is_tensor(0.5) else 1.0)",
                "x + (1.0 if torch.is_tensor(x * 2) else 0.0)",
                "x * (3.0 if x.is_floating_point() else 1.0)",
                "x * (3.0 if torch.is_floating_point(x) and not x.long().is_floating_point() else 1.0)",
            ]
            if draw(st.booleans()):  # a conv output is still a tensor
                return RuleCase("nn.Conv2d(2, 2, 1)", "self.layer(x) * (2.0 if torch.is_tensor(self.layer(x)) else 0.5)", (1, 2, 3, 3))
            return RuleCase(None, draw(st.sampled_from(forms)), shapes(draw))

        return is_tensor_case()
