"""A training script's loss module as a pure callable: ``criterion = nn.CrossEntropyLoss(...)`` -> ``partial(...)``.

The training-script translator calls :func:`translate_loss_module` on the constructor call of a
module-level ``criterion = nn.<Loss>(...)``; the result is the expression of a pure function
``(input, target) -> loss`` (the same one a model holding the loss gets in ``setup``: the loss
rules' ``build_layer``, family ``C``), so ``criterion(outputs, labels)`` in the training step keeps
working inside ``jax.jit``.  Support functions are registered in the file's support table.

A loss module *defined in the script* (``class DiceLoss(nn.Module)``) is not a constructor this
function reads: it is an ``nn.Module`` and translates as any class of the file does, to a Flax
module with no parameters, called as ``DiceLoss().apply({}, pred, target)``.
"""

from __future__ import annotations

import inspect
import pydoc

import libcst as cst

from translator.naming import library_name
from translator.rewrite.body import UNSUPPORTED, BodyTranslator
from translator.rewrite.context import (
    FileContext,
    RedundantArgumentParens,
    RuleContext,
    UnbindableCall,
    bind_arguments,
    code_of,
)
from translator.rewrite.model import FileInfo
from translator.rules.registry import rule_for_qualified_name

#: the package whose rules translate loss modules
LOSS_RULES = "translator.rules.losses."


def is_loss_rule(rule) -> bool:
    return type(rule).__module__.startswith(LOSS_RULES) and bool(rule.torch_classes)


def translate_loss_module(call: cst.Call, file: FileContext, body: BodyTranslator | None = None) -> cst.BaseExpression | None:
    """The pure callable ``(input, target, ...) -> loss`` of a torch loss module's constructor call.

    ``call``: ``nn.CrossEntropyLoss(label_smoothing=0.1)`` (any spelling that resolves to a
    ``torch.nn`` loss class). ``body``: the translator of the surrounding script code, used for
    tensor arguments (``weight=torch.tensor([...])``, ``pos_weight=w``); a module-level one by default.
    Returns e.g. ``partial(torch_cross_entropy, label_smoothing=0.1)`` with ``torch_cross_entropy``
    added to ``file.support``, and the rule's note in ``file.pending_notes``; or None after a
    diagnostic located at ``call`` (a loss with no rule, an argument that cannot be translated,
    the legacy ``size_average``/``reduce``).
    """
    qualified = library_name(file.resolved, call.func)
    rule = rule_for_qualified_name(qualified) if qualified is not None else None
    if rule is None or not is_loss_rule(rule):
        what = f"`{qualified}`" if qualified is not None else f"`{code_of(call.func)}`"
        file.report(UNSUPPORTED, f"no rule translates the loss {what} into a function of (input, target)", call)
        return None
    torch_class = pydoc.locate(qualified)
    signature = rule.constructor_signature or inspect.signature(torch_class)
    try:
        provided = bind_arguments(call, signature)
    except UnbindableCall as error:
        file.report(rule.code, f"cannot read the arguments of `{code_of(call)}`: {error}", call)
        return None
    translator = body if body is not None else BodyTranslator(file, FileInfo(), None)
    for name in rule.tensor_arguments:
        if name in provided:
            provided[name] = translator.plain(provided[name])
    context = RuleContext(rule, file, call, signature, provided, target=torch_class)
    build = rule.build_layer(context)
    if context.failed or build.flax_expr is None:
        return None
    for name, source in build.support:
        context.support(name, source)
    for note in build.notes:
        context.note(note)
    return build.flax_expr.visit(RedundantArgumentParens())
