"""S011 TorchInPlace and S012 TorchNoGrad: PyTorch's mutation and gradient contexts in ``forward``.

The rewriting lives in ``translator.rewrite.body`` (statements) and
``translator.rewrite.aliasing`` (which names may share memory); these entries
hold what it teaches and the cases that test it.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register

#: in-place statements the S011 case draws from (values stay finite for any input)
IN_PLACE_STATEMENTS = (
    "y += x",
    "y -= 0.5 * x",
    "y *= 0.75",
    "y.add_(x)",
    "y[:, 0] = 2.0",
    "y[:, 1] += x[:, 0]",
    "y[:, -1] *= 3.0",
    "y.zero_()",
    "y.fill_(0.25)",
    "y.copy_(x)",
    "y[y > 0.5] = 1.0",
    "y[x < 0] *= 0.5",
)
#: in-place ops whose backward needs the value they overwrite: PyTorch allows no later update of `y`
SAVING_STATEMENTS = ("y.mul_(x)", "y.clamp_(min=-1.0)", "torch.relu_(y)", "F.relu(y, inplace=True)")


@register
class TorchInPlace(Rule):
    code = "S011"
    name = "TorchInPlace"
    summary = "x += y / x.add_(y) / x[i] = v / inplace=True -> a new binding (x = x + y, x.at[i].set(v))"
    doc = RuleDoc(
        what=(
            "In-place updates in `forward`: augmented assignment, methods ending in `_` (`add_`, `clamp_`,\n"
            "`zero_`, `fill_`, `copy_`, `torch.relu_`), indexed assignment `x[i] = v` / `x[i] += v` (with a\n"
            "boolean mask: `x = jnp.where(mask, v, x)`, which keeps the shape static), and\n"
            "layers or functions called with `inplace=True`."
        ),
        why=(
            "JAX arrays are immutable: an update makes a new array, bound to the same name\n"
            "(`x = x.at[i].set(v)` is the functional form of indexed assignment; under `jit` XLA\n"
            "usually performs it in place anyway). That is the same program only if nothing else\n"
            "sees the old memory: in PyTorch `y = x; x += 1` changes `y` too, and a view\n"
            "(`v = x.view(-1)`) or eval-mode dropout returns memory shared with its input. The\n"
            "translator tracks which names may share memory; an update that another live name or\n"
            "the caller would see is flagged (X006) instead of translated. When `y = relu_(a)` and `a`\n"
            "is read later, both names are rebound: `y = a = nn.relu(a)`."
        ),
        example=Example(
            torch="out = self.bn(self.conv(x))\nout += identity\nout[:, 0] = 0.0",
            flax="out = self.bn(self.conv(x))\nout = out + identity\nout = out.at[:, 0].set(0.0)",
        ),
        fidelity="Exact: the same arithmetic, on a new array.",
    )

    def cases(self):
        @st.composite
        def in_place_case(draw):
            width = draw(st.integers(3, 5))
            statements = draw(st.lists(st.sampled_from(IN_PLACE_STATEMENTS), min_size=0, max_size=3))
            statements += draw(st.lists(st.sampled_from(SAVING_STATEMENTS), min_size=0 if statements else 1, max_size=1))
            body = "\n".join(f"    {s}" for s in statements)
            prelude = f"def update(x):\n    y = x * 1.5\n{body}\n    return y * x\n"
            layer = draw(st.booleans())
            if layer:
                return RuleCase("nn.ReLU(inplace=True)", "update(self.layer(x * 1.0))", (2, width), prelude=prelude)
            return RuleCase(None, "update(x)", (2, width), prelude=prelude)

        return in_place_case()


@register
class TorchNoGrad(Rule):
    code = "S012"
    name = "TorchNoGrad"
    summary = "with torch.no_grad(): ... -> the same code, then jax.lax.stop_gradient on each name it assigned"
    doc = RuleDoc(
        what=(
            "`with torch.no_grad():` and `with torch.inference_mode():` blocks (and `torch.enable_grad()`) in `forward`;\n"
            "also `with sdpa_kernel(...)` (torch.nn.attention), which only picks PyTorch's attention kernel, and\n"
            "`with torch.autocast(..., enabled=False):` (or dtype float32), which keeps a float32 body as written."
        ),
        why=(
            "PyTorch records operations for autograd unless told not to; JAX differentiates a\n"
            "function by tracing it, so there is no recording to switch off. What `no_grad` means\n"
            "for the result -- no gradient flows back through values computed inside -- is\n"
            "`jax.lax.stop_gradient` on each value the block produces. A kernel-selection context\n"
            "changes how PyTorch computes attention, not what: its body is kept and XLA chooses."
        ),
        example=Example(
            torch="with torch.no_grad():\n    scale = x.abs().amax()\ny = x / scale",
            flax="scale = jnp.amax(jnp.where(x == 0, 0, jnp.abs(x)))\nscale = jax.lax.stop_gradient(scale)\ny = x / scale",
        ),
        fidelity="Exact: values are unchanged, gradients through them are zero as in PyTorch.",
    )

    def cases(self):
        @st.composite
        def no_grad_case(draw):
            width = draw(st.integers(2, 5))
            stat = draw(st.sampled_from(["x.mean()", "x.abs().amax() + 1.0", "x.sum(dim=1, keepdim=True)"]))
            # (inference_mode tensors may not enter autograd at all in PyTorch, so only no_grad is drawn)
            context = draw(st.sampled_from(["torch.no_grad()", "torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.MATH])",
                                             "torch.autocast(device_type=x.device.type, enabled=False)"]))
            prelude = f"def normalise(x):\n    with {context}:\n        s = {stat}\n    return x * s\n"
            return RuleCase(None, "normalise(x)", (2, width), prelude=prelude)

        return no_grad_case()
