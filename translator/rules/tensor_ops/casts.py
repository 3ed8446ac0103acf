"""T011 TorchCast: ``x.float()``, ``x.long()``, ``x.to(dtype)``, ``x.type_as(y)`` -> ``astype``; ``.to(device)`` dropped."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, op_name, paren, shapes, unsupported
from translator.rules.tensor_ops.dtypes import x64_note


def _to(input, dest=None, dtype=None, non_blocking=False, copy=False, *, device=None, memory_format=None): ...


METHODS = {
    "float": "float32", "double": "float64", "half": "float16", "bfloat16": "bfloat16",
    "long": "int64", "int": "int32", "short": "int16", "char": "int8", "byte": "uint8", "bool": "bool_",
}
DEVICE_NOTE = "device placement is dropped: JAX places arrays itself (jax.device_put outside the model)"


def kind(text: str) -> str:
    """What a positional `.to(...)` argument is: dtype, device or tensor (unknown when unsure)."""
    if text.startswith("jnp.") or text.endswith(".dtype"):
        return "dtype"
    if text == "None":  # `x.device`, translated (a traced array has no device)
        return "device"
    if text[:1] in "'\"" or text.endswith(".device") or "device" in text.lower() or text.startswith("torch.device("):
        return "device"
    return "unknown"


@register
class TorchCast(Rule):
    code = "T011"
    name = "TorchCast"
    summary = "x.float() / x.long() / x.to(dtype) / x.type_as(y) -> astype; x.to(device) -> x"
    tensor_methods = (*METHODS, "to", "type_as", "type")
    call_signature = signature_of(_to)
    doc = RuleDoc(
        what=(
            "dtype casts `x.float()`, `.double()`, `.half()`, `.bfloat16()`, `.long()`, `.int()`, `.bool()`,\n"
            "`x.to(torch.float16)`, `x.to(device, dtype)`, `x.to(dtype=...)`, `x.type(dtype)`, `x.type_as(y)`;\n"
            "`x.to(device)` / `x.to('cuda')` (dropped, with a note)."
        ),
        why=(
            "JAX arrays cast with `astype` and carry no device in the model: placement is decided by\n"
            "`jit`/`device_put` outside, so device moves disappear. A cast is elementwise and keeps the\n"
            "layout. `.double()`/`.long()` need x64 enabled in JAX to stay 64-bit (T010). Float -> int\n"
            "truncates toward zero in both. `x.to(y)` for a tensor `y` is read only when `y` is clearly\n"
            "a dtype or device; otherwise write `x.type_as(y)`."
        ),
        example=Example(torch="m = mask.float().to(x.device)", flax="m = mask.astype(jnp.float32)"),
        fidelity="Exact: the same IEEE rounding (round to nearest even) for narrowing float casts.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        x = code_of(ctx.expr("input"))
        fact = ctx.fact("input")
        if op in METHODS:
            if not ctx.is_default("dest"):
                return unsupported(ctx, f"`.{op}()` with arguments (memory_format) is not translated")
            x64_note(ctx, METHODS[op])
            return emit(f"{paren(x)}.astype(jnp.{METHODS[op]})", fact)
        if op == "type_as":
            if ctx.is_default("dest"):
                return unsupported(ctx, "`type_as` needs a tensor")
            return emit(f"{paren(x)}.astype({paren(code_of(ctx.expr('dest')))}.dtype)", fact)
        dtype = None if ctx.is_default("dtype") else code_of(ctx.expr("dtype"))
        if op == "type" and ctx.is_default("dest") and dtype is None:
            return unsupported(ctx, "`x.type()` returns a type name string; use `x.dtype`")
        if not ctx.is_default("dest"):
            dest = code_of(ctx.expr("dest"))
            what = kind(dest)
            if what == "unknown" and dest in getattr(ctx.body, "dtypes", ()):
                what = "dtype"  # a parameter with a dtype default, or a local assigned one
            if what == "dtype" and dtype is None:
                dtype = dest
            elif what == "device" and op == "to":
                ctx.note(DEVICE_NOTE)
            else:
                return unsupported(
                    ctx, f"cannot tell whether `{dest}` is a dtype, a device or a tensor: write `dtype=`, or `.type_as(y)`"
                )
        if not ctx.is_default("device"):
            ctx.note(DEVICE_NOTE)
        if dtype is None:
            return emit(x, fact)
        return emit(f"{paren(x)}.astype({dtype})", fact)

    def cases(self):
        @st.composite
        def cast_case(draw):
            form = draw(st.sampled_from([
                "{x}.half().float()", "{x}.bfloat16().float()", "{x}.double().float() * 2",
                "{x} * 0 + {x}.long().float() + {x}.int().float()", "{x} + {x}.bool().float()",
                "{x} + {x}.short().float() + {x}.char().float() * 2 + {x}.abs().byte().float() * 3",
                "{x}.to(torch.float16).to(dtype=torch.float32)", "{x}.to('cpu') * 3", "{x}.to(x.device, torch.float32)",
                "{x}.type(torch.float16).type_as({x})", "{x}.to({x}.dtype)", "{x}.to(device='cpu', dtype=torch.float16).float()",
                "cast({x}) * 2", "cast({x}, torch.float16).float()", "cast_like({x}, {x} * 2)",
            ]))
            prelude = (  # a dtype held in a parameter (its default) and in a local
                "def cast(t, dtype=torch.float32):\n    half = torch.float16\n    return t.to(half).type(dtype)\n\n\n"
                "def cast_like(t, like):\n    device, dtype = like.device, like.dtype\n    return t.half().to(device).to(dtype)\n"
            )
            if draw(st.booleans()):  # layout: a cast after a conv keeps channels-last
                return RuleCase("nn.Conv2d(2, 2, 1)", form.format(x="self.layer(x)"), (1, 2, 3, 3), prelude=prelude)
            return RuleCase(None, form.format(x="x"), shapes(draw), input_range=(-3.0, 3.0), prelude=prelude)

        return cast_case()
