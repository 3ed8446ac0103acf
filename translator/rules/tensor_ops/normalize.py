"""T030 TorchNormalize: ``F.normalize(x, p, dim, eps)`` -> x / max(||x||_p, eps) with PyTorch's gradients."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import axes_for, bind, emit, shapes, unsupported
from translator.rules.tensor_ops.norm import ABS, SAFE_SQRT


def _normalize(input, p=2.0, dim=1, eps=1e-12, out=None): ...


INFINITY = {"float('inf')", 'float("inf")', "math.inf", "torch.inf", "np.inf", "numpy.inf"}


def p_value(ctx):
    """The constant ``p``; ``float('inf')`` and ``math.inf`` are read as infinity."""
    if not ctx.is_default("p") and code_of(ctx.expr("p")).strip() in INFINITY:
        return float("inf")
    return literal_or_none(ctx, "p")


@register
class TorchNormalize(Rule):
    code = "T030"
    name = "TorchNormalize"
    summary = "F.normalize(x, p, dim, eps) -> x / where(n >= eps, n, eps), n the p-norm kept on dim (p = 2, 1, inf)"
    torch_functions = ("torch.nn.functional.normalize",)
    call_signature = signature_of(_normalize)
    doc = RuleDoc(
        what="`F.normalize(x)`, `F.normalize(x, dim=-1)`, `F.normalize(x, p=1, dim=1, eps=1e-6)`; p in 2, 1, inf.",
        why=(
            "Flax has no `normalize`; `x / jnp.linalg.norm(x, axis=dim, keepdims=True)` differs twice:\n"
            "PyTorch divides by `max(norm, eps)` (a zero row stays zero instead of nan), and the\n"
            "gradient of the 2-norm of a zero row is 0 in PyTorch but nan in JAX (sqrt at 0). The norm\n"
            "is written with the same zero-safe square root as T024 and clamped with `jnp.where`\n"
            "(PyTorch's clamp_min passes the gradient where norm >= eps). PyTorch's default `dim` is 1:\n"
            "on a channels-last value it is the channel axis, remapped."
        ),
        example=Example(
            torch="y = F.normalize(x, dim=-1)",
            flax=(
                "y = x / (lambda _n: jnp.where(_n >= 1e-12, _n, 1e-12))((lambda _s: jnp.where(_s == 0, 0.0, "
                "jnp.sqrt(jnp.where(_s == 0, 1.0, _s))))(jnp.sum(jnp.square(x), axis=-1, keepdims=True)))"
            ),
        ),
        fidelity="Outputs within float32 rounding; gradients identical, including all-zero rows.",
    )

    def emit_call(self, ctx):
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` of normalize is not translated")
        p, dim, eps = p_value(ctx), literal_or_none(ctx, "dim"), literal_or_none(ctx, "eps")
        if NotLiteral in (p, dim, eps) or not isinstance(dim, int):
            return unsupported(ctx, "`p`, `dim` and `eps` must be constants (`dim` one axis)")
        x, axis, fact = axes_for(ctx, dim, True)
        tail = f", axis={axis}, keepdims=True"
        if p in (2, 2.0):
            norm = SAFE_SQRT.format(s=f"jnp.sum(jnp.square({{v}}){tail})")
        elif p in (1, 1.0):
            norm = f"jnp.sum({ABS.format(x='{v}')}{tail})"
        elif p == float("inf"):
            norm = f"jnp.amax({ABS.format(x='{v}')}{tail})"
        else:
            return unsupported(ctx, f"`p={p!r}` is not translated (only 2, 1, inf)")
        clamp = f"(lambda _n: jnp.where(_n >= {eps!r}, _n, {eps!r}))"
        return emit(bind(x, lambda v: f"{v} / {clamp}({norm.replace('{v}', v)})"), fact)

    def cases(self):
        @st.composite
        def normalize_case(draw):
            shape = shapes(draw, min_rank=2, min_size=2)  # a one-element slice normalises to its sign: zero gradient, noise
            rank = len(shape)
            args = []
            p = draw(st.sampled_from(["", "p=2", "p=1.0", "p=float('inf')"]))
            if p:
                args.append(p)
            if draw(st.booleans()):
                args.append(f"dim={draw(st.integers(-rank, rank - 1))}")
            if draw(st.booleans()):
                args.append("eps=0.5")  # large enough that some rows are clamped
            x = draw(st.sampled_from(["x", "x.round()"]))  # rounded inputs give all-zero rows
            if draw(st.booleans()):  # after a conv: dim 1 is the channel axis of a channels-last value
                return RuleCase("nn.Conv2d(2, 3, 1)", f"F.normalize(self.layer(x), {', '.join(a for a in args if not a.startswith('dim'))})",
                                (1, 2, 3, 3))
            return RuleCase(None, f"F.normalize({', '.join([x, *args])})", shape, input_range=(-1.0, 1.0))

        return normalize_case()
