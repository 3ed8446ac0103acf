"""PyTorch's decorators on functions and methods (rule S018; ``torch.no_grad`` also under S012).

TorchScript and ``torch.compile`` decorators go: the whole translated step is compiled by ``jax.jit``.
``@torch.no_grad()`` / ``@torch.inference_mode()`` run the whole body without recording gradients: the
body is translated as it is and every value it returns is passed through ``jax.lax.stop_gradient``.
``@torch.autocast(..., enabled=False)`` (or with dtype float32) computes the body in float32 as written: it
goes too, and so does the ``with`` block of the same context (S012, :func:`autocast_off`).
Any other decorator is kept as written (a ``torch.*`` one is then reported as leftover torch, X001).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from translator.naming import library_name
from translator.rewrite.context import parse_expr

DECORATORS = "S018"
NO_GRAD = "S012"

#: decorators that only choose how PyTorch compiles the function: eager code is the same without them
COMPILE_DECORATORS = frozenset({
    "torch.jit.script", "torch.jit.script_method", "torch.jit.export", "torch.jit.ignore", "torch.jit.unused",
    "torch.jit.interface", "torch.compile", "torch.compiler.disable", "torch._dynamo.disable",
    "torch.compiler.allow_in_graph", "torch._dynamo.allow_in_graph",
})
#: decorators that run the whole body in a gradient context (S012's `with` blocks)
GRAD_DECORATORS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.enable_grad"})
#: mixed-precision contexts (as decorators or `with` blocks); the device-specific ones take `enabled` first
AUTOCAST_CONTEXTS = frozenset({"torch.autocast", "torch.amp.autocast", "torch.cuda.amp.autocast", "torch.cpu.amp.autocast"})


def autocast_off(call: cst.BaseExpression, resolved) -> bool:
    """``torch.autocast(..., enabled=False)``, or one whose dtype is ``torch.float32``: on a float32 model the
    body computes exactly as written (the idiom that keeps rotary embeddings and norms in float32)."""
    if not isinstance(call, cst.Call):
        return False
    name = library_name(resolved, call.func)
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    device_specific = name in ("torch.cuda.amp.autocast", "torch.cpu.amp.autocast")  # (enabled, dtype, ...)
    enabled = keywords.get("enabled", positional[0] if device_specific and positional else None)
    if enabled is not None:
        return m.matches(enabled, m.Name("False"))
    dtype = keywords.get("dtype", positional[0 if device_specific else 1] if len(positional) > (0 if device_specific else 1) else None)
    return dtype is not None and library_name(resolved, dtype) == "torch.float32"


@dataclass(frozen=True)
class ReadDecorators:
    """What a function's decorators mean for its translation."""

    #: the decorators the translation keeps (``@staticmethod``, ``@property``, the project's own)
    kept: tuple[cst.Decorator, ...]
    #: the gradient context the whole body runs in (``torch.no_grad``), or None
    grad_context: str | None
    #: the qualified names of the compile decorators dropped
    dropped: tuple[str, ...]
    #: the notes saying what went and why, as comment lines for above the definition
    comments: tuple[cst.EmptyLine, ...] = ()

    @property
    def stops_gradient(self) -> bool:
        return self.grad_context in ("torch.no_grad", "torch.inference_mode")


def decorator_name(decorator: cst.Decorator, file) -> str | None:
    """The qualified name a decorator applies: ``torch.no_grad`` for ``@torch.no_grad()`` and ``@no_grad``."""
    target = decorator.decorator
    if isinstance(target, cst.Call):
        target = target.func
    return library_name(file.resolved, target)


def read_decorators(function: cst.FunctionDef, file) -> ReadDecorators:
    """Sort ``function``'s decorators (see the module docstring), with notes of what goes and why."""
    file.take_notes()  # nothing pending belongs to this definition
    kept, dropped, context, float32 = [], [], None, None
    for decorator in function.decorators:
        name = decorator_name(decorator, file)
        if name in COMPILE_DECORATORS:
            dropped.append(name)
        elif name in AUTOCAST_CONTEXTS and autocast_off(decorator.decorator, file.resolved):
            float32 = name
        elif name in GRAD_DECORATORS and context is None:
            context = name
        else:
            kept.append(decorator)
    if dropped:
        file.note(DECORATORS, f"@{', @'.join(dropped)} -> removed: it picks how PyTorch compiles this function; "
                              "jax.jit compiles the whole step")
    if float32 is not None:
        file.note(DECORATORS, f"@{float32}(...) with autocast off -> removed: the body computes in float32 as written")
    if context in ("torch.no_grad", "torch.inference_mode"):
        file.note(NO_GRAD, f"@{context}(): no gradient flows through what this returns -> jax.lax.stop_gradient")
    comments = tuple(cst.EmptyLine(comment=cst.Comment(f"# {note}")) for note in file.take_notes())
    return ReadDecorators(tuple(kept), context, tuple(dropped), comments)


class _StopReturnedGradients(cst.CSTTransformer):
    """Every ``return v`` of one function body (not of functions nested in it) returns ``stop_gradient(v)``."""

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.Return:
        value = updated.value
        if value is None or m.matches(value, m.Name("None") | m.SimpleString() | m.Integer() | m.Float()):
            return updated
        if m.matches(value, m.Call(func=m.Attribute(value=m.Attribute(value=m.Name("jax"), attr=m.Name("lax")),
                                                     attr=m.Name("stop_gradient")))):
            return updated
        if isinstance(value, cst.Tuple) and not value.lpar:  # `return a, b`: one argument, the tuple
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return updated.with_changes(value=parse_expr("jax.lax.stop_gradient({v})", v=value))


def stop_returned_gradients(body: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """``body`` with each value it returns (a tensor or a tuple/dict of them) passed through ``stop_gradient``."""
    transformer = _StopReturnedGradients()
    return [statement.visit(transformer) for statement in body]
