"""Shared pieces for activations that need more than one ``jax.nn`` call.

Some PyTorch activations have no ``jax.nn`` function with the same value *and*
the same gradient at the kink (``leaky_relu`` at 0, ``hardtanh`` at its bounds,
``softplus`` with a threshold; PITFALLS.md section 4).  They are emitted as a
``jnp.where`` on the comparison PyTorch's kernel uses, which names the input
more than once.  So the input is never duplicated when it is an expression
(duplicating ``self.drop(x)`` would draw two dropout masks):

* module form: a ``lambda`` in ``setup`` (the call site stays ``self.act(h)``);
* function form on a name: ``jnp.where(h > 0, h, 0.2 * h)``;
* function form on an expression: ``(lambda v: jnp.where(...))(self.fc(x))``.

Also here: Hypothesis helpers that put inputs exactly on a rule's kinks (the
oracle mixes exact zeros into every input, so ``x + k`` hits ``k`` exactly).
"""

from __future__ import annotations

import re
from typing import ClassVar

import libcst as cst
from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.activations._elementwise import ElementwiseActivation
from translator.rules.base import CallSpec, Emitted, LayerBuild, NotLiteral

#: expressions that can be repeated in emitted code without recomputation or side effects
_ATOMS = (cst.Name, cst.Integer, cst.Float)


def is_atom(expr: cst.BaseExpression) -> bool:
    """A name, a number, or an attribute chain on a name (``self.scale``)."""
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, _ATOMS) and not expr.lpar


def operand(expr: cst.BaseExpression) -> str:
    """The code of ``expr``, parenthesised unless it binds tighter than any operator."""
    code = code_of(expr)
    if isinstance(expr, (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float)) or expr.lpar:
        return code
    return f"({code})"


def fresh_name(*codes: str, preferred: str = "x") -> str:
    """A lambda parameter name that no other part of the emitted expression uses."""
    text = " ".join(codes)
    for name in (preferred, "v", "u", "z", "t", "h"):
        if not re.search(rf"\b{name}\b", text):
            return name
    raise AssertionError("no free name")  # pragma: no cover - six names in one argument list


def number(value: float | int) -> str:
    """A literal as a float, as PyTorch reads it (``0`` -> ``0.0``), so JAX keeps float32."""
    return repr(float(value))


def argument(ctx, name: str) -> str:
    """The code of an argument: a float literal when it is one, else its (parenthesised) expression."""
    value = literal_or_none(ctx, name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value)
    return operand(ctx.expr(name))


class WhereActivation(ElementwiseActivation):
    """An activation emitted from :meth:`body`, a code template in terms of the input's name."""

    def arguments(self, ctx) -> dict[str, str] | None:
        """The code of each argument :meth:`body` needs; None after reporting an unsupported value."""
        return {}

    def body(self, x: str, args: dict[str, str]) -> str:  # pragma: no cover - hook
        raise NotImplementedError

    def build_layer(self, ctx):
        args = self.arguments(ctx)
        if args is None:
            return LayerBuild(cst.Name("None"), CallSpec(accepts="any", produces="same"))
        name = fresh_name(*args.values())
        expr = cst.parse_expression(f"lambda {name}: {self.body(name, args)}")
        return LayerBuild(expr, CallSpec(accepts="any", produces="same"))

    def emit_call(self, ctx):
        args = self.arguments(ctx)
        x = ctx.expr("input")
        PLACEHOLDER = "__torch2flax_bound__"
        if args is None:
            return Emitted(x, ctx.fact("input"))
        if is_atom(x):
            code = self.body(code_of(x), args)
        elif self.body(PLACEHOLDER, args).count(PLACEHOLDER) == 1:  # used once: write the value in place
            code = self.body(PLACEHOLDER, args).replace(PLACEHOLDER, f"({code_of(x)})")
        else:
            name = fresh_name(*args.values(), preferred="v")
            code = f"(lambda {name}: {self.body(name, args)})({code_of(x)})"
        return Emitted(cst.parse_expression(code), ctx.fact("input"))


# --------------------------------------------------------------------------- cases


def shapes():
    return st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def shifted(x: str, by: float) -> str:
    """``x`` moved so that the oracle's exact zeros land exactly on ``by``."""
    if by == 0:
        return x
    return f"{x} + {number(by)}" if by > 0 else f"{x} - {number(-by)}"


def method_receiver(operand_code: str) -> str:
    return operand_code if operand_code == "x" else f"({operand_code})"


class KinkCases:
    """Mixin: cases over the module form and each function form, on and off the kinks."""

    kinks: ClassVar[tuple[float, ...]] = (0.0,)
    #: function forms as templates of the operand: ``"F.relu6({x})"``, ``"{x}.relu()"``
    function_templates: ClassVar[tuple[str, ...]] = ()

    def case_forms(self, draw) -> tuple[str | None, str, tuple[float, ...]]:
        """Draw (module init or None, forward template, kinks); override to draw hyperparameters."""
        forms = [(self.module_form, "self.layer({x})"), *((None, t) for t in self.function_templates)]
        init, template = draw(st.sampled_from(forms))
        return init, template, self.kinks

    def case_shapes(self):
        return shapes()

    def cases(self):
        from translator.rules.base import RuleCase

        @st.composite
        def kink_case(draw):
            init, template, kinks = self.case_forms(draw)
            x = shifted("x", draw(st.sampled_from(kinks)))
            if template.startswith("{x}."):
                x = method_receiver(x)
            return RuleCase(init, template.format(x=x), draw(self.case_shapes()), input_range=self.input_range)

        return kink_case()


__all__ = ["NotLiteral", "WhereActivation", "KinkCases", "argument", "number", "operand", "fresh_name", "is_atom"]
