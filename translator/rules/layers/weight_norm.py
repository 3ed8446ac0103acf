"""L060 TorchWeightNorm: ``weight_norm(nn.Conv1d(...))`` (either API) -> ``TorchWeightNorm(nn.Conv(...))``.

A wrapper rule: the layer it wraps is translated by its own rule first (L001, L002, L015), and this rule
wraps the Flax layer it built.  :mod:`translator.rewrite.module_class` calls :meth:`wrap_layer` for a
rule with ``wrapped_argument``; the port plan calls :func:`weight_norm_layout`.
"""

from __future__ import annotations

import inspect

import libcst as cst
import torch
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import (
    Example,
    LayerBuild,
    NotLiteral,
    Rule,
    RuleCase,
    RuleDoc,
    TensorMapping,
)
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY
from translator.weights.parametrized import WeightNormed, as_plain_layer, whole_norm

SUPPORT_NAME = "TorchWeightNorm"
SUPPORT = '''
class TorchWeightNorm(nn.Module):
    """torch.nn.utils.weight_norm / parametrizations.weight_norm (rule L060): ``layer``'s kernel is
    ``weight_g * v / ||v||`` on every call, v being the layer's own kernel (PyTorch's ``weight_v``) and the
    norm taken over every kernel axis but ``feature_axis`` (PyTorch's ``dim`` in the kernel's layout; None:
    one norm of the whole kernel). ``weight_g`` has the kernel's rank, size 1 on the normed axes, and starts
    at ``||v||`` as PyTorch's does, so the initial kernel is the layer's own.
    """

    layer: nn.Module
    feature_axis: int | None = -1

    @nn.compact
    def __call__(self, *args, **kwargs):
        def normalised(path, v):
            if getattr(path[-1], "key", None) != "kernel":
                return v
            if self.feature_axis is None:
                norm = jnp.sqrt(jnp.sum(v * v))
            else:
                axis = self.feature_axis % v.ndim
                norm = jnp.sqrt(jnp.sum(v * v, axis=tuple(i for i in range(v.ndim) if i != axis), keepdims=True))
            g = self.param("weight_g", lambda key: norm)
            return v * (g / norm)

        run = nn.map_variables(
            lambda layer, *a, **k: layer(*a, **k),
            "params",
            trans_in_fn=lambda variables: jax.tree_util.tree_map_with_path(normalised, variables),
            init=self.is_initializing(),
        )
        return run(self.layer, *args, **kwargs)
'''

#: the layers whose weight the rule normalises (by their rules' codes), and the rank of each one's weight: the
#: torch weight [out, in, *k] (ConvTranspose [in, out, *k]) is the Flax kernel [*k, in, out] ([*k, out, in])
WRAPPED_RULES = ("L001", "L002", "L015")
WRAPPED_RANKS = {
    torch.nn.Linear: 2, torch.nn.Conv1d: 3, torch.nn.Conv2d: 4, torch.nn.Conv3d: 5,
    torch.nn.ConvTranspose1d: 3, torch.nn.ConvTranspose2d: 4, torch.nn.ConvTranspose3d: 5,
}


def kernel_axis(dim: int, rank: int) -> int:
    """The Flax kernel axis of PyTorch weight axis ``dim`` (the kernel is the weight permuted by
    ``(*spatial, 1, 0)``): 0 -> -1, 1 -> -2, a spatial axis keeps its place among the first ones."""
    dim %= rank
    return -1 - dim if dim < 2 else dim - 2


def weight_norm(module, name="weight", dim=0):  # the signature of both weight_norm functions
    ...


@register
class TorchWeightNorm(Rule):
    code = "L060"
    name = "TorchWeightNorm"
    summary = "weight_norm(layer) (hook or parametrization) -> TorchWeightNorm(layer): kernel = g * v / ||v|| at each call"
    torch_classes = ("torch.nn.utils.weight_norm", "torch.nn.utils.parametrizations.weight_norm")
    constructor_signature = inspect.signature(weight_norm)
    #: the argument holding the layer this rule wraps (translated first by its own rule)
    wrapped_argument = "module"
    doc = RuleDoc(
        what=(
            "`torch.nn.utils.weight_norm(layer, name='weight', dim=0)` (a forward pre-hook; parameters\n"
            "`weight_g` and `weight_v`) and `torch.nn.utils.parametrizations.weight_norm(layer, ...)` (the\n"
            "same weight as a parametrization: `parametrizations.weight.original0`/`original1`), around an\n"
            "`nn.Linear`, `nn.Conv1d/2d/3d` or `nn.ConvTranspose1d/2d/3d` built in `__init__` (the temporal\n"
            "convolution network's `weight_norm(nn.Conv1d(...))`). Built models holding either form are\n"
            "translated the same way."
        ),
        why=(
            "PyTorch recomputes `weight = g * v / ||v||` (the norm over every axis but `dim`) before each\n"
            "call, from a hook or a parametrization the layer's code never shows. A Flax layer has no hooks:\n"
            "`TorchWeightNorm` wraps the translated layer and maps its variables on each call\n"
            "(`nn.map_variables`), so the layer's `kernel` is v and the wrapper's `weight_g` is g, both\n"
            "trained. flax's own `nn.WeightNorm` computes the same weight but names its scale\n"
            "`layer_instance/kernel/scale` (a `/` inside a variable name, which flat checkpoints such as\n"
            "safetensors split) and adds an epsilon; here g keeps PyTorch's name and has the kernel's rank\n"
            "(size 1 on the normed axes), so v and g port by the same permutation as the layer's weight.\n"
            "`dim=None` and `dim=-1` both mean one norm of the whole weight in PyTorch (`feature_axis=None`)."
        ),
        example=Example(
            torch="self.conv1 = nn.utils.weight_norm(nn.Conv1d(4, 8, 3, padding=2, dilation=2))",
            flax=(
                "# params: conv1/layer/kernel = weight_v permuted to [k, in, out]; conv1/weight_g [1, 1, out]\n"
                "self.conv1 = TorchWeightNorm(nn.Conv(8, kernel_size=(3,), padding=2, kernel_dilation=(2,), conv_general_dilated=conv_for_cpu))"
            ),
        ),
        fidelity=(
            "The same formula as torch._weight_norm (no epsilon): equal within float32 tolerance (measured by\n"
            "check: the TCN's TemporalBlock, output 7.3e-8 relative, gradients of weight_g and weight_v <= 7.3e-8;\n"
            "parametrizations.weight_norm of a Conv2d (dim=1), a Linear (dim=None) and a strided ConvTranspose1d,\n"
            "output 1.3e-7, gradients 3.6e-7; tests/rules/layers/test_weight_norm.py)."
        ),
    )

    def wrap_layer(self, ctx, inner, inner_class: type | None) -> LayerBuild | None:
        """``TorchWeightNorm(<inner's Flax layer>)``; ``inner`` is the :class:`~translator.rewrite.model.LayerAttr`
        the wrapped layer's rule built (None: not a torch layer), ``inner_class`` its torch class."""
        rank = WRAPPED_RANKS.get(inner_class)
        if inner is None or rank is None or inner.rule.code not in WRAPPED_RULES or inner.built is None:
            ctx.unsupported("weight_norm is translated around an nn.Linear, nn.ConvNd or nn.ConvTransposeNd built "
                            "in the same expression")
            return None
        name = literal_or_none(ctx, "name")
        if name != "weight":
            ctx.unsupported("weight_norm of a tensor other than `weight` is not translated")
            return None
        dim = literal_or_none(ctx, "dim")
        if dim is NotLiteral or not (dim is None or isinstance(dim, int) and -rank <= dim < rank):
            ctx.unsupported(f"`dim` must be a constant axis of the {rank}-d weight (or None)")
            return None
        dim = whole_norm(dim)
        keywords = "" if dim == 0 else ", feature_axis=None" if dim is None else f", feature_axis={kernel_axis(dim, rank)}"
        expr = cst.parse_expression(f"{SUPPORT_NAME}({code_of(inner.built)}{keywords})")
        where = "one norm of the whole kernel" if dim is None else f"the norm over every kernel axis but PyTorch's dim {dim}"
        return LayerBuild(
            expr,
            inner.call,
            notes=(
                f"weight_norm -> {SUPPORT_NAME}: the layer's kernel is v (weight_v), the wrapper's weight_g is g, and "
                f"each call uses g * v / ||v|| ({where})",
            ),
            support=((SUPPORT_NAME, SUPPORT),),
        )

    def cases(self):
        @st.composite
        def weight_norm_case(draw):
            api = draw(st.sampled_from(["torch.nn.utils.weight_norm", "torch.nn.utils.parametrizations.weight_norm"]))
            kind = draw(st.sampled_from(["Conv1d", "Linear", "Conv2d", "ConvTranspose1d"]))
            channels_in, channels_out = draw(st.integers(1, 4)), draw(st.integers(2, 5))
            bias = draw(st.booleans())
            if kind == "Linear":
                layer, rank = f"nn.Linear({channels_in}, {channels_out}, bias={bias})", 2
                shape = (draw(st.integers(1, 3)), channels_in)
            else:
                n = 2 if kind == "Conv2d" else 1
                kernel = draw(st.integers(1, 3))
                padding = draw(st.integers(0, kernel - 1))
                layer = f"nn.{kind}({channels_in}, {channels_out}, {kernel}, padding={padding}, bias={bias})"
                rank = n + 2
                shape = (draw(st.integers(1, 2)), channels_in, *(draw(st.integers(kernel, 6)),) * n)
            dim = draw(st.sampled_from([0, 0, 1, None, -1, *range(2, rank)]))
            keyword = "" if dim == 0 else f", dim={dim}"
            return RuleCase(init=f"{api}({layer}{keyword})", forward="self.layer(x)", input_shape=shape)

        return weight_norm_case()


def weight_norm_layout(rule: Rule, module: torch.nn.Module, normed: WeightNormed) -> list[TensorMapping]:
    """How the tensors of a weight-normalised layer port: its rule's layout of the plain layer, inside the
    wrapper (``layer``), with ``weight`` replaced by v (the layer's kernel) and g (the wrapper's ``weight_g``),
    both by the weight's permutation (a 0-d g, the norm of the whole weight, as it is)."""
    mappings = []
    for mapping in rule.weight_layout(as_plain_layer(module)):
        collection, *names = mapping.flax_path
        if mapping.torch_name != "weight":
            mappings.append(TensorMapping(mapping.torch_name, (collection, "layer", *names), mapping.transform,
                                          mapping.persistent, mapping.extra))
            continue
        mappings.append(TensorMapping(normed.v_key, (collection, "layer", *names), mapping.transform))
        mappings.append(TensorMapping(normed.g_key, (collection, "weight_g"), IDENTITY if normed.dim is None else mapping.transform))
    return mappings
