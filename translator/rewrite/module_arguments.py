"""Modules passed as constructor arguments: ``PreNorm(dim, Attention(...))``.

``PreNorm.__init__(self, dim, fn)`` stores ``self.fn = fn`` and ``forward`` calls
``self.fn(...)``. What ``fn`` holds is decided by the callers, so the file is read
for every construction ``PreNorm(...)``: when each one passes a new instance of a
class of this file, the field may hold any of those classes, and a call of
``self.fn`` is translated like a call of a container element of those kinds
(rule S016). In Flax the instance is built in the caller's ``setup`` and adopted
by the module it is passed to, under the field's name, so ``fn.net.0.weight``
ports to ``fn/net_0/kernel`` as for any submodule.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from translator.rewrite.model import FileInfo, UserModuleRef


def constructor_parameters(node: cst.ClassDef) -> tuple[list[str], set[str]] | None:
    """Positional parameter names of ``__init__`` (without self) and keyword-only names, or None."""
    init = next((s for s in node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
    if init is None:
        return None
    positional = [p.name.value for p in [*init.params.posonly_params, *init.params.params]][1:]
    return positional, {p.name.value for p in init.params.kwonly_params}


def bound_arguments(call: cst.Call, positional: list[str], keyword_only: set[str]) -> dict[str, cst.BaseExpression] | None:
    """Parameter name -> the argument a construction passes (None when ``*args``/``**kwargs`` hide it)."""
    bound: dict[str, cst.BaseExpression] = {}
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            bound[arg.keyword.value] = arg.value
        elif index < len(positional):
            bound[positional[index]] = arg.value
    return bound


def module_arguments(classes: dict[str, cst.ClassDef], info: FileInfo) -> dict[str, dict[str, tuple]]:
    """For each class, the parameters that every construction in the file fills with a new instance of a
    class of the file: ``{"PreNorm": {"fn": (UserModuleRef("Attention"), UserModuleRef("FeedForward"))}}``.

    A parameter some construction fills otherwise (a name, a torch layer, a default) is left out: a
    call of it stays reported (X005).
    """
    sites: dict[str, list[cst.Call]] = {name: [] for name in classes}
    for node in classes.values():
        for call in m.findall(node, m.Call(func=m.Name())):
            if call.func.value in sites:
                sites[call.func.value].append(call)
    found: dict[str, dict[str, tuple]] = {}
    for name, calls in sites.items():
        signature = constructor_parameters(classes[name])
        if not calls or signature is None:
            continue
        kinds: dict[str, list] = {}
        unknown: set[str] = set()
        for call in calls:
            bound = bound_arguments(call, *signature)
            if bound is None:
                break
            for parameter in set(signature[0]) | signature[1]:
                value = bound.get(parameter)
                if m.matches(value, m.Call(func=m.Name())) and value.func.value in info.classes:
                    kinds.setdefault(parameter, []).append(UserModuleRef(value.func.value))
                else:
                    unknown.add(parameter)
        else:
            accepted = {p: tuple(dict.fromkeys(k)) for p, k in kinds.items() if p not in unknown}
            if accepted:
                found[name] = accepted
    return found
