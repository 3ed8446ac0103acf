"""T023 TorchRandom: ``torch.randn``, ``rand``, ``randint``, ``*_like``, ``bernoulli``, ``multinomial`` are reported."""

from __future__ import annotations

from translator.rules.base import DiagnosticRule, Example, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import op_name, unsupported

HEADER = "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
FUNCTIONS = ("randn", "rand", "randint", "randn_like", "rand_like", "randint_like", "randperm", "normal", "bernoulli",
             "multinomial", "poisson")


def _any(*args, **kwargs): ...


@register
class TorchRandom(DiagnosticRule):
    code = "T023"
    name = "TorchRandom"
    summary = "torch.randn / rand / randint / *_like / bernoulli / multinomial / x.uniform_(): need explicit PRNG keys"
    torch_functions = tuple(f"torch.{n}" for n in FUNCTIONS)
    tensor_methods = ("bernoulli", "bernoulli_", "multinomial", "uniform_", "normal_", "random_", "exponential_")
    call_signature = signature_of(_any)
    doc = RuleDoc(
        what="Random sampling inside `forward`: `torch.randn(...)`, `torch.rand_like(x)`, `torch.randint`, `torch.randperm`, `torch.bernoulli(p)`, `x.uniform_()`...",
        why=(
            "JAX has no global random state: every draw takes an explicit key, and a Flax module gets\n"
            "one with `self.make_rng('noise')` (the caller passes `rngs={'noise': key}` to `apply`).\n"
            "The stream differs from PyTorch's anyway, so only the distribution can match. Rewrite as\n"
            "`jax.random.normal(self.make_rng('noise'), shape)` and thread the key through `apply`."
        ),
        example=Example(torch="eps = torch.randn_like(std)", flax="# TODO(torch2flax): T023 eps = jax.random.normal(self.make_rng('noise'), std.shape)"),
        fidelity="Not translated: equivalence can only be distributional.",
    )
    flagged_examples = (HEADER + "        return x + torch.randn_like(x)\n", HEADER + "        return x * torch.rand(3)\n",
                        HEADER + "        return x.uniform_()\n")

    def emit_call(self, ctx):
        return unsupported(
            ctx, f"`{op_name(ctx)}` draws from PyTorch's global RNG: JAX needs an explicit key, e.g. "
            "`jax.random.normal(self.make_rng('noise'), shape)` with `rngs={'noise': key}` in apply",
        )
