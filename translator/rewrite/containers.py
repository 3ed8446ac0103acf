"""``nn.Sequential``, ``nn.ModuleList`` and ``nn.ModuleDict`` in ``setup`` and at their call sites.

In ``setup`` a container becomes a plain list (or dict) of Flax layers: Flax
names the layers ``<attr>_<index>`` (``<attr>_<key>``), which is how the port
plan maps ``features.0.weight`` to ``params/features_0/kernel``.

Flax's own ``nn.Sequential`` cannot pass ``train`` to dropout or batch norm
and cannot change layout between a convolution and a ``Linear``, so a call of a
Sequential is written out as a small method that calls each layer in order,
with the layouts and flags each one needs.  A container built at run time
(``nn.Sequential(*layers)``) is called in a loop, which is only translated when
every element it may hold takes and returns PyTorch's layout.
"""

from __future__ import annotations

import pydoc

import libcst as cst

from translator.rewrite.model import ContainerAttr, LayerAttr, UserModuleRef

CONTAINER_KINDS = {
    id(pydoc.locate("torch.nn.Sequential")): "sequential",
    id(pydoc.locate("torch.nn.ModuleList")): "list",
    id(pydoc.locate("torch.nn.ModuleDict")): "dict",
}
CONTAINER_CODE = "S005"


def container_kind(qualified: str | None) -> str | None:
    if qualified is None:
        return None
    obj = pydoc.locate(qualified)
    return CONTAINER_KINDS.get(id(obj)) if obj is not None else None


def plain_compatible(element, info) -> bool:
    """Whether calling ``element(x)`` on a plain value is correct with no layout or flag handling."""
    if isinstance(element, UserModuleRef):
        return True
    if isinstance(element, LayerAttr):
        spec = element.call
        return (
            element.inline is None
            and element.wrap_call is None
            and spec.train_kwarg is None
            and spec.accepts in ("plain", "any")
            and spec.produces in ("plain", "same")
        )
    if isinstance(element, ContainerAttr):
        return False
    return False


def element_call_target(path: cst.BaseExpression, key) -> cst.BaseExpression:
    """``self.features[0]`` / ``self.heads["a"]`` as an expression."""
    index = cst.Integer(str(key)) if isinstance(key, int) else cst.SimpleString(repr(key))
    return cst.Subscript(value=path, slice=[cst.SubscriptElement(cst.Index(index))])


def sequential_method_name(path: tuple[str | int, ...]) -> str:
    return "_run_" + "_".join(str(p) for p in path)


def sequential_body(container: ContainerAttr, target_path: tuple, method_name: str) -> str:
    """PyTorch-like source of the chain a Sequential runs (translated by the body translator)."""
    target = "self." + target_path[0] + "".join(f"[{p!r}]" for p in target_path[1:])
    if container.elements is None:
        return f"def {method_name}(self, x):\n    for layer in {target}:\n        x = layer(x)\n    return x\n"
    lines = [f"def {method_name}(self, x):"]
    for key in container.elements:
        lines.append(f"    x = {target}[{key!r}](x)")
    lines.append("    return x")
    return "\n".join(lines) + "\n"
