"""L010 TorchMaxPool: ``nn.MaxPool1d/2d/3d`` and ``F.max_pool{1,2,3}d`` -> ``nn.max_pool`` on NHWC
(``max_pool_tiles``, the same pool with a fast exact derivative, where the windows tile the input)."""

from __future__ import annotations

import libcst as cst
import torch
from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none, ntuple
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
from translator.rules.layers._spatial import bind, ceil_overhang, lax_pad, sizes
from translator.rules.registry import register

SPATIAL_DIMS = {
    torch.nn.MaxPool1d: 1, torch.nn.MaxPool2d: 2, torch.nn.MaxPool3d: 3,
    torch.nn.functional.max_pool1d: 1, torch.nn.functional.max_pool2d: 2, torch.nn.functional.max_pool3d: 3,
}


def _max_pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False): ...


TILES_NAME = "max_pool_tiles"
TILES = '''
@partial(jax.custom_jvp, nondiff_argnums=(1,))
def max_pool_tiles(x, window):
    """``nn.max_pool(x, window, strides=window)`` with a derivative through a reshape (rule L010).

    For windows that tile the channels-last input (stride = window, no padding; rows past the last
    whole window are dropped, as both frameworks floor). The derivative follows each window's first
    maximum in row-major order, PyTorch's choice among ties; XLA's CPU gradient of nn.max_pool
    (select-and-scatter) is 4-20x slower than this one-hot of the argmax.
    """
    return nn.max_pool(x, window, strides=window)


@max_pool_tiles.defjvp
def max_pool_tiles_jvp(window, primals, tangents):
    def windows_last(x):  # (N, *spatial, C) -> (N, *rows, C, prod(window))
        n, rows = len(window), [m // k for m, k in zip(x.shape[1:-1], window)]
        x = x[(slice(None), *(slice(0, q * k) for q, k in zip(rows, window)))]
        x = x.reshape(x.shape[0], *(d for q, k in zip(rows, window) for d in (q, k)), x.shape[-1])
        x = x.transpose(0, *range(1, 2 * n, 2), 2 * n + 1, *range(2, 2 * n + 1, 2))
        return x.reshape(*x.shape[: n + 2], -1)

    windows = windows_last(primals[0])
    first = jnp.argmax(windows, axis=-1, keepdims=True)
    chosen = first == jnp.arange(windows.shape[-1])
    return (
        jnp.take_along_axis(windows, first, axis=-1)[..., 0],
        jnp.sum(jnp.where(chosen, windows_last(tangents[0]), 0), axis=-1),
    )
'''


def tiling_window(ctx, n: int) -> cst.BaseExpression | None:
    """The window as an ``n``-tuple expression when the windows tile the input (stride = kernel, no padding)."""
    padding = literal_or_none(ctx, "padding")
    if padding not in (0, (0,) * n, [0] * n) or literal_or_none(ctx, "return_indices") is not False:
        return None
    stride, kernel = literal_or_none(ctx, "stride"), literal_or_none(ctx, "kernel_size")
    if stride is None or stride == () or (NotLiteral not in (stride, kernel) and _ntuple(stride, n) == _ntuple(kernel, n)):
        return ntuple(ctx, "kernel_size", n)
    return None


def _ntuple(value, n: int):
    return (value,) * n if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else value


def pool_keywords(ctx, n: int) -> dict[str, cst.BaseExpression] | None:
    """``window_shape``/``strides``/``padding`` for nn.max_pool; None (and a diagnostic) if untranslatable."""
    if literal_or_none(ctx, "return_indices") is not False:
        ctx.unsupported("`return_indices=True` has no Flax equivalent")
        return None
    keywords = {"window_shape": ntuple(ctx, "kernel_size", n)}
    stride = literal_or_none(ctx, "stride")
    # PyTorch's stride defaults to the kernel size, Flax's to 1.
    keywords["strides"] = ntuple(ctx, "kernel_size" if stride is None or stride == () else "stride", n)
    padding = literal_or_none(ctx, "padding")
    if isinstance(padding, int) and padding:
        padding = (padding,) * n
    if isinstance(padding, (tuple, list)) and any(padding):
        keywords["padding"] = cst.parse_expression(repr(tuple((p, p) for p in padding)))
    elif not isinstance(padding, (int, tuple, list)):
        ctx.unsupported("`padding` must be a constant to be written as Flax (low, high) pairs")
        return None
    return keywords


def is_plain(ctx, n: int) -> bool:
    """No dilation and no ceil mode: ``nn.max_pool`` as it is."""
    return literal_or_none(ctx, "dilation") in (1, (1,) * n) and literal_or_none(ctx, "ceil_mode") is False


def general_body(ctx, n: int):
    """Ceil mode and/or dilation (PITFALLS 1 MaxPool rows, 2.4), as a function of the input's name."""
    if literal_or_none(ctx, "return_indices") is not False:
        ctx.unsupported("`return_indices=True` has no Flax equivalent")
        return None
    kernel = sizes(ctx, "kernel_size", n)
    stride = sizes(ctx, "stride", n, default=kernel)
    padding = sizes(ctx, "padding", n)
    dilation = sizes(ctx, "dilation", n)
    ceil_mode = literal_or_none(ctx, "ceil_mode")
    if ceil_mode is NotLiteral or None in (kernel, stride, padding, dilation):
        ctx.unsupported("`ceil_mode` must be a constant")
        return None
    extent = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]

    def highs(x: str) -> list[str]:
        if not ceil_mode:
            return [str(p) for p in padding]
        overhangs = [ceil_overhang(f"{x}.shape[{i + 1}]", e, s, p) for i, (e, s, p) in enumerate(zip(extent, stride, padding))]
        return [f"{p} + {o}" if p else o for p, o in zip(padding, overhangs)]

    if all(d == 1 for d in dilation):  # ceil mode only: nn.max_pool with the overhang as extra high padding
        def body(x: str) -> str:
            pads = ", ".join(f"({p}, {h})" for p, h in zip(padding, highs(x)))
            return f"nn.max_pool({x}, {kernel!r}, {stride!r}, padding=({pads},))"

        return body

    def dilated(x: str) -> str:
        # reduce_window with window_dilation has no VJP: take every dilated, strided slice of the
        # -inf padded input and gather the first maximum, which routes tie gradients as PyTorch does
        ranges = " ".join(f"for {v} in range(0, {e}, {d})" for v, e, d in zip("ijl", extent, dilation))
        slices = ", ".join(
            f"{v}:{v} + xp.shape[{a + 1}] - {e - 1}:{s}" for a, (v, e, s) in enumerate(zip("ijl", extent, stride))
        )
        windows = f"jnp.stack([xp[:, {slices}] {ranges}], -1)"
        first_max = "jnp.take_along_axis(w, w.argmax(-1, keepdims=True), -1)[..., 0]"
        return f"(lambda xp: (lambda w: {first_max})({windows}))({lax_pad(x, '-jnp.inf', padding, highs(x))})"

    return dilated


TILES_NOTE = (
    "MaxPool -> nn.max_pool, a function in Flax (PyTorch's stride defaults to the kernel size); windows that "
    "tile the input: max_pool_tiles, whose gradient goes to each window's first maximum through a reshape (fast on CPU)"
)


@register
class TorchMaxPool(Rule):
    code = "L010"
    name = "TorchMaxPool"
    summary = "nn.MaxPool{1,2,3}d / F.max_pool{1,2,3}d -> nn.max_pool on NHWC, strides written out"
    torch_classes = ("torch.nn.MaxPool1d", "torch.nn.MaxPool2d", "torch.nn.MaxPool3d")
    torch_functions = (
        "torch.nn.functional.max_pool1d", "torch.nn.functional.max_pool2d", "torch.nn.functional.max_pool3d",
    )
    call_signature = signature_of(_max_pool)
    doc = RuleDoc(
        what=(
            "`nn.MaxPool1d/2d/3d(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False)` and\n"
            "`F.max_pool1d/2d/3d`."
        ),
        why=(
            "Flax pools are functions on channels-last input, not layers. PyTorch's stride defaults to\n"
            "the kernel size, Flax's to 1: leaving it out gives a 15x15 output instead of 8x8. Both pad\n"
            "with -inf, so explicit padding carries over as (p, p) pairs (PITFALLS 1, MaxPool2d).\n"
            "`ceil_mode=True` adds a last partial window unless it would start in the right padding;\n"
            "'SAME' only matches by coincidence (H14 k3 s2 p1: 7 vs 8 rows) and 'VALID' floors, so the\n"
            "overhang is written as extra high padding computed from the input size (PITFALLS 1, MaxPool\n"
            "ceil_mode). `dilation` has no nn.max_pool field and `lax.reduce_window`'s gradient raises\n"
            "NotImplementedError with window dilation; a max over stacked slices would split tie gradients\n"
            "(dx 2.83), so the dilated slices are stacked and the first maximum gathered with argmax, as\n"
            "PyTorch routes the gradient to one element (PITFALLS 1, MaxPool dilation; 2.4).\n"
            "Where the windows tile the input (stride = kernel, no padding: the usual `MaxPool2d(2)`) the\n"
            "pool is `max_pool_tiles`: nn.max_pool forward, and a derivative (`jax.custom_jvp`) that\n"
            "reshapes the input into its windows and follows each window's first maximum, as PyTorch's\n"
            "does. XLA's CPU gradient of `nn.max_pool` is a select-and-scatter, 4-20x slower than that\n"
            "(batch 32, 24x24x6: 0.86 vs 0.12 ms; 16x32x32x32: 4.0 vs 0.22 ms)."
        ),
        example=Example(
            torch="self.pool = nn.MaxPool2d(2)\nx = self.pool(x)",
            flax=(
                "self.pool = partial(max_pool_tiles, window=(2, 2))  # nn.max_pool(x, (2, 2), strides=(2, 2))\n"
                "x = self.pool(jnp.transpose(x, (0, 2, 3, 1)))  # NCHW -> NHWC: Flax pools are channels-last"
            ),
        ),
        fidelity=(
            "Exact: outputs and gradients identical, including ties (measured 0 / 0; ceil_mode and dilated\n"
            "first-max gather also 0 / 0 in PITFALLS, re-checked by this rule's cases; max_pool_tiles too)."
        ),
    )

    def build_layer(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        if not is_plain(ctx, n):
            body = general_body(ctx, n)
            if body is None:
                return LayerBuild(cst.Name("None"), CallSpec())

            def inline(call_ctx):
                return Emitted(bind(call_ctx.channels_last("input", n + 2), body), channels_last(n + 2))

            return LayerBuild(
                None,
                CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
                notes=("MaxPool with ceil_mode/dilation -> padded max pool / first-max gather on channels-last input",),
                inline=inline,
            )
        window = tiling_window(ctx, n)
        if window is not None:
            return LayerBuild(
                call("partial", [cst.Name(TILES_NAME)], {"window": window}),
                CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
                notes=(TILES_NOTE,),
                support=((TILES_NAME, TILES),),
            )
        keywords = pool_keywords(ctx, n)
        if keywords is None:
            return LayerBuild(cst.Name("None"), CallSpec())
        return LayerBuild(
            call("partial", [cst.parse_expression("nn.max_pool")], keywords),
            CallSpec(accepts="channels_last", rank=n + 2, produces="channels_last"),
            notes=("MaxPool -> nn.max_pool: a function in Flax; PyTorch's stride defaults to the kernel size",),
        )

    def emit_call(self, ctx):
        n = SPATIAL_DIMS[ctx.target]
        if not is_plain(ctx, n):
            body = general_body(ctx, n)
            if body is None:
                return Emitted(cst.Name("None"))
            ctx.note("F.max_pool with ceil_mode/dilation -> padded max pool / first-max gather on channels-last input")
            return Emitted(bind(ctx.channels_last("input", n + 2), body), channels_last(n + 2))
        window = tiling_window(ctx, n)
        if window is not None:
            ctx.note(TILES_NOTE)
            ctx.support(TILES_NAME, TILES)
            return Emitted(call(TILES_NAME, [ctx.channels_last("input", n + 2), window], {}), channels_last(n + 2))
        keywords = pool_keywords(ctx, n)
        if keywords is None:
            return Emitted(cst.Name("None"))
        ctx.note("F.max_pool -> nn.max_pool on channels-last input; stride defaults to the kernel size")
        return Emitted(call("nn.max_pool", [ctx.channels_last("input", n + 2)], keywords), channels_last(n + 2))

    def cases(self):
        @st.composite
        def pool_case(draw):
            # the first value of each choice is its trap: the smallest example (tried first) has a
            # dilated window, a ceil-mode overhang on an even size with stride 2, and ties
            n = draw(st.sampled_from([2, 1, 3]))
            kernel = draw(st.sampled_from([3, 2, 1]))
            stride = draw(st.sampled_from([2, None, 1, 3]))
            padding = min(draw(st.sampled_from([1, 0])), kernel // 2)
            dilation = draw(st.sampled_from([2, 1, 1]))
            ceil_mode = draw(st.sampled_from([True, False]))
            sizes = [8, 7, 5, 4, 6, 9, 10] if n < 3 else [4, 5, 6]  # 3-D: a few hundred cells per channel
            size = max(dilation * (kernel - 1) + 1, draw(st.sampled_from(sizes)))
            functional = draw(st.booleans())
            args = f"{kernel}, stride={stride}, padding={padding}, dilation={dilation}, ceil_mode={ceil_mode}"
            # negative inputs with exact zeros mixed in make ties for the maximum common: the gradient
            # must go to the first maximum, as in PyTorch
            ties = draw(st.sampled_from([True, False]))
            shape = (2, 3, *(size,) * n)
            extra = {"input_range": (-1.0, 0.0)} if ties else {}
            if functional:
                return RuleCase(None, f"F.max_pool{n}d(x, {args})", shape, **extra)
            return RuleCase(f"nn.MaxPool{n}d({args})", "self.layer(x)", shape, **extra)

        return pool_case()
