"""A ``torch.autograd.Function`` -> a ``jax.custom_vjp`` function (rule S022).

PyTorch's pair of static methods maps onto JAX's three pieces::

    class SignSTE(torch.autograd.Function):          @jax.custom_vjp
        @staticmethod                                def sign_ste(input):
        def forward(ctx, input):                         return jnp.sign(input)
            ctx.save_for_backward(input)
            return torch.sign(input)                 def _sign_ste_fwd(input):
                                                         return jnp.sign(input), (input,)
        @staticmethod
        def backward(ctx, grad_output):              def _sign_ste_bwd(residuals, grad_output):
            input, = ctx.saved_tensors                   input, = residuals[0:1]
            ...                                          ...
            return grad_input                            return (grad_input,)

                                                     sign_ste.defvjp(_sign_ste_fwd, _sign_ste_bwd)

``ctx.save_for_backward(...)`` and ``ctx.name = value`` become the residuals the forward returns;
``ctx.saved_tensors`` and ``ctx.name`` in the backward read them back; the backward returns one
cotangent per input (``None``: zero). ``Fn.apply(x)`` calls become ``fn(x)``. Anything else done with
``ctx`` (``needs_input_grad``, ``mark_dirty``, ``set_materialize_grads``) is reported (X007).
"""

from __future__ import annotations

import re

import libcst as cst
import libcst.matchers as m

from translator.rewrite.body import BodyTranslator
from translator.rewrite.context import FileContext, code_of
from translator.rewrite.model import FileInfo

CODE = "S022"
UNSUPPORTED = "X007"


def function_name(class_name: str) -> str:
    """``SignSTE`` -> ``sign_ste``; ``MemoryEfficientSwish`` -> ``memory_efficient_swish``."""
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", class_name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words).lower()


def static_method(node: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    for statement in node.body.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
            return statement
    return None


def translate_custom_gradient(node: cst.ClassDef, file: FileContext, info: FileInfo) -> list[cst.BaseStatement] | None:
    """The ``jax.custom_vjp`` statements for the Function ``node``, or None after reporting why not (X007)."""
    forward, backward = static_method(node, "forward"), static_method(node, "backward")
    extra = [s.name.value for s in node.body.body if isinstance(s, cst.FunctionDef) and s.name.value not in ("forward", "backward")]
    if forward is None or backward is None or extra:
        why = "a forward/backward pair is needed" if forward is None or backward is None else f"`{extra[0]}` is not translated"
        file.report(UNSUPPORTED, f"`{node.name.value}` is a custom torch.autograd.Function ({why}): write it with jax.custom_vjp", node)
        return None
    params = [p.name.value for p in forward.params.params]
    if len(params) < 1 or forward.params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) or forward.params.kwonly_params:
        file.report(UNSUPPORTED, f"`{node.name.value}.forward` takes arguments check cannot bind (star or keyword-only)", forward)
        return None
    ctx, inputs = params[0], params[1:]
    saved: list[cst.BaseExpression] = []
    attributes: list[str] = []
    kept: list[cst.BaseStatement] = []
    for statement in forward.body.body:
        if m.matches(statement, m.SimpleStatementLine(body=[m.Expr(value=m.Call(func=m.Attribute(value=m.Name(ctx), attr=m.Name("save_for_backward"))))])):
            saved.extend(a.value for a in statement.body[0].value.args)
            continue
        if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Attribute(value=m.Name(ctx)))])])):
            attribute = statement.body[0].targets[0].target.attr.value
            attributes.append(attribute)
            kept.append(statement.with_deep_changes(statement.body[0].targets[0], target=cst.Name(f"ctx_{attribute}")))
            continue
        kept.append(statement)
    if any(m.findall(cst.Module(body=kept), m.Name(ctx))):
        file.report(UNSUPPORTED, f"`{node.name.value}.forward` uses `{ctx}` beyond save_for_backward and attributes "
                    "(needs_input_grad, mark_dirty...): not translated", forward)
        return None
    back_params = [p.name.value for p in backward.params.params]
    back_ctx, cotangents = back_params[0], back_params[1:]
    reads = {"saved_tensors": f"residuals[0:{len(saved)}]"} | {a: f"residuals[{len(saved) + i}]" for i, a in enumerate(attributes)}
    back_body = backward.body.body
    for attribute_node in list(m.findall(backward, m.Attribute(value=m.Name(back_ctx), attr=m.Name()))):
        if attribute_node.attr.value not in reads:
            file.report(UNSUPPORTED, f"`{back_ctx}.{attribute_node.attr.value}` in `{node.name.value}.backward` is not translated",
                        attribute_node)
            return None
    name = function_name(node.name.value)
    body = BodyTranslator(file, info, None)
    file.origin = node
    try:
        primal = body.block(kept)
        back_replaced = [s.visit(ReplaceCtxReads(back_ctx, reads)) for s in back_body]
        back = BodyTranslator(file, info, None).block(back_replaced)
    finally:
        file.origin = None
    fwd = [s.visit(ReturnWithResiduals([body.plain(e) for e in saved], attributes)) for s in primal]
    back = [s.visit(ReturnCotangents()) for s in back]
    file.note(CODE, "a custom torch.autograd.Function -> jax.custom_vjp: forward returns (output, residuals), "
                    "backward maps (residuals, cotangent) to one cotangent per input")
    signature = ", ".join(inputs)
    source = (
        f"@jax.custom_vjp\ndef {name}({signature}):\n    pass\n\n\n"
        f"def _{name}_fwd({signature}):\n    pass\n\n\n"
        f"def _{name}_bwd(residuals, {', '.join(cotangents)}):\n    pass\n\n\n"
        f"{name}.defvjp(_{name}_fwd, _{name}_bwd)\n"
    )
    primal_def, fwd_def, bwd_def, defvjp = cst.parse_module(source).body
    notes = [cst.EmptyLine(comment=cst.Comment(f"# {n}")) for n in file.take_notes()]
    primal_def = primal_def.with_changes(body=primal_def.body.with_changes(body=primal),
                                         leading_lines=[*node.leading_lines, *notes])
    fwd_def = fwd_def.with_changes(body=fwd_def.body.with_changes(body=fwd))
    bwd_def = bwd_def.with_changes(body=bwd_def.body.with_changes(body=back))
    info.custom_gradients[node.name.value] = name
    return [file.mark(primal_def, node), fwd_def, bwd_def, defvjp]


class ReplaceCtxReads(cst.CSTTransformer):
    """``ctx.saved_tensors`` / ``ctx.alpha`` in the backward -> the residual they were saved as."""

    def __init__(self, ctx: str, reads: dict[str, str]):
        self.ctx, self.reads = ctx, reads

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if m.matches(updated, m.Attribute(value=m.Name(self.ctx), attr=m.Name())) and updated.attr.value in self.reads:
            return cst.parse_expression(self.reads[updated.attr.value])
        return updated


class ReturnWithResiduals(cst.CSTTransformer):
    """``return out`` -> ``return out, (saved..., ctx_attributes...)`` in the forward rule."""

    def __init__(self, saved: list[cst.BaseExpression], attributes: list[str]):
        elements = [cst.Element(e) for e in saved] + [cst.Element(cst.Name(f"ctx_{a}")) for a in attributes]
        self.residuals = cst.Tuple(elements) if elements else cst.Tuple([])
        if len(elements) == 1:
            self.residuals = cst.parse_expression(f"({code_of(elements[0].value)},)")

    def visit_FunctionDef(self, node) -> bool:
        return False

    def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.Return:
        value = updated.value if updated.value is not None else cst.Name("None")
        return updated.with_changes(value=cst.Tuple([cst.Element(value), cst.Element(self.residuals)], lpar=[], rpar=[]))


class ReturnCotangents(cst.CSTTransformer):
    """``return grad`` -> ``return (grad,)``: a custom_vjp backward returns a tuple, one entry per input."""

    def visit_FunctionDef(self, node) -> bool:
        return False

    def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.Return:
        if isinstance(updated.value, cst.Tuple):
            return updated
        value = updated.value if updated.value is not None else cst.Name("None")
        return updated.with_changes(value=cst.parse_expression(f"({code_of(value)},)"))

