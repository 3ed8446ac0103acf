"""Which tensors may share memory, so in-place updates are rewritten only where that is invisible.

PyTorch's ``x += y``, ``x.add_(y)``, ``x[i] = v`` and ``nn.ReLU(inplace=True)``
write into existing memory: every name (and the caller's argument) that shares
that memory sees the change.  JAX arrays are immutable, so the translation
rebinds one name to a new array.  That is the same program exactly when no
*other* name that shares the memory is read, and the caller's tensors are not
touched.  This module tracks, for each local name, the *storage roots* it may
share (a conservative over-approximation), so the rewriter can prove an update
invisible or flag it (rule X006) -- never translate it silently wrong.

A root is ``new:<n>`` for a tensor created inside the function (the result of
arithmetic or of an op that allocates), or ``shared:<name>`` for memory that
came from outside (an argument, an attribute, anything not understood).

A parameter is a name too: until it is rebound, ``x`` holds ``shared:x``, so a
write through a view of it (``w = x.view(-1); w[0] = 0``) is seen by ``x`` when
``x`` is read afterwards, exactly as a view of a local is seen by that local.
Parameters are not entries of ``roots`` (which holds what the body bound);
``at_entry`` gives their binding at entry, for ``conflicts`` and for the merges
after a branch or a loop that may not have rebound them. Reads of a tensor's
metadata (``x.shape``, ``x.size(0)``) do not count: no write changes them.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable

import libcst as cst
import libcst.matchers as m

#: tensor methods whose result may be (a view of) the receiver's memory
VIEW_METHODS = frozenset(
    """
    view view_as reshape reshape_as flatten unflatten squeeze unsqueeze transpose permute t T mT H mH
    expand expand_as narrow select unbind chunk split tensor_split movedim moveaxis swapaxes swapdims
    diagonal unfold as_strided detach contiguous to type type_as float double half bfloat16 long int
    short bool byte char cpu cuda data real imag view_as_real view_as_complex requires_grad_ squeeze_
    """.split()
)
#: torch functions whose result may be (a view of) their first argument's memory
VIEW_FUNCTIONS = frozenset(
    "torch." + name
    for name in """
    flatten reshape squeeze unsqueeze transpose permute t narrow select unbind chunk split tensor_split
    movedim moveaxis swapaxes swapdims diagonal detach as_strided view_as_real view_as_complex
    """.split()
) | {"torch.nn.functional.dropout", "torch.nn.functional.dropout1d", "torch.nn.functional.dropout2d"}

Roots = frozenset


#: a tensor's metadata: no write into its elements changes what these read (``x.shape``, ``x.size(0)``)
METADATA_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "device", "is_cuda", "layout"})
METADATA_METHODS = frozenset({"size", "dim", "ndimension", "numel", "nelement", "get_device", "element_size"})


def name_reads(node: cst.CSTNode, values_only: bool = False) -> Counter:
    """How often each local name is *read* in ``node`` (stores, attribute names, keywords excluded).

    ``values_only``: leave out reads of a name's metadata only (``x.shape``, ``x.size(1)``, ``x.dtype``),
    which an in-place write into the elements cannot change (see :func:`value_reads`)."""
    counter: Counter = Counter()

    def metadata_of_name(node: cst.BaseExpression) -> bool:
        return values_only and isinstance(node, cst.Name) and node.value != "self"

    class Reads(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> bool:
            if not (metadata_of_name(node.value) and node.attr.value in METADATA_ATTRIBUTES):
                node.value.visit(self)
            return False

        def visit_Call(self, node: cst.Call) -> bool:
            func = node.func
            if isinstance(func, cst.Attribute) and metadata_of_name(func.value) and func.attr.value in METADATA_METHODS:
                for arg in node.args:
                    arg.visit(self)
                return False
            return True

        def visit_Arg(self, node: cst.Arg) -> bool:
            node.value.visit(self)
            return False

        def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
            # `a[i] = v` reads `a` (and `i`); a bare `a = v` reads nothing
            return not isinstance(node.target, (cst.Name, cst.Tuple, cst.List))

        def visit_Param(self, node: cst.Param) -> bool:
            return False

        def visit_Name(self, node: cst.Name) -> None:
            counter[node.value] += 1

    node.visit(Reads())
    return counter


def value_reads(node: cst.CSTNode) -> Counter:
    """The reads in ``node`` that see a tensor's values: the reads an in-place write may change."""
    return name_reads(node, values_only=True)


class StorageTracker:
    """Storage roots of each local name in one function, and the reads that make sharing matter."""

    def __init__(self) -> None:
        self.roots: dict[str, Roots] = {}
        self.function_reads: Counter | None = None
        self.consumed: Counter = Counter()
        #: the function's parameters: each holds ``shared:<itself>`` until the body rebinds it
        self.params: frozenset[str] = frozenset()
        #: parameters whose memory the callers judge (forward): a write into one is no outside conflict
        #: here, but still one for every name of this function that sees it and is read later
        self.caller_checked: frozenset[str] = frozenset()
        self._fresh_ids = itertools.count()

    def new_root(self) -> Roots:
        return frozenset({f"new:{next(self._fresh_ids)}"})

    def of_name(self, name: str) -> Roots:
        return self.roots.get(name, frozenset({f"shared:{name}"}))

    def bind(self, name: str, roots: Roots) -> None:
        self.roots[name] = roots

    def at_entry(self, name: str) -> Roots:
        """What ``name`` held when the function started: its own memory for a parameter, nothing otherwise."""
        return frozenset({f"shared:{name}"}) if name in self.params else frozenset()

    def consume(self, statement: cst.CSTNode) -> None:
        """``statement`` has run for the last time: its reads no longer make a later write visible."""
        self.consumed.update(value_reads(statement))

    def reads_after(self, statement: cst.CSTNode) -> Counter:
        """Reads of each name that may happen after ``statement`` (other statements not yet consumed)."""
        reads = Counter(self.function_reads or Counter())
        reads.subtract(self.consumed)
        reads.subtract(value_reads(statement))
        return reads

    def conflicts(self, roots: Roots, rebound: set[str], statement_reads: Counter, statement: cst.CSTNode | None = None) -> list[str]:
        """What would see an in-place write into ``roots`` that the rebinding translation does not update.

        ``rebound`` names get the new value in the translation too; any *other*
        name sharing a root and read somewhere else in the function -- a local,
        or a parameter not yet rebound (``x`` after ``w = x.view(-1); w[0] = 0``)
        -- is a conflict, and so is memory from outside the function, except a
        parameter's in ``caller_checked`` (its callers judge that).
        """
        outside = sorted(r.split(":", 1)[1] for r in roots if r.startswith("shared:"))
        conflicts = [f"`{c}` (memory from outside this function)" for c in outside if c not in self.caller_checked]
        reads = Counter(self.function_reads or Counter())
        reads.subtract(self.consumed)
        reads.subtract(statement_reads)
        names = dict(self.roots)
        for name in outside:  # a parameter the body has not rebound still holds its own memory
            if name in self.params and name not in names:
                names[name] = self.at_entry(name)
        for name, name_roots in names.items():
            if name in rebound or not (name_roots & roots):
                continue
            if reads[name] > 0 and f"`{name}` (memory from outside this function)" not in conflicts:
                conflicts.append(f"`{name}`")
        return conflicts


def mutated_operand(call: cst.Call, resolve: Callable[[cst.BaseExpression], str | None], layer_aliases) -> cst.BaseExpression | None:
    """The expression a call writes into in place (``x`` in ``x.add_(1)``, ``F.relu(x, inplace=True)``,
    ``self.relu(x)`` for an ``inplace=True`` layer), or None for a call that writes nothing."""
    func = call.func
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "inplace" and not m.matches(arg.value, m.Name("False")):
            return call.args[0].value if call.args and call.args[0].keyword is None else None
    if isinstance(func, cst.Attribute):
        attr = func.attr.value
        if m.matches(func.value, m.Name("self")):
            if layer_aliases(attr) == "inplace" and call.args:
                return call.args[0].value
            return None
        qualified = resolve(func)
        if qualified is None and attr.endswith("_") and not attr.startswith("__") and attr != "requires_grad_":
            return func.value
    qualified = resolve(func)
    if qualified and qualified.startswith("torch.") and qualified.endswith("_") and not qualified.endswith("__") and call.args:
        return call.args[0].value
    return None
