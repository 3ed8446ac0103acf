"""The layout planned across modules (rule S004): which classes of the file take and return channels-last values.

Inside one function body :mod:`translator.rewrite.body` tracks which values are channels-last. Across
modules, a class whose ``forward`` is conv-friendly (its inputs go straight into channels-last layers and
its output comes out of them) is translated twice: once in PyTorch's layout, as every class is, and once
with those inputs channels-last and its returns left channels-last. Which inputs: each parameter the first
translation moved channels-last at one rank (``forward(self, x1, x2)`` of a U-Net's up block takes both,
``forward(self, x, t)`` of a time-conditioned block takes ``x`` and passes ``t`` as it is). The second
translation is kept when it has fewer transposes and reports nothing the first did not; the class then gets

* a method (``channels_last``) holding that translation, which the other classes of the file call with
  channels-last values (no transpose between two modules that both run channels-last), and
* ``__call__`` as a thin boundary in PyTorch's layout around it, so the class used on its own (``check
  --class Block``, ``port``, a training script's ``model.apply``) takes and returns what PyTorch's does.

Classes are translated callees first (:func:`translator.rewrite.pipeline.dependency_order`), so a class's
decision is made before any caller's body is translated, and a caller's own trial already sees its
submodules' channels-last methods: the plan is the fixed point reached in one pass over the file. A call
site that does not know the plan (a container element of mixed kinds, a module passed to a constructor
among others) calls ``__call__``, which is correct in any case.
"""

from __future__ import annotations

import dataclasses

import libcst as cst
import libcst.matchers as m

from translator.rewrite.containers import InlineChain
from translator.rewrite.context import FileContext, parse_expr, transpose
from translator.rewrite.model import ClassInfo, FileInfo
from translator.rules.base import to_channels_first_perm, to_channels_last_perm

LAYOUT = "S004"
METHOD_NAMES = ("channels_last", "channels_last_", "forward_channels_last")
TRANSPOSE = m.Call(func=m.Attribute(value=m.Name("jnp"), attr=m.Name("transpose") | m.Name("moveaxis")))


@dataclasses.dataclass
class Snapshot:
    """What translating a body may change in the file, the file's classes and the class: put back by :meth:`restore`."""

    file: dict
    info: dict
    cls: dict

    @classmethod
    def take(cls_, file: FileContext, info: FileInfo, cls: ClassInfo) -> Snapshot:
        marks = list(file.marks.spans) if file.marks is not None else None
        return cls_(
            file={"diagnostics": list(file.diagnostics), "pending_notes": list(file.pending_notes),
                  "shown_notes": set(file.shown_notes), "support": dict(file.support), "origin": file.origin, "marks": marks},
            info={"runner_table": dict(info.runner_table), "runner_name": info.runner_name},
            cls={f.name: copied(getattr(cls, f.name)) for f in dataclasses.fields(cls)} if cls is not None else {},
        )

    def restore(self, file: FileContext, info: FileInfo, cls: ClassInfo) -> None:
        file.diagnostics[:] = self.file["diagnostics"]
        file.pending_notes[:] = self.file["pending_notes"]
        file.shown_notes.clear()
        file.shown_notes.update(self.file["shown_notes"])
        file.support.clear()
        file.support.update(self.file["support"])
        file.origin = self.file["origin"]
        if file.marks is not None:
            file.marks.spans[:] = self.file["marks"]
        info.runner_table.clear()
        info.runner_table.update(self.info["runner_table"])
        info.runner_name = self.info["runner_name"]
        for name, value in self.cls.items():
            setattr(cls, name, copied(value))


def copied(value):
    """One level deeper than the containers a translation fills (an inline chain's notes are consumed)."""
    if isinstance(value, dict):
        return {k: dataclasses.replace(v, notes=list(v.notes)) if isinstance(v, InlineChain) else v for k, v in value.items()}
    if isinstance(value, (set, list)):
        return type(value)(value)
    return value


def planned_inputs(method: cst.FunctionDef) -> tuple[str, ...] | None:
    """``forward``'s parameters (without self) when they are plain ones a caller binds by position or name
    (no ``*args``, ``**kwargs``, keyword-only or positional-only ones, no decorators), or None."""
    params = method.params
    if method.decorators or params.star_arg not in (None, cst.MaybeSentinel.DEFAULT) or params.star_kwarg is not None:
        return None
    if params.kwonly_params or params.posonly_params or len(params.params) < 2:
        return None
    return tuple(p.name.value for p in params.params[1:])


def input_rank(param_ranks: dict[str, set], param: str) -> int | None:
    """The rank at which the body (translated in PyTorch's layout) moved its input channels-last, if one.

    A move at any rank (None: a GroupNorm's input) beside moves at one rank r is that rank: one value has one
    rank, and the layer that needs r fixes it (``self.conv(F.silu(self.norm(x)))`` beside ``x + ...``)."""
    ranks = param_ranks.get(param, set()) - {None}
    if len(ranks) != 1 or min(ranks) < 3:
        return None
    return next(iter(ranks))


def input_ranks(method: cst.FunctionDef, names: tuple[str, ...], param_ranks: dict[str, set]) -> tuple[int | None, ...] | None:
    """Per parameter, the rank at which it is taken channels-last (None: as the caller passes it), or None
    when no parameter is. A parameter with a default (``mask=None``) or named ``train`` is always taken as passed."""
    defaults = {p.name.value for p in method.params.params if p.default is not None}
    ranks = tuple(None if name in defaults or name == "train" else input_rank(param_ranks, name) for name in names)
    return ranks if any(rank is not None for rank in ranks) else None


def output_layout(return_facts: list) -> tuple[int, bool] | None:
    """``(rank, is a tuple)`` when every value the channels-last trial returns is channels-last at one known
    rank: each an array, or each a tuple of such arrays (``return self.down(h), h``); None otherwise."""
    if not return_facts or any(not f.channels_last or f.rank is None for f in return_facts):
        return None
    out = {(f.rank, f.tuple_of) for f in return_facts}
    return out.pop() if len(out) == 1 else None


def transposes(statements) -> int:
    return sum(len(m.findall(s, TRANSPOSE)) for s in statements)


def method_name(cls: ClassInfo) -> str:
    """``channels_last``, or the first alternative no method, field or attribute of the class has."""
    taken = {*cls.methods, *cls.fields, *cls.layers, *cls.submodules, *cls.containers, *cls.assignments, *cls.tensors}
    return next(name for name in METHOD_NAMES if name not in taken)


def boundary(names: tuple[str, ...], ranks: tuple[int | None, ...], rank_out: int, params: cst.Parameters,
             method: str, takes_train: bool, tuple_out: bool = False) -> cst.FunctionDef:
    """``__call__`` in PyTorch's layout: the planned inputs moved channels-last, the others passed as they
    are, the channels-last method called, its result (each item of a tuple: ``tuple_out``) moved back."""
    args = [cst.Arg(cst.Name(name) if rank is None else transpose(cst.Name(name), to_channels_last_perm(rank)))
            for name, rank in zip(names, ranks)]
    if takes_train:
        args.append(cst.Arg(cst.Name("train"), keyword=cst.Name("train")))
    call = cst.Call(func=cst.Attribute(value=cst.Name("self"), attr=cst.Name(method)), args=args)
    result = transpose(call, to_channels_first_perm(rank_out))
    if tuple_out:
        result = parse_expr("tuple({y} for y in {call})", y=transpose(cst.Name("y"), to_channels_first_perm(rank_out)), call=call)
    body = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Return(result)])])
    return cst.FunctionDef(name=cst.Name("__call__"), params=params, body=body)
