"""T052 TorchFunctionalDropout: ``F.dropout``/``F.dropout1d/2d/3d`` -> ``torch_dropout`` on the module's stream."""

from __future__ import annotations

import inspect

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import PLAIN, Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, op_name


def _dropout(input, p=0.5, training=True, inplace=False): ...


#: channel ("feature") dropout: one draw per (sample, channel), broadcast over this many trailing axes
FEATURE_AXES = {"dropout": 0, "dropout1d": 1, "dropout2d": 2, "dropout3d": 3}

SUPPORT = "torch_dropout"
SUPPORT_SOURCE = '''
def torch_dropout(module, x, rate, training=True, spatial=0):
    """F.dropout / F.dropout1d/2d/3d (rule T052): inverted dropout with the module's 'dropout' stream.

    ``training`` defaults to True as in PyTorch (F.dropout drops even in eval mode unless told).
    ``spatial`` > 0 drops whole channels: one draw per (sample, channel) of the PyTorch layout.
    """
    if not training or rate == 0.0:
        return x
    if rate == 1.0:
        return jnp.zeros_like(x)
    shape = x.shape if spatial == 0 else x.shape[: x.ndim - spatial] + (1,) * spatial
    keep = jax.random.bernoulli(module.make_rng("dropout"), 1.0 - rate, shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)
'''


@register
class TorchFunctionalDropout(Rule):
    code = "T052"
    name = "TorchFunctionalDropout"
    summary = "F.dropout(x, p, training) -> torch_dropout(self, x, p, training): the module's 'dropout' stream"
    torch_functions = (
        "torch.nn.functional.dropout", "torch.nn.functional.dropout1d",
        "torch.nn.functional.dropout2d", "torch.nn.functional.dropout3d",
    )
    call_signature = inspect.signature(_dropout)
    doc = RuleDoc(
        what="`F.dropout(x, p, training)` and the channel-wise `F.dropout1d/2d/3d`, in a module's methods.",
        why=(
            "A function has no train/eval state and JAX has no global random generator: the mask comes\n"
            "from the module's 'dropout' stream (`self.make_rng('dropout')`, fed by\n"
            "`apply(..., rngs={'dropout': key})`), and `training` is an explicit argument. PyTorch's\n"
            "default is `training=True`: `F.dropout(x, 0.5)` drops in eval mode too, and so does the\n"
            "translation. Channel dropout draws one value per (sample, channel) and broadcasts it."
        ),
        example=Example(
            torch="x = F.dropout(x, 0.1, self.training)",
            flax="x = torch_dropout(self, x, 0.1, train)",
        ),
        fidelity="Exact when not training; in training the same inverted scaling and drop rate (masks "
                 "replayed from PyTorch by `check`).",
    )

    def emit_call(self, ctx):
        if ctx.body is not None and getattr(ctx.body, "cls", None) is None:
            return ctx.unsupported("functional dropout outside a module method: its mask needs the module's "
                                   "'dropout' stream (pass a key and use jax.random.bernoulli)")
        if not ctx.is_default("inplace") and ctx.literal("inplace"):
            ctx.note("`inplace=True` is dropped: JAX arrays are immutable")
        spatial = FEATURE_AXES[op_name(ctx)]
        x = code_of(ctx.plain("input"))
        rate = code_of(ctx.expr("p"))
        training = "True" if ctx.is_default("training") else code_of(ctx.expr("training"))
        ctx.support(SUPPORT, SUPPORT_SOURCE)
        return emit(f"{SUPPORT}(self, {x}, {rate}, {training}{f', spatial={spatial}' if spatial else ''})", PLAIN)

    def cases(self):
        @st.composite
        def functional_dropout_case(draw):
            op = draw(st.sampled_from(sorted(FEATURE_AXES)))
            p = draw(st.sampled_from([0.0, 0.2, 0.5]))
            training = draw(st.sampled_from(["self.training", "False", "True"]))
            shape = {"dropout": (2, 5), "dropout1d": (2, 3, 4), "dropout2d": (2, 3, 4, 4), "dropout3d": (2, 3, 2, 2, 2)}[op]
            train = draw(st.booleans())
            return RuleCase(None, f"F.{op}(x, {p}, {training})", shape, train=train)

        return functional_dropout_case()
