"""T017 TorchCat: ``torch.cat``/``concat``/``concatenate``/``stack``/``hstack``/``vstack`` -> ``jnp.concatenate``/``stack``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, dim_code, emit, op_name, shapes, unsupported


def _cat(tensors, dim=0, *, axis=None, out=None): ...


FUNCTIONS = {"cat": "jnp.concatenate", "concat": "jnp.concatenate", "concatenate": "jnp.concatenate", "stack": "jnp.stack",
             "hstack": "jnp.hstack", "vstack": "jnp.vstack", "dstack": "jnp.dstack"}


@register
class TorchCat(Rule):
    code = "T017"
    name = "TorchCat"
    summary = "torch.cat / concat / stack / hstack / vstack -> jnp.concatenate / jnp.stack with axis=dim"
    torch_functions = tuple(f"torch.{n}" for n in FUNCTIONS)
    call_signature = signature_of(_cat)
    doc = RuleDoc(
        what="`torch.cat([a, b], dim=1)`, `torch.concat`, `torch.concatenate(..., axis=)`, `torch.stack(ts, dim)`, `hstack`, `vstack`, `dstack`.",
        why=(
            "`dim` names a PyTorch axis. Concatenating channels-last conv outputs along `dim=1` with\n"
            "`axis=1` would join them along height: the operands of a list take the layout most of them\n"
            "have (a tie: PyTorch's), and channels-last ones are joined along the axis where `dim` lives\n"
            "(a U-Net's skip connection `torch.cat([skip, up], dim=1)` is `axis=3`, rule S004). The result\n"
            "is a new array; there is no `out=`."
        ),
        example=Example(
            torch="self.conv = nn.Conv2d(3, 8, 3, padding=1)\ny = torch.cat([self.conv(x), x], dim=1)",
            flax=(
                'self.conv = nn.Conv(8, kernel_size=(3, 3), padding=1, conv_general_dilated=conv_for_cpu)\n'
                "y = jnp.concatenate([jnp.transpose(self.conv(jnp.transpose(x, (0, 2, 3, 1))), (0, 3, 1, 2)), x], axis=1)"
                "  # NCHW to join x"
            ),
        ),
        fidelity="Exact: values move without arithmetic.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        tensors = code(ctx, "tensors")  # a list literal's elements arrive in PyTorch's layout
        if op in ("hstack", "vstack", "dstack"):
            return emit(f"{FUNCTIONS[op]}({tensors})")
        name = "dim" if ctx.is_default("axis") else "axis"
        dim = dim_code(ctx, name)
        return emit(f"{FUNCTIONS[op]}({tensors}, axis={dim if dim is not None else 0})")

    def cases(self):
        @st.composite
        def cat_case(draw):
            shape = shapes(draw)
            rank = len(shape)
            d = draw(st.integers(-rank, rank - 1))
            s = draw(st.integers(-rank - 1, rank))
            forms = [f"torch.cat([x, x * 2], dim={d})", f"torch.cat((x, x.exp(), x), {d})", f"torch.concat([x, x + 1], {d})",
                     f"torch.concatenate([x, x * 3], axis={d})", f"torch.stack([x, x * 2], dim={s})", "torch.stack((x, x - 1))",
                     "torch.cat([x])", "torch.hstack([x, x * 2])", "torch.vstack([x, x * 2])", "torch.dstack([x, x * 2])"]
            if draw(st.booleans()):  # layout: concatenating conv outputs (channels-last) with plain tensors
                return RuleCase("nn.Conv2d(2, 3, 1)", draw(st.sampled_from([
                    "torch.cat([self.layer(x), x], dim=1)", "torch.cat([self.layer(x), self.layer(x) * 2], 1)",
                    "torch.stack([self.layer(x), self.layer(x)], dim=-1)", "torch.cat([self.layer(x)[:, :1], x[:, :1]], dim=-1)",
                ])), (2, 2, 3, 3))
            return RuleCase(None, draw(st.sampled_from(forms)), shape)

        return cat_case()
