"""L012 TorchAdaptivePool: ``nn.AdaptiveAvgPool1d/2d``, ``nn.AdaptiveMaxPool1d/2d`` and their ``F.`` forms."""

from __future__ import annotations

import libcst as cst
import torch
from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.base import (
    CallSpec,
    Emitted,
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    channels_last,
    signature_of,
)
from translator.rules.layers._spatial import bind
from translator.rules.registry import register

F = torch.nn.functional
#: torch object -> (spatial dims, reduction)
TARGETS = {
    torch.nn.AdaptiveAvgPool1d: (1, "mean"), torch.nn.AdaptiveAvgPool2d: (2, "mean"),
    torch.nn.AdaptiveMaxPool1d: (1, "max"), torch.nn.AdaptiveMaxPool2d: (2, "max"),
    F.adaptive_avg_pool1d: (1, "mean"), F.adaptive_avg_pool2d: (2, "mean"),
    F.adaptive_max_pool1d: (1, "max"), F.adaptive_max_pool2d: (2, "max"),
}
LOOP = "ij"


def _adaptive_pool(input, output_size, return_indices=False): ...


def adaptive_body(ctx, n: int, reduction: str):
    """The pooled expression as a function of the input's name, or None (with a diagnostic)."""
    if "return_indices" in ctx.signature.parameters and literal_or_none(ctx, "return_indices") is not False:
        ctx.unsupported("`return_indices=True` has no Flax equivalent")
        return None
    size = literal_or_none(ctx, "output_size")
    if isinstance(size, int) or size is None:
        size = (size,) * n
    if size is NotLiteral or not isinstance(size, (tuple, list)) or len(size) != n:
        ctx.unsupported(f"`output_size` must be a constant int or {n}-tuple")
        return None
    axes = tuple(range(1, n + 1))

    def body(x: str) -> str:
        # None keeps the input size: one bin per element
        outs = [f"{x}.shape[{a}]" if o is None else str(o) for a, o in zip(axes, size)]
        if reduction == "mean" and all(o == 1 for o in size):
            return f"{x}.mean({axes[0] if n == 1 else axes}, keepdims=True)"
        # bin i of an axis of size H covers [floor(i H / o), ceil((i + 1) H / o)): bins overlap when o
        # does not divide H, so this is not a strided pool
        bins = ", ".join(
            f"{v}:{v} + 1" if o is None else f"{v} * {x}.shape[{a}] // {o}:-(-({v} + 1) * {x}.shape[{a}] // {o})"
            for v, a, o in zip(LOOP, axes, size)
        )
        cell = f"{x}[:, {bins}]"
        if reduction == "mean":
            value = f"{cell}.mean({axes[0] if n == 1 else axes})"
        else:  # the first maximum of the bin, so that tie gradients go to one element as in PyTorch
            value = (
                f"(lambda w: jnp.take_along_axis(w, w.argmax(1, keepdims=True), 1)[:, 0])"
                f"({cell}.reshape({x}.shape[0], -1, {x}.shape[-1]))"
            )
        for v, o in reversed(list(zip(LOOP, outs))):
            value = f"jnp.stack([{value} for {v} in range({o})], 1)"
        return value

    return body


@register
class TorchAdaptivePool(Rule):
    code = "L012"
    name = "TorchAdaptivePool"
    summary = "nn.Adaptive{Avg,Max}Pool{1,2}d -> static bins [floor(iH/o), ceil((i+1)H/o)) on NHWC"
    torch_classes = (
        "torch.nn.AdaptiveAvgPool1d", "torch.nn.AdaptiveAvgPool2d",
        "torch.nn.AdaptiveMaxPool1d", "torch.nn.AdaptiveMaxPool2d",
    )
    torch_functions = (
        "torch.nn.functional.adaptive_avg_pool1d", "torch.nn.functional.adaptive_avg_pool2d",
        "torch.nn.functional.adaptive_max_pool1d", "torch.nn.functional.adaptive_max_pool2d",
    )
    call_signature = signature_of(_adaptive_pool)
    doc = RuleDoc(
        what=(
            "`nn.AdaptiveAvgPool1d/2d(output_size)`, `nn.AdaptiveMaxPool1d/2d(output_size)` and the\n"
            "`F.adaptive_*_pool*d` functions, for any output size (None entries keep the input size)."
        ),
        why=(
            "Flax has no adaptive pool. PyTorch's bin i covers [floor(i*H/o), ceil((i+1)*H/o)): when o\n"
            "does not divide H the bins have different sizes and overlap, so `avg_pool(k=s=H//o)` gives\n"
            "the wrong shape and `jax.image.resize` the wrong values (PITFALLS 1 AdaptiveAvgPool2d: r 52%;\n"
            "2.5). The input size is only known when the function is traced, but shapes are static under\n"
            "jit, so the bins are computed from `x.shape` in Python and each bin is reduced. Output size 1\n"
            "is a mean over the spatial axes. Max bins gather their first maximum (argmax), so tie\n"
            "gradients go to one element as in PyTorch instead of being split."
        ),
        example=Example(
            torch="self.pool = nn.AdaptiveAvgPool2d(1)\nx = self.pool(x)",
            flax="x = (jnp.transpose(x, (0, 2, 3, 1))).mean((1, 2), keepdims=True)  # NHWC: H, W are axes 1, 2",
        ),
        fidelity=(
            "Equal within float32 tolerance (PITFALLS measured o=1: 4.5e-8; 10->7 and (10,13)->(3,5):\n"
            "<= 1.8e-7 / 1.2e-7; max 0 / 4.8e-7)."
        ),
    )

    def build_layer(self, ctx):
        n, reduction = TARGETS[ctx.target]
        body = adaptive_body(ctx, n, reduction)
        if body is None:
            return LayerBuild(cst.Name("None"), CallSpec())

        def inline(call_ctx):
            return Emitted(bind(call_ctx.channels_last("input", n + 2), body), channels_last(n + 2))

        return LayerBuild(
            None,
            CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
            notes=("Adaptive pool -> a reduction over static bins computed from the input's shape",),
            inline=inline,
        )

    def emit_call(self, ctx):
        n, reduction = TARGETS[ctx.target]
        body = adaptive_body(ctx, n, reduction)
        if body is None:
            return Emitted(cst.Name("None"))
        ctx.note("adaptive pool -> a reduction over static bins computed from the input's shape")
        return Emitted(bind(ctx.channels_last("input", n + 2), body), channels_last(n + 2))

    def cases(self):
        @st.composite
        def adaptive_case(draw):
            # first values are the traps: non-dividing sizes (overlapping bins) and ties in max bins
            n = draw(st.sampled_from([2, 1]))
            kind = draw(st.sampled_from(["Max", "Avg"]))
            spatial = tuple(draw(st.sampled_from([10, 7, 12, 5, 1, 3, 8])) for _ in range(n))
            # output sizes that do not divide the input (overlapping bins), 1, None, and larger than the input
            out = st.sampled_from([3, 7, 4, 2, 5, 8, 1])
            if n == 1 or draw(st.sampled_from([False, True])):
                size = draw(out)
            else:
                size = (draw(st.one_of(out, st.none())), draw(st.one_of(out, st.none())))
            shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial)
            extra = {"input_range": (-1.0, 0.0)} if kind == "Max" and draw(st.sampled_from([True, False])) else {}
            if draw(st.booleans()):
                return RuleCase(None, f"F.adaptive_{kind.lower()}_pool{n}d(x, {size!r})", shape, **extra)
            return RuleCase(f"nn.Adaptive{kind}Pool{n}d({size!r})", "self.layer(x)", shape, **extra)

        return adaptive_case()
