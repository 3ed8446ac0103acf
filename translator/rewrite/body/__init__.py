"""Translate the body of ``forward`` (and helper methods/functions) statement by statement.

This is an abstract interpretation over the user's code: every expression is
rewritten and given a :class:`Fact` (plain PyTorch layout, or channels-last
with a known rank).  Rules decide which layout they need; this package inserts
the transposes, threads the ``train`` flag, and turns anything it does not
understand into a diagnostic and a TODO at that line.

Control flow keeps facts consistent: at the end of each branch of an ``if`` and
of each loop body, values whose layout differs from the other path are brought
back to a common layout, so a variable never means two layouts at once.

:class:`BodyTranslator` holds the state of one body's translation; its behaviour comes in parts, one a
module, each of which reads and updates that state:

- :mod:`.expressions`: expressions, and the layout conversions between them
- :mod:`.calls`: the dispatch of calls (rules, builtins, methods and functions of the file)
- :mod:`.module_calls`: calls of the module's layers, submodules and containers, and the code written for them
- :mod:`.in_place`: shared memory, and in-place updates rewritten to new bindings
- :mod:`.statements`: statements and control flow
- :mod:`.common`: the codes and small types they share
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import libcst as cst

from translator.rewrite.aliasing import StorageTracker
from translator.rewrite.body.calls import CallTranslation
from translator.rewrite.body.common import HOOKS, UNSUPPORTED
from translator.rewrite.body.expressions import ExpressionTranslation
from translator.rewrite.body.in_place import InPlaceAnalysis
from translator.rewrite.body.module_calls import ModuleCallSynthesis, ReplaceNode
from translator.rewrite.body.statements import StatementTranslation
from translator.rewrite.context import FileContext
from translator.rewrite.identity import ByIdentity
from translator.rewrite.layout_plan import Snapshot
from translator.rewrite.model import ClassInfo, ContainerAttr, FileInfo
from translator.rules.base import Emitted, Fact

__all__ = ["HOOKS", "UNSUPPORTED", "BodyTranslator", "ReplaceNode"]


@dataclass
class BodyTranslator(StatementTranslation, ExpressionTranslation, CallTranslation, ModuleCallSynthesis, InPlaceAnalysis):
    """Translates one function body; ``cls`` is None for module-level helper functions."""

    file: FileContext
    info: FileInfo
    cls: ClassInfo | None
    env: dict[str, Fact] = field(default_factory=dict)
    #: loop variables bound to container elements: name -> the kinds of element it may be
    elements: dict[str, tuple] = field(default_factory=dict)
    #: whether the translated body refers to `train` (the method then takes it)
    uses_train: bool = False
    #: attribute -> container to use instead of the class's (one variant of a branch-built Sequential)
    overrides: dict[str, ContainerAttr] = field(default_factory=dict)
    #: which memory each local may share, for proving in-place updates invisible
    storage_tracker: StorageTracker = field(default_factory=StorageTracker)
    #: the function's parameters (an in-place write into one is the caller's business)
    params: tuple[str, ...] = ()
    #: parameters this function writes into in place (checked at each call site)
    mutated_params: set[str] = field(default_factory=set)
    #: whether the result may share memory with an argument or module state
    returns_alias: bool = False
    #: forward and generated Sequential methods: every call site checks writes into arguments
    caller_checks_params: bool = False
    #: the names the statement being translated assigns (they see the new value in the translation too)
    rebound: set[str] = field(default_factory=set)
    #: in-place writes inside each enclosing loop body, re-checked once the body has been seen whole
    loop_writes: list[list] = field(default_factory=list)
    #: the layouts each enclosing loop keeps at the start and end of every pass (innermost last): a
    #: `break`/`continue` leaves every value in its loop's layout, as the end of the body does
    loop_layouts: list[dict[str, Fact]] = field(default_factory=list)
    #: for each enclosing loop, the names whose value matters once a pass ends (read by a later pass before
    #: the body binds them, or after the loop), None when not known: only those get the loop's layouts back
    loop_live: list[set[str] | None] = field(default_factory=list)
    #: for each enclosing block, the statements after the one being translated
    following: list[list[cst.BaseStatement]] = field(default_factory=list)
    #: see StatementTranslation.block: notes of statements that emitted no code, placed above the next that does
    orphan_comments: list[cst.EmptyLine] = field(default_factory=list)
    flagged_writes: set[int] = field(default_factory=set)
    #: locals holding a Python list (``outs = []``): ``outs.append(x)`` is plain Python
    lists: set[str] = field(default_factory=set)
    #: locals holding a boolean mask (``mask = x > 0``)
    masks: set[str] = field(default_factory=set)
    #: names known to hold a dtype (``dtype=torch.float32`` parameters, ``dt = x.dtype``): ``.to(dt)`` is a cast
    dtypes: set[str] = field(default_factory=set)
    #: a hook the training-script translator installs: it may translate a call, subscript or attribute itself
    #: (``model(x)`` into an ``apply``, ``.item()`` on the host) by returning an :class:`Emitted`, or decline with None
    intercept: Callable[[BodyTranslator, cst.Call | cst.Subscript | cst.Attribute], Emitted | None] | None = None
    #: in a training script (no module, no ``make_rng``): the key expression for the next random draw
    random_key: Callable[[], str] | None = None
    #: the layout planned across modules (rule S004): the ranks at which each parameter was moved
    #: channels-last, and the layout of each returned value, as this body was translated
    param_ranks: dict[str, set] = field(default_factory=dict)
    return_facts: list[Fact] = field(default_factory=list)
    #: returns keep a channels-last value as it is (the channels-last method of a class planned to run
    #: channels-last); otherwise they are in PyTorch's layout
    returns_channels_last: bool = False
    #: placeholder names -> the expression each stands for while a call is written around it
    stands_for: dict[str, cst.BaseExpression] = field(default_factory=dict)
    #: right-hand sides unpacked into a fixed number of names (`q, k, v = x.split(n, 2)`): how many
    unpacked: ByIdentity = field(default_factory=ByIdentity)

    def checkpoint(self) -> Callable[[], None]:
        """A function that puts back everything translating more statements may change: this translator's
        state, and the file's, its classes' and the class's (:class:`~translator.rewrite.layout_plan.Snapshot`).
        For translating a part two ways and keeping one (a loop's layouts)."""
        outer = Snapshot.take(self.file, self.info, self.cls)
        state = {f.name: copied_state(getattr(self, f.name)) for f in fields(self) if f.name not in ("file", "info", "cls")}

        def restore() -> None:
            outer.restore(self.file, self.info, self.cls)
            for name, value in state.items():
                setattr(self, name, copied_state(value))

        return restore


def copied_state(value):
    """A copy deep enough that translating on changes nothing in it (containers two levels, the storage tracker's
    tables); nodes, facts and maps only added to (``ByIdentity``) are shared."""
    if isinstance(value, StorageTracker):
        tracker = copy.copy(value)
        tracker.roots, tracker.consumed = dict(value.roots), Counter(value.consumed)
        return tracker
    if isinstance(value, Counter):
        return Counter(value)
    if isinstance(value, dict):
        return {k: copied_state(v) if isinstance(v, (set, list, dict)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [copied_state(v) if isinstance(v, (set, list, dict)) else v for v in value]
    if isinstance(value, set):
        return set(value)
    return value
