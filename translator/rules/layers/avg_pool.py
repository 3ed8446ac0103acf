"""L011 TorchAvgPool: ``nn.AvgPool1d/2d`` and ``F.avg_pool{1,2}d`` -> ``nn.avg_pool`` or a sum pool / divisor."""

from __future__ import annotations

import libcst as cst
import torch
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none
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
from translator.rules.layers._spatial import bind, ceil_overhang, lax_pad, sizes, window
from translator.rules.registry import register

SPATIAL_DIMS = {
    torch.nn.AvgPool1d: 1, torch.nn.AvgPool2d: 2,
    torch.nn.functional.avg_pool1d: 1, torch.nn.functional.avg_pool2d: 2,
}


def _avg_pool(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None): ...


def simple_keywords(kernel, stride, padding, include_pad) -> dict[str, str]:
    """``nn.avg_pool`` keywords when no ceil mode or divisor override is involved."""
    keywords = {"window_shape": repr(kernel), "strides": repr(stride)}
    if any(padding):
        keywords["padding"] = repr(tuple((p, p) for p in padding))
    if not include_pad:
        keywords["count_include_pad"] = "False"
    return keywords


def avg_pool_body(ctx, n: int):
    """A function of the input's name giving the pooled expression, or None (with a diagnostic)."""
    kernel = sizes(ctx, "kernel_size", n)
    stride = sizes(ctx, "stride", n, default=kernel)  # PyTorch's stride defaults to the kernel size
    padding = sizes(ctx, "padding", n)
    ceil_mode = literal_or_none(ctx, "ceil_mode")
    include_pad = literal_or_none(ctx, "count_include_pad")
    divisor = literal_or_none(ctx, "divisor_override") if "divisor_override" in ctx.signature.parameters else None
    if NotLiteral in (ceil_mode, include_pad, divisor) or None in (kernel, stride, padding):
        ctx.unsupported("`ceil_mode`, `count_include_pad` and `divisor_override` must be constants")
        return None
    if not ceil_mode and divisor is None:
        keywords = simple_keywords(kernel, stride, padding, include_pad)
        arguments = ", ".join(f"{k}={v}" for k, v in keywords.items())

        def pool(x: str) -> str:
            return f"nn.avg_pool({x}, {arguments})"

        pool.keywords = keywords
        return pool

    def body(x: str) -> str:
        extra = [ceil_overhang(f"{x}.shape[{i + 1}]", k, s, p) if ceil_mode else "0" for i, (k, s, p) in enumerate(zip(kernel, stride, padding))]
        highs = [f"{p} + {e}" if e != "0" else str(p) for p, e in zip(padding, extra)]
        pool = f"jax.lax.add, {window(kernel)}, {window(stride)}, 'VALID'"
        total = f"jax.lax.reduce_window({lax_pad(x, '0.0', padding, highs)}, 0.0, {pool})"
        if divisor is not None:
            return f"{total} / {divisor}"
        if include_pad:  # explicit padding counts, the ceil-mode overhang does not
            padded = ", ".join(f"{x}.shape[{i + 1}] + {2 * p}" for i, p in enumerate(padding))
            ones = lax_pad(f"jnp.ones((1, {padded}, 1), {x}.dtype)", "0.0", (0,) * n, extra)
        else:  # only input cells count
            ones = lax_pad(f"jnp.ones((1, *{x}.shape[1:-1], 1), {x}.dtype)", "0.0", padding, highs)
        return f"{total} / jax.lax.reduce_window({ones}, 0.0, {pool})"

    return body


@register
class TorchAvgPool(Rule):
    code = "L011"
    name = "TorchAvgPool"
    summary = "nn.AvgPool{1,2}d / F.avg_pool{1,2}d -> nn.avg_pool on NHWC; ceil_mode/divisor_override as sum / count"
    torch_classes = ("torch.nn.AvgPool1d", "torch.nn.AvgPool2d")
    torch_functions = ("torch.nn.functional.avg_pool1d", "torch.nn.functional.avg_pool2d")
    call_signature = signature_of(_avg_pool)
    doc = RuleDoc(
        what=(
            "`nn.AvgPool1d/2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,\n"
            "divisor_override=None)` and `F.avg_pool1d/2d`."
        ),
        why=(
            "Flax pools are functions on channels-last input. PyTorch's stride defaults to the kernel\n"
            "size, Flax's to 1, so it is always written out. `count_include_pad` has the same meaning in\n"
            "both (PITFALLS 1, AvgPool2d). `nn.avg_pool` has no ceil mode: PyTorch's `ceil_mode=True`\n"
            "adds a last partial window whose divisor counts the explicit padding but NOT the overhang\n"
            "beyond it; padding further and averaging is off by 25% (PITFALLS 1 and 2.4: 0.225). The\n"
            "translation sums with `jax.lax.reduce_window` over input padded by the ceil overhang and\n"
            "divides by the same sum over a mask of counted cells; `divisor_override=c` divides the sum by c."
        ),
        example=Example(
            torch="self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)\nx = self.pool(x)",
            flax=(
                "self.pool = partial(nn.avg_pool, window_shape=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1)),\n"
                "                    count_include_pad=False)\n"
                "x = self.pool(jnp.transpose(x, (0, 2, 3, 1)))  # NCHW -> NHWC: Flax pools are channels-last"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance (PITFALLS measured 0 / 6e-8; ceil-mode sum / count 1.2e-7;\n"
            "divisor_override 0). The ceil-mode form is verified against PyTorch by this rule's cases."
        ),
    )

    def build_layer(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        body = avg_pool_body(ctx, n)
        if body is None:
            return LayerBuild(cst.Name("None"), CallSpec())

        def inline(call_ctx):
            return Emitted(bind(call_ctx.channels_last("input", n + 2), body), channels_last(n + 2))

        notes = ("AvgPool -> nn.avg_pool on channels-last input; PyTorch's stride defaults to the kernel size",)
        if getattr(body, "keywords", None) is not None:  # no ceil mode, no divisor: a plain nn.avg_pool
            keywords = {k: cst.parse_expression(v) for k, v in body.keywords.items()}
            return LayerBuild(
                call("partial", [cst.parse_expression("nn.avg_pool")], keywords),
                CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
                notes=notes,
            )
        return LayerBuild(None, CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"), notes=notes, inline=inline)

    def emit_call(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        body = avg_pool_body(ctx, n)
        if body is None:
            return Emitted(cst.Name("None"))
        ctx.note("F.avg_pool -> average pool on channels-last input; stride defaults to the kernel size")
        return Emitted(bind(ctx.channels_last("input", n + 2), body), channels_last(n + 2))

    def cases(self):
        @st.composite
        def avg_pool_case(draw):
            # the first value of each choice is its trap, so that the smallest example (tried first) hits
            # the ceil-mode overhang, the padding divisor and an even size with stride 2 at once
            n = draw(st.sampled_from([2, 1]))
            kernel = draw(st.sampled_from([3, 2, 1, 4]))
            stride = draw(st.sampled_from([2, None, 1, 3]))
            padding = min(draw(st.sampled_from([1, 0, 2])), kernel // 2)
            ceil_mode = draw(st.sampled_from([True, False]))
            include_pad = draw(st.sampled_from([False, True]))
            size = max(kernel, draw(st.sampled_from([8, 7, 5, 4, 6, 9, 10, 12, 11])))
            args = f"{kernel}, stride={stride}, padding={padding}, ceil_mode={ceil_mode}, count_include_pad={include_pad}"
            if n == 2 and draw(st.integers(0, 3)) == 0:
                args += f", divisor_override={draw(st.integers(1, 5))}"
            shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *(size,) * n)
            if draw(st.booleans()):
                return RuleCase(None, f"F.avg_pool{n}d(x, {args})", shape)
            return RuleCase(f"nn.AvgPool{n}d({args})", "self.layer(x)", shape)

        return avg_pool_case()
