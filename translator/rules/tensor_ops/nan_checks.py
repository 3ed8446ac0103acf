"""T040 TorchNanChecks: ``torch.isnan/isinf/isfinite/isposinf/isneginf``, ``nan_to_num`` -> ``jnp`` (layout kept)."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of
from translator.rules.base import Example, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import code, emit, op_name, shapes, unsupported


def _nan_check(input, nan=0.0, posinf=None, neginf=None, *, out=None): ...


CHECKS = ("isnan", "isinf", "isfinite", "isposinf", "isneginf")


@register
class TorchNanChecks(Rule):
    code = "T040"
    name = "TorchNanChecks"
    summary = "torch.isnan / isinf / isfinite / isposinf / isneginf / nan_to_num (and methods) -> jnp"
    torch_functions = tuple(f"torch.{n}" for n in (*CHECKS, "nan_to_num"))
    tensor_methods = (*CHECKS, "nan_to_num")
    call_signature = signature_of(_nan_check)
    doc = RuleDoc(
        what=(
            "`torch.isnan(x)`, `x.isinf()`, `torch.isfinite(x)`, `isposinf`, `isneginf` (bool results) and\n"
            "`torch.nan_to_num(x, nan=0.0, posinf=None, neginf=None)` / `x.nan_to_num(...)`."
        ),
        why=(
            "Same functions under the same names in `jnp`, without tensor methods or `out=`. Under jit\n"
            "the bool result cannot steer Python control flow (`if torch.isnan(loss).any():` needs a\n"
            "concrete value): select with `jnp.where` instead. `nan_to_num` replaces +-inf by the dtype's\n"
            "largest finite values by default in both, and passes no gradient to replaced entries.\n"
            "Elementwise: a channels-last value keeps its layout."
        ),
        example=Example(torch="x = torch.nan_to_num(x, nan=0.0, posinf=1e4)", flax="x = jnp.nan_to_num(x, nan=0.0, posinf=1e4)"),
        fidelity="Exact.",
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        x, fact = code(ctx, "input", plain=False), ctx.fact("input")
        if op in CHECKS:
            if not all(ctx.is_default(n) for n in ("nan", "posinf", "neginf")):
                return unsupported(ctx, f"`{op}` takes one tensor")
            return emit(f"jnp.{op}({x})", fact)
        args = [x, f"nan={code_of(ctx.expr('nan'))}"]  # jnp's nan default is 0.0 too; kept explicit
        args += [f"{n}={code_of(ctx.expr(n))}" for n in ("posinf", "neginf") if not ctx.is_default(n)]
        return emit(f"jnp.nan_to_num({', '.join(args)})", fact)

    def cases(self):
        @st.composite
        def nan_case(draw):
            # an input with nan, +inf and -inf entries (where's constant branches carry no gradient)
            special = ("torch.where({x} > 1.2, float('inf'), torch.where({x} < -1.2, float('nan'), "
                       "torch.where({x}.round() == -1, float('-inf'), {x})))")
            op = draw(st.sampled_from([*CHECKS, "nan_to_num"]))
            if op == "nan_to_num":
                extra = draw(st.sampled_from(["", "nan=0.5", "posinf=3.0", "neginf=-2.0, posinf=1e3", "1.5, 2.0, -3.0"]))
                forward = f"torch.nan_to_num({special}{', ' + extra if extra else ''})"
                if not extra.startswith("1.5") and draw(st.booleans()):
                    forward = forward.replace("torch.nan_to_num(" + special + ", ", "(" + special + ").nan_to_num(").replace(
                        "torch.nan_to_num(" + special + ")", "(" + special + ").nan_to_num()")
                if "posinf" not in extra and not extra.startswith("1.5"):  # +-inf become float32's extremes: clip them
                    forward = f"torch.clamp({forward}, -5.0, 5.0)"
            else:
                test = f"torch.{op}({special})" if draw(st.booleans()) else f"({special}).{op}()"
                forward = f"torch.where({test}, 2 * {{x}}, {{x}})"
            if draw(st.booleans()):  # layout: elementwise on a conv output
                return RuleCase("nn.Conv2d(2, 2, 1)", forward.format(x="self.layer(x)"), (1, 2, 3, 3))
            return RuleCase(None, forward.format(x="x"), shapes(draw))

        return nan_case()
