"""O020 TorchClipGrad: ``clip_grad_norm_`` / ``clip_grad_value_`` -> a transformation first in the optax chain."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Emitted, Example, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.training._common import OptimizerCase, TrainingRule, expression, src

SUPPORT_NAME = "torch_clip_grad_norm"
SUPPORT = '''
def torch_clip_grad_norm(max_norm, norm_type=2.0):
    """torch.nn.utils.clip_grad_norm_ (O020): every gradient scaled by min(1, max_norm / (total_norm +
    1e-6)), the total norm taken over all gradients together (optax.clip_by_global_norm divides by the
    norm itself and only above max_norm; 2-norm only)."""

    def update(updates, state, params=None):
        leaves = jax.tree.leaves(updates)
        if norm_type == float("inf"):
            total = jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in leaves]))
        elif norm_type == 2.0:
            total = jnp.sqrt(sum(jnp.sum(g * g) for g in leaves))
        else:
            total = sum(jnp.sum(jnp.abs(g) ** norm_type) for g in leaves) ** (1.0 / norm_type)
        scale = jnp.minimum(max_norm / (total + 1e-6), 1.0)
        return jax.tree.map(lambda g: g * scale, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)
'''


def _clip(parameters, max_norm=None, norm_type=2.0, error_if_nonfinite=False, foreach=None, clip_value=None): ...


@register
class TorchClipGrad(TrainingRule):
    code = "O020"
    name = "TorchClipGrad"
    summary = "clip_grad_norm_(params, max_norm, norm_type) -> torch_clip_grad_norm; clip_grad_value_(params, v) -> optax.clip(v)"
    torch_gradient_functions = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_")
    call_signature = signature_of(_clip)
    doc = RuleDoc(
        what=(
            "`torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=2.0)` and\n"
            "`clip_grad_value_(parameters, clip_value)` between `loss.backward()` and `optimizer.step()`."
        ),
        why=(
            "torch clips the gradients in place before the optimizer reads them; in optax the clip is\n"
            "the first transformation of the chain. torch scales by `max_norm / (total_norm + 1e-6)`\n"
            "(always, capped at 1), `optax.clip_by_global_norm` by `max_norm / total_norm` (only above\n"
            "max_norm): a relative difference of 1e-6 / total_norm, above float32 rounding for norms\n"
            "under ~8 (measured 20 SGD steps, float64: Δ 6.0e-8 with clip_by_global_norm, 4.4e-16 with\n"
            "`torch_clip_grad_norm`), so the exact support transformation is emitted; it also reads\n"
            "`norm_type` (inf, p). `clip_grad_value_` is `optax.clip(v)` exactly."
        ),
        example=Example(
            torch="torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)",
            flax="torch_clip_grad_norm(1.0)  # chained first: optax.chain(torch_clip_grad_norm(1.0), optimizer)",
        ),
        fidelity="Exact (20 SGD and Adam steps, float64, norm types 2, 1, inf and value clipping: Δ 4.4e-16; float32: 1.6e-6).",
    )

    def emit_call(self, ctx):
        function = getattr(ctx.target, "__name__", "")
        if function == "clip_grad_value_":
            if ctx.is_default("max_norm") and ctx.is_default("clip_value"):
                ctx.unsupported("clip_grad_value_ needs `clip_value`")
            value = src(ctx, "clip_value" if not ctx.is_default("clip_value") else "max_norm")
            return Emitted(expression(f"optax.clip({value})"))
        if ctx.is_default("max_norm"):
            ctx.unsupported("clip_grad_norm_ needs `max_norm`")
            return Emitted(expression("None"))
        ctx.support(SUPPORT_NAME, SUPPORT)
        norm_type = "" if ctx.is_default("norm_type") else f", norm_type={src(ctx, 'norm_type')}"
        return Emitted(expression(f"torch_clip_grad_norm({src(ctx, 'max_norm')}{norm_type})"))

    def cases(self):
        @st.composite
        def clip_case(draw):
            optimizer = draw(st.sampled_from(["optim.SGD(model.parameters(), lr=0.05, momentum=0.9)",
                                              "optim.Adam(model.parameters(), lr=0.01)"]))
            clip = draw(st.sampled_from([
                "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={v})",
                "torch.nn.utils.clip_grad_norm_(model.parameters(), {v}, norm_type=1.0)",
                "torch.nn.utils.clip_grad_norm_(model.parameters(), {v}, norm_type=float('inf'))",
                "torch.nn.utils.clip_grad_value_(model.parameters(), clip_value={v})",
            ])).format(v=draw(st.sampled_from([0.5, 1.0, 5.0])))
            return OptimizerCase(optimizer, clip=clip)

        return clip_case()
