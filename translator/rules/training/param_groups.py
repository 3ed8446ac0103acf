"""O021 TorchParamGroups: what an optimizer optimises (``model.parameters()``, a submodule's, parameter
groups, ``named_parameters()`` filters) -> the Flax parameter tree, ``optax.multi_transform`` labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from translator.rules._emit import code_of
from translator.rules.base import Example, RuleDoc
from translator.rules.registry import register
from translator.rules.training._common import TrainingRule

PARAM_GROUPS = "O021"

LABELS = "torch_param_labels"
LABELS_SOURCE = '''
def torch_param_labels(groups, default="frozen"):
    """Parameter groups (O021): a label function for optax.multi_transform. `groups` holds (label,
    claims) pairs; `claims(path, leaf)` sees a parameter's path in the Flax tree as a tuple of names
    (("fc", "bias")) and the array. A parameter takes the first group that claims it; one no group
    claims gets `default` (its transformation is optax.set_to_zero(): torch never updates it)."""

    def labels(params):
        def label(path, leaf):
            keys = tuple(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
            return next((name for name, claims in groups if claims(keys, leaf)), default)

        return jax.tree_util.tree_map_with_path(label, params)

    return labels
'''

#: string methods a ``named_parameters()`` filter may call on the name
NAME_METHODS = {"endswith", "startswith", "split", "lower", "count", "find"}
#: builtins a filter may use
BUILTIN_NAMES = {"any", "all", "len", "True", "False", "None"}


@dataclass(frozen=True)
class Group:
    """Part of the model: ``claims`` is a Python expression over ``path`` (tuple of names) and ``leaf``, or
    None for every parameter; ``overrides`` are the group's own options (``lr=``) as keyword arguments."""

    claims: str | None
    overrides: tuple[cst.Arg, ...] = ()


@dataclass(frozen=True)
class ParamSelection:
    """What one optimizer call optimises: parameters of ``model``, in one or more groups."""

    model: cst.BaseExpression
    groups: tuple[Group, ...]
    trainable_only: bool = False

    def group_overrides(self) -> list[tuple[cst.Arg, ...]]:
        return [g.overrides for g in self.groups]

    def mask(self, transform: cst.BaseExpression, file) -> cst.BaseExpression:
        """``transform`` applied to the selected parameters only (``optax.masked``), or as is for all of them."""
        claims = self.groups[0].claims
        if claims is None:
            return transform
        file.support.setdefault(LABELS, LABELS_SOURCE)
        labels = f'{LABELS}([("selected", lambda path, leaf: {claims})])'
        return cst.parse_expression(
            f'optax.masked({code_of(transform)}, lambda params: jax.tree.map(lambda label: label == "selected", {labels}(params)))'
        )

    def combine(self, transforms: list[str], file) -> str:
        """One transformation over the whole tree: the group transforms under their labels, the rest frozen."""
        if len(self.groups) == 1 and self.groups[0].claims is None:
            return transforms[0]
        file.support.setdefault(LABELS, LABELS_SOURCE)
        names = [f"group_{i}" for i in range(len(self.groups))] if len(self.groups) > 1 else ["trained"]
        table = ", ".join(f'"{n}": {t}' for n, t in zip(names, transforms, strict=True))
        claims = ", ".join(f'("{n}", lambda path, leaf: {g.claims or "True"})' for n, g in zip(names, self.groups, strict=True))
        return f'optax.multi_transform({{{table}, "frozen": optax.set_to_zero()}}, {LABELS}([{claims}]))'


def _module_path(node: cst.BaseExpression) -> tuple[cst.BaseExpression, tuple[str, ...]] | None:
    """``model.fc.block`` -> (``model``, ("fc", "block")); None for anything but a name and attributes."""
    keys: list[str] = []
    while isinstance(node, cst.Attribute):
        keys.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    return node, tuple(reversed(keys))


def _prefix(keys: tuple[str, ...]) -> str | None:
    return None if not keys else f"path[:{len(keys)}] == {keys!r}"


class _Filter(cst.CSTTransformer):
    """A ``named_parameters()`` filter made a claim over the Flax path: the name is the path joined with
    '.', the parameter is the leaf. Anything it cannot vouch for is collected in ``problems``."""

    def __init__(self, name_var: str | None, param_var: str | None, skip: int, definitions: Mapping[str, cst.BaseExpression]):
        self.name_var, self.param_var, self.skip = name_var, param_var, skip
        self.definitions = definitions
        self.bound: set[str] = set()  # names bound by comprehensions inside the filter (`nd` in `for nd in no_decay`)
        self.not_variables: set[int] = set()  # attribute and keyword names
        self.problems: list[str] = []

    def bind_comprehensions(self, test: cst.BaseExpression) -> None:
        for loop in m.findall(test, m.CompFor()):
            self.bound |= {n.value for n in m.findall(loop.target, m.Name())}

    def visit_Attribute(self, node):
        self.not_variables.add(id(node.attr))

    def visit_Arg(self, node):
        if node.keyword is not None:
            self.not_variables.add(id(node.keyword))

    def leave_SimpleString(self, original, updated):
        if "weight" in updated.evaluated_value:
            self.problems.append(f"{updated.value} names torch's `weight`, which Flax calls kernel/scale/embedding")
        return updated

    def leave_Name(self, original, updated):
        if id(original) in self.not_variables:
            return updated
        if updated.value == self.name_var:
            return cst.parse_expression(f'".".join(path[{self.skip}:])' if self.skip else '".".join(path)')
        if updated.value == self.param_var:
            return cst.Name("leaf")
        if updated.value in self.bound or updated.value in BUILTIN_NAMES:
            return updated
        value = self.definitions.get(updated.value)
        if isinstance(value, cst.List | cst.Tuple | cst.Set) and all(isinstance(e.value, cst.SimpleString) for e in value.elements):
            for element in value.elements:  # the module-level list written in place: its names are checked too
                self.leave_SimpleString(element.value, element.value)
            return value.with_changes(lpar=[], rpar=[])
        self.problems.append(f"`{updated.value}` in the filter is not a list of constant names defined at module level")
        return updated

    def leave_Call(self, original, updated):
        func = original.func
        if m.matches(func, m.Attribute(value=m.Name(self.param_var or "") , attr=m.Name("dim"))):
            return cst.parse_expression("leaf.ndim")
        if isinstance(func, cst.Attribute) and func.attr.value in NAME_METHODS | {"ndim"}:
            return updated
        if m.matches(func, m.Name("any") | m.Name("all") | m.Name("len")):
            return updated
        self.problems.append(f"`{code_of(original)}` is not read as a parameter filter")
        return updated

    def leave_Attribute(self, original, updated):
        if m.matches(original.value, m.Name(self.param_var or "")) and original.attr.value not in ("ndim", "shape", "dim"):
            self.problems.append(f"`{code_of(original)}` is not read as a parameter filter")
        return updated


def read_params(expr: cst.BaseExpression, file, call: cst.Call, definitions: Mapping[str, cst.BaseExpression] | None = None) -> ParamSelection | None:
    """The selection an optimizer's first argument denotes, or None (reported at ``call``, code O021).

    ``definitions``: module-level names (``params = [...]``, ``no_decay = ["bias"]``) and their values."""
    problems: list[str] = []
    definitions = definitions or {}
    if isinstance(expr, cst.Name) and expr.value in definitions:
        expr = definitions[expr.value]
    selection = _read(expr, problems, definitions)
    if selection is None or problems:
        reason = "; ".join(problems) or f"`{code_of(expr)}` is not read as a set of model parameters"
        file.report(PARAM_GROUPS, f"the optimizer's parameters are not translated: {reason}", call)
        return None
    return selection


def _read(expr: cst.BaseExpression, problems: list[str], definitions) -> ParamSelection | None:
    if m.matches(expr, m.Call(func=m.Attribute(attr=m.Name("parameters")))):
        found = _module_path(expr.func.value)
        if found is None:
            return None
        return ParamSelection(found[0], (Group(_prefix(found[1])),))
    if m.matches(expr, m.Call(func=m.Name("list") | m.Name("tuple"), args=[m.Arg(keyword=None)])):
        return _read(expr.args[0].value, problems, definitions)
    if m.matches(expr, m.Call(func=m.Name("filter"), args=[m.Arg(), m.Arg()])) and m.matches(
        expr.args[0].value, m.Lambda(body=m.Attribute(attr=m.Name("requires_grad")))
    ):
        inner = _read(expr.args[1].value, problems, definitions)
        return None if inner is None else ParamSelection(inner.model, inner.groups, True)
    if isinstance(expr, cst.ListComp | cst.GeneratorExp):
        return _comprehension(expr, problems, definitions)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add) or m.matches(
        expr, m.Call(func=m.Attribute(value=m.Name("itertools"), attr=m.Name("chain")) | m.Name("chain"))
    ):
        parts = [expr.left, expr.right] if isinstance(expr, cst.BinaryOperation) else [a.value for a in expr.args]
        read = [_read(p, problems, definitions) for p in parts]
        if any(r is None or len(r.groups) != 1 for r in read) or len({code_of(r.model) for r in read}) != 1:
            return None
        claims = [r.groups[0].claims for r in read]
        joined = None if None in claims else " or ".join(f"({c})" for c in claims)
        return ParamSelection(read[0].model, (Group(joined),), any(r.trainable_only for r in read))
    if isinstance(expr, cst.List | cst.Tuple) and expr.elements and all(isinstance(e.value, cst.Dict) for e in expr.elements):
        groups, models = [], set()
        for element in expr.elements:
            entries = {code_of(e.key): e.value for e in element.value.elements if isinstance(e, cst.DictElement)}
            if len(entries) != len(element.value.elements) or "'params'" not in entries and '"params"' not in entries:
                problems.append("a parameter group is not a dict literal with a 'params' key")
                return None
            params = entries.pop("'params'", None) or entries.pop('"params"')
            inner = _read(params, problems, definitions)
            if inner is None or len(inner.groups) != 1:
                return None
            models.add(code_of(inner.model))
            overrides = []
            for key, value in entries.items():
                if not (key[0] in "'\"" and key[1:-1].isidentifier()):
                    problems.append(f"group option {key} is not a constant name")
                    return None
                overrides.append(cst.Arg(value=value, keyword=cst.Name(key[1:-1])))
            groups.append(Group(inner.groups[0].claims, tuple(overrides)))
        if len(models) != 1:
            problems.append("parameter groups of different models")
            return None
        return ParamSelection(inner.model, tuple(groups))
    return None


def _comprehension(expr: cst.ListComp | cst.GeneratorExp, problems: list[str], definitions) -> ParamSelection | None:
    loop = expr.for_in
    if loop.inner_for_in is not None or len(loop.ifs) > 1:
        return None
    source = loop.iter
    named = m.matches(source, m.Call(func=m.Attribute(attr=m.Name("named_parameters"))))
    plain = m.matches(source, m.Call(func=m.Attribute(attr=m.Name("parameters"))))
    if not (named or plain):
        return None
    found = _module_path(source.func.value)
    if found is None:
        return None
    model, keys = found
    if named and m.matches(loop.target, m.Tuple(elements=[m.Element(m.Name()), m.Element(m.Name())])):
        name_var, param_var = (e.value.value for e in loop.target.elements)
    elif plain and isinstance(loop.target, cst.Name):
        name_var, param_var = None, loop.target.value
    else:
        return None
    if not m.matches(expr.elt, m.Name(param_var)):
        return None
    if not loop.ifs:
        return ParamSelection(model, (Group(_prefix(keys)),))
    test = loop.ifs[0].test
    if m.matches(test, m.Attribute(value=m.Name(param_var), attr=m.Name("requires_grad"))):
        return ParamSelection(model, (Group(_prefix(keys)),), True)
    visitor = _Filter(name_var, param_var, len(keys), definitions)
    visitor.bind_comprehensions(test)
    claim = code_of(test.visit(visitor))
    problems.extend(visitor.problems)
    prefix = _prefix(keys)
    return ParamSelection(model, (Group(f"{prefix} and ({claim})" if prefix else claim),))


@register
class TorchParamGroups(TrainingRule):
    code = PARAM_GROUPS
    name = "TorchParamGroups"
    summary = "optimizer parameters: a submodule's, parameter groups, named_parameters() filters -> optax.multi_transform labels"
    doc = RuleDoc(
        what=(
            "The first argument of a `torch.optim` optimizer: `model.parameters()`, a submodule's\n"
            "`model.fc.parameters()` (and `+`/`itertools.chain` of several), a list of parameter-group\n"
            "dicts (`[{'params': model.fc.parameters(), 'lr': 1e-3}, {'params': model.base.parameters()}]`),\n"
            "`[p for n, p in model.named_parameters() if 'bias' not in n]` filters, and\n"
            "`filter(lambda p: p.requires_grad, model.parameters())`."
        ),
        why=(
            "An optax transformation sees the whole parameter tree; which leaves it updates, and with\n"
            "which options, is a label per leaf (`optax.multi_transform`). PyTorch's submodule\n"
            "`model.fc` is the top-level key `fc` of the Flax tree (the translation keeps attribute\n"
            "names); a `named_parameters()` name `fc.bias` is the path ('fc', 'bias') joined with '.'.\n"
            "Flax calls torch's `weight` kernel, scale or embedding, so a filter naming 'weight' is\n"
            "reported rather than silently matching nothing. Parameters no group names are never\n"
            "updated by torch: they get `optax.set_to_zero()`. Each group's options override the\n"
            "call's defaults, as in torch."
        ),
        example=Example(
            torch="optimizer = optim.SGD([{'params': model.fc.parameters(), 'lr': 0.1}, {'params': model.conv.parameters()}], lr=0.01)",
            flax=(
                'optimizer = optax.multi_transform({"group_0": optax.sgd(0.1), "group_1": optax.sgd(0.01), '
                '"frozen": optax.set_to_zero()}, torch_param_labels([("group_0", lambda path, leaf: path[:1] == (\'fc\',)), '
                '("group_1", lambda path, leaf: path[:1] == (\'conv\',))]))'
            ),
        ),
        fidelity=(
            "Exact: the labels select the same parameters, each group's transformation is its optimizer\n"
            "rule's (20 float64 steps over groups with their own lr, a submodule, bias/no-decay filters,\n"
            "ndim filters: Δ 1.1e-15; one optimizer over everything instead: Δ 10 for the frozen layer norm,\n"
            "and decaying the biases too: Δ 9.2e-4)."
        ),
    )
