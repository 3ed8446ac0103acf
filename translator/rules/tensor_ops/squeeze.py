"""T015 TorchSqueeze: ``x.squeeze(d)`` (a no-op on a non-1 axis, as in PyTorch), ``x.unsqueeze(d)`` -> ``jnp``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import literal_or_none
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import (
    bind,
    code,
    dim_code,
    emit,
    op_name,
    shapes,
    unsupported,
)


def _squeeze(input, dim=None): ...


@register
class TorchSqueeze(Rule):
    code = "T015"
    name = "TorchSqueeze"
    summary = "x.squeeze(d) / x.unsqueeze(d) / torch.squeeze -> jnp.squeeze (only size-1 axes) / jnp.expand_dims"
    torch_functions = ("torch.squeeze", "torch.unsqueeze")
    tensor_methods = ("squeeze", "unsqueeze")
    call_signature = signature_of(_squeeze)
    doc = RuleDoc(
        what="`x.squeeze()`, `x.squeeze(d)`, `x.squeeze((d1, d2))`, `x.unsqueeze(d)`, and the torch functions.",
        why=(
            "PyTorch's `squeeze(d)` silently does nothing when axis d is not of size 1; `jnp.squeeze`\n"
            "raises. Shapes are static under `jit`, so the translation keeps PyTorch's meaning with a\n"
            "trace-time test: only the named axes of size 1 are squeezed. `unsqueeze(d)` is\n"
            "`jnp.expand_dims(x, d)` (negative d counts from the end of the result in both)."
        ),
        example=Example(
            torch="y = x.squeeze(1)",
            flax="y = jnp.squeeze(x, axis=tuple(a for a in (1,) if x.shape[a] == 1))",
        ),
        fidelity="Exact: shapes only.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        x = code(ctx, "input")
        dim = dim_code(ctx, "dim")
        if op == "unsqueeze":
            if dim is None:
                return unsupported(ctx, "`unsqueeze` needs a dim")
            return emit(f"jnp.expand_dims({x}, {dim})")
        if dim is None:
            return emit(f"jnp.squeeze({x})")
        value = literal_or_none(ctx, "dim")
        dims = f"({dim},)" if isinstance(value, int) or not isinstance(value, (tuple, list)) else dim
        if isinstance(value, int) or isinstance(value, (tuple, list)):
            return emit(bind(x, lambda v: f"jnp.squeeze({v}, axis=tuple(a for a in {dims} if {v}.shape[a] == 1))"))
        return emit(bind(x, lambda v: f"jnp.squeeze({v}, axis=tuple(a for a in (({dim},) if isinstance({dim}, int) else {dim}) if {v}.shape[a] == 1))"))

    def cases(self):
        @st.composite
        def squeeze_case(draw):
            shape = shapes(draw, min_size=1, max_size=2)
            rank = len(shape)
            d = draw(st.integers(-rank, rank - 1))
            u = draw(st.integers(-rank - 1, rank))
            several = tuple(draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True)))
            forms = [f"x.squeeze({d})", f"torch.squeeze(x, {d})", "x.squeeze()", f"x.squeeze(dim={several!r})",
                     f"x.unsqueeze({u})", f"torch.unsqueeze(x, dim={u})", f"x.unsqueeze({u}).squeeze({u})"]
            if draw(st.booleans()):  # layout: squeezing/unsqueezing a conv output
                return RuleCase("nn.Conv2d(2, 1, 1)", draw(st.sampled_from(["self.layer(x).squeeze(1)", "self.layer(x).unsqueeze(2)",
                                                                          "self.layer(x).squeeze(-1)"])), (2, 2, 3, 1))
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return squeeze_case()
