"""T036 TorchFinfo: ``torch.finfo(dtype)`` / ``torch.iinfo(dtype)`` -> ``jnp.finfo`` / ``jnp.iinfo``, and their fields."""

from __future__ import annotations

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, op_name, shapes, unsupported


def _info(type=None): ...


#: fields of a finfo/iinfo read by this rule (``max``/``min`` are read through T009, ``dtype`` by the rewriter)
FIELDS = ("eps", "tiny", "smallest_normal", "resolution", "bits")
INFO = ("jnp.finfo", "jnp.iinfo")


@register
class TorchFinfo(Rule):
    code = "T036"
    name = "TorchFinfo"
    summary = "torch.finfo(dtype) / torch.iinfo(dtype) -> jnp.finfo / jnp.iinfo (.eps, .tiny, .bits, .resolution...)"
    torch_functions = ("torch.finfo", "torch.iinfo")
    tensor_methods = FIELDS
    call_signature = signature_of(_info)
    doc = RuleDoc(
        what=(
            "`torch.finfo(x.dtype)`, `torch.finfo(torch.float16)`, `torch.finfo()` (the default float32),\n"
            "`torch.iinfo(torch.int32)`, and the fields read from them: `.eps`, `.tiny`,\n"
            "`.smallest_normal`, `.resolution`, `.bits` (`.max` / `.min` as in `-torch.finfo(x.dtype).max`,\n"
            "the usual masking constant, go through T009)."
        ),
        why=(
            "JAX dtypes are NumPy's, so the limits come from `jnp.finfo` / `jnp.iinfo` (which also know\n"
            "bfloat16). NumPy's fields are scalars *of* the dtype, which JAX promotes strongly\n"
            "(`x16 * np.float32(eps)` is float32), while PyTorch's are Python floats that keep x's dtype:\n"
            "the fields are read as `float(...)`, and `resolution` as PyTorch computes it (10 ** -precision,\n"
            "NumPy's is rounded to the dtype). A dtype is static under jit, so `jnp.finfo(x.dtype)` is a Python-level constant\n"
            "even when x is traced. The fields are read only on a `finfo(...)` written in place: a name\n"
            "holding one (`info = torch.finfo(...)`; `info.eps`) cannot be told from a tensor and is\n"
            "reported."
        ),
        example=Example(torch="eps = torch.finfo(x.dtype).eps", flax="eps = float(jnp.finfo(x.dtype).eps)"),
        fidelity="Exact: the same IEEE limits (float64 limits need x64 for the arrays that use them).",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if op in FIELDS:
            receiver = ctx.expr("type")
            if not (isinstance(receiver, cst.Call) and code_of(receiver.func) in INFO):
                return unsupported(ctx, f"`.{op}` is read only from `torch.finfo(...)` / `torch.iinfo(...)` written in place")
            info = code_of(receiver)
            if op == "bits":
                return emit(f"{info}.bits")
            if op == "resolution":  # PyTorch's is 10 ** -precision exactly; NumPy's is rounded to the dtype
                return emit(f"10.0 ** -{info}.precision")
            return emit(f"float({info}.{op})")  # a Python float, as PyTorch's: weakly typed in arithmetic
        function = "jnp.finfo" if op == "finfo" else "jnp.iinfo"
        if ctx.is_default("type"):
            if op == "iinfo":
                return unsupported(ctx, "`torch.iinfo` needs a dtype")
            return emit("jnp.finfo(jnp.float32)")  # PyTorch's default dtype
        return emit(f"{function}({code_of(ctx.expr('type'))})")

    def cases(self):
        @st.composite
        def finfo_case(draw):
            dtype = draw(st.sampled_from(["x.dtype", "torch.float32", "torch.float16", "torch.bfloat16", ""]))
            field = draw(st.sampled_from(["eps", "tiny", "smallest_normal", "resolution"]))
            forms = [
                f"x + torch.finfo({dtype}).{field}",
                f"x * torch.finfo({dtype}).{field} * 1e3 + x",
                f"x * (torch.finfo({dtype}).bits / 16) + torch.iinfo(torch.int8).bits",
                f"torch.clamp(x, min=torch.finfo({dtype}).eps)",
            ]
            return RuleCase(None, draw(st.sampled_from(forms)), shapes(draw))

        return finfo_case()
