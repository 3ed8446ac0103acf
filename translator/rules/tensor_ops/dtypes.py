"""T010 TorchDtype: the constants ``torch.float32``, ``torch.long``, ``torch.bool``... -> ``jnp`` dtypes."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules.base import Example, Rule, RuleCase, RuleDoc
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, shapes, unsupported

#: torch dtype attribute -> jnp dtype name
DTYPES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16",
    "int64": "int64", "long": "int64", "int32": "int32", "int": "int32", "int16": "int16", "short": "int16",
    "int8": "int8", "uint8": "uint8", "bool": "bool_", "complex64": "complex64", "cfloat": "complex64",
    "complex128": "complex128", "cdouble": "complex128",
}
#: dtypes JAX silently narrows unless ``jax_enable_x64`` is on
WIDE = {"float64", "int64", "complex128"}


def x64_note(ctx, dtype: str) -> None:
    if dtype in WIDE:
        ctx.note(f"jnp.{dtype} is narrowed to 32 bits unless `jax.config.update('jax_enable_x64', True)`")


@register
class TorchDtype(Rule):
    code = "T010"
    name = "TorchDtype"
    summary = "torch.float32 / torch.long / torch.bool ... -> jnp.float32 / jnp.int64 / jnp.bool_"
    torch_functions = tuple(f"torch.{n}" for n in DTYPES)
    call_signature = None  # a constant, not a call
    doc = RuleDoc(
        what="dtype constants: `torch.float32`, `torch.float`, `torch.long`, `torch.bool`, ... (in `dtype=` or comparisons).",
        why=(
            "JAX dtypes are NumPy's. Two differences matter: `torch.bool` is `jnp.bool_`, and JAX\n"
            "computes in 32 bits by default, so `jnp.float64`/`jnp.int64` only exist when x64 is\n"
            "enabled (`jax.config.update('jax_enable_x64', True)`); otherwise they are narrowed with a\n"
            "warning. Integer tensors from `torch.long` code are therefore int32 in JAX by default."
        ),
        example=Example(torch="y = x.to(torch.float16)", flax="y = x.astype(jnp.float16)"),
        fidelity="Exact for 32-bit and narrower types; 64-bit types need x64 enabled.",
    )

    def emit_call(self, ctx):
        node = getattr(ctx, "node", None)
        attr = getattr(getattr(node, "attr", None), "value", None)
        if attr not in DTYPES:
            return unsupported(ctx, f"unknown dtype constant `{attr}`")
        x64_note(ctx, DTYPES[attr])
        return emit(f"jnp.{DTYPES[attr]}")

    def cases(self):
        @st.composite
        def dtype_case(draw):
            dtype = draw(st.sampled_from([f"torch.{name}" for name in DTYPES]))
            if "complex" in DTYPES[dtype[6:]]:  # compared, not cast to: a complex result has no real gradient
                return RuleCase(None, f"x * (2.0 if x.dtype != {dtype} else 3.0)", shapes(draw))
            # integer casts truncate toward zero in both; uint8 takes the magnitude (negatives wrap)
            x = "x.abs()" if dtype == "torch.uint8" else "x"
            # float32 + float64 zeros is float64 in PyTorch but float32 in JAX without x64 (see `why`)
            zeros = f"torch.zeros(x.shape, dtype={dtype})" + (".float()" if DTYPES[dtype[6:]] == "float64" else "")
            return RuleCase(None, f"x + {x}.to({dtype}).float() * 2 + {zeros}", shapes(draw))

        return dtype_case()
