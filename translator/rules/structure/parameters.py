"""S008 TorchParameter and S009 TorchBuffer: module state declared in ``__init__``.

The rewriting lives in ``translator.rewrite.state``; these entries hold what it teaches.
"""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register


@register
class TorchParameter(Rule):
    code = "S008"
    name = "TorchParameter"
    summary = "self.w = nn.Parameter(value) -> self.w = self.param('w', lambda key: value)"
    doc = RuleDoc(
        what="`nn.Parameter(tensor)` assigned to a module attribute (class tokens, positional embeddings, scales).",
        why=(
            "A Flax module holds no arrays: `self.param(name, init_fn)` declares a parameter that `init`\n"
            "creates from a random key and `apply` reads from the variables you pass. Random initial\n"
            "values (`torch.randn`) draw from that key (`jax.random.normal(key, shape)`); ported\n"
            "checkpoints overwrite them anyway. The name is the attribute name, so the port is 1:1.\n"
            "A frozen parameter (`requires_grad=False`, fixed Fourier features) is the same parameter\n"
            "under `jax.lax.stop_gradient`: its gradient is zero, as PyTorch never trains it.\n"
            "`nn.ParameterList`/`ParameterDict` become a list/dict of `self.param` named `<attr>_<key>`."
        ),
        example=Example(
            torch="self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))",
            flax='self.cls_token = self.param("cls_token", lambda key: jnp.zeros((1, 1, self.dim)))',
        ),
        fidelity="Exact: the ported value is used as is.",
    )

    def cases(self):
        @st.composite
        def parameter_case(draw):
            width = draw(st.integers(1, 5))
            init = draw(st.sampled_from([f"torch.randn({width}) * 0.5", f"torch.ones(1, {width})", f"torch.zeros({width})"]))
            if draw(st.booleans()):  # inside a branch of __init__ (`... if bias else None`)
                return RuleCase(f"nn.Parameter({init}) if LEARNED else None", "x * self.layer + self.layer", (2, width), prelude="LEARNED = True\n")
            return RuleCase(f"nn.Parameter({init})", "x * self.layer + self.layer", (2, width))

        return parameter_case()


@register
class TorchBuffer(Rule):
    code = "S009"
    name = "TorchBuffer"
    summary = "register_buffer(name, t) -> a 'buffers' variable (state) or a setup constant (a constant or not persistent)"
    doc = RuleDoc(
        what="`self.register_buffer(name, tensor, persistent=True)`: masks, scales, fixed tables, running state.",
        why=(
            "A persistent buffer is part of PyTorch's state dict but not trained. Where it is state (its\n"
            "value comes from elsewhere: a tensor passed in, a local, a draw; or some method writes it) it is\n"
            "a variable in its own collection, `self.variable('buffers', name, init)`: ported with the\n"
            "weights and kept out of `params` (and so of the optimiser). Where it is a constant (torch\n"
            "functions of the constructor's arguments that draw nothing, and nothing in the class writes it:\n"
            "a causal mask, a sinusoidal table) a Flax author computes it in `setup()`; XLA folds it into the\n"
            "program. The port then does not store it but checks that the checkpoint holds that value (up\n"
            "to rounding): a mask changed after construction is an error naming the key, never replaced\n"
            "silently; export writes it back. A non-persistent buffer is not saved: a constant in `setup()`.\n"
            "The built model's translation (`--build`) keeps every persistent buffer a variable: its\n"
            "regenerated source cannot say how the value was made."
        ),
        example=Example(
            torch='self.register_buffer("mask", torch.tril(torch.ones(n, n)))',
            flax="self.mask = jnp.tril(jnp.ones((self.n, self.n)))",
        ),
        fidelity="Exact: the ported value is used as is.",
    )

    def cases(self):
        @st.composite
        def buffer_case(draw):
            width = draw(st.integers(1, 5))
            persistent = draw(st.booleans())
            value = draw(st.sampled_from([f"torch.ones({width}) * 2.0", f"torch.arange({width}).float() / {width}",
                                          f"torch.tril(torch.ones({width}, {width}))[-1]"]))
            init = f"nn.Linear({width}, {width})\nself.register_buffer('scale', {value}, persistent={persistent})"
            return RuleCase(init, "self.layer(x) * self.scale", (2, width))

        return buffer_case()
