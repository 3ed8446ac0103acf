"""T060 TorchTensorUnfold: ``x.unfold(dimension, size, step)`` (sliding windows) -> ``torch_tensor_unfold``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit


def _tensor_unfold(input, dimension, size, step): ...


SUPPORT_NAME = "torch_tensor_unfold"
SUPPORT = '''
def torch_tensor_unfold(x, dimension, size, step):
    """x.unfold(dimension, size, step) (rule T060): the windows of `size` consecutive entries along
    `dimension`, starting every `step`. That axis becomes the (n - size) // step + 1 windows and a new
    last axis holds each window's entries: one gather with indices known at trace time."""
    if x.ndim == 0:  # a scalar is its own single window
        return x.reshape(1)[:size]
    axis = dimension % x.ndim
    windows = (x.shape[axis] - size) // step + 1
    if windows < 1 or step < 1:
        raise ValueError(f"unfold: size {size} does not fit the {x.shape[axis]} entries of dimension {dimension} (step {step})")
    index = jnp.arange(windows)[:, None] * step + jnp.arange(size)  # (windows, size): window w, entry i
    return jnp.moveaxis(jnp.take(x, index, axis=axis, mode="clip"), axis + 1, -1)
'''


@register
class TorchTensorUnfold(Rule):
    code = "T060"
    name = "TorchTensorUnfold"
    summary = "x.unfold(dimension, size, step) (sliding windows, window axis last) -> torch_tensor_unfold: one static gather"
    tensor_methods = ("unfold",)
    call_signature = signature_of(_tensor_unfold)
    doc = RuleDoc(
        what=(
            "The tensor method `x.unfold(dimension, size, step)`: windows of `size` consecutive entries\n"
            "along one axis, a new one every `step`. The axis of length n becomes (n - size) // step + 1\n"
            "windows and a new LAST axis of length `size` holds each window (ViViT-MOSS:\n"
            "`x.unfold(2, lt, 1).unfold(3, lh, 1).unfold(4, lw, 1)`; a moving average:\n"
            "`xp.unfold(1, k, 1).mean(-1)`). PyTorch has no `torch.unfold` function; `F.unfold` /\n"
            "`nn.Unfold` are the 2-D image blocks of L056, flattened channel-major into columns."
        ),
        why=(
            "PyTorch returns a strided view (no copy); JAX has no views, so the windows are gathered:\n"
            "`jnp.take` along the axis with a (windows, size) index grid `w * step + i`, then the window\n"
            "entries moved last with `jnp.moveaxis`. The sizes come from the input's shape and the\n"
            "arguments, so the indices are constants under `jit`. Overlapping windows (step < size) copy\n"
            "an entry into each window that holds it; the gradient sums over them, as PyTorch's does.\n"
            "The dimension is PyTorch's: the input is in its layout."
        ),
        example=Example(
            torch="windows = x.unfold(1, 3, 2)",
            flax="windows = torch_tensor_unfold(x, 1, 3, 2)  # support function at the end of the file",
        ),
        fidelity=(
            "Exact: a gather moves values without arithmetic (gradients within float32 tolerance where\n"
            "windows overlap). The windows are a copy, not a view: a write into them does not reach `x`;\n"
            "the in-place check treats them as a view of `x`, as it does `x.view(...)` (X006)."
        ),
    )

    def emit_call(self, ctx):
        ctx.support(SUPPORT_NAME, SUPPORT)
        arguments = [code(ctx, "input"), *(code_of(ctx.expr(name)) for name in ("dimension", "size", "step"))]
        return emit(f"{SUPPORT_NAME}({', '.join(arguments)})")

    def cases(self):
        @st.composite
        def unfold_case(draw):
            shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
            rank = len(shape)
            dim = draw(st.integers(-rank, rank - 1))
            size = draw(st.integers(1, shape[dim]))
            step = draw(st.integers(1, 3))
            spelled = draw(st.sampled_from([f"{dim}, {size}, {step}", f"dimension={dim}, size={size}, step={step}"]))
            form = draw(st.sampled_from(["once", "twice", "reduced", "after_conv"] if rank == 4 else ["once", "twice", "reduced"]))
            if form == "once":
                return RuleCase(None, f"x.unfold({spelled})", shape)
            if form == "reduced":  # a moving average: the window axis is the last one
                return RuleCase(None, f"x.unfold({spelled}).mean(-1)", shape)
            if form == "twice":  # 2-D windows, each unfold appending its own window axis (ViViT-MOSS)
                windowed = [*shape, size]
                windowed[dim] = (shape[dim] - size) // step + 1
                other = draw(st.integers(0, rank))
                return RuleCase(None, f"x.unfold({spelled}).unfold({other}, {draw(st.integers(1, windowed[other]))}, 1)", shape)
            # channels-last after a convolution: the windows are taken along PyTorch's dimension
            return RuleCase(f"nn.Conv2d({shape[1]}, {shape[1]}, 1)", f"self.layer(x).unfold({spelled})", shape)

        return unfold_case()
