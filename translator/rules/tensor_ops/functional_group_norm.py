"""T056 TorchFunctionalGroupNorm: ``F.group_norm(x, groups, weight, bias, eps)`` -> ``torch_group_norm`` (a support function)."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from translator.rules.base import Emitted, Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops.functional_layer_norm import affine_norm_call


def _group_norm(input, num_groups, weight=None, bias=None, eps=1e-05): ...


SUPPORT_NAME = "torch_group_norm"
SUPPORT = '''
def torch_group_norm(x, num_groups, weight=None, bias=None, eps=1e-05):
    """F.group_norm (T056): x is (N, C, *) in PyTorch's layout; contiguous channel groups, biased variance."""
    grouped = x.reshape(x.shape[0], num_groups, -1)
    mean = jnp.mean(grouped, axis=-1, keepdims=True)
    variance = jnp.mean(jnp.square(grouped - mean), axis=-1, keepdims=True)
    y = ((grouped - mean) * jax.lax.rsqrt(variance + eps)).reshape(x.shape)
    per_channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    if bias is not None:
        y = y + bias.reshape(per_channel)
    return y
'''

#: a module holding its own GroupNorm parameters and calling F.group_norm (diffusers' AdaGroupNorm does)
PRELUDE = '''
class Norm(nn.Module):
    def __init__(self, groups, channels, eps=1e-5):
        super().__init__()
        self.groups, self.eps = groups, eps
        self.weight = nn.Parameter(torch.randn(channels) * 0.5 + 1.0)
        self.bias = nn.Parameter(torch.randn(channels) * 0.1)

    def forward(self, x):
        return F.group_norm(x, self.groups, self.weight, self.bias, eps=self.eps)
'''


@register
class TorchFunctionalGroupNorm(Rule):
    code = "T056"
    name = "TorchFunctionalGroupNorm"
    summary = "F.group_norm(x, num_groups, weight, bias, eps) -> torch_group_norm (PyTorch's layout, biased variance)"
    torch_functions = ("torch.nn.functional.group_norm",)
    call_signature = signature_of(_group_norm)
    doc = RuleDoc(
        what=(
            "`F.group_norm(x, num_groups, weight=None, bias=None, eps=1e-5)` on (N, C, *) input, as\n"
            "modules with their own scale write it (diffusers' `AdaGroupNorm`: `F.group_norm(x, self.num_groups, eps=self.eps)`)."
        ),
        why=(
            "Flax's `nn.GroupNorm` is a module with its own parameters (L022) and groups the *last* axis;\n"
            "the functional form takes the user's weight and bias. `torch_group_norm` groups contiguous\n"
            "channels of axis 1 (PyTorch's layout: a channels-last x goes back first), uses PyTorch's\n"
            "biased variance E[(x - mean)^2] and eps 1e-5 (Flax's module default is 1e-6), and applies\n"
            "weight and bias per channel."
        ),
        example=Example(
            torch="y = F.group_norm(x, 4, self.weight, self.bias, eps=1e-6)",
            flax="y = torch_group_norm(x, 4, weight=self.weight, bias=self.bias, eps=1e-06)  # support function at the end of the file",
        ),
        fidelity="Equal within float32 tolerance (sums in another order); gradients too.",
    )

    def emit_call(self, ctx) -> Emitted:
        return affine_norm_call(ctx, SUPPORT_NAME, SUPPORT, "num_groups")

    def cases(self):
        @st.composite
        def group_norm_case(draw):
            groups = draw(st.integers(1, 3))
            channels = groups * draw(st.integers(1, 3))
            # at least 4 values per group: a one-value group has zero variance (rounding noise / sqrt(eps))
            spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2).filter(
                lambda dims: (channels // groups) * math.prod(dims) >= 4)))
            shape = (2, channels, *spatial)
            scale = draw(st.sampled_from(["x", "x * 0.05", "x + 30.0"]))  # an offset mean: a fast E[x^2] - E[x]^2 would show
            if draw(st.booleans()):
                return RuleCase(f"Norm({groups}, {channels}, eps={draw(st.sampled_from([1e-5, 1e-3]))})", f"self.layer({scale})",
                                shape, prelude=PRELUDE)
            weight = f"torch.linspace(0.5, 1.5, {channels}, dtype=x.dtype)"
            forms = [
                f"F.group_norm({scale}, {groups})",
                f"F.group_norm({scale}, {groups}, {weight}, eps=1e-3)",
                f"F.group_norm({scale}, num_groups={groups}, weight={weight}, bias={weight} * 0.1)",
            ]
            if spatial:  # a conv before it: the input arrives channels-last and goes back to PyTorch's layout
                return RuleCase(f"nn.Conv{len(spatial)}d({channels}, {channels}, 1)", f"F.group_norm(self.layer(x), {groups}, {weight})", shape)
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return group_norm_case()
