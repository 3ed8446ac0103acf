"""T007 TorchReduction: ``x.sum(dim, keepdim)``, mean, prod, amax, amin, logsumexp, cumsum, logcumsumexp -> ``jnp`` with ``axis``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Emitted, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    axes_for,
    bind,
    emit,
    op_name,
    reduction_arguments,
    shapes,
    unsupported,
)


def _reduce(input, dim=None, keepdim=False, *, dtype=None, out=None): ...


REDUCTIONS = {
    "sum": "jnp.sum",
    "nansum": "jnp.nansum",
    "mean": "jnp.mean",
    "nanmean": "jnp.nanmean",
    "prod": "jnp.prod",
    "amax": "jnp.amax",
    "amin": "jnp.amin",
    "logsumexp": "jax.nn.logsumexp",
    "cumsum": "jnp.cumsum",
    "logcumsumexp": "jax.lax.cumlogsumexp",
}
#: scans keep every axis (the layout can stay)
SCANS = ("cumsum", "logcumsumexp")


@register
class TorchReduction(Rule):
    code = "T007"
    name = "TorchReduction"
    summary = "sum / mean / prod / amax / amin / logsumexp / cumsum / logcumsumexp with dim, keepdim -> jnp with axis"
    torch_functions = tuple(f"torch.{n}" for n in REDUCTIONS)
    tensor_methods = tuple(REDUCTIONS)
    call_signature = signature_of(_reduce)
    doc = RuleDoc(
        what=(
            "Reductions over all axes or over `dim` (an int or a tuple), with `keepdim` and `dtype=`:\n"
            "sum, nansum, mean, nanmean, prod, amax, amin, logsumexp; and the scans cumsum(dim) and\n"
            "logcumsumexp(dim) (`jax.lax.cumlogsumexp`)."
        ),
        why=(
            "NumPy spells PyTorch's `dim`/`keepdim` as `axis`/`keepdims`. After a channels-last conv the\n"
            "PyTorch axis is not the JAX axis: `x.mean((2, 3))` on NCHW is `jnp.mean(x, axis=(1, 2))`\n"
            "on NHWC. The translation remaps the axes when the result's axis order is PyTorch's (and\n"
            "otherwise transposes back first), so a dim is never applied to the wrong axis.\n"
            "amax/amin split the gradient evenly between tied maxima in both frameworks."
        ),
        example=Example(
            torch="self.conv = nn.Conv2d(3, 8, 3)\ny = self.conv(x).mean(dim=(2, 3))",
            flax=(
                'self.conv = nn.Conv(8, kernel_size=(3, 3), padding="VALID", conv_general_dilated=conv_for_cpu)\n'
                "y = jnp.mean(self.conv(jnp.transpose(x, (0, 2, 3, 1))), axis=(1, 2))  # NHWC: H, W are axes 1, 2"
            ),
        ),
        fidelity="Same sums in a possibly different order: outputs within float32 rounding (~1e-7 relative).",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        arguments = reduction_arguments(ctx)
        if isinstance(arguments, Emitted):
            return arguments
        dims, keepdim = arguments
        if op in ("logsumexp", *SCANS) and dims is None:
            return unsupported(ctx, f"`{op}` needs `dim`")
        if op in SCANS:
            keepdim = True  # a scan keeps every axis: the layout can stay
        x, axis, fact = axes_for(ctx, dims, keepdim)
        if op == "logcumsumexp":
            if not ctx.is_default("dtype"):
                return unsupported(ctx, "`dtype=` is not an argument of `logcumsumexp`")
            if str(axis).startswith("-"):  # lax's scans take a non-negative axis
                return emit(bind(x, lambda v: f"jax.lax.cumlogsumexp({v}, axis={axis} % {v}.ndim)"), fact)
            return emit(f"jax.lax.cumlogsumexp({x}, axis={axis})", fact)
        args = [x]
        if axis is not None:
            args.append(f"axis={axis}")
        if keepdim and op not in SCANS:
            args.append("keepdims=True")
        if not ctx.is_default("dtype"):
            if op in ("logsumexp", "amax", "amin"):
                return unsupported(ctx, f"`dtype=` is not an argument of `{op}`")
            args.append(f"dtype={code_of(ctx.expr('dtype'))}")
        return emit(f"{REDUCTIONS[op]}({', '.join(args)})", fact)

    def cases(self):
        @st.composite
        def reduce_case(draw):
            op = draw(st.sampled_from(sorted(REDUCTIONS)))
            shape = shapes(draw)
            rank = len(shape)
            if op in ("logsumexp", *SCANS) or draw(st.booleans()):
                if op in ("prod", "logsumexp", *SCANS) or draw(st.booleans()):
                    dim = draw(st.integers(-rank, rank - 1))
                else:
                    dim = tuple(draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True)))
                args = [f"dim={dim!r}"] if draw(st.booleans()) else [repr(dim)]
                if op not in SCANS and draw(st.booleans()):
                    args.append("keepdim=True")
            else:
                args = []
            if op in ("sum", "mean") and draw(st.booleans()):
                args.append("dtype=torch.float32")
            if draw(st.booleans()):  # layout: a reduction right after a conv
                conv_dim = draw(st.sampled_from([1, -1, (2, 3), (1, 2), (1, 2, 3), 2]))
                conv_dim = conv_dim if op not in ("prod", "logsumexp", *SCANS) or isinstance(conv_dim, int) else 1
                keep = ", keepdim=True" if op not in SCANS and draw(st.booleans()) else ""
                forward = f"torch.{op}(self.layer(x), dim={conv_dim!r}{keep})" if draw(st.booleans()) else f"self.layer(x).{op}({conv_dim!r}{keep})"
                return RuleCase("nn.Conv2d(2, 3, 1)", forward, (2, 2, 3, 4))
            if draw(st.booleans()):
                return RuleCase(None, f"torch.{op}({', '.join(['x', *args])})", shape)
            return RuleCase(None, f"x.{op}({', '.join(args)})", shape)

        return reduce_case()
