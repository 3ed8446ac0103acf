"""T047 TorchFunctionalLayerNorm: ``F.layer_norm(x, shape, weight, bias, eps)`` -> ``torch_layer_norm`` (a support function)."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Emitted, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit


def _layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05): ...


SUPPORT_NAME = "torch_layer_norm"
SUPPORT = '''
def torch_layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-05):
    """F.layer_norm (T047): normalise over the last len(normalized_shape) axes (biased variance)."""
    rank = 1 if isinstance(normalized_shape, int) else len(tuple(normalized_shape))
    axes = tuple(range(-rank, 0))
    mean = jnp.mean(x, axis=axes, keepdims=True)
    variance = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    scale = jax.lax.rsqrt(variance + eps)
    if weight is not None:
        scale = scale * weight
    y = (x - mean) * scale
    if bias is not None:
        y = y + bias
    return y
'''

#: a module holding its own LayerNorm parameters and calling F.layer_norm (nanoGPT's LayerNorm)
PRELUDE = '''
class Norm(nn.Module):
    def __init__(self, shape, bias=True, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(shape) * 0.5 + 1.0)
        self.bias = nn.Parameter(torch.randn(shape) * 0.1) if bias else None
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
'''


def affine_norm_call(ctx, support_name: str, support: str, shape_argument: str) -> Emitted:
    """``support_name(x, <shape_argument>, weight=, bias=, eps=)`` with only the arguments the call gives
    (the functional layer and group norms: the user's weight and bias, PyTorch's layout)."""
    ctx.support(support_name, support)
    args = [code(ctx, "input"), code_of(ctx.expr(shape_argument))]
    for name in ("weight", "bias"):
        if not ctx.is_default(name):
            args.append(f"{name}={code(ctx, name)}")
    if not ctx.is_default("eps"):
        args.append(f"eps={code_of(ctx.expr('eps'))}")
    return emit(f"{support_name}({', '.join(args)})")


@register
class TorchFunctionalLayerNorm(Rule):
    code = "T047"
    name = "TorchFunctionalLayerNorm"
    summary = "F.layer_norm(x, normalized_shape, weight, bias, eps) -> torch_layer_norm (exact biased variance)"
    torch_functions = ("torch.nn.functional.layer_norm", "torch.layer_norm")
    call_signature = signature_of(_layer_norm)
    doc = RuleDoc(
        what=(
            "`F.layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5)`, as custom LayerNorm\n"
            "modules write it (`F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)`)."
        ),
        why=(
            "Flax has `nn.LayerNorm` (a module, with its own parameters: L021) but no functional form\n"
            "taking the user's weight and bias. `torch_layer_norm` normalises over the last\n"
            "len(normalized_shape) axes with PyTorch's biased variance computed as E[(x - mean)^2] (not\n"
            "Flax's default fast E[x^2] - E[x]^2) and PyTorch's eps 1e-5 default. `normalized_shape` may\n"
            "be an expression (`self.weight.shape`): its length is known when the model is traced.\n"
            "The axes are the last ones of PyTorch's layout: a channels-last x goes back first."
        ),
        example=Example(
            torch="y = F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)",
            flax="y = torch_layer_norm(x, self.weight.shape, weight=self.weight, bias=self.bias, eps=1e-05)  # support function at the end of the file",
        ),
        fidelity="Equal within float32 tolerance (sums in another order); gradients too.",
    )

    def emit_call(self, ctx) -> Emitted:
        return affine_norm_call(ctx, SUPPORT_NAME, SUPPORT, "normalized_shape")

    def cases(self):
        @st.composite
        def layer_norm_case(draw):
            # at least 3 normalised values, and a mean offset of 30 (not 100): see L021's cases
            dims = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2).filter(lambda d: math.prod(d) >= 3)))
            lead = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
            shape = (*lead, *dims)
            scale = draw(st.sampled_from(["x", "x * 0.01", "x + 30.0"]))  # an offset mean: a fast E[x^2] - E[x]^2 would show
            if draw(st.booleans()):  # the nanoGPT module: parameters of its own, shape read from the weight
                bias = draw(st.booleans())
                return RuleCase(f"Norm({dims!r}, bias={bias}, eps={draw(st.sampled_from([1e-5, 1e-3]))})", f"self.layer({scale})", shape,
                                prelude=PRELUDE)
            weight = f"torch.linspace(0.5, 1.5, {math.prod(dims)}, dtype=x.dtype).reshape({dims!r})"  # shaped as normalized_shape; x.dtype: the float64 reference run follows
            forms = [
                f"F.layer_norm({scale}, {dims!r})", f"torch.layer_norm({scale}, {dims!r})",
                f"F.layer_norm({scale}, {list(dims)!r}, {weight}, eps=1e-3)",
                f"F.layer_norm({scale}, x.shape[-{len(dims)}:], weight={weight}, bias={weight} * 0.1)",
                f"F.layer_norm({scale}, normalized_shape={dims!r}, bias=x[{', '.join('0' * len(lead))}])",  # a bias depending on x
            ]
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return layer_norm_case()
