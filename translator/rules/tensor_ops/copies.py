"""T012 TorchCopyDetach: ``contiguous``/``clone``/``cpu``/``cuda`` -> the value; ``detach`` -> ``stop_gradient``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import emit, op_name, shapes


def _copy(input, *args, memory_format=None, non_blocking=False): ...


@register
class TorchCopyDetach(Rule):
    code = "T012"
    name = "TorchCopyDetach"
    summary = "x.contiguous() / x.clone() / x.cpu() / x.cuda() -> x; x.detach() / x.data -> jax.lax.stop_gradient(x)"
    torch_functions = ("torch.clone", "torch.detach")
    tensor_methods = ("contiguous", "clone", "detach", "cpu", "cuda", "data")
    call_signature = signature_of(_copy)
    doc = RuleDoc(
        what="Memory and placement calls `contiguous`, `clone`, `cpu`, `cuda`, `detach`, and the `.data` attribute.",
        why=(
            "JAX arrays are immutable values: there are no views to make contiguous and no aliasing\n"
            "a clone would protect against, so these are the value itself. There is no autograd tape\n"
            "either: `detach` (and reading `.data`) becomes `jax.lax.stop_gradient`, which blocks the gradient where it\n"
            "stands in the traced function. Device moves are decided outside the model."
        ),
        example=Example(torch="t = x.detach().clone().cuda()", flax="t = jax.lax.stop_gradient(x)  # clone() and cuda() disappear"),
        fidelity="Exact: values unchanged; detach gives zero gradient in both.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        x = code_of(ctx.expr("input"))
        if op in ("cpu", "cuda"):
            ctx.note("device placement is dropped: JAX places arrays itself (jax.device_put outside the model)")
        if op in ("detach", "data"):
            return emit(f"jax.lax.stop_gradient({x})", ctx.fact("input"))
        return emit(x, ctx.fact("input"))

    def cases(self):
        @st.composite
        def copy_case(draw):
            form = draw(st.sampled_from([
                "{x}.contiguous() * 2", "{x}.clone() + {x}", "{x} * {x}.detach()", "torch.detach({x}) + torch.clone({x})",
                "{x}.cpu() - 1", "{x}.detach().clone() * {x}", "{x}.data * {x}",
            ]))
            if draw(st.booleans()):
                return RuleCase("nn.Conv2d(2, 2, 1)", form.format(x="self.layer(x)"), (1, 2, 3, 3))
            return RuleCase(None, form.format(x="x"), shapes(draw))

        return copy_case()
